"""The Zhejiang Fair Online adapter against the real broker and databases: items come in by HTTP or the province's topic,
once per item id; bad ones are refused with the field (problem+json, DLQ); outcomes go back on its topic and poll list."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest
import sqlalchemy as sa

from contracts import topics
from contracts.envelope import from_record
from contracts.events.bridge import FAIRONLINE_ASSIGNMENTS, FAIRONLINE_OUTCOMES, FairOnlineItemAssigned, FairOnlineOutcomeReturned
from services.bridge.faironline import provincial_credential
from services.bridge.store import audit
from services.runtime.settings import SettingsError, SharedSettings
from tests.bridge.conftest import register
from tests.harness import Running, eventually, produce, read_topic, running

PROBLEM = "application/problem+json"
TOKEN = "zj-fair-online-test-credential-0123456789abcdef"
ITEM: dict[str, Any] = {
    "item_id": "ZJGP-2026-0412-0007", "title": "直播间宣称“全网最低价”涉嫌虚假宣传", "category": "虚假宣传",
    "description": "监测发现该直播间多次宣称全网最低价。", "region": "330106", "platform_uscc": "91330100716105852F",
    "merchant_uscc": "91330106MA2H0C3T5D", "assigned_at": "2026-04-12T09:00:00+08:00", "due": "2026-05-12",
}
FILED = {"outcome": "case_filed", "reasons": ["直播录像证实无价格比较依据"], "case_number": "杭市监立〔2026〕118号"}


@pytest.fixture
async def bridge(kafka_bootstrap: str, prefix: str, database: tuple[str, str | None]) -> AsyncIterator[Running]:
    async with running("bridge", kafka=kafka_bootstrap, prefix=prefix, database=database, faironline_token=TOKEN) as svc:
        yield svc


PROVINCE = {"Authorization": f"Bearer {TOKEN}"}


async def audit_actions(svc: Running) -> list[str]:
    assert svc.service.engine is not None
    async with svc.service.engine.connect() as conn:
        return [r.action for r in await conn.execute(sa.select(audit.c.action).where(audit.c.action.startswith("fair_online.")).order_by(audit.c.id))]


async def test_an_item_posted_by_the_province_becomes_one_clue_however_often_it_is_sent(
        bridge: Running, kafka_bootstrap: str, prefix: str) -> None:
    await register(bridge)
    first = await bridge.http.post("/v1/fair-online/items", json=ITEM, headers=PROVINCE)
    assert first.status_code == 201, first.text
    assert (first.json()["platform_id"], first.json()["received_via"], first.json()["state"]) == ("P001", "http", "assigned")
    again = await bridge.http.post("/v1/fair-online/items", json=ITEM, headers=PROVINCE)
    assert (again.status_code, again.json()["duplicate"]) == (200, True)

    outcome = await bridge.http.post(f"/v1/fair-online/items/{ITEM['item_id']}/outcome", json=FILED, headers=bridge.auth("bureau", region="330100"))
    assert outcome.status_code == 201, outcome.text
    # Both events of the item on one partition, in order: one assignment (the resend added none), then the outcome.
    records = await read_topic(kafka_bootstrap, prefix + topics.BRIDGE_FAIRONLINE, 2)
    events = [from_record(r.key, r.value, r.headers) for r in records]
    assert [e.type for e in events] == [FairOnlineItemAssigned.event_type, FairOnlineOutcomeReturned.event_type]
    assert events[0].data["platform_id"] == "P001" and events[1].data["case_number"] == FILED["case_number"]
    assert await audit_actions(bridge) == ["fair_online.assigned", "fair_online.outcome_returned"]


async def test_only_the_provincial_credential_may_post_items_or_poll_outcomes(bridge: Running) -> None:
    for headers in ({}, {"Authorization": "Bearer " + TOKEN[:-1] + "x"}, bridge.auth("regulator")):
        posted = await bridge.http.post("/v1/fair-online/items", json=ITEM, headers=headers)
        polled = await bridge.http.get("/v1/fair-online/outcomes", headers=headers)
        assert (posted.status_code, polled.status_code) == (401, 401)
        assert posted.headers["content-type"] == PROBLEM
    assert await audit_actions(bridge) == []


async def test_a_bad_item_over_http_is_a_problem_naming_each_field(bridge: Running) -> None:
    bad = {k: v for k, v in ITEM.items() if k != "region"} | {"priority": "high"}
    answer = await bridge.http.post("/v1/fair-online/items", json=bad, headers=PROVINCE)
    assert answer.status_code == 422 and answer.headers["content-type"] == PROBLEM
    assert {e["field"] for e in answer.json()["errors"]} == {"region", "priority"}
    listing = await bridge.http.get("/v1/fair-online/items", headers=bridge.auth("regulator"))
    assert listing.json()["items"] == []


async def test_items_on_the_provinces_topic_are_taken_in_once_and_bad_records_go_to_the_dlq_with_the_reason(
        bridge: Running, kafka_bootstrap: str, prefix: str) -> None:
    good = orjson.dumps(ITEM | {"item_id": "ZJGP-K-1"})
    await produce(kafka_bootstrap, prefix + FAIRONLINE_ASSIGNMENTS, [
        (b"ZJGP-K-1", good, []),
        (b"ZJGP-K-2", b"{not json", []),
        (b"ZJGP-K-3", orjson.dumps(ITEM | {"item_id": "ZJGP-K-3", "region": "杭州"}), []),
        (b"ZJGP-K-1", good, []),
    ])

    async def taken() -> Any:
        answer = await bridge.http.get("/v1/fair-online/items/ZJGP-K-1", headers=bridge.auth("regulator"))
        return answer.json() if answer.status_code == 200 else None

    item = await eventually(taken)
    assert item["received_via"] == "kafka"
    dead = await read_topic(kafka_bootstrap, prefix + topics.dlq("bridge-faironline"), 2)
    reasons = {dict(r.headers)["x-dlq-reason"].decode(): dict(r.headers)["x-dlq-error"].decode() for r in dead}
    assert set(reasons) == {"not-json", "invalid-assignment"} and "region" in reasons["invalid-assignment"]
    listing = await bridge.http.get("/v1/fair-online/items", headers=bridge.auth("regulator"))
    assert [i["item_id"] for i in listing.json()["items"]] == ["ZJGP-K-1"]
    assert await audit_actions(bridge) == ["fair_online.assigned"]


async def test_the_outcome_goes_back_on_the_provinces_topic_and_poll_list_once(
        bridge: Running, kafka_bootstrap: str, prefix: str) -> None:
    assert (await bridge.http.post("/v1/fair-online/items", json=ITEM, headers=PROVINCE)).status_code == 201
    url = f"/v1/fair-online/items/{ITEM['item_id']}/outcome"
    officer = bridge.auth("bureau", region="330100")

    elsewhere = await bridge.http.post(url, json=FILED, headers=bridge.auth("bureau", region="330200"))
    assert elsewhere.status_code == 404
    no_number = await bridge.http.post(url, json=FILED | {"case_number": None}, headers=officer)
    assert no_number.status_code == 422 and no_number.json()["errors"][0]["field"] == "case_number"
    platform = await bridge.http.post(url, json=FILED, headers=bridge.auth("platform", platform="P001"))
    assert platform.status_code == 403

    assert (await bridge.http.post(url, json=FILED, headers=officer)).status_code == 201
    resent = await bridge.http.post(url, json=FILED, headers=officer)
    assert (resent.status_code, resent.json()["duplicate"]) == (200, True)
    changed = await bridge.http.post(url, json={"outcome": "no_violation", "reasons": ["价格有比较依据"]}, headers=officer)
    assert changed.status_code == 409 and changed.headers["content-type"] == PROBLEM

    (record,) = await read_topic(kafka_bootstrap, prefix + FAIRONLINE_OUTCOMES, 1)
    sent = orjson.loads(record.value)
    assert sent == {"item_id": ITEM["item_id"], "outcome": "case_filed", "reasons": FILED["reasons"],
                    "case_number": FILED["case_number"], "unit": "330100", "decided_at": sent["decided_at"]}
    polled = (await bridge.http.get("/v1/fair-online/outcomes", headers=PROVINCE)).json()
    assert [(o["item_id"], o["outcome"], o["unit"]) for o in polled["outcomes"]] == [(ITEM["item_id"], "case_filed", "330100")]
    assert (await bridge.http.get("/v1/fair-online/outcomes", params={"after": polled["next"]}, headers=PROVINCE)).json()["outcomes"] == []
    item = (await bridge.http.get(f"/v1/fair-online/items/{ITEM['item_id']}", headers=officer)).json()
    assert (item["state"], item["outcome"]["case_number"]) == ("returned", FILED["case_number"])
    assert await audit_actions(bridge) == ["fair_online.assigned", "fair_online.outcome_returned"]


def test_a_placeholder_or_short_provincial_credential_is_refused_outside_dev(tmp_path: Any) -> None:
    for value in ("change-me", "short-secret"):
        with pytest.raises(SettingsError):
            provincial_credential(SharedSettings(env="test", var_dir=tmp_path), value)
    assert provincial_credential(SharedSettings(env="dev", var_dir=tmp_path), "change-me") == "change-me"
    assert provincial_credential(SharedSettings(env="test", var_dir=tmp_path), TOKEN) == TOKEN
