"""The bureau's track over HTTP: acceptance, mediation, closing, verification of reports — scoped to the
bureau's region, each move a transition with its ground, and the time limit of mediation enforced by the
scheduler on a clock the test moves."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest

from services.runtime.clock import FixedClock
from tests.channel.test_first_handling import FILED_AT, file, published, state_of
from tests.harness import Running, eventually, running

HANGZHOU = {"region": "330100"}  # the city bureau: its districts (3301xx) included


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(FILED_AT)


@pytest.fixture
async def channel(kafka_bootstrap: str, prefix: str, database: tuple[str, str | None], clock: FixedClock) -> AsyncIterator[Running]:
    async with running("channel", kafka=kafka_bootstrap, prefix=prefix, database=database, clock=clock, deadline_scan_interval_ms=100) as svc:
        yield svc


async def referred(channel: Running, pcid: str) -> str:
    complaint_id = await file(channel, pcid)
    answer = await channel.http.post(f"/v1/complaints/{complaint_id}/answer", json={"outcome": "not_settled"},
                                     headers=channel.auth("platform", platform="P001"))
    assert answer.json()["state"] == "awaiting_acceptance"
    return complaint_id


async def act(channel: Running, complaint_id: str, path: str, body: dict[str, Any] | None = None, **scope: str) -> Any:
    return await channel.http.post(f"/v1/complaints/{complaint_id}/{path}", json=body, headers=channel.auth("bureau", **(scope or HANGZHOU)))


async def test_accept_mediate_agree_and_close(channel: Running, clock: FixedClock) -> None:
    complaint_id = await referred(channel, "M-1")
    accepted = await act(channel, complaint_id, "accept")
    assert accepted.status_code == 200, accepted.text
    assert accepted.json() == {"complaint_id": complaint_id, "state": "accepted", "deadline": None}

    clock.advance(timedelta(days=3))
    mediation = await act(channel, complaint_id, "mediation")
    # 60 days from acceptance (Fri 20 Nov 2026) is Tue 19 Jan 2027: a year without official holiday data yet.
    assert mediation.json()["deadline"] == {"kind": "mediation", "due": "2027-01-19", "provisional": True}

    ended = await act(channel, complaint_id, "mediation/end", {"ground": "agreement"})
    assert ended.json()["state"] == "mediation_ended"
    assert ended.json()["deadline"]["kind"] == "mediation_end_notice"
    wrong = await act(channel, complaint_id, "close", {"outcome": "mediation_failed"})
    assert wrong.status_code == 422 and wrong.json()["type"].endswith("/ground-required")
    closed = await act(channel, complaint_id, "close", {"outcome": "mediation_agreement", "reason": "退款299元"})
    assert closed.json() == {"complaint_id": complaint_id, "state": "closed", "deadline": None}

    again = await act(channel, complaint_id, "accept")
    assert again.status_code == 409
    assert (again.json()["state"], again.json()["target_state"]) == ("closed", "accepted")
    (event,) = await published(channel, "redshield.channel.complaint.closed.v1", complaint_id)
    assert event["data"]["outcome"] == "mediation_agreement" and event["data"]["by"] == "bureau"
    assert event["headers"]["ce_region"] == "330106"


async def test_a_bureau_acts_only_in_its_region_and_only_bureaus_act(channel: Running) -> None:
    complaint_id = await referred(channel, "R-1")
    ningbo = await act(channel, complaint_id, "accept", region="330200")
    platform = await channel.http.post(f"/v1/complaints/{complaint_id}/accept", headers=channel.auth("platform", platform="P001"))
    district = await act(channel, complaint_id, "accept", region="330106")
    assert ningbo.status_code == 404 and platform.status_code == 403
    assert district.status_code == 200


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ({}, "ground"),
        ({"ground": "because"}, "ground"),
        ({"ground": "other_legal_ground"}, "/ground-required"),
    ],
)
async def test_a_refusal_needs_its_ground(channel: Running, body: dict[str, Any], problem: str) -> None:
    complaint_id = await referred(channel, "F-1")
    answer = await act(channel, complaint_id, "refuse", body)
    assert answer.status_code == 422
    assert answer.json()["type"].endswith(problem) or problem in [e["field"] for e in answer.json().get("errors", [])]
    assert await state_of(channel, complaint_id) == "awaiting_acceptance"


async def test_a_refusal_on_a_ground_is_final(channel: Running) -> None:
    complaint_id = await referred(channel, "F-2")
    refused = await act(channel, complaint_id, "refuse", {"ground": "time_barred", "detail": "超过三年"})
    assert refused.json()["state"] == "refused"
    assert (await act(channel, complaint_id, "accept")).status_code == 409


async def test_a_report_is_verified_extended_once_by_an_approver_and_escalated(channel: Running) -> None:
    report = await file(channel, "V-1", kind="report")
    self_approved = await act(channel, report, "verification/extend", {"approver": "test:bureau"})
    assert self_approved.status_code == 422
    extended = await act(channel, report, "verification/extend", {"approver": "head-of-division"})
    assert extended.status_code == 200
    # 11 Dec + 15 working days lands on Fri 1 Jan 2027: surely a holiday, but 2027's notice is not loaded, so the
    # day counts as a working day and the deadline says it is provisional.
    assert extended.json()["deadline"] == {"kind": "verification", "due": "2027-01-01", "provisional": True}
    twice = await act(channel, report, "verification/extend", {"approver": "head-of-division"})
    assert twice.status_code == 422 and "already extended" in twice.json()["detail"]
    escalated = await act(channel, report, "escalate", {"finding": "假冒注册商标"})
    assert escalated.json()["state"] == "escalated_as_clue"
    (event,) = await published(channel, "redshield.channel.complaint.escalated.v1", report)
    assert event["data"]["finding"] == "假冒注册商标"


async def test_mediation_without_agreement_within_its_limit_is_ended_by_the_scheduler(channel: Running, clock: FixedClock) -> None:
    complaint_id = await referred(channel, "T-1")
    await act(channel, complaint_id, "accept")
    await act(channel, complaint_id, "mediation")
    clock.advance(timedelta(days=61))  # past Tue 19 Jan 2027
    await eventually(lambda: _state_is(channel, complaint_id, "mediation_ended"), timeout=30)
    (ended,) = await published(channel, "redshield.channel.complaint.mediation_ended.v1", complaint_id)
    assert (ended["data"]["ground"], ended["data"]["by"]) == ("time_limit", "system")
    closed = await act(channel, complaint_id, "close", {"outcome": "mediation_failed", "reason": "调解期限届满未达成协议"})
    assert closed.json()["state"] == "closed"


async def _state_is(channel: Running, complaint_id: str, state: str) -> bool:
    return await state_of(channel, complaint_id) == state
