"""Cockpit queries. Filters become bound parameters; every answer carries its freshness (added by the API)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, timezone
from decimal import Decimal
from typing import Any, Final, Literal

from contracts.events.bridge import EXCHANGE_EVENT_TYPES
from services.analytics.aggregates import DAILY_COLUMNS, STORE_DAILY_COLUMNS, raw_daily_sql, raw_store_daily_sql
from services.analytics.clickhouse import ClickHouse

Interval = Literal["day", "week", "month"]
#: Trend buckets over ``day``, the received day in China Standard Time.
_BUCKET: Final = {"day": "day", "week": "toMonday(day)", "month": "toStartOfMonth(day)"}
#: Panels fed by enforcement's events (negative subjects, filed cases, violation types) answer empty until
#: enforcement publishes them; the note says so instead of inventing figures.
AWAITING_ENFORCEMENT: Final = "no enforcement events ingested yet"


def region_prefix(region: str) -> str:
    """Region codes are hierarchical: 330000 is the province, 330100 the city, 330106 one district."""
    prefix = region.rstrip("0") or region
    return prefix + "0" if len(prefix) % 2 else prefix


@dataclass(frozen=True, slots=True)
class Filters:
    start: datetime
    end: datetime
    region: str | None = None
    platform: str | None = None
    category: str | None = None

    def where(self, time_column: str = "received_at") -> tuple[str, dict[str, Any]]:
        clauses = [f"{time_column} >= {{start:DateTime64(3, 'UTC')}}", f"{time_column} < {{end:DateTime64(3, 'UTC')}}"]
        params: dict[str, Any] = {
            "start": self.start.astimezone(UTC).replace(tzinfo=None),
            "end": self.end.astimezone(UTC).replace(tzinfo=None),
        }
        if self.region:
            clauses.append("startsWith(region, {region:String})")
            params["region"] = region_prefix(self.region)
        if self.platform:
            clauses.append("platform_id = {platform:String}")
            params["platform"] = self.platform
        if self.category:
            clauses.append("category = {category:String}")
            params["category"] = self.category
        return " AND ".join(clauses), params

    def as_dict(self) -> dict[str, Any]:
        return {
            "from": self.start.isoformat(),
            "to": self.end.isoformat(),
            "region": self.region,
            "platform": self.platform,
            "category": self.category,
        }


NO_REPORTS: Final = "no periodic reports ingested yet"
CHINA: Final = timezone(timedelta(hours=8))

#: Every sales line of the newest revision of each platform's month: a correction replaces the month whole.
_GMV_LINES: Final = """
    FROM gmv_reports FINAL
    ARRAY JOIN sales_category AS category, sales_region AS region, sales_gmv_cny AS gmv, sales_orders AS orders
"""


def _cny(amount: Decimal | int) -> str:
    """Money leaves as a decimal string with two places: exact, and JSON numbers are floats."""
    return f"{Decimal(amount):.2f}"


def _gmv_pairs(rows: list[tuple[Any, ...]], name: str) -> list[dict[str, Any]]:
    return [{name: key.isoformat()[:7] if isinstance(key, date) else key, "gmv_cny": _cny(g), "orders": int(o)} for key, g, o in rows]


def _ranked(rows: list[tuple[Any, ...]], limit: int) -> list[tuple[Any, ...]]:
    """``ORDER BY n DESC, key LIMIT limit`` over (key, n, ...) rows, done here because one query answers many panels.
    Python's str order is ClickHouse's byte order for UTF-8."""
    return sorted(rows, key=lambda row: (-row[1], row[0]))[:limit]


async def gmv_panels(ch: ClickHouse, where: list[str], params: dict[str, Any]) -> dict[str, Any]:
    """GMV and orders from the latest revision of every monthly report, in total and by platform, category and month:
    one scan, one round trip (GROUPING SETS)."""
    rows = await ch.query(
        f"""SELECT grouping(platform_id), grouping(category), grouping(month), platform_id, category, month,
                   sum(gmv), sum(orders), uniqExact(platform_id, month)
            {_GMV_LINES} WHERE {" AND ".join(where) or "1"}
            GROUP BY GROUPING SETS ((platform_id), (category), (month), ())""",
        params,
        cached=True,
    )
    # grouping(column) is 0 in the sets that group by that column.
    whole = [r for r in rows if r[0] and r[1] and r[2]]
    reports = int(whole[0][8]) if whole else 0
    if not reports:
        return {"total_cny": None, "orders": 0, "by_platform": [], "by_category": [], "by_month": [], "note": NO_REPORTS}
    total, orders = whole[0][6], whole[0][7]
    panels: dict[str, Any] = {"total_cny": _cny(total), "orders": int(orders), "reports": reports}
    by_platform = _ranked([(r[3], r[6], r[7]) for r in rows if not r[0]], 100)
    by_category = _ranked([(r[4], r[6], r[7]) for r in rows if not r[1]], 100)
    by_month = sorted((r[5], r[6], r[7]) for r in rows if not r[2])[:100]
    panels["by_platform"] = _gmv_pairs(by_platform, "platform_id")
    panels["by_category"] = _gmv_pairs(by_category, "category")
    panels["by_month"] = _gmv_pairs(by_month, "month")
    return panels


def months_of(start: datetime, end: datetime) -> tuple[date, date]:
    """First and last month (China Standard Time) a period [start, end) touches: reports are monthly."""
    first = start.astimezone(CHINA).date().replace(day=1)
    last = (end - timedelta(milliseconds=1)).astimezone(CHINA).date().replace(day=1)
    return first, last


def _pairs(rows: list[tuple[Any, ...]], name: str) -> list[dict[str, Any]]:
    return [{name: key, "count": int(n)} for key, n in rows]


Source = Literal["aggregates", "raw"]


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time.min, CHINA)


def _utc_naive(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None)


#: The coarser rollups of ``complaint_daily`` (migration 0005) and the columns each one has.
NO_REGION_COLUMNS: Final = tuple(c for c in DAILY_COLUMNS if c != "region")
REGION_COLUMNS: Final = ("day", "region", "platform_id", "category", "complaints")
STORE_PLATFORM_COLUMNS: Final = ("platform_id", "day", "store_id", "store_name", "complaints")


def complaint_sources(
    filters: Filters,
    source: Source = "aggregates",
    table: str = "complaint_daily",
    columns: tuple[str, ...] = DAILY_COLUMNS,
    store_table: str = "complaint_store_daily",
    store_columns: tuple[str, ...] = STORE_DAILY_COLUMNS,
) -> tuple[str, str, dict[str, Any]]:
    """Subqueries shaped like ``table`` (``columns``) and ``complaint_store_daily`` for the filtered period, and their
    parameters. Whole days (China Standard Time) come from the aggregate tables; a part-day at either end of the
    period comes from the raw facts, so a period given to the millisecond still counts exactly. ``raw`` reads every
    day from the raw facts: the reference the aggregates are tested against."""
    common: list[str] = []
    params: dict[str, Any] = {}
    if filters.region:
        common.append("startsWith(region, {region:String})")
        params["region"] = region_prefix(filters.region)
    if filters.platform:
        common.append("platform_id = {platform:String}")
        params["platform"] = filters.platform
    if filters.category:
        common.append("category = {category:String}")
        params["category"] = filters.category
    start_cn = filters.start.astimezone(CHINA)
    first_day = start_cn.date() if start_cn == _midnight(start_cn.date()) else start_cn.date() + timedelta(days=1)
    end_day = filters.end.astimezone(CHINA).date()
    daily: list[str] = []
    stores: list[str] = []
    raw_ranges: list[tuple[datetime, datetime]] = []
    if source == "aggregates" and first_day < end_day:
        where = " AND ".join(["day >= {first_day:Date}", "day < {end_day:Date}", *common])
        params |= {"first_day": first_day, "end_day": end_day}
        daily.append(f"SELECT {', '.join(columns)} FROM {table} WHERE {where}")
        stores.append(f"SELECT {', '.join(store_columns)} FROM {store_table} WHERE {where}")
        if filters.start < _midnight(first_day):
            raw_ranges.append((filters.start, _midnight(first_day)))
        if _midnight(end_day) < filters.end:
            raw_ranges.append((_midnight(end_day), filters.end))
    else:
        raw_ranges.append((filters.start, filters.end))
    for n, (low, high) in enumerate(raw_ranges):
        params |= {f"raw{n}_from": _utc_naive(low), f"raw{n}_to": _utc_naive(high)}
        where = " AND ".join(
            [f"received_at >= {{raw{n}_from:DateTime64(3, 'UTC')}}", f"received_at < {{raw{n}_to:DateTime64(3, 'UTC')}}", *common]
        )
        daily.append(f"SELECT {', '.join(columns)} FROM ({raw_daily_sql(where)})")
        stores.append(f"SELECT {', '.join(store_columns)} FROM ({raw_store_daily_sql(where)})")
    return f"({' UNION ALL '.join(daily)})", f"({' UNION ALL '.join(stores)})", params


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


_SUMS: Final = "sum(complaints), sum(assigned), sum(answered), sum(settled), sum(within_deadline), sum(deadline_missed)"


def _main_source(filters: Filters, source: Source) -> tuple[str, str, dict[str, Any]]:
    """The coarsest daily table the filters allow: without a region filter the region is summed away."""
    if filters.region:
        return complaint_sources(filters, source)
    if filters.category:
        return complaint_sources(filters, source, "complaint_daily_nr", NO_REGION_COLUMNS)
    return complaint_sources(
        filters, source, "complaint_daily_nr", NO_REGION_COLUMNS, "complaint_store_platform_daily", STORE_PLATFORM_COLUMNS
    )


async def governance(ch: ClickHouse, filters: Filters, interval: Interval = "day", source: Source = "aggregates") -> dict[str, Any]:
    daily, _, params = _main_source(filters, source)
    by_region_source, _, region_params = complaint_sources(filters, source, "complaint_daily_region", REGION_COLUMNS)
    # Every panel but the regions in one scan: one grouping set per panel, () for the totals.
    rows = await ch.query(
        f"""SELECT grouping(platform_id), grouping(category), grouping(state), grouping(kind), grouping(bucket),
                   platform_id, category, state, kind, bucket, {_SUMS}
            FROM (SELECT platform_id, category, state, kind, {_BUCKET[interval]} AS bucket, complaints, assigned, answered,
                         settled, within_deadline, deadline_missed FROM {daily})
            GROUP BY GROUPING SETS ((platform_id), (category), (state), (kind), (bucket), ())""",
        params,
        cached=True,
    )
    by_region = await ch.query(
        f"SELECT region, sum(complaints) AS n FROM {by_region_source} GROUP BY region HAVING n > 0 ORDER BY n DESC, region LIMIT 50",
        params | region_params,
        cached=True,
    )
    whole = next((r[10:] for r in rows if all(r[:5])), (0, 0, 0, 0, 0, 0))
    total, assigned, responded, settled, within, missed = (int(x) for x in whole)

    def panel(bit: int, column: int, limit: int = 1000) -> list[tuple[Any, ...]]:
        return _ranked([(r[column], int(r[10])) for r in rows if not r[bit] and r[10] > 0], limit)

    kinds = {key: n for key, n in panel(3, 8)}
    trend = sorted((r[9], int(r[10])) for r in rows if not r[4] and r[10] > 0)
    complaints_n = kinds.get("complaint", 0)
    return {
        "complaints": {
            "total": total,
            "by_kind": {"complaint": complaints_n, "report": kinds.get("report", 0)},
            "by_platform": _pairs(panel(0, 5, 50), "platform_id"),
            "by_category": _pairs(panel(1, 6), "category"),
            "by_region": _pairs(by_region, "region"),
            "by_state": _pairs(panel(2, 7), "state"),
            "trend": [{"day" if interval == "day" else interval: d.isoformat(), "count": n} for d, n in trend],
            "interval": interval,
        },
        "first_handling": {
            "assigned": assigned,
            "answered": responded,
            "settled": settled,
            "within_deadline": within,
            "deadline_missed": missed,
            "share_handled_first": _share(assigned, complaints_n),
            "share_within_deadline": _share(within, assigned),
        },
        "negative_subjects": {"total": 0, "by_platform": [], "note": AWAITING_ENFORCEMENT},
        "cases": {"filed": 0, "by_violation_type": [], "note": AWAITING_ENFORCEMENT},
    }


async def overview(ch: ClickHouse, *, region: str | None, platform: str | None, category: str | None) -> dict[str, Any]:
    p_where = ["1"]
    s_where = ["open = 1"]
    # A suspended website is still a supervised subject; only a closed one has left the register.
    w_where = ["status != 'closed'"]
    n_where = ["1"]
    params: dict[str, Any] = {}
    g_where: list[str] = []
    if region:
        params["region"] = region_prefix(region)
        p_where.append("startsWith(domicile_region, {region:String})")
        s_where.append("startsWith(region, {region:String})")
        w_where.append("startsWith(region, {region:String})")
        n_where.append("startsWith(region, {region:String})")
        g_where.append("startsWith(region, {region:String})")
    if platform:
        # A website is its enterprise's own, on no platform: the platform filter leaves the websites as they are.
        params["platform"] = platform
        p_where.append("platform_id = {platform:String}")
        s_where.append("platform_id = {platform:String}")
        n_where.append("platform_id = {platform:String}")
        g_where.append("platform_id = {platform:String}")
    if category:
        params["category"] = category
        s_where.append("category = {category:String}")
        w_where.append("category = {category:String}")
        n_where.append("category = {category:String}")
        g_where.append("category = {category:String}")
    platforms_sql = f"FROM platforms FINAL WHERE {' AND '.join(p_where)}"
    stores_sql = f"FROM stores FINAL WHERE {' AND '.join(s_where)}"
    # One scan per table, every distribution of it as a grouping set (grouping(column) = 0 where grouped by it).
    platform_sets = await ch.query(
        f"""SELECT grouping(type), grouping(domicile_region), type, domicile_region, count(), countIf(connected_to_canal = 1)
            {platforms_sql} GROUP BY GROUPING SETS ((type), (domicile_region), ())""",
        params,
        cached=True,
    )
    platform_total, connected = next(((int(r[4]), int(r[5])) for r in platform_sets if r[0] and r[1]), (0, 0))
    by_type = _ranked([(r[2], int(r[4])) for r in platform_sets if not r[0]], 1000)
    by_domicile = _ranked([(r[3], int(r[4])) for r in platform_sets if not r[1]], 1000)
    platform_list = await ch.query(
        f"SELECT platform_id, name, type, domicile_region {platforms_sql} ORDER BY platform_id LIMIT 500", params, cached=True
    )
    store_sets = await ch.query(
        f"""SELECT grouping(platform_id), grouping(category), grouping(region), platform_id, category, region, count(),
                   countIf(above_threshold = 1)
            {stores_sql} GROUP BY GROUPING SETS ((platform_id), (category), (region), ())""",
        params,
        cached=True,
    )
    store_total, above = next(((int(r[6]), int(r[7])) for r in store_sets if r[0] and r[1] and r[2]), (0, 0))
    stores_by_platform = _ranked([(r[3], int(r[6])) for r in store_sets if not r[0]], 50)
    stores_by_category = _ranked([(r[4], int(r[6])) for r in store_sets if not r[1]], 50)
    stores_by_region = _ranked([(r[5], int(r[6])) for r in store_sets if not r[2]], 50)
    website_sets = await ch.query(
        f"""SELECT grouping(region), grouping(category), region, category, count(), countIf(status = 'suspended')
            FROM websites FINAL WHERE {' AND '.join(w_where)} GROUP BY GROUPING SETS ((region), (category), ())""",
        params,
        cached=True,
    )
    website_total, suspended = next(((int(r[4]), int(r[5])) for r in website_sets if r[0] and r[1]), (0, 0))
    websites_by_region = _ranked([(r[2], int(r[4])) for r in website_sets if not r[0]], 50)
    websites_by_category = _ranked([(r[3], int(r[4])) for r in website_sets if not r[1]], 50)
    new_form_sets = await ch.query(
        f"""SELECT grouping(form), grouping(platform_id), form, platform_id, count()
            FROM new_form_subjects FINAL WHERE {' AND '.join(n_where)} GROUP BY GROUPING SETS ((form), (platform_id), ())""",
        params,
        cached=True,
    )
    new_form_total = next((int(r[4]) for r in new_form_sets if r[0] and r[1]), 0)
    new_forms_by_form = _ranked([(r[2], int(r[4])) for r in new_form_sets if not r[0]], 50)
    new_forms_by_platform = _ranked([(r[3], int(r[4])) for r in new_form_sets if not r[1]], 50)
    # One exchange per event of the types bridge names as exchanges (submission applied, report, delivery), however
    # many store events a submission produced and whatever notices (issued, overdue, missed) went around them.
    ((exchanges,),) = await ch.query(
        "SELECT count() FROM events FINAL WHERE startsWith(type, 'redshield.bridge.') AND has({exchange_types:Array(String)}, type)",
        {"exchange_types": sorted(EXCHANGE_EVENT_TYPES)},
        cached=True,
    )
    return {
        "platforms": {
            "total": int(platform_total),
            "connected_to_canal": int(connected),
            "by_type": _pairs(by_type, "type"),
            "by_domicile_region": _pairs(by_domicile, "region"),
            "list": [{"platform_id": p, "name": n, "type": t, "domicile_region": r} for p, n, t, r in platform_list],
        },
        "stores": {
            "total": int(store_total),
            "above_threshold": int(above),
            "by_platform": _pairs(stores_by_platform, "platform_id"),
            "by_category": _pairs(stores_by_category, "category"),
            "by_region": _pairs(stores_by_region, "region"),
        },
        "websites": {
            "total": website_total,
            "suspended": suspended,
            "by_region": _pairs(websites_by_region, "region"),
            "by_category": _pairs(websites_by_category, "category"),
        },
        "new_form_subjects": {
            "total": new_form_total,
            "by_form": _pairs(new_forms_by_form, "form"),
            "by_platform": _pairs(new_forms_by_platform, "platform_id"),
        },
        "gmv": await gmv_panels(ch, g_where, params),
        "data_exchanges": {"total": int(exchanges)},
    }


def _per(count: int, size: Decimal | int | None, unit: int) -> float | None:
    return round(count * unit / float(size), 4) if size else None


async def platform_detail(
    ch: ClickHouse, platform_id: str, filters: Filters, interval: Interval = "day", source: Source = "aggregates"
) -> dict[str, Any] | None:
    profile = await ch.query(
        "SELECT name, uscc, domicile_region, type, operating_model, main_categories, connected_to_canal, version "
        "FROM platforms FINAL WHERE platform_id = {p:String}",
        {"p": platform_id},
        cached=True,
    )
    daily, by_store, params = _main_source(Filters(filters.start, filters.end, filters.region, platform_id, filters.category), source)
    # The trend, the top categories and the total in one scan (grouping(column) = 0 where grouped by it).
    sets = await ch.query(
        f"""SELECT grouping(bucket), grouping(category), bucket, category, {_SUMS}
            FROM (SELECT {_BUCKET[interval]} AS bucket, category, complaints, assigned, answered, settled, within_deadline,
                         deadline_missed FROM {daily})
            GROUP BY GROUPING SETS ((bucket), (category), ())""",
        params,
        cached=True,
    )
    total = next((int(r[4]) for r in sets if r[0] and r[1]), 0)
    if not profile and not total:
        return None
    store_sets = await ch.query(
        "SELECT grouping(category), category, count() AS n FROM stores FINAL WHERE platform_id = {p:String} AND open = 1 "
        "GROUP BY GROUPING SETS ((category), ())",
        {"p": platform_id},
        cached=True,
    )
    stores = next((int(r[2]) for r in store_sets if r[0]), 0)
    # ORDER BY n DESC LIMIT 20 in ClickHouse left ties in any order; the category breaks them here.
    stores_by_category = _ranked([(r[1], int(r[2])) for r in store_sets if not r[0]], 20)
    trends = sorted((r[2], *(int(x) for x in r[4:])) for r in sets if not r[0] and r[4] > 0)
    trend = [(bucket, n) for bucket, n, *_ in trends]
    fh_trend = [(bucket, *figures) for bucket, _, *figures in trends]
    top_categories = _ranked([(r[3], int(r[4])) for r in sets if not r[1] and r[4] > 0], 10)
    top_merchants = await ch.query(
        f"SELECT store_id, any(store_name), sum(complaints) AS n FROM {by_store} "
        "GROUP BY store_id HAVING n > 0 ORDER BY n DESC, store_id LIMIT 10",
        params,
        cached=True,
    )
    first_month, last_month = months_of(filters.start, filters.end)
    g_where = ["platform_id = {platform:String}", "month >= {first_month:Date}", "month <= {last_month:Date}"]
    g_params: dict[str, Any] = {"platform": platform_id, "first_month": first_month, "last_month": last_month}
    if filters.region:
        g_where.append("startsWith(region, {region:String})")
        g_params["region"] = region_prefix(filters.region)
    gmv = await gmv_panels(ch, g_where, g_params)
    gmv_total = Decimal(gmv["total_cny"]) if gmv["total_cny"] is not None else None
    gmv |= {"months": {"from": first_month.isoformat()[:7], "to": last_month.isoformat()[:7]}}
    if gmv_total is not None:
        # Complaints of the period against the GMV of every month the period touches.
        gmv["note"] = "GMV of the months the period touches"
    key = "day" if interval == "day" else interval
    p = profile[0] if profile else None
    return {
        "platform_id": platform_id,
        "profile": None
        if p is None
        else {
            "name": p[0],
            "uscc": p[1],
            "domicile_region": p[2],
            "type": p[3],
            "operating_model": p[4],
            "main_categories": list(p[5]),
            "connected_to_canal": bool(p[6]),
            "version": int(p[7]),
        },
        "stores": {"total": int(stores), "by_category": _pairs(stores_by_category, "category")},
        "complaints": {
            "total": int(total),
            "per_10k_stores": _per(int(total), int(stores), 10_000),
            "per_100m_cny_gmv": _per(int(total), gmv_total, 100_000_000),
            "trend": [{key: d.isoformat(), "count": int(n)} for d, n in trend],
            "top_categories": _pairs(top_categories, "category"),
            "top_merchants": [{"store_id": s, "store_name": name, "count": int(n)} for s, name, n in top_merchants],
        },
        "first_handling_trend": [
            {
                key: b.isoformat(),
                "assigned": int(a),
                "answered": int(r),
                "settled": int(s),
                "within_deadline": int(w),
                "deadline_missed": int(m),
            }
            for b, a, r, s, w, m in fh_trend
        ],
        "gmv": gmv,
    }
