"""``redshield demo``: a living demo world, built through the services' public APIs and feeds only.

In order: every platform of the world (``--world small``: five; ``hangzhou``: 110, 15 connected to the canal, see
:mod:`services.cli.demo_world`) is registered with bridge by a regulator (a rerun finds them registered, 409);
each platform submits its store list as NDJSON; the connected platforms file complaints; then they answer the
complaints assigned to them for first handling: fast ones within seconds, slow ones later in the run, silent
ones never, over HTTP or their answers feed (``feed.<platform_id>.answers.v1``). Beside the complaints, every
platform reports its past twelve months (GMV and orders by category and region, stores by category) with
``PUT /v1/platforms/{id}/reports/{month}``, so the cockpits' GMV panels and per-GMV rates fill.

Some platforms file over HTTP (``POST /v1/complaints`` with their own bearer token), some publish on their own
Kafka feed topic (``feed.<platform_id>.complaints.v1``, binary-mode CloudEvents), some do both. Everything is
drawn from a seeded random generator, one generator per complaint: the same seed gives the same complaints
(the same platform complaint ids), so a second run with the same seed files only duplicates, which the canal
recognises, and a run with more complaints tops up the first one.
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
import random
import sys
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Final, Literal

import orjson

from contracts import topics
from contracts.codes import CATEGORY_LABELS_ZH, ComplaintCategory
from contracts.envelope import Envelope
from contracts.uscc import complete
from services.cli import demo_world

CHINA_TIME: Final = timezone(timedelta(hours=8))
DEFAULT_SEED: Final = 2026
SUBMITTED_TYPE: Final = "redshield.platform.complaint.submitted.v1"
ANSWERED_TYPE: Final = "redshield.platform.complaint.answered.v1"

Via = Literal["http", "feed"]


@dataclass(frozen=True, slots=True)
class Platform:
    platform_id: str
    name: str
    #: Share of its complaints a platform files over HTTP; the rest go to its Kafka feed.
    http_share: float
    #: Relative weight: how many of the demo's complaints this platform files.
    weight: int
    #: Prefix of the platform's own complaint and order ids.
    code: str


PLATFORMS: Final[dict[str, Platform]] = {
    p.platform_id: p
    for p in (
        Platform("P001", "钱塘优选", http_share=1.0, weight=30, code="QT"),
        Platform("P002", "西子严选", http_share=0.0, weight=25, code="XZ"),
        Platform("P003", "运河集市", http_share=0.6, weight=20, code="YH"),
        Platform("P004", "良渚好物", http_share=0.3, weight=15, code="LZ"),
        Platform("P005", "湘湖速购", http_share=0.5, weight=10, code="XH"),
    )
}

DISTRICTS: Final[dict[str, str]] = {
    "330102": "上城区",
    "330105": "拱墅区",
    "330106": "西湖区",
    "330108": "滨江区",
    "330109": "萧山区",
    "330110": "余杭区",
    "330113": "临平区",
    "330114": "钱塘区",
}


@dataclass(frozen=True, slots=True)
class Merchant:
    store_id: str
    store_name: str
    region: str
    goods_category: str
    #: Typical order amount range in CNY.
    amount: tuple[int, int]
    #: A few stores publish no licence number on their shop page.
    with_uscc: bool = True

    @property
    def uscc(self) -> str:
        """A valid unified social credit code: 9 (market regulation) 1 (company), the district, an org code."""
        alphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY"
        rng = random.Random(f"uscc:{self.store_id}")
        org = "MA" + "".join(rng.choice(alphabet) for _ in range(7))
        return complete(f"91{self.region}{org}")


#: Fictional stores; each platform hosts some of them (a store may sell on several platforms).
MERCHANTS: Final[tuple[Merchant, ...]] = (
    Merchant("S-1001", "西湖龙井茶叶旗舰店", "330106", "茶叶", (89, 899)),
    Merchant("S-1002", "河坊街丝绸专营店", "330102", "服装", (129, 1299)),
    Merchant("S-1003", "滨江智能数码专营店", "330108", "数码产品", (199, 6999)),
    Merchant("S-1004", "萧山萝卜干土特产店", "330109", "食品", (19, 159)),
    Merchant("S-1005", "余杭良品母婴馆", "330110", "母婴用品", (59, 899)),
    Merchant("S-1006", "临平轻奢女装工作室", "330113", "服装", (99, 1599), with_uscc=False),
    Merchant("S-1007", "钱塘新区家电直营店", "330114", "家用电器", (299, 8999)),
    Merchant("S-1008", "拱墅运河美妆集合店", "330105", "化妆品", (49, 1299)),
    Merchant("S-1009", "西溪健康保健食品店", "330106", "保健食品", (99, 1999)),
    Merchant("S-1010", "武林珠宝首饰专营店", "330102", "珠宝首饰", (299, 19999)),
    Merchant("S-1011", "滨江电竞外设旗舰店", "330108", "数码产品", (99, 2999)),
    Merchant("S-1012", "萧山家纺家居馆", "330109", "家居用品", (59, 1599)),
    Merchant("S-1013", "良渚文创手作小店", "330110", "文创用品", (29, 399), with_uscc=False),
    Merchant("S-1014", "临平鲜果冷链生鲜店", "330113", "生鲜食品", (39, 399)),
    Merchant("S-1015", "下沙学生数码配件店", "330114", "数码产品", (19, 499)),
    Merchant("S-1016", "大关烘焙糕点坊", "330105", "食品", (29, 299)),
)

#: Which stores sell on which platform.
STORES_ON: Final[dict[str, tuple[str, ...]]] = {
    "P001": ("S-1001", "S-1002", "S-1003", "S-1005", "S-1007", "S-1008", "S-1010", "S-1014"),
    "P002": ("S-1001", "S-1004", "S-1006", "S-1009", "S-1011", "S-1012", "S-1016"),
    "P003": ("S-1002", "S-1003", "S-1008", "S-1013", "S-1015"),
    "P004": ("S-1004", "S-1005", "S-1009", "S-1012", "S-1014", "S-1016"),
    "P005": ("S-1003", "S-1006", "S-1007", "S-1011", "S-1015"),
}

#: How often each issue comes up: refunds, quality and after-sales lead, as in real complaint statistics.
CATEGORY_WEIGHTS: Final[dict[ComplaintCategory, int]] = {
    ComplaintCategory.REFUND: 18,
    ComplaintCategory.QUALITY: 16,
    ComplaintCategory.AFTER_SALES: 12,
    ComplaintCategory.DELIVERY: 10,
    ComplaintCategory.FALSE_ADVERTISING: 8,
    ComplaintCategory.COUNTERFEIT: 7,
    ComplaintCategory.PRICE: 7,
    ComplaintCategory.PROMOTION: 6,
    ComplaintCategory.FOOD_SAFETY: 5,
    ComplaintCategory.CONTRACT: 4,
    ComplaintCategory.PERSONAL_INFO: 4,
    ComplaintCategory.OTHER: 3,
}

FOOD: Final = frozenset({"茶叶", "食品", "保健食品", "生鲜食品"})

#: Descriptions by category; ``{goods}`` is the goods category, ``{store}`` the store, ``{amount}`` the amount.
DESCRIPTIONS: Final[dict[ComplaintCategory, tuple[str, ...]]] = {
    ComplaintCategory.QUALITY: (
        "在{store}购买的{goods}收到后发现明显质量问题，使用不到一周就出现故障，联系商家只同意补偿五元优惠券。",
        "收到的{goods}与页面描述的材质不符，做工粗糙、有异味，要求退货被商家以“已拆封”为由拒绝。",
        "{goods}到手即有破损和划痕，商家称出厂检验合格，拒绝换货。订单金额{amount}元。",
    ),
    ComplaintCategory.COUNTERFEIT: (
        "在{store}购买的{goods}经品牌方官方渠道查验为假货，防伪码无法查询，商家拒不承认。",
        "页面标注“正品保证、假一赔十”，收到的{goods}包装印刷模糊、批号对不上，怀疑是仿冒品，请求查处。",
    ),
    ComplaintCategory.FALSE_ADVERTISING: (
        "{store}在商品详情页宣称{goods}“国家级检测第一名”“百分百有效”，实际无任何检测报告，涉嫌虚假宣传。",
        "直播间宣传{goods}为“原产地直发、限量特供”，收到后发现产地与宣传不符，主播已下架相关视频。",
    ),
    ComplaintCategory.PRICE: (
        "{store}活动前先提价再打折，{goods}所谓“五折”后的价格{amount}元比活动前一周还高，涉嫌价格欺诈。",
        "下单时页面显示价格与结算价格不一致，结算时被多收了费用，客服称系统问题但不予退还差价。",
    ),
    ComplaintCategory.AFTER_SALES: (
        "{goods}出现故障后多次联系{store}客服均无人回复，承诺的七天无理由退换和一年保修无法兑现。",
        "商家要求先自费寄回检测，检测结果拖了二十多天仍未答复，售后流程不透明。",
        "维修后的{goods}再次出现同样问题，商家拒绝第二次维修，也不同意退换。",
    ),
    ComplaintCategory.REFUND: (
        "已按要求退回{goods}并提供物流单号，商家签收十天仍未退款{amount}元，平台客服只让继续等待。",
        "申请七天无理由退货被{store}拒绝，理由是“特价商品不退不换”，页面并无此说明。",
        "订单未发货即申请取消，商家同意退款但款项迟迟未到账，已超过承诺时限。",
    ),
    ComplaintCategory.DELIVERY: (
        "{store}承诺四十八小时内发货，下单九天仍未发出，催促后被告知缺货，要求取消订单又被拖延。",
        "物流显示已签收，但本人从未收到{goods}，快递员称放在代收点，代收点查无此件。",
        "{goods}运输途中包装破损严重，商家和快递公司互相推诿，均不承担责任。",
    ),
    ComplaintCategory.CONTRACT: (
        "{store}在页面设置“最终解释权归本店所有”“拆封即视为认可质量”等格式条款，排除消费者权利。",
        "预付定金后商家单方面变更交货时间和规格，并称定金不退，涉嫌不公平格式条款。",
    ),
    ComplaintCategory.PERSONAL_INFO: (
        "在{store}下单后不断接到推销电话和短信，对方能准确说出我的姓名、地址和所购{goods}，怀疑个人信息被泄露。",
        "商家要求提供身份证照片才能办理退货，拒绝后不予处理，超出必要范围收集个人信息。",
    ),
    ComplaintCategory.FOOD_SAFETY: (
        "在{store}购买的{goods}收到时已过保质期，包装上的生产日期有涂改痕迹。",
        "食用{store}的{goods}后出现腹泻呕吐症状，已就医，商品标签无生产许可证编号，请求调查。",
        "{goods}中发现异物，商家只愿意退款不愿意说明原因，担心同批次产品存在食品安全隐患。",
    ),
    ComplaintCategory.PROMOTION: (
        "购买{goods}时被默认勾选了自动续费会员，每月扣款，取消入口隐蔽，要求退还已扣费用。",
        "“满三百减一百”活动结算时优惠未生效，客服称活动规则另有限制，但页面并未提示。",
        "下单{goods}时被强制搭售延保服务，无法单独取消，涉嫌违规搭售。",
    ),
    ComplaintCategory.OTHER: (
        "{store}客服态度恶劣，对合理诉求进行辱骂，请求平台和监管部门处理。",
        "店铺页面展示的营业执照信息与实际经营主体不一致，无法确认商家真实身份。",
    ),
}

SURNAMES: Final = "王李张刘陈杨黄赵周吴徐孙朱马胡郭何林罗高"
GIVEN: Final = ("伟", "芳", "娜", "敏", "静", "磊", "洋", "艳", "勇", "杰", "娟", "涛", "明", "超",
                "秀英", "晓东", "海燕", "建华", "丽华", "子涵")


@dataclass(frozen=True, slots=True)
class DemoFiling:
    platform_id: str
    via: Via
    body: dict[str, Any]


def _pick_weighted(rng: random.Random, weights: dict[Any, int]) -> Any:
    return rng.choices(list(weights), weights=list(weights.values()), k=1)[0]


def _received_at(rng: random.Random, now: datetime) -> datetime:
    """Over the last 14 days, mostly in waking hours (China Standard Time), never in the future."""
    local_now = now.astimezone(CHINA_TIME)
    day = local_now.date() - timedelta(days=rng.randrange(14))
    hour = rng.choices(range(24), weights=[1, 1, 1, 1, 1, 1, 2, 4, 6, 8, 9, 9, 8, 7, 8, 8, 8, 8, 8, 9, 10, 10, 8, 4], k=1)[0]
    moment = datetime(day.year, day.month, day.day, hour, rng.randrange(60), rng.randrange(60), tzinfo=CHINA_TIME)
    if moment > local_now:
        moment -= timedelta(days=1)
    return moment


def _amount(rng: random.Random, low: int, high: int) -> str:
    # Prices cluster at the cheap end, and end in .00, .90 or .99 like real shop prices.
    value = low + (high - low) * rng.random() ** 2
    return f"{int(value)}.{rng.choice(['00', '00', '90', '99', '50'])}"


#: What comes up more often on each kind of platform: a factor on :data:`CATEGORY_WEIGHTS`.
CATEGORY_TILT: Final[dict[str, dict[ComplaintCategory, int]]] = {
    "food_delivery": {ComplaintCategory.FOOD_SAFETY: 5, ComplaintCategory.DELIVERY: 3},
    "live_stream": {ComplaintCategory.FALSE_ADVERTISING: 4, ComplaintCategory.COUNTERFEIT: 2},
    "cross_border": {ComplaintCategory.COUNTERFEIT: 3, ComplaintCategory.DELIVERY: 2},
    "c2c": {ComplaintCategory.QUALITY: 2, ComplaintCategory.CONTRACT: 3},
    "group_buying": {ComplaintCategory.FOOD_SAFETY: 3, ComplaintCategory.REFUND: 2},
    "social": {ComplaintCategory.PERSONAL_INFO: 4, ComplaintCategory.FALSE_ADVERTISING: 2},
    "services": {ComplaintCategory.CONTRACT: 3, ComplaintCategory.AFTER_SALES: 2, ComplaintCategory.PRICE: 2},
}


def category_mix(platform_type: str) -> dict[ComplaintCategory, int]:
    tilt = CATEGORY_TILT.get(platform_type, {})
    return {c: w * tilt.get(c, 1) for c, w in CATEGORY_WEIGHTS.items()}


@dataclass(frozen=True, slots=True)
class Target:
    """A store a complaint can name: the platform's store id, as the store list submitted to bridge has it."""

    store_id: str
    store_name: str
    region: str
    goods_category: str
    amount: tuple[int, int]
    uscc: str | None


def _targets(p: demo_world.WorldPlatform, *, seed: int) -> list[Target]:
    """The stores a platform's complaints name: the original demo merchants for P001–P005, else the first of its
    store list (a few stores draw most complaints, as in life)."""
    if p.platform_id in STORES_ON:
        merchants = {m.store_id: m for m in MERCHANTS}
        return [Target(f"{p.code}-{m.store_id}", m.store_name, m.region, m.goods_category, m.amount, m.uscc if m.with_uscc else None)
                for m in (merchants[sid] for sid in STORES_ON[p.platform_id])]
    return [Target(s.store_id, s.shop_name, s.region, s.category, demo_world.amount_range(s.category), s.uscc)
            for s in demo_world.stores(p, seed=seed)[:12]]


def filings(count: int, *, seed: int = DEFAULT_SEED, now: datetime | None = None, world: str = "small", first: int = 0,
            live: bool = False, focus: tuple[str, ComplaintCategory] | None = None) -> list[DemoFiling]:
    """The demo's complaints: what each platform files, and whether over HTTP or its Kafka feed.

    In the small world the five original platforms file; in the Hangzhou world the 15 connected ones do. By default
    they were received over the last 14 days; ``live`` ones are received ``now`` and numbered from ``first`` in a
    series of their own; ``focus`` (platform, category) makes them all one platform's one kind of trouble — a spike.
    """
    now = now or datetime.now(CHINA_TIME)
    connected = [p for p in demo_world.platforms(world, seed=seed) if p.connected]
    by_id = {p.platform_id: p for p in connected}
    weights = {p.platform_id: p.weight for p in connected}
    targets = {p.platform_id: _targets(p, seed=seed) for p in connected}
    tag = ("D" if world == "small" else "H") + ("L" if live else "")
    # The mix of issues follows the kind of platform (the small world keeps the original demo's one mix).
    mix = {p.platform_id: category_mix(p.type) if world != "small" else CATEGORY_WEIGHTS for p in connected}
    out: list[DemoFiling] = []
    for index in range(first, first + count):
        key = f"{seed}:{index}" if world == "small" else f"{world}:{seed}:{index}"
        rng = random.Random(key if not live else f"live:{key}")
        platform = by_id[focus[0] if focus else _pick_weighted(rng, weights)]
        merchant = rng.choice(targets[platform.platform_id])
        category: ComplaintCategory = focus[1] if focus else _pick_weighted(rng, mix[platform.platform_id])
        if category is ComplaintCategory.FOOD_SAFETY and merchant.goods_category not in demo_world.FOOD_CATEGORIES:
            category = ComplaintCategory.QUALITY
        amount = _amount(rng, *merchant.amount)
        description = rng.choice(DESCRIPTIONS[category]).format(goods=merchant.goods_category, store=merchant.store_name, amount=amount)
        kind = "report" if rng.random() < 0.15 else "complaint"
        received_at = now.astimezone(CHINA_TIME).replace(microsecond=0) if live else _received_at(rng, now)
        stamp = received_at.strftime("%Y%m%d")
        body: dict[str, Any] = {
            "platform_complaint_id": f"{platform.code}-{tag}{seed}-{index:05d}",
            "kind": kind,
            "received_at": received_at.isoformat(timespec="seconds"),
            "merchant": {"store_id": merchant.store_id, "store_name": merchant.store_name, "region": merchant.region},
            "order": {"order_id": f"{platform.code}{stamp}{rng.randrange(10**9):09d}", "amount": amount,
                      "goods_category": merchant.goods_category},
            "category": category.value,
            "description": description,
        }
        if merchant.uscc is not None:
            body["merchant"]["uscc"] = merchant.uscc
        if kind == "complaint" or rng.random() < 0.5:  # reports may be anonymous
            name = rng.choice(SURNAMES) + rng.choice(GIVEN)
            phone = f"1{rng.choice('3456789')}{rng.randrange(10**9):09d}"
            body["consumer"] = {"name": name, "phone": phone}
        via: Via = "http" if rng.random() < platform.http_share else "feed"
        out.append(DemoFiling(platform.platform_id, via, body))
    return out


STREETS: Final = demo_world.STREETS


def store_rows(p: demo_world.WorldPlatform, *, seed: int = DEFAULT_SEED) -> list[dict[str, Any]]:
    """The store list a platform submits to bridge: the stores its demo complaints name, then its generated stores."""
    rows: list[dict[str, Any]] = []
    if p.platform_id in STORES_ON:
        merchants = {m.store_id: m for m in MERCHANTS}
        for sid in STORES_ON[p.platform_id]:
            m = merchants[sid]
            row: dict[str, Any] = {
                "store_id": f"{p.code}-{m.store_id}",
                "address": f"浙江省杭州市{DISTRICTS[m.region]}{STREETS[int(sid[-2:]) % len(STREETS)]}{int(sid[-3:])}号",
                "region": m.region,
                "shop_name": m.store_name,
                "shop_url": f"https://shop.{p.code.lower()}.example.cn/{m.store_id.lower()}",
                "category": m.goods_category,
                "above_threshold": m.with_uscc,
            }
            if m.with_uscc:
                row |= {"merchant_name": f"杭州{m.store_name.removesuffix('店')}有限公司", "uscc": m.uscc}
            else:
                row |= {"merchant_name": m.store_name, "exemption_declared": True,
                        "id_number": demo_world.id_number_for(m.region, m.store_id)}
            rows.append(row)
    return rows + [s.row for s in demo_world.stores(p, seed=seed)]


# ------------------------------------------------------------------------------------------ sending


def _token(role: str) -> str:
    """A bearer token for a bureau role (the demo registers platforms as the regulator)."""
    from services.runtime.auth import Role, issue, signing_key
    from services.runtime.settings import SharedSettings

    shared = SharedSettings()
    return issue(signing_key(shared), role=Role(role), subject=f"{role}:demo", issuer=shared.jwt_issuer)


def _tokens(pids: list[str]) -> dict[str, str]:
    from services.runtime.auth import Role, issue, signing_key
    from services.runtime.settings import SharedSettings

    shared = SharedSettings()
    key = signing_key(shared)
    return {pid: issue(key, role=Role.PLATFORM, subject=f"platform:{pid}", platform_id=pid, issuer=shared.jwt_issuer) for pid in pids}


def _progress(label: str, done: int, total: int, last: list[int]) -> None:
    """Print ``label done/total`` at every quarter (and at the end), not for every item."""
    step = max(1, total // 4)
    if done == total or done // step > last[0]:
        last[0] = done // step
        print(f"demo: {label} {done}/{total}", flush=True)


async def _register_all(bridge_url: str, world: tuple[demo_world.WorldPlatform, ...], errors: list[str]) -> tuple[int, int]:
    """Register every platform with bridge as the regulator; (new, already registered)."""
    import httpx

    headers = {"Authorization": f"Bearer {_token('regulator')}"}
    created = existing = 0
    done = 0
    last = [0]
    gate = asyncio.Semaphore(6)
    async with httpx.AsyncClient(base_url=bridge_url, timeout=60.0) as client:

        async def register(p: demo_world.WorldPlatform) -> None:
            nonlocal created, existing, done
            async with gate:
                try:
                    answer = await client.post("/v1/platforms", json=demo_world.registration(p), headers=headers)
                except httpx.HTTPError as exc:
                    errors.append(f"register {p.platform_id}: {exc!r}")
                    return
            if answer.status_code == 201:
                created += 1
            elif answer.status_code == 409:
                existing += 1
            else:
                errors.append(f"register {p.platform_id}: HTTP {answer.status_code} {answer.text[:300]}")
                return
            done += 1
            _progress("platforms registered", done, len(world), last)

        await asyncio.gather(*(register(p) for p in world))
    return created, existing


def period_of(moment: datetime) -> str:
    """The half-year a submission is for: ``2026H2``."""
    local = moment.astimezone(CHINA_TIME)
    return f"{local.year}H{1 if local.month <= 6 else 2}"


async def _submit_all(bridge_url: str, world: tuple[demo_world.WorldPlatform, ...], *, seed: int, period: str,
                      errors: list[str]) -> tuple[int, int]:
    """Each platform uploads its store list (NDJSON); (submissions accepted, rows sent)."""
    import httpx

    tokens = _tokens([p.platform_id for p in world])
    accepted = rows_sent = done = 0
    last = [0]
    gate = asyncio.Semaphore(4)
    async with httpx.AsyncClient(base_url=bridge_url, timeout=120.0) as client:

        async def submit(p: demo_world.WorldPlatform) -> None:
            nonlocal accepted, rows_sent, done
            rows = store_rows(p, seed=seed)
            body = b"".join(orjson.dumps(r) + b"\n" for r in rows)
            headers = {"Authorization": f"Bearer {tokens[p.platform_id]}", "content-type": "application/x-ndjson",
                       "Idempotency-Key": f"demo-{seed}-{p.platform_id}-{period}-{len(rows)}"}
            async with gate:
                try:
                    answer = await client.post(f"/v1/platforms/{p.platform_id}/submissions", params={"format": "ndjson", "period": period},
                                               content=body, headers=headers)
                except httpx.HTTPError as exc:
                    errors.append(f"submit {p.platform_id}: {exc!r}")
                    return
            if answer.status_code in (200, 202):
                accepted += 1
                rows_sent += len(rows)
            elif answer.status_code == 409:  # the same upload is being received (a concurrent run)
                accepted += 1
            else:
                errors.append(f"submit {p.platform_id}: HTTP {answer.status_code} {answer.text[:300]}")
                return
            done += 1
            _progress(f"store lists submitted ({rows_sent} stores so far)", done, len(world), last)

        await asyncio.gather(*(submit(p) for p in world))
    return accepted, rows_sent


REPORT_MONTHS: Final = 12


async def _report_all(bridge_url: str, world: tuple[demo_world.WorldPlatform, ...], *, seed: int, months: list[str],
                      errors: list[str]) -> tuple[int, int]:
    """Each platform reports its past months' GMV, orders and stores by category; (new reports, already there)."""
    import httpx

    tokens = _tokens([p.platform_id for p in world])
    created = known = done = 0
    last = [0]
    gate = asyncio.Semaphore(4)
    async with httpx.AsyncClient(base_url=bridge_url, timeout=60.0) as client:

        async def report(p: demo_world.WorldPlatform) -> None:
            nonlocal created, known, done
            for month in months:
                body = demo_world.monthly_report(p, month, seed=seed)
                async with gate:
                    try:
                        answer = await client.put(f"/v1/platforms/{p.platform_id}/reports/{month}", json=body,
                                                  headers={"Authorization": f"Bearer {tokens[p.platform_id]}"})
                    except httpx.HTTPError as exc:
                        errors.append(f"report {p.platform_id} {month}: {exc!r}")
                        return
                if answer.status_code == 201:
                    created += 1
                elif answer.status_code == 200:  # the same report again (a rerun with the same seed)
                    known += 1
                else:
                    errors.append(f"report {p.platform_id} {month}: HTTP {answer.status_code} {answer.text[:300]}")
                    return
            done += 1
            _progress(f"monthly reports sent ({created + known} so far)", done, len(world), last)

        await asyncio.gather(*(report(p) for p in world))
    return created, known


async def _post_all(channel_url: str, items: list[DemoFiling]) -> tuple[int, list[str]]:
    """POST each filing with its platform's token; (duplicates, errors)."""
    import httpx

    tokens = _tokens(sorted({i.platform_id for i in items}))
    duplicates = 0
    errors: list[str] = []
    gate = asyncio.Semaphore(8)
    async with httpx.AsyncClient(base_url=channel_url, timeout=30.0) as client:

        async def post(item: DemoFiling) -> None:
            nonlocal duplicates
            async with gate:
                try:
                    headers = {"Authorization": f"Bearer {tokens[item.platform_id]}"}
                    answer = await client.post("/v1/complaints", json=item.body, headers=headers)
                except httpx.HTTPError as exc:
                    errors.append(f"{item.platform_id} {item.body['platform_complaint_id']}: {exc!r}")
                    return
            if answer.status_code != 202:
                errors.append(f"{item.platform_id} {item.body['platform_complaint_id']}: HTTP {answer.status_code} {answer.text[:300]}")
            elif answer.json().get("duplicate"):
                duplicates += 1

        await asyncio.gather(*(post(item) for item in items))
    return duplicates, errors


def envelope(item: DemoFiling) -> Envelope:
    """The binary-mode CloudEvent a platform publishes on ``feed.<platform_id>.complaints.v1``."""
    pid = item.platform_id
    return Envelope(type=SUBMITTED_TYPE, source=f"/platforms/{pid}", subject=item.body["platform_complaint_id"],
                    data=item.body, platformid=pid)


def answer_envelope(platform_id: str, complaint_id: str, body: dict[str, Any]) -> Envelope:
    """The CloudEvent a platform publishes on ``feed.<platform_id>.answers.v1`` (data: ``ComplaintAnswered``)."""
    return Envelope(type=ANSWERED_TYPE, source=f"/platforms/{platform_id}", subject=complaint_id,
                    data=body | {"complaint_id": complaint_id}, platformid=platform_id)


def _producer(bootstrap: str) -> Any:
    from aiokafka import AIOKafkaProducer

    return AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, client_id="redshield-demo",
                            request_timeout_ms=30_000)


async def _publish_all(bootstrap: str, prefix: str, items: list[DemoFiling]) -> None:
    """Each platform publishes on its own feed topic, the way a platform's integration would."""
    producer = _producer(bootstrap)
    await producer.start()
    try:
        futures = []
        for item in items:
            env = envelope(item)
            futures.append(await producer.send(prefix + topics.feed_complaints(item.platform_id), key=env.key, value=env.value(),
                                               headers=env.headers()))
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


@dataclass
class Answers:
    by_http: int = 0
    by_feed: int = 0
    by_outcome: dict[str, int] = field(default_factory=dict)
    by_behaviour: dict[str, int] = field(default_factory=dict)


async def _answer_loop(channel_url: str, bootstrap: str, prefix: str, world: tuple[demo_world.WorldPlatform, ...], *, seed: int,
                       window: float, errors: list[str], stopped: Callable[[], bool] = lambda: False, quiet: bool = False) -> Answers:
    """Connected platforms answer what is assigned to them: fast ones from the start, slow ones from 60% of the window
    on (an endless window: after half a minute), silent ones never; each over HTTP or its answers feed. Polls every
    second until the window ends or ``stopped()``."""
    import httpx

    answering = [p for p in world if p.connected and p.behaviour != "silent"]
    done = Answers()
    if not answering or window <= 0:
        return done
    tokens = _tokens([p.platform_id for p in answering])
    answered: set[str] = set()
    producer = _producer(bootstrap) if any(p.answers_via == "feed" for p in answering) else None
    loop = asyncio.get_running_loop()
    start = loop.time()
    slow_from = 0.6 * window if math.isfinite(window) else 30.0
    if producer is not None:
        try:
            await producer.start()
        except Exception as exc:
            errors.append(f"answers feed, Kafka {bootstrap}: {exc!r}")
            producer = None
    try:
        async with httpx.AsyncClient(base_url=channel_url, timeout=30.0) as client:

            async def assigned(p: demo_world.WorldPlatform) -> list[dict[str, Any]]:
                headers = {"Authorization": f"Bearer {tokens[p.platform_id]}"}
                items: list[dict[str, Any]] = []
                cursor: str | None = None
                while True:
                    params: dict[str, Any] = {"state": "assigned_to_platform", "limit": 500}
                    if cursor:
                        params["cursor"] = cursor
                    page = await client.get("/v1/platform/complaints", params=params, headers=headers)
                    if page.status_code != 200:
                        errors.append(f"list {p.platform_id}: HTTP {page.status_code} {page.text[:200]}")
                        return items
                    body = page.json()
                    items.extend(body["items"])
                    cursor = body.get("next_cursor")
                    if not cursor:
                        return items

            async def handle(p: demo_world.WorldPlatform) -> None:
                try:
                    items = await assigned(p)
                except httpx.HTTPError as exc:
                    errors.append(f"list {p.platform_id}: {exc!r}")
                    return
                headers = {"Authorization": f"Bearer {tokens[p.platform_id]}"}
                for item in items:
                    cid = item["complaint_id"]
                    if cid in answered:
                        continue
                    answered.add(cid)
                    reply = demo_world.answer(p.platform_id, cid, item["amount"], seed=seed)
                    if p.answers_via == "feed" and producer is not None:
                        env = answer_envelope(p.platform_id, cid, reply)
                        await producer.send_and_wait(prefix + topics.feed_answers(p.platform_id), key=env.key, value=env.value(),
                                                     headers=env.headers())
                        done.by_feed += 1
                    else:
                        try:
                            answer = await client.post(f"/v1/complaints/{cid}/answer", json=reply, headers=headers)
                        except httpx.HTTPError as exc:
                            errors.append(f"answer {p.platform_id} {cid}: {exc!r}")
                            continue
                        if answer.status_code == 409:
                            continue  # answered meanwhile (another run): nothing to do
                        if answer.status_code != 200:
                            errors.append(f"answer {p.platform_id} {cid}: HTTP {answer.status_code} {answer.text[:200]}")
                            continue
                        done.by_http += 1
                    done.by_outcome[reply["outcome"]] = done.by_outcome.get(reply["outcome"], 0) + 1
                    done.by_behaviour[p.behaviour] = done.by_behaviour.get(p.behaviour, 0) + 1

            reported = 0
            while True:
                elapsed = loop.time() - start
                active = [p for p in answering if p.behaviour == "fast" or elapsed >= slow_from]
                await asyncio.gather(*(handle(p) for p in active))
                total = done.by_http + done.by_feed
                if total != reported and not quiet:
                    reported = total
                    print(f"demo: answers given {total} ({done.by_http} via HTTP, {done.by_feed} via feed) at {elapsed:.0f} s", flush=True)
                if loop.time() - start >= window or stopped():
                    break
                await asyncio.sleep(min(1.0, max(0.0, window - (loop.time() - start))))
    finally:
        if producer is not None:
            await producer.stop()
    return done


LIVE_TICK_S: Final = 5.0
#: Every this many ticks, one connected platform has a bad afternoon: a burst of one kind of complaint (a spike the
#: risk warnings should catch).
LIVE_SPIKE_EVERY: Final = 36
LIVE_SPIKE_SIZE: Final = 14


async def live(channel_url: str, *, world: str = "hangzhou", seed: int = DEFAULT_SEED, per_minute: float = 24.0,
               stopped: Callable[[], bool], bootstrap: str | None = None, prefix: str | None = None,
               tick_s: float = LIVE_TICK_S, spike_every: int = LIVE_SPIKE_EVERY) -> int:
    """Keep the world alive after the first load: new complaints received now, every few seconds, over HTTP and the
    feeds; platforms keep answering (fast, slow, never); now and then a spike. Runs until ``stopped()``; returns
    how many complaints it filed. Failures are printed and the stream goes on (the services may be restarting)."""
    bootstrap = bootstrap or os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
    prefix = os.environ.get("REDSHIELD_TOPIC_PREFIX", "") if prefix is None else prefix
    everyone = demo_world.platforms(world, seed=seed)
    connected = [p for p in everyone if p.connected]
    # Each run numbers its live complaints from its own start, so a restarted `make run` files new ones.
    first = int(datetime.now(CHINA_TIME).timestamp()) * 100
    filed = 0
    errors: list[str] = []
    answering = asyncio.create_task(_answer_loop(channel_url, bootstrap, prefix, everyone, seed=seed, window=math.inf,
                                                 errors=errors, stopped=stopped, quiet=True))
    rng = random.Random(f"live:{seed}:{first}")
    tick = 0
    try:
        while not stopped():
            tick += 1
            count = max(0, round(rng.gauss(per_minute * tick_s / 60, 1.0)))
            batches = [filings(count, seed=seed, world=world, first=first + filed, live=True)] if count else []
            if tick % spike_every == 0 and connected:
                platform = rng.choice(connected)
                category = _pick_weighted(rng, category_mix(platform.type))
                batches.append(filings(LIVE_SPIKE_SIZE, seed=seed, world=world, first=first + filed + count, live=True,
                                       focus=(platform.platform_id, category)))
                print(f"demo live: a burst of {LIVE_SPIKE_SIZE} {CATEGORY_LABELS_ZH[category]} complaints on {platform.platform_id}",
                      flush=True)
            for items in batches:
                over_http = [i for i in items if i.via == "http"]
                over_feed = [i for i in items if i.via == "feed"]
                try:
                    if over_http:
                        _, failed = await _post_all(channel_url, over_http)
                        errors.extend(failed)
                    if over_feed:
                        await _publish_all(bootstrap, prefix, over_feed)
                except Exception as exc:
                    errors.append(f"live: {exc!r}")
                filed += len(items)
            if errors:
                for error in errors[:3]:
                    print(f"demo live: failed: {error}", flush=True)
                errors.clear()
            if tick % 12 == 0:
                print(f"demo live: {filed} complaints filed since start", flush=True)
            for _ in range(max(1, int(tick_s * 10))):
                if stopped():
                    break
                await asyncio.sleep(0.1)
    finally:
        await answering
    return filed


async def _pair() -> tuple[int, int]:
    return 0, 0


async def _zero() -> int:
    return 0


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _ljust(text: str, width: int) -> str:
    return text + " " * max(0, width - _width(text))


def summary(items: list[DemoFiling], world: str = "small", *, seed: int = DEFAULT_SEED) -> list[str]:
    """The per-platform table: how many each platform filed via HTTP and via its feed, and how it answers."""
    lines = [f"  {_ljust('platform', 18)}{'via http':>9}{'via feed':>10}{'total':>7}  answers"]
    total_http = total_feed = 0
    for p in demo_world.platforms(world, seed=seed):
        if not p.connected:
            continue
        pid = p.platform_id
        http = sum(1 for i in items if i.platform_id == pid and i.via == "http")
        feed = sum(1 for i in items if i.platform_id == pid and i.via == "feed")
        total_http += http
        total_feed += feed
        how = "never" if p.behaviour == "silent" else f"{p.behaviour}, via {p.answers_via}"
        lines.append(f"  {_ljust(f'{pid} {p.name}', 18)}{http:>9}{feed:>10}{http + feed:>7}  {how}")
    lines.append(f"  {_ljust('total', 18)}{total_http:>9}{total_feed:>10}{total_http + total_feed:>7}")
    return lines


def _place(region: str) -> str:
    if region in demo_world.HANGZHOU:
        return demo_world.HANGZHOU[region]
    if region in demo_world.ELSEWHERE:
        return "".join(demo_world.ELSEWHERE[region])
    return region


#: How long connected platforms keep answering, by world (seconds); slow ones start at 60% of it.
ANSWER_WINDOW: Final = {"small": 8.0, "hangzhou": 24.0}


async def _subjects_all(bridge_url: str, world_name: str, world: tuple[demo_world.WorldPlatform, ...], *, seed: int,
                        errors: list[str]) -> tuple[int, int]:
    """The bureau files its enterprise websites; every platform declares its new-business-form subjects.
    (websites on file, new-form subjects on file), counting those a rerun finds already there."""
    import httpx

    regulator = {"Authorization": f"Bearer {_token('regulator')}"}
    tokens = _tokens([p.platform_id for p in world])
    sites = subjects = 0
    gate = asyncio.Semaphore(4)
    async with httpx.AsyncClient(base_url=bridge_url, timeout=60.0) as client:

        async def site(body: dict[str, Any]) -> None:
            nonlocal sites
            async with gate:
                try:
                    answer = await client.post("/v1/websites", json=body, headers=regulator)
                except httpx.HTTPError as exc:
                    errors.append(f"website {body['website_id']}: {exc!r}")
                    return
            if answer.status_code in (201, 409):  # 409: filed by an earlier run
                sites += 1
            else:
                errors.append(f"website {body['website_id']}: HTTP {answer.status_code} {answer.text[:300]}")

        async def declare(p: demo_world.WorldPlatform) -> None:
            nonlocal subjects
            headers = {"Authorization": f"Bearer {tokens[p.platform_id]}"}
            for subject_id, body in demo_world.new_form_subjects(p, seed=seed):
                async with gate:
                    try:
                        answer = await client.put(f"/v1/platforms/{p.platform_id}/new-form-subjects/{subject_id}", json=body,
                                                  headers=headers)
                    except httpx.HTTPError as exc:
                        errors.append(f"new-form subject {p.platform_id}/{subject_id}: {exc!r}")
                        return
                if answer.status_code in (200, 201):
                    subjects += 1
                else:
                    errors.append(f"new-form subject {p.platform_id}/{subject_id}: HTTP {answer.status_code} {answer.text[:300]}")
                    return

        await asyncio.gather(*(site(body) for body in demo_world.websites(world_name, seed=seed)), *(declare(p) for p in world))
    return sites, subjects


async def run(complaints: int = 60, channel_url: str = "http://127.0.0.1:8102", *, seed: int = DEFAULT_SEED, world: str = "small",
              bridge_url: str | None = None, answer_seconds: float | None = None) -> int:
    """Build the demo world and send its complaints; print what was done. 0 when everything was accepted.

    (1) every platform is registered with bridge (a rerun finds them registered), (2) each submits its store
    list, (3) the connected platforms file ``complaints`` over HTTP and their feeds, then answer those assigned
    to them (fast, slow, or never) for ``answer_seconds`` (default by world).
    """
    if complaints < 0:
        print("demo: --complaints must be 0 or more", file=sys.stderr)
        return 2
    if world not in demo_world.WORLDS:
        print(f"demo: --world must be one of {', '.join(demo_world.WORLDS)}", file=sys.stderr)
        return 2
    if not logging.getLogger().handlers:
        # aiokafka warns while a feed topic is auto-created on first use; that is expected here.
        logging.getLogger("aiokafka").setLevel(logging.ERROR)
        # … and its metadata lookups log "topic not found" as errors until then: the sends are checked here.
        logging.getLogger("aiokafka.cluster").setLevel(logging.CRITICAL)
    if bridge_url is None:
        from services.runtime.settings import ServiceSettings, load

        bridge: ServiceSettings = load("bridge")
        host = "127.0.0.1" if bridge.host in ("0.0.0.0", "::", "") else bridge.host
        bridge_url = f"http://{host}:{bridge.port}"
    window = ANSWER_WINDOW[world] if answer_seconds is None else answer_seconds
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
    prefix = os.environ.get("REDSHIELD_TOPIC_PREFIX", "")
    everyone = demo_world.platforms(world, seed=seed)
    connected = [p for p in everyone if p.connected]
    errors: list[str] = []
    print(f"demo: world {world!r} (seed {seed}): {len(everyone)} platforms, {len(connected)} connected to the canal; "
          f"bridge {bridge_url}, channel {channel_url}, Kafka {bootstrap}", flush=True)

    # (1) the platform registry
    created, existing = await _register_all(bridge_url, everyone, errors)
    print(f"demo: platforms: {created} registered, {existing} already registered", flush=True)
    # (2) the store lists, then (in the background, beside the complaints) a year of monthly reports
    period = period_of(datetime.now(CHINA_TIME))
    registered = created + existing
    submitted, rows_sent = await _submit_all(bridge_url, everyone, seed=seed, period=period, errors=errors) if registered else (0, 0)
    print(f"demo: stores: {submitted} store lists for {period} submitted, {rows_sent} stores", flush=True)
    months = demo_world.past_months(datetime.now(CHINA_TIME).date(), REPORT_MONTHS)
    reporting = asyncio.create_task(_report_all(bridge_url, everyone, seed=seed, months=months, errors=errors) if registered else _pair())
    declaring = asyncio.create_task(_subjects_all(bridge_url, world, everyone, seed=seed, errors=errors) if registered else _pair())

    # (3) the complaint stream
    items = filings(complaints, seed=seed, world=world)
    over_http = [i for i in items if i.via == "http"]
    over_feed = [i for i in items if i.via == "feed"]
    feed_topics = sorted({prefix + topics.feed_complaints(i.platform_id) for i in over_feed})
    print(f"demo: {len(items)} complaints from {len(connected)} platforms (seed {seed}): "
          f"{len(over_http)} to {channel_url}/v1/complaints, {len(over_feed)} to Kafka {bootstrap}", flush=True)
    if feed_topics:
        shown = ", ".join(feed_topics[:5]) + (f" and {len(feed_topics) - 5} more" if len(feed_topics) > 5 else "")
        print(f"demo: feed topics {shown}", flush=True)
    sending_errors: list[str] = []

    async def over_http_() -> int:
        try:
            duplicates, failed = await _post_all(channel_url, over_http)
        except Exception as exc:
            sending_errors.append(f"HTTP {channel_url}: {exc!r}")
            return 0
        sending_errors.extend(failed)
        return duplicates

    async def over_feed_() -> None:
        try:
            await _publish_all(bootstrap, prefix, over_feed)
        except Exception as exc:
            sending_errors.append(f"Kafka {bootstrap}: {exc!r}")

    duplicates, _ = await asyncio.gather(over_http_() if over_http else _zero(), over_feed_() if over_feed else _zero())
    print(f"demo: complaints sent {len(items) - len(sending_errors)}/{len(items)}", flush=True)

    # (4) first handling: fast, slow and silent platforms
    answers = await _answer_loop(channel_url, bootstrap, prefix, everyone, seed=seed, window=window, errors=errors)
    reports_new, reports_known = await reporting
    print(f"demo: monthly reports {months[0]}…{months[-1]}: {reports_new} new, {reports_known} already reported", flush=True)
    sites, subjects = await declaring
    print(f"demo: {sites} enterprise websites and {subjects} new-business-form subjects on file", flush=True)

    for line in summary(items, world, seed=seed):
        print(line)
    by_category: dict[str, int] = {}
    for item in items:
        label = CATEGORY_LABELS_ZH[ComplaintCategory(item.body["category"])]
        by_category[label] = by_category.get(label, 0) + 1
    print("  by category  " + " · ".join(f"{k} {v}" for k, v in sorted(by_category.items(), key=lambda kv: -kv[1])))
    by_district: dict[str, int] = {}
    for item in items:
        district = _place(item.body["merchant"]["region"])
        by_district[district] = by_district.get(district, 0) + 1
    print("  by district  " + " · ".join(f"{k} {v}" for k, v in sorted(by_district.items(), key=lambda kv: -kv[1])))
    outcomes = " · ".join(f"{k} {v}" for k, v in sorted(answers.by_outcome.items(), key=lambda kv: -kv[1])) or "none"
    print(f"  answers      {answers.by_http + answers.by_feed} ({answers.by_http} via HTTP, {answers.by_feed} via feed): {outcomes}")

    all_errors = errors + sending_errors
    if all_errors:
        for error in all_errors[:10]:
            print(f"demo: failed: {error}", file=sys.stderr)
        if len(all_errors) > 10:
            print(f"demo: … and {len(all_errors) - 10} more failures", file=sys.stderr)
    if sending_errors:
        print(f"demo: {len(sending_errors)} of {len(items)} complaints were not sent", flush=True)
        return 1
    note = f", {duplicates} already known (same seed as an earlier run)" if duplicates else ""
    print(f"demo: sent {len(items)} complaints ({len(over_http)} via HTTP, {len(over_feed)} via feed){note}", flush=True)
    return 1 if errors else 0
