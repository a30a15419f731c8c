"""Reliable subscribers: explicit acks, inbox dedupe, bounded retries, then the consumer's DLQ topic.

Every subscriber here is a FastStream batch subscriber with ``AckPolicy.MANUAL``: offsets are committed
only after the batch's transaction committed and every bad record sits in the DLQ. A record is never
silently dropped and a poison record never blocks its partition.

A consumer whose handler is *staged* (:class:`StagedHandler`: a synchronous ``prepare`` and an async ``write``)
is pipelined: batch N+1 is prepared on the event loop while batch N is written, and each batch commits its own
offsets (not the consumer's position) once it is written, in order. analytics uses it: its write is mostly chDB
work in a thread that releases the GIL, its prepare is Python.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import traceback
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.errors import ConsumerStoppedError, KafkaError
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from faststream.kafka.parser import AioKafkaBatchParser

from contracts import topics
from contracts.envelope import Envelope, EnvelopeError, from_record
from services.runtime.kafka import EventProducer
from services.runtime.logs import trace_id_of, trace_id_var
from services.runtime.metrics import CONSUMED, DLQ_RECORDS

log = logging.getLogger("redshield.consumer")


class Rejected(Exception):
    """A record that can never be processed (bad schema, wrong platform): straight to the DLQ."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


def _next_offsets(records: Sequence[ConsumerRecord[Any, Any]]) -> dict[TopicPartition, int]:
    """The offset to commit for each partition of a batch: one past its highest record."""
    # A plain tuple key per record, the TopicPartition once per partition: this runs for every record consumed.
    highest: dict[tuple[str, int], int] = {}
    get = highest.get
    for record in records:
        key = (record.topic, record.partition)
        offset = record.offset
        if get(key, -1) < offset:
            highest[key] = offset
    return {TopicPartition(topic, partition): offset + 1 for (topic, partition), offset in highest.items()}


# Not frozen, as Envelope: one is made per record consumed.
@dataclass(slots=True)
class Delivery:
    """One consumed record with its parsed envelope."""

    record: ConsumerRecord[Any, Any]
    envelope: Envelope
    #: The logical topic name (without the deployment's prefix).
    topic: str


#: A batch handler processes deliveries in one transaction and returns those it rejects for good.
BatchHandler = Callable[[Sequence[Delivery]], Awaitable[Sequence[tuple[Delivery, Rejected]]]]


class StagedHandler(Protocol):
    """A batch handler in two stages: ``prepare`` is pure CPU work with no I/O and no dependence on what earlier
    batches wrote; ``write`` stores what it prepared (idempotently: it may run again after a partial failure) and
    returns the deliveries it rejects for good. ``write(prepare(batch))`` must equal the plain handler's effect."""

    def prepare(self, batch: Sequence[Delivery]) -> Any: ...

    async def write(self, prepared: Any) -> Sequence[tuple[Delivery, Rejected]]: ...


class DeadLetters:
    """Writes the original record plus error headers to ``dlq.<consumer>.v1``, and waits for the ack."""

    def __init__(self, producer: EventProducer, *, service: str, consumer: str, topic_prefix: str = "") -> None:
        self.producer = producer
        self.service = service
        self.consumer = consumer
        self.topic = topic_prefix + topics.dlq(consumer)

    async def send(self, record: ConsumerRecord[Any, Any], reason: str, detail: str, attempts: int) -> None:
        headers = [
            *(record.headers or ()),
            ("x-dlq-reason", reason.encode()),
            ("x-dlq-error", detail[:2000].encode()),
            ("x-dlq-consumer", self.consumer.encode()),
            ("x-dlq-original-topic", str(record.topic).encode()),
            ("x-dlq-original-partition", str(record.partition).encode()),
            ("x-dlq-original-offset", str(record.offset).encode()),
            ("x-dlq-attempts", str(attempts).encode()),
        ]
        await self.producer.send_and_wait(self.topic, value=record.value, key=record.key, headers=headers)
        DLQ_RECORDS.labels(self.service, self.consumer, reason).inc()
        log.warning(
            "record sent to DLQ",
            extra={"fields": {"dlq": self.topic, "reason": reason, "detail": detail[:300], "topic": record.topic, "offset": record.offset}},
        )


async def _raw_decoder(msg: Any) -> Any:
    # Bodies are parsed by the envelope code, which reports bad JSON as a DLQ reason instead of raising.
    return msg.body


async def _batch_parser(message: Any, original: Callable[[Any], Awaitable[Any]]) -> Any:
    """FastStream's batch message without its copies of every record: its own parser decodes each record's headers
    into a dict and collects the values (2.3 µs a record, ~5 % of analytics' event loop), and nothing here reads
    them — the handler takes the records themselves (``raw_message``) and :func:`from_record` reads their headers.
    Anything but a batch from FastStream's aiokafka parser goes to that parser as before."""
    parser = getattr(original, "__self__", None)
    if not (isinstance(message, tuple) and message and isinstance(parser, AioKafkaBatchParser)):
        return await original(message)
    first = message[0]
    return parser.msg_class(
        body=[],
        headers={},
        batch_headers=[],
        reply_to="",
        content_type=None,
        message_id=f"{first.offset}-{message[-1].offset}-{first.timestamp}",
        correlation_id=None,
        raw_message=message,
        path={},
        consumer=parser._consumer,
    )


@dataclass(frozen=True, slots=True)
class FetchSizes:
    """How much a fetch asks the broker for. The defaults are aiokafka's: answer as soon as there is a byte. A
    consumer whose cost is per batch (an insert into ClickHouse) asks the broker to wait for ``min_bytes`` (or
    ``max_wait_ms``), so a busy stream comes in batches of thousands instead of the few hundred one fetch holds."""

    min_bytes: int = 1
    max_wait_ms: int = 500
    max_partition_bytes: int = 1 << 20


class ReliableConsumer:
    def __init__(
        self,
        *,
        service: str,
        consumer: str,
        handler: BatchHandler,
        dead_letters: DeadLetters,
        max_attempts: int = 3,
        retry_backoff: float = 0.2,
        precheck: Callable[[str, Envelope], None] | None = None,
        topic_prefix: str = "",
        staged: StagedHandler | None = None,
    ) -> None:
        self.topic_prefix = topic_prefix
        self.staged = staged
        #: The batch being written while the next one is prepared (staged consumers only).
        self._in_flight: asyncio.Task[None] | None = None
        self._closing = False
        self.service = service
        self.consumer = consumer
        self.handler = handler
        self.dead_letters = dead_letters
        self.max_attempts = max_attempts
        self.retry_backoff = retry_backoff
        self.precheck = precheck

    async def on_batch(self, records: Sequence[ConsumerRecord[Any, Any]]) -> None:
        """Handle one polled batch; returns only when every record is applied or dead-lettered."""
        good = await self._deliveries(records)
        if good:
            await self._apply(good)
        CONSUMED.labels(self.service, self.consumer).inc(len(records))

    async def on_batch_pipelined(self, records: Sequence[ConsumerRecord[Any, Any]], consumer: AIOKafkaConsumer) -> None:
        """Prepare this batch while the previous one is written, then hand it to the writer and return: its offsets
        are committed by the writer once it is in. Batches are written one at a time, in the order polled."""
        assert self.staged is not None
        good = await self._deliveries(records)
        prepared: Any = None
        if good:
            try:
                prepared = self.staged.prepare(good)
            except Exception:  # a bug in prepare: the plain handler's path (retries, isolation, DLQ) decides
                log.exception("prepare failed; the batch goes through the plain handler")
        if self._in_flight is not None:
            # Shielded: a stop that cancels this poll must not cancel the write of a batch already taken.
            await asyncio.shield(self._in_flight)
        task = asyncio.create_task(self._settle(records, good, prepared, consumer), name=f"{self.consumer}-write")
        self._in_flight = task
        if self._closing:
            await asyncio.shield(task)

    async def drain(self, patience_s: float = 30.0) -> None:
        """Before the consumer stops: write and commit the batch in flight (later batches are written inline).
        A write still failing after ``patience_s`` is abandoned uncommitted: it is delivered again after the restart."""
        self._closing = True
        task = self._in_flight
        while task is not None and not task.done():
            try:
                await asyncio.wait_for(asyncio.shield(task), patience_s)
            except TimeoutError:
                log.warning("the batch in flight was not written in %.0f s; left uncommitted", patience_s)
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            task = self._in_flight

    async def _settle(
        self, records: Sequence[ConsumerRecord[Any, Any]], good: Sequence[Delivery], prepared: Any, consumer: AIOKafkaConsumer
    ) -> None:
        offsets = _next_offsets(records)
        while True:
            try:
                if good:
                    await self._write(good, prepared)
                await self._commit(consumer, offsets)
            except asyncio.CancelledError:
                raise
            except Exception:
                # Only infrastructure failures get here (the DLQ itself unreachable). The batch is still in hand:
                # write it again (the write is idempotent) rather than rewinding the consumer past later batches.
                log.exception("batch could not be settled; writing it again")
                await asyncio.sleep(1.0)
                continue
            CONSUMED.labels(self.service, self.consumer).inc(len(records))
            return

    async def _write(self, good: Sequence[Delivery], prepared: Any) -> None:
        staged = self.staged
        assert staged is not None
        if prepared is None or await self._attempts(good, lambda: staged.write(prepared)) is not None:
            # The plain path: retries again, then one record at a time, and the one that keeps failing to the DLQ.
            await self._apply(good)

    async def _commit(self, consumer: AIOKafkaConsumer, offsets: dict[TopicPartition, int]) -> None:
        try:
            await consumer.commit(offsets)
        except (KafkaError, ConsumerStoppedError) as exc:
            # The partitions moved to another member, or this consumer stopped: the records will be delivered again
            # (there or after the restart), and the inserts' tokens and the inbox make that change nothing.
            log.warning("offsets not committed, the batch will be delivered again: %r", exc)

    async def _deliveries(self, records: Sequence[ConsumerRecord[Any, Any]]) -> list[Delivery]:
        good: list[Delivery] = []
        for record in records:
            topic = str(record.topic).removeprefix(self.topic_prefix)
            try:
                envelope = from_record(record.key, record.value, record.headers)
                if self.precheck is not None:
                    self.precheck(topic, envelope)
            except EnvelopeError as exc:
                await self.dead_letters.send(record, exc.reason, exc.detail, attempts=0)
                continue
            except Rejected as exc:
                await self.dead_letters.send(record, exc.reason, exc.detail, attempts=0)
                continue
            good.append(Delivery(record, envelope, topic))
        return good

    async def _attempts(
        self, batch: Sequence[Delivery], call: Callable[[], Awaitable[Sequence[tuple[Delivery, Rejected]]]]
    ) -> Exception | None:
        """Up to ``max_attempts`` of ``call`` on ``batch``: once it succeeds, what it rejected goes to the DLQ and
        None is returned; otherwise the last error."""
        error: Exception | None = None
        for attempt in range(1, self.max_attempts + 1):
            try:
                trace_id_var.set(trace_id_of(batch[0].envelope.traceparent))
                rejected = await call()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # transient until proven otherwise: retry, then isolate
                error = exc
                log.warning("batch failed, attempt %d of %d: %r", attempt, self.max_attempts, exc)
                await asyncio.sleep(self.retry_backoff * attempt)
                continue
            for delivery, why in rejected:
                await self.dead_letters.send(delivery.record, why.reason, why.detail, attempts=attempt)
            return None
        return error

    async def _apply(self, batch: Sequence[Delivery]) -> None:
        error = await self._attempts(batch, lambda: self.handler(batch))
        if error is None:
            return
        if len(batch) > 1:
            # One bad record must not sink its neighbours: retry each on its own.
            for delivery in batch:
                await self._apply([delivery])
            return
        detail = "".join(traceback.format_exception_only(type(error), error)).strip()
        await self.dead_letters.send(batch[0].record, "processing-failed", detail, attempts=self.max_attempts)

    def subscribe(
        self,
        broker: KafkaBroker,
        *topic_names: str,
        pattern: str | None = None,
        group_id: str,
        max_records: int = 500,
        auto_offset_reset: Literal["latest", "earliest", "none"] = "earliest",
        title: str | None = None,
        description: str | None = None,
        fetch: FetchSizes | None = None,
    ) -> None:
        fetch = fetch or FetchSizes()
        subscriber = broker.subscriber(
            *[self.topic_prefix + name for name in topic_names],
            # Groups are prefixed like topics, so deployments sharing a broker never share a group.
            group_id=self.topic_prefix + group_id,
            batch=True,
            max_records=max_records,
            batch_timeout_ms=100,
            fetch_min_bytes=fetch.min_bytes,
            fetch_max_wait_ms=fetch.max_wait_ms,
            max_partition_fetch_bytes=fetch.max_partition_bytes,
            ack_policy=AckPolicy.MANUAL,
            auto_offset_reset=auto_offset_reset,
            decoder=_raw_decoder,
            parser=_batch_parser,
            title=title,
            description=description,
            pattern=self.topic_prefix + pattern if pattern is not None else None,
        )

        async def handle(body: Any, msg: KafkaMessage) -> None:
            raw = msg.raw_message
            records: Sequence[ConsumerRecord[Any, Any]] = raw if isinstance(raw, tuple) else (raw,)
            consumer = getattr(msg, "consumer", None)
            staged = self.staged is not None and isinstance(consumer, AIOKafkaConsumer)
            try:
                if staged:
                    await self.on_batch_pipelined(records, consumer)
                else:
                    await self.on_batch(records)
            except asyncio.CancelledError:
                raise
            except Exception:
                # Only infrastructure failures get here (the DLQ itself unreachable): rewind, so the batch is read
                # again instead of being committed past. A staged batch fails here only before it was handed to
                # the writer; the batch in flight, all before its offsets, commits its own.
                log.exception("batch could not be settled; rewinding to its first offsets")
                await msg.nack()
                await asyncio.sleep(1.0)
                return
            if not staged:
                # A staged batch is not acked: that commits the consumer's position, already past later batches.
                await msg.ack()

        subscriber(handle)
