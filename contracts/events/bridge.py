"""Events of the government–platform bridge: who the bureau supervises (``bridge.subjects.v1``), what platforms
report (``bridge.reports.v1``), the data the bureau requests from them (``bridge.datarequests.v1``), and the
monitoring items Zhejiang Fair Online (浙江公平在线) assigns to the bureau and their outcomes (``bridge.faironline.v1``).

Platform events carry the registry entry (not its contacts: people's names and phones stay in bridge).
Store events carry what other services need to route and judge an item: the store, its merchant's USCC
(the link across platforms), region and category. ID numbers of unregistered merchants never leave bridge.
Enterprise websites (an enterprise selling through its own site, registered by the bureau) and new-business-form
subjects (live-stream hosts, micro-stores, group-buying leaders on a platform) are subjects too, on the same topic.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, ClassVar, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from contracts import topics
from contracts.events.base import EventData
from contracts.events.channel import AmountCny, AwareDatetime, RegionCode, Uscc

Period = Annotated[str, StringConstraints(pattern=r"^[0-9]{4}H[12]$")]
Month = Annotated[str, StringConstraints(pattern=r"^[0-9]{4}-(0[1-9]|1[0-2])$")]


class PlatformType(StrEnum):
    B2C = "b2c"
    C2C = "c2c"
    LIVE_STREAM = "live_stream"
    FOOD_DELIVERY = "food_delivery"
    CROSS_BORDER = "cross_border"
    SOCIAL = "social"
    GROUP_BUYING = "group_buying"
    SERVICES = "services"
    OTHER = "other"


class UsccCheck(StrEnum):
    """How a USCC fared against its check character (GB 32100-2015)."""

    VALID = "valid"
    #: The check character is wrong and nobody has looked yet: a flagged warning, never a refusal.
    CHECK_FAILED = "check_failed"
    #: The check character is wrong and a person confirmed the code is genuine (early pilot codes), with a reason.
    OVERRIDDEN = "overridden"


class RegionCheck(StrEnum):
    VALID = "valid"
    #: Under a valid province, in an area the region table does not list completely.
    UNVERIFIED = "unverified"


class _PlatformFacts(EventData):
    platform_id: str
    name: str
    uscc: Uscc
    uscc_check: UsccCheck
    domicile_region: RegionCode = Field(description="GB/T 2260 code where the platform is domiciled")
    type: PlatformType
    operating_model: str
    main_categories: list[str]
    connected_to_canal: bool = Field(description="Whether the platform takes part in the complaint canal (first handling)")
    version: int = Field(ge=1, description="Registry version of this platform, +1 per change")


class PlatformRegistered(_PlatformFacts):
    event_type: ClassVar[str] = "redshield.bridge.platform.registered.v1"
    topic: ClassVar[str] = topics.BRIDGE_SUBJECTS
    summary: ClassVar[str] = "A regulator registered a platform in the bridge's registry."


class PlatformUpdated(_PlatformFacts):
    event_type: ClassVar[str] = "redshield.bridge.platform.updated.v1"
    topic: ClassVar[str] = topics.BRIDGE_SUBJECTS
    summary: ClassVar[str] = "A regulator changed a platform's registry entry; the data is the entry after the change."

    changed: list[str] = Field(description="Names of the fields that changed")


class _StoreFacts(EventData):
    platform_id: str
    store_id: str
    merchant_name: str
    uscc: Uscc | None = Field(default=None, description="The merchant's USCC: the key that links its stores across platforms")
    uscc_check: UsccCheck | None = None
    exemption_declared: bool = Field(description="An unregistered merchant's self-declaration of exemption (no USCC)")
    region: RegionCode = Field(description="GB/T 2260 code of the merchant's actual address")
    region_check: RegionCheck
    shop_name: str
    shop_url: str
    category: str
    above_threshold: bool
    submission_id: str = Field(description="The submission that carried the store's data, or the batch (POST …/stores/batch)")
    period: Period = Field(description="The submission's period; for a batch, the period in which it arrived")


class StoreRegistered(_StoreFacts):
    event_type: ClassVar[str] = "redshield.bridge.store.registered.v1"
    topic: ClassVar[str] = topics.BRIDGE_SUBJECTS
    summary: ClassVar[str] = "A store appeared in a platform's submission (new, or back after being closed)."


class StoreUpdated(_StoreFacts):
    event_type: ClassVar[str] = "redshield.bridge.store.updated.v1"
    topic: ClassVar[str] = topics.BRIDGE_SUBJECTS
    summary: ClassVar[str] = "A store's data differs from the platform's previous submission; the data is the store after the change."

    changed: list[str] = Field(description="Names of the fields that changed")


class StoreClosed(EventData):
    event_type: ClassVar[str] = "redshield.bridge.store.closed.v1"
    topic: ClassVar[str] = topics.BRIDGE_SUBJECTS
    summary: ClassVar[str] = "A store in the previous submission is missing from the platform's latest one."

    platform_id: str
    store_id: str
    uscc: Uscc | None = None
    region: RegionCode
    submission_id: str
    period: Period
    closed_at: AwareDatetime


class WebsiteStatus(StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"
    CLOSED = "closed"


class _WebsiteFacts(EventData):
    website_id: str
    operator_name: str
    uscc: Uscc = Field(description="The operator's USCC: links the website to the same enterprise's stores")
    uscc_check: UsccCheck
    domain: str = Field(description="The filed domain, lower case, IDNA (punycode) for non-ASCII names")
    url: str | None = Field(default=None, description="The site's home page, on the domain or one of its subdomains")
    icp_filing: str = Field(description="The ICP filing number (备案号), e.g. 浙ICP备12345678号-1")
    region: RegionCode = Field(description="GB/T 2260 code of the operator's address")
    region_check: RegionCheck
    category: str
    status: WebsiteStatus
    version: int = Field(ge=1, description="Version of this website's entry, +1 per change")


class WebsiteRegistered(_WebsiteFacts):
    event_type: ClassVar[str] = "redshield.bridge.website.registered.v1"
    topic: ClassVar[str] = topics.BRIDGE_SUBJECTS
    summary: ClassVar[str] = "A regulator registered an enterprise website (an enterprise selling through its own site)."


class WebsiteUpdated(_WebsiteFacts):
    event_type: ClassVar[str] = "redshield.bridge.website.updated.v1"
    topic: ClassVar[str] = topics.BRIDGE_SUBJECTS
    summary: ClassVar[str] = "A regulator changed an enterprise website's entry; the data is the entry after the change."

    changed: list[str] = Field(description="Names of the fields that changed")


class NewBusinessForm(StrEnum):
    """Forms of new business (新业态) whose subjects sell through a platform other than as one of its stores."""

    #: 直播带货主播: a host selling goods in live streams.
    LIVE_STREAMER = "live_streamer"
    #: 微商: a micro-store run through a social network's accounts and groups.
    MICRO_STORE = "micro_store"
    #: 社区团购团长: a community group-buying leader collecting a neighbourhood's orders.
    GROUP_BUYING_LEADER = "group_buying_leader"
    OTHER = "other"


class _NewFormSubjectFacts(EventData):
    platform_id: str
    subject_id: str = Field(description="The platform's id of the subject's account")
    form: NewBusinessForm
    name: str
    uscc: Uscc | None = Field(default=None, description="The subject's USCC when it has one: the key that links it to stores")
    uscc_check: UsccCheck | None = None
    exemption_declared: bool = Field(description="A subject without a USCC declared its exemption (its ID number stays in bridge)")
    region: RegionCode = Field(description="GB/T 2260 code of the subject's actual address")
    region_check: RegionCheck
    handle: str = Field(description="The subject's account name or handle on the platform")
    url: str | None = Field(default=None, description="The account's or live room's page")
    category: str
    version: int = Field(ge=1, description="Version of this subject's entry, +1 per change")


class NewFormSubjectRegistered(_NewFormSubjectFacts):
    event_type: ClassVar[str] = "redshield.bridge.new_form_subject.registered.v1"
    topic: ClassVar[str] = topics.BRIDGE_SUBJECTS
    summary: ClassVar[str] = "A platform (or a regulator) registered a new-business-form subject on the platform."


class NewFormSubjectUpdated(_NewFormSubjectFacts):
    event_type: ClassVar[str] = "redshield.bridge.new_form_subject.updated.v1"
    topic: ClassVar[str] = topics.BRIDGE_SUBJECTS
    summary: ClassVar[str] = "A new-business-form subject's entry changed; the data is the entry after the change."

    changed: list[str] = Field(description="Names of the fields that changed (id_number when the ID number did, never its value)")


class SalesLine(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    """One cell of a platform's monthly sales: GMV and orders for one goods category in one region."""

    category: str = Field(min_length=1, max_length=64)
    region: RegionCode = Field(description="GB/T 2260 code of the merchants' region the sales are counted under")
    gmv_cny: AmountCny = Field(description="Gross merchandise value in CNY, decimal string with 2 decimals")
    orders: int = Field(ge=0)


class StoreCount(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    category: str = Field(min_length=1, max_length=64)
    stores: int = Field(ge=0)


class ReportSubmitted(EventData):
    """A platform's periodic report for one month. A later revision of the same month replaces the earlier one
    whole (consumers keep the highest ``revision``), so a correction never double-counts."""

    event_type: ClassVar[str] = "redshield.bridge.report.submitted.v1"
    topic: ClassVar[str] = topics.BRIDGE_REPORTS
    summary: ClassVar[str] = "A platform reported GMV and orders by category and region, and stores by category, for one month."

    platform_id: str
    report_id: str = Field(description="Id of this revision of the report")
    month: Month
    revision: int = Field(ge=1, description="1 for the first report of the month, +1 for each correction")
    submitted_at: AwareDatetime
    sales: list[SalesLine] = Field(max_length=20000)
    stores_by_category: list[StoreCount] = Field(max_length=2000)


class SubmissionApplied(EventData):
    """One semi-annual submission (or update) applied whole: one data exchange, whatever it changed."""

    event_type: ClassVar[str] = "redshield.bridge.submission.applied.v1"
    topic: ClassVar[str] = topics.BRIDGE_SUBJECTS
    summary: ClassVar[str] = "A platform's merchant-list submission was applied whole; its counts and whether it came in time."

    platform_id: str
    submission_id: str
    period: Period
    received_at: AwareDatetime
    applied_at: AwareDatetime
    deadline: AwareDatetime = Field(description="First moment after the period's submission window (January or July)")
    on_time: bool = Field(description="Received before the deadline")
    rows_total: int = Field(ge=0)
    rows_staged: int = Field(ge=0)
    rows_refused: int = Field(ge=0, description="Rows refused with a per-row finding (the validation failures)")
    rows_flagged: int = Field(ge=0)
    registered: int = Field(ge=0)
    updated: int = Field(ge=0)
    closed: int = Field(ge=0)
    unchanged: int = Field(ge=0)


class StoresBatchApplied(EventData):
    """One batch of store records a platform posted (at most 100, each with its own idempotency id): one data exchange.
    Unlike a submission, a batch closes no store it does not list. Published when at least one record was applied."""

    event_type: ClassVar[str] = "redshield.bridge.store_batch.applied.v1"
    topic: ClassVar[str] = topics.BRIDGE_SUBJECTS
    summary: ClassVar[str] = "A platform's batch of store records was applied record by record; the counts of each outcome."

    platform_id: str
    batch_id: str
    period: Period = Field(description="The period in which the batch arrived (its store events carry it too)")
    received_at: AwareDatetime
    records: int = Field(ge=1, le=100, description="Records in the batch")
    created: int = Field(ge=0, description="Stores new, or back after being closed (a store registered event each)")
    updated: int = Field(ge=0, description="Stores whose data changed (a store updated event each)")
    unchanged: int = Field(ge=0)
    duplicate: int = Field(ge=0, description="Records whose record_id was applied before: answered with that result, nothing applied")
    refused: int = Field(ge=0, description="Records refused with findings")
    flagged: int = Field(ge=0, description="Applied records with a warning (a USCC or ID number failing its check character)")


class SubmissionMissed(EventData):
    """Published once per platform and period, when the window closes without an applied submission from it."""

    event_type: ClassVar[str] = "redshield.bridge.submission.missed.v1"
    topic: ClassVar[str] = topics.BRIDGE_SUBJECTS
    summary: ClassVar[str] = "A registered platform had not submitted its merchant list for the period when the deadline passed."

    platform_id: str
    period: Period
    deadline: AwareDatetime
    noted_at: AwareDatetime


class DataField(StrEnum):
    """What a data request may ask for (SAMR Order 37: sales data on request; records during enforcement)."""

    IDENTITY = "identity"
    GOODS = "goods"
    PRICE = "price"
    SALES = "sales"
    TURNOVER = "turnover"
    PAYMENT = "payment"
    LOGISTICS = "logistics"
    AFTER_SALES = "after_sales"


class RequestScope(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    subjects: list[Annotated[str, StringConstraints(min_length=1, max_length=200)]] = Field(
        max_length=10000, description="Store ids or merchant USCCs on the platform; empty: every subject")
    period_from: date
    period_to: date
    fields: list[DataField] = Field(min_length=1)


class DataRequestIssued(EventData):
    event_type: ClassVar[str] = "redshield.bridge.datarequest.issued.v1"
    topic: ClassVar[str] = topics.BRIDGE_DATAREQUESTS
    summary: ClassVar[str] = "A regulator requested data from a platform, on a legal basis, with a scope and a deadline."

    request_id: str
    platform_id: str
    legal_basis: str = Field(min_length=1, max_length=500)
    scope: RequestScope
    due: date = Field(description="Last day (China time) on which the data may be delivered")
    due_provisional: bool = Field(description="The due day was counted across a year without official holiday data")
    issued_by: str
    issued_at: AwareDatetime


class DataRequestDelivered(EventData):
    """One delivery of requested data: one data exchange. The content stays in bridge; its digest travels."""

    event_type: ClassVar[str] = "redshield.bridge.datarequest.delivered.v1"
    topic: ClassVar[str] = topics.BRIDGE_DATAREQUESTS
    summary: ClassVar[str] = "A platform delivered data for a request (a file or JSON); its SHA-256 and size are recorded."

    request_id: str
    platform_id: str
    delivery_id: str
    format: Literal["file", "json"]
    content_type: str
    sha256: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
    size_bytes: int = Field(ge=0)
    delivered_at: AwareDatetime
    late: bool = Field(description="Delivered after the request's due day")


class DataRequestOverdue(EventData):
    event_type: ClassVar[str] = "redshield.bridge.datarequest.overdue.v1"
    topic: ClassVar[str] = topics.BRIDGE_DATAREQUESTS
    summary: ClassVar[str] = "A data request's due day passed without a delivery (published once per request)."

    request_id: str
    platform_id: str
    due: date
    overdue_at: AwareDatetime


# -- Zhejiang Fair Online (浙江公平在线) ---------------------------------------------------------------------------------
#: The provincial system's own topics (its schema, not ours): items it assigns, and the outcomes the bureau returns.
FAIRONLINE_ASSIGNMENTS: Final = "faironline.assignments.v1"
FAIRONLINE_OUTCOMES: Final = "faironline.outcomes.v1"

FairOnlineItemId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")]


class FairOnlineAssignment(BaseModel):
    """One monitoring item (交办) as the provincial monitoring system sends it: by HTTP or on ``faironline.assignments.v1``.

    Closed: a field the province adds is refused with its name (DLQ or problem+json), so a schema change is seen
    at once instead of being dropped in silence.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    item_id: FairOnlineItemId = Field(description="The province's id of the item: the same id again is the same item")
    title: str = Field(min_length=1, max_length=200)
    category: str = Field(min_length=1, max_length=64, description="The kind of suspected violation, in the province's words")
    description: str = Field(default="", max_length=5000)
    region: RegionCode = Field(description="GB/T 2260 code of where the monitored subject is (the bureau's area)")
    platform_uscc: Uscc | None = Field(default=None, description="USCC of the platform the item concerns, when it concerns one")
    merchant_uscc: Uscc | None = None
    store_url: str | None = Field(default=None, max_length=1000)
    assigned_at: AwareDatetime
    due: date | None = Field(default=None, description="Day by which the province expects the outcome")


class FairOnlineOutcome(StrEnum):
    HANDLED = "handled"
    CASE_FILED = "case_filed"
    NO_VIOLATION = "no_violation"


class FairOnlineOutcomeRecord(BaseModel):
    """An outcome as the provincial system receives it (on ``faironline.outcomes.v1`` and from the poll list)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    item_id: FairOnlineItemId
    outcome: FairOnlineOutcome
    reasons: list[str]
    case_number: str | None = None
    unit: RegionCode = Field(description="Region code of the bureau that handled the item")
    decided_at: datetime


class FairOnlineItemAssigned(EventData):
    """A monitoring item assigned by the province: a clue for enforcement. One data exchange."""

    event_type: ClassVar[str] = "redshield.bridge.fair_online_item.assigned.v1"
    topic: ClassVar[str] = topics.BRIDGE_FAIRONLINE
    summary: ClassVar[str] = "Zhejiang Fair Online assigned a monitoring item to the bureau; it is a clue for enforcement."

    item_id: FairOnlineItemId
    title: str
    category: str
    description: str
    region: RegionCode
    platform_id: str | None = Field(default=None, description="The registered platform whose USCC the item names, if any")
    platform_uscc: Uscc | None = None
    merchant_uscc: Uscc | None = None
    store_url: str | None = None
    assigned_at: AwareDatetime
    due: date | None = None
    received_via: Literal["http", "kafka"]
    received_at: AwareDatetime


class FairOnlineOutcomeReturned(EventData):
    """The bureau's outcome of an item, sent back to the province. One data exchange."""

    event_type: ClassVar[str] = "redshield.bridge.fair_online_item.returned.v1"
    topic: ClassVar[str] = topics.BRIDGE_FAIRONLINE
    summary: ClassVar[str] = "A bureau officer recorded the outcome of a Fair Online item; it is returned to the province."

    item_id: FairOnlineItemId
    outcome: FairOnlineOutcome
    reasons: list[Annotated[str, StringConstraints(min_length=1, max_length=1000)]] = Field(min_length=1, max_length=20)
    case_number: str | None = Field(default=None, description="The case filed on the clue (outcome case_filed)")
    region: RegionCode = Field(description="The item's region")
    decided_by: str
    returned_at: AwareDatetime


BRIDGE_EVENTS: tuple[type[EventData], ...] = (
    PlatformRegistered, PlatformUpdated, StoreRegistered, StoreUpdated, StoreClosed, WebsiteRegistered, WebsiteUpdated,
    NewFormSubjectRegistered, NewFormSubjectUpdated, ReportSubmitted,
    SubmissionApplied, StoresBatchApplied, SubmissionMissed, DataRequestIssued, DataRequestDelivered, DataRequestOverdue,
    FairOnlineItemAssigned, FairOnlineOutcomeReturned,
)

#: The "data exchanges" figure: each event of these types is one exchange between a platform and the bureau
#: (a submission applied, a batch of store records applied, a monthly report or a revision of it, a delivery of
#: requested data), or between the province and the bureau (a Fair Online item taken in, an outcome returned).
EXCHANGE_EVENT_TYPES: Final[frozenset[str]] = frozenset({
    SubmissionApplied.event_type, StoresBatchApplied.event_type, ReportSubmitted.event_type, DataRequestDelivered.event_type,
    FairOnlineItemAssigned.event_type, FairOnlineOutcomeReturned.event_type,
})

