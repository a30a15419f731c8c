"""Platforms' Kafka feeds: good records become complaints; bad ones land in dlq.channel.v1 with the reason,
and the records behind them on the same partition still flow."""

from __future__ import annotations

import sqlalchemy as sa

from contracts import topics
from contracts.envelope import Envelope, header_map
from services.channel.store import complaints
from tests.flow.test_complaint_to_cockpit import filing
from tests.harness import Running, eventually, produce, read_topic, running


def feed_record(platform: str, pcid: str, **changes: object) -> Envelope:
    return Envelope(type="redshield.platform.complaint.submitted.v1", source=f"/platforms/{platform}", subject=pcid,
                    data=filing(pcid, **changes), platformid=platform)


async def count_complaints(channel: Running, platform: str) -> int:
    assert channel.service.engine is not None
    async with channel.service.engine.connect() as conn:
        return int((await conn.execute(sa.select(sa.func.count()).select_from(complaints).where(complaints.c.platform_id == platform))).scalar_one())


async def test_bad_feed_records_go_to_the_dlq_with_their_reason_and_the_rest_flow(kafka_bootstrap: str, prefix: str, database: tuple[str, str | None]) -> None:
    topic = prefix + topics.feed_complaints("P007")
    good_before = feed_record("P007", "G-1")
    not_json = feed_record("P007", "N-1")
    bad_schema = feed_record("P007", "S-1", kind="praise")
    impostor = Envelope(type="redshield.platform.complaint.submitted.v1", source="/platforms/P008", subject="I-1", data=filing("I-1"))
    good_after = feed_record("P007", "G-2")
    records = [
        (good_before.key, good_before.value(), good_before.headers()),
        (not_json.key, b"{not json", not_json.headers()),
        (bad_schema.key, bad_schema.value(), bad_schema.headers()),
        (impostor.key, impostor.value(), impostor.headers()),
        (good_after.key, good_after.value(), good_after.headers()),
    ]
    # One key, so all five sit on one partition, in this order.
    await produce(kafka_bootstrap, topic, [(b"same-partition", value, headers) for _, value, headers in records])

    async with running("channel", kafka=kafka_bootstrap, prefix=prefix, database=database) as channel:
        async def both_good_filed() -> bool:
            return await count_complaints(channel, "P007") == 2

        await eventually(both_good_filed, timeout=60)
        dead = await read_topic(kafka_bootstrap, prefix + topics.dlq("channel"), 3)
    reasons = {header_map(r.headers)["x-dlq-reason"].decode() for r in dead}
    assert reasons == {"not-json", "schema", "platform-mismatch"}
    for record in dead:
        headers = header_map(record.headers)
        assert headers["x-dlq-original-topic"].decode() == topic
        assert headers["x-dlq-consumer"] == b"channel"
        assert headers["x-dlq-error"]
    assert {r.value for r in dead} >= {b"{not json"}  # the original record, untouched


async def test_a_feed_record_replayed_is_filed_once(kafka_bootstrap: str, prefix: str, database: tuple[str, str | None]) -> None:
    record = feed_record("P009", "R-1")
    await produce(kafka_bootstrap, prefix + topics.feed_complaints("P009"), [(record.key, record.value(), record.headers())] * 3)
    async with running("channel", kafka=kafka_bootstrap, prefix=prefix, database=database) as channel:
        await eventually(lambda: _count_is(channel, "P009", 1), timeout=60)
        published = await read_topic(kafka_bootstrap, prefix + topics.CHANNEL_COMPLAINTS, 2)  # received, assigned
        assert await count_complaints(channel, "P009") == 1
    types = [header_map(r.headers)["ce_type"].decode() for r in published]
    assert types.count("redshield.channel.complaint.received.v1") == 1


async def _count_is(channel: Running, platform: str, n: int) -> bool:
    return await count_complaints(channel, platform) == n


async def test_a_new_platform_feed_is_joined_without_a_restart(kafka_bootstrap: str, prefix: str, database: tuple[str, str | None]) -> None:
    async with running("channel", kafka=kafka_bootstrap, prefix=prefix, database=database, kafka_metadata_max_age_ms=1000) as channel:
        record = feed_record("P010", "J-1")
        await produce(kafka_bootstrap, prefix + topics.feed_complaints("P010"), [(record.key, record.value(), record.headers())])
        await eventually(lambda: _count_is(channel, "P010", 1), timeout=60)
