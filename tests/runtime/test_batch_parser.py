"""FastStream's batch message as the reliable consumer takes it: the records themselves and the consumer that
commits them, without FastStream's per-record copies of headers and values (nothing reads them)."""

from __future__ import annotations

from typing import Any

from aiokafka import ConsumerRecord
from faststream.kafka.message import KafkaAckableMessage
from faststream.kafka.parser import AioKafkaBatchParser

from services.runtime.consumer import _batch_parser


def record(offset: int) -> ConsumerRecord[bytes, bytes]:
    return ConsumerRecord(
        topic="t.v1", partition=0, offset=offset, timestamp=1_700_000_000_000 + offset, timestamp_type=0, key=b"k",
        value=b'{"n": %d}' % offset, checksum=None, serialized_key_size=1, serialized_value_size=8,
        headers=[("ce_id", str(offset).encode())],
    )


async def test_a_batch_carries_its_records_and_consumer_and_the_same_message_id_as_fastStreams_own() -> None:
    parser = AioKafkaBatchParser(msg_class=KafkaAckableMessage, regex=None)
    consumer = object()
    parser._setup(consumer)  # type: ignore[arg-type]
    records = (record(5), record(6), record(9))

    message = await _batch_parser(records, parser.parse_batch)
    theirs = await parser.parse_batch(records)

    assert message.raw_message is records
    assert message.consumer is consumer
    assert message.message_id == theirs.message_id
    assert type(message) is type(theirs)
    assert message.batch_headers == [] and theirs.batch_headers == [{"ce_id": "5"}, {"ce_id": "6"}, {"ce_id": "9"}]


async def test_anything_but_a_batch_from_fastStreams_batch_parser_goes_to_the_parser_given() -> None:
    seen: list[Any] = []

    async def other_parser(message: Any) -> Any:
        seen.append(message)
        return "parsed by the other parser"

    one = record(1)
    assert await _batch_parser(one, other_parser) == "parsed by the other parser"
    assert await _batch_parser((one,), other_parser) == "parsed by the other parser"
    assert seen == [one, (one,)]
