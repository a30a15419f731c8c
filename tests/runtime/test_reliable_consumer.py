"""Reliable subscribers against the real broker: transient failures are retried; a record that keeps failing
is isolated from its batch and dead-lettered after the bounded retries; offsets move on only then."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from contracts.envelope import Envelope, header_map
from services.runtime.consumer import Delivery, FetchSizes, Rejected
from services.runtime.service import Service
from services.runtime.settings import load
from tests.harness import eventually, produce_events, read_topic


def event(n: int) -> Envelope:
    return Envelope(type="redshield.test.thing.happened.v1", source="/redshield/test", subject="one-key", data={"n": n})


async def test_a_record_that_keeps_failing_is_dead_lettered_and_its_neighbours_are_applied(
    kafka_bootstrap: str, prefix: str, tmp_path: object
) -> None:
    settings = load(
        "collab",
        kafka_bootstrap_servers=kafka_bootstrap,
        topic_prefix=prefix,
        consumer_retry_backoff_ms=10,
        database_url=f"sqlite+aiosqlite:///{tmp_path}/collab.db",
    )
    service = Service(settings)
    applied: list[int] = []
    calls = {"flaky": 0}

    async def handler(batch: Sequence[Delivery]) -> list[tuple[Delivery, Rejected]]:
        numbers = [d.envelope.data["n"] for d in batch]
        if 3 in numbers:
            raise RuntimeError("record 3 always breaks the handler")
        if 1 in numbers and calls["flaky"] < 2:
            calls["flaky"] += 1
            raise ConnectionError("database blinked")
        applied.extend(numbers)
        return []

    service.consumer("collab-test", handler).subscribe(service.broker, "things.v1", group_id="collab-test")
    await produce_events(kafka_bootstrap, prefix + "things.v1", [event(n) for n in range(6)])
    await service.start()
    try:
        await eventually(lambda: _async(sorted(applied) == [0, 1, 2, 4, 5]), timeout=60)
        (dead,) = await read_topic(kafka_bootstrap, prefix + "dlq.collab-test.v1", 1)
    finally:
        await service.stop()
    headers = header_map(dead.headers)
    assert headers["x-dlq-reason"] == b"processing-failed"
    assert b"record 3 always breaks" in headers["x-dlq-error"]
    assert headers["x-dlq-attempts"] == b"3"
    assert headers["ce_id"]  # the original CloudEvents headers travel with it
    assert calls["flaky"] == 2


async def _async(value: bool) -> bool:
    return value


async def _batches_of_a_trickle(kafka_bootstrap: str, prefix: str, tmp_path: object, fetch: FetchSizes | None) -> list[int]:
    """Sizes of the batches a consumer sees when 60 records trickle in over about a second."""
    settings = load(
        "collab", kafka_bootstrap_servers=kafka_bootstrap, topic_prefix=prefix, database_url=f"sqlite+aiosqlite:///{tmp_path}/c.db"
    )
    service = Service(settings)
    sizes: list[int] = []

    async def handler(batch: Sequence[Delivery]) -> list[tuple[Delivery, Rejected]]:
        sizes.append(len(batch))
        return []

    service.consumer("collab-test", handler).subscribe(service.broker, "things.v1", group_id="collab-test", fetch=fetch)
    await service.start()
    try:
        await produce_events(kafka_bootstrap, prefix + "things.v1", [event(-1)])
        await eventually(lambda: _async(sum(sizes) == 1), timeout=60)  # assigned and reading
        sizes.clear()
        for n in range(60):
            await produce_events(kafka_bootstrap, prefix + "things.v1", [event(n)])
            await asyncio.sleep(0.015)
        await eventually(lambda: _async(sum(sizes) == 60), timeout=60)
    finally:
        await service.stop()
    return sizes


async def test_a_consumer_asking_for_big_fetches_gets_a_trickle_in_few_batches(kafka_bootstrap: str, prefix: str, tmp_path: object) -> None:
    # A consumer that pays per batch (analytics inserts into ClickHouse) asks the broker to wait for a full fetch.
    waiting = await _batches_of_a_trickle(kafka_bootstrap, prefix + "big.", tmp_path, FetchSizes(min_bytes=1 << 20, max_wait_ms=3000))
    assert len(waiting) <= 2
    # The default answers as soon as anything is there: the same trickle comes in many small batches.
    eager = await _batches_of_a_trickle(kafka_bootstrap, prefix + "eager.", tmp_path, None)
    assert len(eager) > 5
