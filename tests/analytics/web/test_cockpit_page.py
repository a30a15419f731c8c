"""The cockpit page in a real browser: Debian's Chromium driven by Playwright, against analytics as a real process
(``redshield serve analytics``) fed through Kafka with platforms, stores, enterprise websites, new-business-form
subjects, complaints, their handling and a known spike. Every panel renders with data, the language switch works, a click on a platform opens its detail, the page
refreshes itself, and nothing is written to the console as an error. Screenshots go to var/screenshots/."""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import re
import uuid
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
import pytest

from contracts import topics
from contracts.envelope import Envelope
from services.analytics.web import routes
from services.cli.benchkit import delete_topics
from services.runtime.auth import Role, issue, signing_key
from services.runtime.settings import SharedSettings
from tests.faults.test_process_kills import received
from tests.harness import ROOT, Process, produce_events
from tests.kafka_broker import free_port

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-quic",
    "--no-first-run",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = ROOT / "var" / "screenshots"
GOLDEN = ROOT / "contracts" / "golden"
CHINA = timezone(timedelta(hours=8))


def _missing() -> str | None:
    if not CHROMIUM.exists():
        return f"{CHROMIUM} is missing (apt-get install chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is missing (pip install the dev extras)"
    if not routes.echarts_installed():
        return f"{routes.ECHARTS} is missing: run make setup (npm ci --prefix services/analytics/web)"
    return None


pytestmark = pytest.mark.skipif(_missing() is not None, reason=_missing() or "")

# ---- the world the page shows ------------------------------------------------------------------------------------

BURST = 12  # quality complaints about one store of P001, today: a spike against a quiet baseline
BASELINE_DAYS = 20  # one delivery complaint a day on P002 before today


def golden(event_type: str, **changes: Any) -> Envelope:
    data = json.loads((GOLDEN / event_type / "1.json").read_text(encoding="utf-8")) | changes
    subject = str(data.get("complaint_id") or data.get("store_id") or data.get("website_id") or data.get("subject_id")
                  or data.get("platform_id"))
    return Envelope(type=event_type, source="/redshield/test", subject=subject, data=data)


def complaint(n: int, platform: str, store: str, category: str, at: datetime, description: str, kind: str = "complaint") -> Envelope:
    base = received(n)
    data = base.data | {
        "complaint_id": f"page-{n:04d}",
        "platform_id": platform,
        "category": category,
        "kind": kind,
        "description": description,
        "merchant": base.data["merchant"] | {"store_id": store, "store_name": f"{store} 旗舰店"},
        "received_at": at.isoformat(),
    }
    return Envelope(type=base.type, source=base.source, subject=data["complaint_id"], data=data, platformid=platform)


def handling(kind: str, complaint_id: str, platform: str, at: datetime, due: date, **changes: Any) -> Envelope:
    if kind != "platform_responded":
        changes.setdefault("deadline", {"due": due.isoformat(), "kind": "first_handling", "provisional": False})
    return golden(f"redshield.channel.complaint.{kind}.v1", complaint_id=complaint_id, platform_id=platform, at=at.isoformat(), **changes)


def world(now: datetime) -> tuple[list[Envelope], list[Envelope]]:
    subjects = [
        golden("redshield.bridge.platform.registered.v1"),  # P001 西湖优选电商平台, b2c, 330106, connected
        golden("redshield.bridge.platform.registered.v1", platform_id="P002", name="运河集市", type="live_stream",
               domicile_region="330110", connected_to_canal=False),
        golden("redshield.bridge.platform.registered.v1", platform_id="P003", name="钱塘外卖", type="food_delivery",
               domicile_region="330108", connected_to_canal=True),
        golden("redshield.bridge.store.registered.v1", store_id="S-1"),
        golden("redshield.bridge.store.registered.v1", store_id="S-2", category="服装", region="330110"),
        golden("redshield.bridge.store.registered.v1", store_id="S-3"),
        golden("redshield.bridge.store.closed.v1", store_id="S-3"),
        golden("redshield.bridge.store.registered.v1", platform_id="P002", store_id="S-9", region="330110"),
        golden("redshield.bridge.store.registered.v1", platform_id="P003", store_id="S-10", category="数码产品", region="330108"),
        # Monthly reports: P001's October (食品 18,250,340.50 + 服装 9,120,000.00 + 食品 351,200.00) and P002's September.
        golden("redshield.bridge.report.submitted.v1"),
        golden("redshield.bridge.report.submitted.v1", platform_id="P002", report_id="r-p002-09", month="2026-09",
               sales=[{"category": "服装", "region": "330110", "gmv_cny": "5000000.00", "orders": 100}],
               stores_by_category=[{"category": "服装", "stores": 1}]),
        # Enterprise websites: two current, one closed (not counted).
        golden("redshield.bridge.website.registered.v1"),
        golden("redshield.bridge.website.registered.v1", website_id="W-2", region="330110", category="服装"),
        golden("redshield.bridge.website.registered.v1", website_id="W-3", region="330108"),
        golden("redshield.bridge.website.updated.v1", website_id="W-3", region="330108", status="closed", changed=["status"]),
        # New-business-form subjects: two live streamers, a group-buying leader, a micro-store.
        golden("redshield.bridge.new_form_subject.registered.v1"),
        golden("redshield.bridge.new_form_subject.registered.v1", platform_id="P002", subject_id="LIVE-2", region="330110"),
        golden("redshield.bridge.new_form_subject.registered.v1", subject_id="GB-7781", form="group_buying_leader", region="330110"),
        golden("redshield.bridge.new_form_subject.registered.v1", platform_id="P003", subject_id="MS-1", form="micro_store",
               region="330108"),
    ]
    today = now.astimezone(CHINA).date()
    start_of_today = datetime.combine(today, time.min, CHINA)
    burst_at = max(now - timedelta(minutes=5), start_of_today + timedelta(seconds=1))
    complaints = [
        complaint(n, "P001", "S-1", "quality", burst_at + timedelta(seconds=n), "面膜 使用后 皮肤 过敏 红肿")
        for n in range(1, BURST + 1)
    ]
    complaints += [
        complaint(100 + day, "P002", "S-9", "delivery", now - timedelta(days=day), "快递 一直 没有 送到")
        for day in range(1, BASELINE_DAYS + 1)
    ]
    complaints.append(complaint(200, "P003", "S-10", "refund", now - timedelta(days=3), "外卖 漏送 退款 被拒", kind="report"))
    due = today + timedelta(days=10)
    steps = [
        handling("assigned", "page-0001", "P001", burst_at + timedelta(seconds=30), due),
        handling("platform_responded", "page-0001", "P001", burst_at + timedelta(seconds=60), due, outcome="settled",
                 state="platform_settled", reason=None),
        handling("assigned", "page-0002", "P001", burst_at + timedelta(seconds=30), due),
        handling("platform_responded", "page-0002", "P001", burst_at + timedelta(seconds=90), due, outcome="not_settled",
                 state="platform_not_settled", reason=None),
        handling("assigned", "page-0003", "P001", burst_at + timedelta(seconds=30), due),
        handling("assigned", "page-0105", "P002", now - timedelta(days=5), today - timedelta(days=1)),
        handling("deadline_missed", "page-0105", "P002", now - timedelta(hours=2), today - timedelta(days=1)),
    ]
    return subjects, complaints + steps


TOTAL = BURST + BASELINE_DAYS + 1


def run(coro: Coroutine[Any, Any, Any]) -> Any:
    """Run a coroutine from a sync test or fixture, in a thread of its own (pytest-asyncio owns this thread's loop)."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


@dataclass
class Site:
    url: str
    token: str
    kafka: str
    prefix: str

    def api(self, path: str, **params: str) -> dict[str, Any]:
        answer = httpx.get(f"{self.url}{path}", params=params, headers={"Authorization": f"Bearer {self.token}"}, timeout=30)
        assert answer.status_code == 200, answer.text
        body: dict[str, Any] = answer.json()
        return body


def wait_for(check: Callable[[], Any], timeout: float, what: str) -> Any:
    import time as clock

    deadline = clock.monotonic() + timeout
    last: Any = None
    while clock.monotonic() < deadline:
        try:
            last = check()
            if last:
                return last
        except (httpx.HTTPError, AssertionError) as exc:
            last = exc
        clock.sleep(0.5)
    raise AssertionError(f"{what} not reached in {timeout}s; last: {last!r}")


@pytest.fixture(scope="module")
def site(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    tmp = tmp_path_factory.mktemp("cockpit-page")
    prefix = f"t{uuid.uuid4().hex[:10]}."  # like the `prefix` fixture, for the whole module
    env = {
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "REDSHIELD_TOPIC_PREFIX": prefix,
        "REDSHIELD_ANALYTICS_CLICKHOUSE_URL": f"chdb://{tmp}/chdb",
        "REDSHIELD_ANALYTICS_DATABASE_URL": f"sqlite+aiosqlite:///{tmp}/a.db",
        "REDSHIELD_ANALYTICS_RISK_INTERVAL_S": "2",
    }
    analytics = Process("analytics", env, free_port(), tmp / "analytics.log")
    analytics.start()
    try:
        token = issue(signing_key(SharedSettings()), role=Role.REGULATOR, subject="test:cockpit-page")
        here = Site(analytics.url, token, kafka_bootstrap, prefix)
        page = httpx.get(f"{analytics.url}/cockpit", timeout=10)
        assert page.status_code == 200, (
            "analytics does not serve /cockpit: services/analytics/app.py must call services.analytics.web.routes.install(app)"
        )
        subjects, channel = world(datetime.now(UTC))
        run(produce_events(kafka_bootstrap, prefix + topics.BRIDGE_SUBJECTS, subjects))
        run(produce_events(kafka_bootstrap, prefix + topics.CHANNEL_COMPLAINTS, channel))
        period = {"from": (date.today() - timedelta(days=40)).isoformat(), "to": (date.today() + timedelta(days=1)).isoformat()}
        wait_for(lambda: here.api("/v1/cockpits/governance", **period)["complaints"]["total"] == TOTAL, 90, "all complaints ingested")
        wait_for(lambda: here.api("/v1/cockpits/overview")["stores"]["total"] == 4, 60, "all stores ingested")
        wait_for(lambda: here.api("/v1/cockpits/overview")["new_form_subjects"]["total"] == 4, 60, "all new-form subjects ingested")
        wait_for(lambda: here.api("/v1/cockpits/overview")["websites"]["total"] == 2, 60, "all websites ingested")
        wait_for(
            lambda: here.api("/v1/cockpits/governance", **period)["first_handling"]["deadline_missed"] == 1, 60, "all handling ingested"
        )
        wait_for(lambda: any(w["kind"] == "spike_platform_category" for w in here.api("/v1/risk/warnings")["warnings"]), 90, "a warning")
        yield here
    finally:
        analytics.stop()
        run(delete_topics(kafka_bootstrap, prefix))  # as the `prefix` fixture does: a shared broker keeps them


@dataclass
class Browser:
    playwright: Any
    chromium: Any


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    from playwright.sync_api import sync_playwright

    manager = sync_playwright().start()
    chromium = manager.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
    try:
        yield Browser(manager, chromium)
    finally:
        chromium.close()
        manager.stop()


@dataclass
class Page:
    page: Any
    errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)

    def shot(self, name: str) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"cockpit-{name}.png"
        self.page.evaluate("window.scrollTo(0, 0)")
        self.page.wait_for_timeout(800)  # let the charts' 500 ms animations finish
        self.page.screenshot(path=str(path), full_page=True)
        return path

    def kpi(self, section: str, name: str) -> str:
        return str(self.page.locator(f"#{section} [data-kpi='{name}'] .kpi-value").inner_text()).strip()

    def ready(self, section: str) -> None:
        from playwright.sync_api import TimeoutError as PlaywrightTimeout

        try:
            self.page.wait_for_selector(f"#{section}[data-state='ready']", timeout=30_000)
        except PlaywrightTimeout:
            state = self.page.evaluate(f"document.getElementById('{section}').dataset.state")
            status = self.page.locator("#status").inner_text()
            raise AssertionError(f"#{section} not ready (state {state!r}, status {status!r}); console: {self.errors}") from None

    def charts_drawn(self, section: str) -> list[str]:
        """Ids of the section's chart containers; each must hold an ECharts canvas of a real size."""
        ids: list[str] = self.page.eval_on_selector_all(f"#{section} .chart", "els => els.map(e => e.id)")
        for chart_id in ids:
            canvas = self.page.locator(f"#{chart_id} canvas").first
            canvas.wait_for(state="visible", timeout=10_000)
            box = canvas.bounding_box()
            assert box and box["width"] > 100 and box["height"] > 100, f"{chart_id} is not drawn: {box}"
        return ids

    def option(self, chart_id: str) -> dict[str, Any]:
        option: dict[str, Any] = self.page.evaluate(
            "id => JSON.parse(JSON.stringify(echarts.getInstanceByDom(document.getElementById(id)).getOption()))", chart_id
        )
        return option


@pytest.fixture
def open_page(site: Site, browser: Browser) -> Iterator[Callable[..., Page]]:
    contexts: list[Any] = []
    pages: list[Page] = []

    def opener(path: str = "/cockpit", *, token: bool = True, width: int = 1920, height: int = 1080, lang: str | None = None) -> Page:
        context = browser.chromium.new_context(viewport={"width": width, "height": height}, locale="zh-CN", timezone_id="Asia/Shanghai")
        contexts.append(context)
        if lang:
            context.add_init_script(f"localStorage.setItem('redshield.cockpit.lang', '{lang}')")
        page = context.new_page()
        opened = Page(page)
        page.on("console", lambda m: opened.errors.append(f"console.{m.type}: {m.text}") if m.type == "error" else None)
        page.on("pageerror", lambda e: opened.errors.append(f"pageerror: {e}"))
        page.on("request", lambda r: opened.requests.append(r.url))
        pages.append(opened)
        where, _, fragment = path.partition("#")
        query = f"?token={site.token}" if token else ""
        page.goto(f"{site.url}{where}{query}{'#' + fragment if fragment else ''}")
        return opened

    yield opener
    for context in contexts:
        context.close()
    for opened in pages:
        assert opened.errors == [], f"errors in the browser console: {opened.errors}"


# ---- the tests ---------------------------------------------------------------------------------------------------


def test_the_overview_shows_every_panel_with_data(site: Site, open_page: Callable[..., Page]) -> None:
    view = open_page()
    view.ready("overview")
    assert view.page.evaluate("document.documentElement.lang") == "zh-CN"
    assert view.page.locator("#tab-overview").inner_text() == "平台总貌舱"
    overview = site.api("/v1/cockpits/overview")
    assert (view.kpi("overview", "platforms"), view.kpi("overview", "connected"), view.kpi("overview", "stores")) == ("3", "2", "4")
    assert view.kpi("overview", "exchanges") == str(overview["data_exchanges"]["total"])
    assert (view.kpi("overview", "websites"), view.kpi("overview", "new_form_subjects")) == ("2", "4")
    assert overview["gmv"]["total_cny"] == "32721540.50"
    assert view.kpi("overview", "gmv") == "0.33 亿元"
    assert view.charts_drawn("overview") == ["chart-platform-types", "chart-platform-domicile", "chart-stores-platform", "chart-gmv-month",
                                             "chart-gmv-platform", "chart-gmv-category", "chart-stores-category", "chart-new-forms"]
    by_month = view.option("chart-gmv-month")
    assert by_month["xAxis"][0]["data"] == ["2026-09", "2026-10"] and by_month["series"][0]["data"] == [500, 2772]  # 万元
    assert view.option("chart-gmv-platform")["yAxis"][0]["data"] == ["西湖优选电商平台", "运河集市"]  # names, largest first
    gmv_categories = view.option("chart-gmv-category")
    assert gmv_categories["yAxis"][0]["data"] == ["食品", "服装"]
    assert [d["value"] for d in gmv_categories["series"][0]["data"]] == [1860, 1412]
    types = {d["name"]: d["value"] for d in view.option("chart-platform-types")["series"][0]["data"]}
    assert types == {"B2C 电商": 1, "直播电商": 1, "外卖平台": 1}
    districts = view.option("chart-platform-domicile")["yAxis"][0]["data"]
    assert set(districts) == {"西湖区", "余杭区", "滨江区"}
    categories = view.option("chart-stores-category")["yAxis"][0]["data"]
    assert set(categories) == {"食品", "服装", "数码产品"}
    forms = {d["name"]: d["value"] for d in view.option("chart-new-forms")["series"][0]["data"]}
    assert forms == {"直播带货主播": 2, "社区团购团长": 1, "微商": 1}
    rows = view.page.locator("#platform-list tbody tr")
    assert rows.count() == 3
    assert "西湖优选电商平台" in rows.nth(0).inner_text() and "西湖区" in rows.nth(0).inner_text()
    # the URL keeps no token: it went to sessionStorage, once
    assert "token" not in view.page.url
    assert view.page.evaluate("sessionStorage.getItem('redshield.cockpit.token')") == site.token
    view.shot("overview-zh")


def test_governance_shows_counts_shares_trend_and_notes(site: Site, open_page: Callable[..., Page]) -> None:
    view = open_page("/cockpit#governance")
    view.ready("governance")
    assert view.kpi("governance", "total") == str(TOTAL)
    assert view.kpi("governance", "complaints") == str(TOTAL - 1)
    assert view.kpi("governance", "reports") == "1"
    body = site.api("/v1/cockpits/governance")
    first = body["first_handling"]
    assert first["assigned"] == 4
    assert view.kpi("governance", "share_handled_first") == f"{first['share_handled_first'] * 100:.1f}%"
    assert view.kpi("governance", "share_within_deadline") == f"{first['share_within_deadline'] * 100:.1f}%"
    assert view.charts_drawn("governance") == [
        "chart-gov-trend", "chart-gov-state", "chart-gov-category", "chart-gov-platform", "chart-gov-first", "chart-gov-region"
    ]
    trend = view.option("chart-gov-trend")
    assert len(trend["xAxis"][0]["data"]) == 30  # every day of the last 30, the empty ones too
    assert sum(trend["series"][0]["data"]) == TOTAL
    states = {d["name"] for d in view.option("chart-gov-state")["series"][0]["data"]}
    assert {"已接收", "平台已和解", "平台未和解", "平台先行处置中"} <= states
    assert set(view.option("chart-gov-category")["yAxis"][0]["data"]) == {"商品质量", "物流配送", "退款退货"}
    assert view.option("chart-gov-platform")["yAxis"][0]["data"][0] == "运河集市"  # names, not ids
    for panel in ("#panel-negative", "#panel-cases"):
        assert "暂无执法数据" in view.page.locator(panel).inner_text()
    view.shot("governance-zh")

    view.page.click("#governance .interval-switch button[data-interval='month']")
    view.page.wait_for_function(
        "() => echarts.getInstanceByDom(document.getElementById('chart-gov-trend')).getOption().xAxis[0].data.length <= 2"
    )
    months = view.option("chart-gov-trend")
    assert sum(months["series"][0]["data"]) == TOTAL
    assert all(re.fullmatch(r"\d{4}-\d{2}", label) for label in months["xAxis"][0]["data"])


def test_a_click_on_a_platform_opens_its_detail(site: Site, open_page: Callable[..., Page]) -> None:
    view = open_page()
    view.ready("overview")
    view.page.click("#platform-list tbody tr[data-platform='P001']")
    view.page.wait_for_url(re.compile(r"#detail/P001$"))
    view.ready("detail")
    assert view.page.locator("#tab-detail").get_attribute("aria-selected") == "true"
    profile = view.page.locator("#profile").inner_text()
    assert "西湖优选电商平台" in profile and "91330100716105852F" in profile and "B2C 电商" in profile and "西湖区" in profile
    assert view.kpi("detail", "detail_total") == str(BURST)
    assert view.kpi("detail", "detail_stores") == "2"
    assert view.kpi("detail", "per_10k_stores") == f"{BURST * 10_000 / 2:,.1f}"
    assert view.charts_drawn("detail") == ["chart-detail-trend", "chart-detail-first", "chart-detail-categories"]
    stacked = view.option("chart-detail-first")["series"]
    assert [sum(s["data"]) for s in stacked[:3]] == [1, 1, 1]  # settled, answered not settled, not answered
    merchants = view.page.locator("#top-merchants tbody tr")
    assert merchants.count() == 1 and "S-1" in merchants.first.inner_text() and str(BURST) in merchants.first.inner_text()
    view.shot("detail-zh")

    # and from the stores-by-platform bar chart: a click on P003's bar
    view.page.click("#tab-overview")
    view.ready("overview")
    bar = view.page.evaluate(
        """() => {
            const chart = echarts.getInstanceByDom(document.getElementById('chart-stores-platform'));
            const names = chart.getOption().yAxis[0].data;
            const row = names.indexOf('钱塘外卖');
            const [x, y] = chart.convertToPixel({xAxisIndex: 0, yAxisIndex: 0}, [0.5, row]);
            const box = document.getElementById('chart-stores-platform').getBoundingClientRect();
            return {x: box.left + x, y: box.top + y, row};
        }"""
    )
    assert bar["row"] >= 0
    view.page.mouse.move(bar["x"], bar["y"])  # a person points first; ECharts finds the bar under the pointer
    view.page.wait_for_timeout(200)
    view.page.mouse.click(bar["x"], bar["y"])
    view.page.wait_for_url(re.compile(r"#detail/P003$"))
    view.page.wait_for_function("() => document.querySelector('#profile').innerText.includes('钱塘外卖')")
    view.ready("detail")
    assert view.kpi("detail", "detail_total") == "1"


def test_the_language_switch_turns_every_label_to_english_and_is_remembered(site: Site, open_page: Callable[..., Page]) -> None:
    view = open_page()
    view.ready("overview")
    view.page.click("#lang-switch")
    assert view.page.evaluate("document.documentElement.lang") == "en"
    assert view.page.locator("#tab-overview").inner_text() == "Platform overview"
    assert view.page.locator("#tab-governance").inner_text() == "Platform governance"
    assert view.page.locator("#overview [data-kpi='platforms'] .kpi-label").inner_text() == "Platforms"
    assert view.page.locator("#overview [data-kpi='websites'] .kpi-label").inner_text() == "Enterprise websites"
    assert view.page.locator("#overview [data-kpi='new_form_subjects'] .kpi-label").inner_text() == "New-business-form subjects"
    forms = {d["name"] for d in view.option("chart-new-forms")["series"][0]["data"]}
    assert forms == {"Live streamers", "Group-buying leaders", "Micro-stores"}
    types = {d["name"] for d in view.option("chart-platform-types")["series"][0]["data"]}
    assert types == {"B2C retail", "Live-stream commerce", "Food delivery"}
    assert set(view.option("chart-platform-domicile")["yAxis"][0]["data"]) == {"Xihu", "Yuhang", "Binjiang"}
    assert "Xihu" in view.page.locator("#platform-list tbody tr[data-platform='P001']").inner_text()
    assert view.page.evaluate("localStorage.getItem('redshield.cockpit.lang')") == "en"
    view.shot("overview-en")

    view.page.reload()  # the token stays in sessionStorage, the language in localStorage
    view.ready("overview")
    assert view.page.locator("#tab-warnings").inner_text().startswith("Risk warnings")
    view.page.click("#tab-governance")
    view.ready("governance")
    assert view.page.locator("#governance [data-kpi='share_handled_first'] .kpi-label").inner_text() == "Handled first by platforms"
    assert {"Product quality", "Delivery", "Refunds and returns"} == set(view.option("chart-gov-category")["yAxis"][0]["data"])
    assert "No enforcement data yet" in view.page.locator("#panel-cases").inner_text()
    view.shot("governance-en")
    view.page.click("#lang-switch")
    assert view.page.locator("#tab-governance").inner_text() == "平台治理舱"
    assert "商品质量" in view.option("chart-gov-category")["yAxis"][0]["data"]


def test_warnings_list_their_figures_and_examples(site: Site, open_page: Callable[..., Page]) -> None:
    view = open_page("/cockpit#warnings")
    view.ready("warnings")
    listed = site.api("/v1/risk/warnings")["warnings"]
    rows = view.page.locator("#warning-list tbody tr[data-warning]")
    assert rows.count() == len(listed) >= 2
    spike = next(w for w in listed if w["kind"] == "spike_platform_category")
    row = view.page.locator(f"#warning-list tr[data-warning='{spike['warning_id']}']")
    text = row.inner_text()
    assert "平台×类别激增" in text and "西湖优选电商平台" in text and "商品质量" in text and str(BURST) in text
    shown_p = float(row.locator("td.mono").nth(1).inner_text())
    assert shown_p == pytest.approx(spike["p_value"], rel=0.01) and spike["p_value"] < 1e-4
    assert row.locator(".chip.mono").count() == len(spike["examples"]) > 0
    assert view.page.locator("#warnings-badge").inner_text() == str(len(listed))
    view.shot("warnings-zh")
    row.locator(".link").click()
    view.page.wait_for_url(re.compile(r"#detail/P001$"))
    view.ready("detail")


def test_without_a_token_the_page_asks_for_one(site: Site, open_page: Callable[..., Page]) -> None:
    view = open_page(token=False)
    overlay = view.page.locator("#token-overlay")
    overlay.wait_for(state="visible")
    assert "redshield token --role regulator" in overlay.inner_text()
    view.shot("token-form")
    view.page.fill("#token-input", site.token)
    view.page.click("#token-form button[type='submit']")
    view.ready("overview")
    assert overlay.is_hidden()
    assert view.kpi("overview", "platforms") == "3"


def test_a_refused_token_brings_the_form_back(site: Site, open_page: Callable[..., Page]) -> None:
    view = open_page(token=False)
    view.page.locator("#token-overlay").wait_for(state="visible")
    view.page.fill("#token-input", "not-a-token")
    view.page.click("#token-form button[type='submit']")
    view.page.locator("#token-error").wait_for(state="visible")
    assert "令牌无效" in view.page.locator("#token-error").inner_text()
    assert view.page.evaluate("sessionStorage.getItem('redshield.cockpit.token')") is None
    # Chromium reports the refused request itself as a console error; that one is expected here, nothing else.
    view.errors[:] = [e for e in view.errors if "401" not in e]


def test_the_page_follows_the_window_size(site: Site, open_page: Callable[..., Page]) -> None:
    view = open_page("/cockpit#governance", width=1920, height=1080)
    view.ready("governance")
    wide = view.page.locator("#chart-gov-category canvas").first.bounding_box()
    view.page.set_viewport_size({"width": 700, "height": 1200})
    view.page.wait_for_function(
        """wide => {
            const canvas = document.querySelector('#chart-gov-category canvas').getBoundingClientRect().width;
            const box = document.querySelector('#chart-gov-category').getBoundingClientRect().width;
            return canvas <= 700 && Math.abs(canvas - wide) > 1 && Math.abs(canvas - box) < 1;
        }""",
        arg=wide["width"],
    )
    narrow = view.page.locator("#chart-gov-category canvas").first.bounding_box()
    assert narrow["width"] <= 700 and narrow["width"] != wide["width"]
    assert view.page.evaluate("document.documentElement.scrollWidth") <= 700  # nothing sticks out sideways
    view.shot("governance-narrow")


def test_the_page_refreshes_itself_and_shows_freshness(site: Site, open_page: Callable[..., Page]) -> None:
    """Runs last: it publishes one more complaint, which the open page must show without a reload."""
    view = open_page("/cockpit#governance")
    view.ready("governance")
    freshness = view.page.locator("#freshness")
    lag = float(freshness.get_attribute("data-lag") or "nan")
    assert freshness.get_attribute("data-level") == ("stale" if lag > 60 else "ok")
    assert "数据延迟" in view.page.locator("#freshness-text").inner_text()
    before = int(view.kpi("governance", "total"))
    now = datetime.now(UTC)
    run(produce_events(site.kafka, site.prefix + topics.CHANNEL_COMPLAINTS, [
        complaint(300, "P003", "S-10", "price", now - timedelta(seconds=1), "价格 先涨 后降"),
    ]))
    view.page.wait_for_function(
        f"() => document.querySelector(\"#governance [data-kpi='total'] .kpi-value\").textContent === '{before + 1}'", timeout=40_000
    )
    governance_calls = [u for u in view.requests if "/v1/cockpits/governance" in u]
    assert len(governance_calls) >= 2  # the page asked again by itself
    # the new event is seconds old: the indicator turns green
    view.page.wait_for_function("() => document.querySelector('#freshness').dataset.level === 'ok'", timeout=20_000)
    assert float(freshness.get_attribute("data-lag") or "nan") <= 60
