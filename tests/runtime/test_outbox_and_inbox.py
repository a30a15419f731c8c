"""The outbox publishes what committed, in commit order, once; the inbox turns a redelivery into a no-op.
Each runs on SQLite and, where REDSHIELD_TEST_POSTGRES_URL is set, on PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import pytest
import sqlalchemy as sa
from aiokafka.errors import KafkaConnectionError
from sqlalchemy.ext.asyncio import AsyncEngine

from contracts.envelope import Envelope, from_record
from services.runtime import db
from services.runtime.kafka import EventProducer, OutgoingRecord, new_producer
from services.runtime.outbox import OutboxRelay
from services.runtime.settings import load
from services.runtime.tables import outbox
from services.runtime.uow import UnitOfWork
from tests.harness import read_topic


def event(n: int, subject: str = "c-1") -> Envelope:
    return Envelope(type="redshield.channel.complaint.received.v1", source="/redshield/test", subject=subject, data={"n": n})


async def prepared(database: tuple[str, str | None]) -> AsyncEngine:
    url, schema = database
    await asyncio.to_thread(db.migrate, "bridge", url, schema=schema)  # bridge holds only the runtime tables
    return db.create_engine(url, schema=schema)


async def test_committed_events_are_published_in_commit_order_and_marked_sent(
    database: tuple[str, str | None], kafka_bootstrap: str, prefix: str
) -> None:
    engine = await prepared(database)
    wakeup = asyncio.Event()
    for n in range(5):
        async with UnitOfWork(engine, wakeup) as uow:
            uow.publish("test.events.v1", event(n))
            await uow.commit()
    producer = new_producer(load("bridge", kafka_bootstrap_servers=kafka_bootstrap))
    await producer.start()
    relay = OutboxRelay(service="bridge", engine=engine, producer=producer, wakeup=wakeup, topic_prefix=prefix)
    try:
        assert await relay.backlog() == 5
        assert await relay.publish_pending() == 5
        assert await relay.backlog() == 0
        assert await relay.publish_pending() == 0
        async with engine.connect() as conn:
            unsent = sa.select(sa.func.count()).select_from(outbox).where(outbox.c.sent_at.is_(None))
            assert (await conn.execute(unsent)).scalar_one() == 0  # the next pass marked them sent
    finally:
        await producer.stop()
    records = await read_topic(kafka_bootstrap, prefix + "test.events.v1", 5)
    assert [from_record(r.key, r.value, r.headers).data["n"] for r in records] == [0, 1, 2, 3, 4]
    assert all(r.key == b"c-1" for r in records)
    await engine.dispose()


async def test_a_rolled_back_use_case_leaves_no_event_behind(database: tuple[str, str | None]) -> None:
    engine = await prepared(database)
    async with UnitOfWork(engine) as uow:
        uow.publish("test.events.v1", event(1))
        # leaving without commit() is a rollback
    async with engine.connect() as conn:
        assert (await conn.execute(sa.select(sa.func.count()).select_from(outbox))).scalar_one() == 0
    await engine.dispose()


async def test_the_inbox_accepts_an_event_once_per_consumer(database: tuple[str, str | None]) -> None:
    engine = await prepared(database)
    async with UnitOfWork(engine) as uow:
        assert await uow.first_time("channel", "/platforms/P001", "e-1") is True
        assert await uow.first_time("channel", "/platforms/P001", "e-1") is False
        assert await uow.first_time("analytics", "/platforms/P001", "e-1") is True
        assert await uow.first_time("channel", "/platforms/P002", "e-1") is True
        await uow.commit()
    async with UnitOfWork(engine) as uow:
        assert await uow.first_time("channel", "/platforms/P001", "e-1") is False
    await engine.dispose()


async def test_an_unsent_row_survives_a_failed_publish_and_goes_out_on_the_next_pass(
    database: tuple[str, str | None], kafka_bootstrap: str, prefix: str
) -> None:
    engine = await prepared(database)
    async with UnitOfWork(engine) as uow:
        uow.publish("test.events.v1", event(7))
        await uow.commit()
    unreachable = new_producer(load("bridge", kafka_bootstrap_servers="127.0.0.1:1"), request_timeout_ms=1000)
    relay = OutboxRelay(service="bridge", engine=engine, producer=unreachable, wakeup=asyncio.Event(), topic_prefix=prefix)
    with pytest.raises(KafkaConnectionError):
        await unreachable.start()
    assert await relay.backlog() == 1
    producer = new_producer(load("bridge", kafka_bootstrap_servers=kafka_bootstrap))
    await producer.start()
    try:
        relay.producer = producer
        assert await relay.publish_pending() == 1
    finally:
        await producer.stop()
    (record,) = await read_topic(kafka_bootstrap, prefix + "test.events.v1", 1)
    assert from_record(record.key, record.value, record.headers).data == {"n": 7}
    await engine.dispose()


async def test_the_inbox_takes_a_whole_batch_in_one_go_and_names_the_new_ones(database: tuple[str, str | None]) -> None:
    engine = await prepared(database)
    async with UnitOfWork(engine) as uow:
        assert await uow.first_time("channel", "/platforms/P001", "e-2") is True
        fresh = await uow.first_times("channel", [("/platforms/P001", f"e-{n}") for n in range(1, 1500)] + [("/platforms/P001", "e-3")])
        await uow.commit()
    assert ("/platforms/P001", "e-2") not in fresh
    assert len(fresh) == 1498 and ("/platforms/P001", "e-1499") in fresh
    await engine.dispose()


class Intercepted(EventProducer):
    """A real producer that lets a test act at a given batch of sends: ``before(call)`` runs first, and when it
    answers an exception, that batch fails with it before anything of it leaves."""

    def __init__(self, real: EventProducer, before: Callable[[int], Awaitable[Exception | None]]) -> None:
        super().__init__(real.options)
        self._producer = real.client
        self.before = before
        self.calls = 0

    async def send_many(self, records: Iterable[OutgoingRecord]) -> list[asyncio.Future[Any]]:
        self.calls += 1
        failure = await self.before(self.calls)
        if failure is not None:
            failed: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
            failed.set_exception(failure)
            return [failed]
        return await super().send_many(records)


async def published_in_passes_of_three(database: tuple[str, str | None], kafka_bootstrap: str, prefix: str, events: int,
                                       before: Callable[[AsyncEngine, int], Awaitable[Exception | None]]) -> list[int]:
    """Commit ``events`` events, relay them three rows a pass through an :class:`Intercepted` producer until the
    outbox is empty (a pass that fails is retried), and answer the ``n`` of what reached the topic, in order."""
    engine = await prepared(database)
    for n in range(events):
        async with UnitOfWork(engine) as uow:
            uow.publish("test.events.v1", event(n))
            await uow.commit()
    real = new_producer(load("bridge", kafka_bootstrap_servers=kafka_bootstrap))
    await real.start()
    producer = Intercepted(real, lambda call: before(engine, call))
    relay = OutboxRelay(service="bridge", engine=engine, producer=producer, wakeup=asyncio.Event(), topic_prefix=prefix, batch_size=3)
    try:
        for _ in range(20):
            try:
                if not await relay.publish_pending():
                    break
            except KafkaConnectionError:
                continue
        else:
            raise AssertionError("the outbox was not emptied in 20 passes")
        await relay.mark_published()
        assert await relay.backlog() == 0
        async with engine.connect() as conn:
            total = (await conn.execute(sa.select(sa.func.count()).select_from(outbox))).scalar_one()
    finally:
        await real.stop()
        await engine.dispose()
    records = await read_topic(kafka_bootstrap, prefix + "test.events.v1", total)
    return [from_record(r.key, r.value, r.headers).data["n"] for r in records]


async def test_a_failed_pass_goes_out_again_before_any_row_after_it(
    database: tuple[str, str | None], kafka_bootstrap: str, prefix: str
) -> None:
    async def second_pass_fails(engine: AsyncEngine, call: int) -> Exception | None:
        return KafkaConnectionError("the broker went away") if call == 2 else None

    assert await published_in_passes_of_three(database, kafka_bootstrap, prefix, 9, second_pass_fails) == list(range(9))


async def test_a_row_committed_late_below_the_rows_sent_goes_out_before_the_rows_after_it(
    database: tuple[str, str | None], kafka_bootstrap: str, prefix: str
) -> None:
    async def commits_late(engine: AsyncEngine, call: int) -> Exception | None:
        if call == 1:  # while the first pass is sent, a transaction that took its seq before all of them commits
            late = event(99)
            async with engine.begin() as conn:
                await conn.execute(sa.insert(outbox).values(
                    seq=0, event_id=late.id, topic="test.events.v1", key=late.key, created_at=late.time, value=late.value(),
                    headers=[[name, value.decode()] for name, value in late.headers()]))
        return None

    assert await published_in_passes_of_three(database, kafka_bootstrap, prefix, 6, commits_late) == [0, 1, 2, 99, 3, 4, 5]
