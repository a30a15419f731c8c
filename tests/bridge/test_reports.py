"""Monthly reports over HTTP: revisions, idempotent resends, problem+json by field, scope, audit, the event."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from contracts import topics
from contracts.envelope import from_record
from contracts.events.bridge import ReportSubmitted
from services.bridge.store import audit, reports
from tests.bridge.conftest import register
from tests.harness import Running, read_topic

PROBLEM = "application/problem+json"
BODY: dict[str, Any] = {
    "sales": [
        {"category": "食品", "region": "330106", "gmv_cny": "18250340.50", "orders": 412033},
        {"category": "服装", "region": "330114", "gmv_cny": "9120000", "orders": 98511},
    ],
    "stores_by_category": [{"category": "食品", "stores": 1290}, {"category": "服装", "stores": 611}],
}


async def query(svc: Running, stmt: Any) -> list[dict[str, Any]]:
    assert svc.service.engine is not None
    async with svc.service.engine.connect() as conn:
        return [dict(r._mapping) for r in await conn.execute(stmt)]


async def put(svc: Running, body: dict[str, Any], *, month: str = "2025-10", platform: str = "P001", token_for: str | None = None) -> Any:
    headers = svc.auth("platform", platform=token_for or platform)
    return await svc.http.put(f"/v1/platforms/{platform}/reports/{month}", json=body, headers=headers)


async def test_a_report_is_stored_published_and_audited_and_a_resend_answers_the_same_revision(bridge: Running, kafka_bootstrap: str,
                                                                                               prefix: str) -> None:
    await register(bridge)
    first = await put(bridge, BODY)
    assert first.status_code == 201, first.text
    assert (first.json()["revision"], first.json()["total_gmv_cny"], first.json()["duplicate"]) == (1, "27370340.50", False)
    reordered = {"sales": list(reversed(BODY["sales"])), "stores_by_category": BODY["stores_by_category"]}
    again = await put(bridge, reordered)
    assert again.status_code == 200 and again.json()["duplicate"] is True
    assert again.json()["report_id"] == first.json()["report_id"] and again.json()["revision"] == 1
    (record,) = await read_topic(kafka_bootstrap, prefix + topics.BRIDGE_REPORTS, 1)
    envelope = from_record(record.key, record.value, record.headers)
    event = ReportSubmitted.model_validate(envelope.data)
    assert (envelope.type, envelope.subject, envelope.platformid, envelope.region) == (ReportSubmitted.event_type, "P001/2025-10", "P001", "330106")
    assert (event.report_id, event.revision, event.sales[1].gmv_cny) == (first.json()["report_id"], 1, "9120000.00")
    actions = [(a["action"], a["actor"], a["target"]) for a in await query(bridge, sa.select(audit).order_by(audit.c.id))]
    assert actions[1:] == [("report.submitted", "test:platform", "report:P001/2025-10"), ("report.resent", "test:platform", "report:P001/2025-10")]
    assert len(await query(bridge, sa.select(reports))) == 1


async def test_a_changed_body_is_the_next_revision_which_replaces_the_month(bridge: Running, kafka_bootstrap: str, prefix: str) -> None:
    await register(bridge)
    await put(bridge, BODY)
    corrected = {"sales": BODY["sales"][:1], "stores_by_category": BODY["stores_by_category"][:1]}
    second = await put(bridge, corrected)
    assert second.status_code == 200 and (second.json()["revision"], second.json()["duplicate"]) == (2, False)
    current = (await bridge.http.get("/v1/platforms/P001/reports/2025-10", headers=bridge.auth("regulator"))).json()
    assert (current["revision"], current["total_gmv_cny"], len(current["sales"])) == (2, "18250340.50", 1)
    records = await read_topic(kafka_bootstrap, prefix + topics.BRIDGE_REPORTS, 2)
    assert [from_record(r.key, r.value, r.headers).data["revision"] for r in records] == [1, 2]
    # Going back to the first body is a change again: revision 3, not a resend of revision 1.
    assert (await put(bridge, BODY)).json()["revision"] == 3


async def test_a_bad_report_is_a_problem_naming_each_field_and_nothing_is_stored(bridge: Running) -> None:
    await register(bridge)
    bad = {"sales": [*BODY["sales"], {"category": "鞋", "region": "330199", "gmv_cny": "-5", "orders": 2}],
           "stores_by_category": BODY["stores_by_category"]}
    answer = await put(bridge, bad)
    assert answer.status_code == 422 and answer.headers["content-type"].startswith(PROBLEM)
    assert [e["field"] for e in answer.json()["errors"]] == ["sales[2].region", "sales[2].gmv_cny"]
    assert "sales[2].region" in answer.json()["detail"]
    not_over = await put(bridge, BODY, month="2999-01")
    assert not_over.status_code == 422 and not_over.json()["errors"][0]["field"] == "month"
    assert await query(bridge, sa.select(reports)) == []
    unknown = await put(bridge, BODY, platform="P404")
    assert unknown.status_code == 404


async def test_a_platform_writes_and_reads_only_its_own_reports_and_regulators_read_all(bridge: Running) -> None:
    await register(bridge)
    await register(bridge, platform_id="P002", name="钱塘团购")
    assert (await put(bridge, BODY, platform="P001")).status_code == 201
    assert (await put(bridge, BODY, platform="P002", month="2025-09")).status_code == 201
    forbidden = await put(bridge, BODY, platform="P001", token_for="P002")
    assert forbidden.status_code == 403 and forbidden.headers["content-type"].startswith(PROBLEM)
    regulator_write = await bridge.http.put("/v1/platforms/P001/reports/2025-10", json=BODY, headers=bridge.auth("regulator"))
    assert regulator_write.status_code == 403
    as_p2 = bridge.auth("platform", platform="P002")
    assert (await bridge.http.get("/v1/platforms/P001/reports/2025-10", headers=as_p2)).status_code == 404
    assert (await bridge.http.get("/v1/platforms/P001/reports", headers=as_p2)).status_code == 404
    assert [r["platform_id"] for r in (await bridge.http.get("/v1/reports", headers=as_p2)).json()["reports"]] == ["P002"]
    every = (await bridge.http.get("/v1/reports", headers=bridge.auth("regulator"))).json()["reports"]
    assert [(r["platform_id"], r["month"]) for r in every] == [("P001", "2025-10"), ("P002", "2025-09")]
    own = (await bridge.http.get("/v1/platforms/P001/reports", headers=bridge.auth("platform", platform="P001"))).json()
    assert [r["month"] for r in own["reports"]] == ["2025-10"] and "sales" not in own["reports"][0]
