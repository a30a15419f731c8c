"""Semi-annual submissions: streamed, checked row by row, applied whole or not at all, the difference published."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest
import sqlalchemy as sa

from contracts import topics, uscc
from contracts.envelope import from_record
from contracts.registry import EVENT_MODELS
from services.bridge import submissions
from services.bridge.store import audit, staged_stores
from services.bridge.submissions import Receiver
from services.runtime.tables import outbox
from tests.bridge.conftest import broken, ndjson, query, register, settled, store_row, store_state, store_uscc, submit
from tests.harness import Running, read_topic, running

PROBLEM = "application/problem+json"


async def outbox_count(svc: Running) -> int:
    (row,) = await query(svc, sa.select(sa.func.count().label("n")).select_from(outbox))
    return int(row["n"])


async def test_a_malformed_row_is_reported_with_its_line_and_the_rest_is_applied(bridge: Running) -> None:
    await register(bridge)
    body = ndjson([store_row(1), store_row(2)]) + b'{"store_id": "S-broken", "merchant_name": \n' + ndjson([store_row(3, region="330104"), store_row(4)])
    answer = await submit(bridge, body)
    assert answer.status_code == 202, answer.text
    assert answer.headers["location"] == f"/v1/submissions/{answer.json()['submission_id']}"
    done = await settled(bridge, answer.json()["submission_id"])
    assert (done["state"], done["rows_total"], done["rows_staged"], done["rows_refused"], done["registered"]) == ("applied", 5, 3, 2, 3)
    report = await bridge.http.get(f"/v1/submissions/{done['submission_id']}/errors", headers=bridge.auth("platform", platform="P001"))
    assert [(f["line"], f["code"]) for f in report.json()["findings"]] == [(3, "not-json"), (4, "region-invalid")]
    assert report.json()["findings"][1]["store_id"] == "S000003" and report.json()["findings"][1]["field"] == "region"
    assert sorted(await store_state(bridge, "P001")) == ["S000001", "S000002", "S000004"]


async def test_csv_with_a_quoted_newline_and_a_bom_is_read_by_line(bridge: Running) -> None:
    await register(bridge)
    header = "store_id,merchant_name,uscc,address,region,shop_name,shop_url,category,above_threshold,extra\r\n"
    good = f'S1,"杭州一号, 有限公司",{store_uscc(1)},"文三路\n1号",330106,店一,https://s.example.com/1,食品,是,x\r\n'
    short = "S2,只有三列,x\r\n"
    third = f"S3,杭州三号,{store_uscc(3)},文三路3号,330114,店三,https://s.example.com/3,服装,0,y\r\n"
    answer = await submit(bridge, ("\ufeff" + header + good + short + third).encode(), fmt="csv")
    done = await settled(bridge, answer.json()["submission_id"])
    assert (done["rows_staged"], done["rows_refused"]) == (2, 1)
    report = (await bridge.http.get(f"/v1/submissions/{done['submission_id']}/errors", headers=bridge.auth("regulator"))).json()
    assert [(f["line"], f["code"]) for f in report["findings"]] == [(1, "unknown-column"), (4, "csv-columns")]
    one = (await bridge.http.get("/v1/platforms/P001/stores/S1", headers=bridge.auth("regulator"))).json()
    assert (one["merchant_name"], one["address"], one["above_threshold"]) == ("杭州一号, 有限公司", "文三路\n1号", True)


@pytest.mark.parametrize(
    ("body", "fmt", "content_type", "status"),
    [
        (b"PK\x03\x04\x14\x00\x06\x00binary-spreadsheet", "csv", "text/csv", 415),
        (b'[{"store_id": "S1"}]\n', "ndjson", "application/x-ndjson", 422),
        (b"store_id,merchant_name\nS1,x\n", "ndjson", "application/x-ndjson", 422),
        (ndjson([store_row(1)]), "csv", "text/csv", 422),
        (ndjson([store_row(1)]), "ndjson", "text/csv", 415),
        (ndjson([store_row(1)]), "xlsx", "application/octet-stream", 415),
        (b"\xff\xfe\x00s\x00t", "ndjson", "application/x-ndjson", 415),
        (b"", "ndjson", "application/x-ndjson", 422),
    ],
)
async def test_a_file_that_is_not_the_declared_format_is_refused_at_once(bridge: Running, body: bytes, fmt: str, content_type: str,
                                                                          status: int) -> None:
    await register(bridge)
    answer = await submit(bridge, body, fmt=fmt, content_type=content_type)
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith(PROBLEM)
    listed = await bridge.http.get("/v1/platforms/P001/submissions", headers=bridge.auth("regulator"))
    assert listed.json()["submissions"] == []  # nothing was even opened


async def test_a_platform_submitting_for_another_platform_gets_403(bridge: Running) -> None:
    await register(bridge)
    await register(bridge, platform_id="P002")
    answer = await bridge.http.post(
        "/v1/platforms/P002/submissions", params={"format": "ndjson", "period": "2026H1"}, content=ndjson([store_row(1)]),
        headers=bridge.auth("platform", platform="P001") | {"content-type": "application/x-ndjson"})
    assert answer.status_code == 403 and answer.headers["content-type"].startswith(PROBLEM)
    regulator = await bridge.http.post("/v1/platforms/P001/submissions", params={"period": "2026H1", "format": "ndjson"},
                                       content=ndjson([store_row(1)]), headers=bridge.auth("regulator"))
    assert regulator.status_code == 403
    bad_period = await submit(bridge, ndjson([store_row(1)]), period="2026Q1")
    assert bad_period.status_code == 422


async def test_another_platform_cannot_read_a_submission_or_its_stores(bridge: Running) -> None:
    await register(bridge)
    done = await settled(bridge, (await submit(bridge, ndjson([store_row(1)]))).json()["submission_id"])
    other = bridge.auth("platform", platform="P002")
    assert (await bridge.http.get(f"/v1/submissions/{done['submission_id']}", headers=other)).status_code == 404
    assert (await bridge.http.get(f"/v1/submissions/{done['submission_id']}/errors", headers=other)).status_code == 404
    assert (await bridge.http.get("/v1/platforms/P001/stores/S000001", headers=other)).status_code == 404
    assert (await bridge.http.get(f"/v1/merchants/{store_uscc(1)}/stores", headers=other)).json()["stores"] == []


async def test_the_difference_to_the_last_submission_becomes_registered_updated_and_closed_events(bridge: Running, kafka_bootstrap: str,
                                                                                                   prefix: str) -> None:
    await register(bridge)
    first = await settled(bridge, (await submit(bridge, ndjson([store_row(n) for n in range(5)]))).json()["submission_id"])
    assert (first["registered"], first["updated"], first["closed"]) == (5, 0, 0)
    second_rows = [store_row(n, category="服装" if n == 2 else "食品") for n in range(1, 6)]
    second = await settled(bridge, (await submit(bridge, ndjson(second_rows), period="2026H2")).json()["submission_id"])
    assert (second["registered"], second["updated"], second["closed"], second["unchanged"]) == (1, 1, 1, 3)

    records = await read_topic(kafka_bootstrap, prefix + topics.BRIDGE_SUBJECTS, 1 + 5 + 1 + 3 + 1)
    events = [from_record(r.key, r.value, r.headers) for r in records]
    for envelope in events:  # what travels validates against the contract, whatever the fast path built
        EVENT_MODELS[envelope.type].model_validate(envelope.data)
    # Each submission is also one event of its own (one data exchange), with its counts.
    applied = {e.data["submission_id"]: e.data for e in events if e.type == "redshield.bridge.submission.applied.v1"}
    assert set(applied) == {first["submission_id"], second["submission_id"]}
    assert (applied[second["submission_id"]]["registered"], applied[second["submission_id"]]["closed"]) == (1, 1)
    # Partitions keep each store's order, not the topic's: pick the second submission's events by their data.
    tail = [e for e in events if e.data.get("submission_id") == second["submission_id"] and ".store." in e.type]
    assert {(e.type.split(".")[3], e.subject) for e in tail} == {("registered", "P001/S000005"), ("updated", "P001/S000002"),
                                                                   ("closed", "P001/S000000")}
    updated = next(e for e in tail if e.type.endswith("updated.v1"))
    assert updated.data["changed"] == ["category"] and updated.data["period"] == "2026H2"
    assert (updated.region, updated.platformid, updated.key) == ("330106", "P001", b"P001/S000002")
    closed = (await bridge.http.get("/v1/platforms/P001/stores/S000000", headers=bridge.auth("regulator"))).json()
    assert closed["status"] == "closed"

    # The same file again: no store changes, so only the submission itself (one more exchange) is published.
    before = await outbox_count(bridge)
    again = await settled(bridge, (await submit(bridge, ndjson(second_rows), period="2026H2")).json()["submission_id"])
    assert (again["registered"], again["updated"], again["closed"], again["unchanged"]) == (0, 0, 0, 5)
    assert await outbox_count(bridge) == before + 1


async def test_a_refused_row_does_not_close_its_store(bridge: Running) -> None:
    await register(bridge)
    await settled(bridge, (await submit(bridge, ndjson([store_row(1), store_row(2)]))).json()["submission_id"])
    done = await settled(bridge, (await submit(bridge, ndjson([store_row(1), store_row(2, shop_url="not a url")]))).json()["submission_id"])
    assert (done["closed"], done["rows_refused"]) == (0, 1)
    assert (await store_state(bridge, "P001"))["S000002"][0] == "open"


async def test_a_file_with_no_valid_row_is_rejected_instead_of_closing_every_store(bridge: Running) -> None:
    await register(bridge)
    await settled(bridge, (await submit(bridge, ndjson([store_row(1)]))).json()["submission_id"])
    answer = await submit(bridge, ndjson([{"store_id": "x"}]))
    assert answer.json()["state"] == "rejected"
    assert (await store_state(bridge, "P001"))["S000001"][0] == "open"


async def test_a_duplicate_store_id_keeps_the_first_row_even_across_batches(bridge: Running, monkeypatch: pytest.MonkeyPatch,
                                                                              kafka_bootstrap: str, prefix: str,
                                                                              database: tuple[str, str | None]) -> None:
    monkeypatch.setenv("REDSHIELD_BRIDGE_SUBMISSION_BATCH_ROWS", "2")
    async with running("bridge", kafka=kafka_bootstrap, prefix=prefix + "b.", database=database) as small:
        await register(small)
        rows = [store_row(1), store_row(2), store_row(3), store_row(1, category="服装"), store_row(2, category="服装")]
        done = await settled(small, (await submit(small, ndjson(rows))).json()["submission_id"])
        assert (done["rows_staged"], done["rows_refused"]) == (3, 2)
        report = (await small.http.get(f"/v1/submissions/{done['submission_id']}/errors", headers=small.auth("regulator"))).json()
        assert [(f["line"], f["code"], f["store_id"]) for f in report["findings"]] == [(4, "duplicate-store-id", "S000001"),
                                                                                        (5, "duplicate-store-id", "S000002")]
        assert {k: v[3] for k, v in (await store_state(small, "P001")).items()} == {"S000001": "食品", "S000002": "食品", "S000003": "食品"}


async def test_a_broken_upload_applies_nothing_and_a_resend_ends_where_an_uninterrupted_one_does(
        monkeypatch: pytest.MonkeyPatch, kafka_bootstrap: str, prefix: str, database: tuple[str, str | None]) -> None:
    monkeypatch.setenv("REDSHIELD_BRIDGE_SUBMISSION_BATCH_ROWS", "50")
    async with running("bridge", kafka=kafka_bootstrap, prefix=prefix, database=database) as svc:
        await register(svc)
        await register(svc, platform_id="P002")
        first = ndjson([store_row(n) for n in range(100)])
        second = ndjson([store_row(n, category="服装" if n % 7 == 0 else "食品") for n in range(40, 400)])
        for platform in ("P001", "P002"):
            await settled(svc, (await submit(svc, first, platform=platform)).json()["submission_id"], platform)
        applied_once = await store_state(svc, "P001")
        events_before = await outbox_count(svc)

        # P001's second upload breaks off after several batches were staged.
        headers = svc.auth("platform", platform="P001") | {"content-type": "application/x-ndjson", "Idempotency-Key": "2026H2-a"}
        with contextlib.suppress(Exception):
            answer = await svc.http.post("/v1/platforms/P001/submissions", params={"format": "ndjson", "period": "2026H2"},
                                         content=broken(second, len(second) // 2), headers=headers)
            assert answer.status_code >= 400
        (attempt,) = (await svc.http.get("/v1/platforms/P001/submissions", headers=svc.auth("regulator"))).json()["submissions"][:1]
        assert attempt["state"] == "interrupted" and attempt["rows_staged"] > 0 and "ConnectionResetError" in attempt["failure"]
        assert await store_state(svc, "P001") == applied_once
        assert await outbox_count(svc) == events_before
        # Its staged rows wait for the rest of the file (tests/bridge/test_submission_resume.py); a resend discards them.
        assert len(await query(svc, sa.select(staged_stores))) == attempt["rows_staged"]

        # Resent with the same key: applied once; P002 gets the same file in one go.
        resent = await submit(svc, second, period="2026H2", key="2026H2-a")
        assert resent.status_code == 202 and resent.json()["submission_id"] != attempt["submission_id"]
        done = await settled(svc, resent.json()["submission_id"])
        straight = await settled(svc, (await submit(svc, second, platform="P002", period="2026H2")).json()["submission_id"], "P002")
        counts = ("registered", "updated", "closed", "unchanged")
        assert [done[k] for k in counts] == [straight[k] for k in counts] == [300, 9, 40, 51]
        assert await store_state(svc, "P001") == await store_state(svc, "P002")

        # And once more with the same key: answered with the applied submission, nothing read, nothing applied twice.
        events_after = await outbox_count(svc)
        replay = await submit(svc, second, period="2026H2", key="2026H2-a")
        assert replay.status_code == 200 and replay.json()["duplicate"] is True
        assert replay.json()["submission_id"] == done["submission_id"]
        assert await query(svc, sa.select(staged_stores)) == []
        assert await outbox_count(svc) == events_after
        actions = [a["action"] for a in await query(svc, sa.select(audit).order_by(audit.c.id))]
        assert actions.count("submission.resent") == 1 and actions.count("submission.applied") == 4


async def test_an_upload_larger_than_the_service_body_limit_streams_through(bridge: Running) -> None:
    await register(bridge)
    body = ndjson([store_row(n) for n in range(4000)])
    assert len(body) > bridge.service.settings.max_body_bytes
    done = await settled(bridge, (await submit(bridge, body)).json()["submission_id"])
    assert (done["state"], done["registered"]) == ("applied", 4000)
    page = (await bridge.http.get("/v1/platforms/P001/stores", params={"limit": 1000}, headers=bridge.auth("regulator"))).json()
    assert len(page["stores"]) == 1000 and page["next"] == "S000999"
    too_big = await bridge.http.post("/v1/platforms", content=b"x" * (bridge.service.settings.max_body_bytes + 1),
                                     headers=bridge.auth("regulator") | {"content-type": "application/json"})
    assert too_big.status_code == 413


async def test_a_person_overrides_a_flagged_uscc_once_for_every_store_and_later_submission(bridge: Running, kafka_bootstrap: str,
                                                                                             prefix: str) -> None:
    await register(bridge)
    await register(bridge, platform_id="P002")
    good = store_uscc(7)
    pilot = good[:17] + next(ch for ch in uscc.ALPHABET if ch != good[17])
    rows = [store_row(7, uscc=pilot), store_row(8)]
    for platform in ("P001", "P002"):
        done = await settled(bridge, (await submit(bridge, ndjson(rows), platform=platform)).json()["submission_id"], platform)
        assert (done["rows_staged"], done["rows_flagged"]) == (2, 1)
    merchant = (await bridge.http.get(f"/v1/merchants/{pilot}/stores", headers=bridge.auth("regulator"))).json()
    assert merchant["platforms"] == ["P001", "P002"] and {s["uscc_check"] for s in merchant["stores"]} == {"check_failed"}

    refused = await bridge.http.post("/v1/uscc-overrides", json={"uscc": pilot, "reason": "平台自己说是真的"},
                                    headers=bridge.auth("platform", platform="P001"))
    assert refused.status_code == 403
    answer = await bridge.http.post("/v1/uscc-overrides", json={"uscc": pilot, "reason": "核验营业执照原件，试点赋码"}, headers=bridge.auth("regulator"))
    assert answer.json() == {"uscc": pilot, "recorded": True, "stores_changed": 2, "websites_changed": 0,
                             "new_form_subjects_changed": 0}
    again = await bridge.http.post("/v1/uscc-overrides", json={"uscc": pilot, "reason": "核验营业执照原件，试点赋码"}, headers=bridge.auth("regulator"))
    assert again.json()["recorded"] is False and again.json()["stores_changed"] == 0
    valid = await bridge.http.post("/v1/uscc-overrides", json={"uscc": good, "reason": "没有必要的覆盖"}, headers=bridge.auth("regulator"))
    assert valid.status_code == 422

    records = await read_topic(kafka_bootstrap, prefix + topics.BRIDGE_SUBJECTS, 2 + 4 + 2 + 2)
    overrides = [e for e in (from_record(r.key, r.value, r.headers) for r in records) if e.data.get("changed") == ["uscc_check"]]
    assert {(e.subject, e.data["uscc_check"], tuple(e.data["changed"])) for e in overrides} == {
        ("P001/S000007", "overridden", ("uscc_check",)), ("P002/S000007", "overridden", ("uscc_check",))}
    # A later submission with the same code is no longer flagged, and the store stays overridden.
    later = await settled(bridge, (await submit(bridge, ndjson(rows), period="2026H2")).json()["submission_id"])
    assert later["rows_flagged"] == 0 and later["updated"] == 0
    assert (await bridge.http.get("/v1/platforms/P001/stores/S000007", headers=bridge.auth("regulator"))).json()["uscc_check"] == "overridden"
    overridden = await query(bridge, sa.select(audit).where(audit.c.action == "uscc.overridden"))
    assert [(a["actor"], a["detail"]["stores"]) for a in overridden] == [("test:regulator", 2)]


async def test_a_bureau_sees_the_stores_of_its_region_only(bridge: Running) -> None:
    await register(bridge)
    await settled(bridge, (await submit(bridge, ndjson([store_row(1), store_row(2, region="310101")]))).json()["submission_id"])
    hangzhou = (await bridge.http.get("/v1/platforms/P001/stores", headers=bridge.auth("bureau", region="330100"))).json()["stores"]
    shanghai = (await bridge.http.get("/v1/platforms/P001/stores", headers=bridge.auth("bureau", region="310000"))).json()["stores"]
    assert [s["store_id"] for s in hangzhou] == ["S000001"] and [s["store_id"] for s in shanghai] == ["S000002"]
    assert all("id_number_enc" not in s and "digest" not in s for s in hangzhou)


async def test_the_next_batch_is_checked_while_the_previous_one_is_staged_and_each_records_its_own_progress(
        monkeypatch: pytest.MonkeyPatch, kafka_bootstrap: str, prefix: str, database: tuple[str, str | None]) -> None:
    monkeypatch.setenv("REDSHIELD_BRIDGE_SUBMISSION_BATCH_ROWS", "40")
    monkeypatch.setattr(submissions, "_TURN_ROWS", 10)  # a 200-row file arrives in one chunk: turns by rows only
    log: list[str] = []
    committed: list[int] = []
    check, flush = Receiver._check, Receiver._flush

    def checking(self: Receiver, item: Any, fast: Any, batch: Any) -> None:
        log.append("check")
        check(self, item, fast, batch)

    async def staging(self: Receiver, submission_id: str, part: int, batch: Any) -> list[str]:
        log.append("stage-start")
        await asyncio.sleep(0.2)  # a slow database
        staged = await flush(self, submission_id, part, batch)
        committed.append(batch.bytes_read)
        log.append("stage-end")
        return staged

    monkeypatch.setattr(Receiver, "_check", checking)
    monkeypatch.setattr(Receiver, "_flush", staging)
    async with running("bridge", kafka=kafka_bootstrap, prefix=prefix, database=database) as svc:
        await register(svc)
        body = ndjson([store_row(n) for n in range(200)])

        async def chunks() -> AsyncIterator[bytes]:  # as a client streams it: progress moves chunk by chunk
            for start in range(0, len(body), 4096):
                yield body[start:start + 4096]

        answer = await svc.http.post("/v1/platforms/P001/submissions", params={"format": "ndjson", "period": "2026H1"},
                                     content=chunks(), headers=svc.auth("platform", platform="P001") | {"content-type": "application/x-ndjson"})
        done = await settled(svc, answer.json()["submission_id"])
    assert done["rows_staged"] == 200 and done["registered"] == 200
    # Rows were checked while a batch was being staged, and never two stagings at once.
    inside, overlapped = False, False
    for what in log:
        if what == "stage-start":
            assert not inside
            inside = True
        elif what == "stage-end":
            inside = False
        elif inside:
            overlapped = True
    assert overlapped
    # Each batch's commit recorded the bytes read when it was complete (not when its write ran, by which time the next
    # batch had been read on): in file order, moving with the chunks, the last one the whole file.
    assert committed == sorted(committed) and committed[-1] == len(body) and len(set(committed)) >= 5
