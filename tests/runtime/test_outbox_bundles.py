"""A bundle row publishes its events as plain rows would have, in their order, whole in one pass, marked once; a
pass is counted in events, bundles by theirs. On SQLite and, where REDSHIELD_TEST_POSTGRES_URL is set, PostgreSQL."""

from __future__ import annotations

import asyncio

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from contracts.envelope import Envelope, from_record
from services.runtime import db
from services.runtime.bundles import BadBundle, bundle_records, bundle_value, row_records
from services.runtime.kafka import new_producer
from services.runtime.outbox import OutboxRelay
from services.runtime.settings import load
from services.runtime.tables import outbox
from services.runtime.uow import UnitOfWork
from tests.harness import read_topic

TOPIC = "test.bundles.v1"


def event(n: int) -> Envelope:
    return Envelope(type="redshield.bridge.store.registered.v1", source="/redshield/test", subject=f"P001/S{n}", data={"n": n})


def triple(e: Envelope) -> tuple[str | None, list[tuple[str, str]], bytes]:
    return (None if e.key is None else e.key.decode(), [(name, value.decode()) for name, value in e.headers()], e.value())


async def prepared(database: tuple[str, str | None]) -> AsyncEngine:
    url, schema = database
    await asyncio.to_thread(db.migrate, "bridge", url, schema=schema)
    return db.create_engine(url, schema=schema)


async def commit_plain(engine: AsyncEngine, n: int) -> None:
    async with UnitOfWork(engine) as uow:
        uow.publish(TOPIC, event(n))
        await uow.commit()


async def commit_bundle(engine: AsyncEngine, numbers: range) -> None:
    events = [event(n) for n in numbers]
    async with engine.begin() as conn:
        await conn.execute(sa.insert(outbox).values(event_id=events[0].id, topic=TOPIC, key=None, headers=[], created_at=events[0].time,
                                                    value=bundle_value(map(triple, events)), bundle=len(events)))


def test_a_bundle_reads_back_as_the_records_it_was_made_of() -> None:
    events = [event(n) for n in range(3)] + [Envelope(type="t.v1", source="/s", subject="P001/店\t铺", data={"text": "换行\n制表\t"})]
    records = list(bundle_records(bundle_value([*map(triple, events), (None, [("h", "v")], b"{}")]), 5))
    assert records == [*((e.key, list(e.headers()), e.value()) for e in events), (None, [("h", b"v")], b"{}")]


def test_the_headers_of_a_bundle_row_go_out_with_each_of_its_events_before_the_events_own() -> None:
    value = bundle_value([("a", [("ce_id", "1")], b"{}"), ("b", [("ce_id", "2")], b"[]")])
    shared = '[["ce_specversion","1.0"],["ce_source","/redshield/bridge"]]'
    records = list(row_records(None, shared, value, 2))
    assert records == [(b"a", [("ce_specversion", b"1.0"), ("ce_source", b"/redshield/bridge"), ("ce_id", b"1")], b"{}"),
                       (b"b", [("ce_specversion", b"1.0"), ("ce_source", b"/redshield/bridge"), ("ce_id", b"2")], b"[]")]
    assert next(row_records(None, "[]", value, 2)) == (b"a", [("ce_id", b"1")], b"{}")


@pytest.mark.parametrize("value, expected, reason", [
    (b'"k"\t[]', 1, "2 tab-separated fields"),
    (b'"k"\t[]\t{}\n"k"\t[]\t{}', 3, "holds 2 events; its row says 3"),
    (b'k\t[]\t{}', 1, "line 1 of the bundle"),
    (b'7\t[]\t{}', 1, "the key is not a JSON string"),
    (b'"k"\t[["only-a-name"]]\t{}', 1, r"not \[name, value\] strings"),
])
def test_a_bundle_not_in_the_format_is_refused_whole_with_its_reason(value: bytes, expected: int, reason: str) -> None:
    with pytest.raises(BadBundle, match=reason):
        bundle_records(value, expected)


def test_a_value_with_a_newline_byte_cannot_be_bundled() -> None:
    with pytest.raises(BadBundle, match="newline"):
        bundle_value([("k", [], b"{\n}")])


async def test_bundled_events_go_out_like_plain_ones_in_commit_order_a_bundle_whole_in_one_pass(
    database: tuple[str, str | None], kafka_bootstrap: str, prefix: str
) -> None:
    engine = await prepared(database)
    await commit_plain(engine, 0)
    await commit_bundle(engine, range(1, 6))
    await commit_plain(engine, 6)
    await commit_bundle(engine, range(7, 9))
    producer = new_producer(load("bridge", kafka_bootstrap_servers=kafka_bootstrap))
    await producer.start()
    relay = OutboxRelay(service="bridge", engine=engine, producer=producer, wakeup=asyncio.Event(), topic_prefix=prefix, batch_size=3)
    try:
        assert await relay.backlog() == 9
        # Passes of three events: the plain row and the bundle of five (a bundle is never split), then the plain
        # row and the bundle of two.
        assert await relay.publish_pending() == 6
        assert await relay.backlog() == 3
        assert await relay.publish_pending() == 3
        assert await relay.publish_pending() == 0
        assert await relay.backlog() == 0
        async with engine.connect() as conn:
            assert (await conn.execute(sa.select(sa.func.count()).select_from(outbox).where(outbox.c.sent_at.is_not(None)))).scalar_one() == 4
    finally:
        await producer.stop()
        await engine.dispose()
    records = await read_topic(kafka_bootstrap, prefix + TOPIC, 9)
    numbers = {p: [from_record(r.key, r.value, r.headers).data["n"] for r in records if r.partition == p]
               for p in {r.partition for r in records}}
    assert sorted(n for ns in numbers.values() for n in ns) == list(range(9))
    assert all(ns == sorted(ns) for ns in numbers.values())  # commit order, within each partition
    assert all(r.key == f"P001/S{from_record(r.key, r.value, r.headers).data['n']}".encode() for r in records)
    assert all(from_record(r.key, r.value, r.headers).type == "redshield.bridge.store.registered.v1" for r in records)


async def test_a_bad_bundle_stops_the_relay_at_it_and_publishes_nothing_of_it(
    database: tuple[str, str | None], kafka_bootstrap: str, prefix: str
) -> None:
    engine = await prepared(database)
    await commit_plain(engine, 0)
    async with engine.begin() as conn:
        await conn.execute(sa.insert(outbox).values(event_id="bad-bundle", topic=TOPIC, key=None, headers=[], created_at=event(1).time,
                                                    value=b"not a bundle", bundle=2))
    producer = new_producer(load("bridge", kafka_bootstrap_servers=kafka_bootstrap))
    await producer.start()
    relay = OutboxRelay(service="bridge", engine=engine, producer=producer, wakeup=asyncio.Event(), topic_prefix=prefix)
    try:
        with pytest.raises(BadBundle):
            await relay.publish_pending()
        assert await relay.backlog() == 3  # nothing marked sent: the pass failed before a record left
    finally:
        await producer.stop()
        await engine.dispose()


@pytest.mark.postgres
@pytest.mark.parametrize("database", ["postgresql"], indirect=True)
async def test_on_postgresql_outbox_values_are_compressed_with_lz4_where_the_server_has_it(database: tuple[str, str | None]) -> None:
    engine = await prepared(database)
    try:
        async with engine.connect() as conn:
            has_lz4 = (await conn.execute(sa.text(
                "SELECT 'lz4' = ANY(enumvals) FROM pg_settings WHERE name = 'default_toast_compression'"))).scalar()
            method = (await conn.execute(sa.text(
                "SELECT CAST(attcompression AS TEXT) FROM pg_attribute WHERE attrelid = 'outbox'::regclass AND attname = 'value'"))).scalar()
    finally:
        await engine.dispose()
    assert method == ("l" if has_lz4 else "")
