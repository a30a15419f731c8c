"""Cockpit queries. Filters become bound parameters; every answer carries its freshness."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from services.analytics.clickhouse import ClickHouse


@dataclass(frozen=True, slots=True)
class Filters:
    start: datetime
    end: datetime
    region: str | None = None
    platform: str | None = None
    category: str | None = None

    def where(self) -> tuple[str, dict[str, Any]]:
        clauses = ["received_at >= {start:DateTime64(3, 'UTC')}", "received_at < {end:DateTime64(3, 'UTC')}"]
        params: dict[str, Any] = {
            "start": self.start.astimezone(UTC).replace(tzinfo=None),
            "end": self.end.astimezone(UTC).replace(tzinfo=None),
        }
        if self.region:
            # Region codes are hierarchical: 330000 is the province, 330100 the city, 330106 one district.
            prefix = self.region.rstrip("0") or self.region
            if len(prefix) % 2:
                prefix += "0"
            clauses.append("startsWith(region, {region:String})")
            params["region"] = prefix
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


async def governance(ch: ClickHouse, filters: Filters) -> dict[str, Any]:
    where, params = filters.where()
    base = f"FROM complaints FINAL WHERE {where}"
    rows = await ch.query(
        f"""
        SELECT
            count() AS total,
            countIf(kind = 'complaint') AS complaints,
            countIf(kind = 'report') AS reports
        {base}
        """,
        params,
    )
    total, complaints_n, reports_n = rows[0] if rows else (0, 0, 0)
    by_platform = await ch.query(
        f"SELECT platform_id, count() AS n {base} GROUP BY platform_id ORDER BY n DESC, platform_id LIMIT 50", params
    )
    by_category = await ch.query(f"SELECT category, count() AS n {base} GROUP BY category ORDER BY n DESC, category", params)
    by_region = await ch.query(f"SELECT region, count() AS n {base} GROUP BY region ORDER BY n DESC, region LIMIT 50", params)
    by_state = await ch.query(f"SELECT state, count() AS n {base} GROUP BY state ORDER BY n DESC, state", params)
    trend = await ch.query(f"SELECT toDate(received_at, 'Asia/Shanghai') AS day, count() AS n {base} GROUP BY day ORDER BY day", params)
    return {
        "complaints": {
            "total": int(total),
            "by_kind": {"complaint": int(complaints_n), "report": int(reports_n)},
            "by_platform": [{"platform_id": p, "count": int(n)} for p, n in by_platform],
            "by_category": [{"category": c, "count": int(n)} for c, n in by_category],
            "by_region": [{"region": r, "count": int(n)} for r, n in by_region],
            "by_state": [{"state": s, "count": int(n)} for s, n in by_state],
            "trend": [{"day": d.isoformat(), "count": int(n)} for d, n in trend],
        },
    }
