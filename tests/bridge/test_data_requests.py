"""Data requests: a regulator asks, the platform sees only its own and delivers; digests recorded; overdue exactly once."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import sqlalchemy as sa

from contracts import topics
from contracts.envelope import from_record
from services.bridge.store import audit, data_deliveries
from services.runtime.clock import FixedClock
from tests.bridge.conftest import register
from tests.harness import Running, read_topic

PROBLEM = "application/problem+json"
REQUEST: dict[str, Any] = {
    "platform_id": "P001",
    "legal_basis": "《网络交易监督管理办法》第二十条",
    "scope": {"subjects": ["S000001", "91330106MA2H0C3T5D"], "period_from": "2026-01-01", "period_to": "2026-03-31",
              "fields": ["sales", "price"]},
    "deadline_working_days": 5,
}


async def query(svc: Running, stmt: Any) -> list[dict[str, Any]]:
    assert svc.service.engine is not None
    async with svc.service.engine.connect() as conn:
        return [dict(r._mapping) for r in await conn.execute(stmt)]


async def issue(svc: Running, **change: Any) -> dict[str, Any]:
    answer = await svc.http.post("/v1/data-requests", json=REQUEST | change, headers=svc.auth("regulator"))
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


async def deliver(svc: Running, request_id: str, content: bytes, *, platform: str = "P001", content_type: str = "text/csv") -> Any:
    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(content), 1000):
            yield content[start:start + 1000]

    return await svc.http.post(f"/v1/data-requests/{request_id}/deliveries", content=chunks(),
                               headers=svc.auth("platform", platform=platform) | {"content-type": content_type})


async def types_on(kafka: str, topic: str, count: int) -> list[str]:
    return [from_record(r.key, r.value, r.headers).type for r in await read_topic(kafka, topic, count)]


async def test_a_request_is_issued_with_its_working_day_deadline_and_delivered_as_a_streamed_file(
        bridge_on_clock: Running, kafka_bootstrap: str, prefix: str) -> None:
    svc = bridge_on_clock
    await register(svc)
    request = await issue(svc)
    assert (request["due"], request["state"], request["scope"]["fields"]) == ("2026-04-14", "open", ["sales", "price"])
    content = b"store_id,month,gmv\n" + b"".join(f"S{n:06d},2026-01,{n}.00\n".encode() for n in range(5000))
    delivered = await deliver(svc, request["request_id"], content)
    assert delivered.status_code == 201, delivered.text
    body = delivered.json()
    assert (body["sha256"], body["size_bytes"], body["format"], body["late"]) == (hashlib.sha256(content).hexdigest(), len(content), "file", False)
    again = await deliver(svc, request["request_id"], content)
    assert again.status_code == 200 and again.json()["delivery_id"] == body["delivery_id"] and again.json()["duplicate"] is True
    assert len(await query(svc, sa.select(data_deliveries))) == 1
    stored = await svc.http.get(body["links"]["content"], headers=svc.auth("regulator"))
    assert stored.content == content
    seen = (await svc.http.get(f"/v1/data-requests/{request['request_id']}", headers=svc.auth("regulator"))).json()
    assert seen["state"] == "delivered" and [d["delivery_id"] for d in seen["deliveries"]] == [body["delivery_id"]]
    assert await types_on(kafka_bootstrap, prefix + topics.BRIDGE_DATAREQUESTS, 2) == [
        "redshield.bridge.datarequest.issued.v1", "redshield.bridge.datarequest.delivered.v1"]
    actions = [(a["action"], a["actor"]) for a in await query(svc, sa.select(audit).order_by(audit.c.id))]
    assert actions[1:] == [("datarequest.issued", "test:regulator"), ("datarequest.delivered", "test:platform")]


async def test_a_json_delivery_must_be_json(bridge_on_clock: Running) -> None:
    await register(bridge_on_clock)
    request = await issue(bridge_on_clock)
    bad = await deliver(bridge_on_clock, request["request_id"], b'{"rows": [1, 2', content_type="application/json")
    assert bad.status_code == 422 and bad.headers["content-type"].startswith(PROBLEM)
    good = await deliver(bridge_on_clock, request["request_id"], b'{"rows": [1, 2]}', content_type="application/json")
    assert good.status_code == 201 and good.json()["format"] == "json"
    assert len(await query(bridge_on_clock, sa.select(data_deliveries))) == 1


async def test_a_platform_sees_and_answers_only_its_own_requests(bridge_on_clock: Running) -> None:
    svc = bridge_on_clock
    await register(svc)
    await register(svc, platform_id="P002", name="钱塘团购")
    mine = await issue(svc)
    theirs = await issue(svc, platform_id="P002")
    as_p1 = svc.auth("platform", platform="P001")
    listed = (await svc.http.get("/v1/data-requests", headers=as_p1)).json()["requests"]
    assert [r["request_id"] for r in listed] == [mine["request_id"]]
    assert (await svc.http.get("/v1/data-requests", params={"platform_id": "P002"}, headers=as_p1)).json()["requests"] == []
    assert (await svc.http.get(f"/v1/data-requests/{theirs['request_id']}", headers=as_p1)).status_code == 404
    assert (await deliver(svc, theirs["request_id"], b"x")).status_code == 404
    assert (await svc.http.post("/v1/data-requests", json=REQUEST, headers=as_p1)).status_code == 403
    every = (await svc.http.get("/v1/data-requests", headers=svc.auth("regulator"))).json()["requests"]
    assert sorted(r["platform_id"] for r in every) == ["P001", "P002"]


async def test_a_bad_request_names_its_field(bridge_on_clock: Running) -> None:
    await register(bridge_on_clock)
    for change, field in (({"platform_id": "P404"}, "platform_id"), ({"deadline_working_days": None}, "deadline_working_days"),
                          ({"deadline_working_days": None, "due": "2026-04-01"}, "due"),
                          ({"scope": REQUEST["scope"] | {"fields": ["diaries"]}}, "scope.fields.0")):
        answer = await bridge_on_clock.http.post("/v1/data-requests", json=REQUEST | change, headers=bridge_on_clock.auth("regulator"))
        assert answer.status_code == 422 and answer.json()["errors"][0]["field"] == field, answer.text


async def test_an_undelivered_request_becomes_overdue_once_and_a_late_delivery_says_so(bridge_on_clock: Running, clock: FixedClock,
                                                                                      kafka_bootstrap: str, prefix: str) -> None:
    svc = bridge_on_clock
    await register(svc)
    request = await issue(svc)  # due Tuesday 14 April
    watch = svc.app.state.watch
    clock.advance(timedelta(days=7, hours=13, minutes=59))  # 14 April, 23:59
    assert (await watch.tick()).requests_overdue == 0
    clock.advance(timedelta(minutes=1))  # midnight: the due day is over
    assert (await watch.tick()).requests_overdue == 1
    assert (await watch.tick()).requests_overdue == 0
    overdue = (await svc.http.get(f"/v1/data-requests/{request['request_id']}", headers=svc.auth("regulator"))).json()
    assert overdue["state"] == "overdue" and overdue["overdue_at"].startswith("2026-04-14T16:00")
    late = await deliver(svc, request["request_id"], b"late data")
    assert late.json()["late"] is True
    assert (await watch.tick()).requests_overdue == 0
    assert await types_on(kafka_bootstrap, prefix + topics.BRIDGE_DATAREQUESTS, 3) == [
        "redshield.bridge.datarequest.issued.v1", "redshield.bridge.datarequest.overdue.v1", "redshield.bridge.datarequest.delivered.v1"]
    (entry,) = await query(svc, sa.select(audit).where(audit.c.action == "datarequest.overdue"))
    assert (entry["actor"], entry["detail"]["ground"]) == ("system:bridge", "due day passed")
