"""Platform first handling through the real parts: HTTP, the platforms' answers feeds on the real broker, the
deadline scheduler on a clock the test moves, SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

import orjson
import pytest
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError

from contracts import topics
from contracts.envelope import Envelope, header_map
from services.channel.scheduler import DeadlineScheduler
from services.channel.store import audit, complaints, deadlines
from services.runtime.calendar import CHINA_TIME
from services.runtime.clock import FixedClock
from services.runtime.tables import outbox
from tests.flow.test_complaint_to_cockpit import filing
from tests.harness import Running, eventually, produce, read_topic, running

FILED_AT = datetime(2026, 11, 20, 10, 0, tzinfo=CHINA_TIME)  # Friday; first handling is due Fri 4 Dec


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(FILED_AT)


@pytest.fixture
async def channel(kafka_bootstrap: str, prefix: str, database: tuple[str, str | None], clock: FixedClock) -> AsyncIterator[Running]:
    async with running("channel", kafka=kafka_bootstrap, prefix=prefix, database=database, clock=clock,
                       deadline_scan_interval_ms=100, kafka_metadata_max_age_ms=1000) as svc:
        yield svc


async def file(channel: Running, pcid: str, platform: str = "P001", **changes: Any) -> str:
    answer = await channel.http.post("/v1/complaints", json=filing(pcid, **changes), headers=channel.auth("platform", platform=platform))
    assert answer.status_code == 202, answer.text
    return str(answer.json()["complaint_id"])


async def state_of(channel: Running, complaint_id: str) -> str:
    assert channel.service.engine is not None
    async with channel.service.engine.connect() as conn:
        return str((await conn.execute(sa.select(complaints.c.state).where(complaints.c.complaint_id == complaint_id))).scalar_one())


async def published(channel: Running, event_type: str, complaint_id: str | None = None, topic: str = topics.CHANNEL_COMPLAINTS) -> list[dict[str, Any]]:
    """Events of one type channel committed to its outbox for ``topic`` (sent or not)."""
    assert channel.service.engine is not None
    async with channel.service.engine.connect() as conn:
        rows = (await conn.execute(sa.select(outbox.c.topic, outbox.c.headers, outbox.c.value, outbox.c.key).order_by(outbox.c.seq))).all()
    found = []
    for row in rows:
        headers = dict(row.headers)
        if row.topic == topic and headers["ce_type"] == event_type and (complaint_id is None or row.key.decode() == complaint_id):
            found.append({"topic": row.topic, "data": orjson.loads(row.value), "headers": headers})
    return found


# -- the platform's list and its answers over HTTP -----------------------------------------------------------
async def test_a_platform_lists_its_assigned_complaints_by_cursor_and_sees_no_one_elses(channel: Running) -> None:
    ids = [await file(channel, f"L-{n}") for n in range(5)]
    await file(channel, "L-other", platform="P002")
    report = await file(channel, "L-report", kind="report")
    headers = channel.auth("platform", platform="P001")
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        params: dict[str, Any] = {"state": "assigned_to_platform", "limit": 2} | ({"cursor": cursor} if cursor else {})
        page = await channel.http.get("/v1/platform/complaints", params=params, headers=headers)
        assert page.status_code == 200, page.text
        body = page.json()
        pages += 1
        seen += [item["complaint_id"] for item in body["items"]]
        for item in body["items"]:
            assert item["state"] == "assigned_to_platform"
            assert item["deadline"] == {"kind": "first_handling", "due": "2026-12-04", "provisional": False}
        cursor = body.get("next_cursor")
        if not cursor:
            break
    assert seen == sorted(ids) and pages == 3
    everything = (await channel.http.get("/v1/platform/complaints", headers=headers)).json()["items"]
    assert {i["complaint_id"] for i in everything} == {*ids, report}
    assert {i["state"] for i in everything if i["complaint_id"] == report} == {"verification"}


async def test_listing_is_for_platforms_and_a_bad_cursor_or_state_is_a_422_problem(channel: Running) -> None:
    assert (await channel.http.get("/v1/platform/complaints", headers=channel.auth("regulator"))).status_code == 403
    bad_cursor = await channel.http.get("/v1/platform/complaints", params={"cursor": "%%%"}, headers=channel.auth("platform", platform="P001"))
    bad_state = await channel.http.get("/v1/platform/complaints", params={"state": "lost"}, headers=channel.auth("platform", platform="P001"))
    assert bad_cursor.status_code == 422 and bad_cursor.json()["errors"][0]["field"] == "query.cursor"
    assert bad_state.status_code == 422 and "query.state" in [e["field"] for e in bad_state.json()["errors"]]


async def test_settled_answer_then_a_second_answer_is_a_409_with_the_current_state(channel: Running) -> None:
    complaint_id = await file(channel, "S-1")
    headers = channel.auth("platform", platform="P001")
    first = await channel.http.post(f"/v1/complaints/{complaint_id}/answer", json={"outcome": "settled", "refund_amount": "299"}, headers=headers)
    assert first.status_code == 200, first.text
    assert first.json() == {"complaint_id": complaint_id, "state": "platform_settled", "deadline": None}
    second = await channel.http.post(f"/v1/complaints/{complaint_id}/answer", json={"outcome": "not_settled"}, headers=headers)
    assert second.status_code == 409
    assert second.headers["content-type"].startswith("application/problem+json")
    assert second.json()["state"] == "platform_settled"
    assert second.json()["type"].endswith("/already-answered")
    (responded,) = await published(channel, "redshield.channel.complaint.platform_responded.v1", complaint_id)
    assert responded["data"]["outcome"] == "settled" and responded["data"]["refund_amount"] == "299.00"
    assert responded["headers"]["ce_platformid"] == "P001" and responded["headers"]["ce_region"] == "330106"


async def test_not_settled_moves_to_the_bureau_with_its_acceptance_deadline(channel: Running) -> None:
    complaint_id = await file(channel, "N-1")
    answer = await channel.http.post(f"/v1/complaints/{complaint_id}/answer", json={"outcome": "not_settled"},
                                     headers=channel.auth("platform", platform="P001"))
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"complaint_id": complaint_id, "state": "awaiting_acceptance",
                             "deadline": {"kind": "acceptance", "due": "2026-12-01", "provisional": False}}
    (referred,) = await published(channel, "redshield.channel.complaint.referred.v1", complaint_id)
    assert referred["data"]["reason"] == "not_settled" and referred["topic"] == topics.CHANNEL_COMPLAINTS


async def test_another_platforms_complaint_answers_404_like_a_missing_one(channel: Running) -> None:
    complaint_id = await file(channel, "O-1")
    other = await channel.http.post(f"/v1/complaints/{complaint_id}/answer", json={"outcome": "settled"},
                                    headers=channel.auth("platform", platform="P002"))
    missing = await channel.http.post("/v1/complaints/no-such/answer", json={"outcome": "settled"}, headers=channel.auth("platform", platform="P002"))
    assert other.status_code == 404 and missing.status_code == 404
    assert await state_of(channel, complaint_id) == "assigned_to_platform"


async def test_answering_a_report_is_a_409_naming_both_states(channel: Running) -> None:
    report = await file(channel, "R-1", kind="report")
    answer = await channel.http.post(f"/v1/complaints/{report}/answer", json={"outcome": "settled"}, headers=channel.auth("platform", platform="P001"))
    assert answer.status_code == 409
    body = answer.json()
    assert (body["state"], body["target_state"]) == ("verification", "platform_settled")
    assert "'verification'" in body["detail"] and "'platform_settled'" in body["detail"]


@pytest.mark.parametrize(
    ("body", "status", "field_or_type"),
    [
        ({"outcome": "contested"}, 422, "ground-required"),
        ({"outcome": "not_settled", "refund_amount": "5"}, 422, "ground-required"),
        ({"outcome": "maybe"}, 422, "outcome"),
        ({"outcome": "settled", "refund_amount": "1.234"}, 422, "refund_amount"),
        ({"outcome": "settled", "extra": 1}, 422, "extra"),
    ],
)
async def test_a_bad_answer_is_a_problem_and_changes_nothing(channel: Running, body: dict[str, Any], status: int, field_or_type: str) -> None:
    complaint_id = await file(channel, "B-1")
    answer = await channel.http.post(f"/v1/complaints/{complaint_id}/answer", json=body, headers=channel.auth("platform", platform="P001"))
    assert answer.status_code == status
    problem = answer.json()
    assert problem["type"].endswith(field_or_type) or field_or_type in [e["field"] for e in problem.get("errors", [])]
    assert await state_of(channel, complaint_id) == "assigned_to_platform"
    assert await published(channel, "redshield.channel.complaint.platform_responded.v1") == []


async def test_only_the_platform_answers(channel: Running) -> None:
    complaint_id = await file(channel, "P-1")
    answer = await channel.http.post(f"/v1/complaints/{complaint_id}/answer", json={"outcome": "settled"}, headers=channel.auth("regulator"))
    assert answer.status_code == 403


async def test_every_transition_is_in_the_insert_only_audit_trail(channel: Running) -> None:
    complaint_id = await file(channel, "A-1")
    await channel.http.post(f"/v1/complaints/{complaint_id}/answer", json={"outcome": "contested", "reason": "已发货"},
                            headers=channel.auth("platform", platform="P001"))
    assert channel.service.engine is not None
    async with channel.service.engine.connect() as conn:
        rows = (await conn.execute(sa.select(audit).where(audit.c.complaint_id == complaint_id).order_by(audit.c.seq))).all()
    assert [(r.from_state, r.to_state) for r in rows] == [
        ("received", "assigned_to_platform"),
        ("assigned_to_platform", "platform_contested"),
        ("platform_contested", "awaiting_acceptance"),
    ]
    assert [r.actor_role for r in rows] == ["system", "platform", "system"]
    assert rows[1].actor == "test:platform" and rows[1].ground == "answer:contested" and rows[1].detail == "已发货"
    assert rows[2].rule_id == "samr-order-121/acceptance"
    for statement in (sa.update(audit).values(ground="tampered"), sa.delete(audit)):
        with pytest.raises(DBAPIError, match="insert-only"):
            async with channel.service.engine.begin() as conn:
                await conn.execute(statement)


# -- answers on the platform's own Kafka feed ----------------------------------------------------------------
def answer_record(platform: str, complaint_id: str, source: str | None = None, **data: Any) -> Envelope:
    return Envelope(type="redshield.platform.complaint.answered.v1", source=source or f"/platforms/{platform}", subject=complaint_id,
                    data={"complaint_id": complaint_id, **data}, platformid=platform)


async def test_first_handling_round_trip_over_the_real_feeds(channel: Running, kafka_bootstrap: str, prefix: str) -> None:
    settled_id = await file(channel, "K-1")
    contested_id = await file(channel, "K-2")
    # The platform learns of its assignments on its notify topic.
    notified = await read_topic(kafka_bootstrap, prefix + topics.notify("P001"), 2)
    assert {header_map(r.headers)["ce_type"] for r in notified} == {b"redshield.channel.complaint.assigned.v1"}
    assert {orjson.loads(r.value)["complaint_id"] for r in notified} == {settled_id, contested_id}

    good = answer_record("P001", settled_id, outcome="settled", refund_amount="299.00")
    contested = answer_record("P001", contested_id, outcome="contested", reason="商品无质量问题")
    again = answer_record("P001", settled_id, outcome="not_settled")  # a second answer
    impostor = answer_record("P002", contested_id, outcome="settled")  # P002's source on P001's feed
    unknown = answer_record("P001", "no-such-complaint", outcome="settled")
    no_reason = answer_record("P001", contested_id, outcome="contested")
    foreign_type = Envelope(type="redshield.platform.disposal.acknowledged.v1", source="/platforms/P001", subject="D-1", data={"order_id": "D-1"})
    records = [good, contested, again, impostor, unknown, no_reason, foreign_type, good]  # good twice: a producer retry
    await produce(kafka_bootstrap, prefix + topics.feed_answers("P001"), [(b"one-partition", e.value(), e.headers()) for e in records])

    async def both_moved() -> bool:
        return (await state_of(channel, settled_id), await state_of(channel, contested_id)) == ("platform_settled", "awaiting_acceptance")

    await eventually(both_moved, timeout=60)
    dead = await read_topic(kafka_bootstrap, prefix + topics.dlq("channel-answers"), 4)
    reasons = sorted(header_map(r.headers)["x-dlq-reason"].decode() for r in dead)
    assert reasons == ["already-answered", "already-answered", "platform-mismatch", "unknown-complaint"]
    errors = " ".join(header_map(r.headers)["x-dlq-error"].decode() for r in dead)
    assert "platform_settled" in errors and "awaiting_acceptance" in errors  # each conflict names the current state
    assert len(await published(channel, "redshield.channel.complaint.platform_responded.v1", settled_id)) == 1  # the retry was a no-op
    assert len(await published(channel, "redshield.channel.complaint.referred.v1", contested_id)) == 1


async def test_a_contested_answer_without_reason_on_the_feed_goes_to_the_dlq(channel: Running, kafka_bootstrap: str, prefix: str) -> None:
    complaint_id = await file(channel, "K-3")
    bad = answer_record("P001", complaint_id, outcome="contested")
    wrong_schema = answer_record("P001", complaint_id, outcome="perhaps")
    await produce(kafka_bootstrap, prefix + topics.feed_answers("P001"), [(e.key, e.value(), e.headers()) for e in (bad, wrong_schema)])
    dead = await read_topic(kafka_bootstrap, prefix + topics.dlq("channel-answers"), 2)
    assert sorted(header_map(r.headers)["x-dlq-reason"].decode() for r in dead) == ["ground-required", "schema"]
    assert await state_of(channel, complaint_id) == "assigned_to_platform"


# -- deadlines on a clock the test moves ---------------------------------------------------------------------
async def test_a_platform_that_never_answers_gets_approaching_then_missed_once_each_and_the_bureau_takes_over(
    channel: Running, clock: FixedClock, kafka_bootstrap: str, prefix: str
) -> None:
    complaint_id = await file(channel, "Z-1")
    answered_id = await file(channel, "Z-2")
    await channel.http.post(f"/v1/complaints/{answered_id}/answer", json={"outcome": "settled"}, headers=channel.auth("platform", platform="P001"))

    clock.advance(timedelta(days=11, hours=14, minutes=1))  # Wed 2 Dec 00:01: two working days before the last day
    approaching = await eventually(lambda: published(channel, "redshield.channel.complaint.deadline_approaching.v1"), timeout=30)
    assert [e["data"]["complaint_id"] for e in approaching] == [complaint_id]  # the answered one's deadline closed
    assert approaching[0]["data"]["deadline"] == {"kind": "first_handling", "due": "2026-12-04", "provisional": False}

    clock.advance(timedelta(days=2, hours=23, minutes=58))  # Fri 4 Dec 23:59: the last day is not over yet
    await _scheduler(channel).run_once()
    assert await published(channel, "redshield.channel.complaint.deadline_missed.v1") == []
    clock.advance(timedelta(minutes=2))  # Sat 5 Dec 00:01
    missed = await eventually(lambda: published(channel, "redshield.channel.complaint.deadline_missed.v1"), timeout=30)
    await eventually(lambda: _state_is(channel, complaint_id, "awaiting_acceptance"), timeout=30)
    assert [e["data"]["state"] for e in missed] == ["assigned_to_platform"]
    (referred,) = await published(channel, "redshield.channel.complaint.referred.v1", complaint_id)
    assert referred["data"]["reason"] == "first_handling_missed" and referred["data"]["by"] == "system"
    assert referred["data"]["deadline"] == {"kind": "acceptance", "due": "2026-12-15", "provisional": False}

    # However often the scheduler runs from now on, each notice has gone out once.
    for _ in range(3):
        await _scheduler(channel).run_once()
    assert len(await published(channel, "redshield.channel.complaint.deadline_approaching.v1", complaint_id)) == 1
    assert len(await published(channel, "redshield.channel.complaint.deadline_missed.v1", complaint_id)) == 1
    # The bureau's own acceptance deadline is watched in turn (and only flagged: it moves nothing).
    clock.advance(timedelta(days=9))  # Mon 14 Dec: past the approaching day (Fri 11) of the last day, Tue 15
    await eventually(lambda: _count(channel, "redshield.channel.complaint.deadline_approaching.v1", complaint_id, 2), timeout=30)
    clock.advance(timedelta(days=2))
    await eventually(lambda: _count(channel, "redshield.channel.complaint.deadline_missed.v1", complaint_id, 2), timeout=30)
    assert await state_of(channel, complaint_id) == "awaiting_acceptance"
    # The platform reads all of it on the complaints topic, with the extensions bureaus route on.
    records = await read_topic(kafka_bootstrap, prefix + topics.CHANNEL_COMPLAINTS, 10)  # 7 of this item, 3 of the answered one
    mine = [r for r in records if r.key == complaint_id.encode()]
    assert [header_map(r.headers)["ce_type"].decode().split(".")[3] for r in mine] == [
        "received", "assigned", "deadline_approaching", "deadline_missed", "referred", "deadline_approaching", "deadline_missed"
    ]


async def test_a_clock_that_jumps_past_the_whole_window_sends_missed_only(channel: Running, clock: FixedClock) -> None:
    complaint_id = await file(channel, "J-1")
    clock.advance(timedelta(days=30))
    await eventually(lambda: _state_is(channel, complaint_id, "awaiting_acceptance"), timeout=30)
    await _scheduler(channel).run_once()
    assert await published(channel, "redshield.channel.complaint.deadline_approaching.v1", complaint_id) == []
    assert len(await published(channel, "redshield.channel.complaint.deadline_missed.v1", complaint_id)) == 1
    assert channel.service.engine is not None
    async with channel.service.engine.connect() as conn:
        rows = (await conn.execute(sa.select(deadlines).where(deadlines.c.complaint_id == complaint_id).order_by(deadlines.c.set_at))).all()
    first_handling, acceptance = rows
    assert first_handling.kind == "first_handling" and first_handling.closed_at is not None
    assert first_handling.approaching_sent_at is not None and first_handling.missed_sent_at is not None  # never to be sent late
    # The bureau's deadline counts from the referral (first-handling time does not count): it is still ahead.
    assert acceptance.kind == "acceptance" and acceptance.closed_at is None and acceptance.missed_sent_at is None


async def test_a_deadline_reaching_2027_is_provisional(channel: Running, clock: FixedClock) -> None:
    clock.advance(timedelta(days=35))  # Fri 25 Dec 2026
    complaint_id = await file(channel, "Y-1", received_at="2026-12-25T10:00:00+08:00")
    (assigned,) = await published(channel, "redshield.channel.complaint.assigned.v1", complaint_id)
    assert assigned["data"]["deadline"] == {"kind": "first_handling", "due": "2027-01-08", "provisional": True}


def _scheduler(channel: Running) -> DeadlineScheduler:
    scheduler: DeadlineScheduler = channel.app.state.scheduler
    return scheduler


async def _state_is(channel: Running, complaint_id: str, state: str) -> bool:
    return await state_of(channel, complaint_id) == state


async def _count(channel: Running, event_type: str, complaint_id: str, n: int) -> bool:
    return len(await published(channel, event_type, complaint_id)) == n
