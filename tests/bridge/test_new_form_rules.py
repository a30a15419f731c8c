"""New-business-form subjects' rules: identity as in a store row (a USCC, or an ID number with the exemption declared),
the ID number kept only as a keyed digest, every error named at once, and a change of anything a new version."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from contracts.events.bridge import NewBusinessForm, UsccCheck
from services.bridge.new_form_rules import NewFormSubjectForm, register, registered_event, revise
from services.bridge.subject_rules import SubjectRefused
from services.bridge.validation import keyed_digest

ON = date(2026, 4, 7)
KEY = b"test-digest-key"
ID_NUMBER = "11010519491231002X"  # a valid GB 11643 check character
STREAMER: dict[str, Any] = {"form": "live_streamer", "name": "杭州茶语文化传媒有限公司", "uscc": "91330106MA2H0C3T5D", "region": "330106",
                            "handle": "茶语小西", "url": "https://live.example.com/room/20931", "category": "食品"}
LEADER: dict[str, Any] = {"form": "group_buying_leader", "name": "王阿姨", "id_number": ID_NUMBER.lower(), "exemption_declared": True,
                          "region": "330110", "handle": "良渚文化村3号团", "category": "生鲜"}


def check(fields: dict[str, Any], **change: Any) -> Any:
    return register("P001", "S1", NewFormSubjectForm.model_validate(fields | change), on=ON, overridden=False, mac_key=KEY)


def refused(fields: dict[str, Any], **change: Any) -> list[tuple[str | None, str]]:
    with pytest.raises(SubjectRefused) as caught:
        check(fields, **change)
    return [(e.field, e.code) for e in caught.value.errors]


def test_the_forms_are_the_new_business_forms_of_the_glossary() -> None:
    assert {f.value for f in NewBusinessForm} == {"live_streamer", "micro_store", "group_buying_leader", "other"}


def test_a_subject_with_a_uscc_needs_no_id_number() -> None:
    entry, warnings = check(STREAMER)
    assert (entry.uscc_check, entry.id_number_mac, entry.exemption_declared, warnings) == (UsccCheck.VALID, None, False, ())


def test_a_subject_without_a_uscc_gives_an_id_number_and_declares_its_exemption_both_named_when_missing() -> None:
    entry, _ = check(LEADER)
    assert entry.uscc is None and entry.id_number_mac == keyed_digest(KEY, ID_NUMBER)  # upper-cased, then digested
    assert refused(LEADER, id_number=None, exemption_declared=False) == [("id_number", "identity-missing"),
                                                                          ("exemption_declared", "exemption-not-declared")]


def test_a_malformed_id_number_is_refused_and_one_failing_its_check_character_only_flagged() -> None:
    assert refused(LEADER, id_number="1101051949123100") == [("id_number", "id-number-format")]
    entry, warnings = check(LEADER, id_number="110105194912310021")
    assert entry.id_number_mac is not None and [w.code for w in warnings] == ["id-number-check-failed"]


def test_codes_region_and_url_are_checked_like_a_store_rows() -> None:
    assert refused(STREAMER, uscc="91330106MA2H0C3T5", region="330104", url="live.example.com/room/1") == [
        ("uscc", "uscc-format"), ("region", "region-invalid"), ("url", "url-format")]
    _, warnings = check(STREAMER, uscc="91330110MA27XL0Q10")
    assert [w.code for w in warnings] == ["uscc-check-failed"]


def test_the_id_number_never_reaches_the_entry_or_its_event() -> None:
    entry, _ = check(LEADER)
    event = registered_event(entry).model_dump(mode="json", exclude_none=True)
    assert ID_NUMBER not in repr(entry) and ID_NUMBER not in str(event)
    assert "uscc" not in event and event["exemption_declared"] is True


def test_a_new_id_number_is_a_change_named_without_its_value_and_the_same_form_again_is_none() -> None:
    current, _ = check(LEADER)
    same, changed, _ = revise(current, NewFormSubjectForm.model_validate(LEADER), on=ON, overridden=False, mac_key=KEY)
    assert (same, changed) == (current, [])
    moved, changed, _ = revise(current, NewFormSubjectForm.model_validate(LEADER | {"id_number": "110105194912310021", "handle": "3号团"}),
                               on=ON, overridden=False, mac_key=KEY)
    assert (moved.version, changed) == (2, ["handle", "id_number"])
