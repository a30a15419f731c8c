"""The January and July windows, without I/O: when a period's deadline passes and where a platform stands."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from services.bridge.deadlines import Standing, period_of, previous_period, standing, window

CHINA = timezone(timedelta(hours=8))


def at(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=CHINA)  # type: ignore[misc]


def test_h1_is_due_by_the_end_of_january_and_h2_by_the_end_of_july_in_china() -> None:
    assert window("2026H1", deadline_day=31).deadline == at(2026, 2, 1)
    assert window("2026H2", deadline_day=15).deadline == at(2026, 7, 16)
    assert window("2026H2", deadline_day=31).opens_at == at(2026, 7, 1)
    with pytest.raises(ValueError):
        window("2026H1", deadline_day=0)


def test_the_current_period_follows_the_window_last_opened() -> None:
    assert period_of(at(2026, 6, 30, 23, 59)) == "2026H1"
    assert period_of(at(2026, 7, 1)) == "2026H2"
    assert period_of(datetime(2026, 6, 30, 16, 0, tzinfo=UTC)) == "2026H2"  # already 1 July in Hangzhou
    assert previous_period("2026H1") == "2025H2" and previous_period("2026H2") == "2026H1"


def test_a_platform_stands_on_time_late_missing_pending_or_not_due() -> None:
    win = window("2026H1", deadline_day=31)
    registered = at(2025, 3, 1)
    assert standing(first_received=at(2026, 1, 31, 23, 59), registered_at=registered, win=win, now=at(2026, 3, 1)) is Standing.ON_TIME
    assert standing(first_received=at(2026, 2, 1), registered_at=registered, win=win, now=at(2026, 3, 1)) is Standing.LATE
    assert standing(first_received=None, registered_at=registered, win=win, now=at(2026, 1, 31, 23, 59)) is Standing.PENDING
    assert standing(first_received=None, registered_at=registered, win=win, now=at(2026, 2, 1)) is Standing.MISSING
    assert standing(first_received=None, registered_at=at(2026, 2, 3), win=win, now=at(2026, 3, 1)) is Standing.NOT_DUE
