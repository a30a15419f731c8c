"""kill -9 at the worst moments loses no accepted complaint and counts none twice."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from contracts import topics
from contracts.envelope import Envelope
from contracts.events.channel import ComplaintReceived
from contracts.examples import GOLDEN
from services.runtime.auth import Role, issue, signing_key
from services.runtime.settings import SharedSettings
from tests.flow.test_complaint_to_cockpit import filing
from tests.harness import Process, eventually, produce_events
from tests.kafka_broker import free_port

pytestmark = pytest.mark.slow


def regulator_token() -> str:
    return issue(signing_key(SharedSettings()), role=Role.REGULATOR, subject="test")


def env_for(prefix: str, kafka: str, tmp: Path, **extra: str) -> dict[str, str]:
    return {
        "KAFKA_BOOTSTRAP_SERVERS": kafka,
        "REDSHIELD_TOPIC_PREFIX": prefix,
        "REDSHIELD_CHANNEL_DATABASE_URL": f"sqlite+aiosqlite:///{tmp}/channel.db",
        "REDSHIELD_ANALYTICS_CLICKHOUSE_URL": f"chdb://{tmp}/chdb",
        **extra,
    }


async def governance_total(url: str) -> int:
    async with httpx.AsyncClient() as client:
        answer = await client.get(
            f"{url}/v1/cockpits/governance",
            params={"from": "2026-01-01", "to": "2026-12-31"},
            headers={"Authorization": f"Bearer {regulator_token()}"},
            timeout=10,
        )
    assert answer.status_code == 200, answer.text
    return int(answer.json()["complaints"]["total"])


def received(n: int) -> Envelope:
    template = GOLDEN[ComplaintReceived.event_type][0].data.model_dump(mode="json")
    complaint_id = f"kill-test-{n:06d}"
    data = template | {
        "complaint_id": complaint_id,
        "platform_complaint_id": f"PC-{n}",
        "received_at": (datetime(2026, 6, 1, tzinfo=UTC) + timedelta(minutes=n)).isoformat(),
    }
    return Envelope(type=ComplaintReceived.event_type, source="/redshield/channel", subject=complaint_id, data=data, platformid="P001")


async def test_analytics_killed_mid_stream_ends_with_each_complaint_exactly_once(kafka_bootstrap: str, prefix: str, tmp_path: Path) -> None:
    total = 3000
    env = env_for(prefix, kafka_bootstrap, tmp_path, REDSHIELD_ANALYTICS_INGEST_MAX_RECORDS="100")
    analytics = Process("analytics", env, free_port(), tmp_path / "analytics.log")
    analytics.start()
    try:
        events = [received(n) for n in range(total)]
        await produce_events(kafka_bootstrap, prefix + topics.CHANNEL_COMPLAINTS, events)

        async def part_way() -> bool:
            return 0 < await governance_total(analytics.url) < total

        await eventually(part_way, timeout=60, interval=0.05)
        analytics.kill9()
        # The same records again, as a producer retry after a timeout would send them.
        await produce_events(kafka_bootstrap, prefix + topics.CHANNEL_COMPLAINTS, events[:500])
        analytics.start()

        async def all_in() -> bool:
            return await governance_total(analytics.url) == total

        await eventually(all_in, timeout=120)
        await asyncio.sleep(2)
        assert await governance_total(analytics.url) == total
    finally:
        analytics.stop()


async def test_channel_killed_after_commit_before_publish_still_delivers_the_complaint_once(
    kafka_bootstrap: str, prefix: str, tmp_path: Path
) -> None:
    channel_port, analytics_port = free_port(), free_port()
    no_relay = env_for(prefix, kafka_bootstrap, tmp_path, REDSHIELD_CHANNEL_RELAY_ENABLED="false")
    channel = Process("channel", no_relay, channel_port, tmp_path / "channel.log")
    analytics = Process("analytics", env_for(prefix, kafka_bootstrap, tmp_path), analytics_port, tmp_path / "analytics.log")
    channel.start()
    analytics.start()
    try:
        token = issue(signing_key(SharedSettings()), role=Role.PLATFORM, subject="t", platform_id="P001")
        body: dict[str, Any] = filing("K-1")
        answer = await asyncio.to_thread(
            httpx.post, f"{channel.url}/v1/complaints", json=body, headers={"Authorization": f"Bearer {token}"}, timeout=10
        )
        assert answer.status_code == 202
        channel.kill9()  # committed, never published
        assert await governance_total(analytics.url) == 0

        channel.env = env_for(prefix, kafka_bootstrap, tmp_path)
        channel.start()

        async def arrived() -> bool:
            return await governance_total(analytics.url) == 1

        await eventually(arrived, timeout=60)
        again = await asyncio.to_thread(
            httpx.post, f"{channel.url}/v1/complaints", json=body, headers={"Authorization": f"Bearer {token}"}, timeout=10
        )
        assert again.json() == answer.json() | {"duplicate": True}  # the same item, the same receipt code
        await asyncio.sleep(2)
        assert await governance_total(analytics.url) == 1
    finally:
        channel.stop()
        analytics.stop()
