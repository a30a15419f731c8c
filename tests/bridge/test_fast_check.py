"""The clean-row shortcut agrees with the full row rules: same record for a clean row, no record for anything else."""

from __future__ import annotations

import hashlib
import hmac
from datetime import date
from typing import Any

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from contracts import uscc
from services.bridge.validation import FastCheck, check_row, keyed_digest, uscc_check_ok
from tests.bridge.conftest import store_row

ON = date(2026, 4, 7)
_TEXT = frozenset({"store_id", "merchant_name", "uscc", "id_number", "address", "region", "shop_name", "shop_url", "category", "contact"})
_FLAGS = frozenset({"exemption_declared", "above_threshold"})

# Values a platform's file plausibly holds for each column, good and bad, of the types JSON and CSV give.
_VALUES: dict[str, Any] = {
    "store_id": st.sampled_from(["S1", " S2 ", "", "   ", 7, None, "x" * 201]),
    "merchant_name": st.sampled_from(["杭州商户有限公司", "", None, 3, "名" * 201]),
    "uscc": st.sampled_from([uscc.complete("91330106MA0000001"), uscc.complete("91330106MA0000001").lower(), "91330106MA00000010",
                             "91330106MA000000", "", None, 5, " " + uscc.complete("91330106MA0000002")]),
    "id_number": st.sampled_from(["11010519491231002X", "11010519491231002x", "110105194912310021", "1101051949", None, ""]),
    "exemption_declared": st.sampled_from([True, False, None, "true", 1, "maybe"]),
    "address": st.sampled_from(["文三路1号", "", None]),
    "region": st.sampled_from(["330106", "330199", "339999", "110105", "33010", "abcdef", None, 330106]),
    "shop_name": st.sampled_from(["店", "", None]),
    "shop_url": st.sampled_from(["https://shop.example.com/s/1", "ftp://x", "http://a b", None]),
    "category": st.sampled_from(["食品", " 服装 ", ""]),
    "contact": st.sampled_from(["0571-88000000", "", None, "9" * 101, 12]),
    "above_threshold": st.sampled_from([True, False, None, "否", 0]),
    "extra": st.sampled_from(["x"]),
}


@settings(max_examples=600, deadline=None)
@given(st.dictionaries(st.sampled_from(sorted(_VALUES)), st.none(), max_size=len(_VALUES)).flatmap(
    lambda keys: st.fixed_dictionaries({k: _VALUES[k] for k in keys})), st.integers(1, 5000))
def test_the_shortcut_accepts_exactly_the_rows_the_rules_accept_without_findings(row: dict[str, Any], n: int) -> None:
    raw = store_row(n) | row
    full = check_row(raw, line=1, on=ON)
    fast = FastCheck(ON).record(raw)
    if fast is not None:
        assert full.findings == [] and full.record == fast
    elif full.findings == [] and full.record is not None:
        # Only the full rules' extra leniency (numbers and strings where a text or flag was expected) may take the long way.
        assert any((type(v) is int and k in _TEXT) or (type(v) in (int, str) and k in _FLAGS) for k, v in row.items())


@given(st.text(alphabet=uscc.ALPHABET, min_size=17, max_size=17), st.sampled_from(uscc.ALPHABET))
def test_the_fast_uscc_check_is_the_contract_check(first17: str, last: str) -> None:
    assert uscc_check_ok(first17 + last) == uscc.is_valid(first17 + last)


@given(st.text(min_size=18, max_size=18))
def test_the_fast_uscc_check_agrees_on_any_code_of_the_shape_and_never_raises_on_it(code: str) -> None:
    shaped = "".join(uscc.ALPHABET[ord(ch) % 31] for ch in code)  # any 18 characters of the alphabet
    assert uscc_check_ok(shaped) == uscc.is_valid(shaped)


def test_the_keyed_digest_stays_the_hmac_sha256_of_sorted_json_that_stored_digests_were_made_with() -> None:
    # A change here would make every stored store look changed to the next submission.
    content = {"uscc": None, "address": "杭州", "above_threshold": False}
    assert keyed_digest(b"redshield-test-key", content) == "a6ecadb7d78d0a7cdc71c32c9a9b518b"
    assert keyed_digest(b"another-key", content) != keyed_digest(b"redshield-test-key", content)


@settings(max_examples=200)
@given(key=st.binary(min_size=1, max_size=200), content=st.dictionaries(st.text(max_size=8), st.one_of(st.none(), st.text(), st.booleans())))
def test_the_keyed_digest_is_hmac_sha256_for_any_key_short_or_longer_than_a_block(key: bytes, content: dict[str, Any]) -> None:
    expected = hmac.new(key, orjson.dumps(content, option=orjson.OPT_SORT_KEYS), hashlib.sha256).hexdigest()[:32]
    assert keyed_digest(key, content) == expected
