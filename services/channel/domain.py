"""Pure rules of the complaint canal: intake, jurisdiction, privacy, and the state machine of an item's handling.

No I/O here. Every transition is a function from the item's :class:`Track` to a :class:`Step` (the new track,
the event that announces it, the audit entry that records who, when and on what ground); an illegal one raises
:class:`IllegalTransition` naming both states. The figures (10, 7, 60, 45, 15 …) live in :mod:`rules`.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, Final

from contracts.codes import FilingKind, IntakeChannel, RuleSet
from contracts.events.channel import (
    ActorRole,
    AnswerOutcome,
    ClaimantPattern,
    ClosingOutcome,
    ComplaintAccepted,
    ComplaintAssigned,
    ComplaintClosed,
    ComplaintDeadlineApproaching,
    ComplaintDeadlineMissed,
    ComplaintEscalated,
    ComplaintFactsMerged,
    ComplaintFiling,
    ComplaintMediationEnded,
    ComplaintMediationPaused,
    ComplaintMediationResumed,
    ComplaintMediationSessionRecorded,
    ComplaintMediationStarted,
    ComplaintPlatformResponded,
    ComplaintReceived,
    ComplaintReferred,
    ComplaintRefused,
    ComplaintVerificationExtended,
    ComplaintVerificationStarted,
    Consumer,
    DeadlineKind,
    DeadlineRef,
    FiledKind,
    FirstHandlingAnswer,
    MediationEndGround,
    MediationParty,
    MerchantRef,
    OrderRef,
    PauseReason,
    ReferralReason,
    RefusalGround,
    SessionForm,
)
from contracts.events.channel import ComplaintState as ComplaintState  # re-exported: the domain's vocabulary
from services.channel.rules import RULE_SETS as RULE_SETS  # re-exported for callers of the intake rules
from services.channel.rules import ClaimantPatterns, ComplaintRules, DayCount, FirstHandlingPolicy, Period, Threshold, rules_of
from services.channel.rules import rule_set_for as rule_set_for
from services.runtime.calendar import CHINA_TIME as CHINA_TIME
from services.runtime.calendar import Deadline, WorkingCalendar, china_day


def jurisdiction(merchant_region: str | None, platform_domicile: str | None, home_region: str) -> str:
    """The bureau at the merchant's published address; else where the platform is domiciled."""
    return merchant_region or platform_domicile or home_region


@dataclass(frozen=True, slots=True)
class Jurisdiction:
    region: str
    #: The directory's region of the store where the filing published another one (the filing's wins).
    conflict: str | None = None


def jurisdiction_of(published: str | None, listed: str | None, platform_domicile: str | None, home_region: str) -> Jurisdiction:
    """The region the merchant publishes: the filing's, else the store's in bridge's directory; else the
    platform's domicile; else the home bureau. A filing whose published region differs from the directory's
    keeps its own (DOMAIN.md: the address the merchant publishes) and the difference is a conflict to review."""
    region = jurisdiction(published or listed, platform_domicile, home_region)
    return Jurisdiction(region, listed if published and listed and listed != published else None)


def region_scope(region: str) -> str:
    """The code prefix a bureau of ``region`` oversees (GB/T 2260: province 2 + prefecture 2 + county 2).

    A province (330000) sees 33xxxx, a city (330100) 3301xx, a district only itself. Only whole pairs of zeros
    are levels: Yuhang (330110) is a district, and stripping its zero would hand it Fuyang (330111).
    """
    if region.endswith("0000"):
        return region[:2]
    if region.endswith("00"):
        return region[:4]
    return region


def in_scope(region: str, scope_region: str) -> bool:
    """Whether an item of ``region`` belongs to the bureau of ``scope_region`` or to one below it."""
    return region.startswith(region_scope(scope_region))


_NOT_DIGITS: Final = re.compile(r"\D")


def consumer_hash(salt: bytes, consumer: Consumer | None) -> str | None:
    """A salted, keyed hash that lets analytics count repeat consumers without ever seeing who they are."""
    if consumer is None:
        return None
    phone = _NOT_DIGITS.sub("", consumer.phone)[-11:]
    return hmac.new(salt, phone.encode(), hashlib.sha256).hexdigest()


def _plain(text: str) -> str:
    """Text as people mean it: full-width and half-width alike, case, spaces and punctuation ignored."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    return "".join(ch for ch in folded if not (ch.isspace() or unicodedata.category(ch).startswith(("P", "S"))))


def name_hash(salt: bytes, consumer: Consumer | None) -> str | None:
    """Salted hash of the consumer's name: to see one phone under several names without keeping the names."""
    if consumer is None:
        return None
    return hmac.new(salt, b"name:" + _plain(consumer.name).encode(), hashlib.sha256).hexdigest()


def address_hash(salt: bytes, consumer: Consumer | None) -> str | None:
    """Salted hash of the consumer's address: to see one address used by several consumers."""
    if consumer is None or not consumer.address:
        return None
    return hmac.new(salt, b"address:" + _plain(consumer.address).encode(), hashlib.sha256).hexdigest()


def facts_digest(description: str) -> str:
    """The facts of a filing, normalised: two reports with the same digest tell the same thing."""
    return hashlib.sha256(_plain(description).encode()).hexdigest()


#: The items a filing becomes: a mixed filing is split into a complaint and a report (DOMAIN.md).
PARTS: Final[Mapping[FiledKind, tuple[FilingKind, ...]]] = {
    FiledKind.COMPLAINT: (FilingKind.COMPLAINT,),
    FiledKind.REPORT: (FilingKind.REPORT,),
    FiledKind.MIXED: (FilingKind.COMPLAINT, FilingKind.REPORT),
}


class IntakeRejected(ValueError):
    """A filing that cannot enter the canal, with the reason a platform can act on."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True, slots=True)
class Complaint:
    complaint_id: str
    platform_id: str
    intake: IntakeChannel
    filing: ComplaintFiling
    #: Its own kind: the filing's, or, for a part of a mixed filing, the part's.
    kind: FilingKind
    rule_set: RuleSet
    region: str
    consumer_hash: str | None
    state: ComplaintState
    created_at: datetime
    #: The other part of a mixed filing.
    linked_complaint_id: str | None = None
    #: See :class:`Jurisdiction`.
    jurisdiction_conflict: str | None = None


#: Platform clocks drift; a filing stamped a little ahead of ours is still accepted.
CLOCK_SKEW: Final = timedelta(minutes=5)


def check_filing(filing: ComplaintFiling, now: datetime) -> None:
    """Rules a filing must meet beyond its schema; raises :class:`IntakeRejected`."""
    if filing.received_at > now + CLOCK_SKEW:
        raise IntakeRejected("received-in-future", f"received_at {filing.received_at.isoformat()} is after now ({now.isoformat()})")


def receive(
    *,
    complaint_id: str,
    platform_id: str,
    filing: ComplaintFiling,
    intake: IntakeChannel,
    now: datetime,
    home_region: str,
    hash_salt: bytes,
    platform_domicile: str | None = None,
    listed_region: str | None = None,
    kind: FilingKind | None = None,
    linked_complaint_id: str | None = None,
) -> Complaint:
    """One item from a filing; a mixed filing gives two, each received with its ``kind`` (see :data:`PARTS`)."""
    check_filing(filing, now)
    if kind is None:
        if filing.kind is FiledKind.MIXED:
            raise ValueError("a mixed filing is received part by part: pass the kind of each part")
        kind = FilingKind(filing.kind.value)
    elif kind not in PARTS[filing.kind]:
        raise ValueError(f"a {filing.kind} filing has no {kind} part")
    where = jurisdiction_of(filing.merchant.region, listed_region, platform_domicile, home_region)
    return Complaint(
        complaint_id=complaint_id,
        platform_id=platform_id,
        intake=intake,
        filing=filing,
        kind=kind,
        linked_complaint_id=linked_complaint_id,
        rule_set=rule_set_for(filing.received_at),
        region=where.region,
        consumer_hash=consumer_hash(hash_salt, filing.consumer),
        state=ComplaintState.RECEIVED,
        created_at=now,
        jurisdiction_conflict=where.conflict,
    )


def received_event(complaint: Complaint) -> ComplaintReceived:
    f = complaint.filing
    return ComplaintReceived(
        complaint_id=complaint.complaint_id,
        platform_id=complaint.platform_id,
        platform_complaint_id=f.platform_complaint_id,
        kind=complaint.kind,
        intake=complaint.intake,
        received_at=f.received_at,
        rule_set=complaint.rule_set,
        region=complaint.region,
        merchant=MerchantRef(store_id=f.merchant.store_id, store_name=f.merchant.store_name, uscc=f.merchant.uscc,
                             region=f.merchant.region),
        order=OrderRef(order_id=f.order.order_id, amount=f.order.amount, goods_category=f.order.goods_category),
        category=f.category,
        description=f.description,
        consumer_hash=complaint.consumer_hash,
        linked_complaint_id=complaint.linked_complaint_id,
        attachments=f.attachments or None,
    )


# == the handling state machine ===========================================================================
S = ComplaintState

#: Nothing moves an item out of these.
FINAL_STATES: Final = frozenset({S.CLOSED, S.REFUSED, S.ESCALATED_AS_CLUE})

#: Every allowed move; each function below also checks the ground its move needs.
TRANSITIONS: Final[Mapping[ComplaintState, frozenset[ComplaintState]]] = {
    S.RECEIVED: frozenset({S.ASSIGNED_TO_PLATFORM, S.AWAITING_ACCEPTANCE, S.VERIFICATION}),
    S.ASSIGNED_TO_PLATFORM: frozenset({S.PLATFORM_SETTLED, S.PLATFORM_NOT_SETTLED, S.PLATFORM_CONTESTED, S.AWAITING_ACCEPTANCE}),
    S.PLATFORM_SETTLED: frozenset({S.CLOSED, S.AWAITING_ACCEPTANCE}),
    S.PLATFORM_NOT_SETTLED: frozenset({S.AWAITING_ACCEPTANCE}),
    S.PLATFORM_CONTESTED: frozenset({S.AWAITING_ACCEPTANCE}),
    S.AWAITING_ACCEPTANCE: frozenset({S.ACCEPTED, S.REFUSED}),
    S.ACCEPTED: frozenset({S.MEDIATION, S.CLOSED}),
    S.MEDIATION: frozenset({S.MEDIATION_ENDED}),
    S.MEDIATION_ENDED: frozenset({S.CLOSED}),
    S.VERIFICATION: frozenset({S.VERIFICATION, S.ESCALATED_AS_CLUE, S.CLOSED}),
    S.REFUSED: frozenset(),
    S.ESCALATED_AS_CLUE: frozenset(),
    S.CLOSED: frozenset(),
}

#: The state a referral to the bureau comes from is its ground: each reason fits one state.
REFERRAL_FROM: Final[Mapping[ReferralReason, ComplaintState]] = {
    ReferralReason.PLATFORM_NOT_CONNECTED: S.RECEIVED,
    ReferralReason.FIRST_HANDLING_MISSED: S.ASSIGNED_TO_PLATFORM,
    ReferralReason.NOT_SETTLED: S.PLATFORM_NOT_SETTLED,
    ReferralReason.CONTESTED: S.PLATFORM_CONTESTED,
    ReferralReason.CONSUMER_DISAGREED: S.PLATFORM_SETTLED,
}

#: Closing outcomes by the state they close from.
CLOSING_FROM: Final[Mapping[ClosingOutcome, ComplaintState]] = {
    ClosingOutcome.SETTLED_BY_PLATFORM: S.PLATFORM_SETTLED,
    ClosingOutcome.NO_MEDIATION_CONSENT: S.ACCEPTED,
    ClosingOutcome.MEDIATION_AGREEMENT: S.MEDIATION_ENDED,
    ClosingOutcome.MEDIATION_FAILED: S.MEDIATION_ENDED,
    ClosingOutcome.NO_VIOLATION_FOUND: S.VERIFICATION,
}

_ANSWER_STATES: Final[Mapping[AnswerOutcome, ComplaintState]] = {
    AnswerOutcome.SETTLED: S.PLATFORM_SETTLED,
    AnswerOutcome.NOT_SETTLED: S.PLATFORM_NOT_SETTLED,
    AnswerOutcome.CONTESTED: S.PLATFORM_CONTESTED,
}


class TransitionError(ValueError):
    """A move the rules do not allow; ``reason`` is a stable code for problem types and DLQ headers."""

    reason = "transition-refused"


class IllegalTransition(TransitionError):
    """The move is not allowed from the item's current state."""

    reason = "illegal-transition"

    def __init__(self, current: ComplaintState, target: ComplaintState) -> None:
        super().__init__(f"a complaint in state '{current}' cannot move to '{target}'")
        self.current = current
        self.target = target


class AlreadyAnswered(IllegalTransition):
    """The platform answered this item before: its first handling is over."""

    reason = "already-answered"

    def __init__(self, current: ComplaintState, target: ComplaintState) -> None:
        super().__init__(current, target)
        self.args = (f"the first handling was already answered; the complaint is now '{current}'",)


class GroundRequired(TransitionError):
    """The move is allowed from this state, but its ground is missing or does not fit."""

    reason = "ground-required"


@dataclass(frozen=True, slots=True)
class Actor:
    role: ActorRole
    #: Who, for the audit record: a token subject, or a component name for the system.
    subject: str


SCHEDULER: Final = Actor(ActorRole.SYSTEM, "channel/deadline-scheduler")
INTAKE: Final = Actor(ActorRole.SYSTEM, "channel/intake")


@dataclass(frozen=True, slots=True)
class OpenDeadline:
    kind: DeadlineKind
    deadline: Deadline
    #: The rule (rule set and figure) the deadline was computed from.
    rule_id: str

    def ref(self) -> DeadlineRef:
        return DeadlineRef(kind=self.kind, due=self.deadline.due, provisional=self.deadline.provisional)


@dataclass(frozen=True, slots=True)
class Track:
    """What the state machine knows of an item: its state, its running deadline and the facts rules depend on."""

    complaint_id: str
    platform_id: str
    platform_complaint_id: str
    region: str
    kind: FilingKind
    rule_set: RuleSet
    state: ComplaintState
    deadline: OpenDeadline | None = None
    accepted_at: datetime | None = None
    answered: bool = False
    verification_extended: bool = False
    mediation_end_ground: MediationEndGround | None = None
    #: Set while the mediation clock is stopped (testing, appraisal, identification).
    mediation_paused_at: datetime | None = None

    @property
    def rules(self) -> ComplaintRules:
        return rules_of(self.rule_set)

    @property
    def final(self) -> bool:
        return self.state in FINAL_STATES


def track_of(complaint: Complaint) -> Track:
    return Track(
        complaint_id=complaint.complaint_id,
        platform_id=complaint.platform_id,
        platform_complaint_id=complaint.filing.platform_complaint_id,
        region=complaint.region,
        kind=complaint.kind,
        rule_set=complaint.rule_set,
        state=complaint.state,
    )


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One row of the insert-only audit trail: who moved the item, when, from where to where, on what ground."""

    complaint_id: str
    at: datetime
    actor: Actor
    from_state: ComplaintState
    to_state: ComplaintState
    event_type: str
    ground: str | None = None
    detail: str | None = None
    rule_id: str | None = None


TransitionEvent = (
    ComplaintAssigned
    | ComplaintPlatformResponded
    | ComplaintReferred
    | ComplaintAccepted
    | ComplaintRefused
    | ComplaintMediationStarted
    | ComplaintMediationEnded
    | ComplaintVerificationStarted
    | ComplaintVerificationExtended
    | ComplaintEscalated
    | ComplaintClosed
    | ComplaintFactsMerged
    | ComplaintMediationPaused
    | ComplaintMediationResumed
    | ComplaintMediationSessionRecorded
)
DeadlineEvent = ComplaintDeadlineApproaching | ComplaintDeadlineMissed


@dataclass(frozen=True, slots=True)
class Step:
    before: Track
    track: Track
    event: TransitionEvent
    audit: AuditEntry


def _check_move(track: Track, target: ComplaintState) -> None:
    if target not in TRANSITIONS[track.state]:
        raise IllegalTransition(track.state, target)


def _aware(at: datetime) -> datetime:
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError("transition time must carry a timezone")
    return at


def _deadline(kind: DeadlineKind, period: Period, start: datetime, calendar: WorkingCalendar) -> OpenDeadline:
    return OpenDeadline(kind, period.deadline_from(start, calendar), period.rule_id)


def _step(
    track: Track,
    target: ComplaintState,
    event_type: type[TransitionEvent],
    *,
    at: datetime,
    actor: Actor,
    deadline: OpenDeadline | None,
    ground: str | None = None,
    detail: str | None = None,
    fields: Mapping[str, Any] | None = None,
    **changes: Any,
) -> Step:
    after = replace(track, state=target, deadline=deadline, **changes)
    event = event_type.model_validate(
        {
            "complaint_id": track.complaint_id,
            "platform_id": track.platform_id,
            "region": track.region,
            "state": target,
            "previous_state": track.state,
            "by": actor.role,
            "at": at,
            "deadline": deadline.ref() if deadline else None,
            **(fields or {}),
        }
    )
    audit = AuditEntry(
        complaint_id=track.complaint_id,
        at=at,
        actor=actor,
        from_state=track.state,
        to_state=target,
        event_type=event_type.event_type,
        ground=ground,
        detail=detail,
        rule_id=deadline.rule_id if deadline else None,
    )
    return Step(before=track, track=after, event=event, audit=audit)


# -- first handling by the platform ------------------------------------------------------------------------
def assign_to_platform(track: Track, *, at: datetime, calendar: WorkingCalendar, period: Period, actor: Actor = INTAKE) -> Step:
    """A complaint against a merchant on a connected platform goes to that platform first (先行处置)."""
    _check_move(track, S.ASSIGNED_TO_PLATFORM)
    if track.kind is not FilingKind.COMPLAINT:
        raise GroundRequired(f"only a complaint goes to first handling; this item is a {track.kind}")
    deadline = _deadline(DeadlineKind.FIRST_HANDLING, period, _aware(at), calendar)
    return _step(track, S.ASSIGNED_TO_PLATFORM, ComplaintAssigned, at=at, actor=actor, deadline=deadline,
                 ground="connected-platform", fields={"platform_complaint_id": track.platform_complaint_id})


def answer_first_handling(track: Track, *, answer: FirstHandlingAnswer, at: datetime, actor: Actor) -> Step:
    """The platform's answer: settled (with an optional refund), not settled, or contested (with a reason)."""
    target = _ANSWER_STATES[answer.outcome]
    if track.answered:
        raise AlreadyAnswered(track.state, target)
    _check_move(track, target)
    if answer.outcome is AnswerOutcome.CONTESTED and not answer.reason:
        raise GroundRequired("a contested complaint needs the platform's reason")
    if answer.refund_amount is not None and answer.outcome is not AnswerOutcome.SETTLED:
        raise GroundRequired(f"a refund amount goes only with outcome 'settled', not '{answer.outcome}'")
    return _step(track, target, ComplaintPlatformResponded, at=_aware(at), actor=actor, deadline=None,
                 ground=f"answer:{answer.outcome}", detail=answer.reason, answered=True,
                 fields={"outcome": answer.outcome, "refund_amount": answer.refund_amount, "reason": answer.reason})


def refer_to_bureau(track: Track, *, reason: ReferralReason, at: datetime, calendar: WorkingCalendar, actor: Actor) -> Step:
    """The bureau's track begins; first-handling time does not count, so acceptance is counted from now."""
    _check_move(track, S.AWAITING_ACCEPTANCE)
    if REFERRAL_FROM[reason] is not track.state:
        raise GroundRequired(f"'{reason}' is not a ground for referring a complaint in state '{track.state}'")
    if track.kind is not FilingKind.COMPLAINT:
        raise GroundRequired(f"only a complaint is accepted or refused; this item is a {track.kind}")
    deadline = _deadline(DeadlineKind.ACCEPTANCE, track.rules.acceptance, _aware(at), calendar)
    return _step(track, S.AWAITING_ACCEPTANCE, ComplaintReferred, at=at, actor=actor, deadline=deadline,
                 ground=f"referral:{reason}", fields={"reason": reason})


def route_answer(step: Step, *, at: datetime, calendar: WorkingCalendar) -> list[Step]:
    """An answer, and what follows at once: not settled or contested goes straight to the bureau's track."""
    follow = {S.PLATFORM_NOT_SETTLED: ReferralReason.NOT_SETTLED, S.PLATFORM_CONTESTED: ReferralReason.CONTESTED}
    reason = follow.get(step.track.state)
    if reason is None:
        return [step]
    return [step, refer_to_bureau(step.track, reason=reason, at=at, calendar=calendar, actor=INTAKE)]


def confirm_settlement(track: Track, *, at: datetime, actor: Actor) -> Step:
    """The consumer confirms the platform's settlement: the item is closed."""
    return close(track, outcome=ClosingOutcome.SETTLED_BY_PLATFORM, reason=None, at=at, actor=actor)


def disagree_with_settlement(track: Track, *, at: datetime, calendar: WorkingCalendar, actor: Actor) -> Step:
    """The consumer disagrees with the platform's settlement: the bureau's track."""
    return refer_to_bureau(track, reason=ReferralReason.CONSUMER_DISAGREED, at=at, calendar=calendar, actor=actor)


def answer_settlement(track: Track, *, agree: bool, at: datetime, calendar: WorkingCalendar, actor: Actor) -> Step:
    """The consumer's word on a settlement. Only a settled item waits for it; from any other state the move
    is illegal, named by both states (closing from 'accepted' is allowed for other outcomes, not for this one)."""
    target = S.CLOSED if agree else S.AWAITING_ACCEPTANCE
    if track.state is not S.PLATFORM_SETTLED:
        raise IllegalTransition(track.state, target)
    if agree:
        return confirm_settlement(track, at=at, actor=actor)
    return disagree_with_settlement(track, at=at, calendar=calendar, actor=actor)


# -- the bureau's track ------------------------------------------------------------------------------------
def accept(track: Track, *, at: datetime, actor: Actor) -> Step:
    _check_move(track, S.ACCEPTED)
    return _step(track, S.ACCEPTED, ComplaintAccepted, at=_aware(at), actor=actor, deadline=None, ground="accepted", accepted_at=at)


def refuse(track: Track, *, ground: RefusalGround | None, detail: str | None, at: datetime, actor: Actor) -> Step:
    """Refusal (不予受理) needs one of the grounds of the rule set; "other legal ground" must be named."""
    _check_move(track, S.REFUSED)
    if ground is None:
        raise GroundRequired("refusing a complaint needs a ground: " + ", ".join(g.value for g in RefusalGround))
    if ground is RefusalGround.OTHER_LEGAL_GROUND and not (detail and detail.strip()):
        raise GroundRequired("'other_legal_ground' needs the detail naming the legal ground")
    return _step(track, S.REFUSED, ComplaintRefused, at=_aware(at), actor=actor, deadline=None,
                 ground=f"refusal:{ground}", detail=detail, fields={"ground": ground, "detail": detail})


def start_mediation(track: Track, *, at: datetime, calendar: WorkingCalendar, actor: Actor) -> Step:
    """Both parties consented (the officer records it); the time limit runs from acceptance, not from now."""
    _check_move(track, S.MEDIATION)
    if track.accepted_at is None:
        raise GroundRequired("mediation is counted from acceptance, and this complaint has no acceptance time")
    deadline = _deadline(DeadlineKind.MEDIATION, track.rules.mediation, track.accepted_at, calendar)
    if deadline.deadline.expires_at <= _aware(at):
        raise GroundRequired(f"the mediation time limit counted from acceptance ended on {deadline.deadline.due}")
    return _step(track, S.MEDIATION, ComplaintMediationStarted, at=at, actor=actor, deadline=deadline, ground="consent-of-both-parties")


def end_mediation(track: Track, *, ground: MediationEndGround | None, at: datetime, calendar: WorkingCalendar, actor: Actor) -> Step:
    """Mediation ends by agreement or on an ending ground; both sides are to be told within the notice period."""
    _check_move(track, S.MEDIATION_ENDED)
    if ground is None:
        raise GroundRequired("ending mediation needs a ground: " + ", ".join(g.value for g in MediationEndGround))
    if ground is MediationEndGround.TIME_LIMIT and (track.deadline is None or _aware(at) < track.deadline.deadline.expires_at):
        raise GroundRequired("'time_limit' applies only once the mediation time limit has passed")
    deadline = _deadline(DeadlineKind.MEDIATION_END_NOTICE, track.rules.mediation_end_notice, _aware(at), calendar)
    return _step(track, S.MEDIATION_ENDED, ComplaintMediationEnded, at=at, actor=actor, deadline=deadline,
                 ground=f"mediation-end:{ground}", mediation_end_ground=ground, mediation_paused_at=None, fields={"ground": ground})


# -- mediation: sessions and paused time ---------------------------------------------------------------------
def paused_days(period: Period, pauses: Sequence[tuple[datetime, datetime]], calendar: WorkingCalendar) -> int:
    """Days the pauses add to a mediation period, counted like the period: the calendar days, or the working
    days, from each pause's day (not counted, like a period's first day) to its resumption's day."""
    total = 0
    for paused, resumed in pauses:
        first, last = china_day(paused), china_day(resumed)
        if period.count is DayCount.CALENDAR_DAYS:
            total += (last - first).days
        else:
            total += sum(1 for n in range(1, (last - first).days + 1) if calendar.is_working_day(first + timedelta(days=n)))
    return total


def mediation_deadline(period: Period, accepted_at: datetime, pauses: Sequence[tuple[datetime, datetime]],
                       calendar: WorkingCalendar) -> Deadline:
    """The mediation limit counted from acceptance, moved by the time the clock was stopped (DOMAIN.md: time for
    testing and appraisal is not counted)."""
    longer = replace(period, days=period.days + paused_days(period, pauses, calendar))
    return longer.deadline_from(accepted_at, calendar)


def _in_mediation(track: Track) -> None:
    if track.state is not S.MEDIATION:
        raise IllegalTransition(track.state, S.MEDIATION)


def pause_mediation(track: Track, *, reason: PauseReason, at: datetime, actor: Actor) -> Step:
    """Testing, appraisal or identification begins: the clock stops and the deadline waits (none is open)."""
    _in_mediation(track)
    if track.mediation_paused_at is not None:
        raise GroundRequired(f"the mediation clock is already paused since {track.mediation_paused_at.isoformat()}")
    return _step(track, S.MEDIATION, ComplaintMediationPaused, at=_aware(at), actor=actor, deadline=None, ground=f"pause:{reason}",
                 mediation_paused_at=at, fields={"reason": reason})


def resume_mediation(track: Track, *, earlier_pauses: Sequence[tuple[datetime, datetime]], at: datetime, calendar: WorkingCalendar,
                     actor: Actor) -> Step:
    """The clock runs again; the deadline is the limit from acceptance plus every pause so far."""
    _in_mediation(track)
    if track.mediation_paused_at is None or track.accepted_at is None:
        raise GroundRequired("the mediation clock is not paused")
    this = (track.mediation_paused_at, _aware(at))
    period = track.rules.mediation
    due = mediation_deadline(period, track.accepted_at, [*earlier_pauses, this], calendar)
    deadline = OpenDeadline(DeadlineKind.MEDIATION, due, period.rule_id)
    added = paused_days(period, [this], calendar)
    return _step(track, S.MEDIATION, ComplaintMediationResumed, at=at, actor=actor, deadline=deadline, ground="resume",
                 detail=f"{added} {period.count.value.replace('_', ' ')} paused", mediation_paused_at=None, fields={"paused_days": added})


def record_session(track: Track, *, session_id: str, held_at: datetime, form: SessionForm, parties: Sequence[MediationParty],
                   at: datetime, actor: Actor) -> Step:
    """A session held in mediation: recorded as an act on the item (event and audit), its state unchanged."""
    _in_mediation(track)
    if _aware(held_at) > _aware(at) + CLOCK_SKEW:
        raise GroundRequired("a session is recorded once it has been held: held_at is in the future")
    if not parties:
        raise GroundRequired("a session records the parties present")
    return _step(track, S.MEDIATION, ComplaintMediationSessionRecorded, at=at, actor=actor, deadline=track.deadline,
                 ground=f"session:{form}", detail=session_id,
                 fields={"session_id": session_id, "held_at": held_at, "form": form, "parties": list(dict.fromkeys(parties))})


def close(track: Track, *, outcome: ClosingOutcome, reason: str | None, at: datetime, actor: Actor) -> Step:
    _check_move(track, S.CLOSED)
    if CLOSING_FROM[outcome] is not track.state:
        raise GroundRequired(f"outcome '{outcome}' does not close a complaint in state '{track.state}'")
    if outcome is ClosingOutcome.MEDIATION_AGREEMENT and track.mediation_end_ground is not MediationEndGround.AGREEMENT:
        raise GroundRequired("'mediation_agreement' needs mediation to have ended by agreement")
    if outcome is ClosingOutcome.MEDIATION_FAILED and track.mediation_end_ground is MediationEndGround.AGREEMENT:
        raise GroundRequired("mediation ended by agreement: close with 'mediation_agreement'")
    if outcome is ClosingOutcome.NO_VIOLATION_FOUND and not (reason and reason.strip()):
        raise GroundRequired("a report is closed with reasons")
    return _step(track, S.CLOSED, ComplaintClosed, at=_aware(at), actor=actor, deadline=None,
                 ground=f"outcome:{outcome}", detail=reason, fields={"outcome": outcome, "reason": reason})


# -- reports: verification ---------------------------------------------------------------------------------
def start_verification(track: Track, *, at: datetime, calendar: WorkingCalendar, actor: Actor = INTAKE) -> Step:
    _check_move(track, S.VERIFICATION)
    if track.kind is not FilingKind.REPORT:
        raise GroundRequired(f"verification starts from a report; this item is a {track.kind}")
    deadline = _deadline(DeadlineKind.VERIFICATION, track.rules.verification, _aware(at), calendar)
    return _step(track, S.VERIFICATION, ComplaintVerificationStarted, at=at, actor=actor, deadline=deadline, ground="report-received")


def extend_verification(track: Track, *, approver: str | None, at: datetime, calendar: WorkingCalendar, actor: Actor) -> Step:
    """One extension, granted by an approver other than the officer asking for it."""
    _check_move(track, S.VERIFICATION)
    if track.state is not S.VERIFICATION:
        raise IllegalTransition(track.state, S.VERIFICATION)
    if not (approver and approver.strip()):
        raise GroundRequired("extending verification needs the approver")
    if approver == actor.subject:
        raise GroundRequired("the approver of an extension must be someone other than the officer asking for it")
    if track.verification_extended:
        raise GroundRequired("verification was already extended once")
    if track.deadline is None:
        raise GroundRequired("verification has no deadline to extend")
    if _aware(at) >= track.deadline.deadline.expires_at:
        # An extension prolongs a running period; once it has run out the item is late, and extending from
        # the old last day could set a deadline that is already in the past.
        raise GroundRequired(f"the verification period ended on {track.deadline.deadline.due}; an extension is approved before it ends")
    extension = track.rules.verification_extension
    deadline = OpenDeadline(DeadlineKind.VERIFICATION, calendar.extend(track.deadline.deadline, extension.days), extension.rule_id)
    return _step(track, S.VERIFICATION, ComplaintVerificationExtended, at=_aware(at), actor=actor, deadline=deadline,
                 ground=f"extension-approved-by:{approver}", verification_extended=True)


def escalate(track: Track, *, finding: str | None, at: datetime, actor: Actor) -> Step:
    """A verified violation becomes a case clue; enforcement takes it from here."""
    _check_move(track, S.ESCALATED_AS_CLUE)
    if not (finding and finding.strip()):
        raise GroundRequired("escalating as a clue needs the finding: the suspected violation")
    return _step(track, S.ESCALATED_AS_CLUE, ComplaintEscalated, at=_aware(at), actor=actor, deadline=None,
                 ground="violation-suspected", detail=finding, fields={"finding": finding})


def merge_facts(track: Track, *, platform_complaint_id: str, at: datetime, calendar: WorkingCalendar, actor: Actor = INTAKE) -> Step:
    """A repeat report with new facts joins the open report, and its verification starts again from now."""
    if track.kind is not FilingKind.REPORT or track.state is not S.VERIFICATION:
        raise IllegalTransition(track.state, S.VERIFICATION)
    deadline = _deadline(DeadlineKind.VERIFICATION, track.rules.verification, _aware(at), calendar)
    return _step(track, S.VERIFICATION, ComplaintFactsMerged, at=at, actor=actor, deadline=deadline, ground="repeat-report-new-facts",
                 detail=platform_complaint_id, fields={"platform_complaint_id": platform_complaint_id})


@dataclass(frozen=True, slots=True)
class OpenReport:
    """What repeat detection knows of a reporter's open report about a merchant."""

    complaint_id: str
    facts: frozenset[str]


@dataclass(frozen=True, slots=True)
class Repeat:
    complaint_id: str
    #: False: the same facts again, not handled again. True: new facts, merged and the clock restarted.
    new_facts: bool


def repeat_of(digest: str, open_report: OpenReport | None) -> Repeat | None:
    """Whether a report repeats the reporter's open report about the same merchant (DOMAIN.md): the same
    facts are not handled again; new facts are merged into it."""
    if open_report is None:
        return None
    return Repeat(open_report.complaint_id, new_facts=digest not in open_report.facts)


# -- professional claimants -------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class ClaimantSigns:
    """Counts around one new filing, each within its pattern's window and including the filing itself."""

    filings: int  # by this consumer, within the volume window
    recent_filings: int  # by this consumer, arriving together (this batch, or within the bulk window)
    names_for_phone: int  # different names given with this phone number
    consumers_at_address: int  # different consumers giving this address


@dataclass(frozen=True, slots=True)
class Flag:
    pattern: ClaimantPattern
    detail: str
    rule_id: str


def _window(threshold: Threshold) -> str:
    days = threshold.window.days
    return f"{days} days" if days else f"{int(threshold.window.total_seconds() // 3600)} hours"


def claimant_flags(signs: ClaimantSigns, patterns: ClaimantPatterns) -> list[Flag]:
    """Patterns a new filing's consumer matches. They raise flags for a person to review, and nothing else:
    no filing is ever refused for them."""
    flags = []
    seen = (
        (ClaimantPattern.VOLUME, patterns.volume, signs.filings, "filings by this consumer within"),
        (ClaimantPattern.BULK, patterns.bulk, signs.recent_filings, "filings by this consumer arriving together, within"),
        (ClaimantPattern.SHARED_PHONE, patterns.shared_phone, signs.names_for_phone, "different names with this phone number within"),
        (ClaimantPattern.SHARED_ADDRESS, patterns.shared_address, signs.consumers_at_address, "different consumers at this address within"),
    )
    for pattern, threshold, count, what in seen:
        if count >= threshold.count:
            flags.append(Flag(pattern, f"{count} {what} {_window(threshold)}", threshold.rule_id))
    return flags


# -- deadlines -----------------------------------------------------------------------------------------------
def approaching_day(track: Track, calendar: WorkingCalendar) -> datetime | None:
    """When "deadline approaching" is due: the start (China time) of the notice day before the last day."""
    if track.deadline is None:
        return None
    day = calendar.working_days_before(track.deadline.deadline.due, track.rules.approaching_working_days)
    return datetime.combine(day, datetime.min.time(), tzinfo=CHINA_TIME)


def deadline_notice(track: Track, *, missed: bool, at: datetime) -> DeadlineEvent:
    if track.deadline is None:
        raise ValueError(f"complaint {track.complaint_id} has no running deadline")
    model: type[DeadlineEvent] = ComplaintDeadlineMissed if missed else ComplaintDeadlineApproaching
    return model(complaint_id=track.complaint_id, platform_id=track.platform_id, region=track.region, state=track.state,
                 at=_aware(at), deadline=track.deadline.ref())


def act_on_missed_deadline(track: Track, *, at: datetime, calendar: WorkingCalendar) -> list[Step]:
    """What a missed deadline does by itself: unanswered first handling goes to the bureau; mediation ends.

    Other missed deadlines (acceptance, verification, notice) stay open and are flagged by their event.
    """
    if track.deadline is None or track.final:
        return []
    if track.deadline.kind is DeadlineKind.FIRST_HANDLING and track.state is S.ASSIGNED_TO_PLATFORM:
        return [refer_to_bureau(track, reason=ReferralReason.FIRST_HANDLING_MISSED, at=at, calendar=calendar, actor=SCHEDULER)]
    if track.deadline.kind is DeadlineKind.MEDIATION and track.state is S.MEDIATION:
        return [end_mediation(track, ground=MediationEndGround.TIME_LIMIT, at=at, calendar=calendar, actor=SCHEDULER)]
    return []


def deadline_in_future(deadline: OpenDeadline | None, at: datetime) -> bool:
    """The invariant every transition keeps: a deadline it sets has not expired when it is set."""
    return deadline is None or (deadline.deadline.expires_at > at and deadline.deadline.due >= china_day(at))





def route_new_item(track: Track, *, at: datetime, calendar: WorkingCalendar, policy: FirstHandlingPolicy,
                   connected: bool | None = None) -> list[Step]:
    """Where a newly received item goes: a report to verification; a complaint to its platform's first
    handling when the platform is connected (``connected``: what bridge's directory says, where it knows the
    platform), else straight to the bureau's track."""
    if track.kind is FilingKind.REPORT:
        return [start_verification(track, at=at, calendar=calendar)]
    if policy.is_connected(track.platform_id, connected):
        return [assign_to_platform(track, at=at, calendar=calendar, period=policy.period(track.platform_id, track.rules))]
    return [refer_to_bureau(track, reason=ReferralReason.PLATFORM_NOT_CONNECTED, at=at, calendar=calendar, actor=INTAKE)]
