"""The versioned region table: a code is valid by date, and only where the table is complete is an unknown code wrong."""

from __future__ import annotations

from datetime import date
from itertools import pairwise

import pytest

from contracts import regions
from contracts.regions import RegionCheck, check_region, is_valid_region

BEFORE = date(2021, 3, 10)
CHANGE = date(2021, 3, 11)


def test_hangzhous_2021_districts_are_valid_from_the_change_and_the_abolished_ones_until_it() -> None:
    for new in ("330113", "330114"):
        assert not is_valid_region(new, BEFORE) and is_valid_region(new, CHANGE)
    for old in ("330103", "330104"):
        assert is_valid_region(old, BEFORE) and not is_valid_region(old, CHANGE)
    assert regions.name_of("330113", date(2026, 1, 1)) == "临平区"
    assert regions.name_of("330104", date(2020, 1, 1)) == "江干区"


def test_every_one_of_the_31_provinces_is_in_the_table() -> None:
    provinces = [r for r in regions.REGIONS if r.code.endswith("0000")]
    assert len(provinces) == 31
    assert all(is_valid_region(r.code, date(2026, 1, 1)) for r in provinces)


@pytest.mark.parametrize("code", ["310101", "110101", "440300", "440305", "330100", "330106"])
def test_big_cities_and_their_districts_are_known(code: str) -> None:
    assert check_region(code, date(2026, 6, 1)) is RegionCheck.VALID


@pytest.mark.parametrize("code", ["330199", "310199", "110199", "440399"])
def test_an_unknown_county_where_the_table_is_complete_is_invalid(code: str) -> None:
    assert check_region(code, date(2026, 6, 1)) is RegionCheck.INVALID


def test_an_unknown_county_of_a_valid_province_elsewhere_is_only_unverified() -> None:
    assert check_region("441900", date(2026, 6, 1)) is RegionCheck.UNVERIFIED  # 东莞: real, not in our small table
    assert not is_valid_region("441900", date(2026, 6, 1))


@pytest.mark.parametrize("code", ["", "33010", "3301066", "33010a", "990000", "990101", "000000"])
def test_malformed_codes_and_unknown_provinces_are_invalid(code: str) -> None:
    assert check_region(code, date(2026, 6, 1)) is RegionCheck.INVALID


def test_validity_windows_are_half_open_and_never_overlap_for_a_code() -> None:
    for code in {r.code for r in regions.REGIONS}:
        spans = sorted(regions.versions(code), key=lambda r: r.valid_from or date.min)
        for earlier, later in pairwise(spans):
            assert earlier.valid_to is not None and later.valid_from is not None and earlier.valid_to <= later.valid_from
