"""Monthly reports: stored with their revision, published as ReportSubmitted through the outbox, audited."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from contracts.events.bridge import ReportSubmitted
from contracts.ids import new_id
from services.bridge.domain import china_date
from services.bridge.platforms import envelope_for
from services.bridge.report_rules import Report, check_report
from services.bridge.store import for_update, platforms, reports, write_audit
from services.bridge.submissions import aware
from services.runtime.auth import Caller
from services.runtime.clock import Clock
from services.runtime.uow import UnitOfWork


@dataclass(frozen=True, slots=True)
class Stored:
    row: dict[str, Any]
    #: False when the body was the latest revision again: answered with it, nothing written, no event.
    new: bool


class NoSuchPlatform(Exception):
    pass


class Reports:
    def __init__(self, *, clock: Clock) -> None:
        self.clock = clock

    async def put(self, uow: UnitOfWork, *, caller: Caller, platform_id: str, month: str, body: dict[str, Any]) -> Stored:
        """Store ``body`` as the month's next revision, unless it is the latest one again (raises ReportRefused)."""
        now = self.clock.now()
        report = check_report(month, body, today=china_date(now))
        # The platform row lock serialises two writers of one platform's month on PostgreSQL (revision + 1 must not race).
        platform = (await uow.conn.execute(for_update(sa.select(platforms.c.platform_id, platforms.c.domicile_region)
                                                      .where(platforms.c.platform_id == platform_id), uow.conn))).first()
        if platform is None:
            raise NoSuchPlatform(platform_id)
        latest = await self.latest(uow.conn, platform_id, month)
        digest = report.digest()
        target = f"report:{platform_id}/{month}"
        if latest is not None and latest["digest"] == digest:
            await write_audit(uow.conn, at=now, actor=caller.subject, role=caller.role.value, action="report.resent", target=target,
                              detail={"revision": latest["revision"], "digest": digest})
            return Stored(latest, new=False)
        revision = 1 if latest is None else latest["revision"] + 1
        row = _row(report, platform_id=platform_id, revision=revision, digest=digest, by=caller.subject, at=now)
        await uow.conn.execute(sa.insert(reports).values(**row))
        await write_audit(uow.conn, at=now, actor=caller.subject, role=caller.role.value, action="report.submitted", target=target,
                          detail={"report_id": row["report_id"], "revision": revision, "digest": digest, "sales_lines": len(report.sales),
                                  "total_gmv_cny": row["total_gmv_cny"], "replaces": latest["report_id"] if latest else None})
        event = ReportSubmitted.model_validate({
            "platform_id": platform_id, "report_id": row["report_id"], "month": month, "revision": revision, "submitted_at": now,
            "sales": row["sales"], "stores_by_category": row["stores_by_category"],
        })
        uow.publish(event.topic, envelope_for(event, subject=f"{platform_id}/{month}", time=now, region=platform.domicile_region,
                                              platform_id=platform_id))
        return Stored(row, new=True)

    @staticmethod
    async def latest(conn: AsyncConnection, platform_id: str, month: str) -> dict[str, Any] | None:
        row = (await conn.execute(sa.select(reports).where(reports.c.platform_id == platform_id, reports.c.month == month)
                                  .order_by(reports.c.revision.desc()).limit(1))).first()
        return dict(row._mapping) if row else None

    @staticmethod
    async def months(conn: AsyncConnection, platform_id: str | None, *, since: str | None = None, until: str | None = None,
                     limit: int = 500) -> list[dict[str, Any]]:
        """The current (highest) revision of each month, newest month first; every platform when ``platform_id`` is None."""
        newest = (sa.select(reports.c.platform_id, reports.c.month, sa.func.max(reports.c.revision).label("revision"))
                  .group_by(reports.c.platform_id, reports.c.month))
        if platform_id is not None:
            newest = newest.where(reports.c.platform_id == platform_id)
        if since is not None:
            newest = newest.where(reports.c.month >= since)
        if until is not None:
            newest = newest.where(reports.c.month <= until)
        current = newest.subquery()
        stmt = (sa.select(reports).join(current, sa.and_(reports.c.platform_id == current.c.platform_id,
                                                         reports.c.month == current.c.month, reports.c.revision == current.c.revision))
                .order_by(reports.c.month.desc(), reports.c.platform_id).limit(limit))
        return [dict(r._mapping) for r in await conn.execute(stmt)]


def _row(report: Report, *, platform_id: str, revision: int, digest: str, by: str, at: datetime) -> dict[str, Any]:
    return {
        "report_id": new_id(),
        "platform_id": platform_id,
        "month": report.month,
        "revision": revision,
        "digest": digest,
        "sales": [{"category": s.category, "region": s.region, "gmv_cny": s.gmv_cny, "orders": s.orders} for s in report.sales],
        "stores_by_category": [{"category": c, "stores": n} for c, n in report.stores_by_category],
        "total_gmv_cny": str(report.total_gmv()),
        "total_orders": report.total_orders(),
        "submitted_by": by,
        "submitted_at": at,
    }


def report_view(row: dict[str, Any], *, with_lines: bool = True) -> dict[str, Any]:
    out: dict[str, Any] = {
        "platform_id": row["platform_id"],
        "month": row["month"],
        "report_id": row["report_id"],
        "revision": row["revision"],
        "digest": row["digest"],
        "total_gmv_cny": row["total_gmv_cny"],
        "total_orders": row["total_orders"],
        "submitted_at": aware(row["submitted_at"]).isoformat(),
        "links": {"self": f"/v1/platforms/{row['platform_id']}/reports/{row['month']}"},
    }
    if with_lines:
        out["sales"] = row["sales"]
        out["stores_by_category"] = row["stores_by_category"]
    return out
