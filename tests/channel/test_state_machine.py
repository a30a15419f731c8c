"""The whole handling machine under Hypothesis: random items, random moves (with and without their grounds),
random passage of time, and the DOMAIN.md rules as invariants."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from contracts.codes import FilingKind
from contracts.events.channel import (
    ActorRole,
    AnswerOutcome,
    ClosingOutcome,
    ComplaintState,
    FirstHandlingAnswer,
    MediationEndGround,
    RefusalGround,
)
from services.channel import domain
from services.channel.domain import Actor, Step, Track, TransitionError
from services.channel.rules import FirstHandlingPolicy, rule_set_for
from services.runtime.calendar import default_calendar

S = ComplaintState
CAL = default_calendar()
OFFICER = Actor(ActorRole.BUREAU, "officer-1")
PLATFORM = Actor(ActorRole.PLATFORM, "platform:P001")
CONSUMER = Actor(ActorRole.CONSUMER, "receipt:R-1")

#: States in which the item runs against a deadline, and only those.
WITH_DEADLINE = {S.ASSIGNED_TO_PLATFORM, S.AWAITING_ACCEPTANCE, S.MEDIATION, S.MEDIATION_ENDED, S.VERIFICATION}

maybe_text = st.one_of(st.none(), st.just(""), st.just("  "), st.text(min_size=1, max_size=20))


class Canal(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.now = datetime(2026, 1, 1, tzinfo=UTC)
        self.track: Track | None = None
        self.steps: list[Step] = []
        self.refusals = 0

    @initialize(
        kind=st.sampled_from(FilingKind),
        received=st.datetimes(min_value=datetime(2025, 6, 1), max_value=datetime(2026, 12, 31), timezones=st.just(UTC)),
        connected=st.booleans(),
        platform_days=st.one_of(st.none(), st.integers(min_value=1, max_value=20)),
    )
    def receive(self, kind: FilingKind, received: datetime, connected: bool, platform_days: int | None) -> None:
        self.now = received
        item = Track(complaint_id="c-1", platform_id="P001", platform_complaint_id="TM-1", region="330106", kind=kind,
                     rule_set=rule_set_for(received), state=S.RECEIVED)
        policy = FirstHandlingPolicy(days_by_platform={"P001": platform_days} if platform_days else {},
                                     not_connected=frozenset() if connected else frozenset({"P001"}))
        self.track = item
        self._apply(lambda t: domain.route_new_item(t, at=self.now, calendar=CAL, policy=policy))

    # -- the passage of time, and the scheduler acting on what it finds ----------------------------------
    @rule(hours=st.integers(min_value=1, max_value=24 * 40))
    def time_passes(self, hours: int) -> None:
        self.now += timedelta(hours=hours)

    @rule()
    def scheduler_runs(self) -> None:
        assert self.track is not None
        if self.track.deadline is not None and self.now >= self.track.deadline.deadline.expires_at:
            self._apply(lambda t: domain.act_on_missed_deadline(t, at=self.now, calendar=CAL))

    # -- every move, with grounds drawn so that some are missing -----------------------------------------
    @rule(outcome=st.sampled_from(AnswerOutcome), reason=st.one_of(st.none(), st.text(min_size=1, max_size=20).filter(str.strip)),
          refund=st.one_of(st.none(), st.just("12.50")))
    def platform_answers(self, outcome: AnswerOutcome, reason: str | None, refund: str | None) -> None:
        reply = FirstHandlingAnswer(outcome=outcome, reason=reason, refund_amount=refund)

        def move(t: Track) -> list[Step]:
            step = domain.answer_first_handling(t, answer=reply, at=self.now, actor=PLATFORM)
            return domain.route_answer(step, at=self.now, calendar=CAL)

        self._apply(move)

    @rule(confirms=st.booleans())
    def consumer_replies(self, confirms: bool) -> None:
        if confirms:
            self._apply(lambda t: [domain.confirm_settlement(t, at=self.now, actor=CONSUMER)])
        else:
            self._apply(lambda t: [domain.disagree_with_settlement(t, at=self.now, calendar=CAL, actor=CONSUMER)])

    @rule()
    def bureau_accepts(self) -> None:
        self._apply(lambda t: [domain.accept(t, at=self.now, actor=OFFICER)])

    @rule(ground=st.one_of(st.none(), st.sampled_from(RefusalGround)), detail=maybe_text)
    def bureau_refuses(self, ground: RefusalGround | None, detail: str | None) -> None:
        self._apply(lambda t: [domain.refuse(t, ground=ground, detail=detail, at=self.now, actor=OFFICER)])

    @rule()
    def mediation_starts(self) -> None:
        self._apply(lambda t: [domain.start_mediation(t, at=self.now, calendar=CAL, actor=OFFICER)])

    @rule(ground=st.one_of(st.none(), st.sampled_from(MediationEndGround)))
    def mediation_ends(self, ground: MediationEndGround | None) -> None:
        self._apply(lambda t: [domain.end_mediation(t, ground=ground, at=self.now, calendar=CAL, actor=OFFICER)])

    @rule(outcome=st.sampled_from(ClosingOutcome), reason=maybe_text)
    def bureau_closes(self, outcome: ClosingOutcome, reason: str | None) -> None:
        self._apply(lambda t: [domain.close(t, outcome=outcome, reason=reason, at=self.now, actor=OFFICER)])

    @rule(approver=st.one_of(st.none(), st.just(""), st.just(OFFICER.subject), st.just("head-of-division")))
    def verification_extended(self, approver: str | None) -> None:
        self._apply(lambda t: [domain.extend_verification(t, approver=approver, at=self.now, calendar=CAL, actor=OFFICER)])

    @rule(finding=maybe_text)
    def report_escalated(self, finding: str | None) -> None:
        self._apply(lambda t: [domain.escalate(t, finding=finding, at=self.now, actor=OFFICER)])

    # -- applying a move and checking the step against the rules ---------------------------------------
    def _apply(self, move: object) -> None:
        assert self.track is not None
        before = self.track
        try:
            steps: list[Step] = move(before)  # type: ignore[operator]
        except TransitionError:
            # Refused: nothing changed (tracks are immutable; the machine keeps the old one).
            if before.final:
                self.refusals += 1
            return
        for step in steps:
            self._check_step(step)
        self.steps.extend(steps)
        if steps:
            self.track = steps[-1].track
            event(f"reached {self.track.state}")  # --hypothesis-show-statistics: how deep the runs go

    def _check_step(self, step: Step) -> None:
        before, after = step.before, step.track
        # Only listed moves, and nothing out of a final state ("closed is final").
        assert not before.final, f"moved out of final state {before.state}"
        assert after.state in domain.TRANSITIONS[before.state], f"{before.state} → {after.state} is not a listed move"
        # No transition without its ground.
        assert step.audit.ground, f"{before.state} → {after.state} recorded without a ground"
        event = step.event
        if after.state is S.REFUSED:
            assert event.ground in RefusalGround  # type: ignore[union-attr]
            if event.ground is RefusalGround.OTHER_LEGAL_GROUND:  # type: ignore[union-attr]
                assert event.detail and event.detail.strip()  # type: ignore[union-attr]
        if after.state is S.PLATFORM_CONTESTED:
            assert event.reason  # type: ignore[union-attr]
        if after.state is S.ESCALATED_AS_CLUE:
            assert event.finding.strip()  # type: ignore[union-attr]
        if after.state is S.CLOSED and event.outcome is ClosingOutcome.NO_VIOLATION_FOUND:  # type: ignore[union-attr]
            assert event.reason and event.reason.strip()  # type: ignore[union-attr]
        if after.state is S.MEDIATION_ENDED and after.mediation_end_ground is MediationEndGround.TIME_LIMIT:
            assert before.deadline is not None and step.audit.at >= before.deadline.deadline.expires_at
        if before.state is S.VERIFICATION and after.state is S.VERIFICATION:
            approver = (step.audit.ground or "").removeprefix("extension-approved-by:")
            assert approver.strip() and approver != step.audit.actor.subject and not before.verification_extended
        # Deadlines are never in the past when set.
        if after.deadline is not None and after.deadline != before.deadline:
            assert after.deadline.deadline.expires_at > step.audit.at
            assert domain.deadline_in_future(after.deadline, step.audit.at)
        # The event tells the truth about the step.
        assert event.state is after.state and event.previous_state is before.state
        assert (event.deadline is None) == (after.deadline is None)
        assert step.audit.from_state is before.state and step.audit.to_state is after.state

    # -- invariants over the whole history ----------------------------------------------------------------
    @invariant()
    def the_audit_trail_is_a_chain_from_received(self) -> None:
        if not self.steps:
            return
        assert self.steps[0].audit.from_state is S.RECEIVED
        for earlier, later in zip(self.steps, self.steps[1:], strict=False):
            assert earlier.audit.to_state is later.audit.from_state
            assert earlier.audit.at <= later.audit.at

    @invariant()
    def a_deadline_runs_exactly_in_the_states_that_have_one(self) -> None:
        if self.track is not None and self.track.state is not S.RECEIVED:
            assert (self.track.deadline is not None) == (self.track.state in WITH_DEADLINE), self.track

    @invariant()
    def a_final_state_is_the_last_step(self) -> None:
        finals = [i for i, s in enumerate(self.steps) if s.track.final]
        assert finals in ([], [len(self.steps) - 1])

    @invariant()
    def only_complaints_reach_platforms_and_the_bureau_and_only_reports_verification(self) -> None:
        if self.track is None:
            return
        states = {s.track.state for s in self.steps}
        if self.track.kind is FilingKind.REPORT:
            assert states <= {S.VERIFICATION, S.ESCALATED_AS_CLUE, S.CLOSED}
        else:
            assert S.VERIFICATION not in states and S.ESCALATED_AS_CLUE not in states


Canal.TestCase.settings = settings(max_examples=300, stateful_step_count=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
TestCanal = Canal.TestCase
