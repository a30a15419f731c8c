"""Records queued together go where send() would put them, in the order given within each partition, with their
headers — the big ones too (a real broker, three partitions)."""

from __future__ import annotations

import asyncio
from collections import defaultdict

from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from services.runtime.kafka import OutgoingRecord, new_producer
from services.runtime.settings import load
from tests.harness import read_topic


async def three_partitions(bootstrap: str, *topics: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, client_id="redshield-tests")
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name=topic, num_partitions=3, replication_factor=1) for topic in topics])
    finally:
        await admin.close()


async def test_records_sent_together_keep_sends_partitions_order_and_headers(kafka_bootstrap: str, prefix: str) -> None:
    together, one_by_one = prefix + "together", prefix + "one-by-one"
    await three_partitions(kafka_bootstrap, together, one_by_one)
    producer = new_producer(load("bridge"))
    await producer.start()
    try:
        records: list[OutgoingRecord] = []
        for n in range(600):
            key = f"P001/S{n % 40}".encode()
            # One record larger than a batch (256 KiB) among the rest: it must not overtake its key's earlier ones.
            value = (b"x" * 300_000 if n == 301 else b"") + f'{{"n":{n}}}'.encode()
            records.append((together, key, value, [("ce_id", f"id-{n}".encode())]))
        await asyncio.gather(*await producer.send_many(records))
        # The same keys through send(), one at a time, for the partition each key gets there.
        await asyncio.gather(*[await producer.send(one_by_one, value=b"{}", key=f"P001/S{k}".encode(), headers=[]) for k in range(40)])
    finally:
        await producer.stop()

    got = await read_topic(kafka_bootstrap, together, 600)
    reference = {r.key: r.partition for r in await read_topic(kafka_bootstrap, one_by_one, 40)}
    assert {r.key: r.partition for r in got} == reference
    assert len(set(reference.values())) > 1  # the keys really spread over the partitions
    by_partition: dict[int, list[int]] = defaultdict(list)
    for r in sorted(got, key=lambda r: (r.partition, r.offset)):
        n = int(r.value[r.value.index(b'{"n":') + 5 : -1])
        by_partition[r.partition].append(n)
        assert dict(r.headers) == {"ce_id": f"id-{n}".encode()}
    for numbers in by_partition.values():
        assert numbers == sorted(numbers)
    assert sorted(n for numbers in by_partition.values() for n in numbers) == list(range(600))


async def test_a_record_too_large_for_a_batch_goes_alone_even_as_the_first_of_its_partition(kafka_bootstrap: str, prefix: str) -> None:
    topic = prefix + "large-first"
    await three_partitions(kafka_bootstrap, topic)
    producer = new_producer(load("bridge"))
    await producer.start()
    try:
        records: list[OutgoingRecord] = [(topic, b"P001/S1", b"x" * 300_000, []), (topic, b"P001/S1", b"after", [])]
        await asyncio.gather(*await producer.send_many(records))
    finally:
        await producer.stop()
    got = await read_topic(kafka_bootstrap, topic, 2)
    assert [len(r.value) for r in sorted(got, key=lambda r: r.offset)] == [300_000, 5]
