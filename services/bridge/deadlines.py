"""Pure rules of the semi-annual submission windows (January for H1, July for H2): deadlines and each platform's standing.

SAMR Order 37 asks platforms to submit their merchants' identity data each January and July. The window opens on
the 1st of that month and closes at the end of ``deadline_day`` (China time); a submission for the period received
later is *late*, none at all by the deadline is *missing*. No I/O here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from typing import Final

from services.bridge.domain import CHINA_TIME, check_period

WINDOW_MONTH: Final = {"1": 1, "2": 7}


class Standing(StrEnum):
    ON_TIME = "on_time"
    LATE = "late"
    MISSING = "missing"
    #: The window is still open and nothing has arrived yet.
    PENDING = "pending"
    #: Registered after the deadline: the period asked nothing of it.
    NOT_DUE = "not_due"


@dataclass(frozen=True, slots=True)
class Window:
    period: str
    opens_at: datetime
    #: The first moment after the window: a submission received from here on is late.
    deadline: datetime


def window(period: str, *, deadline_day: int) -> Window:
    check_period(period)
    if not 1 <= deadline_day <= 31:
        raise ValueError("deadline_day is a day of January or July: 1 to 31")
    year, month = int(period[:4]), WINDOW_MONTH[period[5]]
    opens = datetime.combine(date(year, month, 1), time(0), tzinfo=CHINA_TIME)
    last = date(year, month, deadline_day)
    return Window(period, opens, datetime.combine(last + timedelta(days=1), time(0), tzinfo=CHINA_TIME))


def period_of(moment: datetime) -> str:
    """The period whose window opened last before ``moment``: H1 from January, H2 from July."""
    day = moment.astimezone(CHINA_TIME).date()
    return f"{day.year}H{1 if day.month < 7 else 2}"


def previous_period(period: str) -> str:
    check_period(period)
    year, half = int(period[:4]), period[5]
    return f"{year}H1" if half == "2" else f"{year - 1}H2"


def standing(*, first_received: datetime | None, registered_at: datetime, win: Window, now: datetime) -> Standing:
    """Where one platform stands for one period, from the moment its first accepted submission for it arrived."""
    if registered_at >= win.deadline:
        return Standing.NOT_DUE
    if first_received is not None:
        return Standing.ON_TIME if first_received < win.deadline else Standing.LATE
    return Standing.MISSING if now >= win.deadline else Standing.PENDING
