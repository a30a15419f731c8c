"""Enterprise websites on the real databases and broker: a regulator (or a bureau, in its area) registers and changes
them, each change one audit row and one event; regulators read them all, a bureau its area, a platform none."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from contracts import topics
from contracts.envelope import from_record
from contracts.registry import EVENT_MODELS
from services.bridge.store import audit
from tests.harness import Running, read_topic

PROBLEM = "application/problem+json"
PILOT = "91330110MA27XL0Q10"  # fails its check character, as some genuine early pilot codes do
SITE: dict[str, Any] = {
    "website_id": "W-330106-0001", "operator_name": "杭州西湖茶叶有限公司", "uscc": "91330106MA2H0C3T5D", "domain": "XihuTea.com.cn",
    "url": "https://www.xihutea.com.cn/", "icp_filing": "浙ICP备12345678号-1", "region": "330106", "category": "食品",
}
FORM = {k: v for k, v in SITE.items() if k != "website_id"}


async def audit_rows(svc: Running) -> list[dict[str, Any]]:
    assert svc.service.engine is not None
    async with svc.service.engine.connect() as conn:
        stmt = sa.select(audit).where(audit.c.action.startswith("website.")).order_by(audit.c.id)
        return [dict(r._mapping) for r in await conn.execute(stmt)]


async def test_a_regulator_registers_a_website_and_changes_it_each_change_one_version_one_event_one_audit_row(
        bridge: Running, kafka_bootstrap: str, prefix: str) -> None:
    regulator = bridge.auth("regulator")
    created = await bridge.http.post("/v1/websites", json=SITE, headers=regulator)
    assert created.status_code == 201, created.text
    assert created.headers["location"] == "/v1/websites/W-330106-0001"
    body = created.json()
    assert (body["domain"], body["version"], body["status"], body["uscc_check"], body["warnings"]) == (
        "xihutea.com.cn", 1, "active", "valid", [])

    same = await bridge.http.put("/v1/websites/W-330106-0001", json=FORM, headers=regulator)
    assert (same.status_code, same.json()["version"], same.json()["changed"]) == (200, 1, [])
    suspended = await bridge.http.put("/v1/websites/W-330106-0001", json=FORM | {"status": "suspended"}, headers=regulator)
    assert (suspended.json()["version"], suspended.json()["changed"]) == (2, ["status"])

    records = await read_topic(kafka_bootstrap, prefix + topics.BRIDGE_SUBJECTS, 2)
    events = [from_record(r.key, r.value, r.headers) for r in records]
    assert [e.type for e in events] == ["redshield.bridge.website.registered.v1", "redshield.bridge.website.updated.v1"]
    for event in events:
        EVENT_MODELS[event.type].model_validate(event.data)
        assert (event.key, event.region, event.platformid) == (b"W-330106-0001", "330106", None)
    assert (events[1].data["status"], events[1].data["changed"], events[1].data["version"]) == ("suspended", ["status"], 2)
    assert [(a["action"], a["actor"], a["target"]) for a in await audit_rows(bridge)] == [
        ("website.registered", "test:regulator", "website:W-330106-0001"), ("website.updated", "test:regulator", "website:W-330106-0001")]

    read = await bridge.http.get("/v1/websites/W-330106-0001", headers=bridge.auth("auditor"))
    assert (read.json()["status"], read.json()["version"]) == ("suspended", 2)
    again = await bridge.http.post("/v1/websites", json=SITE, headers=regulator)
    assert again.status_code == 409 and again.headers["content-type"] == PROBLEM
    missing = await bridge.http.put("/v1/websites/W-NONE", json=FORM, headers=regulator)
    assert missing.status_code == 404 and missing.headers["content-type"] == PROBLEM


async def test_bad_fields_are_one_problem_naming_each_and_a_failing_code_is_kept_flagged_until_a_person_confirms_it(
        bridge: Running) -> None:
    regulator = bridge.auth("regulator")
    bad = await bridge.http.post("/v1/websites", json=SITE | {"domain": "https://xihutea.com.cn", "url": None, "icp_filing": "备案中"},
                                 headers=regulator)
    assert bad.status_code == 422 and bad.headers["content-type"] == PROBLEM
    assert [(e["field"], e["type"]) for e in bad.json()["errors"]] == [("domain", "domain-format"), ("icp_filing", "icp-filing-format")]

    flagged = await bridge.http.post("/v1/websites", json=SITE | {"website_id": "W2", "uscc": PILOT}, headers=regulator)
    assert flagged.status_code == 201 and flagged.json()["uscc_check"] == "check_failed"
    assert [w["code"] for w in flagged.json()["warnings"]] == ["uscc-check-failed"]
    confirmed = await bridge.http.post("/v1/uscc-overrides", json={"uscc": PILOT, "reason": "营业执照原件已核验：试点赋码"}, headers=regulator)
    assert confirmed.status_code == 200
    third = await bridge.http.post("/v1/websites", json=SITE | {"website_id": "W3", "uscc": PILOT}, headers=regulator)
    assert (third.json()["uscc_check"], third.json()["warnings"]) == ("overridden", [])
    listing = await bridge.http.get("/v1/websites", params={"uscc": PILOT.lower()}, headers=regulator)
    assert [w["website_id"] for w in listing.json()["websites"]] == ["W2", "W3"]
    assert [a["action"] for a in await audit_rows(bridge)] == ["website.registered", "website.registered"]


async def test_a_bureau_keeps_the_websites_of_its_area_and_a_platform_none(bridge: Running) -> None:
    hangzhou = bridge.auth("bureau", region="330100")
    assert (await bridge.http.post("/v1/websites", json=SITE, headers=hangzhou)).status_code == 201
    elsewhere = await bridge.http.post("/v1/websites", json=SITE | {"website_id": "W-NB", "region": "330203"}, headers=hangzhou)
    assert elsewhere.status_code == 403 and elsewhere.json()["type"].endswith("out-of-area")
    ningbo = bridge.auth("bureau", region="330200")
    assert (await bridge.http.post("/v1/websites", json=SITE | {"website_id": "W-NB", "region": "330203"}, headers=ningbo)).status_code == 201

    assert [w["website_id"] for w in (await bridge.http.get("/v1/websites", headers=hangzhou)).json()["websites"]] == ["W-330106-0001"]
    assert (await bridge.http.get("/v1/websites/W-NB", headers=hangzhou)).status_code == 404
    assert (await bridge.http.put("/v1/websites/W-NB", json=FORM | {"region": "330203"}, headers=hangzhou)).status_code == 404
    moved = await bridge.http.put("/v1/websites/W-330106-0001", json=FORM | {"region": "330203"}, headers=hangzhou)
    assert moved.status_code == 403
    everything = await bridge.http.get("/v1/websites", params={"limit": 1}, headers=bridge.auth("regulator"))
    assert ([w["website_id"] for w in everything.json()["websites"]], everything.json()["next"]) == (["W-330106-0001"], "W-330106-0001")

    platform = bridge.auth("platform", platform="P001")
    assert (await bridge.http.get("/v1/websites", headers=platform)).status_code == 403
    assert (await bridge.http.post("/v1/websites", json=SITE | {"website_id": "W-P"}, headers=platform)).status_code == 403
