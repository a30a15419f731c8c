"""Rules of a data request, without I/O: the deadline on the working-day calendar, the scope, overdue from midnight."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from contracts.events.bridge import DataField, RequestScope
from services.bridge.domain import Refused
from services.bridge.request_rules import check_scope, deadline_of, is_late, is_overdue
from services.runtime.calendar import default_calendar

CHINA = timezone(timedelta(hours=8))
ISSUED = datetime(2026, 9, 30, 16, 0, tzinfo=CHINA)  # the day before the National Day holiday


def test_working_days_skip_the_national_day_holiday_and_count_its_make_up_workday() -> None:
    deadline = deadline_of(issued_at=ISSUED, working_days=3, due=None, calendar=default_calendar())
    assert deadline.due == date(2026, 10, 10) and not deadline.provisional


def test_a_given_due_day_must_be_in_the_future_and_not_too_far() -> None:
    cal = default_calendar()
    assert deadline_of(issued_at=ISSUED, working_days=None, due=date(2026, 10, 20), calendar=cal).due == date(2026, 10, 20)
    for due, reason in ((date(2026, 9, 30), "deadline-past"), (date(2027, 6, 1), "deadline-range")):
        with pytest.raises(Refused) as refused:
            deadline_of(issued_at=ISSUED, working_days=None, due=due, calendar=cal)
        assert (refused.value.reason, refused.value.field) == (reason, "due")


@pytest.mark.parametrize(("days", "due"), [(None, None), (5, date(2026, 10, 20)), (0, None), (61, None)])
def test_exactly_one_sensible_deadline_is_given(days: int | None, due: date | None) -> None:
    with pytest.raises(Refused):
        deadline_of(issued_at=ISSUED, working_days=days, due=due, calendar=default_calendar())


def test_a_scope_keeps_each_subject_and_field_once_and_its_period_in_order() -> None:
    scope = RequestScope(subjects=["S1", " S1", "S2"], period_from=date(2026, 1, 1), period_to=date(2026, 3, 31),
                         fields=[DataField.SALES, DataField.SALES, DataField.PRICE])
    checked = check_scope(scope, today=date(2026, 4, 1))
    assert (checked.subjects, checked.fields) == (["S1", "S2"], [DataField.SALES, DataField.PRICE])
    with pytest.raises(Refused) as refused:
        check_scope(scope.model_copy(update={"period_from": date(2026, 4, 1)}), today=date(2026, 4, 1))
    assert refused.value.field == "scope.period_from"
    with pytest.raises(Refused):
        check_scope(scope.model_copy(update={"period_from": date(2026, 5, 1), "period_to": date(2026, 6, 1)}), today=date(2026, 4, 1))


def test_a_request_is_overdue_from_midnight_after_its_due_day_in_china() -> None:
    due = date(2026, 10, 10)
    assert not is_overdue(due, datetime(2026, 10, 10, 23, 59, 59, tzinfo=CHINA))
    assert is_overdue(due, datetime(2026, 10, 11, 0, 0, tzinfo=CHINA))
    assert is_overdue(due, datetime(2026, 10, 10, 16, 0, tzinfo=UTC))  # 00:00 on the 11th in China
    assert is_late(due, datetime(2026, 10, 12, tzinfo=CHINA)) and not is_late(due, datetime(2026, 10, 9, tzinfo=CHINA))
