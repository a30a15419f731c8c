"""The warning job end to end: complaints in ClickHouse with a known spike today → one warning, recorded once,
published once on analytics.warnings.v1, listed by /v1/risk/warnings with its figures and examples."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from contracts import topics
from contracts.envelope import Envelope, from_record
from services.runtime.clock import FixedClock
from tests.faults.test_process_kills import received
from tests.harness import eventually, produce_events, read_topic, running

NOW = datetime(2026, 6, 29, 4, 0, tzinfo=UTC)  # 12:00 in Hangzhou


def complaint(n: int, at: datetime, category: str, description: str) -> Envelope:
    base = received(n)
    data = base.data | {"received_at": at.isoformat(), "category": category, "description": description, "platform_id": "P042"}
    return Envelope(type=base.type, source=base.source, subject=base.subject, data=data)


async def test_a_known_spike_becomes_one_published_warning(kafka_bootstrap: str, prefix: str, chdb_url: str, tmp_path: Path) -> None:
    events: list[Envelope] = []
    n = 0
    for day in range(1, 29):  # a steady baseline: one delivery complaint a day
        n += 1
        events.append(complaint(n, NOW - timedelta(days=day), "delivery", "快递 一直 没有 送到"))
    for _ in range(25):  # today: a burst of quality complaints about one thing
        n += 1
        events.append(complaint(n, NOW - timedelta(hours=1), "quality", "面膜 使用后 皮肤 过敏 红肿"))
    clock = FixedClock(NOW)
    async with running(
        "analytics",
        kafka=kafka_bootstrap,
        prefix=prefix,
        clock=clock,
        database=(f"sqlite+aiosqlite:///{tmp_path}/analytics.db", None),
        clickhouse_url=chdb_url,
        clickhouse_database=prefix.strip(".") + "_risk",
        risk_interval_s=0,
    ) as analytics:
        await produce_events(kafka_bootstrap, prefix + topics.CHANNEL_COMPLAINTS, events)

        async def all_ingested() -> bool:
            rows = await analytics.app.state.clickhouse.query("SELECT count() FROM complaints FINAL")
            return bool(rows[0][0] == len(events))

        await eventually(all_ingested, timeout=60)
        job = analytics.app.state.warnings_job
        raised = await job.run_once()
        assert await job.run_once() == 0  # found again, recorded once
        listed = await analytics.http.get("/v1/risk/warnings", headers=analytics.auth("regulator"))
        published = await read_topic(kafka_bootstrap, prefix + topics.ANALYTICS_WARNINGS, raised)
    assert listed.status_code == 200, listed.text
    warnings = listed.json()["warnings"]
    kinds = {(w["kind"], tuple(w["key"])) for w in warnings}
    assert ("spike_platform_category", ("P042", "quality")) in kinds
    assert ("hot_term", ("过敏",)) in kinds
    assert ("spike_platform_category", ("P042", "delivery")) not in kinds
    spike = next(w for w in warnings if w["kind"] == "spike_platform_category")
    assert spike["count"] == 25 and spike["baseline"] == 0.0 and spike["p_value"] < 1e-4
    assert len(spike["examples"]) == 5
    assert len(published) == raised == len(warnings)
    assert {from_record(r.key, r.value, r.headers).data["warning_id"] for r in published} == {w["warning_id"] for w in warnings}
