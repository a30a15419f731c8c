"""``redshield bench subjects`` runs end to end on SQLite and PostgreSQL and ends with its JSON line of figures.

Only that it runs and what it reports are checked here: speed is measured by running it, never asserted."""

from __future__ import annotations

import json

import pytest

from tests.conftest import run_bench


@pytest.mark.parametrize("database", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_the_subjects_benchmark_loads_every_store_and_prints_its_figures_beside_the_raw_limit(database: str) -> None:
    done = run_bench(database, "subjects", "--stores", "3000")
    assert "redshield bench subjects" in done.stdout
    # SQLite applies once the file is staged; PostgreSQL as it is staged, in a transaction committed at its end.
    if database == "sqlite":
        assert "applying 3,000 rows in one transaction" in done.stdout
    else:
        assert "3,000 rows applied as they were staged" in done.stdout
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    assert figures["database"] == database
    assert figures["rows_staged"] == figures["stores_registered"] == 3000
    raw_key = "raw_copy_rows_per_s" if database == "postgresql" else "raw_executemany_rows_per_s"
    for key in ("rows_per_s", "stage_rows_per_s", "peak_rss_mb", raw_key, "python_cpu_us_per_row",
                "machine_busy_cpu_us_per_row"):
        assert figures[key] > 0, key
    if database == "sqlite":
        assert figures["apply_rows_per_s"] > 0
    else:
        # Nothing is left to apply once the stream ends, so there is no apply rate to report; the server's WAL and
        # settings are reported instead: they decide how fast a bulk load can be.
        assert figures["apply_rows_per_s"] is None
        assert figures["wal_bytes_per_row"] > 0 and figures["checkpoints"] >= 0
        assert set(figures["postgres_settings"]) >= {"shared_buffers", "max_wal_size", "wal_compression"}
        assert figures["postgres_connection"] in {"unix socket", "tcp, TLS", "tcp, no TLS"}
        assert "WAL written" in done.stdout
        # The test server runs on this machine: its processes' CPU is read too, the busiest (a backend) first.
        busiest = figures["postgres_busiest_cpu_us_per_row"]
        # Four figures each rounded to 0.1 µs: the parts' sum may pass the rounded whole by up to 0.2.
        assert sum(busiest) <= figures["postgres_cpu_us_per_row"] + 0.2 and busiest == sorted(busiest, reverse=True) and busiest[0] > 0
        assert "CPU per row: PostgreSQL" in done.stdout
