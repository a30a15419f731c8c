"""The store events the apply builds in SQL are the events the models describe, value by value, on both databases."""

from __future__ import annotations

import pytest

from contracts import topics
from contracts.envelope import from_record
from contracts.registry import EVENT_MODELS
from services.bridge import submissions
from tests.bridge.conftest import ndjson, register, settled, store_row, submit
from tests.harness import Running, read_topic


@pytest.mark.parametrize("staged_with_fields", [True, False], ids=["fields-staged", "staged-before-fields"])
async def test_every_store_event_carries_exactly_the_stores_values_even_awkward_ones(bridge: Running, kafka_bootstrap: str,
                                                                                    prefix: str, staged_with_fields: bool,
                                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    if not staged_with_fields:
        # Rows staged by a version that did not stage their event members yet: the apply writes them itself.
        monkeypatch.setattr(submissions, "event_fields", lambda record: None)
    await register(bridge)
    awkward = 'A "quoted" \\ back\\slash, tab\t, 换行\u2028 name'
    unregistered = store_row(2, uscc=None, id_number="11010519491231002X", exemption_declared=True)
    url = 'https://shop.example.com/s/1?q="x"'
    first = [store_row(1, merchant_name=awkward, shop_url=url), unregistered, store_row(3)]
    one = await settled(bridge, (await submit(bridge, ndjson(first))).json()["submission_id"])
    # The second file changes the awkward store's name and the unregistered merchant's ID number, and drops store 3.
    second = [store_row(1, merchant_name=awkward + "二", shop_url=url), unregistered | {"id_number": "110105194912310021"}]
    two = await settled(bridge, (await submit(bridge, ndjson(second), period="2026H2")).json()["submission_id"])
    assert (one["registered"], two["updated"], two["closed"]) == (3, 2, 1)

    records = await read_topic(kafka_bootstrap, prefix + topics.BRIDGE_SUBJECTS, 1 + 3 + 1 + 3 + 1)
    events = [from_record(r.key, r.value, r.headers) for r in records]
    stores = [e for e in events if ".store." in e.type]
    for e in stores:
        EVENT_MODELS[e.type].model_validate(e.data)
        assert (e.subject, e.key, e.platformid, e.source) == (f"P001/{e.data['store_id']}", e.subject.encode(), "P001", "/redshield/bridge")
        assert e.region == e.data["region"] and e.dataschema == f"https://schemas.redshield.dev/{e.type}.json"
        assert e.traceparent is not None and len(e.traceparent.split("-")[2]) == 16
    assert len({e.id for e in events}) == len(events)
    by = {(e.type.split(".")[3], e.subject): e.data for e in stores}
    assert by[("registered", "P001/S000001")] == {
        "platform_id": "P001", "store_id": "S000001", "merchant_name": awkward, "exemption_declared": False, "region": "330106",
        "region_check": "valid", "shop_name": "商户1旗舰店", "shop_url": url, "category": "食品",
        "above_threshold": False, "submission_id": one["submission_id"], "period": "2026H1", "uscc": first[0]["uscc"], "uscc_check": "valid"}
    registered_without_code = by[("registered", "P001/S000002")]
    assert "uscc" not in registered_without_code and "uscc_check" not in registered_without_code
    assert (registered_without_code["exemption_declared"], registered_without_code["above_threshold"]) == (True, True)
    assert by[("updated", "P001/S000001")]["changed"] == ["merchant_name"]
    assert by[("updated", "P001/S000001")]["merchant_name"] == awkward + "二"
    assert by[("updated", "P001/S000002")]["changed"] == ["id_number"]
    assert "11010519491231002" not in str(by[("updated", "P001/S000002")])  # the ID number itself never travels
    closed = by[("closed", "P001/S000003")]
    assert closed["uscc"] == first[2]["uscc"] and closed["period"] == "2026H2" and closed["closed_at"].endswith("Z")
