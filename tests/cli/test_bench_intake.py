"""``redshield bench intake`` runs end to end on the real parts and ends with its JSON line of figures.

Only that it runs and what it reports are checked here: speed is measured by running it, never asserted."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.kafka_broker import ROOT


def test_the_intake_benchmark_prints_a_table_and_a_json_line_of_figures_with_its_raw_limits(kafka_bootstrap: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "services.cli.main", "bench", "intake", "--complaints", "1000", "--concurrency", "8"],
        cwd=ROOT, env={**os.environ, "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap}, capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    lines = done.stdout.strip().splitlines()
    assert "redshield bench intake" in done.stdout
    figures = json.loads(lines[-1])
    assert figures["single_non_2xx"] == 0
    for key in ("single_complaints_per_s", "single_p99_ms", "feed_complaints_per_s", "raw_empty_endpoint_requests_per_s",
                "raw_insert_row_per_tx_rows_per_s", "raw_insert_one_tx_rows_per_s", "channel_peak_rss_mb"):
        assert isinstance(figures[key], float) and figures[key] > 0, key
