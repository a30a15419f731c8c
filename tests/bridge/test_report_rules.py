"""The rules of a monthly report, without I/O: every fault names its field; order does not make a new report."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from services.bridge.report_rules import ReportRefused, check_report

TODAY = date(2026, 3, 10)


def sale(**change: Any) -> dict[str, Any]:
    return {"category": "食品", "region": "330106", "gmv_cny": "1200.50", "orders": 30} | change


def body(*sales: dict[str, Any], stores: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {"sales": list(sales), "stores_by_category": stores if stores is not None else [{"category": "食品", "stores": 12}]}


def faults(month: str, report: dict[str, Any], today: date = TODAY) -> list[tuple[str, str]]:
    with pytest.raises(ReportRefused) as refused:
        check_report(month, report, today=today)
    return [(e.field, e.reason) for e in refused.value.errors]


def test_a_good_report_is_normalised() -> None:
    report = check_report("2026-02", body(sale(gmv_cny="1200.5"), sale(category=" 服装 ", gmv_cny="0", orders=0)), today=TODAY)
    assert [(s.category, s.gmv_cny, s.orders) for s in report.sales] == [("食品", "1200.50", 30), ("服装", "0.00", 0)]
    assert str(report.total_gmv()) == "1200.50" and report.total_orders() == 30
    assert report.stores_by_category == (("食品", 12),)


def test_each_fault_names_its_field_and_position() -> None:
    found = faults("2026-02", body(sale(), sale(region="330104"), sale(category="服装", gmv_cny=12.5), sale(category="x", orders=-1),
                                   sale(category="鞋", region=330106), "not an object", stores=[{"category": "", "stores": True}]))
    assert found == [
        ("sales[1].region", "region-invalid"),
        ("sales[2].gmv_cny", "amount-format"),
        ("sales[3].orders", "count-format"),
        ("sales[4].region", "required"),
        ("sales[5]", "not-object"),
        ("stores_by_category[0].category", "required"),
        ("stores_by_category[0].stores", "count-format"),
    ]


@pytest.mark.parametrize("amount", ["-1.00", "1.234", "1e6", "", "0012", "1234567890123.00", "NaN"])
def test_an_amount_is_a_plain_decimal_string_with_at_most_two_decimals(amount: str) -> None:
    assert faults("2026-02", body(sale(gmv_cny=amount))) == [("sales[0].gmv_cny", "amount-format")]


def test_a_cell_or_a_category_given_twice_is_refused() -> None:
    found = faults("2026-02", body(sale(), sale(gmv_cny="1.00"), stores=[{"category": "食品", "stores": 1}, {"category": "食品", "stores": 2}]))
    assert found == [("sales[1]", "duplicate-cell"), ("stores_by_category[1]", "duplicate-category")]


def test_gmv_without_any_order_cannot_be_right() -> None:
    assert faults("2026-02", body(sale(orders=0))) == [("sales[0].orders", "gmv-without-orders")]


def test_unknown_fields_and_missing_lists_are_named() -> None:
    assert faults("2026-02", {"sales": [sale(note="x")], "total": 1}) == [
        ("total", "unknown-field"), ("stores_by_category", "required"), ("sales[0].note", "unknown-field")]


def test_a_region_is_checked_against_the_table_of_that_month() -> None:
    # 330104 (江干区) was abolished in April 2021; 330114 (钱塘区) was created then.
    assert check_report("2020-12", body(sale(region="330104")), today=TODAY).sales[0].region == "330104"
    assert faults("2021-12", body(sale(region="330104"))) == [("sales[0].region", "region-invalid")]
    assert faults("2020-12", body(sale(region="330114"))) == [("sales[0].region", "region-invalid")]


@pytest.mark.parametrize(("month", "reason"), [("2026-03", "month-not-over"), ("2026-04", "month-not-over"), ("2026-13", "month-format"),
                                               ("26-01", "month-format")])
def test_only_a_month_that_is_over_is_reported(month: str, reason: str) -> None:
    assert faults(month, body(sale())) == [("month", reason)]


def test_the_digest_does_not_depend_on_the_order_of_the_cells_but_on_every_value() -> None:
    one = check_report("2026-02", body(sale(), sale(category="服装")), today=TODAY)
    same = check_report("2026-02", body(sale(category="服装"), sale(gmv_cny="1200.5")), today=TODAY)
    other = check_report("2026-02", body(sale(), sale(category="服装", orders=31)), today=TODAY)
    later = check_report("2026-01", body(sale(), sale(category="服装")), today=TODAY)
    assert one.digest() == same.digest()
    assert len({one.digest(), other.digest(), later.digest()}) == 3


def test_a_months_report_is_due_by_the_15th_of_the_next_month() -> None:
    from datetime import datetime, timedelta, timezone

    from services.bridge.report_rules import months_due, report_deadline

    china = timezone(timedelta(hours=8))
    assert report_deadline("2025-12") == datetime(2026, 1, 16, tzinfo=china)
    now = datetime(2026, 3, 16, 0, 0, tzinfo=china)
    assert months_due(registered_at=datetime(2025, 11, 20, tzinfo=china), now=now) == ["2026-02", "2026-01", "2025-12", "2025-11"]
    assert months_due(registered_at=datetime(2020, 1, 1, tzinfo=china), now=now - timedelta(seconds=1), last=2) == ["2026-01", "2025-12"]
