"""New-business-form subjects on the real databases and broker: a platform writes its own (a regulator may too), each
change one version, one audit row and one event; the ID number is encrypted at rest and never shown, audited or
published; reads are scoped like stores'."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from contracts import topics
from contracts.envelope import from_record
from contracts.registry import EVENT_MODELS
from services.bridge.store import audit, new_form_subjects
from tests.bridge.conftest import register
from tests.harness import Running, read_topic

PROBLEM = "application/problem+json"
ID_NUMBER = "11010519491231002X"
LEADER: dict[str, Any] = {"form": "group_buying_leader", "name": "王阿姨", "id_number": ID_NUMBER, "exemption_declared": True,
                          "region": "330110", "handle": "良渚文化村3号团", "category": "生鲜"}
STREAMER: dict[str, Any] = {"form": "live_streamer", "name": "宁波甬上直播有限公司", "uscc": "91330106MA2H0C3T5D", "region": "330203",
                            "handle": "甬上小鲜", "url": "https://live.example.com/room/7", "category": "食品"}
URL = "/v1/platforms/P001/new-form-subjects"


async def table(svc: Running, t: sa.Table) -> list[dict[str, Any]]:
    assert svc.service.engine is not None
    async with svc.service.engine.connect() as conn:
        return [dict(r._mapping) for r in await conn.execute(sa.select(t))]


async def test_a_platform_writes_its_own_subject_each_change_one_version_one_event_and_the_id_number_never_leaves(
        bridge: Running, kafka_bootstrap: str, prefix: str) -> None:
    await register(bridge)
    own = bridge.auth("platform", platform="P001")
    created = await bridge.http.put(f"{URL}/GB-7781", json=LEADER, headers=own)
    assert created.status_code == 201, created.text
    body = created.json()
    assert (body["created"], body["version"], body["id_number_on_file"], body["uscc"]) == (True, 1, True, None)
    assert created.headers["location"] == f"{URL}/GB-7781"
    same = await bridge.http.put(f"{URL}/GB-7781", json=LEADER, headers=own)
    assert (same.status_code, same.json()["created"], same.json()["changed"], same.json()["version"]) == (200, False, [], 1)
    renumbered = await bridge.http.put(f"{URL}/GB-7781", json=LEADER | {"id_number": "110105194912310021", "handle": "3号团"}, headers=own)
    assert (renumbered.json()["version"], renumbered.json()["changed"]) == (2, ["handle", "id_number"])
    assert [w["code"] for w in renumbered.json()["warnings"]] == ["id-number-check-failed"]

    records = await read_topic(kafka_bootstrap, prefix + topics.BRIDGE_SUBJECTS, 3)  # the platform's registration, then two
    events = [e for e in (from_record(r.key, r.value, r.headers) for r in records) if ".new_form_subject." in e.type]
    assert [e.type for e in events] == ["redshield.bridge.new_form_subject.registered.v1", "redshield.bridge.new_form_subject.updated.v1"]
    for event in events:
        EVENT_MODELS[event.type].model_validate(event.data)
        assert (event.key, event.region, event.platformid) == (b"P001/GB-7781", "330110", "P001")
    assert events[1].data["changed"] == ["handle", "id_number"]

    (stored,) = await table(bridge, new_form_subjects)
    assert stored["id_number_enc"] is not None and b"110105194912310021" not in stored["id_number_enc"]
    trail = [a for a in await table(bridge, audit) if a["action"].startswith("new_form_subject.")]
    assert [(a["action"], a["actor"], a["role"]) for a in trail] == [("new_form_subject.registered", "test:platform", "platform"),
                                                                     ("new_form_subject.updated", "test:platform", "platform")]
    shown = (await bridge.http.get(f"{URL}/GB-7781", headers=own)).json()
    for text in (str(trail), str(shown), str([e.data for e in events])):
        assert "1101051949123100" not in text and stored["id_number_mac"] not in text


async def test_a_platform_may_not_write_another_platforms_subjects_and_bad_fields_are_one_problem(bridge: Running) -> None:
    await register(bridge)
    await register(bridge, platform_id="P002", uscc="91330110MA27XL0Q17")
    other = await bridge.http.put(f"{URL}/GB-1", json=LEADER, headers=bridge.auth("platform", platform="P002"))
    assert other.status_code == 403 and other.headers["content-type"] == PROBLEM
    bureau = await bridge.http.put(f"{URL}/GB-1", json=LEADER, headers=bridge.auth("bureau", region="330100"))
    assert bureau.status_code == 403
    unregistered = await bridge.http.put("/v1/platforms/P404/new-form-subjects/GB-1", json=LEADER, headers=bridge.auth("regulator"))
    assert unregistered.status_code == 404
    bad = await bridge.http.put(f"{URL}/GB-1", json=LEADER | {"id_number": None, "exemption_declared": False, "region": "330104"},
                                headers=bridge.auth("platform", platform="P001"))
    assert bad.status_code == 422 and bad.headers["content-type"] == PROBLEM
    assert [(e["field"], e["type"]) for e in bad.json()["errors"]] == [
        ("id_number", "identity-missing"), ("exemption_declared", "exemption-not-declared"), ("region", "region-invalid")]
    unknown_form = await bridge.http.put(f"{URL}/GB-1", json=LEADER | {"form": "influencer"}, headers=bridge.auth("regulator"))
    assert unknown_form.status_code == 422 and unknown_form.json()["errors"][0]["field"] == "form"
    assert await table(bridge, new_form_subjects) == []


async def test_reads_are_scoped_a_platform_its_own_a_bureau_its_area_a_regulator_everything(bridge: Running) -> None:
    await register(bridge)
    regulator = bridge.auth("regulator")
    assert (await bridge.http.put(f"{URL}/GB-7781", json=LEADER, headers=regulator)).status_code == 201
    assert (await bridge.http.put(f"{URL}/LIVE-7", json=STREAMER, headers=regulator)).status_code == 201

    def ids(answer: Any) -> list[str]:
        return [s["subject_id"] for s in answer.json()["subjects"]]

    assert ids(await bridge.http.get(URL, headers=regulator)) == ["GB-7781", "LIVE-7"]
    assert ids(await bridge.http.get(URL, params={"form": "live_streamer"}, headers=regulator)) == ["LIVE-7"]
    assert ids(await bridge.http.get(URL, headers=bridge.auth("platform", platform="P001"))) == ["GB-7781", "LIVE-7"]
    hangzhou = bridge.auth("bureau", region="330100")
    assert ids(await bridge.http.get(URL, headers=hangzhou)) == ["GB-7781"]
    assert (await bridge.http.get(f"{URL}/LIVE-7", headers=hangzhou)).status_code == 404
    other = bridge.auth("platform", platform="P002")
    assert (await bridge.http.get(URL, headers=other)).status_code == 404
    assert (await bridge.http.get(f"{URL}/GB-7781", headers=other)).status_code == 404
    one = (await bridge.http.get(f"{URL}/LIVE-7", headers=bridge.auth("auditor"))).json()
    assert (one["form"], one["uscc_check"], one["id_number_on_file"]) == ("live_streamer", "valid", False) and "id_number" not in one


async def test_regulators_list_subjects_across_platforms_by_form_platform_and_region_a_bureau_its_area_a_platform_its_own(
        bridge: Running) -> None:
    await register(bridge)
    await register(bridge, platform_id="P002", uscc="91330110MA27XL0Q17")
    regulator = bridge.auth("regulator")
    for platform, subject_id, form in [("P001", "GB-7781", LEADER), ("P001", "LIVE-7", STREAMER),
                                       ("P002", "GB-1", LEADER | {"region": "330106"}), ("P002", "LIVE-9", STREAMER | {"region": "310101"})]:
        assert (await bridge.http.put(f"/v1/platforms/{platform}/new-form-subjects/{subject_id}", json=form, headers=regulator)).status_code == 201

    async def keys(headers: dict[str, str], **filters: Any) -> list[str]:
        answer = await bridge.http.get("/v1/new-form-subjects", params=filters, headers=headers)
        assert answer.status_code == 200, answer.text
        return [f"{s['platform_id']}/{s['subject_id']}" for s in answer.json()["subjects"]]

    everything = ["P001/GB-7781", "P001/LIVE-7", "P002/GB-1", "P002/LIVE-9"]
    assert await keys(regulator) == everything
    assert await keys(bridge.auth("auditor"), form="group_buying_leader") == ["P001/GB-7781", "P002/GB-1"]
    assert await keys(regulator, platform_id="P002", form="live_streamer") == ["P002/LIVE-9"]
    # A region takes in whole code levels: the province, a city's every district, one district.
    assert await keys(regulator, region="330000") == ["P001/GB-7781", "P001/LIVE-7", "P002/GB-1"]
    assert await keys(regulator, region="330100") == ["P001/GB-7781", "P002/GB-1"]
    assert await keys(regulator, region="330106") == ["P002/GB-1"]

    pages: list[str] = []
    after: str | None = None
    while True:
        page = (await bridge.http.get("/v1/new-form-subjects", params={"limit": 1} | ({"after": after} if after else {}),
                                      headers=regulator)).json()
        pages += [f"{s['platform_id']}/{s['subject_id']}" for s in page["subjects"]]
        if page["next"] is None:
            break
        after = page["next"]
    assert pages == everything

    ningbo = bridge.auth("bureau", region="330200")
    assert await keys(ningbo) == ["P001/LIVE-7"]
    assert await keys(ningbo, region="330100") == []  # a filter narrows a bureau's area, never widens it
    assert await keys(bridge.auth("platform", platform="P002")) == ["P002/GB-1", "P002/LIVE-9"]
    assert await keys(bridge.auth("platform", platform="P002"), platform_id="P001") == []


async def test_a_bad_filter_is_a_problem_naming_it(bridge: Running) -> None:
    regulator = bridge.auth("regulator")
    for filters, field in [({"form": "influencer"}, "query.form"), ({"region": "3301"}, "query.region"),
                           ({"platform_id": "P 1"}, "query.platform_id"), ({"after": "GB-7781"}, "query.after"),
                           ({"limit": 0}, "query.limit")]:
        answer = await bridge.http.get("/v1/new-form-subjects", params=filters, headers=regulator)
        assert answer.status_code == 422 and answer.headers["content-type"] == PROBLEM, filters
        assert [e["field"] for e in answer.json()["errors"]] == [field]
