"""Binary-mode envelopes: what a record must carry, and what every event model accepts."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from contracts import envelope as envelope_module
from contracts.envelope import Envelope, EnvelopeError, Headers, from_record
from contracts.events.base import EventData
from contracts.examples import GOLDEN, Golden
from contracts.generate import CONTRACTS_DIR
from contracts.registry import EVENT_MODELS

GOLDEN_EXAMPLES = [pytest.param(golden, id=f"{event_type}-{n}") for event_type, examples in GOLDEN.items() for n, golden in enumerate(examples, 1)]
MODELS = [pytest.param(model, id=event_type) for event_type, model in sorted(EVENT_MODELS.items())]
GOLDEN_PAYLOAD_FILES = sorted(p for p in (CONTRACTS_DIR / "golden").glob("*/*.json") if not p.name.endswith(".record.json"))


def a_record() -> tuple[bytes, bytes, Headers]:
    envelope = GOLDEN["redshield.channel.complaint.received.v1"][0].envelope()
    return envelope.key, envelope.value(), envelope.headers()


def with_header(headers: Headers, name: str, value: bytes | None) -> Headers:
    kept = [(n, v) for n, v in headers if n != name]
    return kept if value is None else [*kept, (name, value)]


def rejection(key: bytes | None, value: bytes | None, headers: Headers) -> EnvelopeError:
    with pytest.raises(EnvelopeError) as caught:
        from_record(key, value, headers)
    return caught.value


# -- round trip -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("golden", GOLDEN_EXAMPLES)
def test_an_envelope_survives_the_trip_through_a_kafka_record(golden: Golden) -> None:
    envelope = golden.envelope()
    assert from_record(envelope.key, envelope.value(), envelope.headers()) == envelope


def test_the_record_key_is_the_subject_and_the_value_is_the_bare_data() -> None:
    envelope = GOLDEN["redshield.channel.complaint.received.v1"][0].envelope()
    assert envelope.key == envelope.subject.encode()
    assert json.loads(envelope.value()) == envelope.data
    assert dict(envelope.headers())["content-type"] == b"application/json"


def test_an_event_time_with_any_offset_travels_as_utc_and_means_the_same_instant() -> None:
    moment = datetime(2026, 11, 20, 9, 30, 0, 250_000, tzinfo=timezone(timedelta(hours=8)))
    envelope = Envelope(type="redshield.channel.complaint.received.v1", source="/redshield/channel", subject="c-1", data={}, time=moment)
    assert dict(envelope.headers())["ce_time"] == b"2026-11-20T01:30:00.250000Z"
    assert from_record(envelope.key, envelope.value(), envelope.headers()).time == moment


def test_optional_attributes_left_unset_send_no_header() -> None:
    envelope = Envelope(type="redshield.channel.complaint.received.v1", source="/redshield/channel", subject="c-1", data={})
    names = {name for name, _ in envelope.headers()}
    assert names == {"ce_specversion", "ce_id", "ce_source", "ce_type", "ce_time", "ce_subject", "content-type"}


def test_a_record_without_ce_subject_takes_its_subject_from_the_key() -> None:
    _, value, headers = a_record()
    assert from_record(b"from-the-key", value, with_header(headers, "ce_subject", None)).subject == "from-the-key"


def test_ce_header_names_are_matched_case_insensitively() -> None:
    key, value, headers = a_record()
    shouting = [(name.upper() if name.startswith("ce_") else name, raw) for name, raw in headers]
    assert from_record(key, value, shouting) == from_record(key, value, headers)


def test_header_names_a_sender_makes_up_are_read_but_not_all_remembered() -> None:
    # The reader remembers which attribute each header name carries; names are the sender's to choose, so the memory
    # of them is bounded and names beyond it are still read.
    key, value, headers = a_record()
    for n in range(2 * envelope_module._ATTRIBUTE_NAMES_KEPT):
        extra = [*headers, (f"ce_X{n}", b"v"), (f"x-made-up-{n}", b"w")]
        assert from_record(key, value, extra) == from_record(key, value, headers)
    assert len(envelope_module._ATTRIBUTE_OF) <= envelope_module._ATTRIBUTE_NAMES_KEPT
    late = [(name.replace("ce_", "Ce_") if name.startswith("ce_") else name, raw) for name, raw in headers]
    assert from_record(key, value, late) == from_record(key, value, headers)


# -- rejections -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("header", ["ce_source", "ce_type", "ce_specversion"])
def test_a_record_without_a_required_attribute_is_rejected_naming_the_header(header: str) -> None:
    key, value, headers = a_record()
    error = rejection(key, value, with_header(headers, header, None))
    assert error.reason == "missing-attribute"
    assert header in error.detail


def test_a_record_without_ce_id_is_rejected_naming_the_header() -> None:
    key, value, headers = a_record()
    error = rejection(key, value, with_header(headers, "ce_id", None))
    assert (error.reason, error.detail) == ("missing-attribute", "missing CloudEvents header(s): ce_id")


def test_an_empty_ce_id_counts_as_missing() -> None:
    key, value, headers = a_record()
    assert rejection(key, value, with_header(headers, "ce_id", b"")).reason == "missing-attribute"


@pytest.mark.parametrize("version", [b"0.3", b"1", b"2.0"])
def test_a_specversion_other_than_1_0_is_rejected(version: bytes) -> None:
    key, value, headers = a_record()
    assert rejection(key, value, with_header(headers, "ce_specversion", version)).reason == "unsupported-specversion"


@pytest.mark.parametrize(
    "event_type",
    [
        b"com.example.complaint.received.v1",
        b"redshield.channel.complaint.received",
        b"redshield.channel.complaint.received.v0",
        b"redshield.channel.complaint.received.V1",
        b"redshield.Channel.complaint.received.v1",
        b"redshield.channel.received.v1",
        b"redshield.channel.complaint.received.v1 ",
    ],
)
def test_a_type_not_of_the_form_redshield_service_aggregate_verb_version_is_rejected(event_type: bytes) -> None:
    key, value, headers = a_record()
    assert rejection(key, value, with_header(headers, "ce_type", event_type)).reason == "bad-type"


@pytest.mark.parametrize("value", [b"{not json", b"", None, b"\xff\xfe"])
def test_a_value_that_is_not_json_is_rejected(value: bytes | None) -> None:
    key, _, headers = a_record()
    assert rejection(key, value, headers).reason == "not-json"


@pytest.mark.parametrize("value", [b"[1, 2]", b'"text"', b"42", b"null"])
def test_a_value_that_is_json_but_not_an_object_is_rejected(value: bytes) -> None:
    key, _, headers = a_record()
    assert rejection(key, value, headers).reason == "not-an-object"


def test_a_naive_ce_time_is_rejected_because_it_names_no_instant() -> None:
    key, value, headers = a_record()
    error = rejection(key, value, with_header(headers, "ce_time", b"2026-11-20T01:30:00"))
    assert error.reason == "bad-time"


def test_a_ce_time_that_is_not_a_timestamp_is_rejected() -> None:
    key, value, headers = a_record()
    assert rejection(key, value, with_header(headers, "ce_time", b"yesterday")).reason == "bad-time"


def test_a_ce_header_that_is_not_utf8_is_rejected_naming_the_header() -> None:
    key, value, headers = a_record()
    error = rejection(key, value, with_header(headers, "ce_source", b"\xff\xfe"))
    assert error.reason == "bad-header"
    assert "ce_source" in error.detail


def test_an_envelope_refuses_to_send_a_naive_time() -> None:
    envelope = Envelope(type="redshield.channel.complaint.received.v1", source="/redshield/channel", subject="c-1", data={}, time=datetime(2026, 1, 1))
    with pytest.raises(ValueError, match="timezone"):
        envelope.headers()


# -- event models: closed, and their golden examples valid -------------------------------------------
def nested_objects(data: dict[str, Any], path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = [path]
    for name, value in data.items():
        if isinstance(value, dict):
            found.extend(nested_objects(value, (*path, name)))
    return found


def with_extra_field(data: dict[str, Any], path: tuple[str, ...]) -> dict[str, Any]:
    copy: dict[str, Any] = json.loads(json.dumps(data))
    target = copy
    for name in path:
        target = target[name]
    target["not_in_the_contract"] = "x"
    return copy


def test_every_event_type_has_a_golden_example_and_every_example_is_registered() -> None:
    assert set(GOLDEN) == set(EVENT_MODELS)
    assert all(GOLDEN.values())


@pytest.mark.parametrize("model", MODELS)
def test_every_event_model_rejects_unknown_fields_at_every_depth(model: type[EventData]) -> None:
    payload = GOLDEN[model.event_type][0].payload()
    for path in nested_objects(payload):  # the top level, and every nested object the example has
        with pytest.raises(ValidationError) as caught:
            model.model_validate(with_extra_field(payload, path))
        assert [e["type"] for e in caught.value.errors()] == ["extra_forbidden"], path


@pytest.mark.parametrize("golden", GOLDEN_EXAMPLES)
def test_every_golden_example_validates_against_its_model_and_reads_back_equal(golden: Golden) -> None:
    model = type(golden.data)
    assert model.model_validate(golden.payload()) == golden.data
    assert model.model_validate_json(golden.envelope().value()) == golden.data


def test_there_is_a_committed_payload_file_per_golden_example() -> None:
    assert len(GOLDEN_PAYLOAD_FILES) == sum(len(examples) for examples in GOLDEN.values())


@pytest.mark.parametrize("path", GOLDEN_PAYLOAD_FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_committed_golden_payload_validates_against_its_model(path: Path) -> None:
    EVENT_MODELS[path.parent.name].model_validate_json(path.read_bytes())


@pytest.mark.parametrize("model", MODELS)
def test_every_event_models_type_is_one_the_envelope_accepts(model: type[EventData]) -> None:
    key, value, headers = a_record()
    assert from_record(key, value, with_header(headers, "ce_type", model.event_type.encode())).type == model.event_type


@pytest.mark.parametrize("golden", GOLDEN_EXAMPLES)
def test_golden_ids_are_uuid7_carrying_the_event_time(golden: Golden) -> None:
    event_id = uuid.UUID(golden.id)
    assert event_id.version == 7
    assert event_id.int >> 80 == int(golden.time.timestamp() * 1000)
