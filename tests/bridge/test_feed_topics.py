"""A platform connected to the complaint canal gets its feed topics on the real broker, with the deployment's prefix;
while Kafka cannot be reached the registration still succeeds and the topics follow once it can."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
import sqlalchemy as sa
from aiokafka.admin import AIOKafkaAdminClient

from services.bridge.feed_topics import FeedTopics
from services.bridge.store import feed_topics
from tests.bridge.conftest import PLATFORM, register
from tests.harness import Running, eventually, running

OTHER = {"platform_id": "P002", "uscc": "91330110MA27XL0Q17", "connected_to_canal": False}


@pytest.fixture
async def bridge(kafka_bootstrap: str, prefix: str, database: tuple[str, str | None]) -> AsyncIterator[Running]:
    async with running("bridge", kafka=kafka_bootstrap, prefix=prefix, database=database, feed_topics_retry_seconds=0.5) as svc:
        yield svc


async def broker_topics(kafka: str, prefix: str) -> set[str]:
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka)
    await admin.start()
    try:
        return {name.removeprefix(prefix) for name in await admin.list_topics() if name.startswith(prefix + "feed.")}
    finally:
        await admin.close()


async def rows(svc: Running, stmt: Any) -> list[dict[str, Any]]:
    assert svc.service.engine is not None
    async with svc.service.engine.connect() as conn:
        return [dict(r._mapping) for r in await conn.execute(stmt)]


async def test_a_connected_platform_gets_both_feed_topics_and_an_unconnected_one_only_when_it_connects(
        bridge: Running, kafka_bootstrap: str, prefix: str) -> None:
    await register(bridge)
    await register(bridge, **OTHER)
    wanted = {"feed.P001.complaints.v1", "feed.P001.answers.v1"}

    async def created() -> bool:
        return wanted <= await broker_topics(kafka_bootstrap, prefix)

    await eventually(created)
    assert await broker_topics(kafka_bootstrap, prefix) == wanted

    form = {k: v for k, v in PLATFORM.items() if k != "platform_id"} | {"uscc": OTHER["uscc"], "connected_to_canal": True}
    assert (await bridge.http.put("/v1/platforms/P002", json=form, headers=bridge.auth("regulator"))).status_code == 200
    wanted |= {"feed.P002.complaints.v1", "feed.P002.answers.v1"}
    await eventually(created)
    done = await rows(bridge, sa.select(feed_topics).order_by(feed_topics.c.platform_id))
    assert [(r["platform_id"], r["created_at"] is not None) for r in done] == [("P001", True), ("P002", True)]
    # Running the job again changes nothing: the topics exist, nothing is pending.
    feeds: FeedTopics = bridge.app.state.feeds
    assert await feeds.create_pending() == 0


async def test_registration_does_not_wait_for_kafka_and_the_topics_follow_when_it_is_back(
        bridge: Running, kafka_bootstrap: str, prefix: str) -> None:
    feeds: FeedTopics = bridge.app.state.feeds
    feeds.timeout_ms = 1500
    bridge.service.settings.kafka_bootstrap_servers = "127.0.0.1:1"  # the admin client's view of the broker: unreachable
    await register(bridge)

    async def failed() -> bool:
        (row,) = await rows(bridge, sa.select(feed_topics))
        return bool(row["attempts"] >= 1 and row["last_error"] and row["created_at"] is None)

    await eventually(failed)
    assert await broker_topics(kafka_bootstrap, prefix) == set()

    bridge.service.settings.kafka_bootstrap_servers = kafka_bootstrap

    async def created() -> bool:
        return await broker_topics(kafka_bootstrap, prefix) == {"feed.P001.complaints.v1", "feed.P001.answers.v1"}

    await eventually(created)
    (row,) = await rows(bridge, sa.select(feed_topics))
    assert row["created_at"] is not None and row["last_error"] is None and row["attempts"] >= 2
