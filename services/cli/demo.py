"""``redshield demo``: a small, realistic feed of complaints from five fictional platforms in Hangzhou.

Some platforms file over HTTP (``POST /v1/complaints`` with their own bearer token), some publish on their own
Kafka feed topic (``feed.<platform_id>.complaints.v1``, binary-mode CloudEvents), some do both. Everything is
drawn from a seeded random generator, one generator per complaint: the same seed gives the same complaints
(the same platform complaint ids), so a second run with the same seed files only duplicates, which the canal
recognises, and a run with more complaints tops up the first one.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import sys
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Final, Literal

from contracts import topics
from contracts.codes import CATEGORY_LABELS_ZH, ComplaintCategory
from contracts.envelope import Envelope
from contracts.uscc import complete

CHINA_TIME: Final = timezone(timedelta(hours=8))
DEFAULT_SEED: Final = 2026
SUBMITTED_TYPE: Final = "redshield.platform.complaint.submitted.v1"

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


def filings(count: int, *, seed: int = DEFAULT_SEED, now: datetime | None = None) -> list[DemoFiling]:
    """The demo's complaints: what each platform files, and whether over HTTP or its Kafka feed."""
    now = now or datetime.now(CHINA_TIME)
    merchants = {m.store_id: m for m in MERCHANTS}
    weights = {pid: p.weight for pid, p in PLATFORMS.items()}
    out: list[DemoFiling] = []
    for index in range(count):
        rng = random.Random(f"{seed}:{index}")
        platform = PLATFORMS[_pick_weighted(rng, weights)]
        merchant = merchants[rng.choice(STORES_ON[platform.platform_id])]
        category: ComplaintCategory = _pick_weighted(rng, CATEGORY_WEIGHTS)
        if category is ComplaintCategory.FOOD_SAFETY and merchant.goods_category not in FOOD:
            category = ComplaintCategory.QUALITY
        amount = _amount(rng, *merchant.amount)
        description = rng.choice(DESCRIPTIONS[category]).format(goods=merchant.goods_category, store=merchant.store_name, amount=amount)
        kind = "report" if rng.random() < 0.15 else "complaint"
        received_at = _received_at(rng, now)
        stamp = received_at.strftime("%Y%m%d")
        body: dict[str, Any] = {
            "platform_complaint_id": f"{platform.code}-D{seed}-{index:05d}",
            "kind": kind,
            "received_at": received_at.isoformat(timespec="seconds"),
            "merchant": {"store_id": f"{platform.code}-{merchant.store_id}", "store_name": merchant.store_name, "region": merchant.region},
            "order": {"order_id": f"{platform.code}{stamp}{rng.randrange(10**9):09d}", "amount": amount,
                      "goods_category": merchant.goods_category},
            "category": category.value,
            "description": description,
        }
        if merchant.with_uscc:
            body["merchant"]["uscc"] = merchant.uscc
        if kind == "complaint" or rng.random() < 0.5:  # reports may be anonymous
            name = rng.choice(SURNAMES) + rng.choice(GIVEN)
            phone = f"1{rng.choice('3456789')}{rng.randrange(10**9):09d}"
            body["consumer"] = {"name": name, "phone": phone}
        via: Via = "http" if rng.random() < platform.http_share else "feed"
        out.append(DemoFiling(platform.platform_id, via, body))
    return out


# ------------------------------------------------------------------------------------------ sending


async def _post_all(channel_url: str, items: list[DemoFiling]) -> tuple[int, list[str]]:
    """POST each filing with its platform's token; (duplicates, errors)."""
    import httpx

    from services.runtime.auth import Role, issue, signing_key
    from services.runtime.settings import SharedSettings

    shared = SharedSettings()
    key = signing_key(shared)
    tokens = {pid: issue(key, role=Role.PLATFORM, subject=f"platform:{pid}", platform_id=pid, issuer=shared.jwt_issuer)
              for pid in PLATFORMS}
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


async def _publish_all(bootstrap: str, prefix: str, items: list[DemoFiling]) -> None:
    """Each platform publishes on its own feed topic, the way a platform's integration would."""
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, client_id="redshield-demo",
                                request_timeout_ms=30_000)
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


async def _zero() -> int:
    return 0


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _ljust(text: str, width: int) -> str:
    return text + " " * max(0, width - _width(text))


def summary(items: list[DemoFiling]) -> list[str]:
    """The per-platform table: how many each platform filed via HTTP and via its feed."""
    lines = [f"  {_ljust('platform', 18)}{'via http':>9}{'via feed':>10}{'total':>7}"]
    total_http = total_feed = 0
    for pid, platform in PLATFORMS.items():
        http = sum(1 for i in items if i.platform_id == pid and i.via == "http")
        feed = sum(1 for i in items if i.platform_id == pid and i.via == "feed")
        total_http += http
        total_feed += feed
        lines.append(f"  {_ljust(f'{pid} {platform.name}', 18)}{http:>9}{feed:>10}{http + feed:>7}")
    lines.append(f"  {_ljust('total', 18)}{total_http:>9}{total_feed:>10}{total_http + total_feed:>7}")
    return lines


async def run(complaints: int = 60, channel_url: str = "http://127.0.0.1:8102", *, seed: int = DEFAULT_SEED) -> int:
    """Send the demo feed; print what was sent. 0 when every filing was accepted (or recognised as a duplicate)."""
    if complaints < 0:
        print("demo: --complaints must be 0 or more", file=sys.stderr)
        return 2
    if not logging.getLogger().handlers:
        # aiokafka warns while a feed topic is auto-created on first use; that is expected here.
        logging.getLogger("aiokafka").setLevel(logging.ERROR)
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
    prefix = os.environ.get("REDSHIELD_TOPIC_PREFIX", "")
    items = filings(complaints, seed=seed)
    over_http = [i for i in items if i.via == "http"]
    over_feed = [i for i in items if i.via == "feed"]
    feed_topics = sorted({prefix + topics.feed_complaints(i.platform_id) for i in over_feed})
    print(f"demo: {len(items)} complaints from {len(PLATFORMS)} platforms (seed {seed}): "
          f"{len(over_http)} to {channel_url}/v1/complaints, {len(over_feed)} to Kafka {bootstrap}", flush=True)
    if feed_topics:
        print(f"demo: feed topics {', '.join(feed_topics)}", flush=True)

    errors: list[str] = []

    async def over_http_() -> int:
        try:
            duplicates, failed = await _post_all(channel_url, over_http)
        except Exception as exc:
            errors.append(f"HTTP {channel_url}: {exc!r}")
            return 0
        errors.extend(failed)
        return duplicates

    async def over_feed_() -> None:
        try:
            await _publish_all(bootstrap, prefix, over_feed)
        except Exception as exc:
            errors.append(f"Kafka {bootstrap}: {exc!r}")

    duplicates, _ = await asyncio.gather(over_http_() if over_http else _zero(), over_feed_() if over_feed else _zero())

    for line in summary(items):
        print(line)
    by_category: dict[str, int] = {}
    for item in items:
        label = CATEGORY_LABELS_ZH[ComplaintCategory(item.body["category"])]
        by_category[label] = by_category.get(label, 0) + 1
    print("  by category  " + " · ".join(f"{k} {v}" for k, v in sorted(by_category.items(), key=lambda kv: -kv[1])))
    by_district: dict[str, int] = {}
    for item in items:
        district = DISTRICTS[item.body["merchant"]["region"]]
        by_district[district] = by_district.get(district, 0) + 1
    print("  by district  " + " · ".join(f"{k} {v}" for k, v in sorted(by_district.items(), key=lambda kv: -kv[1])))

    if errors:
        for error in errors[:10]:
            print(f"demo: failed: {error}", file=sys.stderr)
        if len(errors) > 10:
            print(f"demo: … and {len(errors) - 10} more failures", file=sys.stderr)
        print(f"demo: {len(errors)} of {len(items)} complaints were not sent", flush=True)
        return 1
    note = f", {duplicates} already known (same seed as an earlier run)" if duplicates else ""
    print(f"demo: sent {len(items)} complaints ({len(over_http)} via HTTP, {len(over_feed)} via feed){note}", flush=True)
    return 0
