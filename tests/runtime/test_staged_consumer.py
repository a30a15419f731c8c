"""Staged (pipelined) consumers against the real broker: the next batch is prepared while the previous one is
written; each batch commits its own offsets once written, in order; a write that fails is written again or goes
the plain way (isolation, DLQ); a stop writes and commits the batch in flight."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiokafka import TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from contracts.envelope import Envelope, header_map
from services.runtime.consumer import Delivery, Rejected
from services.runtime.service import Service
from services.runtime.settings import load
from tests.harness import eventually, produce_events, read_topic

TOPIC = "things.v1"
GROUP = "collab-staged"


def event(n: int) -> Envelope:
    # Keys spread the records over the topic's partitions.
    return Envelope(type="redshield.test.thing.happened.v1", source="/redshield/test", subject=f"key-{n % 7}", data={"n": n})


@dataclass
class Recorder:
    """A staged handler that records what it did and when; ``write_s`` makes each write take that long."""

    write_s: float = 0.0
    failing_writes: int = 0
    poison: int | None = None
    written: list[int] = field(default_factory=list)
    log: list[tuple[str, float, int]] = field(default_factory=list)
    writes_tried: int = 0

    def prepare(self, batch: Sequence[Delivery]) -> list[int]:
        numbers = [int(d.envelope.data["n"]) for d in batch]
        self.log.append(("prepared", time.monotonic(), len(numbers)))
        return numbers

    async def write(self, prepared: list[int]) -> list[tuple[Delivery, Rejected]]:
        self.writes_tried += 1
        self.log.append(("write-start", time.monotonic(), len(prepared)))
        await asyncio.sleep(self.write_s)
        if self.failing_writes:
            self.failing_writes -= 1
            raise ConnectionError("ClickHouse blinked")
        if self.poison is not None and self.poison in prepared:
            raise RuntimeError(f"record {self.poison} always breaks the write")
        self.written.extend(prepared)
        self.log.append(("write-end", time.monotonic(), len(prepared)))
        return []

    async def handle(self, batch: Sequence[Delivery]) -> list[tuple[Delivery, Rejected]]:
        return list(await self.write(self.prepare(batch)))


def _service(kafka_bootstrap: str, prefix: str, tmp_path: Path, recorder: Recorder, max_records: int = 50) -> Service:
    settings = load(
        "collab",
        kafka_bootstrap_servers=kafka_bootstrap,
        topic_prefix=prefix,
        consumer_retry_backoff_ms=10,
        database_url=f"sqlite+aiosqlite:///{tmp_path}/collab.db",
    )
    service = Service(settings, with_database=False)
    service.consumer(GROUP, recorder.handle, staged=recorder).subscribe(service.broker, TOPIC, group_id=GROUP, max_records=max_records)
    return service


async def _committed(kafka_bootstrap: str, prefix: str) -> int:
    """The group's committed offsets on the topic, summed over its partitions."""
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        offsets: dict[TopicPartition, Any] = await admin.list_consumer_group_offsets(prefix + GROUP)
    finally:
        await admin.close()
    return sum(meta.offset for tp, meta in offsets.items() if tp.topic == prefix + TOPIC and meta.offset >= 0)


async def _true(value: bool) -> bool:
    return value


async def test_the_next_batch_is_prepared_while_the_previous_one_is_written_and_each_commits_in_order(
    kafka_bootstrap: str, prefix: str, tmp_path: Path
) -> None:
    recorder = Recorder(write_s=0.3)
    await produce_events(kafka_bootstrap, prefix + TOPIC, [event(n) for n in range(400)])
    service = _service(kafka_bootstrap, prefix, tmp_path, recorder)
    await service.start()
    try:
        await eventually(lambda: _true(len(recorder.written) == 400), timeout=60)
        await eventually(lambda: _committed(kafka_bootstrap, prefix), timeout=30)
        committed = await _committed(kafka_bootstrap, prefix)
    finally:
        await service.stop()
    assert sorted(recorder.written) == list(range(400))  # each record written once
    assert committed == 400
    # Overlap: some batch was prepared after a write had started and before that write ended.
    writing = False
    overlapped = False
    for what, _, _ in recorder.log:
        if what == "write-start":
            assert not writing, "two writes at once"
            writing = True
        elif what == "write-end":
            writing = False
        elif what == "prepared" and writing:
            overlapped = True
    assert overlapped


async def test_a_stop_writes_and_commits_the_batch_in_flight(kafka_bootstrap: str, prefix: str, tmp_path: Path) -> None:
    recorder = Recorder(write_s=1.0)
    await produce_events(kafka_bootstrap, prefix + TOPIC, [event(n) for n in range(30)])
    service = _service(kafka_bootstrap, prefix, tmp_path, recorder, max_records=100)
    await service.start()
    await eventually(lambda: _true(any(what == "write-start" for what, _, _ in recorder.log)), timeout=60)
    await service.stop()  # while the write still sleeps
    assert len(recorder.written) == 30
    assert await _committed(kafka_bootstrap, prefix) == 30
    # A new member of the group finds nothing left to do.
    again = Recorder()
    service = _service(kafka_bootstrap, prefix, tmp_path, again)
    await produce_events(kafka_bootstrap, prefix + TOPIC, [event(99)])
    await service.start()
    try:
        await eventually(lambda: _true(again.written == [99]), timeout=60)
    finally:
        await service.stop()


async def test_a_write_that_fails_is_written_again_and_one_that_keeps_failing_isolates_its_record(
    kafka_bootstrap: str, prefix: str, tmp_path: Path
) -> None:
    recorder = Recorder(failing_writes=2, poison=13)
    await produce_events(kafka_bootstrap, prefix + TOPIC, [event(n) for n in range(40)])
    service = _service(kafka_bootstrap, prefix, tmp_path, recorder)
    await service.start()
    try:
        await eventually(lambda: _true(len(recorder.written) == 39), timeout=60)
        (dead,) = await read_topic(kafka_bootstrap, prefix + f"dlq.{GROUP}.v1", 1)
        await eventually(lambda: _committed(kafka_bootstrap, prefix), timeout=30)
        await eventually(lambda: _committed_is(kafka_bootstrap, prefix, 40), timeout=30)
    finally:
        await service.stop()
    assert sorted(recorder.written) == [n for n in range(40) if n != 13]
    headers = header_map(dead.headers)
    assert headers["x-dlq-reason"] == b"processing-failed"
    assert b"record 13 always breaks" in headers["x-dlq-error"]
    assert recorder.failing_writes == 0  # the transient failures did happen


async def _committed_is(kafka_bootstrap: str, prefix: str, expected: int) -> bool:
    return await _committed(kafka_bootstrap, prefix) == expected
