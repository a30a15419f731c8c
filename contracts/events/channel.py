"""Events of the complaint canal (channel) and the platform feed records it consumes."""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, ClassVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from contracts import topics
from contracts.codes import ComplaintCategory, FilingKind, IntakeChannel, RuleSet
from contracts.events.base import EventData

RegionCode = Annotated[str, StringConstraints(pattern=r"^[0-9]{6}$")]
Uscc = Annotated[str, StringConstraints(pattern=r"^[0-9A-HJ-NPQRTUWXY]{18}$")]
ShortText = Annotated[str, StringConstraints(min_length=1, max_length=200, strip_whitespace=True)]


def _aware(moment: datetime) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("must be RFC 3339 with an offset")
    return moment


AwareDatetime = Annotated[datetime, AfterValidator(_aware)]
_AMOUNT_RE = re.compile(r"(0|[1-9][0-9]{0,11})(\.[0-9]{1,2})?")


def _amount(value: str) -> str:
    if not _AMOUNT_RE.fullmatch(value):
        raise ValueError("amount must be a decimal string in CNY with at most 2 decimals, e.g. '199.00'")
    return str(Decimal(value).quantize(Decimal("0.01")))


AmountCny = Annotated[str, AfterValidator(_amount)]


class _Closed(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Merchant(_Closed):
    store_id: ShortText
    store_name: ShortText
    uscc: Uscc | None = None
    region: RegionCode | None = None


class Order(_Closed):
    order_id: ShortText | None = None
    amount: AmountCny
    goods_category: ShortText


class Consumer(_Closed):
    name: Annotated[str, StringConstraints(min_length=1, max_length=50, strip_whitespace=True)]
    phone: Annotated[str, StringConstraints(pattern=r"^\+?[0-9 -]{5,20}$")]
    address: Annotated[str, StringConstraints(min_length=1, max_length=300, strip_whitespace=True)] | None = None


class Attachment(_Closed):
    """A file the consumer attached (photo, receipt, chat log), referenced by its digest and size: the file stays
    with the platform, which must keep it (3 years) and hand it over on request; the digest proves it unchanged."""

    sha256: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")] = Field(description="SHA-256 of the file, lowercase hex")
    size_bytes: int = Field(ge=1, le=1_073_741_824)
    media_type: Annotated[str, StringConstraints(pattern=r"^[a-z]+/[a-z0-9][a-z0-9.+-]{0,99}$")] = Field(
        description="IANA media type, e.g. image/jpeg"
    )


class FiledKind(StrEnum):
    """What a filing is; a mixed one is split into a complaint and a report, each an item of its own kind."""

    COMPLAINT = "complaint"
    REPORT = "report"
    MIXED = "mixed"


class ComplaintFiling(_Closed):
    """What a platform files: the HTTP body of ``POST /v1/complaints`` and the data of a feed record."""

    platform_complaint_id: ShortText
    kind: FiledKind
    received_at: AwareDatetime
    merchant: Merchant
    order: Order
    category: ComplaintCategory
    description: Annotated[str, StringConstraints(min_length=1, max_length=5000)]
    consumer: Consumer | None = None
    attachments: list[Attachment] | None = Field(default=None, max_length=20, description="At most 20, by digest and size")


class ComplaintSubmitted(ComplaintFiling, EventData):
    """A platform's own complaint record, published on its feed topic ``feed.<platform_id>.complaints.v1``."""

    event_type: ClassVar[str] = "redshield.platform.complaint.submitted.v1"
    topic: ClassVar[str] = "feed.<platform_id>.complaints.v1"
    summary: ClassVar[str] = "A complaint or report a platform received from a consumer, handed to the bureau's canal."


class MerchantRef(_Closed):
    store_id: str
    store_name: str
    uscc: str | None = None
    region: RegionCode | None = None


class OrderRef(_Closed):
    order_id: str | None = None
    amount: str = Field(description="CNY, decimal string with 2 decimals")
    goods_category: str


class ComplaintReceived(EventData):
    """channel accepted a filing into the canal. Personal data stays in channel: only a salted hash leaves."""

    event_type: ClassVar[str] = "redshield.channel.complaint.received.v1"
    topic: ClassVar[str] = topics.CHANNEL_COMPLAINTS
    summary: ClassVar[str] = "A complaint or report entered the canal."

    complaint_id: str
    platform_id: str
    platform_complaint_id: str
    kind: FilingKind
    intake: IntakeChannel
    received_at: AwareDatetime
    rule_set: RuleSet
    region: RegionCode = Field(description="Region code of the bureau with jurisdiction (GB/T 2260)")
    merchant: MerchantRef
    order: OrderRef
    category: ComplaintCategory
    description: str
    consumer_hash: str | None = Field(default=None, description="HMAC-SHA256 of the consumer, salted per deployment")
    linked_complaint_id: str | None = Field(default=None, description="The other part of a mixed filing (its complaint or its report)")
    attachments: list[Attachment] | None = Field(default=None, description="The filing's attachments, by digest and size")


# -- the handling of a complaint or report: states, grounds and one event per transition ---------------------
class ComplaintState(StrEnum):
    """Where an item stands (DOMAIN.md, "Complaints and reports")."""

    RECEIVED = "received"
    ASSIGNED_TO_PLATFORM = "assigned_to_platform"  # 先行处置: the platform has its first-handling deadline
    PLATFORM_SETTLED = "platform_settled"  # waits for the consumer to confirm or disagree
    PLATFORM_NOT_SETTLED = "platform_not_settled"
    PLATFORM_CONTESTED = "platform_contested"
    AWAITING_ACCEPTANCE = "awaiting_acceptance"  # the bureau's track: accept or refuse
    ACCEPTED = "accepted"
    REFUSED = "refused"  # final
    MEDIATION = "mediation"
    MEDIATION_ENDED = "mediation_ended"  # both sides are told, then closed
    VERIFICATION = "verification"  # 核查: reports
    ESCALATED_AS_CLUE = "escalated_as_clue"  # final: enforcement takes it from here
    CLOSED = "closed"  # final


class DeadlineKind(StrEnum):
    FIRST_HANDLING = "first_handling"
    ACCEPTANCE = "acceptance"
    MEDIATION = "mediation"
    MEDIATION_END_NOTICE = "mediation_end_notice"
    VERIFICATION = "verification"


class ActorRole(StrEnum):
    """Who moved an item: the audit record names the person, events only the role."""

    PLATFORM = "platform"
    BUREAU = "bureau"
    CONSUMER = "consumer"
    SYSTEM = "system"  # the deadline scheduler, intake rules


class AnswerOutcome(StrEnum):
    SETTLED = "settled"
    NOT_SETTLED = "not_settled"
    CONTESTED = "contested"


class ReferralReason(StrEnum):
    """Why an item went to the bureau's track."""

    PLATFORM_NOT_CONNECTED = "platform_not_connected"
    NOT_SETTLED = "not_settled"
    CONTESTED = "contested"
    FIRST_HANDLING_MISSED = "first_handling_missed"
    CONSUMER_DISAGREED = "consumer_disagreed"


class RefusalGround(StrEnum):
    """Grounds for not accepting a complaint (不予受理), DOMAIN.md."""

    OUTSIDE_REMIT = "outside_remit"
    OUTSIDE_JURISDICTION = "outside_jurisdiction"
    ALREADY_HANDLED = "already_handled"
    NOT_PERSONAL_CONSUMPTION = "not_personal_consumption"
    TIME_BARRED = "time_barred"  # more than 3 years since the consumer knew of the harm
    MATERIALS_MISSING_OR_FALSE = "materials_missing_or_false"
    IDENTITY_NOT_VERIFIED = "identity_not_verified"  # impersonation or refusal of identity checks
    OTHER_LEGAL_GROUND = "other_legal_ground"  # the detail must name it


class MediationEndGround(StrEnum):
    AGREEMENT = "agreement"
    WITHDRAWN = "withdrawn"
    REFUSED = "refused"  # a party refuses to continue
    IMPASSE = "impasse"
    TIME_LIMIT = "time_limit"  # no agreement within the rule set's limit
    DISSOLUTION = "dissolution"  # a party dissolved


class ClosingOutcome(StrEnum):
    SETTLED_BY_PLATFORM = "settled_by_platform"  # settled in first handling, confirmed by the consumer
    MEDIATION_AGREEMENT = "mediation_agreement"
    MEDIATION_FAILED = "mediation_failed"  # ended on any other ground
    NO_MEDIATION_CONSENT = "no_mediation_consent"  # accepted, but the parties did not consent to mediation
    NO_VIOLATION_FOUND = "no_violation_found"  # a report verified and closed with reasons


class DeadlineRef(_Closed):
    kind: DeadlineKind
    due: date = Field(description="Last day (China time) on which the step may still be taken")
    provisional: bool = Field(default=False, description="Counted on weekends alone: a year without official holiday data")


class FirstHandlingAnswer(_Closed):
    """A platform's answer to a complaint assigned to it: the HTTP body of ``POST /v1/complaints/{id}/answer``."""

    outcome: AnswerOutcome
    refund_amount: AmountCny | None = Field(default=None, description="Only with outcome settled; CNY, decimal string")
    reason: Annotated[str, StringConstraints(min_length=1, max_length=2000, strip_whitespace=True)] | None = Field(
        default=None, description="Required with outcome contested"
    )


class ComplaintAnswered(FirstHandlingAnswer, EventData):
    """A platform's first-handling answer, published on its feed topic ``feed.<platform_id>.answers.v1``."""

    event_type: ClassVar[str] = "redshield.platform.complaint.answered.v1"
    topic: ClassVar[str] = "feed.<platform_id>.answers.v1"
    summary: ClassVar[str] = "A platform answered a complaint assigned to it for first handling."

    complaint_id: str = Field(description="channel's complaint id, as given in the assignment")


class _ComplaintEvent(EventData):
    """What every handling event carries; ``state`` is the item's state after the event."""

    topic: ClassVar[str] = topics.CHANNEL_COMPLAINTS

    complaint_id: str
    platform_id: str
    region: RegionCode
    state: ComplaintState
    at: AwareDatetime
    deadline: DeadlineRef | None = Field(default=None, description="The deadline the new state runs against, where it has one")


class _Transition(_ComplaintEvent):
    previous_state: ComplaintState
    by: ActorRole


class ComplaintAssigned(_Transition):
    """Also published to ``notify.<platform_id>.v1`` for the platform."""

    event_type: ClassVar[str] = "redshield.channel.complaint.assigned.v1"
    summary: ClassVar[str] = "A complaint was assigned to its platform for first handling (先行处置), with the deadline."

    platform_complaint_id: str


class ComplaintPlatformResponded(_Transition):
    event_type: ClassVar[str] = "redshield.channel.complaint.platform_responded.v1"
    summary: ClassVar[str] = "The platform answered its first handling: settled, not settled or contested."

    outcome: AnswerOutcome
    refund_amount: str | None = Field(default=None, description="CNY, decimal string with 2 decimals")
    reason: str | None = None


class ComplaintReferred(_Transition):
    event_type: ClassVar[str] = "redshield.channel.complaint.referred.v1"
    summary: ClassVar[str] = "A complaint went to the bureau's track, which has its acceptance deadline."

    reason: ReferralReason


class ComplaintAccepted(_Transition):
    event_type: ClassVar[str] = "redshield.channel.complaint.accepted.v1"
    summary: ClassVar[str] = "The bureau accepted a complaint (受理)."


class ComplaintRefused(_Transition):
    event_type: ClassVar[str] = "redshield.channel.complaint.refused.v1"
    summary: ClassVar[str] = "The bureau refused a complaint (不予受理) on a ground from the rule set."

    ground: RefusalGround
    detail: str | None = None


class ComplaintMediationStarted(_Transition):
    event_type: ClassVar[str] = "redshield.channel.complaint.mediation_started.v1"
    summary: ClassVar[str] = "Both parties consented and mediation started, with its time limit."


class ComplaintMediationEnded(_Transition):
    event_type: ClassVar[str] = "redshield.channel.complaint.mediation_ended.v1"
    summary: ClassVar[str] = "Mediation ended by agreement or on an ending ground; both sides are to be told."

    ground: MediationEndGround


class PauseReason(StrEnum):
    """Why the mediation clock stops: time for these is not counted (DOMAIN.md)."""

    TESTING = "testing"  # 检测
    APPRAISAL = "appraisal"  # 鉴定
    IDENTIFICATION = "identification"  # 认定


class SessionForm(StrEnum):
    IN_PERSON = "in_person"
    PHONE = "phone"
    ONLINE = "online"


class MediationParty(StrEnum):
    CONSUMER = "consumer"
    MERCHANT = "merchant"
    PLATFORM = "platform"
    MEDIATOR = "mediator"
    OTHER = "other"


class ComplaintMediationPaused(_Transition):
    event_type: ClassVar[str] = "redshield.channel.complaint.mediation_paused.v1"
    summary: ClassVar[str] = "The mediation clock stopped for testing, appraisal or identification; the deadline waits for the resumption."

    reason: PauseReason


class ComplaintMediationResumed(_Transition):
    event_type: ClassVar[str] = "redshield.channel.complaint.mediation_resumed.v1"
    summary: ClassVar[str] = "The mediation clock runs again; the deadline moved by the paused time."

    paused_days: int = Field(ge=0, description="Days this pause added: calendar days (Order 121) or working days (Order 20)")


class ComplaintMediationSessionRecorded(_Transition):
    event_type: ClassVar[str] = "redshield.channel.complaint.mediation_session_recorded.v1"
    summary: ClassVar[str] = "A mediation session was recorded: when, in what form, who took part (the summary stays in channel)."

    session_id: str
    held_at: AwareDatetime
    form: SessionForm
    parties: list[MediationParty]


class ComplaintVerificationStarted(_Transition):
    event_type: ClassVar[str] = "redshield.channel.complaint.verification_started.v1"
    summary: ClassVar[str] = "A report (or a violation found in a complaint) is being verified (核查)."


class ComplaintVerificationExtended(_Transition):
    event_type: ClassVar[str] = "redshield.channel.complaint.verification_extended.v1"
    summary: ClassVar[str] = "The verification deadline was extended with an approver's consent."


class ComplaintEscalated(_Transition):
    event_type: ClassVar[str] = "redshield.channel.complaint.escalated.v1"
    summary: ClassVar[str] = "A verified report became a case clue for enforcement."

    finding: str = Field(description="What the verification found: the suspected violation")


class ComplaintClosed(_Transition):
    event_type: ClassVar[str] = "redshield.channel.complaint.closed.v1"
    summary: ClassVar[str] = "The item was closed with an outcome."

    outcome: ClosingOutcome
    reason: str | None = None


class ComplaintFactsMerged(_Transition):
    event_type: ClassVar[str] = "redshield.channel.complaint.facts_merged.v1"
    summary: ClassVar[str] = (
        "A repeat report by the same reporter brought new facts: merged into the open report, whose verification restarts."
    )

    platform_complaint_id: str = Field(description="The repeat filing whose facts were merged (the platform's or intake's id)")


class ClaimantPattern(StrEnum):
    """Signs of a professional claimant (职业索赔人), flagged for a person to review, never refused for."""

    VOLUME = "volume"  # many filings by one consumer within the window
    BULK = "bulk"  # many filings by one consumer arriving together
    SHARED_PHONE = "shared_phone"  # one phone number under several names
    SHARED_ADDRESS = "shared_address"  # one address for several consumers


class ComplaintFlagged(_ComplaintEvent):
    event_type: ClassVar[str] = "redshield.channel.complaint.flagged.v1"
    summary: ClassVar[str] = "An item was flagged for review: its consumer's filings match a professional-claimant pattern."

    flag_id: str
    pattern: ClaimantPattern
    detail: str = Field(description="What was seen, in figures (counts and window), never who")
    rule_id: str = Field(description="The threshold the pattern was measured against (rules.py)")


class ComplaintFlagCleared(_ComplaintEvent):
    event_type: ClassVar[str] = "redshield.channel.complaint.flag_cleared.v1"
    summary: ClassVar[str] = "An officer reviewed a flag and cleared it, with a reason."

    flag_id: str
    pattern: ClaimantPattern
    by: ActorRole
    reason: str


class ComplaintDeadlineApproaching(_ComplaintEvent):
    event_type: ClassVar[str] = "redshield.channel.complaint.deadline_approaching.v1"
    summary: ClassVar[str] = "A deadline is near (a configured number of working days before its last day)."

    deadline: DeadlineRef


class ComplaintDeadlineMissed(_ComplaintEvent):
    event_type: ClassVar[str] = "redshield.channel.complaint.deadline_missed.v1"
    summary: ClassVar[str] = "A deadline passed with its step not taken."

    deadline: DeadlineRef


#: Every event type channel publishes about an item after it was received, in the order of the canal.
HANDLING_EVENTS: tuple[type[_ComplaintEvent], ...] = (
    ComplaintAssigned,
    ComplaintPlatformResponded,
    ComplaintReferred,
    ComplaintAccepted,
    ComplaintRefused,
    ComplaintMediationStarted,
    ComplaintMediationEnded,
    ComplaintMediationPaused,
    ComplaintMediationResumed,
    ComplaintMediationSessionRecorded,
    ComplaintVerificationStarted,
    ComplaintVerificationExtended,
    ComplaintEscalated,
    ComplaintClosed,
    ComplaintDeadlineApproaching,
    ComplaintDeadlineMissed,
    ComplaintFactsMerged,
    ComplaintFlagged,
    ComplaintFlagCleared,
)
