"""A batch's rules: at most 100 records, each a submission row with its own record_id, checked by the submission's
rules with its index as its line; its outcome against the stored store."""

from __future__ import annotations

from datetime import date

import pytest

from services.bridge.store_batch_rules import MAX_RECORDS, BatchRefused, Outcome, changed_fields, check_record, outcome_for, records_of
from services.bridge.validation import FastCheck, Severity, check_row
from tests.bridge.conftest import store_row

FAST = FastCheck(date(2026, 4, 7))


def refusal(body: object) -> BatchRefused:
    with pytest.raises(BatchRefused) as caught:
        records_of(body)
    return caught.value


def test_a_batch_is_an_object_holding_1_to_100_records() -> None:
    assert len(records_of({"records": [{}] * MAX_RECORDS})) == 100
    too_many = refusal({"records": [{}] * 101})
    assert (too_many.reason, too_many.field) == ("batch-too-large", "records") and "at most 100" in too_many.detail
    for body in ([{}], {"records": []}, {"records": {}}, {}, "records"):
        assert refusal(body).reason == "batch-invalid"
    assert refusal({"records": [{}], "statements": []}).field == "statements"


def test_a_valid_record_is_its_row_as_a_submission_would_stage_it_and_its_record_id_is_no_unknown_field() -> None:
    row = store_row(1)
    checked = check_record({"record_id": " r-1 ", **row}, 4, FAST)
    assert (checked.index, checked.record_id, checked.verdict.findings, checked.flagged) == (4, "r-1", [], False)
    assert checked.verdict.record == check_row(row, line=4, on=FAST.on).record


def test_a_record_without_a_usable_record_id_is_refused_before_its_row_is_read() -> None:
    for given in (None, "", "  ", 7, "two words", "x" * 201):
        raw = store_row(1) | ({"record_id": given} if given is not None else {})
        checked = check_record(raw, 2, FAST)
        (finding,) = checked.verdict.findings
        assert checked.verdict.record is None and (finding.line, finding.field, finding.store_id) == (2, "record_id", "S000001")
        assert finding.code in ("record-id-missing", "record-id-format")
    assert check_record(["not", "a", "record"], 0, FAST).verdict.findings[0].code == "wrong-type"


def test_a_bad_row_is_refused_with_the_submissions_findings_its_line_the_index_and_a_warning_only_flags() -> None:
    refused = check_record({"record_id": "r", **store_row(1, region="330104", shop_url="shop.example.com")}, 7, FAST)
    assert refused.verdict.record is None
    assert [(f.line, f.code) for f in refused.verdict.findings] == [(7, "region-invalid"), (7, "url-format")]
    flagged = check_record({"record_id": "r", **store_row(1, uscc="91330110MA27XL0Q10")}, 0, FAST)
    assert flagged.verdict.record is not None and flagged.flagged
    assert [(f.severity, f.code) for f in flagged.verdict.findings] == [(Severity.WARNING, "uscc-check-failed")]


def test_the_outcome_against_the_stored_store() -> None:
    assert outcome_for(None, None, "d1") is Outcome.CREATED
    assert outcome_for("closed", "d1", "d1") is Outcome.CREATED  # back after being closed
    assert outcome_for("open", "d1", "d1") is Outcome.UNCHANGED
    assert outcome_for("open", "d1", "d2") is Outcome.UPDATED


def test_changed_fields_compare_flags_as_booleans() -> None:
    before = {"shop_name": "甲", "above_threshold": 1, "contact": None}
    after = {"shop_name": "乙", "above_threshold": True, "contact": None}
    assert changed_fields(before, after, ("shop_name", "above_threshold", "contact")) == ["shop_name"]
    assert changed_fields({"above_threshold": 0}, {"above_threshold": True}, ("above_threshold",)) == ["above_threshold"]
