"""Pure rules of a platform's monthly report: what is refused (naming the field), and when a resend is the same report.

A report is a set of cells — GMV and orders per (category, region), stores per category — so the order the
platform lists them in does not make a different report: the digest is taken over the cells sorted.
No I/O here.
"""

from __future__ import annotations

import calendar
import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any, Final

import orjson

from contracts import regions
from services.bridge.domain import CHINA_TIME

MAX_SALES: Final = 20_000
MAX_STORE_COUNTS: Final = 2_000
_MONTH: Final = re.compile(r"(?P<year>[0-9]{4})-(?P<month>0[1-9]|1[0-2])")
#: The contract's amount: up to 12 integer digits, at most 2 decimals, never negative.
_AMOUNT: Final = re.compile(r"(0|[1-9][0-9]{0,11})(\.[0-9]{1,2})?")
_CONTROL: Final = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True, slots=True)
class ReportError:
    field: str
    reason: str
    message: str


class ReportRefused(ValueError):
    """Every fault found in a report body, each naming its field (``sales[3].region``)."""

    def __init__(self, errors: Sequence[ReportError]) -> None:
        super().__init__("; ".join(f"{e.field}: {e.message}" for e in errors))
        self.errors = tuple(errors)


@dataclass(frozen=True, slots=True)
class Sale:
    category: str
    region: str
    gmv_cny: str
    orders: int


@dataclass(frozen=True, slots=True)
class Report:
    month: str
    sales: tuple[Sale, ...]
    stores_by_category: tuple[tuple[str, int], ...]

    def digest(self) -> str:
        """SHA-256 of the cells, sorted: the same report sent again (in any order) has the same digest."""
        body = {
            "month": self.month,
            "sales": sorted([s.category, s.region, s.gmv_cny, s.orders] for s in self.sales),
            "stores_by_category": sorted([c, n] for c, n in self.stores_by_category),
        }
        return hashlib.sha256(orjson.dumps(body)).hexdigest()

    def total_gmv(self) -> Decimal:
        return sum((Decimal(s.gmv_cny) for s in self.sales), Decimal("0.00"))

    def total_orders(self) -> int:
        return sum(s.orders for s in self.sales)


def month_bounds(month: str) -> tuple[date, date]:
    """First and last day of a ``YYYY-MM`` month."""
    match = _MONTH.fullmatch(month)
    if match is None:
        raise ValueError(f"month {month!r} must look like 2026-03")
    year, number = int(match["year"]), int(match["month"])
    return date(year, number, 1), date(year, number, calendar.monthrange(year, number)[1])


def check_month(month: str, *, today: date) -> list[ReportError]:
    """A month is reported once it is over: a report of a month still running would be revised for sure."""
    try:
        _, last = month_bounds(month)
    except ValueError as exc:
        return [ReportError("month", "month-format", str(exc))]
    if last >= today:
        return [ReportError("month", "month-not-over", f"{month} is not over yet (today is {today.isoformat()} in China)")]
    return []


def check_report(month: str, body: Mapping[str, Any], *, today: date) -> Report:
    """The report normalised, or :class:`ReportRefused` listing every fault with its field."""
    errors = check_month(month, today=today)
    if errors:
        raise ReportRefused(errors)
    first, last = month_bounds(month)
    unknown = sorted(set(body) - {"sales", "stores_by_category"})
    errors += [ReportError(name, "unknown-field", f"{name} is not a field of a report") for name in unknown]
    sales = _list(body, "sales", MAX_SALES, errors)
    counts = _list(body, "stores_by_category", MAX_STORE_COUNTS, errors)
    lines: list[Sale] = []
    seen: dict[tuple[str, str], int] = {}
    for index, raw in enumerate(sales):
        sale = _sale(f"sales[{index}]", raw, first, last, errors)
        if sale is None:
            continue
        cell = (sale.category, sale.region)
        if cell in seen:
            errors.append(ReportError(f"sales[{index}]", "duplicate-cell",
                                      f"{sale.category} in {sale.region} is already given in sales[{seen[cell]}]"))
            continue
        seen[cell] = index
        lines.append(sale)
    stores: list[tuple[str, int]] = []
    categories: dict[str, int] = {}
    for index, raw in enumerate(counts):
        where = f"stores_by_category[{index}]"
        if not _is_object(where, raw, errors):
            continue
        _no_extra(where, raw, {"category", "stores"}, errors)
        category = _category(f"{where}.category", raw.get("category"), errors)
        number = _count(f"{where}.stores", raw.get("stores"), errors)
        if category is None or number is None:
            continue
        if category in categories:
            errors.append(ReportError(where, "duplicate-category",
                                      f"{category} is already given in stores_by_category[{categories[category]}]"))
            continue
        categories[category] = index
        stores.append((category, number))
    if errors:
        raise ReportRefused(errors)
    return Report(month=month, sales=tuple(lines), stores_by_category=tuple(stores))


def _list(body: Mapping[str, Any], name: str, limit: int, errors: list[ReportError]) -> list[Any]:
    value = body.get(name)
    if not isinstance(value, list):
        errors.append(ReportError(name, "required", f"{name} must be a list (it may be empty)"))
        return []
    if len(value) > limit:
        errors.append(ReportError(name, "too-long", f"{name} has {len(value)} entries; at most {limit}"))
        return []
    return value


def _is_object(where: str, raw: Any, errors: list[ReportError]) -> bool:
    if not isinstance(raw, dict):
        errors.append(ReportError(where, "not-object", f"{where} must be an object"))
        return False
    return True


def _no_extra(where: str, raw: Mapping[str, Any], allowed: set[str], errors: list[ReportError]) -> None:
    errors.extend(ReportError(f"{where}.{name}", "unknown-field", f"{name} is not a field here") for name in sorted(set(raw) - allowed))


def _sale(where: str, raw: Any, first: date, last: date, errors: list[ReportError]) -> Sale | None:
    if not _is_object(where, raw, errors):
        return None
    _no_extra(where, raw, {"category", "region", "gmv_cny", "orders"}, errors)
    category = _category(f"{where}.category", raw.get("category"), errors)
    region = _region(f"{where}.region", raw.get("region"), first, last, errors)
    amount = _amount(f"{where}.gmv_cny", raw.get("gmv_cny"), errors)
    orders = _count(f"{where}.orders", raw.get("orders"), errors)
    if category is None or region is None or amount is None or orders is None:
        return None
    if orders == 0 and Decimal(amount) > 0:
        errors.append(ReportError(f"{where}.orders", "gmv-without-orders", f"GMV of {amount} CNY with no order cannot be right"))
        return None
    return Sale(category, region, amount, orders)


def _category(where: str, value: Any, errors: list[ReportError]) -> str | None:
    if not isinstance(value, str) or not value.strip():
        errors.append(ReportError(where, "required", "a goods category (text) is required"))
        return None
    text = value.strip()
    if len(text) > 64 or _CONTROL.search(text):
        errors.append(ReportError(where, "category-format", "a category is at most 64 characters, without control characters"))
        return None
    return text


def _region(where: str, value: Any, first: date, last: date, errors: list[ReportError]) -> str | None:
    if not isinstance(value, str):
        errors.append(ReportError(where, "required", "a GB/T 2260 region code (6 digits, as text) is required"))
        return None
    # A code valid on any day of the month is right for it: districts change on a date inside a month.
    if all(regions.check_region(value, day) is regions.RegionCheck.INVALID for day in (first, last)):
        errors.append(ReportError(where, "region-invalid", f"{value!r} is not a GB/T 2260 region code valid in {first:%Y-%m}"))
        return None
    return value


def _amount(where: str, value: Any, errors: list[ReportError]) -> str | None:
    # A decimal string, not a JSON number: a float cannot carry yuan and fen exactly.
    if not isinstance(value, str) or not _AMOUNT.fullmatch(value):
        errors.append(ReportError(where, "amount-format",
                                  "GMV is a decimal string in CNY, not negative, with at most 2 decimals, e.g. \"18250340.50\""))
        return None
    return str(Decimal(value).quantize(Decimal("0.01")))


def _count(where: str, value: Any, errors: list[ReportError]) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        errors.append(ReportError(where, "count-format", "a whole number, 0 or more"))
        return None
    return value


#: A month's report is due by the end of this day of the following month (China time).
REPORT_DUE_DAY: Final = 15


def report_deadline(month: str) -> datetime:
    """The first moment a report of ``month`` is late: midnight after the 15th of the next month, China time."""
    _, last = month_bounds(month)
    due = (last + timedelta(days=1)).replace(day=REPORT_DUE_DAY)
    return datetime.combine(due + timedelta(days=1), time(0), tzinfo=CHINA_TIME)


def months_due(*, registered_at: datetime, now: datetime, last: int = 12) -> list[str]:
    """Up to ``last`` months, newest first, whose report was due by ``now`` and that began after the platform was registered."""
    day = now.astimezone(CHINA_TIME).date().replace(day=1)
    start = registered_at.astimezone(CHINA_TIME).date().replace(day=1)
    out: list[str] = []
    for _ in range(last + 2):
        day = (day - timedelta(days=1)).replace(day=1)
        if day < start:
            break
        month = f"{day:%Y-%m}"
        if report_deadline(month) <= now:
            out.append(month)
        if len(out) == last:
            break
    return out
