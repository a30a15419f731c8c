"""One complaint, end to end through real parts: platform → channel (HTTP and feed) → Kafka → analytics
(chDB) → the governance cockpit."""

from __future__ import annotations

from typing import Any

from contracts import topics
from contracts.envelope import Envelope
from tests.harness import eventually, produce_events, running


def filing(pcid: str, **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "platform_complaint_id": pcid,
        "kind": "complaint",
        "received_at": "2026-11-20T09:30:00+08:00",
        "merchant": {"store_id": "S-1", "store_name": "西湖茶叶旗舰店", "region": "330106"},
        "order": {"order_id": "O-1", "amount": "299.00", "goods_category": "食品"},
        "category": "quality",
        "description": "收到的茶叶有霉味，商家拒绝退货。",
        "consumer": {"name": "张三", "phone": "13800000000"},
    }
    body.update(changes)
    return body


async def test_a_complaint_posted_or_fed_is_counted_once_in_the_governance_cockpit(
    kafka_bootstrap: str, prefix: str, tmp_path: Any, chdb_url: str
) -> None:
    async with (
        running("channel", kafka=kafka_bootstrap, prefix=prefix, database=(f"sqlite+aiosqlite:///{tmp_path}/channel.db", None)) as channel,
        running(
            "analytics", kafka=kafka_bootstrap, prefix=prefix, clickhouse_url=chdb_url, clickhouse_database=prefix.strip(".")
        ) as analytics,
    ):
        headers = channel.auth("platform", platform="P001")
        first = await channel.http.post("/v1/complaints", json=filing("TM-1"), headers=headers)
        again = await channel.http.post("/v1/complaints", json=filing("TM-1"), headers=headers)
        assert first.status_code == 202 and again.status_code == 202
        assert again.json() == first.json() | {"duplicate": True}  # the same id and receipt code

        fed = Envelope(
            type="redshield.platform.complaint.submitted.v1",
            source="/platforms/P002",
            subject="JD-9",
            data=filing("JD-9", category="delivery"),
        )
        await produce_events(kafka_bootstrap, prefix + topics.feed_complaints("P002"), [fed])

        regulator = analytics.auth("regulator")

        async def two_counted() -> dict[str, Any] | None:
            answer = await analytics.http.get(
                "/v1/cockpits/governance", params={"from": "2026-11-01", "to": "2026-11-30"}, headers=regulator
            )
            assert answer.status_code == 200, answer.text
            body: dict[str, Any] = answer.json()
            return body if body["complaints"]["total"] == 2 else None

        body = await eventually(two_counted, timeout=60)
        complaints = body["complaints"]
        assert {p["platform_id"]: p["count"] for p in complaints["by_platform"]} == {"P001": 1, "P002": 1}
        assert {c["category"]: c["count"] for c in complaints["by_category"]} == {"quality": 1, "delivery": 1}
        assert complaints["trend"] == [{"day": "2026-11-20", "count": 2}]
        assert body["freshness"]["newest_event_time"] is not None
        assert body["freshness"]["lag_seconds"] >= 0
