"""The working-day calendar of mainland China: every deadline in the system is counted on it.

Sources, in order of precedence:

1. Override files (``services/runtime/data/holidays.json`` and any an administrator adds): one entry per day
   that is not an ordinary weekday/weekend day — a holiday on a weekday, a make-up workday (调休) on a weekend —
   each with the notice it comes from. A year appearing in an override file counts as official: the State
   Council publishes a whole year in one notice, so its days are added together.
2. The ``chinese_calendar`` package, which knows 2004–2026 (it raises for other years).
3. Nothing: a year neither source knows is counted on weekends alone, and every deadline that reaches into it
   is marked **provisional** so it can be recomputed when that year's notice is loaded.

All data is read when a :class:`WorkingCalendar` is built; its methods are pure and do no I/O.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from enum import StrEnum
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, Final

#: Deadlines are days in China Standard Time, whatever the server's zone.
CHINA_TIME: Final = timezone(timedelta(hours=8), "CST")
_ONE_DAY: Final = timedelta(days=1)


class DayKind(StrEnum):
    HOLIDAY = "holiday"  # a day off, weekday or not (法定节假日 and the days around it)
    WORKDAY = "workday"  # a working day, weekend or not (调休 make-up workday)


@dataclass(frozen=True, slots=True)
class SpecialDay:
    day: date
    kind: DayKind
    #: Where the entry comes from (notice number, package name), kept so a person can check it.
    source: str
    name: str = ""


@dataclass(frozen=True, slots=True)
class Deadline:
    """The last day on which something may still be done; it expires at the end of that day in China."""

    due: date
    #: True when the count crossed a year without official holiday data (weekends only were skipped).
    provisional: bool = False

    @property
    def expires_at(self) -> datetime:
        """The first moment the deadline is missed: midnight after ``due``, China time."""
        return datetime.combine(self.due + _ONE_DAY, time(0), tzinfo=CHINA_TIME)


class CalendarError(ValueError):
    """An override file that cannot be used (bad date, unknown kind, a day listed twice with two meanings)."""


def china_day(moment: datetime | date) -> date:
    """The calendar day in China of an aware moment; a plain date is taken as it is."""
    if isinstance(moment, datetime):
        if moment.tzinfo is None or moment.utcoffset() is None:
            raise ValueError("a moment without a timezone cannot be placed on the calendar")
        return moment.astimezone(CHINA_TIME).date()
    return moment


class WorkingCalendar:
    """Working days from official data; weekends alone where a year has none (those results are provisional)."""

    def __init__(self, special_days: Iterable[SpecialDay], official_years: Iterable[int]) -> None:
        days: dict[date, SpecialDay] = {}
        for entry in special_days:
            days[entry.day] = entry  # later sources win: overrides are passed after the package
        self._days: Mapping[date, SpecialDay] = days
        self._official_years: frozenset[int] = frozenset(official_years) | {d.year for d in days}

    # -- questions about one day --------------------------------------------------------------------
    def is_official(self, year: int) -> bool:
        return year in self._official_years

    @property
    def official_years(self) -> frozenset[int]:
        return self._official_years

    def is_working_day(self, day: date) -> bool:
        entry = self._days.get(day)
        if entry is not None:
            return entry.kind is DayKind.WORKDAY
        return day.weekday() < 5

    def special_day(self, day: date) -> SpecialDay | None:
        return self._days.get(day)

    # -- counting -----------------------------------------------------------------------------------
    def add_working_days(self, start: datetime | date, n: int) -> Deadline:
        """The n-th working day after ``start``; the day of ``start`` itself is not counted.

        ``n == 0`` gives ``start``'s day when it is a working day, else the next working day.
        """
        if n < 0:
            raise ValueError("a deadline counts forward: n must be >= 0")
        day = china_day(start)
        provisional = not self.is_official(day.year) if n == 0 else False
        if n == 0:
            return self._roll_forward(day, provisional)
        counted = 0
        while counted < n:
            day += _ONE_DAY
            provisional = provisional or not self.is_official(day.year)
            if self.is_working_day(day):
                counted += 1
        return Deadline(day, provisional)

    def add_days(self, start: datetime | date, n: int) -> Deadline:
        """``n`` calendar days after ``start`` (its day not counted); a deadline on a day off rolls forward."""
        if n < 0:
            raise ValueError("a deadline counts forward: n must be >= 0")
        day = china_day(start) + timedelta(days=n)
        return self._roll_forward(day, not self.is_official(day.year))

    def extend(self, deadline: Deadline, n: int) -> Deadline:
        """A deadline pushed back by ``n`` more working days (an approved extension)."""
        later = self.add_working_days(deadline.due, n)
        return Deadline(later.due, deadline.provisional or later.provisional)

    def working_days_before(self, due: date, n: int) -> date:
        """The working day ``n`` working days before ``due`` (for "deadline approaching" notices)."""
        if n < 0:
            raise ValueError("n must be >= 0")
        day = due
        counted = 0
        while counted < n:
            day -= _ONE_DAY
            if self.is_working_day(day):
                counted += 1
        return day

    def _roll_forward(self, day: date, provisional: bool) -> Deadline:
        while not self.is_working_day(day):
            day += _ONE_DAY
            provisional = provisional or not self.is_official(day.year)
        return Deadline(day, provisional)


# -- loading ------------------------------------------------------------------------------------------
PACKAGE_SOURCE: Final = "chinesecalendar 1.11 (State Council holiday notices)"


def package_days() -> tuple[list[SpecialDay], set[int]]:
    """What ``chinese_calendar`` knows: its holidays and make-up workdays, and the years it covers."""
    import chinese_calendar

    special = [SpecialDay(day, DayKind.HOLIDAY, PACKAGE_SOURCE, str(name)) for day, name in chinese_calendar.holidays.items()] + [
        SpecialDay(day, DayKind.WORKDAY, PACKAGE_SOURCE, str(name)) for day, name in chinese_calendar.workdays.items()
    ]
    years = {d.year for d in chinese_calendar.holidays}
    return special, set(range(min(years), max(years) + 1))


def parse_override(document: Any, origin: str) -> list[SpecialDay]:
    """Entries of one override document: ``{"days": [{"date", "kind", "source", "name"?}, ...]}``."""
    if not isinstance(document, dict) or not isinstance(document.get("days"), list):
        raise CalendarError(f"{origin}: expected an object with a 'days' list")
    entries: dict[date, SpecialDay] = {}
    for index, raw in enumerate(document["days"]):
        where = f"{origin}: days[{index}]"
        if not isinstance(raw, dict):
            raise CalendarError(f"{where}: expected an object")
        try:
            day = date.fromisoformat(str(raw["date"]))
            kind = DayKind(str(raw["kind"]))
            source = str(raw["source"]).strip()
        except KeyError as exc:
            raise CalendarError(f"{where}: missing {exc.args[0]!r}") from exc
        except ValueError as exc:
            raise CalendarError(f"{where}: {exc}") from exc
        if not source:
            # An entry nobody can trace back to a notice cannot be trusted to move a legal deadline.
            raise CalendarError(f"{where}: 'source' must name the notice the day comes from")
        previous = entries.get(day)
        if previous is not None and previous.kind is not kind:
            raise CalendarError(f"{where}: {day} is listed both as {previous.kind} and as {kind}")
        entries[day] = SpecialDay(day, kind, source, str(raw.get("name", "")))
    return list(entries.values())


def load_override_file(path: Path) -> list[SpecialDay]:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise CalendarError(f"{path}: {exc}") from exc
    return parse_override(document, str(path))


def bundled_override() -> list[SpecialDay]:
    text = resources.files("services.runtime.data").joinpath("holidays.json").read_text(encoding="utf-8")
    return parse_override(json.loads(text), "services/runtime/data/holidays.json")


def build_calendar(extra_overrides: Iterable[Path] = ()) -> WorkingCalendar:
    """The package's data, then the bundled override file, then each extra file (later ones win)."""
    special, years = package_days()
    special += bundled_override()
    for path in extra_overrides:
        special += load_override_file(path)
    return WorkingCalendar(special, years)


@cache
def default_calendar() -> WorkingCalendar:
    """The calendar from the package and the bundled override file, loaded once per process."""
    return build_calendar()
