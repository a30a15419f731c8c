"""The platform registry: regulators register and change platforms; each change is audited and published."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from contracts import topics, uscc
from contracts.envelope import from_record
from contracts.registry import EVENT_MODELS
from services.bridge.store import audit, uscc_overrides
from tests.bridge.conftest import PLATFORM, register
from tests.harness import Running, read_topic

PROBLEM = "application/problem+json"
PILOT = "91330110MA27XL0Q10"  # fails its check character, as some genuine early pilot codes do


async def rows(svc: Running, table: sa.Table) -> list[dict[str, Any]]:
    assert svc.service.engine is not None
    async with svc.service.engine.connect() as conn:
        return [dict(r._mapping) for r in await conn.execute(sa.select(table))]


async def test_a_regulator_registers_a_platform_and_the_event_carries_region_and_platform(bridge: Running, kafka_bootstrap: str,
                                                                                           prefix: str) -> None:
    created = await register(bridge)
    assert created["version"] == 1 and created["uscc_check"] == "valid"
    (record,) = await read_topic(kafka_bootstrap, prefix + topics.BRIDGE_SUBJECTS, 1)
    envelope = from_record(record.key, record.value, record.headers)
    assert envelope.type == "redshield.bridge.platform.registered.v1"
    assert (record.key, envelope.region, envelope.platformid) == (b"P001", "330106", "P001")
    event = EVENT_MODELS[envelope.type].model_validate(envelope.data)
    assert "contacts" not in envelope.data and event.model_dump(mode="json")["connected_to_canal"] is True
    (entry,) = await rows(bridge, audit)
    assert (entry["actor"], entry["role"], entry["action"], entry["target"]) == ("test:regulator", "regulator", "platform.registered", "platform:P001")


async def test_only_regulators_and_admins_register(bridge: Running) -> None:
    for role, scope in (("platform", {"platform": "P001"}), ("bureau", {"region": "330100"}), ("auditor", {})):
        answer = await bridge.http.post("/v1/platforms", json=PLATFORM, headers=bridge.auth(role, **scope))
        assert answer.status_code == 403 and answer.headers["content-type"].startswith(PROBLEM)
    assert (await bridge.http.post("/v1/platforms", json=PLATFORM, headers=bridge.auth("admin"))).status_code == 201
    again = await bridge.http.post("/v1/platforms", json=PLATFORM, headers=bridge.auth("regulator"))
    assert again.status_code == 409


async def test_a_failing_uscc_is_refused_until_a_person_gives_an_override_reason_which_is_audited(bridge: Running) -> None:
    refused = await bridge.http.post("/v1/platforms", json=PLATFORM | {"uscc": PILOT}, headers=bridge.auth("regulator"))
    assert refused.status_code == 422
    body = refused.json()
    assert body["type"].endswith("uscc-check-failed") and body["errors"][0]["field"] == "uscc"
    assert uscc.check_character(PILOT[:17]) in body["detail"] and "uscc_override_reason" in body["detail"]

    reason = "营业执照原件已核验：2014 年试点赋码，校验位不符"
    created = await register(bridge, uscc=PILOT, uscc_override_reason=reason)
    assert created["uscc_check"] == "overridden" and created["uscc_override_reason"] == reason
    (override,) = await rows(bridge, uscc_overrides)
    assert (override["uscc"], override["reason"], override["decided_by"]) == (PILOT, reason, "test:regulator")
    actions = {(a["action"], a["target"]) for a in await rows(bridge, audit)}
    assert actions == {("platform.registered", "platform:P001"), ("uscc.overridden", f"uscc:{PILOT}")}
    # The override belongs to the code: another platform using it needs no second reason.
    other = await bridge.http.post("/v1/platforms", json=PLATFORM | {"platform_id": "P009", "uscc": PILOT}, headers=bridge.auth("regulator"))
    assert other.status_code == 201 and other.json()["uscc_check"] == "overridden"


async def test_a_domicile_region_must_be_valid_today(bridge: Running) -> None:
    answer = await bridge.http.post("/v1/platforms", json=PLATFORM | {"domicile_region": "330104"}, headers=bridge.auth("regulator"))
    assert answer.status_code == 422 and answer.json()["errors"][0]["field"] == "domicile_region"


async def test_an_unknown_platform_type_is_a_422_naming_the_field(bridge: Running) -> None:
    answer = await bridge.http.post("/v1/platforms", json=PLATFORM | {"type": "metaverse"}, headers=bridge.auth("regulator"))
    assert answer.status_code == 422 and "type" in [e["field"] for e in answer.json()["errors"]]


async def test_an_update_publishes_what_changed_and_the_same_form_again_changes_nothing(bridge: Running, kafka_bootstrap: str,
                                                                                         prefix: str) -> None:
    await register(bridge)
    form = {k: v for k, v in PLATFORM.items() if k != "platform_id"} | {"connected_to_canal": False, "domicile_region": "330114"}
    first = await bridge.http.put("/v1/platforms/P001", json=form, headers=bridge.auth("regulator"))
    second = await bridge.http.put("/v1/platforms/P001", json=form, headers=bridge.auth("regulator"))
    assert first.status_code == 200 and first.json()["version"] == 2
    assert sorted(first.json()["changed"]) == ["connected_to_canal", "domicile_region"]
    assert second.json()["version"] == 2 and second.json()["changed"] == []
    records = await read_topic(kafka_bootstrap, prefix + topics.BRIDGE_SUBJECTS, 2)
    updated = from_record(records[1].key, records[1].value, records[1].headers)
    assert updated.type == "redshield.bridge.platform.updated.v1" and updated.region == "330114"
    assert sorted(updated.data["changed"]) == ["connected_to_canal", "domicile_region"] and updated.data["version"] == 2
    assert [a["action"] for a in await rows(bridge, audit)] == ["platform.registered", "platform.updated"]
    missing = await bridge.http.put("/v1/platforms/P404", json=form, headers=bridge.auth("regulator"))
    assert missing.status_code == 404


async def test_a_platform_sees_only_itself(bridge: Running) -> None:
    await register(bridge)
    await register(bridge, platform_id="P002", name="钱塘团购")
    own = await bridge.http.get("/v1/platforms", headers=bridge.auth("platform", platform="P002"))
    assert [p["platform_id"] for p in own.json()["platforms"]] == ["P002"]
    every = await bridge.http.get("/v1/platforms", headers=bridge.auth("regulator"))
    assert [p["platform_id"] for p in every.json()["platforms"]] == ["P001", "P002"]
    other = await bridge.http.get("/v1/platforms/P001", headers=bridge.auth("platform", platform="P002"))
    missing = await bridge.http.get("/v1/platforms/P404", headers=bridge.auth("platform", platform="P002"))
    assert other.status_code == 404 and missing.status_code == 404
    assert (await bridge.http.get("/v1/platforms/P002", headers=bridge.auth("platform", platform="P002"))).json()["name"] == "钱塘团购"


async def test_contacts_are_encrypted_at_rest(bridge: Running) -> None:
    await register(bridge)
    from services.bridge.store import platforms

    (row,) = await rows(bridge, platforms)
    assert b"13900000000" not in row["contacts_enc"] and "李四".encode() not in row["contacts_enc"]
