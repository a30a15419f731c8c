"""The figures of each complaint rule set, as data: the state machine reads them, it never spells them out.

An item keeps the rule set in force on the day it was received (DOMAIN.md). Figures marked ``to_check`` came
from a secondary source and are to be checked against the gazette; each carries a rule id that travels into
the audit record, so a figure corrected here can be traced to the items it governed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Final

from contracts.codes import RuleSet
from services.runtime.calendar import Deadline, WorkingCalendar, china_day


class DayCount(StrEnum):
    WORKING_DAYS = "working_days"
    CALENDAR_DAYS = "calendar_days"  # a last day on a day off rolls forward to the next working day


@dataclass(frozen=True, slots=True)
class Period:
    """A time limit: ``days`` counted from a start day that is itself not counted."""

    rule_id: str
    days: int
    count: DayCount
    citation: str
    to_check: bool = False

    def deadline_from(self, start: datetime | date, calendar: WorkingCalendar) -> Deadline:
        if self.count is DayCount.WORKING_DAYS:
            return calendar.add_working_days(start, self.days)
        return calendar.add_days(start, self.days)


@dataclass(frozen=True, slots=True)
class ComplaintRules:
    rule_set: RuleSet
    citation: str
    in_force_from: date
    #: Platform first handling (先行处置), the default when a platform has no figure of its own.
    first_handling: Period
    #: Accept or refuse, from the day the item reached the bureau's track.
    acceptance: Period
    #: Mediation must reach agreement within this, counted from acceptance.
    mediation: Period
    #: Both sides are told that mediation ended within this.
    mediation_end_notice: Period
    #: Verification of a report (核查), and the one extension an approver may grant.
    verification: Period
    verification_extension: Period
    #: "Deadline approaching" goes out this many working days before the last day.
    approaching_working_days: int = 2


_ORDER_20 = "SAMR Order 20 (2019) 市场监督管理投诉举报处理暂行办法"
_ORDER_121 = "SAMR Order 121 市场监督管理投诉举报处理办法"
_PRACTICE = "12315 ODR practice: enterprises settle within 10 working days"

ORDER_20: Final = ComplaintRules(
    rule_set=RuleSet.SAMR_ORDER_20,
    citation=_ORDER_20,
    in_force_from=date(2020, 1, 1),
    first_handling=Period("practice/first-handling", 10, DayCount.WORKING_DAYS, _PRACTICE),
    acceptance=Period("samr-order-20/acceptance", 7, DayCount.WORKING_DAYS, _ORDER_20),
    mediation=Period("samr-order-20/mediation", 45, DayCount.WORKING_DAYS, _ORDER_20),
    mediation_end_notice=Period("samr-order-20/mediation-end-notice", 7, DayCount.WORKING_DAYS, _ORDER_20),
    verification=Period("samr-order-20/verification", 15, DayCount.WORKING_DAYS, _ORDER_20),
    verification_extension=Period("samr-order-20/verification-extension", 15, DayCount.WORKING_DAYS, _ORDER_20),
)

ORDER_121: Final = ComplaintRules(
    rule_set=RuleSet.SAMR_ORDER_121,
    citation=_ORDER_121,
    in_force_from=date(2026, 4, 15),  # to check against the gazette (DOMAIN.md)
    first_handling=Period("practice/first-handling", 10, DayCount.WORKING_DAYS, _PRACTICE),
    acceptance=Period("samr-order-121/acceptance", 7, DayCount.WORKING_DAYS, _ORDER_121),
    mediation=Period("samr-order-121/mediation", 60, DayCount.CALENDAR_DAYS, _ORDER_121),
    mediation_end_notice=Period("samr-order-121/mediation-end-notice", 7, DayCount.WORKING_DAYS, _ORDER_121),
    verification=Period("samr-order-121/verification", 15, DayCount.WORKING_DAYS, _ORDER_121),
    verification_extension=Period("samr-order-121/verification-extension", 15, DayCount.WORKING_DAYS, _ORDER_121),
)

#: Oldest first; the last one in force on the day of receipt governs an item.
RULE_SETS: Final[tuple[ComplaintRules, ...]] = (ORDER_20, ORDER_121)
_BY_NAME: Final[Mapping[RuleSet, ComplaintRules]] = {rules.rule_set: rules for rules in RULE_SETS}


def rule_set_for(received_at: datetime) -> RuleSet:
    # The day counts in China Standard Time, where the rules apply.
    day = china_day(received_at)
    chosen = RULE_SETS[0].rule_set
    for rules in RULE_SETS:
        if day >= rules.in_force_from:
            chosen = rules.rule_set
    return chosen


def rules_of(rule_set: RuleSet) -> ComplaintRules:
    return _BY_NAME[rule_set]


@dataclass(frozen=True, slots=True)
class FirstHandlingPolicy:
    """Which platforms take first handling, and how long each has.

    bridge's directory says which platforms are connected (``connected_to_canal``); a platform it does not
    know yet is connected unless listed in ``not_connected``. The deadline stays per platform in settings.
    """

    days_by_platform: Mapping[str, int] = field(default_factory=dict)
    not_connected: frozenset[str] = frozenset()

    def is_connected(self, platform_id: str, listed: bool | None = None) -> bool:
        if listed is not None:
            return listed
        return platform_id not in self.not_connected

    def period(self, platform_id: str, rules: ComplaintRules) -> Period:
        days = self.days_by_platform.get(platform_id)
        if days is None:
            return rules.first_handling
        return Period(f"platform/{platform_id}/first-handling", days, DayCount.WORKING_DAYS, f"agreement with platform {platform_id}")


@dataclass(frozen=True, slots=True)
class Threshold:
    """A pattern is seen when ``count`` filings (or names, or consumers) are reached within ``window``."""

    rule_id: str
    count: int
    window: timedelta


@dataclass(frozen=True, slots=True)
class ClaimantPatterns:
    """When a consumer's filings look like a professional claimant's (职业索赔人): flagged for review, never refused.

    The figures are the canal's practice, not law; a bureau tunes them here.
    """

    #: Many filings by one consumer (same consumer hash) within the window.
    volume: Threshold = Threshold("claimants/volume", 10, timedelta(days=30))
    #: Many filings by one consumer arriving together: in one batch, or within a short window.
    bulk: Threshold = Threshold("claimants/bulk", 5, timedelta(hours=1))
    #: One phone number given under this many different names.
    shared_phone: Threshold = Threshold("claimants/shared-phone", 3, timedelta(days=90))
    #: One address given by this many different consumers (phone numbers).
    shared_address: Threshold = Threshold("claimants/shared-address", 3, timedelta(days=90))


CLAIMANT_PATTERNS: Final = ClaimantPatterns()
