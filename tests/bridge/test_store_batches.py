"""Stores posted in batches (DSA style) on the real databases and broker: one result per record in order, an
idempotency id per record, store events through the outbox with the batch, one batch event counted as a data
exchange, an audit row per batch; a batch closes nothing, and it sees stores exactly as submissions do."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from contracts import topics
from contracts.envelope import from_record
from contracts.events.bridge import EXCHANGE_EVENT_TYPES, StoresBatchApplied
from contracts.registry import EVENT_MODELS
from services.bridge.store import audit, stores
from services.runtime.tables import outbox
from tests.bridge.conftest import ndjson, register, settled, store_row, submit
from tests.harness import Running, read_topic

PROBLEM = "application/problem+json"
ID_NUMBER = "11010519491231002X"
PILOT = "91330110MA27XL0Q10"  # fails its check character, as some genuine early pilot codes do
URL = "/v1/platforms/P001/stores/batch"


def rec(record_id: str, row: dict[str, Any]) -> dict[str, Any]:
    return {"record_id": record_id, **row}


def unregistered(n: int, **change: Any) -> dict[str, Any]:
    return store_row(n, uscc=None, id_number=ID_NUMBER, exemption_declared=True, **change)


async def post(svc: Running, *records: dict[str, Any], platform: str = "P001") -> Any:
    answer = await svc.http.post(f"/v1/platforms/{platform}/stores/batch", json={"records": list(records)},
                                 headers=svc.auth("platform", platform=platform))
    assert answer.status_code == 200, answer.text
    return answer.json()


async def rows(svc: Running, stmt: Any) -> list[dict[str, Any]]:
    assert svc.service.engine is not None
    async with svc.service.engine.connect() as conn:
        return [dict(r._mapping) for r in await conn.execute(stmt)]


def outcomes(answer: dict[str, Any]) -> list[tuple[int, str | None, str]]:
    return [(r["index"], r["record_id"], r["outcome"]) for r in answer["results"]]


async def test_each_record_is_answered_in_order_and_a_record_id_seen_before_is_answered_with_its_result(
        bridge_on_clock: Running, kafka_bootstrap: str, prefix: str) -> None:
    svc = bridge_on_clock
    await register(svc)
    one = await post(svc, rec("r1", store_row(1)), rec("r2", unregistered(2)), rec("r3", store_row(3, region="330104")),
                     rec("r1", store_row(1)))
    assert outcomes(one) == [(0, "r1", "created"), (1, "r2", "created"), (2, "r3", "refused"), (3, "r1", "duplicate")]
    assert [(f["line"], f["code"], f["field"]) for f in one["results"][2]["findings"]] == [(2, "region-invalid", "region")]
    assert one["results"][3]["original"] | {"applied_at": None} == {"batch_id": one["batch_id"], "index": 0, "outcome": "created",
                                                                    "applied_at": None}
    assert one["counts"] == {"created": 2, "updated": 0, "unchanged": 0, "duplicate": 1, "refused": 1, "flagged": 0}
    assert (one["period"], one["records"]) == ("2026H1", 4)

    # The same ids again are duplicates answered with the first results; a refused record, corrected, goes in with its id.
    two = await post(svc, rec("r1", store_row(1)), rec("r4", store_row(1, shop_name="西湖龙井旗舰店")), rec("r5", unregistered(2)),
                     rec("r3", store_row(3)), rec("r6", store_row(3, category="茶叶")))
    assert outcomes(two) == [(0, "r1", "duplicate"), (1, "r4", "updated"), (2, "r5", "unchanged"), (3, "r3", "created"),
                             (4, "r6", "refused")]
    assert two["results"][0]["original"]["batch_id"] == one["batch_id"]
    assert two["results"][1]["changed"] == ["shop_name"]
    assert two["results"][4]["findings"][0]["code"] == "duplicate-store-id"

    records = await read_topic(kafka_bootstrap, prefix + topics.BRIDGE_SUBJECTS, 1 + 3 + 3)
    events = [from_record(r.key, r.value, r.headers) for r in records]
    assert len(events) == 7
    for event in events:
        EVENT_MODELS[event.type].model_validate(event.data)
        assert ID_NUMBER[:17] not in str(event.data)
    kinds = sorted((e.type.removeprefix("redshield.bridge."), e.subject) for e in events)
    assert kinds == [("platform.registered.v1", "P001"), ("store.registered.v1", "P001/S000001"), ("store.registered.v1", "P001/S000002"),
                     ("store.registered.v1", "P001/S000003"), ("store.updated.v1", "P001/S000001"),
                     ("store_batch.applied.v1", "P001"), ("store_batch.applied.v1", "P001")]
    registered = next(e for e in events if e.type.endswith("store.registered.v1") and e.subject == "P001/S000002")
    assert (registered.data["submission_id"], registered.data["period"], registered.data["exemption_declared"]) == (
        one["batch_id"], "2026H1", True) and "uscc" not in registered.data
    updated = next(e for e in events if e.type.endswith("store.updated.v1"))
    assert (updated.data["changed"], updated.data["submission_id"], updated.region) == (["shop_name"], two["batch_id"], "330106")
    applied = sorted((e.data for e in events if e.type == StoresBatchApplied.event_type), key=lambda d: d["batch_id"] != one["batch_id"])
    assert [(a["batch_id"], a["records"], a["created"], a["duplicate"]) for a in applied] == [(one["batch_id"], 4, 2, 1),
                                                                                             (two["batch_id"], 5, 1, 1)]
    assert StoresBatchApplied.event_type in EXCHANGE_EVENT_TYPES  # one data exchange per batch in the cockpit's count

    trail = await rows(svc, sa.select(audit).where(audit.c.action == "store_batch.applied").order_by(audit.c.id))
    assert [(a["target"], a["actor"], a["detail"]["duplicate"]) for a in trail] == [(f"store_batch:{one['batch_id']}", "test:platform", 1),
                                                                                   (f"store_batch:{two['batch_id']}", "test:platform", 1)]
    again = await svc.http.get(f"/v1/platforms/P001/store-batches/{two['batch_id']}", headers=svc.auth("regulator"))
    assert again.json()["results"] == two["results"]
    listed = (await svc.http.get("/v1/platforms/P001/store-batches", headers=svc.auth("platform", platform="P001"))).json()["batches"]
    assert [b["batch_id"] for b in listed] == [two["batch_id"], one["batch_id"]] and "results" not in listed[0]
    (stored,) = await rows(svc, sa.select(stores).where(stores.c.store_id == "S000002"))
    assert stored["id_number_enc"] is not None and ID_NUMBER.encode() not in stored["id_number_enc"]


async def test_a_batch_sees_stores_as_submissions_do_and_closes_none_of_them(bridge_on_clock: Running) -> None:
    svc = bridge_on_clock
    await register(svc)
    first = await settled(svc, (await submit(svc, ndjson([store_row(1), unregistered(2)]))).json()["submission_id"])
    assert first["registered"] == 2
    # The rows the submission applied, posted again in a batch, are unchanged: the same content digest, ID number included.
    batch = await post(svc, rec("a", store_row(1)), rec("b", unregistered(2)), rec("c", store_row(3)))
    assert [r["outcome"] for r in batch["results"]] == ["unchanged", "unchanged", "created"]
    listing = (await svc.http.get("/v1/platforms/P001/stores", headers=svc.auth("regulator"))).json()["stores"]
    assert [(s["store_id"], s["status"]) for s in listing] == [("S000001", "open"), ("S000002", "open"), ("S000003", "open")]
    # And the store the batch created is unchanged to the next whole list, which alone closes what it leaves out.
    second = await settled(svc, (await submit(svc, ndjson([store_row(1), store_row(3)]))).json()["submission_id"])
    assert (second["registered"], second["updated"], second["unchanged"], second["closed"]) == (0, 0, 2, 1)


async def test_an_override_after_a_batch_updates_its_flagged_store_with_the_batchs_period(bridge_on_clock: Running, kafka_bootstrap: str,
                                                                                           prefix: str) -> None:
    svc = bridge_on_clock
    await register(svc)
    flagged = await post(svc, rec("p", store_row(1, uscc=PILOT)))
    assert flagged["counts"]["flagged"] == 1 and flagged["results"][0]["findings"][0]["code"] == "uscc-check-failed"
    confirmed = await svc.http.post("/v1/uscc-overrides", json={"uscc": PILOT, "reason": "营业执照原件已核验：试点赋码"},
                                    headers=svc.auth("regulator"))
    assert confirmed.json()["stores_changed"] == 1
    events = [from_record(r.key, r.value, r.headers) for r in await read_topic(kafka_bootstrap, prefix + topics.BRIDGE_SUBJECTS, 4)]
    (update,) = [e for e in events if e.type.endswith("store.updated.v1")]
    assert (update.data["uscc_check"], update.data["changed"], update.data["submission_id"], update.data["period"]) == (
        "overridden", ["uscc_check"], flagged["batch_id"], "2026H1")
    # Once confirmed, the code is not flagged in a later batch.
    later = await post(svc, rec("q", store_row(2, uscc=PILOT)))
    assert (later["counts"]["flagged"], later["results"][0]["findings"]) == (0, [])


async def test_too_many_records_another_platform_or_a_body_that_is_no_batch_is_a_problem_and_applies_nothing(bridge: Running) -> None:
    await register(bridge)
    own = bridge.auth("platform", platform="P001")
    too_many = await bridge.http.post(URL, json={"records": [rec(f"r{n}", store_row(n)) for n in range(101)]}, headers=own)
    assert too_many.status_code == 422 and too_many.headers["content-type"] == PROBLEM
    assert too_many.json()["type"].endswith("batch-too-large") and too_many.json()["limit"] == 100 and "100" in too_many.json()["detail"]
    assert (await bridge.http.post(URL, json=[rec("r", store_row(1))], headers=own)).status_code == 422
    assert (await bridge.http.post(URL, content=b"{not json", headers=own | {"content-type": "application/json"})).status_code == 422
    other = await bridge.http.post(URL, json={"records": [rec("r", store_row(1))]}, headers=bridge.auth("platform", platform="P002"))
    assert other.status_code == 403 and other.headers["content-type"] == PROBLEM
    regulator = await bridge.http.post(URL, json={"records": [rec("r", store_row(1))]}, headers=bridge.auth("regulator"))
    assert regulator.status_code == 403
    unknown = await bridge.http.post("/v1/platforms/P404/stores/batch", json={"records": [rec("r", store_row(1))]},
                                     headers=bridge.auth("platform", platform="P404"))
    assert unknown.status_code == 404
    assert await rows(bridge, sa.select(stores)) == []
    assert await rows(bridge, sa.select(audit).where(audit.c.action == "store_batch.applied")) == []
    hidden = await bridge.http.get("/v1/platforms/P001/store-batches", headers=bridge.auth("platform", platform="P002"))
    assert hidden.status_code == 404


async def test_a_batch_of_refused_records_is_audited_but_no_exchange(bridge: Running) -> None:
    await register(bridge)
    answer = await post(bridge, {"store_id": "S1"}, rec("r", store_row(1, region="990000")))
    assert [r["outcome"] for r in answer["results"]] == ["refused", "refused"]
    assert answer["results"][0]["findings"][0]["code"] == "record-id-missing"
    (entry,) = await rows(bridge, sa.select(audit).where(audit.c.action == "store_batch.applied"))
    assert entry["detail"]["refused"] == 2
    types = [dict(r["headers"])["ce_type"] for r in await rows(bridge, sa.select(outbox))]
    assert StoresBatchApplied.event_type not in types and not any(".store." in t for t in types)
