"""A platform's data-quality score (0–100) and its parts, from counts bridge keeps. Pure: no I/O.

- completeness: in the latest submission, the share of rows accepted (their required fields were all there) and
  the share of optional fields filled in the accepted rows (a USCC rather than only an ID number, a contact);
- timeliness: semi-annual submissions on time (late counts half), monthly reports in by their due day, data
  requests delivered by their due day (late counts half);
- validation: 1 − the share of rows refused over the platform's recent submissions.

Each part is shown with its value and weight; a part without data (a platform that never submitted) is left out
and the weights of the others are scaled up, so a new platform is not scored 0 for what was never asked of it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

WEIGHTS: Final = {"completeness": 0.4, "timeliness": 0.3, "validation": 0.3}


@dataclass(frozen=True, slots=True)
class QualityInputs:
    #: Latest submission: rows in the file, rows accepted, optional fields filled over the accepted rows.
    latest_rows_total: int = 0
    latest_rows_accepted: int = 0
    optional_filled: int = 0
    optional_fields_per_row: int = 2
    #: The rows ``optional_filled`` was counted over (the platform's open stores); the accepted rows when not given.
    optional_rows: int | None = None
    #: Semi-annual periods that were due: on time, late, missing.
    periods_on_time: int = 0
    periods_late: int = 0
    periods_missing: int = 0
    #: Monthly reports that were due, and how many came in by their due day.
    reports_due: int = 0
    reports_on_time: int = 0
    #: Data requests whose due day passed or that were delivered: on time, late, still undelivered.
    requests_on_time: int = 0
    requests_late: int = 0
    requests_overdue: int = 0
    #: Rows over recent submissions, and how many were refused.
    rows_total: int = 0
    rows_refused: int = 0


@dataclass(frozen=True, slots=True)
class Part:
    name: str
    value: float | None
    weight: float
    detail: dict[str, float | int | None]


@dataclass(frozen=True, slots=True)
class Quality:
    score: int | None
    parts: tuple[Part, ...]


def _share(part: float, whole: float) -> float | None:
    return part / whole if whole else None


def completeness(q: QualityInputs) -> Part:
    required = _share(q.latest_rows_accepted, q.latest_rows_total)
    rows = q.latest_rows_accepted if q.optional_rows is None else q.optional_rows
    optional = _share(q.optional_filled, rows * q.optional_fields_per_row)
    known = [v for v in (required, optional) if v is not None]
    value = sum(known) / len(known) if known else None
    return Part("completeness", value, WEIGHTS["completeness"], {"required": required, "optional": optional})


def timeliness(q: QualityInputs) -> Part:
    periods = q.periods_on_time + q.periods_late + q.periods_missing
    due = periods + q.reports_due + q.requests_on_time + q.requests_late + q.requests_overdue
    met = q.periods_on_time + 0.5 * q.periods_late + q.reports_on_time + q.requests_on_time + 0.5 * q.requests_late
    return Part("timeliness", _share(met, due), WEIGHTS["timeliness"], {
        "submissions_on_time": q.periods_on_time, "submissions_late": q.periods_late, "submissions_missing": q.periods_missing,
        "reports_due": q.reports_due, "reports_on_time": q.reports_on_time,
        "requests_on_time": q.requests_on_time, "requests_late": q.requests_late, "requests_overdue": q.requests_overdue,
    })


def validation(q: QualityInputs) -> Part:
    rate = _share(q.rows_refused, q.rows_total)
    return Part("validation", None if rate is None else 1 - rate, WEIGHTS["validation"],
                {"rows_total": q.rows_total, "rows_refused": q.rows_refused, "failure_rate": rate})


def score(q: QualityInputs) -> Quality:
    parts = (completeness(q), timeliness(q), validation(q))
    known = [p for p in parts if p.value is not None]
    if not known:
        return Quality(None, parts)
    weight = sum(p.weight for p in known)
    total = sum(p.weight * p.value for p in known if p.value is not None) / weight
    return Quality(round(100 * total), parts)
