"""Rules for one submitted row: refused rows say why and where; doubtful ones are applied and flagged."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from contracts import uscc
from contracts.events.bridge import RegionCheck, UsccCheck
from services.bridge.validation import Severity, check_row, id_number_valid
from tests.bridge.conftest import store_row

ON = date(2026, 1, 15)


def codes(verdict: Any, severity: Severity) -> list[str]:
    return [f.code for f in verdict.findings if f.severity is severity]


def test_a_complete_row_is_accepted_without_findings() -> None:
    verdict = check_row(store_row(1), line=7, on=ON)
    assert verdict.record is not None and verdict.findings == []
    assert verdict.record.uscc_check is UsccCheck.VALID and verdict.record.region_check is RegionCheck.VALID


def test_a_uscc_failing_its_check_character_is_applied_and_flagged_not_refused() -> None:
    good = store_row(1)["uscc"]
    wrong = good[:17] + next(ch for ch in uscc.ALPHABET if ch != good[17])
    verdict = check_row(store_row(1, uscc=wrong), line=3, on=ON)
    assert verdict.record is not None and verdict.record.uscc_check is UsccCheck.CHECK_FAILED
    assert codes(verdict, Severity.WARNING) == ["uscc-check-failed"] and verdict.findings[0].line == 3


@pytest.mark.parametrize("field", ["store_id", "merchant_name", "address", "region", "shop_name", "shop_url", "category"])
def test_each_required_field_missing_refuses_the_row_naming_the_field(field: str) -> None:
    verdict = check_row(store_row(1, **{field: None}), line=9, on=ON)
    assert verdict.record is None
    assert [(f.code, f.field, f.line) for f in verdict.findings if f.severity is Severity.ERROR] == [("required", field, 9)]


def test_a_region_is_checked_on_the_submission_date() -> None:
    assert check_row(store_row(1, region="330104"), line=1, on=date(2020, 7, 15)).record is not None
    late = check_row(store_row(1, region="330104"), line=1, on=ON)
    assert late.record is None and codes(late, Severity.ERROR) == ["region-invalid"]
    assert check_row(store_row(1, region="330114"), line=1, on=ON).record is not None


def test_an_unregistered_merchant_needs_an_id_number_and_the_exemption_declaration() -> None:
    person = {"uscc": None, "id_number": "11010519491231002X", "exemption_declared": True}
    assert id_number_valid("11010519491231002X")
    accepted = check_row(store_row(1, **person), line=1, on=ON)
    assert accepted.record is not None and accepted.record.uscc is None
    undeclared = check_row(store_row(1, **(person | {"exemption_declared": False})), line=1, on=ON)
    assert codes(undeclared, Severity.ERROR) == ["exemption-not-declared"]
    nobody = check_row(store_row(1, uscc=None, exemption_declared=True), line=1, on=ON)
    assert codes(nobody, Severity.ERROR) == ["identity-missing"]


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"uscc": "91330106MA2H0C3T5"}, "uscc-format"),
        ({"uscc": "91330106MI2H0C3T5D"}, "uscc-format"),
        ({"shop_url": "shop.example.com"}, "url-format"),
        ({"above_threshold": "maybe"}, "wrong-type"),
        ({"merchant_name": {"a": 1}}, "wrong-type"),
        ({"address": "址" * 501}, "too-long"),
        ({"uscc": None, "exemption_declared": True, "id_number": "1101051949123100"}, "id-number-format"),
    ],
)
def test_values_that_cannot_be_right_refuse_the_row(change: dict[str, Any], code: str) -> None:
    verdict = check_row(store_row(1, **change), line=1, on=ON)
    assert verdict.record is None and code in codes(verdict, Severity.ERROR)


def test_spreadsheet_values_are_understood() -> None:
    verdict = check_row(store_row(1, store_id=12345, above_threshold="是", exemption_declared="0", uscc=store_row(1)["uscc"].lower()), line=1, on=ON)
    assert verdict.record is not None
    assert (verdict.record.store_id, verdict.record.above_threshold, verdict.record.uscc) == ("12345", True, store_row(1)["uscc"])
