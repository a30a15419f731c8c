"""The Fair Online rules: what an assignment from the province must hold, what each outcome needs, whose area an item is in."""

from __future__ import annotations

from typing import Any

import pytest

from contracts.events.bridge import FairOnlineOutcome
from services.bridge.domain import Refused
from services.bridge.faironline_rules import BadAssignment, area_stem, check_outcome, in_area, parse_assignment

ITEM: dict[str, Any] = {"item_id": "ZJGP-2026-0001", "title": "直播间虚假宣传", "category": "虚假宣传", "region": "330106",
                        "assigned_at": "2026-04-12T09:00:00+08:00", "due": "2026-05-12"}


def fields_of(exc: pytest.ExceptionInfo[BadAssignment]) -> list[str]:
    return [p.field for p in exc.value.problems]


def test_a_complete_assignment_is_read_in_the_provinces_schema() -> None:
    item = parse_assignment(ITEM)
    assert (item.item_id, item.region, item.due.isoformat() if item.due else None) == ("ZJGP-2026-0001", "330106", "2026-05-12")


@pytest.mark.parametrize(("change", "field"), [
    ({"region": "3301"}, "region"),
    ({"title": ""}, "title"),
    ({"assigned_at": "2026-04-12T09:00:00"}, "assigned_at"),
    ({"platform_uscc": "not-a-code"}, "platform_uscc"),
    ({"item_id": "has space"}, "item_id"),
    ({"priority": "high"}, "priority"),
    ({"due": "2026-04-01"}, "due"),
])
def test_a_bad_field_is_named(change: dict[str, Any], field: str) -> None:
    with pytest.raises(BadAssignment) as exc:
        parse_assignment(ITEM | change)
    assert field in fields_of(exc)


def test_every_missing_field_is_named_at_once() -> None:
    with pytest.raises(BadAssignment) as exc:
        parse_assignment({"item_id": "X1"})
    assert {"title", "category", "region", "assigned_at"} <= set(fields_of(exc))


def test_a_record_that_is_not_an_object_is_refused() -> None:
    with pytest.raises(BadAssignment):
        parse_assignment(["ZJGP-1"])


def test_a_case_filed_names_its_case_and_other_outcomes_do_not() -> None:
    filed = check_outcome(FairOnlineOutcome.CASE_FILED, ["直播录像证实无依据"], " 杭市监立〔2026〕118号 ")
    assert filed.case_number == "杭市监立〔2026〕118号"
    with pytest.raises(Refused) as missing:
        check_outcome(FairOnlineOutcome.CASE_FILED, ["直播录像证实无依据"], None)
    assert missing.value.field == "case_number"
    with pytest.raises(Refused) as unexpected:
        check_outcome(FairOnlineOutcome.NO_VIOLATION, ["价格有比较依据"], "杭市监立〔2026〕1号")
    assert unexpected.value.field == "case_number"


@pytest.mark.parametrize("reasons", [[], ["  "], ["ok"]])
def test_every_outcome_gives_its_grounds(reasons: list[str]) -> None:
    with pytest.raises(Refused) as exc:
        check_outcome(FairOnlineOutcome.HANDLED, reasons, None)
    assert exc.value.field == "reasons"


def test_a_city_bureau_sees_its_districts_and_a_district_only_its_own() -> None:
    assert area_stem("330100") == "3301" and area_stem("330000") == "33"
    assert in_area("330100", "330106") and in_area("330106", "330106")
    assert not in_area("330106", "330108") and not in_area("330200", "330106") and not in_area(None, "330106")
