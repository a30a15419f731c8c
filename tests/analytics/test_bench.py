"""The analytics benchmark: a tiny run prints its table and a JSON line of figures (speed is never asserted), and
the facts it generates inside ClickHouse give the same cockpit answers from the aggregates as from the raw facts."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta

from services.analytics import cockpits
from services.analytics.bench import DAYS, generate
from services.analytics.clickhouse import ClickHouse, connect, migrate
from services.analytics.cockpits import Filters
from tests.harness import ROOT


def test_a_tiny_run_prints_a_table_and_a_json_line_of_figures(kafka_bootstrap: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "services.cli.main", "bench", "analytics", "--events", "300", "--scales", "2000", "--queries", "2",
         "--raw-batches", "100", "--rounds", "2"],
        cwd=ROOT, env={**os.environ, "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap}, capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    lines = done.stdout.strip().splitlines()
    figures = json.loads(lines[-1])
    for key in ("ingest_events_per_s", "raw_consume_events_per_s", "raw_insert_rows_per_s", "governance_p95_ms_at_2000",
                "overview_p95_ms_at_2000", "platform_detail_p95_ms_at_2000", "peak_rss_mb", "raw_insert_events_per_s_at_batch_100",
                "ingest_batch_events"):
        assert isinstance(figures[key], int | float) and figures[key] > 0, key
    # Two rounds of raw insert then ingest, each with its own ratio; the headline figures are their medians.
    assert len(figures["rounds"]) == 2
    assert figures["ingest_share_of_slower_raw_limit_min"] == min(r["ingest_share_of_slower_raw_limit"] for r in figures["rounds"])
    assert figures["ingest_events_per_s"] == sum(r["ingest_events_per_s"] for r in figures["rounds"]) / 2
    assert any(line.startswith("redshield bench analytics") for line in lines)


def test_a_bad_scale_is_refused() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "services.cli.main", "bench", "analytics", "--scales", "ten"],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 2 and "--scales" in done.stdout


async def test_generated_facts_answer_the_same_from_aggregates_and_raw(chdb_url: str, prefix: str) -> None:
    client = connect(chdb_url, prefix.strip(".") + "_bench")
    migrate(client)
    origin = datetime(2026, 1, 1, tzinfo=UTC) - timedelta(hours=8)
    generate(client, 20_000, origin, show=False)
    ch = ClickHouse(client)
    last = origin + timedelta(days=DAYS)
    for start, end in ((origin, last), (origin + timedelta(days=40, hours=5), origin + timedelta(days=75, minutes=7))):
        filters = Filters(start, end)
        assert await cockpits.governance(ch, filters, "month") == await cockpits.governance(ch, filters, "month", source="raw")
        assert await cockpits.platform_detail(ch, "P007", filters) == await cockpits.platform_detail(ch, "P007", filters, source="raw")
    whole = await cockpits.governance(ch, Filters(origin, last))
    assert whole["complaints"]["total"] == 20_000
    client.close()
