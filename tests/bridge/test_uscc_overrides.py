"""A USCC override belongs to the code: enterprise websites and new-business-form subjects carrying it are confirmed
with the stores, each a new version with one update event written through the outbox with the override itself."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from contracts import topics
from contracts.envelope import Envelope, from_record
from contracts.registry import EVENT_MODELS
from services.bridge.store import audit
from tests.bridge.conftest import outbox_events, register
from tests.harness import Running, read_topic

PILOT = "91330110MA27XL0Q10"  # fails its check character, as some genuine early pilot codes do
CONFIRMATION = {"uscc": PILOT, "reason": "营业执照原件已核验：试点赋码"}
SITE: dict[str, Any] = {
    "website_id": "W-PILOT", "operator_name": "杭州余杭试点茶叶有限公司", "uscc": PILOT, "domain": "pilot-tea.cn",
    "icp_filing": "浙ICP备12345678号", "region": "330110", "category": "食品",
}
STREAMER: dict[str, Any] = {"form": "live_streamer", "name": "杭州余杭试点茶叶有限公司", "uscc": PILOT, "region": "330110",
                            "handle": "试点茶叶直播间", "category": "食品"}
LEADER: dict[str, Any] = {"form": "group_buying_leader", "name": "王阿姨", "id_number": "11010519491231002X", "exemption_declared": True,
                          "region": "330110", "handle": "良渚文化村3号团", "category": "生鲜"}
UPDATES = ("redshield.bridge.website.updated.v1", "redshield.bridge.new_form_subject.updated.v1")


async def rows(svc: Running, stmt: sa.Select[Any]) -> list[dict[str, Any]]:
    assert svc.service.engine is not None
    async with svc.service.engine.connect() as conn:
        return [dict(r._mapping) for r in await conn.execute(stmt)]


async def written_events(svc: Running) -> list[Envelope]:
    """Every event bridge wrote through its outbox, in the order it wrote them."""
    return await outbox_events(svc)


async def test_an_override_confirms_the_websites_and_new_form_subjects_carrying_the_code_each_once(
        bridge: Running, kafka_bootstrap: str, prefix: str) -> None:
    await register(bridge)
    regulator = bridge.auth("regulator")
    site = await bridge.http.post("/v1/websites", json=SITE, headers=regulator)
    assert (site.status_code, site.json()["uscc_check"]) == (201, "check_failed")
    other_site = await bridge.http.post("/v1/websites", json=SITE | {"website_id": "W-OK", "uscc": "91330106MA2H0C3T5D"}, headers=regulator)
    assert other_site.json()["uscc_check"] == "valid"
    subject = await bridge.http.put("/v1/platforms/P001/new-form-subjects/LIVE-PILOT", json=STREAMER, headers=regulator)
    assert (subject.status_code, subject.json()["uscc_check"]) == (201, "check_failed")
    assert (await bridge.http.put("/v1/platforms/P001/new-form-subjects/GB-1", json=LEADER, headers=regulator)).status_code == 201
    before = len(await written_events(bridge))

    confirmed = await bridge.http.post("/v1/uscc-overrides", json=CONFIRMATION, headers=regulator)
    assert confirmed.json() == {"uscc": PILOT, "recorded": True, "stores_changed": 0, "websites_changed": 1,
                                "new_form_subjects_changed": 1}
    updates = (await written_events(bridge))[before:]
    assert [(e.type, e.subject) for e in updates] == [(UPDATES[0], "W-PILOT"), (UPDATES[1], "P001/LIVE-PILOT")]
    for event in updates:
        EVENT_MODELS[event.type].model_validate(event.data)
        assert (event.data["uscc_check"], event.data["changed"], event.data["version"]) == ("overridden", ["uscc_check"], 2)
    read_site = (await bridge.http.get("/v1/websites/W-PILOT", headers=regulator)).json()
    read_subject = (await bridge.http.get("/v1/platforms/P001/new-form-subjects/LIVE-PILOT", headers=regulator)).json()
    assert (read_site["uscc_check"], read_site["version"]) == ("overridden", 2)
    assert (read_subject["uscc_check"], read_subject["version"]) == ("overridden", 2)
    (decision,) = await rows(bridge, sa.select(audit).where(audit.c.action == "uscc.overridden"))
    assert {k: decision["detail"][k] for k in ("stores", "websites", "new_form_subjects")} == {"stores": 0, "websites": 1,
                                                                                               "new_form_subjects": 1}

    # The same confirmation again: nothing left to confirm, so no version, no event, no second decision.
    again = await bridge.http.post("/v1/uscc-overrides", json=CONFIRMATION, headers=regulator)
    assert again.json() == {"uscc": PILOT, "recorded": False, "stores_changed": 0, "websites_changed": 0,
                            "new_form_subjects_changed": 0}
    assert len(await written_events(bridge)) == before + 2
    assert (await bridge.http.get("/v1/websites/W-PILOT", headers=regulator)).json()["version"] == 2
    assert len(await rows(bridge, sa.select(audit).where(audit.c.action == "uscc.overridden"))) == 1

    # And the broker got each update once: the platform, two websites and two subjects registered, then the two updates.
    published = [from_record(r.key, r.value, r.headers) for r in await read_topic(kafka_bootstrap, prefix + topics.BRIDGE_SUBJECTS, 7)]
    assert sorted(e.subject for e in published if e.type in UPDATES) == ["P001/LIVE-PILOT", "W-PILOT"]
