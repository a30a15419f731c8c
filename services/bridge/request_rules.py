"""Pure rules of a data request (regulator → platform): its deadline, its scope, when it is overdue. No I/O here."""

from __future__ import annotations

from datetime import date, datetime

from contracts.events.bridge import RequestScope
from services.bridge.domain import Refused
from services.runtime.calendar import Deadline, WorkingCalendar, china_day

#: The longest a request may give a platform: a request is for supervision now, not for next year.
MAX_WORKING_DAYS = 60


def deadline_of(*, issued_at: datetime, working_days: int | None, due: date | None, calendar: WorkingCalendar) -> Deadline:
    """The due day: ``working_days`` counted on the working-day calendar from the day of issue, or a given date."""
    if (working_days is None) == (due is None):
        raise Refused("deadline-required", "give exactly one of deadline_working_days and due", "deadline_working_days")
    today = china_day(issued_at)
    if working_days is not None:
        if not 1 <= working_days <= MAX_WORKING_DAYS:
            raise Refused("deadline-range", f"deadline_working_days must be 1 to {MAX_WORKING_DAYS}", "deadline_working_days")
        return calendar.add_working_days(issued_at, working_days)
    assert due is not None
    if due <= today:
        raise Refused("deadline-past", f"due {due.isoformat()} must be after today ({today.isoformat()} in China)", "due")
    if calendar.add_working_days(today, MAX_WORKING_DAYS).due < due:
        raise Refused("deadline-range", f"due {due.isoformat()} is more than {MAX_WORKING_DAYS} working days away", "due")
    return Deadline(due, provisional=not calendar.is_official(due.year))


def check_scope(scope: RequestScope, *, today: date) -> RequestScope:
    if scope.period_from > scope.period_to:
        raise Refused("period-order", "period_from must not be after period_to", "scope.period_from")
    if scope.period_from > today:
        raise Refused("period-future", "the period must have begun: data of the future does not exist yet", "scope.period_from")
    subjects = list(dict.fromkeys(s.strip() for s in scope.subjects))
    fields = list(dict.fromkeys(scope.fields))
    return scope.model_copy(update={"subjects": subjects, "fields": fields})


def is_overdue(due: date, now: datetime) -> bool:
    """The due day is the last day to deliver: overdue from midnight after it, China time."""
    return now >= Deadline(due).expires_at


def is_late(due: date, delivered_at: datetime) -> bool:
    return is_overdue(due, delivered_at)
