"""``redshield bench relay`` empties an outbox into Kafka on SQLite and PostgreSQL and ends with its JSON line.

Only that it runs, publishes every row and reports its figures is checked: speed is measured by running it."""

from __future__ import annotations

import json

import pytest

from services.bridge.app import BridgeSettings
from tests.conftest import run_bench


@pytest.mark.parametrize("bundle_events", [1000, 0])
@pytest.mark.parametrize("database", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_the_relay_benchmark_publishes_the_whole_outbox_and_prints_its_figures(database: str, bundle_events: int,
                                                                              kafka_bootstrap: str) -> None:
    done = run_bench(database, "relay", "--events", "3000", "--bundle-events", str(bundle_events),
                     env={"KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap})
    assert "redshield bench relay" in done.stdout
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    assert figures["database"] == database and figures["events"] == 3000 and figures["unsent_after_mark"] == 0
    assert figures["bundle_events"] == (bundle_events or None)
    for key in ("relay_events_per_s", "raw_producer_events_per_s", "relay_share_of_raw_limit", "relay_python_cpu_us_per_event"):
        assert figures[key] > 0, key
    # The relay as bridge runs it: its passes sized for a submission's millions of store events.
    assert figures["relay_batch_events"] == BridgeSettings().relay_batch_size == 10_000
