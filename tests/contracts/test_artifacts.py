"""The committed contract artifacts are exactly what ``python -m contracts.generate`` produces."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict

from contracts import generate
from contracts.events.base import EventData
from contracts.registry import EVENT_MODELS


def test_regenerating_the_contract_artifacts_changes_nothing() -> None:
    found = generate.check()
    assert not found, "contract artifacts are out of date; run `python -m contracts.generate`:\n\n" + "\n\n".join(found)


@pytest.mark.parametrize("event_type", sorted(EVENT_MODELS))
def test_every_event_type_has_a_committed_closed_schema_identified_by_its_dataschema(event_type: str) -> None:
    model = EVENT_MODELS[event_type]
    schema = json.loads((generate.CONTRACTS_DIR / "schemas" / f"{event_type}.json").read_text(encoding="utf-8"))
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"] == model.dataschema()
    assert schema["x-cloudevents-type"] == event_type
    assert schema["x-topic"] == model.topic
    assert schema["description"] == model.summary
    assert list(generate.open_objects(schema)) == []


def test_every_service_has_a_committed_asyncapi_document_for_its_broker() -> None:
    documents = {path.stem: json.loads(path.read_text(encoding="utf-8")) for path in (generate.CONTRACTS_DIR / "asyncapi").glob("*.json")}
    assert sorted(documents) == ["analytics", "bridge", "channel", "collab", "enforcement"]
    for document in documents.values():
        assert document["asyncapi"] == "3.0.0"
        assert document["servers"]["development"]["protocol"] == "kafka"


def test_the_asyncapi_documents_name_logical_topics_without_a_deployment_prefix() -> None:
    channel = json.loads((generate.CONTRACTS_DIR / "asyncapi" / "channel.json").read_text(encoding="utf-8"))
    assert {c["address"] for c in channel["channels"].values()} == {
        "channel.complaints.v1", "feed.{platform_id}.complaints.v1", "feed.{platform_id}.answers.v1", "notify.{platform_id}.v1",
        "bridge.subjects.v1", "region.{region}.v1",
    }
    analytics = json.loads((generate.CONTRACTS_DIR / "asyncapi" / "analytics.json").read_text(encoding="utf-8"))
    assert "channel.complaints.v1" in {c["address"] for c in analytics["channels"].values()}


def test_an_event_model_with_an_open_nested_object_is_refused_by_the_generator() -> None:
    class Open(BaseModel):
        model_config = ConfigDict(extra="allow")
        note: str

    class Leaky(EventData):
        event_type = "redshield.test.thing.leaked.v1"
        topic = "test.things.v1"
        summary = "An event whose nested object accepts anything."
        inner: Open

    with pytest.raises(generate.ContractError, match=r"not closed at #/\$defs/Open"):
        generate.event_schema(Leaky)


def test_a_map_typed_field_counts_as_an_open_object() -> None:
    schema: dict[str, Any] = {"type": "object", "additionalProperties": False, "properties": {"tags": {"type": "object", "additionalProperties": {"type": "string"}}}}
    assert list(generate.open_objects(schema)) == ["#/properties/tags"]


def test_the_check_names_missing_stale_and_changed_files() -> None:
    expected = {"schemas/a.json": "{}\n", "schemas/b.json": '{\n  "x": 1\n}\n'}
    committed = {"schemas/b.json": '{\n  "x": 2\n}\n', "schemas/old.json": "{}\n"}
    found = generate.differences(expected, committed)
    assert found[0] == "missing: contracts/schemas/a.json"
    assert found[1].startswith("differs: contracts/schemas/b.json\n")
    assert '-  "x": 2' in found[1] and '+  "x": 1' in found[1]
    assert found[2] == "stale: contracts/schemas/old.json (not generated)"
    assert generate.differences(expected, dict(expected)) == []
