"""Every rule of the handling state machine (DOMAIN.md, "Complaints and reports"), one test each, on pure data."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest

from contracts.codes import FilingKind, RuleSet
from contracts.events.channel import (
    ActorRole,
    AnswerOutcome,
    ClosingOutcome,
    ComplaintAssigned,
    ComplaintClosed,
    ComplaintDeadlineMissed,
    ComplaintReferred,
    ComplaintState,
    DeadlineKind,
    FirstHandlingAnswer,
    MediationEndGround,
    ReferralReason,
    RefusalGround,
)
from services.channel import domain
from services.channel.domain import Actor, AlreadyAnswered, GroundRequired, IllegalTransition, Track
from services.channel.rules import ORDER_20, ORDER_121, FirstHandlingPolicy, rule_set_for
from services.runtime.calendar import CHINA_TIME, default_calendar

S = ComplaintState
CAL = default_calendar()
PLATFORM = Actor(ActorRole.PLATFORM, "platform:P001")
OFFICER = Actor(ActorRole.BUREAU, "officer-1")
HEAD = "head-of-division"
NOV_20 = datetime(2026, 11, 20, 9, 30, tzinfo=CHINA_TIME)  # a Friday


def track(state: S = S.RECEIVED, *, kind: FilingKind = FilingKind.COMPLAINT, rule_set: RuleSet = RuleSet.SAMR_ORDER_121, **changes: object) -> Track:
    base = Track(complaint_id="c-1", platform_id="P001", platform_complaint_id="TM-1", region="330106", kind=kind, rule_set=rule_set, state=state)
    return replace(base, **changes)  # type: ignore[arg-type]


def assigned(at: datetime = NOV_20) -> Track:
    return domain.assign_to_platform(track(), at=at, calendar=CAL, period=ORDER_121.first_handling).track


def awaiting(at: datetime = NOV_20, rule_set: RuleSet = RuleSet.SAMR_ORDER_121) -> Track:
    start = track(rule_set=rule_set)
    return domain.refer_to_bureau(start, reason=ReferralReason.PLATFORM_NOT_CONNECTED, at=at, calendar=CAL, actor=domain.INTAKE).track


def accepted(at: datetime = NOV_20, rule_set: RuleSet = RuleSet.SAMR_ORDER_121) -> Track:
    return domain.accept(awaiting(at, rule_set), at=at, actor=OFFICER).track


def in_mediation(at: datetime = NOV_20, rule_set: RuleSet = RuleSet.SAMR_ORDER_121) -> Track:
    return domain.start_mediation(accepted(at, rule_set), at=at, calendar=CAL, actor=OFFICER).track


def verifying(at: datetime = NOV_20) -> Track:
    return domain.start_verification(track(kind=FilingKind.REPORT), at=at, calendar=CAL).track


def answer(outcome: str, **fields: str) -> FirstHandlingAnswer:
    return FirstHandlingAnswer.model_validate({"outcome": outcome, **fields})


# -- rule sets ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("received", "rule_set"),
    [
        (datetime(2026, 4, 14, 23, 59, tzinfo=CHINA_TIME), RuleSet.SAMR_ORDER_20),
        (datetime(2026, 4, 15, 0, 0, tzinfo=CHINA_TIME), RuleSet.SAMR_ORDER_121),
        (datetime(2026, 4, 14, 16, 30, tzinfo=UTC), RuleSet.SAMR_ORDER_121),  # already the 15th in China
    ],
)
def test_items_keep_the_rule_set_in_force_on_the_day_they_were_received(received: datetime, rule_set: RuleSet) -> None:
    assert rule_set_for(received) is rule_set


def test_the_figures_live_in_the_rule_sets() -> None:
    assert (ORDER_121.first_handling.days, ORDER_121.acceptance.days, ORDER_121.mediation.days, ORDER_121.verification.days) == (10, 7, 60, 15)
    assert (ORDER_20.mediation.days, ORDER_20.mediation.count.value) == (45, "working_days")
    assert ORDER_121.mediation.count.value == "calendar_days"


# -- first handling ----------------------------------------------------------------------------------------
def test_a_complaint_on_a_connected_platform_is_assigned_with_ten_working_days() -> None:
    step = domain.assign_to_platform(track(), at=NOV_20, calendar=CAL, period=ORDER_121.first_handling)
    assert step.track.state is S.ASSIGNED_TO_PLATFORM
    assert step.track.deadline is not None and step.track.deadline.kind is DeadlineKind.FIRST_HANDLING
    assert step.track.deadline.deadline.due == date(2026, 12, 4)
    assert isinstance(step.event, ComplaintAssigned)
    assert step.event.deadline is not None and step.event.deadline.due == date(2026, 12, 4)
    assert (step.event.complaint_id, step.event.platform_id, step.event.region, step.event.state) == ("c-1", "P001", "330106", S.ASSIGNED_TO_PLATFORM)
    assert step.audit.from_state is S.RECEIVED and step.audit.to_state is S.ASSIGNED_TO_PLATFORM
    assert step.audit.rule_id == "practice/first-handling"


def test_a_platform_may_have_its_own_first_handling_period() -> None:
    policy = FirstHandlingPolicy(days_by_platform={"P001": 3})
    (step,) = domain.route_new_item(track(), at=NOV_20, calendar=CAL, policy=policy)
    assert step.track.deadline is not None and step.track.deadline.deadline.due == date(2026, 11, 25)


def test_a_complaint_on_a_platform_without_first_handling_goes_to_the_bureau_at_once() -> None:
    (step,) = domain.route_new_item(track(), at=NOV_20, calendar=CAL, policy=FirstHandlingPolicy(not_connected=frozenset({"P001"})))
    assert step.track.state is S.AWAITING_ACCEPTANCE
    assert isinstance(step.event, ComplaintReferred) and step.event.reason is ReferralReason.PLATFORM_NOT_CONNECTED


def test_a_report_goes_to_verification_not_to_the_platform() -> None:
    (step,) = domain.route_new_item(track(kind=FilingKind.REPORT), at=NOV_20, calendar=CAL, policy=FirstHandlingPolicy())
    assert step.track.state is S.VERIFICATION
    with pytest.raises(GroundRequired, match="only a complaint"):
        domain.assign_to_platform(track(kind=FilingKind.REPORT), at=NOV_20, calendar=CAL, period=ORDER_121.first_handling)


def test_settled_waits_for_the_consumer_and_closes_when_confirmed() -> None:
    step = domain.answer_first_handling(assigned(), answer=answer("settled", refund_amount="299"), at=NOV_20, actor=PLATFORM)
    assert domain.route_answer(step, at=NOV_20, calendar=CAL) == [step]
    assert step.track.state is S.PLATFORM_SETTLED and step.track.deadline is None
    assert step.event.refund_amount == "299.00"  # type: ignore[union-attr]
    closed = domain.confirm_settlement(step.track, at=NOV_20, actor=Actor(ActorRole.CONSUMER, "receipt:R1"))
    assert closed.track.state is S.CLOSED
    assert isinstance(closed.event, ComplaintClosed) and closed.event.outcome is ClosingOutcome.SETTLED_BY_PLATFORM


def test_the_consumer_disagreeing_with_a_settlement_sends_it_to_the_bureau() -> None:
    settled = domain.answer_first_handling(assigned(), answer=answer("settled"), at=NOV_20, actor=PLATFORM).track
    step = domain.disagree_with_settlement(settled, at=NOV_20, calendar=CAL, actor=Actor(ActorRole.CONSUMER, "receipt:R1"))
    assert step.track.state is S.AWAITING_ACCEPTANCE
    assert step.event.reason is ReferralReason.CONSUMER_DISAGREED  # type: ignore[union-attr]


@pytest.mark.parametrize(("outcome", "reason"), [("not_settled", ReferralReason.NOT_SETTLED), ("contested", ReferralReason.CONTESTED)])
def test_not_settled_or_contested_goes_to_the_bureau_at_once(outcome: str, reason: ReferralReason) -> None:
    step = domain.answer_first_handling(assigned(), answer=answer(outcome, reason="商家不同意"), at=NOV_20, actor=PLATFORM)
    answered, referred = domain.route_answer(step, at=NOV_20, calendar=CAL)
    assert answered.track.state.value == f"platform_{outcome}"
    assert referred.track.state is S.AWAITING_ACCEPTANCE
    assert referred.event.reason is reason  # type: ignore[union-attr]


def test_contested_needs_the_platforms_reason() -> None:
    with pytest.raises(GroundRequired, match="reason"):
        domain.answer_first_handling(assigned(), answer=answer("contested"), at=NOV_20, actor=PLATFORM)


def test_a_refund_goes_only_with_settled() -> None:
    with pytest.raises(GroundRequired, match="refund"):
        domain.answer_first_handling(assigned(), answer=answer("not_settled", refund_amount="10"), at=NOV_20, actor=PLATFORM)


def test_a_second_answer_is_refused_with_the_current_state() -> None:
    settled = domain.answer_first_handling(assigned(), answer=answer("settled"), at=NOV_20, actor=PLATFORM).track
    with pytest.raises(AlreadyAnswered) as caught:
        domain.answer_first_handling(settled, answer=answer("not_settled"), at=NOV_20, actor=PLATFORM)
    assert caught.value.current is S.PLATFORM_SETTLED


def test_an_answer_to_an_item_never_assigned_names_both_states() -> None:
    with pytest.raises(IllegalTransition, match="'awaiting_acceptance' cannot move to 'platform_settled'") as caught:
        domain.answer_first_handling(awaiting(), answer=answer("settled"), at=NOV_20, actor=PLATFORM)
    assert not isinstance(caught.value, AlreadyAnswered)


def test_first_handling_time_does_not_count_toward_acceptance() -> None:
    late = NOV_20 + timedelta(days=9)  # Sun 29 Nov
    step = domain.answer_first_handling(assigned(), answer=answer("not_settled"), at=late, actor=PLATFORM)
    _, referred = domain.route_answer(step, at=late, calendar=CAL)
    assert referred.track.deadline is not None
    assert referred.track.deadline.deadline.due == date(2026, 12, 8)  # 7 working days from the referral, not from receipt


def test_a_referral_needs_the_ground_that_fits_the_state() -> None:
    with pytest.raises(GroundRequired, match="not a ground"):
        domain.refer_to_bureau(assigned(), reason=ReferralReason.CONTESTED, at=NOV_20, calendar=CAL, actor=OFFICER)


# -- the bureau's track ------------------------------------------------------------------------------------
def test_acceptance_is_due_within_seven_working_days() -> None:
    deadline = awaiting().deadline
    assert deadline is not None and deadline.kind is DeadlineKind.ACCEPTANCE
    assert deadline.deadline.due == date(2026, 12, 1)


@pytest.mark.parametrize("ground", list(RefusalGround))
def test_refusal_on_each_ground_of_the_rule_set(ground: RefusalGround) -> None:
    step = domain.refuse(awaiting(), ground=ground, detail="依据《办法》第十五条", at=NOV_20, actor=OFFICER)
    assert step.track.state is S.REFUSED and step.track.final
    assert step.audit.ground == f"refusal:{ground}"


def test_refusal_without_a_ground_is_refused() -> None:
    with pytest.raises(GroundRequired, match="ground"):
        domain.refuse(awaiting(), ground=None, detail=None, at=NOV_20, actor=OFFICER)
    with pytest.raises(GroundRequired, match="other_legal_ground"):
        domain.refuse(awaiting(), ground=RefusalGround.OTHER_LEGAL_GROUND, detail=" ", at=NOV_20, actor=OFFICER)


def test_mediation_under_order_121_ends_60_days_after_acceptance_rolled_to_a_working_day() -> None:
    at = datetime(2026, 12, 1, 10, tzinfo=CHINA_TIME)
    deadline = in_mediation(at).deadline
    assert deadline is not None and deadline.kind is DeadlineKind.MEDIATION
    assert (deadline.deadline.due, deadline.deadline.provisional) == (date(2027, 2, 1), True)  # Sat 30 Jan 2027 → Mon 1 Feb


def test_mediation_under_order_20_ends_45_working_days_after_acceptance() -> None:
    at = datetime(2026, 3, 2, 10, tzinfo=CHINA_TIME)
    deadline = in_mediation(at, RuleSet.SAMR_ORDER_20).deadline
    assert deadline is not None
    assert deadline.deadline == CAL.add_working_days(at, 45)
    assert deadline.rule_id == "samr-order-20/mediation"


def test_mediation_cannot_start_once_its_time_limit_from_acceptance_has_passed() -> None:
    late = accepted()
    with pytest.raises(GroundRequired, match="ended on"):
        domain.start_mediation(late, at=NOV_20 + timedelta(days=90), calendar=CAL, actor=OFFICER)


@pytest.mark.parametrize("ground", [g for g in MediationEndGround if g is not MediationEndGround.TIME_LIMIT])
def test_mediation_ends_on_each_ground_and_both_sides_are_told_within_seven_working_days(ground: MediationEndGround) -> None:
    step = domain.end_mediation(in_mediation(), ground=ground, at=NOV_20, calendar=CAL, actor=OFFICER)
    assert step.track.state is S.MEDIATION_ENDED
    assert step.track.deadline is not None and step.track.deadline.kind is DeadlineKind.MEDIATION_END_NOTICE
    assert step.track.deadline.deadline.due == date(2026, 12, 1)


def test_the_time_limit_ends_mediation_only_once_it_has_passed() -> None:
    mediation = in_mediation()
    assert mediation.deadline is not None
    with pytest.raises(GroundRequired, match="time_limit"):
        domain.end_mediation(mediation, ground=MediationEndGround.TIME_LIMIT, at=NOV_20, calendar=CAL, actor=OFFICER)
    after = mediation.deadline.deadline.expires_at
    assert domain.end_mediation(mediation, ground=MediationEndGround.TIME_LIMIT, at=after, calendar=CAL, actor=OFFICER).track.state is S.MEDIATION_ENDED


def test_closing_after_mediation_follows_how_it_ended() -> None:
    agreed = domain.end_mediation(in_mediation(), ground=MediationEndGround.AGREEMENT, at=NOV_20, calendar=CAL, actor=OFFICER).track
    impasse = domain.end_mediation(in_mediation(), ground=MediationEndGround.IMPASSE, at=NOV_20, calendar=CAL, actor=OFFICER).track
    assert domain.close(agreed, outcome=ClosingOutcome.MEDIATION_AGREEMENT, reason=None, at=NOV_20, actor=OFFICER).track.state is S.CLOSED
    assert domain.close(impasse, outcome=ClosingOutcome.MEDIATION_FAILED, reason=None, at=NOV_20, actor=OFFICER).track.state is S.CLOSED
    with pytest.raises(GroundRequired):
        domain.close(impasse, outcome=ClosingOutcome.MEDIATION_AGREEMENT, reason=None, at=NOV_20, actor=OFFICER)
    with pytest.raises(GroundRequired):
        domain.close(agreed, outcome=ClosingOutcome.MEDIATION_FAILED, reason=None, at=NOV_20, actor=OFFICER)


def test_an_accepted_complaint_without_consent_to_mediation_is_closed_so() -> None:
    step = domain.close(accepted(), outcome=ClosingOutcome.NO_MEDIATION_CONSENT, reason="商家拒绝调解", at=NOV_20, actor=OFFICER)
    assert step.track.state is S.CLOSED


def test_a_closing_outcome_must_fit_the_state() -> None:
    with pytest.raises(GroundRequired, match="does not close"):
        domain.close(accepted(), outcome=ClosingOutcome.SETTLED_BY_PLATFORM, reason=None, at=NOV_20, actor=OFFICER)


# -- reports -----------------------------------------------------------------------------------------------
def test_a_report_is_verified_within_fifteen_working_days_and_one_approved_extension_of_fifteen() -> None:
    report = verifying()
    assert report.deadline is not None and report.deadline.deadline.due == date(2026, 12, 11)
    extended = domain.extend_verification(report, approver=HEAD, at=NOV_20, calendar=CAL, actor=OFFICER)
    assert extended.track.state is S.VERIFICATION
    assert extended.track.deadline is not None and extended.track.deadline.deadline == CAL.add_working_days(date(2026, 12, 11), 15)
    with pytest.raises(GroundRequired, match="already extended"):
        domain.extend_verification(extended.track, approver=HEAD, at=NOV_20, calendar=CAL, actor=OFFICER)


def test_an_extension_is_approved_before_the_period_runs_out() -> None:
    report = verifying()
    assert report.deadline is not None
    with pytest.raises(GroundRequired, match="ended on 2026-12-11"):
        domain.extend_verification(report, approver=HEAD, at=report.deadline.deadline.expires_at, calendar=CAL, actor=OFFICER)


@pytest.mark.parametrize("approver", [None, "", "officer-1"])
def test_an_extension_needs_an_approver_other_than_the_officer(approver: str | None) -> None:
    with pytest.raises(GroundRequired):
        domain.extend_verification(verifying(), approver=approver, at=NOV_20, calendar=CAL, actor=OFFICER)


def test_a_verified_report_is_escalated_as_a_clue_with_its_finding_or_closed_with_reasons() -> None:
    escalated = domain.escalate(verifying(), finding="假冒注册商标", at=NOV_20, actor=OFFICER)
    assert escalated.track.state is S.ESCALATED_AS_CLUE and escalated.track.final
    closed = domain.close(verifying(), outcome=ClosingOutcome.NO_VIOLATION_FOUND, reason="经核查未发现违法行为", at=NOV_20, actor=OFFICER)
    assert closed.track.state is S.CLOSED
    with pytest.raises(GroundRequired, match="finding"):
        domain.escalate(verifying(), finding="", at=NOV_20, actor=OFFICER)
    with pytest.raises(GroundRequired, match="reasons"):
        domain.close(verifying(), outcome=ClosingOutcome.NO_VIOLATION_FOUND, reason=None, at=NOV_20, actor=OFFICER)


def test_a_complaint_is_not_verified_as_a_report() -> None:
    with pytest.raises(GroundRequired):
        domain.start_verification(track(), at=NOV_20, calendar=CAL)


# -- final states and illegal moves ------------------------------------------------------------------------
@pytest.mark.parametrize("final", sorted(domain.FINAL_STATES))
def test_nothing_moves_an_item_out_of_a_final_state(final: S) -> None:
    item = track(final)
    attempts = [
        lambda: domain.accept(item, at=NOV_20, actor=OFFICER),
        lambda: domain.refer_to_bureau(item, reason=ReferralReason.NOT_SETTLED, at=NOV_20, calendar=CAL, actor=OFFICER),
        lambda: domain.close(item, outcome=ClosingOutcome.MEDIATION_FAILED, reason="x", at=NOV_20, actor=OFFICER),
        lambda: domain.start_mediation(item, at=NOV_20, calendar=CAL, actor=OFFICER),
        lambda: domain.escalate(item, finding="x", at=NOV_20, actor=OFFICER),
    ]
    for attempt in attempts:
        with pytest.raises(IllegalTransition) as caught:
            attempt()
        assert caught.value.current is final
        assert f"'{final}'" in str(caught.value) and f"'{caught.value.target}'" in str(caught.value)


def test_every_state_has_its_moves_listed_and_the_final_ones_have_none() -> None:
    assert set(domain.TRANSITIONS) == set(S)
    assert {s for s, targets in domain.TRANSITIONS.items() if not targets} == domain.FINAL_STATES


@pytest.mark.parametrize(
    ("state", "move"),
    [
        (S.RECEIVED, lambda t: domain.accept(t, at=NOV_20, actor=OFFICER)),
        (S.ASSIGNED_TO_PLATFORM, lambda t: domain.accept(t, at=NOV_20, actor=OFFICER)),
        (S.AWAITING_ACCEPTANCE, lambda t: domain.start_mediation(t, at=NOV_20, calendar=CAL, actor=OFFICER)),
        (S.MEDIATION, lambda t: domain.close(t, outcome=ClosingOutcome.MEDIATION_FAILED, reason=None, at=NOV_20, actor=OFFICER)),
        (S.PLATFORM_NOT_SETTLED, lambda t: domain.confirm_settlement(t, at=NOV_20, actor=OFFICER)),
    ],
)
def test_a_move_not_allowed_from_the_current_state_names_both_states(state: S, move: object) -> None:
    with pytest.raises(IllegalTransition) as caught:
        move(track(state))  # type: ignore[operator]
    assert caught.value.current is state
    assert str(state) in str(caught.value) and str(caught.value.target) in str(caught.value)


# -- deadlines ---------------------------------------------------------------------------------------------
def test_a_missed_first_handling_deadline_sends_the_complaint_to_the_bureau() -> None:
    item = assigned()
    assert item.deadline is not None
    missed_at = item.deadline.deadline.expires_at
    notice = domain.deadline_notice(item, missed=True, at=missed_at)
    assert isinstance(notice, ComplaintDeadlineMissed) and notice.state is S.ASSIGNED_TO_PLATFORM
    (step,) = domain.act_on_missed_deadline(item, at=missed_at, calendar=CAL)
    assert step.track.state is S.AWAITING_ACCEPTANCE
    assert step.event.reason is ReferralReason.FIRST_HANDLING_MISSED  # type: ignore[union-attr]
    assert step.audit.actor == domain.SCHEDULER


def test_a_missed_mediation_deadline_ends_mediation_on_the_time_limit() -> None:
    item = in_mediation()
    assert item.deadline is not None
    (step,) = domain.act_on_missed_deadline(item, at=item.deadline.deadline.expires_at, calendar=CAL)
    assert step.track.mediation_end_ground is MediationEndGround.TIME_LIMIT


@pytest.mark.parametrize("item", [awaiting(), verifying()], ids=["acceptance", "verification"])
def test_other_missed_deadlines_are_flagged_but_move_nothing(item: Track) -> None:
    assert item.deadline is not None
    assert domain.act_on_missed_deadline(item, at=item.deadline.deadline.expires_at, calendar=CAL) == []


def test_approaching_is_two_working_days_before_the_last_day_at_the_start_of_the_day_in_china() -> None:
    item = assigned()  # due Fri 4 Dec 2026
    assert domain.approaching_day(item, CAL) == datetime(2026, 12, 2, tzinfo=CHINA_TIME)


def test_answer_outcomes_map_one_to_one_to_states() -> None:
    assert {o.value for o in AnswerOutcome} == {"settled", "not_settled", "contested"}
