"""``redshield bench relay`` empties an outbox into Kafka on SQLite and PostgreSQL and ends with its JSON line.

Only that it runs, publishes every row and reports its figures is checked: speed is measured by running it."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.conftest import POSTGRES_URL
from tests.harness import ROOT


@pytest.mark.parametrize("database", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_the_relay_benchmark_publishes_the_whole_outbox_and_prints_its_figures(database: str, kafka_bootstrap: str) -> None:
    env = {k: v for k, v in os.environ.items() if k != "REDSHIELD_BENCH_DATABASE_URL"} | {"KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap}
    if database == "postgresql":
        if not POSTGRES_URL:
            pytest.skip("REDSHIELD_TEST_POSTGRES_URL is not set (CI sets it; see .ci/run)")
        env["REDSHIELD_BENCH_DATABASE_URL"] = POSTGRES_URL
    done = subprocess.run([sys.executable, "-m", "services.cli.main", "bench", "relay", "--events", "3000"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "redshield bench relay" in done.stdout
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    assert figures["database"] == database and figures["events"] == 3000 and figures["unsent_after_mark"] == 0
    for key in ("relay_events_per_s", "raw_producer_events_per_s", "relay_share_of_raw_limit", "relay_python_cpu_us_per_event"):
        assert figures[key] > 0, key
