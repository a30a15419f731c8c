// The cockpit page (ES module, no build step). It reads the analytics cockpit API with the bearer token the user
// gives it and draws with Apache ECharts (the global `echarts`, loaded by a classic script before this module).
// Every label comes from the dictionary below (zh-CN by default, English on the switch; kept in localStorage).
// The token is read once from ?token=, then kept in sessionStorage only, removed from the address bar, and never logged.

const REFRESH_MS = 10_000;
const STALE_AFTER_S = 60;
const LANG_KEY = "redshield.cockpit.lang";
const TOKEN_KEY = "redshield.cockpit.token";
const TABS = ["overview", "governance", "detail", "warnings"];

// ---- dictionary ---------------------------------------------------------------------------------------------------

const T = {
  zh: {
    title: "红盾数智网监 · 平台驾驶舱",
    subtitle: "杭州市市场监督管理局 · 以网管网",
    "tab.overview": "平台总貌舱",
    "tab.governance": "平台治理舱",
    "tab.detail": "平台明细舱",
    "tab.warnings": "风险预警",
    range: "时间范围",
    "range.7": "近7天",
    "range.30": "近30天",
    "range.90": "近90天",
    "range.365": "近一年",
    "freshness.none": "暂无数据",
    "freshness.lag": "数据延迟 {lag}",
    "freshness.title": "最新事件时间 {newest}；最近入库 {ingested}",
    signOut: "退出",
    langSwitch: "EN",
    "kpi.platforms": "平台总数",
    "kpi.connected": "接入红旗渠平台",
    "kpi.stores": "在营网店",
    "kpi.aboveThreshold": "规上网店",
    "kpi.websites": "企业网站",
    "kpi.newFormSubjects": "新业态主体",
    "kpi.exchanges": "数据交换次数",
    "kpi.gmv": "交易额 (GMV)",
    "kpi.total": "投诉举报总量",
    "kpi.complaints": "投诉",
    "kpi.reports": "举报",
    "kpi.shareHandledFirst": "平台先行处置率",
    "kpi.shareWithinDeadline": "按期处置率",
    "kpi.detailTotal": "投诉举报",
    "kpi.per10k": "每万家网店投诉",
    "kpi.per100m": "每亿元交易额投诉",
    "panel.platformTypes": "平台类型分布",
    "panel.platformDomicile": "平台住所地分布",
    "panel.storesByPlatform": "各平台在营网店",
    "panel.storesByCategory": "网店经营类目",
    "panel.newFormsByForm": "新业态主体类型分布",
    "panel.gmvByMonth": "交易额月度走势（万元）",
    "panel.gmvByPlatform": "各平台交易额（万元）",
    "panel.gmvByCategory": "交易额类目分布（万元）",
    "panel.platformList": "平台名录",
    "panel.trend": "投诉举报趋势",
    "panel.byState": "办理状态分布",
    "panel.byCategory": "问题类别分布",
    "panel.byPlatform": "各平台投诉举报",
    "panel.firstHandling": "平台先行处置",
    "panel.byRegion": "属地分布",
    "panel.negativeSubjects": "负面主体",
    "panel.cases": "立案与违法类型",
    "panel.profile": "平台画像",
    "panel.detailTrend": "投诉趋势",
    "panel.firstHandlingTrend": "先行处置趋势",
    "panel.topCategories": "主要问题类别",
    "panel.topMerchants": "被投诉最多的商户",
    "panel.warnings": "风险预警",
    "interval.day": "日",
    "interval.week": "周",
    "interval.month": "月",
    search: "搜索平台名称或编号",
    "col.id": "编号",
    "col.name": "平台名称",
    "col.type": "类型",
    "col.domicile": "住所地",
    "col.stores": "在营网店",
    "col.rank": "#",
    "col.store": "网店",
    "col.storeId": "网店编号",
    "col.count": "件数",
    "col.kind": "类型",
    "col.subject": "对象",
    "col.day": "日期",
    "col.countVsBaseline": "当日件数 / 基线",
    "col.z": "z",
    "col.p": "p 值",
    "col.examples": "示例投诉",
    choosePlatform: "选择平台",
    warningKind: "预警类型",
    "warningKind.all": "全部",
    "warningKind.spike_platform_category": "平台×类别激增",
    "warningKind.spike_merchant": "商户投诉激增",
    "warningKind.hot_term": "投诉热词",
    warningsHint: "每个序列与其自身近28天基线比较（泊松尾概率检验）；p 值越小越异常。点击平台查看明细。",
    "token.title": "请输入访问令牌",
    "token.help": "驾驶舱需要监管角色的令牌：在终端运行 redshield token --role regulator，将输出粘贴到下方。",
    "token.placeholder": "eyJ…",
    "token.submit": "进入驾驶舱",
    "token.rejected": "令牌无效或已过期，请重新输入。",
    "error.forbidden": "此令牌的角色无权查看驾驶舱（需要监管、局、审计或管理员角色）。",
    "error.network": "无法连接分析服务，将在 10 秒后重试。",
    "error.api": "接口错误 {status}：{detail}",
    "error.echarts": "图表库 ECharts 未安装：请运行 make setup（npm install）。",
    noData: "暂无数据",
    noWarnings: "所选时间范围内没有预警",
    noMerchants: "暂无被投诉商户",
    noPlatforms: "没有符合条件的平台",
    count: "件数",
    complaintsUnit: "件",
    platformsUnit: "个平台",
    storesUnit: "家网店",
    baseline: "基线",
    clearFilter: "{name} ✕",
    "fh.assigned": "已分派平台",
    "fh.answered": "平台已答复",
    "fh.settled": "平台已和解",
    "fh.within": "按期处置",
    "fh.missed": "超期未处置",
    "fh.answeredNotSettled": "已答复未和解",
    "fh.unanswered": "未答复",
    "profile.id": "平台编号",
    "profile.uscc": "统一社会信用代码",
    "profile.type": "平台类型",
    "profile.domicile": "住所地",
    "profile.model": "经营模式",
    "profile.goods": "主营类目",
    "profile.canal": "接入红旗渠",
    "profile.stores": "网店类目",
    "profile.missing": "该平台尚未在红盾云桥登记画像。",
    yes: "已接入",
    no: "未接入",
    "note.awaitingEnforcement": "暂无执法数据：监管宝尚未发布负面主体、立案或违法类型事件。",
    "note.noPeriodicReports": "暂无周期报送的交易额数据",
    negativeTotal: "负面主体",
    casesFiled: "立案数",
    seconds: "{n} 秒",
    minutes: "{n} 分钟",
    hours: "{n} 小时",
  },
  en: {
    title: "Redshield · Platform Supervision Cockpit",
    subtitle: "Hangzhou Administration for Market Regulation",
    "tab.overview": "Platform overview",
    "tab.governance": "Platform governance",
    "tab.detail": "Platform detail",
    "tab.warnings": "Risk warnings",
    range: "Period",
    "range.7": "Last 7 days",
    "range.30": "Last 30 days",
    "range.90": "Last 90 days",
    "range.365": "Last year",
    "freshness.none": "No data yet",
    "freshness.lag": "Data lag {lag}",
    "freshness.title": "Newest event {newest}; last ingested {ingested}",
    signOut: "Sign out",
    langSwitch: "中文",
    "kpi.platforms": "Platforms",
    "kpi.connected": "On the Red Flag Canal",
    "kpi.stores": "Open online stores",
    "kpi.aboveThreshold": "Stores above threshold",
    "kpi.websites": "Enterprise websites",
    "kpi.newFormSubjects": "New-business-form subjects",
    "kpi.exchanges": "Data exchanges",
    "kpi.gmv": "Transaction volume (GMV)",
    "kpi.total": "Complaints and reports",
    "kpi.complaints": "Complaints",
    "kpi.reports": "Reports",
    "kpi.shareHandledFirst": "Handled first by platforms",
    "kpi.shareWithinDeadline": "Handled within deadline",
    "kpi.detailTotal": "Complaints and reports",
    "kpi.per10k": "Per 10,000 stores",
    "kpi.per100m": "Per 100 million CNY GMV",
    "panel.platformTypes": "Platforms by type",
    "panel.platformDomicile": "Platforms by domicile",
    "panel.storesByPlatform": "Open stores by platform",
    "panel.storesByCategory": "Stores by goods category",
    "panel.newFormsByForm": "New-business-form subjects by form",
    "panel.gmvByMonth": "GMV by month (CNY 10,000)",
    "panel.gmvByPlatform": "GMV by platform (CNY 10,000)",
    "panel.gmvByCategory": "GMV by goods category (CNY 10,000)",
    "panel.platformList": "Platform register",
    "panel.trend": "Complaint and report trend",
    "panel.byState": "By state",
    "panel.byCategory": "By issue category",
    "panel.byPlatform": "By platform",
    "panel.firstHandling": "First handling by platforms",
    "panel.byRegion": "By region",
    "panel.negativeSubjects": "Negative subjects",
    "panel.cases": "Filed cases and violation types",
    "panel.profile": "Platform profile",
    "panel.detailTrend": "Complaint trend",
    "panel.firstHandlingTrend": "First-handling trend",
    "panel.topCategories": "Top issue categories",
    "panel.topMerchants": "Merchants with most complaints",
    "panel.warnings": "Risk warnings",
    "interval.day": "Day",
    "interval.week": "Week",
    "interval.month": "Month",
    search: "Search name or id",
    "col.id": "ID",
    "col.name": "Platform",
    "col.type": "Type",
    "col.domicile": "Domicile",
    "col.stores": "Open stores",
    "col.rank": "#",
    "col.store": "Store",
    "col.storeId": "Store ID",
    "col.count": "Count",
    "col.kind": "Kind",
    "col.subject": "Subject",
    "col.day": "Day",
    "col.countVsBaseline": "Count vs baseline",
    "col.z": "z",
    "col.p": "p-value",
    "col.examples": "Example complaints",
    choosePlatform: "Platform",
    warningKind: "Kind",
    "warningKind.all": "All",
    "warningKind.spike_platform_category": "Platform × category spike",
    "warningKind.spike_merchant": "Merchant spike",
    "warningKind.hot_term": "Hot term",
    warningsHint: "Each series is tested against its own 28-day baseline (Poisson tail); the smaller p, the stranger the day. Click a platform for its detail.",
    "token.title": "Access token",
    "token.help": "The cockpit needs a regulator token: run redshield token --role regulator in a terminal and paste its output below.",
    "token.placeholder": "eyJ…",
    "token.submit": "Open the cockpit",
    "token.rejected": "The token was refused or has expired; please paste a new one.",
    "error.forbidden": "This token's role may not see the cockpits (regulator, bureau, auditor or admin needed).",
    "error.network": "Cannot reach the analytics service; retrying in 10 s.",
    "error.api": "API error {status}: {detail}",
    "error.echarts": "The chart library ECharts is not installed: run make setup (npm install).",
    noData: "No data",
    noWarnings: "No warnings in the chosen period",
    noMerchants: "No merchant complained about",
    noPlatforms: "No platform matches",
    count: "Count",
    complaintsUnit: "",
    platformsUnit: "platforms",
    storesUnit: "stores",
    baseline: "baseline",
    clearFilter: "{name} ✕",
    "fh.assigned": "Assigned",
    "fh.answered": "Answered",
    "fh.settled": "Settled",
    "fh.within": "On time",
    "fh.missed": "Missed",
    "fh.answeredNotSettled": "Answered, unsettled",
    "fh.unanswered": "Unanswered",
    "profile.id": "Platform ID",
    "profile.uscc": "USCC",
    "profile.type": "Type",
    "profile.domicile": "Domicile",
    "profile.model": "Operating model",
    "profile.goods": "Main goods",
    "profile.canal": "Red Flag Canal",
    "profile.stores": "Store categories",
    "profile.missing": "This platform has not registered its profile on the Cloud Bridge yet.",
    yes: "connected",
    no: "not connected",
    "note.awaitingEnforcement": "No enforcement data yet: Supervision Treasure has not published negative subjects, cases or violation types.",
    "note.noPeriodicReports": "No periodic GMV reports ingested yet",
    negativeTotal: "Negative subjects",
    casesFiled: "Cases filed",
    seconds: "{n} s",
    minutes: "{n} min",
    hours: "{n} h",
  },
};

// Code lists → names: [zh, en]. Complaint categories follow contracts/codes.py CATEGORY_LABELS_ZH, states
// contracts/events/channel.py ComplaintState, platform types and new business forms contracts/events/bridge.py
// PlatformType and NewBusinessForm.
const CODES = {
  category: {
    quality: ["商品质量", "Product quality"],
    counterfeit: ["假冒伪劣", "Counterfeit"],
    false_advertising: ["虚假宣传", "False advertising"],
    price: ["价格问题", "Pricing"],
    after_sales: ["售后服务", "After-sales service"],
    refund: ["退款退货", "Refunds and returns"],
    delivery: ["物流配送", "Delivery"],
    contract: ["合同条款", "Contract terms"],
    personal_info: ["个人信息", "Personal data"],
    food_safety: ["食品安全", "Food safety"],
    promotion: ["促销搭售", "Promotions and bundling"],
    other: ["其他", "Other"],
  },
  state: {
    received: ["已接收", "Received"],
    assigned_to_platform: ["平台先行处置中", "With the platform"],
    platform_settled: ["平台已和解", "Settled by platform"],
    platform_not_settled: ["平台未和解", "Not settled by platform"],
    platform_contested: ["平台有异议", "Contested by platform"],
    awaiting_acceptance: ["待受理", "Awaiting acceptance"],
    accepted: ["已受理", "Accepted"],
    refused: ["不予受理", "Refused"],
    mediation: ["调解中", "In mediation"],
    mediation_ended: ["调解终结", "Mediation ended"],
    verification: ["核查中", "Under verification"],
    escalated_as_clue: ["转为案件线索", "Escalated as a clue"],
    closed: ["已办结", "Closed"],
  },
  platformType: {
    b2c: ["B2C 电商", "B2C retail"],
    c2c: ["C2C 电商", "C2C marketplace"],
    live_stream: ["直播电商", "Live-stream commerce"],
    food_delivery: ["外卖平台", "Food delivery"],
    cross_border: ["跨境电商", "Cross-border"],
    social: ["社交电商", "Social commerce"],
    group_buying: ["社区团购", "Community group buying"],
    services: ["生活服务", "Local services"],
    other: ["其他", "Other"],
  },
  newForm: {
    live_streamer: ["直播带货主播", "Live streamers"],
    micro_store: ["微商", "Micro-stores"],
    group_buying_leader: ["社区团购团长", "Group-buying leaders"],
    other: ["其他", "Other"],
  },
  kind: {
    complaint: ["投诉", "Complaint"],
    report: ["举报", "Report"],
  },
  warningKind: {
    spike_platform_category: ["平台×类别激增", "Platform × category spike"],
    spike_merchant: ["商户投诉激增", "Merchant spike"],
    hot_term: ["投诉热词", "Hot term"],
  },
  // Hangzhou's districts and counties (GB/T 2260).
  region: {
    330100: ["杭州市", "Hangzhou"],
    330102: ["上城区", "Shangcheng"],
    330105: ["拱墅区", "Gongshu"],
    330106: ["西湖区", "Xihu"],
    330108: ["滨江区", "Binjiang"],
    330109: ["萧山区", "Xiaoshan"],
    330110: ["余杭区", "Yuhang"],
    330111: ["富阳区", "Fuyang"],
    330112: ["临安区", "Lin'an"],
    330113: ["临平区", "Linping"],
    330114: ["钱塘区", "Qiantang"],
    330122: ["桐庐县", "Tonglu"],
    330127: ["淳安县", "Chun'an"],
    330182: ["建德市", "Jiande"],
  },
  // Provinces by the first two digits, for stores outside Hangzhou.
  province: {
    11: ["北京市", "Beijing"], 12: ["天津市", "Tianjin"], 13: ["河北省", "Hebei"], 14: ["山西省", "Shanxi"],
    15: ["内蒙古自治区", "Inner Mongolia"], 21: ["辽宁省", "Liaoning"], 22: ["吉林省", "Jilin"], 23: ["黑龙江省", "Heilongjiang"],
    31: ["上海市", "Shanghai"], 32: ["江苏省", "Jiangsu"], 33: ["浙江省", "Zhejiang"], 34: ["安徽省", "Anhui"],
    35: ["福建省", "Fujian"], 36: ["江西省", "Jiangxi"], 37: ["山东省", "Shandong"], 41: ["河南省", "Henan"],
    42: ["湖北省", "Hubei"], 43: ["湖南省", "Hunan"], 44: ["广东省", "Guangdong"], 45: ["广西壮族自治区", "Guangxi"],
    46: ["海南省", "Hainan"], 50: ["重庆市", "Chongqing"], 51: ["四川省", "Sichuan"], 52: ["贵州省", "Guizhou"],
    53: ["云南省", "Yunnan"], 54: ["西藏自治区", "Tibet"], 61: ["陕西省", "Shaanxi"], 62: ["甘肃省", "Gansu"],
    63: ["青海省", "Qinghai"], 64: ["宁夏回族自治区", "Ningxia"], 65: ["新疆维吾尔自治区", "Xinjiang"],
  },
  // Goods categories are free text in Chinese (bridge's store registry); English names for the common ones.
  goods: {
    食品: "Food", 服装: "Apparel", 数码: "Electronics", 数码产品: "Electronics", 茶叶: "Tea", 母婴: "Mother and baby",
    母婴用品: "Mother and baby", 家电: "Home appliances", 家用电器: "Home appliances", 美妆: "Beauty", 化妆品: "Cosmetics",
    保健食品: "Health food", 珠宝首饰: "Jewellery", 家居: "Home", 家居用品: "Home goods", 文创用品: "Creative goods",
    生鲜: "Fresh food", 生鲜食品: "Fresh food", 图书: "Books", 手工艺品: "Handicrafts", 日用百货: "Daily goods",
    运动户外: "Sports and outdoors", 医药: "Pharmacy", 农产品: "Farm produce", 餐饮: "Catering", 其他: "Other",
  },
};

// Notes the API sends in English, in both languages.
const NOTES = {
  "no enforcement events ingested yet": "note.awaitingEnforcement",
  "no periodic reports ingested yet": "note.noPeriodicReports",
};

// ---- state --------------------------------------------------------------------------------------------------------

const state = {
  lang: localStorage.getItem(LANG_KEY) === "en" ? "en" : "zh",
  token: null,
  tab: "overview",
  range: 30,
  interval: "day",
  platform: null,
  warningKind: "",
  district: null,
  search: "",
  data: { overview: null, governance: null, detail: null, warnings: null },
  names: new Map(),
  timer: null,
  generation: 0,
};

const $ = (selector, root = document) => root.querySelector(selector);
const $$ = (selector, root = document) => Array.from(root.querySelectorAll(selector));

function t(key, vars = {}) {
  const text = T[state.lang][key] ?? T.zh[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, name) => String(vars[name] ?? ""));
}

function code(list, value) {
  const names = CODES[list][value];
  return names ? names[state.lang === "zh" ? 0 : 1] : String(value ?? "—");
}

function regionName(value) {
  if (!value) return "—";
  const exact = CODES.region[value];
  if (exact) return exact[state.lang === "zh" ? 0 : 1];
  const province = CODES.province[String(value).slice(0, 2)];
  if (province) {
    const name = province[state.lang === "zh" ? 0 : 1];
    return String(value).endsWith("0000") ? name : `${name} ${value}`;
  }
  return String(value);
}

function goodsName(value) {
  return state.lang === "en" ? CODES.goods[value] ?? value : value;
}

function platformName(id) {
  return state.names.get(id) || id;
}

function note(text) {
  return NOTES[text] ? t(NOTES[text]) : text || t("noData");
}

const numberFormat = () => new Intl.NumberFormat(state.lang === "zh" ? "zh-CN" : "en-US");
const fmtInt = (n) => (n === null || n === undefined ? "—" : numberFormat().format(n));
const fmtNum = (n, digits = 1) =>
  n === null || n === undefined
    ? "—"
    : new Intl.NumberFormat(state.lang === "zh" ? "zh-CN" : "en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits }).format(n);
const fmtPct = (share) => (share === null || share === undefined ? "—" : `${(share * 100).toFixed(1)}%`);
const fmtP = (p) => (p === null || p === undefined ? "—" : p < 0.001 ? p.toExponential(2) : p.toFixed(4));

function fmtLag(seconds) {
  if (seconds < 90) return t("seconds", { n: seconds < 10 ? seconds.toFixed(1) : Math.round(seconds) });
  if (seconds < 5400) return t("minutes", { n: Math.round(seconds / 60) });
  return t("hours", { n: Math.round(seconds / 3600) });
}

/** A small element builder: h("td", {class: "num"}, "12"). Text is always set as text, never as HTML. */
function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "class") el.className = value;
    else if (name.startsWith("on")) el.addEventListener(name.slice(2), value);
    else el.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

// ---- dates (the API's days are China Standard Time) ---------------------------------------------------------------

const chinaDay = new Intl.DateTimeFormat("en-CA", { timeZone: "Asia/Shanghai", year: "numeric", month: "2-digit", day: "2-digit" });
const toDay = (ms) => new Date(ms).toISOString().slice(0, 10);
const parseDay = (day) => Date.parse(`${day}T00:00:00Z`);
const DAY_MS = 86_400_000;

function period() {
  const to = chinaDay.format(new Date());
  return { from: toDay(parseDay(to) - (state.range - 1) * DAY_MS), to };
}

/** Every bucket of the period, so a trend shows its empty days too. */
function buckets(from, to, interval) {
  const out = [];
  let ms = parseDay(from);
  const end = parseDay(to);
  if (interval === "week") ms -= ((new Date(ms).getUTCDay() + 6) % 7) * DAY_MS;
  if (interval === "month") ms = Date.UTC(new Date(ms).getUTCFullYear(), new Date(ms).getUTCMonth(), 1);
  while (ms <= end && out.length < 400) {
    out.push(toDay(ms));
    if (interval === "day") ms += DAY_MS;
    else if (interval === "week") ms += 7 * DAY_MS;
    else ms = Date.UTC(new Date(ms).getUTCFullYear(), new Date(ms).getUTCMonth() + 1, 1);
  }
  return out;
}

function bucketLabel(day, interval) {
  if (interval === "month") return day.slice(0, 7);
  return day.slice(5);
}

// ---- the API ------------------------------------------------------------------------------------------------------

class ApiError extends Error {
  constructor(status, detail) {
    super(detail);
    this.status = status;
  }
}

async function api(path, params = {}) {
  const url = new URL(path, window.location.origin);
  for (const [name, value] of Object.entries(params)) {
    if (value !== null && value !== undefined && value !== "") url.searchParams.set(name, value);
  }
  let answer;
  try {
    answer = await fetch(url, { headers: { Authorization: `Bearer ${state.token}`, Accept: "application/json" }, cache: "no-store" });
  } catch {
    throw new ApiError(0, t("error.network"));
  }
  if (!answer.ok) {
    let detail = answer.statusText;
    try {
      const problem = await answer.json();
      detail = problem.detail || problem.title || detail;
    } catch {
      /* not a problem document */
    }
    throw new ApiError(answer.status, detail);
  }
  return answer.json();
}

function showStatus(message, kind = "error") {
  const bar = $("#status");
  if (!message) {
    bar.hidden = true;
    bar.textContent = "";
    return;
  }
  bar.hidden = false;
  bar.dataset.kind = kind;
  bar.textContent = message;
}

function failed(error, section) {
  if (section) $(`#${section}`).dataset.state = "error";
  if (!(error instanceof ApiError)) {
    showStatus(String(error && error.message ? error.message : error));
    return;
  }
  if (error.status === 401) {
    signOut(t("token.rejected"));
  } else if (error.status === 403) {
    showStatus(t("error.forbidden"));
  } else if (error.status === 0) {
    showStatus(t("error.network"));
  } else {
    showStatus(t("error.api", { status: error.status, detail: error.message }));
  }
}

// ---- charts -------------------------------------------------------------------------------------------------------

const PALETTE = ["#37d7ff", "#4f8cff", "#2fe0a5", "#ffc94d", "#ff7a8a", "#a47bff", "#ff9f43", "#5be7c4", "#8aa4ff", "#f06bd0", "#9be15d", "#6ec3ff"];
const AXIS = {
  axisLine: { lineStyle: { color: "#23406b" } },
  axisTick: { show: false },
  axisLabel: { color: "#9fb3d9" },
  splitLine: { lineStyle: { color: "rgba(35, 64, 107, 0.45)", type: "dashed" } },
};
const charts = new Map();
const resizer = typeof ResizeObserver === "function"
  ? new ResizeObserver((entries) => {
      for (const entry of entries) {
        const chart = charts.get(entry.target.id);
        if (chart && entry.target.clientWidth > 0) chart.resize();
      }
    })
  : null;

function chart(id, onClick) {
  let instance = charts.get(id);
  if (!instance) {
    const el = document.getElementById(id);
    instance = window.echarts.init(el, null, { renderer: "canvas" });
    if (onClick) instance.on("click", onClick);
    charts.set(id, instance);
    if (resizer) resizer.observe(el);
  }
  return instance;
}

function base(empty) {
  return {
    backgroundColor: "transparent",
    color: PALETTE,
    textStyle: { color: "#c8d7f0", fontFamily: getComputedStyle(document.documentElement).fontFamily },
    tooltip: { backgroundColor: "rgba(6, 18, 40, 0.95)", borderColor: "#17406f", textStyle: { color: "#e6efff" }, confine: true },
    title: { show: empty, text: t("noData"), left: "center", top: "middle", textStyle: { color: "#7f95bd", fontSize: 14, fontWeight: "normal" } },
    animationDuration: 500,
  };
}

/** Each chart keeps the same series from one refresh to the next, so a merge moves bars and lines to their new
 * values smoothly instead of drawing them again from zero every 10 s. */
function draw(id, option, onClick) {
  chart(id, onClick).setOption(option);
}

/** Horizontal bars, largest on top. items: [{name, value, ...extra}] */
function hbar(id, items, { onClick, color = PALETTE[0], max = 15, unit = "" } = {}) {
  const shown = items.slice(0, max);
  draw(
    id,
    {
      ...base(shown.length === 0),
      tooltip: { ...base(false).tooltip, trigger: "axis", axisPointer: { type: "shadow" } },
      grid: { left: 8, right: 40, top: 8, bottom: 8, containLabel: true },
      xAxis: { type: "value", minInterval: 1, ...AXIS },
      yAxis: { type: "category", inverse: true, data: shown.map((i) => i.name), ...AXIS, axisLabel: { color: "#c8d7f0", width: 130, overflow: "truncate" } },
      series: [
        {
          type: "bar",
          barMaxWidth: 16,
          data: shown.map((i) => ({ ...i, value: i.value })),
          itemStyle: {
            borderRadius: [0, 4, 4, 0],
            color: new window.echarts.graphic.LinearGradient(0, 0, 1, 0, [
              { offset: 0, color: "rgba(79, 140, 255, 0.35)" },
              { offset: 1, color },
            ]),
          },
          label: { show: true, position: "right", color: "#e6efff", formatter: (p) => `${fmtInt(p.value)}${unit}` },
          cursor: onClick ? "pointer" : "default",
        },
      ],
    },
    onClick,
  );
}

function pie(id, items) {
  draw(id, {
    ...base(items.length === 0),
    tooltip: { ...base(false).tooltip, trigger: "item", formatter: (p) => `${p.name}<br>${fmtInt(p.value)} (${p.percent}%)` },
    legend: { type: "scroll", bottom: 0, textStyle: { color: "#9fb3d9" }, pageTextStyle: { color: "#9fb3d9" } },
    series: [
      {
        type: "pie",
        radius: ["42%", "68%"],
        center: ["50%", "45%"],
        itemStyle: { borderColor: "#07142b", borderWidth: 2 },
        label: { color: "#c8d7f0", formatter: "{b}\n{c}" },
        labelLine: { lineStyle: { color: "#3a5a8a" } },
        data: items,
      },
    ],
  });
}

function line(id, labels, series) {
  const empty = series.every((s) => s.data.every((v) => !v));
  draw(id, {
    ...base(empty),
    tooltip: { ...base(false).tooltip, trigger: "axis" },
    legend: series.length > 1 ? { top: 0, textStyle: { color: "#9fb3d9" } } : { show: false },
    grid: { left: 8, right: 28, top: series.length > 1 ? 30 : 16, bottom: 8, containLabel: true },  // room for the last x label
    xAxis: { type: "category", boundaryGap: false, data: labels, ...AXIS },
    yAxis: { type: "value", minInterval: 1, ...AXIS },
    series: series.map((s, n) => ({
      type: "line",
      name: s.name,
      smooth: true,
      smoothMonotone: "x",
      symbolSize: 6,
      data: s.data,
      lineStyle: { width: 2 },
      areaStyle: n === 0
        ? {
            color: new window.echarts.graphic.LinearGradient(0, 0, 0, 1, [
              { offset: 0, color: "rgba(55, 215, 255, 0.45)" },
              { offset: 1, color: "rgba(55, 215, 255, 0.02)" },
            ]),
          }
        : undefined,
    })),
  });
}

// ---- rendering ----------------------------------------------------------------------------------------------------

function setKpi(section, name, value, noteText = "") {
  const tile = $(`#${section} [data-kpi="${name}"]`);
  $(".kpi-value", tile).textContent = value;
  const noteEl = $(".kpi-note", tile);
  if (noteEl) noteEl.textContent = noteText;
}

function openPlatform(platformId) {
  if (!platformId) return;
  window.location.hash = `#detail/${encodeURIComponent(platformId)}`;
}

function renderOverview() {
  const d = state.data.overview;
  if (!d) return;
  const p = d.platforms;
  const s = d.stores;
  setKpi("overview", "platforms", fmtInt(p.total));
  setKpi("overview", "connected", fmtInt(p.connected_to_canal));
  setKpi("overview", "stores", fmtInt(s.total));
  setKpi("overview", "above_threshold", fmtInt(s.above_threshold));
  setKpi("overview", "websites", fmtInt(d.websites.total));
  setKpi("overview", "new_form_subjects", fmtInt(d.new_form_subjects.total));
  setKpi("overview", "exchanges", fmtInt(d.data_exchanges.total));
  const gmv = d.gmv || {};
  setKpi(
    "overview",
    "gmv",
    gmv.total_cny === null || gmv.total_cny === undefined ? "—" : state.lang === "zh" ? `${fmtNum(gmv.total_cny / 1e8, 2)} 亿元` : `CNY ${fmtNum(gmv.total_cny / 1e9, 2)} bn`,
    gmv.total_cny === null || gmv.total_cny === undefined ? note(gmv.note) : "",
  );

  pie("chart-platform-types", p.by_type.map((r) => ({ name: code("platformType", r.type), value: r.count })));
  hbar(
    "chart-platform-domicile",
    p.by_domicile_region.map((r) => ({ name: regionName(r.region), value: r.count, region: r.region })),
    {
      color: PALETTE[2],
      onClick: (e) => {
        state.district = e.data && e.data.region ? e.data.region : null;
        renderPlatformList();
      },
    },
  );
  hbar(
    "chart-stores-platform",
    s.by_platform.map((r) => ({ name: platformName(r.platform_id), value: r.count, platformId: r.platform_id })),
    { onClick: (e) => openPlatform(e.data && e.data.platformId) },
  );
  hbar("chart-stores-category", s.by_category.map((r) => ({ name: goodsName(r.category), value: r.count })), { color: PALETTE[3] });
  pie("chart-new-forms", d.new_form_subjects.by_form.map((r) => ({ name: code("newForm", r.form), value: r.count })));
  // GMV in units of 10,000 CNY (万元), the unit Chinese statistics use; the API sends exact decimal strings.
  const wan = (cny) => Math.round(Number(cny) / 1e4);
  line("chart-gmv-month", (gmv.by_month || []).map((r) => r.month), [
    { name: t("kpi.gmv"), data: (gmv.by_month || []).map((r) => wan(r.gmv_cny)) },
  ]);
  hbar(
    "chart-gmv-platform",
    (gmv.by_platform || []).map((r) => ({ name: platformName(r.platform_id), value: wan(r.gmv_cny), platformId: r.platform_id })),
    { color: PALETTE[1], onClick: (e) => openPlatform(e.data && e.data.platformId) },
  );
  hbar("chart-gmv-category", (gmv.by_category || []).map((r) => ({ name: goodsName(r.category), value: wan(r.gmv_cny) })), { color: PALETTE[4] });
  renderPlatformList();
  $("#overview").dataset.state = "ready";
}

function renderPlatformList() {
  const d = state.data.overview;
  if (!d) return;
  const stores = new Map(d.stores.by_platform.map((r) => [r.platform_id, r.count]));
  const needle = state.search.trim().toLowerCase();
  const rows = d.platforms.list.filter(
    (p) =>
      (!state.district || p.domicile_region === state.district) &&
      (!needle || p.platform_id.toLowerCase().includes(needle) || (p.name || "").toLowerCase().includes(needle)),
  );
  const chip = $("#list-filter");
  chip.hidden = !state.district;
  chip.textContent = state.district ? t("clearFilter", { name: regionName(state.district) }) : "";
  const body = $("#platform-list tbody");
  body.replaceChildren(
    ...(rows.length
      ? rows.map((p) =>
          h(
            "tr",
            {
              class: "clickable",
              tabindex: 0,
              "data-platform": p.platform_id,
              onclick: () => openPlatform(p.platform_id),
              onkeydown: (e) => (e.key === "Enter" || e.key === " ") && openPlatform(p.platform_id),
            },
            h("td", { class: "mono" }, p.platform_id),
            h("td", {}, h("span", { class: "link" }, p.name || p.platform_id)),
            h("td", {}, code("platformType", p.type)),
            h("td", {}, regionName(p.domicile_region)),
            h("td", { class: "num" }, fmtInt(stores.get(p.platform_id) ?? 0)),
          ),
        )
      : [h("tr", { class: "empty" }, h("td", { colspan: 5 }, t("noPlatforms")))]),
  );
}

function renderGovernance() {
  const d = state.data.governance;
  if (!d) return;
  const c = d.complaints;
  const f = d.first_handling;
  setKpi("governance", "total", fmtInt(c.total));
  setKpi("governance", "complaints", fmtInt(c.by_kind.complaint));
  setKpi("governance", "reports", fmtInt(c.by_kind.report));
  setKpi("governance", "share_handled_first", fmtPct(f.share_handled_first));
  setKpi("governance", "share_within_deadline", fmtPct(f.share_within_deadline));

  const interval = c.interval || d.filters?.interval || state.interval;
  const key = interval === "day" ? "day" : interval;
  const counts = new Map(c.trend.map((r) => [r[key], r.count]));
  const { from, to } = d.period || period();
  const days = buckets(from, to, interval);
  for (const k of counts.keys()) if (!days.includes(k)) days.push(k);
  days.sort();
  line("chart-gov-trend", days.map((day) => bucketLabel(day, interval)), [{ name: t("kpi.total"), data: days.map((day) => counts.get(day) || 0) }]);

  pie("chart-gov-state", c.by_state.map((r) => ({ name: code("state", r.state), value: r.count })));
  hbar("chart-gov-category", c.by_category.map((r) => ({ name: code("category", r.category), value: r.count })), { color: PALETTE[4] });
  hbar(
    "chart-gov-platform",
    c.by_platform.map((r) => ({ name: platformName(r.platform_id), value: r.count, platformId: r.platform_id })),
    { onClick: (e) => openPlatform(e.data && e.data.platformId) },
  );
  const steps = [
    ["fh.assigned", f.assigned, PALETTE[1]],
    ["fh.answered", f.answered, PALETTE[0]],
    ["fh.settled", f.settled, PALETTE[2]],
    ["fh.within", f.within_deadline, PALETTE[7]],
    ["fh.missed", f.deadline_missed, "#ff5d73"],
  ];
  draw("chart-gov-first", {
    ...base(!f.assigned && !f.answered && !f.deadline_missed),
    tooltip: { ...base(false).tooltip, trigger: "axis", axisPointer: { type: "shadow" } },
    grid: { left: 8, right: 16, top: 24, bottom: 8, containLabel: true },
    xAxis: { type: "category", data: steps.map(([k]) => t(k)), ...AXIS, axisLabel: { color: "#c8d7f0", interval: 0, width: 70, overflow: "break" } },
    yAxis: { type: "value", minInterval: 1, ...AXIS },
    series: [
      {
        type: "bar",
        barMaxWidth: 28,
        data: steps.map(([, value, color]) => ({ value, itemStyle: { color, borderRadius: [4, 4, 0, 0] } })),
        label: { show: true, position: "top", color: "#e6efff" },
      },
    ],
  });
  hbar("chart-gov-region", c.by_region.map((r) => ({ name: regionName(r.region), value: r.count })), { color: PALETTE[5] });
  renderEnforcementPanel("#panel-negative", d.negative_subjects, "total", "by_platform", t("negativeTotal"));
  renderEnforcementPanel("#panel-cases", d.cases, "filed", "by_violation_type", t("casesFiled"));
  $("#governance").dataset.state = "ready";
}

/** Negative subjects and filed cases come from enforcement: while it publishes nothing, show the API's note. */
function renderEnforcementPanel(selector, panel, totalKey, listKey, label) {
  const body = $(`${selector} .panel-body`);
  const items = (panel && panel[listKey]) || [];
  const total = panel ? panel[totalKey] : 0;
  if (!total && !items.length) {
    body.replaceChildren(h("div", { class: "note" }, h("strong", {}, fmtInt(total || 0)), h("span", { class: "note-text" }, note(panel && panel.note))));
    return;
  }
  const rows = items.map((item) => {
    const name = item.platform_id ? platformName(item.platform_id) : item.violation_type || item.type || item.name || Object.values(item)[0];
    return h("tr", {}, h("td", {}, String(name)), h("td", { class: "num" }, fmtInt(item.count)));
  });
  body.replaceChildren(
    h("div", { class: "note" }, h("strong", {}, fmtInt(total)), h("span", {}, label)),
    h("table", { class: "table" }, h("tbody", {}, rows)),
  );
}

function renderPlatformSelect() {
  const select = $("#platform-select");
  const list = state.data.overview ? state.data.overview.platforms.list : [];
  const ids = list.map((p) => p.platform_id);
  if (state.platform && !ids.includes(state.platform)) ids.unshift(state.platform);
  select.replaceChildren(...ids.map((id) => h("option", { value: id }, `${platformName(id)} (${id})`)));
  if (state.platform) select.value = state.platform;
}

function renderDetail() {
  renderPlatformSelect();
  const d = state.data.detail;
  if (!d || d.platform_id !== state.platform) return;
  const p = d.profile;
  const c = d.complaints;
  const body = $("#profile .panel-body");
  if (!p) {
    body.replaceChildren(h("div", { class: "name" }, platformName(d.platform_id)), h("p", { class: "hint" }, t("profile.missing")));
  } else {
    const row = (label, value) => [h("dt", {}, t(label)), h("dd", {}, value)];
    body.replaceChildren(
      h("div", { class: "name" }, p.name),
      h(
        "dl",
        {},
        row("profile.id", h("span", { class: "mono" }, d.platform_id)),
        row("profile.uscc", h("span", { class: "mono" }, p.uscc || "—")),
        row("profile.type", code("platformType", p.type)),
        row("profile.domicile", regionName(p.domicile_region)),
        row("profile.model", p.operating_model || "—"),
        row("profile.goods", (p.main_categories || []).map((g) => h("span", { class: "chip" }, goodsName(g)))),
        row("profile.canal", h("span", { class: p.connected_to_canal ? "tag-yes" : "tag-no" }, p.connected_to_canal ? `● ${t("yes")}` : `○ ${t("no")}`)),
        row("profile.stores", d.stores.by_category.slice(0, 6).map((g) => h("span", { class: "chip" }, `${goodsName(g.category)} ${fmtInt(g.count)}`))),
      ),
    );
  }
  setKpi("detail", "detail_total", fmtInt(c.total));
  setKpi("detail", "detail_stores", fmtInt(d.stores.total));
  setKpi("detail", "per_10k_stores", fmtNum(c.per_10k_stores, 1));
  setKpi("detail", "per_100m_cny_gmv", fmtNum(c.per_100m_cny_gmv, 2), c.per_100m_cny_gmv === null ? note(d.gmv && d.gmv.note) : "");

  const interval = d.filters?.interval || state.interval;
  const key = interval === "day" ? "day" : interval;
  const { from, to } = d.period || period();
  const days = buckets(from, to, interval);
  const counts = new Map(c.trend.map((r) => [r[key], r.count]));
  const fh = new Map(d.first_handling_trend.map((r) => [r[key], r]));
  for (const k of [...counts.keys(), ...fh.keys()]) if (!days.includes(k)) days.push(k);
  days.sort();
  const labels = days.map((day) => bucketLabel(day, interval));
  line("chart-detail-trend", labels, [{ name: t("kpi.detailTotal"), data: days.map((day) => counts.get(day) || 0) }]);

  const get = (day, name) => (fh.get(day) ? fh.get(day)[name] : 0);
  const stacked = [
    ["fh.settled", (day) => get(day, "settled"), PALETTE[2]],
    ["fh.answeredNotSettled", (day) => Math.max(0, get(day, "answered") - get(day, "settled")), PALETTE[0]],
    ["fh.unanswered", (day) => Math.max(0, get(day, "assigned") - get(day, "answered")), "#5a6f96"],
  ];
  draw("chart-detail-first", {
    ...base(d.first_handling_trend.length === 0),
    tooltip: { ...base(false).tooltip, trigger: "axis", axisPointer: { type: "shadow" } },
    legend: { top: 0, textStyle: { color: "#9fb3d9" }, type: "scroll" },
    grid: { left: 8, right: 16, top: 30, bottom: 8, containLabel: true },
    xAxis: { type: "category", data: labels, ...AXIS },
    yAxis: { type: "value", minInterval: 1, ...AXIS },
    series: [
      ...stacked.map(([name, value, color]) => ({
        type: "bar",
        name: t(name),
        stack: "handled",
        barMaxWidth: 18,
        itemStyle: { color },
        data: days.map(value),
      })),
      { type: "line", name: t("fh.within"), smooth: true, smoothMonotone: "x", symbolSize: 5, itemStyle: { color: PALETTE[3] }, data: days.map((day) => get(day, "within_deadline")) },
      { type: "line", name: t("fh.missed"), smooth: true, smoothMonotone: "x", symbolSize: 5, itemStyle: { color: "#ff5d73" }, data: days.map((day) => get(day, "deadline_missed")) },
    ],
  });
  hbar("chart-detail-categories", c.top_categories.map((r) => ({ name: code("category", r.category), value: r.count })), { color: PALETTE[4] });
  $("#top-merchants tbody").replaceChildren(
    ...(c.top_merchants.length
      ? c.top_merchants.map((m, n) =>
          h("tr", {}, h("td", {}, n + 1), h("td", {}, m.store_name || "—"), h("td", { class: "mono" }, m.store_id), h("td", { class: "num" }, fmtInt(m.count))),
        )
      : [h("tr", { class: "empty" }, h("td", { colspan: 4 }, t("noMerchants")))]),
  );
  $("#detail").dataset.state = "ready";
}

function warningSubject(w) {
  const key = w.key || [];
  if (w.kind === "hot_term") return h("span", { class: "chip kind-hot_term" }, `「${key[0]}」`);
  const platform = h("span", { class: "link", onclick: () => openPlatform(key[0]) }, platformName(key[0]));
  const second = w.kind === "spike_platform_category" ? code("category", key[1]) : h("span", { class: "mono" }, key[1]);
  return h("span", {}, platform, " · ", second);
}

function renderWarnings() {
  const d = state.data.warnings;
  if (!d) return;
  const rows = d.warnings.map((w) => {
    const top = Math.max(w.count, w.baseline, 1);
    return h(
      "tr",
      { "data-warning": w.warning_id },
      h("td", {}, h("span", { class: `chip kind-${w.kind}` }, code("warningKind", w.kind))),
      h("td", {}, warningSubject(w)),
      h("td", { class: "mono" }, w.day),
      h(
        "td",
        {},
        h(
          "div",
          { class: "bar-pair", title: `${t("count")} ${w.count} / ${t("baseline")} ${w.baseline}` },
          h("strong", {}, fmtInt(w.count)),
          h("span", { class: "bar" }, h("i", { style: `width:${(100 * w.count) / top}%` }), h("b", { style: `left:${(100 * w.baseline) / top}%` })),
          h("span", { class: "hint" }, `${t("baseline")} ${fmtNum(w.baseline, 2)}`),
        ),
      ),
      h("td", { class: "num" }, fmtNum(w.z, 2)),
      h("td", { class: "num mono" }, fmtP(w.p_value)),
      h("td", {}, (w.examples || []).map((id) => h("span", { class: "chip mono", title: id }, id.length > 14 ? `${id.slice(0, 8)}…` : id))),
    );
  });
  $("#warning-list tbody").replaceChildren(...(rows.length ? rows : [h("tr", { class: "empty" }, h("td", { colspan: 7 }, t("noWarnings")))]));
  renderBadge();
  $("#warnings").dataset.state = "ready";
}

function renderBadge() {
  const d = state.data.warnings;
  const badge = $("#warnings-badge");
  const n = d ? d.warnings.length : 0;
  badge.hidden = n === 0;
  badge.textContent = n > 99 ? "99+" : String(n);
}

function renderFreshness(freshness) {
  const box = $("#freshness");
  const text = $("#freshness-text");
  if (!freshness || freshness.lag_seconds === null || freshness.lag_seconds === undefined) {
    box.dataset.level = "none";
    text.textContent = t("freshness.none");
    box.title = "";
    return;
  }
  const lag = Math.max(0, freshness.lag_seconds);
  box.dataset.level = lag > STALE_AFTER_S ? "stale" : "ok";
  box.dataset.lag = String(lag);
  text.textContent = t("freshness.lag", { lag: fmtLag(lag) });
  box.title = t("freshness.title", { newest: freshness.newest_event_time || "—", ingested: freshness.last_ingested_at || "—" });
}

const RENDER = { overview: renderOverview, governance: renderGovernance, detail: renderDetail, warnings: renderWarnings };

// ---- loading ------------------------------------------------------------------------------------------------------

async function loadOverview() {
  const d = await api("/v1/cockpits/overview");
  for (const p of d.platforms.list) state.names.set(p.platform_id, p.name);
  return d;
}

async function loadGovernance() {
  const range = period();
  const d = await api("/v1/cockpits/governance", { ...range, interval: state.interval });
  d.period = range;
  return d;
}

async function loadDetail() {
  if (!state.platform) {
    if (!state.data.overview) state.data.overview = await loadOverview();
    const first = state.data.overview.platforms.list[0];
    if (!first) return null;
    state.platform = first.platform_id;
  }
  const range = period();
  const d = await api(`/v1/cockpits/platforms/${encodeURIComponent(state.platform)}`, { ...range, interval: state.interval });
  d.period = range;
  return d;
}

async function loadWarnings() {
  const range = period();
  return api("/v1/risk/warnings", { ...range, kind: state.warningKind });
}

const LOAD = { overview: loadOverview, governance: loadGovernance, detail: loadDetail, warnings: loadWarnings };

/** Load the shown cockpit (and what it leans on), draw it, then come back in 10 s. */
async function refresh() {
  clearTimeout(state.timer);
  if (!state.token) return;
  const generation = ++state.generation;
  const tab = state.tab;
  const section = $(`#${tab}`);
  if (section.dataset.state !== "ready") section.dataset.state = "loading";
  try {
    if (tab !== "overview" && !state.data.overview) state.data.overview = await loadOverview();
    const d = await LOAD[tab]();
    if (generation !== state.generation || tab !== state.tab) return;
    state.data[tab] = d;
    if (tab !== "warnings") {
      loadWarnings().then((w) => {
        state.data.warnings = w;
        renderBadge();
      }, () => {});
    }
    if (d) renderFreshness(d.freshness);
    RENDER[tab]();
    if (!d) section.dataset.state = "ready";
    showStatus(null);
  } catch (error) {
    if (generation === state.generation) failed(error, tab);
  } finally {
    if (generation === state.generation && state.token) state.timer = setTimeout(refresh, REFRESH_MS);
  }
}

// ---- navigation, language, token ----------------------------------------------------------------------------------

function route() {
  const hash = decodeURIComponent(window.location.hash.replace(/^#/, ""));
  const [tab, platform] = hash.split("/");
  state.tab = TABS.includes(tab) ? tab : "overview";
  if (state.tab === "detail" && platform && platform !== state.platform) {
    state.platform = platform;
    state.data.detail = null;
    $("#detail").dataset.state = "loading";
  }
  for (const name of TABS) {
    $(`#${name}`).hidden = name !== state.tab;
    $(`#tab-${name}`).setAttribute("aria-selected", String(name === state.tab));
  }
  $("#range").closest(".field").hidden = state.tab === "overview";
  RENDER[state.tab]();
  for (const [id, instance] of charts) {
    if (document.getElementById(id).clientWidth > 0) instance.resize();
  }
  refresh();
}

function applyLanguage() {
  document.documentElement.lang = state.lang === "zh" ? "zh-CN" : "en";
  document.body.dataset.lang = state.lang;
  for (const el of $$("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  for (const el of $$("[data-i18n-placeholder]")) el.placeholder = t(el.dataset.i18nPlaceholder);
  document.title = t("title");
  $("#lang-switch").textContent = t("langSwitch");
  $("#lang-switch").setAttribute("aria-label", state.lang === "zh" ? "Switch to English" : "切换到中文");
  for (const name of TABS) {
    // Charts and tables of hidden cockpits are redrawn when shown.
    if (name === state.tab) RENDER[name]();
  }
  if (state.data[state.tab]) renderFreshness(state.data[state.tab].freshness);
  renderBadge();
}

function tick() {
  const now = new Date();
  const time = new Intl.DateTimeFormat(state.lang === "zh" ? "zh-CN" : "en-GB", {
    timeZone: "Asia/Shanghai", year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false,
  }).format(now);
  $("#clock").textContent = time;
}

function askForToken(message) {
  $("#token-overlay").hidden = false;
  $("#sign-out").hidden = true;
  const error = $("#token-error");
  error.hidden = !message;
  error.textContent = message || "";
  $("#token-input").value = "";
  $("#token-input").focus();
}

function signOut(message) {
  clearTimeout(state.timer);
  state.generation += 1;
  state.token = null;
  sessionStorage.removeItem(TOKEN_KEY);
  askForToken(message);
}

function useToken(token) {
  state.token = token.trim();
  sessionStorage.setItem(TOKEN_KEY, state.token);
  $("#token-overlay").hidden = true;
  $("#sign-out").hidden = false;
}

/** ?token= is read once, kept for this browser tab only, and removed from the address bar and history. */
function takeTokenFromUrl() {
  const params = new URLSearchParams(window.location.search);
  const token = params.get("token");
  if (token) {
    sessionStorage.setItem(TOKEN_KEY, token.trim());
    params.delete("token");
    const query = params.toString();
    window.history.replaceState(null, "", `${window.location.pathname}${query ? `?${query}` : ""}${window.location.hash}`);
  }
  return sessionStorage.getItem(TOKEN_KEY);
}

function chooseInterval(interval) {
  state.interval = interval;
  for (const b of $$(".interval-switch button")) b.setAttribute("aria-pressed", String(b.dataset.interval === interval));
  refresh();
}

function wire() {
  for (const b of $$(".tab")) b.addEventListener("click", () => {
    const tab = b.dataset.tab;
    window.location.hash = tab === "detail" && state.platform ? `#detail/${encodeURIComponent(state.platform)}` : `#${tab}`;
  });
  window.addEventListener("hashchange", route);
  $("#lang-switch").addEventListener("click", () => {
    state.lang = state.lang === "zh" ? "en" : "zh";
    localStorage.setItem(LANG_KEY, state.lang);
    applyLanguage();
    tick();
  });
  $("#sign-out").addEventListener("click", () => signOut());
  $("#range").addEventListener("change", (e) => {
    state.range = Number(e.target.value);
    refresh();
  });
  for (const b of $$(".interval-switch button")) b.addEventListener("click", () => chooseInterval(b.dataset.interval));
  $("#platform-select").addEventListener("change", (e) => openPlatform(e.target.value));
  $("#platform-search").addEventListener("input", (e) => {
    state.search = e.target.value;
    renderPlatformList();
  });
  $("#list-filter").addEventListener("click", () => {
    state.district = null;
    renderPlatformList();
  });
  $("#warning-kind").addEventListener("change", (e) => {
    state.warningKind = e.target.value;
    refresh();
  });
  $("#token-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const value = $("#token-input").value.trim();
    if (!value) return;
    $("#token-input").value = "";
    useToken(value);
    refresh();
  });
  document.addEventListener("visibilitychange", () => {
    if (!document.hidden && state.token) refresh();
  });
}

function start() {
  $("#range").value = String(state.range);
  for (const b of $$(".interval-switch button")) b.setAttribute("aria-pressed", String(b.dataset.interval === state.interval));
  applyLanguage();
  tick();
  setInterval(tick, 1000);
  wire();
  if (!window.echarts) {
    showStatus(t("error.echarts"));
    for (const name of TABS) $(`#${name}`).dataset.state = "error";
    return;
  }
  const token = takeTokenFromUrl();
  if (token) useToken(token);
  else askForToken();
  route();
}

start();
