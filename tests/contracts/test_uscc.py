"""Unified social credit codes (GB 32100-2015): the 18th character checks the first 17."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from contracts import uscc

first17s = st.text(alphabet=uscc.ALPHABET, min_size=17, max_size=17)


def test_a_known_code_is_valid() -> None:
    assert uscc.is_valid("91330106MA2H0C3T5D")
    assert uscc.check_character("91330106MA2H0C3T5") == "D"


@given(first17s)
def test_seventeen_characters_completed_with_their_check_character_make_a_valid_code(first17: str) -> None:
    code = uscc.complete(first17)
    assert code == first17 + uscc.check_character(first17)
    assert uscc.is_valid(code)


@given(first17s, st.integers(min_value=0, max_value=17), st.data())
def test_substituting_any_one_character_for_another_of_the_alphabet_makes_the_code_invalid(first17: str, position: int, data: st.DataObject) -> None:
    code = uscc.complete(first17)
    replacement = data.draw(st.sampled_from([ch for ch in uscc.ALPHABET if ch != code[position]]))
    assert not uscc.is_valid(code[:position] + replacement + code[position + 1 :])


@pytest.mark.parametrize(
    "code",
    [
        "",
        "91330106MA2H0C3T5",  # 17 characters
        "91330106MA2H0C3T5DX",  # 19
        "91330106ma2h0c3t5d",  # lower case
        "91330106MI2H0C3T5D",  # I is not in the alphabet (nor O, S, V, Z)
        "91330106MA2H0C3T5Z",
    ],
)
def test_codes_of_the_wrong_length_or_outside_the_alphabet_are_invalid(code: str) -> None:
    assert not uscc.is_valid(code)


@pytest.mark.parametrize("first17", ["", "91330106MA2H0C3T", "91330106MA2H0C3TO"])
def test_a_check_character_needs_exactly_seventeen_alphabet_characters(first17: str) -> None:
    with pytest.raises(ValueError):
        uscc.check_character(first17)


def test_the_alphabet_has_31_characters_and_there_is_a_nonzero_weight_per_position() -> None:
    assert len(set(uscc.ALPHABET)) == 31 and not set("IOSVZ") & set(uscc.ALPHABET)
    assert len(uscc.WEIGHTS) == 17 and all(w % 31 for w in uscc.WEIGHTS)
