"""Events of the government–platform bridge on ``bridge.subjects.v1``: who the bureau supervises.

Platform events carry the registry entry (not its contacts: people's names and phones stay in bridge).
Store events carry what other services need to route and judge an item: the store, its merchant's USCC
(the link across platforms), region and category. ID numbers of unregistered merchants never leave bridge.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, ClassVar

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
    submission_id: str
    period: Period


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


BRIDGE_EVENTS: tuple[type[EventData], ...] = (
    PlatformRegistered, PlatformUpdated, StoreRegistered, StoreUpdated, StoreClosed, ReportSubmitted,
)

