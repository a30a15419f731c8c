"""Mixed filings split in two linked items; repeat reports answered or merged; professional-claimant patterns
flagged for review and cleared by an officer — never refused. Pure rules first, then through HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from contracts.codes import FilingKind, RuleSet
from contracts.events.channel import ClaimantPattern, ComplaintState
from services.channel import domain
from services.channel.domain import ClaimantSigns, OpenReport, Track
from services.channel.rules import CLAIMANT_PATTERNS
from services.channel.store import audit, complaints
from services.runtime.calendar import CHINA_TIME, default_calendar
from services.runtime.clock import FixedClock
from tests.channel.test_first_handling import published
from tests.flow.test_complaint_to_cockpit import filing
from tests.harness import Running, running

FILED_AT = datetime(2026, 11, 20, 10, 0, tzinfo=CHINA_TIME)  # Friday
CAL = default_calendar()


# -- pure rules ----------------------------------------------------------------------------------------------
def test_the_same_facts_told_differently_have_the_same_digest() -> None:
    assert domain.facts_digest("商家卖假货！") == domain.facts_digest(" 商家 卖假货! ")
    assert domain.facts_digest("Fake GOODS.") == domain.facts_digest("fake goods")
    assert domain.facts_digest("商家卖假货") != domain.facts_digest("商家卖假货，还虚假宣传")


def test_a_repeat_with_known_facts_is_not_handled_again_and_new_facts_are_merged() -> None:
    known = OpenReport("r1", frozenset({domain.facts_digest("卖假货")}))
    assert domain.repeat_of(domain.facts_digest("卖假货"), known) == domain.Repeat("r1", new_facts=False)
    assert domain.repeat_of(domain.facts_digest("卖过期食品"), known) == domain.Repeat("r1", new_facts=True)
    assert domain.repeat_of(domain.facts_digest("卖假货"), None) is None


def report_track(state: ComplaintState = ComplaintState.RECEIVED) -> Track:
    return Track(complaint_id="r1", platform_id="P001", platform_complaint_id="R-1", region="330106", kind=FilingKind.REPORT,
                 rule_set=RuleSet.SAMR_ORDER_121, state=state)


def test_merged_facts_restart_the_verification_clock_from_now() -> None:
    started = domain.start_verification(report_track(), at=FILED_AT, calendar=CAL).track
    later = FILED_AT + timedelta(days=10)
    step = domain.merge_facts(started, platform_complaint_id="R-2", at=later, calendar=CAL)
    assert step.track.state is ComplaintState.VERIFICATION
    assert step.track.deadline is not None and started.deadline is not None
    assert step.track.deadline.deadline.due > started.deadline.deadline.due
    assert step.track.deadline.deadline == CAL.add_working_days(later, 15)
    assert step.audit.ground == "repeat-report-new-facts" and step.event.platform_complaint_id == "R-2"


def test_facts_are_merged_only_into_a_report_under_verification() -> None:
    with pytest.raises(domain.IllegalTransition):
        domain.merge_facts(report_track(ComplaintState.CLOSED), platform_complaint_id="R-2", at=FILED_AT, calendar=CAL)


def test_a_mixed_filing_has_a_complaint_part_and_a_report_part() -> None:
    from contracts.events.channel import FiledKind

    assert domain.PARTS[FiledKind.MIXED] == (FilingKind.COMPLAINT, FilingKind.REPORT)


@pytest.mark.parametrize(
    ("signs", "patterns"),
    [
        (ClaimantSigns(filings=9, recent_filings=4, names_for_phone=2, consumers_at_address=2), set()),
        (ClaimantSigns(filings=10, recent_filings=1, names_for_phone=1, consumers_at_address=0), {ClaimantPattern.VOLUME}),
        (ClaimantSigns(filings=5, recent_filings=5, names_for_phone=1, consumers_at_address=0), {ClaimantPattern.BULK}),
        (ClaimantSigns(filings=3, recent_filings=1, names_for_phone=3, consumers_at_address=0), {ClaimantPattern.SHARED_PHONE}),
        (ClaimantSigns(filings=1, recent_filings=1, names_for_phone=1, consumers_at_address=3), {ClaimantPattern.SHARED_ADDRESS}),
    ],
)
def test_each_pattern_is_flagged_at_its_configured_threshold(signs: ClaimantSigns, patterns: set[ClaimantPattern]) -> None:
    flags = domain.claimant_flags(signs, CLAIMANT_PATTERNS)
    assert {f.pattern for f in flags} == patterns
    assert all(f.rule_id.startswith("claimants/") and f.detail for f in flags)


# -- through HTTP --------------------------------------------------------------------------------------------
@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(FILED_AT)


@pytest.fixture
async def channel(kafka_bootstrap: str, prefix: str, database: tuple[str, str | None], clock: FixedClock) -> AsyncIterator[Running]:
    async with running("channel", kafka=kafka_bootstrap, prefix=prefix, database=database, clock=clock) as svc:
        yield svc


async def file(channel: Running, pcid: str, platform: str = "P001", **changes: Any) -> dict[str, Any]:
    answer = await channel.http.post("/v1/complaints", json=filing(pcid, **changes), headers=channel.auth("platform", platform=platform))
    assert answer.status_code == 202, answer.text
    return dict(answer.json())


async def row(channel: Running, complaint_id: str) -> Any:
    assert channel.service.engine is not None
    async with channel.service.engine.connect() as conn:
        return (await conn.execute(sa.select(complaints).where(complaints.c.complaint_id == complaint_id))).one()


async def test_a_mixed_filing_becomes_a_linked_complaint_and_report_each_on_its_track(channel: Running) -> None:
    filed = await file(channel, "X-1", kind="mixed")
    complaint_id, report_id = filed["complaint_id"], filed["linked_complaint_id"]
    assert filed["kind"] == "complaint" and report_id and filed["linked_receipt_code"] != filed["receipt_code"]
    complaint, report = await row(channel, complaint_id), await row(channel, report_id)
    assert (complaint.kind, complaint.state, complaint.linked_complaint_id) == ("complaint", "assigned_to_platform", report_id)
    assert (report.kind, report.state, report.linked_complaint_id) == ("report", "verification", complaint_id)
    received = await published(channel, "redshield.channel.complaint.received.v1")
    assert {(e["data"]["complaint_id"], e["data"]["kind"], e["data"]["linked_complaint_id"]) for e in received} == {
        (complaint_id, "complaint", report_id), (report_id, "report", complaint_id)}
    headers = channel.auth("platform", platform="P001")
    view = (await channel.http.get(f"/v1/complaints/{report_id}", headers=headers)).json()
    assert view["linked_complaint_id"] == complaint_id and view["platform_complaint_id"] == "X-1"
    again = await file(channel, "X-1", kind="mixed")
    assert again == filed | {"duplicate": True}


async def test_a_repeat_report_with_the_same_facts_is_answered_with_the_open_one(channel: Running) -> None:
    first = await file(channel, "R-1", kind="report", description="商家销售假冒耳机。")
    repeat = await file(channel, "R-2", kind="report", description="商家销售假冒耳机")
    assert repeat == first | {"duplicate": True, "repeat": "same_facts"}
    assert len(await published(channel, "redshield.channel.complaint.received.v1")) == 1
    assert await published(channel, "redshield.channel.complaint.facts_merged.v1") == []
    # Another reporter, or another merchant, is a report of its own.
    other = await file(channel, "R-3", kind="report", description="商家销售假冒耳机。", consumer={"name": "李四", "phone": "13900000000"})
    elsewhere = await file(channel, "R-4", kind="report", description="商家销售假冒耳机。", merchant={"store_id": "S-2", "store_name": "另一家店"})
    assert other["complaint_id"] != first["complaint_id"] and elsewhere["complaint_id"] != first["complaint_id"]


async def test_new_facts_are_merged_and_restart_verification(channel: Running, clock: FixedClock) -> None:
    first = await file(channel, "N-1", kind="report", description="商家销售假冒耳机。")
    before = await row(channel, first["complaint_id"])
    clock.advance(timedelta(days=10))
    merged = await file(channel, "N-2", kind="report", description="商家还销售过期食品。")
    assert merged["complaint_id"] == first["complaint_id"] and merged["repeat"] == "new_facts"
    (event,) = await published(channel, "redshield.channel.complaint.facts_merged.v1", first["complaint_id"])
    assert event["data"]["platform_complaint_id"] == "N-2" and event["data"]["deadline"]["kind"] == "verification"
    assert event["data"]["deadline"]["due"] == str(CAL.add_working_days(clock.now(), 15).due)
    after = await row(channel, first["complaint_id"])
    assert after.version == before.version + 1
    view = (await channel.http.get(f"/v1/complaints/{first['complaint_id']}", headers=channel.auth("regulator"))).json()
    assert [(f["platform_complaint_id"], f["merged"]) for f in view["facts"]] == [("N-1", False), ("N-2", True)]
    again = await file(channel, "N-2", kind="report", description="商家还销售过期食品。")
    assert again["repeat"] == "new_facts" and again["duplicate"] is True
    assert len(await published(channel, "redshield.channel.complaint.facts_merged.v1")) == 1


def consumer(n: int, **changes: str) -> dict[str, str]:
    return {"name": f"顾客{n}", "phone": f"139{n:08d}"} | changes


async def test_volume_of_filings_by_one_consumer_is_flagged_never_refused_and_cleared_by_an_officer(channel: Running) -> None:
    headers = channel.auth("platform", platform="P001")
    batch = [filing(f"V-{n}", consumer=consumer(1), description=f"第{n}次投诉") for n in range(10)]
    answer = await channel.http.post("/v1/complaints/batch", json={"filings": batch}, headers=headers)
    assert answer.json()["created"] == 10  # none refused
    flagged = await published(channel, "redshield.channel.complaint.flagged.v1")
    by_pattern = {p: [e for e in flagged if e["data"]["pattern"] == p] for p in ("volume", "bulk")}
    assert len(by_pattern["bulk"]) == 6 and len(by_pattern["volume"]) == 1  # from the 5th filing, and the 10th
    officer = channel.auth("bureau", region="330100")
    listed = await channel.http.get("/v1/bureau/flags", headers=officer)
    assert listed.status_code == 200 and len(listed.json()) == 7
    # Not the platform's business, and not the consumer's view.
    tenth = by_pattern["volume"][0]["data"]["complaint_id"]
    platform_view = (await channel.http.get(f"/v1/complaints/{tenth}", headers=headers)).json()
    officer_view = (await channel.http.get(f"/v1/complaints/{tenth}", headers=officer)).json()
    assert "flags" not in platform_view and {f["pattern"] for f in officer_view["flags"]} == {"volume", "bulk"}
    receipt = (await channel.http.get(f"/v1/receipts/{platform_view['receipt_code']}")).text
    assert "flag" not in receipt

    flag_id = by_pattern["volume"][0]["data"]["flag_id"]
    other_region = await channel.http.post(f"/v1/bureau/flags/{flag_id}/clear", json={"reason": "家庭共用"},
                                           headers=channel.auth("bureau", region="330200"))
    no_reason = await channel.http.post(f"/v1/bureau/flags/{flag_id}/clear", json={}, headers=officer)
    cleared = await channel.http.post(f"/v1/bureau/flags/{flag_id}/clear", json={"reason": "核实为正常维权"}, headers=officer)
    twice = await channel.http.post(f"/v1/bureau/flags/{flag_id}/clear", json={"reason": "再次"}, headers=officer)
    assert other_region.status_code == 404 and no_reason.status_code == 422
    assert cleared.status_code == 200, cleared.text
    assert twice.status_code == 409
    (event,) = await published(channel, "redshield.channel.complaint.flag_cleared.v1", tenth)
    assert event["data"]["reason"] == "核实为正常维权" and event["data"]["by"] == "bureau"
    assert len((await channel.http.get("/v1/bureau/flags", headers=officer)).json()) == 6
    assert channel.service.engine is not None
    async with channel.service.engine.connect() as conn:
        trail = (await conn.execute(sa.select(audit.c.event_type, audit.c.actor_role, audit.c.detail)
                                    .where(audit.c.complaint_id == tenth).order_by(audit.c.seq))).all()
    assert [t.event_type.split(".")[3] for t in trail] == ["assigned", "flagged", "flagged", "flag_cleared"]
    assert trail[-1].actor_role == "bureau" and trail[-1].detail == "核实为正常维权"


async def test_one_phone_under_several_names_and_one_address_for_several_consumers_are_flagged(channel: Running) -> None:
    for n, name in enumerate(["王一", "王二", "王三"]):
        await file(channel, f"P-{n}", consumer=consumer(7, name=name))
    for n in range(3):
        await file(channel, f"A-{n}", consumer=consumer(20 + n, address="杭州市西湖区某路1号"))
    flagged = await published(channel, "redshield.channel.complaint.flagged.v1")
    assert [e["data"]["pattern"] for e in flagged] == ["shared_phone", "shared_address"]
    assert channel.service.engine is not None
    async with channel.service.engine.connect() as conn:
        stored = (await conn.execute(sa.select(complaints).where(complaints.c.platform_complaint_id == "A-0"))).one()
    assert "西湖区".encode() not in stored.consumer_address_enc
    assert len(stored.consumer_address_hash) == 64 and "西湖" not in stored.consumer_address_hash
