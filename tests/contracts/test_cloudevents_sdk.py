"""Every golden record is a binary-mode CloudEvent to the official SDK (cloudevents 2.x, Kafka binding)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from cloudevents.core.bindings.kafka import KafkaMessage, from_kafka_event

from contracts.envelope import Envelope, from_record
from contracts.examples import GOLDEN, Golden
from contracts.generate import CONTRACTS_DIR

GOLDEN_EXAMPLES = [pytest.param(golden, id=f"{event_type}-{n}") for event_type, examples in GOLDEN.items() for n, golden in enumerate(examples, 1)]
RECORD_FILES = sorted((CONTRACTS_DIR / "golden").glob("*/*.record.json"))


def sdk_event(key: bytes, value: bytes, headers: list[tuple[str, bytes]]) -> Any:
    return from_kafka_event(KafkaMessage(headers=dict(headers), key=key, value=value))


def assert_same_event(event: Any, envelope: Envelope) -> None:
    assert event.get_specversion() == "1.0"
    assert event.get_id() == envelope.id
    assert event.get_source() == envelope.source
    assert event.get_type() == envelope.type
    assert event.get_subject() == envelope.subject
    assert event.get_time() == envelope.time
    assert event.get_dataschema() == envelope.dataschema
    assert event.get_datacontenttype() == "application/json"
    for extension in ("region", "platformid", "traceparent"):
        assert event.get_extension(extension) == getattr(envelope, extension), extension
    # The SDK turns the record key into the partitionkey extension: it is the aggregate id, the subject.
    assert event.get_extension("partitionkey") == envelope.subject
    # Binary mode: the data is the record value itself, not an envelope wrapping it.
    assert event.get_data() == envelope.data
    assert "specversion" not in event.get_data()


@pytest.mark.parametrize("golden", GOLDEN_EXAMPLES)
def test_every_golden_record_parses_with_the_cloudevents_sdk_as_the_same_event(golden: Golden) -> None:
    envelope = golden.envelope()
    event = sdk_event(envelope.key, envelope.value(), envelope.headers())
    assert_same_event(event, envelope)


def test_there_is_a_committed_record_file_per_golden_example() -> None:
    assert len(RECORD_FILES) == sum(len(examples) for examples in GOLDEN.values()) > 0


@pytest.mark.parametrize("path", RECORD_FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_committed_golden_record_file_parses_with_the_sdk_and_with_ours_alike(path: Path) -> None:
    record = json.loads(path.read_text(encoding="utf-8"))
    key = record["key"].encode()
    value = json.dumps(record["value"], ensure_ascii=False).encode()
    headers = [(name, text.encode()) for name, text in record["headers"].items()]
    ours = from_record(key, value, headers)
    assert ours.type == path.parent.name
    assert_same_event(sdk_event(key, value, headers), ours)


def test_with_ce_headers_present_the_sdk_takes_the_whole_value_as_data_so_structured_mode_is_out() -> None:
    envelope = next(iter(GOLDEN.values()))[0].envelope()
    structured = json.dumps({"specversion": "1.0", "id": envelope.id, "data": envelope.data}).encode()
    event = sdk_event(envelope.key, structured, envelope.headers())
    assert event.get_data() != envelope.data
