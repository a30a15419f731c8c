"""The demo's synthetic world: platforms, their stores and how each platform handles its complaints.

Pure and seeded: no I/O, no clock, no global random state. The same ``(world, seed)`` gives the same platforms
(names, credit codes, domiciles), the same store lists and the same answers, so a rerun of ``redshield demo``
registers nothing new and resubmits identical store lists.

Two worlds:

- ``small``: the five platforms of the original demo (P001–P005), all connected to the canal, with the stores
  their complaints name plus a few dozen more each.
- ``hangzhou``: 110 platforms domiciled across ten Hangzhou districts, of every platform type; 15 of them
  (P001–P015, the five above among them) are connected to the canal and file complaints. A few big platforms
  have a few hundred stores, most have tens; stores sit in Hangzhou and in other provinces, nearly all with a
  valid unified social credit code, a few individual merchants with a declared exemption and an ID number.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any, Final, Literal

from contracts.uscc import ALPHABET, complete

WorldName = Literal["small", "hangzhou"]
Behaviour = Literal["fast", "slow", "silent"]
Via = Literal["http", "feed"]

WORLDS: Final[tuple[str, ...]] = ("small", "hangzhou")
PLATFORM_COUNT: Final = {"small": 5, "hangzhou": 110}
CONNECTED_COUNT: Final = {"small": 5, "hangzhou": 15}

#: Hangzhou's districts, where platforms are domiciled and most stores are.
HANGZHOU: Final[dict[str, str]] = {
    "330102": "上城区",
    "330105": "拱墅区",
    "330106": "西湖区",
    "330108": "滨江区",
    "330109": "萧山区",
    "330110": "余杭区",
    "330111": "富阳区",
    "330112": "临安区",
    "330113": "临平区",
    "330114": "钱塘区",
}
#: Where stores outside Hangzhou are: (region, city for the address, district).
ELSEWHERE: Final[dict[str, tuple[str, str]]] = {
    "310101": ("上海市", "黄浦区"),
    "310115": ("上海市", "浦东新区"),
    "440305": ("深圳市", "南山区"),
    "440306": ("深圳市", "宝安区"),
    "110105": ("北京市", "朝阳区"),
    "110108": ("北京市", "海淀区"),
}
STREETS: Final = ("文三路", "天目山路", "莫干山路", "江南大道", "钱江路", "解放路", "延安路", "学院路", "古墩路", "文一西路",
                  "市心路", "临平大道", "金沙大道", "滨盛路", "体育场路", "凤起路", "湖墅南路", "丰潭路", "五常大道", "南京路",
                  "科技园路", "建国路", "中关村大街", "深南大道", "世纪大道")

PLATFORM_TYPES: Final = ("b2c", "c2c", "live_stream", "food_delivery", "cross_border", "social", "group_buying", "services")
#: Name endings by platform type.
TYPE_SUFFIX: Final[dict[str, tuple[str, ...]]] = {
    "b2c": ("优选", "严选", "好物", "商城", "购物"),
    "c2c": ("闲置", "二手集市", "淘淘", "换换"),
    "live_stream": ("直播", "播购", "直播间", "红人秀"),
    "food_delivery": ("外卖", "到家", "鲜送", "食速达"),
    "cross_border": ("全球购", "海淘", "跨境购", "国际"),
    "social": ("社区", "圈子", "种草", "分享购"),
    "group_buying": ("团购", "拼团", "团团", "优团"),
    "services": ("家政", "生活服务", "帮到家", "服务通"),
}
OPERATING_MODEL: Final[dict[str, str]] = {
    "b2c": "marketplace", "c2c": "c2c-marketplace", "live_stream": "live-commerce", "food_delivery": "o2o-delivery",
    "cross_border": "cross-border-marketplace", "social": "social-commerce", "group_buying": "community-group-buying",
    "services": "local-services",
}
#: Goods categories each platform type sells most, with a typical order amount range (CNY).
CATEGORY_AMOUNT: Final[dict[str, tuple[int, int]]] = {
    "服装": (59, 1299), "食品": (19, 299), "茶叶": (89, 899), "数码产品": (99, 6999), "家用电器": (199, 8999),
    "化妆品": (49, 1299), "母婴用品": (39, 899), "保健食品": (99, 1999), "家居用品": (29, 1599), "珠宝首饰": (299, 19999),
    "生鲜食品": (29, 399), "餐饮外卖": (15, 199), "文创用品": (19, 399), "图书": (19, 199), "二手手机": (299, 4999),
    "二手奢侈品": (999, 29999), "进口美妆": (99, 1599), "进口食品": (39, 599), "家政服务": (99, 899), "维修服务": (59, 599),
}
TYPE_CATEGORIES: Final[dict[str, tuple[str, ...]]] = {
    "b2c": ("服装", "数码产品", "家用电器", "化妆品", "母婴用品", "家居用品", "食品", "茶叶", "图书"),
    "c2c": ("二手手机", "二手奢侈品", "服装", "图书", "文创用品"),
    "live_stream": ("服装", "化妆品", "珠宝首饰", "保健食品", "食品", "茶叶"),
    "food_delivery": ("餐饮外卖", "生鲜食品", "食品"),
    "cross_border": ("进口美妆", "进口食品", "母婴用品", "保健食品"),
    "social": ("化妆品", "服装", "文创用品", "食品"),
    "group_buying": ("生鲜食品", "食品", "家居用品"),
    "services": ("家政服务", "维修服务"),
}
FOOD_CATEGORIES: Final = frozenset({"食品", "茶叶", "保健食品", "生鲜食品", "餐饮外卖", "进口食品"})
PLACE_WORDS: Final = ("钱塘", "西子", "运河", "良渚", "湘湖", "西溪", "龙井", "断桥", "孤山", "灵隐", "之江", "富春", "天目", "千岛",
                      "苏堤", "白堤", "吴山", "宝石", "北山", "九溪", "云栖", "径山", "超山", "塘栖", "半山", "皋亭", "闻堰", "义桥",
                      "虎跑", "南屏", "梅坞", "满陇", "拱宸", "武林", "凤起", "湖滨", "武林", "钱江", "滨江", "临安", "新安", "桐君")
BRAND_WORDS: Final = ("悦", "禾", "嘉", "禧", "森", "简", "泽", "瑞", "初", "栖", "沐", "知", "言", "拾", "本", "素", "锦", "云", "晴",
                      "素", "棠", "朴", "然", "安", "和", "野", "乐", "优", "品", "喜")
SHOP_KINDS: Final = ("旗舰店", "专营店", "专卖店", "小店", "工作室", "直营店", "官方店")
SURNAMES: Final = "王李张刘陈杨黄赵周吴徐孙朱马胡郭何林罗高郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶程苏魏吕丁任沈"
GIVEN: Final = ("伟", "芳", "娜", "敏", "静", "磊", "洋", "艳", "勇", "杰", "娟", "涛", "明", "超", "秀英", "晓东", "海燕", "建华",
                "丽华", "子涵", "雨桐", "浩然", "欣怡", "梓萱")

#: The five platforms of the original demo; in both worlds they are P001–P005 with these names.
FIRST_FIVE: Final[tuple[tuple[str, str, str, str, Behaviour, Via, float, int], ...]] = (
    # name, code, type, domicile, behaviour, answers via, share filed over HTTP, weight
    ("钱塘优选", "QT", "b2c", "330102", "fast", "http", 1.0, 30),
    ("西子严选", "XZ", "b2c", "330106", "fast", "feed", 0.0, 25),
    ("运河集市", "YH", "c2c", "330105", "slow", "http", 0.6, 20),
    ("良渚好物", "LZ", "live_stream", "330110", "slow", "feed", 0.3, 15),
    ("湘湖速购", "XH", "group_buying", "330109", "silent", "http", 0.5, 10),
)
#: Behaviour of the connected platforms P006–P015 in the Hangzhou world.
MORE_CONNECTED: Final[tuple[tuple[Behaviour, Via], ...]] = (
    ("fast", "http"), ("fast", "feed"), ("slow", "feed"), ("fast", "http"), ("silent", "feed"),
    ("fast", "feed"), ("slow", "http"), ("fast", "http"), ("silent", "http"), ("slow", "feed"),
)


@dataclass(frozen=True, slots=True)
class WorldPlatform:
    platform_id: str
    name: str
    #: Prefix of the platform's own store, complaint and order ids.
    code: str
    type: str
    domicile_region: str
    uscc: str
    operating_model: str
    main_categories: tuple[str, ...]
    connected: bool
    #: How many stores it submits.
    stores: int
    #: Connected platforms only: how fast they answer the complaints assigned to them, and over which path.
    behaviour: Behaviour = "silent"
    answers_via: Via = "http"
    #: Share of its complaints filed over HTTP (the rest go to its Kafka feed); relative weight of its complaints.
    http_share: float = 0.5
    weight: int = 0


def _org(rng: random.Random) -> str:
    """The 9-character organisation part of a USCC: newer codes start with MA."""
    return "MA" + "".join(rng.choice(ALPHABET) for _ in range(7))


def uscc_for(region: str, key: str, *, kind: str = "91") -> str:
    """A valid USCC for ``region`` (positions 3–8), stable for ``key``: 91 company, 92 individual business."""
    return complete(f"{kind}{region}{_org(random.Random(f'uscc:{key}'))}")


def id_number_for(region: str, key: str) -> str:
    """A valid 18-character resident ID number (GB 11643) born in ``region``, stable for ``key``."""
    rng = random.Random(f"id:{key}")
    body = f"{region}{rng.randrange(1965, 2003)}{rng.randrange(1, 13):02d}{rng.randrange(1, 29):02d}{rng.randrange(1000):03d}"
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    total = sum(int(ch) * w for ch, w in zip(body, weights, strict=True))
    return body + "10X98765432"[total % 11]


def _store_count(rng: random.Random, index: int) -> int:
    """A long tail: a handful of big platforms, some middling, most small."""
    if index < 5:
        return rng.randrange(250, 400)
    if index < 25:
        return rng.randrange(50, 120)
    return rng.randrange(8, 35)


def platforms(world: str = "hangzhou", *, seed: int = 2026) -> tuple[WorldPlatform, ...]:
    """Every platform of ``world``; the connected ones first (P001…)."""
    if world not in WORLDS:
        raise ValueError(f"unknown demo world {world!r}; one of {', '.join(WORLDS)}")
    rng = random.Random(f"platforms:{world}:{seed}")
    out: list[WorldPlatform] = []
    names: set[str] = set()
    for n, (name, code, kind, domicile, behaviour, via, share, weight) in enumerate(FIRST_FIVE, start=1):
        pid = f"P{n:03d}"
        cats = rng.sample(TYPE_CATEGORIES[kind], k=min(3, len(TYPE_CATEGORIES[kind])))
        stores = rng.randrange(250, 400) if world == "hangzhou" and n <= 3 else rng.randrange(30, 60)
        out.append(WorldPlatform(pid, name, code, kind, domicile, uscc_for(domicile, f"platform:{pid}"), OPERATING_MODEL[kind],
                                 tuple(cats), True, stores, behaviour, via, share, weight))
        names.add(name)
    if world == "small":
        return tuple(out)
    districts = list(HANGZHOU)
    for n in range(6, PLATFORM_COUNT["hangzhou"] + 1):
        pid = f"P{n:03d}"
        kind = PLATFORM_TYPES[(n - 6) % len(PLATFORM_TYPES)] if n <= 21 else rng.choice(PLATFORM_TYPES)
        while True:
            name = rng.choice(PLACE_WORDS) + rng.choice(TYPE_SUFFIX[kind])
            if name not in names:
                break
            name = rng.choice(PLACE_WORDS) + rng.choice(BRAND_WORDS) + rng.choice(TYPE_SUFFIX[kind])
            if name not in names:
                break
        names.add(name)
        domicile = districts[(n - 6) % len(districts)] if n <= 15 else rng.choice(districts)
        cats = rng.sample(TYPE_CATEGORIES[kind], k=min(rng.randrange(2, 5), len(TYPE_CATEGORIES[kind])))
        connected = n <= CONNECTED_COUNT["hangzhou"]
        behaviour, via = MORE_CONNECTED[n - 6] if connected else ("silent", "http")
        out.append(WorldPlatform(
            pid, name, f"H{n:03d}", kind, domicile, uscc_for(domicile, f"platform:{pid}"), OPERATING_MODEL[kind], tuple(cats),
            connected, _store_count(rng, n - 3), behaviour, via,
            http_share=rng.choice((0.0, 0.3, 0.5, 0.7, 1.0)) if connected else 0.0,
            weight=rng.randrange(4, 16) if connected else 0,
        ))
    return tuple(out)


def registration(p: WorldPlatform) -> dict[str, Any]:
    """The body of ``POST /v1/platforms`` (bridge's ``PlatformRegistration``)."""
    rng = random.Random(f"contact:{p.platform_id}")
    person = rng.choice(SURNAMES) + rng.choice(GIVEN)
    return {
        "platform_id": p.platform_id,
        "name": p.name,
        "uscc": p.uscc,
        "domicile_region": p.domicile_region,
        "type": p.type,
        "operating_model": p.operating_model,
        "main_categories": list(p.main_categories),
        "contacts": [{"role": "合规负责人", "name": person, "phone": f"0571-8{rng.randrange(10**7):07d}",
                      "email": f"compliance@{p.code.lower()}.example.cn"}],
        "connected_to_canal": p.connected,
    }


@dataclass(frozen=True, slots=True)
class Store:
    store_id: str
    shop_name: str
    region: str
    category: str
    uscc: str | None
    row: dict[str, Any]


def _address(rng: random.Random, region: str) -> str:
    street = rng.choice(STREETS)
    if region in HANGZHOU:
        return f"浙江省杭州市{HANGZHOU[region]}{street}{rng.randrange(1, 999)}号"
    city, district = ELSEWHERE[region]
    return f"{city}{district}{street}{rng.randrange(1, 999)}号"


def stores(p: WorldPlatform, *, seed: int = 2026) -> list[Store]:
    """The platform's store list: one row each for its submission (bridge's NDJSON fields)."""
    rng = random.Random(f"stores:{p.platform_id}:{seed}")
    hangzhou = list(HANGZHOU)
    elsewhere = list(ELSEWHERE)
    out: list[Store] = []
    for n in range(1, p.stores + 1):
        store_id = f"{p.code}-S{n:05d}"
        # Mostly the platform's own district and the rest of Hangzhou; one in five from another province.
        roll = rng.random()
        region = p.domicile_region if roll < 0.3 else rng.choice(hangzhou) if roll < 0.8 else rng.choice(elsewhere)
        category = rng.choice(p.main_categories)
        brand = rng.choice(PLACE_WORDS if region in HANGZHOU else BRAND_WORDS) + rng.choice(BRAND_WORDS)
        shop_name = f"{brand}{category}{rng.choice(SHOP_KINDS)}"
        city = "杭州" if region in HANGZHOU else ELSEWHERE[region][0].removesuffix("市")
        individual = rng.random() < 0.04
        row: dict[str, Any] = {
            "store_id": store_id,
            "address": _address(rng, region),
            "region": region,
            "shop_name": shop_name,
            "shop_url": f"https://shop.{p.code.lower()}.example.cn/{store_id.lower()}",
            "category": category,
            "contact": f"1{rng.choice('3456789')}{rng.randrange(10**9):09d}",
            "above_threshold": rng.random() < 0.6,
        }
        code: str | None = None
        if individual:
            # A small individual merchant without a licence (E-Commerce Law Art. 10): exemption and ID number.
            row["merchant_name"] = rng.choice(SURNAMES) + rng.choice(GIVEN)
            row["id_number"] = id_number_for(region, f"{p.platform_id}:{store_id}")
            row["exemption_declared"] = True
            row["above_threshold"] = False
        else:
            kind = "92" if rng.random() < 0.2 else "91"
            suffix = "经营部" if kind == "92" else rng.choice(("贸易有限公司", "电子商务有限公司", "科技有限公司", "商贸有限公司"))
            row["merchant_name"] = f"{city}{brand}{suffix}"
            code = uscc_for(region, f"{p.platform_id}:{store_id}", kind=kind)
            row["uscc"] = code
        out.append(Store(store_id, shop_name, region, category, code, row))
    return out


def amount_range(category: str) -> tuple[int, int]:
    return CATEGORY_AMOUNT.get(category, (29, 999))


#: A platform's reply when it does not settle, or contests, a complaint.
NOT_SETTLED_REASONS: Final = ("商家与消费者未能就退款金额达成一致，已建议消费者向监管部门申请调解。",
                              "消费者要求三倍赔偿，商家仅同意退货退款，协商未果。")
CONTESTED_REASONS: Final = ("经核查订单物流记录，商品已由消费者本人签收，商家不存在违约情形。",
                            "消费者所述问题系人为损坏，商家已提供出厂检验报告及发货前视频。",
                            "该订单已于投诉前全额退款，退款凭证已上传。")


def answer(platform_id: str, complaint_id: str, amount: str, *, seed: int = 2026) -> dict[str, Any]:
    """A platform's first-handling answer (``FirstHandlingAnswer``): settled mostly, with a refund up to the amount."""
    rng = random.Random(f"answer:{seed}:{platform_id}:{complaint_id}")
    roll = rng.random()
    if roll < 0.72:
        body: dict[str, Any] = {"outcome": "settled"}
        if rng.random() < 0.8:
            cents = round(float(amount) * 100 * rng.choice((1.0, 1.0, 0.5, 0.3)))
            body["refund_amount"] = f"{cents // 100}.{cents % 100:02d}"
        return body
    if roll < 0.88:
        return {"outcome": "not_settled", "reason": rng.choice(NOT_SETTLED_REASONS)}
    return {"outcome": "contested", "reason": rng.choice(CONTESTED_REASONS)}


#: Online sales swing with the shopping calendar: Spring Festival is quiet, 618 and Double 11 are the peaks.
SEASON: Final[dict[int, float]] = {1: 0.95, 2: 0.75, 3: 0.9, 4: 0.92, 5: 1.0, 6: 1.35, 7: 0.95, 8: 0.95, 9: 1.0, 10: 1.1, 11: 1.8, 12: 1.2}


def past_months(today: date, count: int) -> list[str]:
    """The ``count`` whole months before ``today``, oldest first (a month is reported once it is over)."""
    year, month = today.year, today.month
    out: list[str] = []
    for _ in range(count):
        month -= 1
        if month == 0:
            year, month = year - 1, 12
        out.append(f"{year:04d}-{month:02d}")
    return out[::-1]


def monthly_report(p: WorldPlatform, month: str, *, seed: int = 2026) -> dict[str, Any]:
    """A platform's report of one month, as it PUTs it to bridge: GMV and orders per (category, region) where its
    stores are, and its stores per category. Sales follow the platform's size, its categories' order values and the
    season; each store sells a few dozen orders a month."""
    rng = random.Random(f"report:{p.platform_id}:{month}:{seed}")
    listed = stores(p, seed=seed)
    season = SEASON[int(month[5:7])]
    cells: dict[tuple[str, str], tuple[Decimal, int]] = {}
    for store in listed:
        low, high = amount_range(store.category)
        orders = max(1, round(rng.lognormvariate(3.4, 0.8) * season))
        gmv = Decimal(orders) * Decimal(rng.uniform(low, (low + high) / 2)).quantize(Decimal("0.01"))
        old_gmv, old_orders = cells.get((store.category, store.region), (Decimal("0.00"), 0))
        cells[(store.category, store.region)] = (old_gmv + gmv, old_orders + orders)
    by_category: dict[str, int] = {}
    for store in listed:
        by_category[store.category] = by_category.get(store.category, 0) + 1
    return {
        "sales": [
            {"category": category, "region": region, "gmv_cny": str(gmv.quantize(Decimal("0.01"))), "orders": orders}
            for (category, region), (gmv, orders) in sorted(cells.items())
        ],
        "stores_by_category": [{"category": c, "stores": n} for c, n in sorted(by_category.items())],
    }


#: Sites a city's bureau keeps on file: enterprises selling from a website of their own (about one per
#: two platforms in the Hangzhou world), by what they sell.
WEBSITE_CATEGORIES: Final = ("茶叶", "丝绸", "服装", "数码配件", "家居用品", "保健食品", "文创", "母婴用品")
WEBSITE_DOMAIN_WORDS: Final = ("xihu", "qiantang", "yunhe", "longjing", "liangzhu", "xixi", "zhijiang", "fuchun", "tianmu", "hushan")
#: New-business-form subjects by the platform's type: streamers on live-stream platforms, micro-stores on social
#: ones, leaders on group-buying ones; a few of each elsewhere.
FORMS_BY_TYPE: Final[dict[str, tuple[str, ...]]] = {
    "live_stream": ("live_streamer",) * 8 + ("other",),
    "social": ("micro_store",) * 6 + ("live_streamer", "other"),
    "group_buying": ("group_buying_leader",) * 6 + ("micro_store",),
}
OTHER_FORMS: Final = ("live_streamer", "micro_store", "group_buying_leader", "other")


def websites(world: str = "hangzhou", *, seed: int = 2026) -> list[dict[str, Any]]:
    """Enterprise websites to register: valid USCCs and ICP filings in Hangzhou's districts; one in twelve
    suspended, one in twenty closed."""
    count = PLATFORM_COUNT[world] // 2
    rng = random.Random(f"websites:{seed}")
    districts = sorted(HANGZHOU)
    sites = []
    for n in range(1, count + 1):
        region = districts[rng.randrange(len(districts))]
        word = WEBSITE_DOMAIN_WORDS[n % len(WEBSITE_DOMAIN_WORDS)]
        status = "closed" if n % 20 == 0 else "suspended" if n % 12 == 0 else "active"
        sites.append({
            "website_id": f"W{n:04d}",
            "operator_name": f"杭州{rng.choice(PLACE_WORDS)}{rng.choice(BRAND_WORDS)}电子商务有限公司",
            "uscc": uscc_for(region, f"website:{seed}:{n}"),
            "domain": f"{word}{n:03d}.com.cn",
            "url": f"https://www.{word}{n:03d}.com.cn/",
            "icp_filing": f"浙ICP备{20_000_000 + rng.randrange(9_999_999)}号-1",
            "region": region,
            "category": rng.choice(WEBSITE_CATEGORIES),
            "status": status,
        })
    return sites


def new_form_subjects(p: WorldPlatform, *, seed: int = 2026) -> list[tuple[str, dict[str, Any]]]:
    """(subject id, body) for the platform's new-business-form subjects: more on live-stream, social and
    group-buying platforms; individuals with an ID number and the exemption declaration, or a USCC (92…)."""
    rng = random.Random(f"new-forms:{seed}:{p.platform_id}")
    forms = FORMS_BY_TYPE.get(p.type, OTHER_FORMS)
    count = rng.randrange(6, 16) if p.type in FORMS_BY_TYPE else rng.randrange(0, 4)
    districts = sorted(HANGZHOU)
    subjects = []
    for n in range(1, count + 1):
        region = districts[rng.randrange(len(districts))]
        name = f"{rng.choice(SURNAMES)}{rng.choice(GIVEN)}"
        key = f"{p.platform_id}:{n}"
        body: dict[str, Any] = {
            "form": rng.choice(forms),
            "name": name,
            "region": region,
            "handle": f"@{p.code.lower()}_{n:03d}",
            "category": rng.choice(p.main_categories),
        }
        if n % 3 == 0:
            body["uscc"] = uscc_for(region, f"new-form:{seed}:{key}", kind="92")
        else:
            body |= {"id_number": id_number_for(region, f"new-form:{seed}:{key}"), "exemption_declared": True}
        subjects.append((f"{p.code}-NF{n:03d}", body))
    return subjects
