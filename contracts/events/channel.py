"""Events of the complaint canal (channel) and the platform feed records it consumes."""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal
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


class ComplaintFiling(_Closed):
    """What a platform files: the HTTP body of ``POST /v1/complaints`` and the data of a feed record."""

    platform_complaint_id: ShortText
    kind: FilingKind
    received_at: AwareDatetime
    merchant: Merchant
    order: Order
    category: ComplaintCategory
    description: Annotated[str, StringConstraints(min_length=1, max_length=5000)]
    consumer: Consumer | None = None


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
