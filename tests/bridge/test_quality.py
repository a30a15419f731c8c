"""The data-quality score, without I/O: its three parts, their weights, and what is left out for lack of data."""

from __future__ import annotations

from services.bridge.quality import QualityInputs, score


def parts(q: QualityInputs) -> dict[str, float | None]:
    return {p.name: p.value for p in score(q).parts}


def test_a_platform_that_does_everything_well_scores_100() -> None:
    q = QualityInputs(latest_rows_total=10, latest_rows_accepted=10, optional_filled=20, periods_on_time=2, reports_due=12,
                      reports_on_time=12, rows_total=30, rows_refused=0)
    assert score(q).score == 100 and parts(q) == {"completeness": 1.0, "timeliness": 1.0, "validation": 1.0}


def test_each_part_is_weighted_and_shown() -> None:
    q = QualityInputs(latest_rows_total=10, latest_rows_accepted=8, optional_filled=8,  # required 0.8, optional 0.5 → 0.65
                      periods_on_time=1, periods_late=1, reports_due=2, reports_on_time=0,  # (1 + 0.5 + 0) / 4 = 0.375
                      rows_total=100, rows_refused=20)  # 0.8
    assert parts(q) == {"completeness": 0.65, "timeliness": 0.375, "validation": 0.8}
    assert score(q).score == round(100 * (0.4 * 0.65 + 0.3 * 0.375 + 0.3 * 0.8))
    timely = next(p for p in score(q).parts if p.name == "timeliness")
    assert (timely.detail["submissions_late"], timely.detail["reports_due"]) == (1, 2)


def test_a_missing_submission_and_an_overdue_request_count_nothing_and_late_ones_half() -> None:
    assert parts(QualityInputs(periods_missing=1, requests_late=1))["timeliness"] == 0.25
    assert parts(QualityInputs(requests_overdue=2, requests_on_time=2))["timeliness"] == 0.5


def test_parts_without_data_are_left_out_and_the_others_weighted_up() -> None:
    only_reports = QualityInputs(reports_due=4, reports_on_time=3)
    assert parts(only_reports) == {"completeness": None, "timeliness": 0.75, "validation": None}
    assert score(only_reports).score == 75
    assert score(QualityInputs()).score is None
