"""``redshield dlq show|replay --consumer NAME``: what sits in a consumer's dead-letter topic, and sending it back.

``show`` reads ``dlq.<consumer>.v1`` from the start (no consumer group, nothing committed) and counts its records by
reason and original topic. ``replay`` sends the records whose reason is asked for (by default the retryable ones,
:data:`services.runtime.dead_letters.RETRYABLE_REASONS`) back to their original topic with their original key,
value and headers, and commits its own progress under the group ``redshield-dlq-replay.<consumer>.<reasons>``, so
a second replay of the same reasons does not send the same records again. Both stop at the end the topic had when
they started. Kafka settings come from the environment, as for the services (``KAFKA_BOOTSTRAP_SERVERS``,
``REDSHIELD_TOPIC_PREFIX``, SASL).
"""

from __future__ import annotations

import argparse
import asyncio
import re
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.structs import OffsetAndMetadata

from contracts import topics
from services.cli.benchkit import json_line, say, table
from services.runtime.dead_letters import RETRYABLE_REASONS, original_headers, read_dead_letter, should_replay
from services.runtime.kafka import client_security
from services.runtime.settings import ServiceSettings

_CONSUMER_RE = re.compile(r"[a-z][a-z0-9_-]{0,62}")


async def partitions_of(settings: ServiceSettings, topic: str) -> list[TopicPartition]:
    """The topic's partitions as the cluster has them now (none when it does not exist)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers, **client_security(settings))
    await admin.start()
    try:
        (described,) = await admin.describe_topics([topic])
    finally:
        await admin.close()
    return [TopicPartition(topic, p["partition"]) for p in sorted(described["partitions"], key=lambda p: p["partition"])]


async def _open(settings: ServiceSettings, topic: str, group: str | None) -> tuple[AIOKafkaConsumer | None, dict[TopicPartition, int]]:
    """A consumer assigned every partition of ``topic``, positioned at its group's offsets (or the start), and the
    end offsets to stop at."""
    assigned = await partitions_of(settings, topic)
    if not assigned:
        return None, {}  # no such topic yet: nothing was ever dead-lettered
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        **client_security(settings),
    )
    await consumer.start()
    consumer.assign(assigned)
    ends = await consumer.end_offsets(assigned)
    if group is None:
        await consumer.seek_to_beginning(*assigned)
    return consumer, ends


Batches = AsyncIterator[tuple[TopicPartition, list[ConsumerRecord[Any, Any]]]]


async def _drain(consumer: AIOKafkaConsumer | None, ends: dict[TopicPartition, int]) -> Batches:
    """Batches of records until every partition reached the end it had at the start."""
    while consumer is not None:
        left = {tp for tp, end in ends.items() if await consumer.position(tp) < end}
        if not left:
            return
        batches = await consumer.getmany(*left, timeout_ms=1000, max_records=1000)
        for tp, records in batches.items():
            yield tp, records


async def show(settings: ServiceSettings, consumer_name: str, limit: int) -> dict[str, Any]:
    topic = settings.topic_prefix + topics.dlq(consumer_name)
    consumer, ends = await _open(settings, topic, None)
    reasons: Counter[str] = Counter()
    origins: Counter[str] = Counter()
    first: list[tuple[str, str, str]] = []
    try:
        async for tp, records in _drain(consumer, ends):
            for record in records:
                letter = read_dead_letter(record.headers)
                reasons[letter.reason] += 1
                origins[letter.original_topic or "?"] += 1
                if len(first) < limit:
                    where = f"{letter.original_topic}/{letter.original_partition}@{letter.original_offset}"
                    first.append((f"  {tp.partition}@{record.offset} {letter.reason}", where, f"{letter.event_type} {letter.event_id}"))
    finally:
        if consumer is not None:
            await consumer.stop()
    total = sum(reasons.values())
    rows = [("records", f"{total:,}", topic)]
    rows += [(f"  reason {reason}", f"{n:,}", "retryable" if reason in RETRYABLE_REASONS else "") for reason, n in reasons.most_common()]
    rows += [(f"  from {origin}", f"{n:,}", "") for origin, n in origins.most_common()]
    if first:
        rows.append((f"the first {len(first)}", "", ""))
        rows += first
    say(table(f"redshield dlq show --consumer {consumer_name}", rows))
    return {"topic": topic, "records": total, "by_reason": dict(reasons), "by_original_topic": dict(origins)}


async def replay(settings: ServiceSettings, consumer_name: str, reasons: frozenset[str] | None, dry_run: bool) -> dict[str, Any]:
    topic = settings.topic_prefix + topics.dlq(consumer_name)
    # One position per selection: a replay of other reasons later still sees the records this one left.
    selection = "all" if reasons is None else "+".join(sorted(reasons))
    group = f"{settings.topic_prefix}redshield-dlq-replay.{consumer_name}.{selection}"
    consumer, ends = await _open(settings, topic, None if dry_run else group)
    producer = None
    if not dry_run:
        producer = AIOKafkaProducer(
            bootstrap_servers=settings.kafka_bootstrap_servers, acks="all", enable_idempotence=True, **client_security(settings)
        )
        await producer.start()
    sent: Counter[str] = Counter()
    kept: Counter[str] = Counter()
    try:
        async for tp, records in _drain(consumer, ends):
            acks = []
            for record in records:
                letter = read_dead_letter(record.headers)
                if not should_replay(letter, reasons):
                    kept[letter.reason] += 1
                    continue
                sent[letter.original_topic] += 1
                if producer is not None:
                    acks.append(await producer.send(letter.original_topic, value=record.value, key=record.key,
                                                    headers=original_headers(record.headers)))
            if producer is not None:
                await asyncio.gather(*acks)
                # Only after the broker has the copies: a replay stopped half-way sends the rest next time.
                assert consumer is not None
                await consumer.commit({tp: OffsetAndMetadata(records[-1].offset + 1, "")})
    finally:
        if producer is not None:
            await producer.stop()
        if consumer is not None:
            await consumer.stop()
    total_sent, total_kept = sum(sent.values()), sum(kept.values())
    asked = "every reason" if reasons is None else ", ".join(sorted(reasons))
    rows = [("records sent back" if not dry_run else "records that would be sent back", f"{total_sent:,}", asked)]
    rows += [(f"  to {origin}", f"{n:,}", "") for origin, n in sent.most_common()]
    rows.append(("records left in the DLQ", f"{total_kept:,}", "other reasons"))
    rows += [(f"  reason {reason}", f"{n:,}", "") for reason, n in kept.most_common()]
    say(table(f"redshield dlq replay --consumer {consumer_name}{' --dry-run' if dry_run else ''}", rows))
    return {"topic": topic, "dry_run": dry_run, "sent": total_sent, "sent_by_topic": dict(sent), "kept": total_kept,
            "kept_by_reason": dict(kept)}


def main(args: argparse.Namespace) -> int:
    if not _CONSUMER_RE.fullmatch(args.consumer):
        say(f"--consumer: {args.consumer!r} is not a consumer name (analytics, channel, channel-answers, channel-directory)")
        return 2
    settings = ServiceSettings()
    if args.action == "show":
        figures = asyncio.run(show(settings, args.consumer, args.limit))
    else:
        chosen = args.reason or sorted(RETRYABLE_REASONS)
        reasons = None if "all" in chosen else frozenset(chosen)
        figures = asyncio.run(replay(settings, args.consumer, reasons, args.dry_run))
    say(json_line(figures))
    return 0
