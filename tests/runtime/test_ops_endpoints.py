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


async def test_every_request_is_counted_and_timed_by_its_route_template_not_its_path(kafka_bootstrap: str, prefix: str,
                                                                                     tmp_path: Path) -> None:
    from services.runtime.metrics import HTTP_REQUESTS, HTTP_SECONDS

    def count(route: str, status: str, method: str = "GET") -> float:
        return HTTP_REQUESTS.labels("channel", method, route, status)._value.get()

    async with running("channel", kafka=kafka_bootstrap, prefix=prefix, database=(f"sqlite+aiosqlite:///{tmp_path}/c.db", None)) as channel:
        before = {key: count(*key) for key in [("/v1/complaints/{complaint_id}", "404"), ("/v1/complaints", "202", "POST"),
                                               ("unmatched", "404"), ("/v1/complaints", "401", "POST")]}
        platform = channel.auth("platform", platform="P001")
        for n in range(3):
            assert (await channel.http.get(f"/v1/complaints/no-such-{n}", headers=platform)).status_code == 404
        assert (await channel.http.post("/v1/complaints", json=filing("M-9"), headers=platform)).status_code == 202
        assert (await channel.http.post("/v1/complaints", json=filing("M-10"))).status_code == 401
        assert (await channel.http.get("/v2/nothing-here")).status_code == 404
        text = (await channel.http.get("/metrics")).text
    assert count("/v1/complaints/{complaint_id}", "404") - before[("/v1/complaints/{complaint_id}", "404")] == 3
    assert count("/v1/complaints", "202", "POST") - before[("/v1/complaints", "202", "POST")] == 1
    assert count("/v1/complaints", "401", "POST") - before[("/v1/complaints", "401", "POST")] == 1
    assert count("unmatched", "404") - before[("unmatched", "404")] == 1
    assert "no-such-" not in text and "redshield_http_request_seconds_bucket" in text
    assert HTTP_SECONDS.labels("channel", "POST", "/v1/complaints")._sum.get() > 0
