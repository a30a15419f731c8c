"""The working-day calendar: State Council holidays and make-up workdays, override files, provisional years."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.runtime.calendar import (
    CHINA_TIME,
    CalendarError,
    DayKind,
    Deadline,
    build_calendar,
    china_day,
    default_calendar,
    load_override_file,
)

CAL = default_calendar()


def override(tmp_path: Path, *days: dict[str, str]) -> Path:
    path = tmp_path / "holidays-extra.json"
    path.write_text(json.dumps({"days": list(days)}), encoding="utf-8")
    return path


# -- what the State Council's 2026 notice says, as chinesecalendar 1.11 knows it ----------------------------
@pytest.mark.parametrize(
    "make_up_day", [date(2026, 1, 4), date(2026, 2, 14), date(2026, 2, 28), date(2026, 5, 9), date(2026, 9, 20), date(2026, 10, 10)]
)
def test_the_2026_make_up_weekend_days_are_working_days(make_up_day: date) -> None:
    assert make_up_day.weekday() >= 5
    assert CAL.is_working_day(make_up_day)


@pytest.mark.parametrize("day_off", [date(2026, 1, 1), date(2026, 2, 16), date(2026, 2, 23), date(2026, 10, 1), date(2026, 10, 7)])
def test_the_2026_holidays_on_weekdays_are_days_off(day_off: date) -> None:
    assert day_off.weekday() < 5
    assert not CAL.is_working_day(day_off)


def test_the_first_day_is_not_counted() -> None:
    assert CAL.add_working_days(date(2026, 3, 2), 1) == Deadline(date(2026, 3, 3))  # Monday → Tuesday
    assert CAL.add_working_days(date(2026, 3, 6), 1) == Deadline(date(2026, 3, 9))  # Friday → Monday


def test_a_make_up_saturday_counts_as_a_working_day() -> None:
    # Thu 12 Feb 2026: Fri 13 is day 1, Sat 14 (调休) day 2, then the Spring Festival 15–23, Tue 24 is day 3.
    assert CAL.add_working_days(date(2026, 2, 12), 2).due == date(2026, 2, 14)
    assert CAL.add_working_days(date(2026, 2, 12), 3).due == date(2026, 2, 24)


def test_ten_working_days_across_national_day() -> None:
    # Mon 28 Sep: 29, 30 (1–2); 1–7 Oct off; 8, 9 (3–4); Sat 10 Oct 调休 (5); 12–16 (6–10).
    assert CAL.add_working_days(date(2026, 9, 28), 10) == Deadline(date(2026, 10, 16), provisional=False)


def test_a_calendar_day_deadline_landing_on_a_holiday_rolls_forward_to_the_next_working_day() -> None:
    # 21 Sep + 10 days = 1 Oct, National Day: the deadline moves to Thu 8 Oct.
    assert CAL.add_days(date(2026, 9, 21), 10) == Deadline(date(2026, 10, 8))
    # …and one landing on an ordinary Sunday moves to Monday, while a make-up Sunday stays.
    assert CAL.add_days(date(2026, 3, 1), 7).due == date(2026, 3, 9)
    assert CAL.add_days(date(2026, 9, 10), 10).due == date(2026, 9, 20)


def test_a_moment_is_placed_on_the_calendar_in_china_time() -> None:
    late_utc = datetime(2026, 2, 13, 17, 0, tzinfo=UTC)  # already Sat 14 Feb, 01:00 in Hangzhou
    assert china_day(late_utc) == date(2026, 2, 14)
    assert CAL.add_working_days(late_utc, 1).due == date(2026, 2, 24)
    with pytest.raises(ValueError, match="timezone"):
        china_day(datetime(2026, 2, 13, 17, 0))


def test_a_deadline_expires_at_midnight_after_its_day_in_china() -> None:
    assert Deadline(date(2026, 10, 16)).expires_at == datetime(2026, 10, 17, tzinfo=CHINA_TIME)
    assert Deadline(date(2026, 10, 16)).expires_at == datetime(2026, 10, 16, 16, 0, tzinfo=UTC)


# -- years without official data --------------------------------------------------------------------------
def test_2027_is_not_known_to_the_package_and_a_deadline_reaching_it_is_provisional() -> None:
    assert CAL.is_official(2026) and not CAL.is_official(2027)
    # Fri 25 Dec 2026: 28–31 Dec (1–4), then 2027 on weekends alone: Fri 1 Jan (5), 4–8 Jan (6–10).
    assert CAL.add_working_days(date(2026, 12, 25), 10) == Deadline(date(2027, 1, 8), provisional=True)
    assert CAL.add_working_days(date(2026, 12, 1), 10) == Deadline(date(2026, 12, 15), provisional=False)


def test_an_override_file_makes_2027_official_and_moves_the_deadline(tmp_path: Path) -> None:
    path = override(
        tmp_path,
        {"date": "2027-01-01", "kind": "holiday", "source": "国办发明电〔2026〕test", "name": "元旦"},
        {"date": "2027-01-04", "kind": "holiday", "source": "国办发明电〔2026〕test"},
        {"date": "2027-01-09", "kind": "workday", "source": "国办发明电〔2026〕test"},
    )
    calendar = build_calendar([path])
    assert calendar.is_official(2027)
    # 28–31 Dec (1–4); 1 Jan and 4 Jan off; 5–8 Jan (5–8); Sat 9 Jan make-up (9); Mon 11 Jan (10).
    assert calendar.add_working_days(date(2026, 12, 25), 10) == Deadline(date(2027, 1, 11), provisional=False)
    assert calendar.special_day(date(2027, 1, 1)) is not None
    assert calendar.special_day(date(2027, 1, 1)).source == "国办发明电〔2026〕test"  # type: ignore[union-attr]


def test_an_override_corrects_a_year_the_package_knows(tmp_path: Path) -> None:
    calendar = build_calendar([override(tmp_path, {"date": "2026-03-02", "kind": "holiday", "source": "correction test"})])
    assert not calendar.is_working_day(date(2026, 3, 2))
    assert calendar.add_working_days(date(2026, 2, 27), 1).due == date(2026, 2, 28)  # the 调休 Saturday is still there
    assert calendar.add_working_days(date(2026, 2, 28), 1).due == date(2026, 3, 3)


def test_the_bundled_override_file_loads() -> None:
    assert default_calendar() is CAL  # loaded once per process
    assert set(range(2004, 2027)) <= CAL.official_years


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"date": "2027-02-30", "kind": "holiday", "source": "x"}, "days\\[0\\]"),
        ({"date": "2027-01-01", "kind": "vacation", "source": "x"}, "vacation"),
        ({"date": "2027-01-01", "kind": "holiday"}, "'source'"),
        ({"date": "2027-01-01", "kind": "holiday", "source": "  "}, "notice"),
    ],
)
def test_a_bad_override_entry_is_refused_naming_it(tmp_path: Path, entry: dict[str, str], message: str) -> None:
    with pytest.raises(CalendarError, match=message):
        load_override_file(override(tmp_path, entry))


def test_a_day_listed_as_both_holiday_and_workday_is_refused(tmp_path: Path) -> None:
    path = override(
        tmp_path, {"date": "2027-01-01", "kind": "holiday", "source": "a"}, {"date": "2027-01-01", "kind": "workday", "source": "b"}
    )
    with pytest.raises(CalendarError, match="both"):
        load_override_file(path)


def test_working_days_before_counts_back_over_days_off() -> None:
    assert CAL.working_days_before(date(2026, 10, 9), 2) == date(2026, 9, 30)  # over National Day
    assert CAL.working_days_before(date(2026, 10, 12), 1) == date(2026, 10, 10)  # onto the 调休 Saturday
    assert CAL.working_days_before(date(2026, 10, 12), 0) == date(2026, 10, 12)


def test_an_extension_adds_working_days_to_the_due_day() -> None:
    assert CAL.extend(Deadline(date(2026, 9, 30)), 1) == Deadline(date(2026, 10, 8))
    assert CAL.extend(Deadline(date(2026, 12, 30)), 15).provisional


def test_negative_counts_are_refused() -> None:
    with pytest.raises(ValueError):
        CAL.add_working_days(date(2026, 1, 5), -1)
    with pytest.raises(ValueError):
        CAL.add_days(date(2026, 1, 5), -1)


# -- properties -------------------------------------------------------------------------------------------
days_2004_to_2028 = st.dates(min_value=date(2004, 1, 1), max_value=date(2028, 12, 31))


@given(start=days_2004_to_2028, n=st.integers(min_value=1, max_value=60))
def test_a_working_day_deadline_is_a_working_day_after_the_start_and_exactly_n_are_counted(start: date, n: int) -> None:
    deadline = CAL.add_working_days(start, n)
    assert deadline.due > start
    assert CAL.is_working_day(deadline.due)
    span = [start + timedelta(days=k) for k in range(1, (deadline.due - start).days + 1)]
    assert sum(CAL.is_working_day(d) for d in span) == n
    assert deadline.provisional == any(not CAL.is_official(d.year) for d in span)


@given(start=days_2004_to_2028, n=st.integers(min_value=0, max_value=90))
def test_a_calendar_day_deadline_is_the_first_working_day_on_or_after_start_plus_n(start: date, n: int) -> None:
    deadline = CAL.add_days(start, n)
    target = start + timedelta(days=n)
    assert deadline.due >= target and CAL.is_working_day(deadline.due)
    assert all(not CAL.is_working_day(target + timedelta(days=k)) for k in range((deadline.due - target).days))


@given(start=days_2004_to_2028, n=st.integers(min_value=0, max_value=40))
def test_counting_back_undoes_counting_forward_from_a_working_day(start: date, n: int) -> None:
    deadline = CAL.add_working_days(start, 0).due  # a working day
    assert CAL.working_days_before(CAL.add_working_days(deadline, n).due, n) == deadline


def test_day_kinds_are_the_two_the_override_file_accepts() -> None:
    assert {k.value for k in DayKind} == {"holiday", "workday"}
