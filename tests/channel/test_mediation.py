"""Mediation sessions and paused time: the pure deadline with pauses (calendar days under Order 121, working
days under Order 20, a pause spanning a holiday), and the HTTP acts with their events, audit and conflicts."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta

import pytest

from services.channel.domain import mediation_deadline, paused_days
from services.channel.rules import ORDER_20, ORDER_121
from services.channel.store import audit
from services.runtime.calendar import CHINA_TIME, default_calendar
from services.runtime.clock import FixedClock
from tests.channel.test_bureau_track import act, referred
from tests.channel.test_directory import rows
from tests.channel.test_first_handling import FILED_AT, published
from tests.harness import Running, running

CAL = default_calendar()


def at(day: str) -> datetime:
    return datetime.fromisoformat(day + "T10:00:00").replace(tzinfo=CHINA_TIME)


def test_without_pauses_the_limit_is_the_rule_sets() -> None:
    # Order 121: 60 calendar days from acceptance on Mon 1 Jun 2026 → Fri 31 Jul.
    assert mediation_deadline(ORDER_121.mediation, at("2026-06-01"), [], CAL).due.isoformat() == "2026-07-31"


def test_under_order_121_a_pause_adds_its_calendar_days() -> None:
    pause = [(at("2026-06-10"), at("2026-06-20"))]
    assert paused_days(ORDER_121.mediation, pause, CAL) == 10
    assert mediation_deadline(ORDER_121.mediation, at("2026-06-01"), pause, CAL).due.isoformat() == "2026-08-10"


def test_under_order_121_a_pause_over_national_day_counts_the_holiday_too() -> None:
    # 28 Sep → 10 Oct 2026: 12 calendar days, the National Day week among them.
    pause = [(at("2026-09-28"), at("2026-10-10"))]
    assert paused_days(ORDER_121.mediation, pause, CAL) == 12


def test_under_order_20_a_pause_adds_only_working_days_so_a_holiday_inside_adds_nothing() -> None:
    # 30 Sep → 8 Oct 2025 spans the National Day holiday (1–8 Oct 2025 off): no working day is paused.
    assert paused_days(ORDER_20.mediation, [(at("2025-09-30"), at("2025-10-08"))], CAL) == 0
    # 29 Sep → 9 Oct 2025: 30 Sep and 9 Oct are working days.
    assert paused_days(ORDER_20.mediation, [(at("2025-09-29"), at("2025-10-09"))], CAL) == 2
    without = mediation_deadline(ORDER_20.mediation, at("2025-09-01"), [], CAL)
    paused = mediation_deadline(ORDER_20.mediation, at("2025-09-01"), [(at("2025-09-29"), at("2025-10-09"))], CAL)
    assert CAL.add_working_days(without.due, 2).due == paused.due


def test_several_pauses_add_up() -> None:
    pauses = [(at("2026-06-10"), at("2026-06-12")), (at("2026-06-20"), at("2026-06-25"))]
    assert paused_days(ORDER_121.mediation, pauses, CAL) == 7


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(FILED_AT)


@pytest.fixture
async def channel(kafka_bootstrap: str, prefix: str, database: tuple[str, str | None], clock: FixedClock) -> AsyncIterator[Running]:
    async with running("channel", kafka=kafka_bootstrap, prefix=prefix, database=database, clock=clock) as svc:
        yield svc


async def test_sessions_pause_and_resume_move_the_deadline_with_events_and_audit(channel: Running, clock: FixedClock) -> None:
    complaint_id = await referred(channel, "P-1")
    early = await act(channel, complaint_id, "mediation/pause", {"reason": "testing"})
    assert early.status_code == 409 and (early.json()["state"], early.json()["target_state"]) == ("awaiting_acceptance", "mediation")
    await act(channel, complaint_id, "accept")  # Fri 20 Nov 2026
    started = await act(channel, complaint_id, "mediation")
    assert started.json()["deadline"]["due"] == "2027-01-19"  # 60 days (Order 121)

    session = {"held_at": "2026-11-20T09:00:00+08:00", "form": "phone", "parties": ["consumer", "merchant"], "summary": "商家同意检测"}
    recorded = await act(channel, complaint_id, "mediation/sessions", session)
    assert recorded.status_code == 201, recorded.text
    assert recorded.json()["state"] == "mediation" and recorded.json()["deadline"]["due"] == "2027-01-19"

    paused = await act(channel, complaint_id, "mediation/pause", {"reason": "testing"})
    assert paused.json() == {"complaint_id": complaint_id, "state": "mediation", "deadline": None}
    again = await act(channel, complaint_id, "mediation/pause", {"reason": "appraisal"})
    assert again.status_code == 422
    clock.advance(timedelta(days=10))
    resumed = await act(channel, complaint_id, "mediation/resume")
    assert resumed.json()["deadline"]["due"] == "2027-01-29"  # ten calendar days later

    (event,) = await published(channel, "redshield.channel.complaint.mediation_resumed.v1", complaint_id)
    assert event["data"]["paused_days"] == 10
    (event,) = await published(channel, "redshield.channel.complaint.mediation_session_recorded.v1", complaint_id)
    assert event["data"]["parties"] == ["consumer", "merchant"] and "summary" not in event["data"]
    grounds = [r.ground for r in await rows(channel, audit) if r.complaint_id == complaint_id]
    assert grounds[-3:] == ["session:phone", "pause:testing", "resume"]

    ended = await act(channel, complaint_id, "mediation/end", {"ground": "agreement"})
    assert ended.status_code == 200
    late = await act(channel, complaint_id, "mediation/sessions", session)
    assert late.status_code == 409 and late.json()["state"] == "mediation_ended"
    other = await act(channel, complaint_id, "mediation/resume", region="330200")
    assert other.status_code == 404


def test_items_on_either_side_of_the_rule_set_date_pause_by_their_own_count() -> None:
    from services.channel.rules import rule_set_for, rules_of

    before = rules_of(rule_set_for(at("2026-04-14"))).mediation
    after = rules_of(rule_set_for(at("2026-04-15"))).mediation
    pause = [(at("2026-05-01"), at("2026-05-06"))]  # Labour Day holiday 1–5 May 2026
    assert (before.rule_id, after.rule_id) == ("samr-order-20/mediation", "samr-order-121/mediation")
    assert paused_days(before, pause, CAL) == 1  # only 6 May is a working day
    assert paused_days(after, pause, CAL) == 5
