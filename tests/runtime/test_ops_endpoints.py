"""Operators' endpoints: alive, ready (broker and database reachable), and Prometheus metrics."""

from __future__ import annotations

from pathlib import Path

from tests.flow.test_complaint_to_cockpit import filing
from tests.harness import running


async def test_health_readiness_and_metrics(kafka_bootstrap: str, prefix: str, tmp_path: Path) -> None:
    async with running("channel", kafka=kafka_bootstrap, prefix=prefix, database=(f"sqlite+aiosqlite:///{tmp_path}/c.db", None)) as channel:
        assert (await channel.http.get("/healthz")).json() == {"status": "ok"}
        ready = await channel.http.get("/readyz")
        assert ready.status_code == 200
        assert ready.json()["checks"] == {"kafka": "ok", "database": "ok"}
        await channel.http.post("/v1/complaints", json=filing("M-1"), headers=channel.auth("platform", platform="P001"))
        metrics = (await channel.http.get("/metrics")).text
    for name in (
        "redshield_outbox_backlog",
        "redshield_relay_published_total",
        "redshield_dlq_records_total",
        "redshield_inbox_duplicates_total",
        "faststream_received_messages_total",
    ):
        assert name in metrics, name


async def test_readiness_fails_when_the_database_is_gone(kafka_bootstrap: str, prefix: str, tmp_path: Path) -> None:
    async with running("channel", kafka=kafka_bootstrap, prefix=prefix, database=(f"sqlite+aiosqlite:///{tmp_path}/c.db", None)) as channel:
        assert channel.service.engine is not None
        await channel.service.engine.dispose()
        (tmp_path / "c.db").unlink()
        (tmp_path / "c.db").mkdir()  # a directory where the database was: no connection can open it
        ready = await channel.http.get("/readyz")
    assert ready.status_code == 503
    assert ready.json()["checks"]["database"].startswith("unreachable")
