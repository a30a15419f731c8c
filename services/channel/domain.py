"""Pure rules of the complaint canal: intake, rule sets, jurisdiction, privacy. No I/O here."""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from enum import StrEnum
from typing import Final

from contracts.codes import IntakeChannel, RuleSet
from contracts.events.channel import ComplaintFiling, ComplaintReceived, Consumer, MerchantRef, OrderRef


class ComplaintState(StrEnum):
    RECEIVED = "received"


@dataclass(frozen=True, slots=True)
class RuleSetWindow:
    rule_set: RuleSet
    citation: str
    in_force_from: date


#: Items keep the rule set in force on the day they were received (DOMAIN.md). Order 121's date is to be
#: checked against the gazette; it lives here as data, with its citation, not inside the logic.
RULE_SETS: Final[tuple[RuleSetWindow, ...]] = (
    RuleSetWindow(RuleSet.SAMR_ORDER_20, "SAMR Order 20 (2019) 市场监督管理投诉举报处理暂行办法", date(2020, 1, 1)),
    RuleSetWindow(RuleSet.SAMR_ORDER_121, "SAMR Order 121 市场监督管理投诉举报处理办法", date(2026, 4, 15)),
)


def rule_set_for(received_at: datetime) -> RuleSet:
    # The day counts in China Standard Time, where the rules apply.
    day = received_at.astimezone(CHINA_TIME).date()
    chosen = RULE_SETS[0].rule_set
    for window in RULE_SETS:
        if day >= window.in_force_from:
            chosen = window.rule_set
    return chosen


def jurisdiction(merchant_region: str | None, platform_domicile: str | None, home_region: str) -> str:
    """The bureau at the merchant's published address; else where the platform is domiciled."""
    return merchant_region or platform_domicile or home_region


CHINA_TIME: Final = timezone(timedelta(hours=8))
_NOT_DIGITS: Final = re.compile(r"\D")


def consumer_hash(salt: bytes, consumer: Consumer | None) -> str | None:
    """A salted, keyed hash that lets analytics count repeat consumers without ever seeing who they are."""
    if consumer is None:
        return None
    phone = _NOT_DIGITS.sub("", consumer.phone)[-11:]
    return hmac.new(salt, phone.encode(), hashlib.sha256).hexdigest()


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
    rule_set: RuleSet
    region: str
    consumer_hash: str | None
    state: ComplaintState
    created_at: datetime


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
) -> Complaint:
    check_filing(filing, now)
    return Complaint(
        complaint_id=complaint_id,
        platform_id=platform_id,
        intake=intake,
        filing=filing,
        rule_set=rule_set_for(filing.received_at),
        region=jurisdiction(filing.merchant.region, platform_domicile, home_region),
        consumer_hash=consumer_hash(hash_salt, filing.consumer),
        state=ComplaintState.RECEIVED,
        created_at=now,
    )


def received_event(complaint: Complaint) -> ComplaintReceived:
    f = complaint.filing
    return ComplaintReceived(
        complaint_id=complaint.complaint_id,
        platform_id=complaint.platform_id,
        platform_complaint_id=f.platform_complaint_id,
        kind=f.kind,
        intake=complaint.intake,
        received_at=f.received_at,
        rule_set=complaint.rule_set,
        region=complaint.region,
        merchant=MerchantRef(store_id=f.merchant.store_id, store_name=f.merchant.store_name, uscc=f.merchant.uscc, region=f.merchant.region),
        order=OrderRef(order_id=f.order.order_id, amount=f.order.amount, goods_category=f.order.goods_category),
        category=f.category,
        description=f.description,
        consumer_hash=complaint.consumer_hash,
    )
