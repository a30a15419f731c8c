"""``redshield dlq``: dead letters counted by reason, and sent back once the cause is fixed — as they were before
they failed, only the reasons asked for, and only once per selection. The real broker; the dead letters are
written by the services' own DeadLetters."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

from aiokafka import AIOKafkaConsumer

from contracts import topics
from services.cli import dlq
from services.runtime.consumer import DeadLetters
from services.runtime.kafka import new_producer
from services.runtime.settings import ServiceSettings
from tests.faults.test_process_kills import received
from tests.kafka_broker import ROOT


async def read_all(bootstrap: str, topic: str) -> list[Any]:
    partitions = await dlq.partitions_of(ServiceSettings(kafka_bootstrap_servers=bootstrap), topic)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        found: list[Any] = []
        while any([await consumer.position(tp) < end for tp, end in ends.items()]):
            for records in (await consumer.getmany(timeout_ms=1000)).values():
                found.extend(records)
        return sorted(found, key=lambda r: (r.partition, r.offset))
    finally:
        await consumer.stop()


async def test_dead_letters_are_counted_then_sent_back_as_they_were_only_the_reasons_asked_and_only_once(
    kafka_bootstrap: str, prefix: str
) -> None:
    settings = ServiceSettings(service="analytics", kafka_bootstrap_servers=kafka_bootstrap, topic_prefix=prefix)
    origin = prefix + topics.CHANNEL_COMPLAINTS
    producer = new_producer(settings)
    await producer.start()
    try:
        for n in range(3):
            event = received(n)
            await producer.send_and_wait(origin, value=event.value(), key=event.key, headers=event.headers())
        originals = await read_all(kafka_bootstrap, origin)
        letters = DeadLetters(producer, service="analytics", consumer="analytics", topic_prefix=prefix)
        await letters.send(originals[0], "processing-failed", "ConnectionError: ClickHouse went away", attempts=3)
        await letters.send(originals[1], "processing-failed", "ConnectionError: ClickHouse went away", attempts=3)
        await letters.send(originals[2], "schema-invalid", "data.region: pattern", attempts=0)
    finally:
        await producer.stop()

    shown = await dlq.show(settings, "analytics", limit=5)
    assert shown["records"] == 3 and shown["by_reason"] == {"processing-failed": 2, "schema-invalid": 1}
    assert shown["by_original_topic"] == {origin: 3}

    dry = await dlq.replay(settings, "analytics", frozenset({"processing-failed"}), dry_run=True)
    assert dry["sent"] == 2 and dry["kept"] == 1 and len(await read_all(kafka_bootstrap, origin)) == 3

    done = await dlq.replay(settings, "analytics", frozenset({"processing-failed"}), dry_run=False)
    assert done["sent"] == 2 and done["sent_by_topic"] == {origin: 2} and done["kept_by_reason"] == {"schema-invalid": 1}
    def as_sent(records: list[Any]) -> list[tuple[Any, ...]]:
        return sorted((r.key, r.value, tuple(r.headers)) for r in records)

    # The origin now holds the three records plus the two sent back, exactly as they were first published.
    assert as_sent(await read_all(kafka_bootstrap, origin)) == as_sent(originals + originals[:2])

    again = await dlq.replay(settings, "analytics", frozenset({"processing-failed"}), dry_run=False)
    assert again["sent"] == 0 and len(await read_all(kafka_bootstrap, origin)) == 5
    # Another selection has its own position: asked for every reason, it sees all three.
    everything = await dlq.replay(settings, "analytics", None, dry_run=True)
    assert everything["sent"] == 3


def test_the_command_line_prints_a_table_and_a_json_line(kafka_bootstrap: str, prefix: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "services.cli.main", "dlq", "show", "--consumer", "analytics"],
        cwd=ROOT, env={**os.environ, "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap, "REDSHIELD_TOPIC_PREFIX": prefix},
        capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "redshield dlq show --consumer analytics" in done.stdout
    assert json.loads(done.stdout.strip().splitlines()[-1]) == {
        "topic": f"{prefix}dlq.analytics.v1", "records": 0, "by_reason": {}, "by_original_topic": {}
    }
    replay = subprocess.run(
        [sys.executable, "-m", "services.cli.main", "dlq", "replay", "--consumer", "analytics", "--dry-run"],
        cwd=ROOT, env={**os.environ, "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap, "REDSHIELD_TOPIC_PREFIX": prefix},
        capture_output=True, text=True, timeout=120,
    )
    assert replay.returncode == 0, replay.stdout[-2000:] + replay.stderr[-2000:]
    assert "processing-failed" in replay.stdout and json.loads(replay.stdout.strip().splitlines()[-1])["sent"] == 0
    refused = subprocess.run([sys.executable, "-m", "services.cli.main", "dlq", "show", "--consumer", "../etc"],
                             cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert refused.returncode == 2 and "not a consumer name" in refused.stdout
