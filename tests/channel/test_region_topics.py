"""Region topics: every event about an item also goes, in the same transaction, to region.<code>.v1 of its
jurisdiction, so a bureau reads exactly its own items' stream from the real broker."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator

import pytest
import sqlalchemy as sa

from contracts import topics
from contracts.envelope import header_map
from services.runtime.tables import outbox
from tests.channel.test_directory import file
from tests.harness import Running, read_topic, running


@pytest.fixture
async def channel(kafka_bootstrap: str, prefix: str, database: tuple[str, str | None]) -> AsyncIterator[Running]:
    async with running("channel", kafka=kafka_bootstrap, prefix=prefix, database=database) as svc:
        yield svc


async def test_a_bureaus_region_topic_carries_exactly_its_items_events(channel: Running, kafka_bootstrap: str, prefix: str) -> None:
    xihu = await file(channel, "R-1", {"store_id": "S-1", "store_name": "店", "region": "330106"})
    ningbo = await file(channel, "R-2", {"store_id": "S-2", "store_name": "店", "region": "330206"}, platform="P002")
    answer = await channel.http.post(f"/v1/complaints/{xihu}/answer", json={"outcome": "not_settled"},
                                     headers=channel.auth("platform", platform="P001"))
    assert answer.status_code == 200

    assert channel.service.engine is not None
    async with channel.service.engine.connect() as conn:
        rows = (await conn.execute(sa.select(outbox.c.topic, outbox.c.key, outbox.c.headers))).all()
    by_topic: dict[str, Counter[tuple[str, str]]] = {}
    for row in rows:
        by_topic.setdefault(row.topic, Counter())[(row.key.decode(), dict(row.headers)["ce_type"])] += 1
    internal = by_topic[topics.CHANNEL_COMPLAINTS]
    for region, complaint_id in (("330106", xihu), ("330206", ningbo)):
        # Every event about the item, once, and nothing about any other item.
        assert by_topic[topics.region(region)] == Counter({k: n for k, n in internal.items() if k[0] == complaint_id})
    assert set(by_topic) == {topics.CHANNEL_COMPLAINTS, topics.region("330106"), topics.region("330206"),
                             topics.notify("P001"), topics.notify("P002")}

    # received, assigned, platform_responded, referred for Xihu; received, assigned for Ningbo — off the real broker.
    xihu_records = await read_topic(kafka_bootstrap, prefix + topics.region("330106"), 4)
    ningbo_records = await read_topic(kafka_bootstrap, prefix + topics.region("330206"), 2)
    assert {r.key.decode() for r in xihu_records} == {xihu} and {r.key.decode() for r in ningbo_records} == {ningbo}
    assert [header_map(r.headers)["ce_type"].decode().split(".")[3] for r in xihu_records] == [
        "received", "assigned", "platform_responded", "referred"]
    assert all(header_map(r.headers)["ce_region"] == b"330106" for r in xihu_records)
