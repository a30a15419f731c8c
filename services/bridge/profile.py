"""A platform's profile (画像): its registry entry, stores, new-business-form subjects, submissions, reports, data requests,
and data-quality score."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from services.bridge.data_requests import RequestState
from services.bridge.deadlines import Standing, period_of, previous_period, standing, window
from services.bridge.domain import PlatformEntry
from services.bridge.quality import QualityInputs, score
from services.bridge.report_rules import months_due, report_deadline
from services.bridge.store import data_deliveries, data_requests, new_form_subjects, reports, stores, submissions
from services.bridge.submission_deadlines import ACCEPTED
from services.bridge.submissions import State, aware

#: Semi-annual periods looked back over for timeliness and the failure rate: two years.
PERIODS_BACK = 4


async def profile(conn: AsyncConnection, entry: PlatformEntry, registered_at: datetime, *, now: datetime,
                  deadline_day: int) -> dict[str, Any]:
    pid = entry.platform_id
    open_stores = sa.and_(stores.c.platform_id == pid, stores.c.status == "open")
    by_category = (await conn.execute(sa.select(stores.c.category, sa.func.count()).where(open_stores)
                                      .group_by(stores.c.category).order_by(sa.func.count().desc(), stores.c.category).limit(50))).all()
    by_region = (await conn.execute(sa.select(stores.c.region, sa.func.count()).where(open_stores)
                                    .group_by(stores.c.region).order_by(sa.func.count().desc(), stores.c.region).limit(50))).all()
    total = (await conn.execute(sa.select(sa.func.count()).select_from(stores).where(open_stores))).scalar_one()
    # The table keeps only each subject's current version, so a count of rows is a count of subjects.
    by_form = (await conn.execute(sa.select(new_form_subjects.c.form, sa.func.count()).where(new_form_subjects.c.platform_id == pid)
                                  .group_by(new_form_subjects.c.form).order_by(sa.func.count().desc(), new_form_subjects.c.form))).all()

    history = [dict(r._mapping) for r in await conn.execute(
        sa.select(submissions).where(submissions.c.platform_id == pid).order_by(submissions.c.received_at.desc()).limit(50))]
    periods = [period_of(now)]
    for _ in range(PERIODS_BACK):
        periods.append(previous_period(periods[-1]))
    standings: dict[str, Standing] = {}
    for period in periods:
        win = window(period, deadline_day=deadline_day)
        received = [aware(s["received_at"]) for s in history if s["period"] == period and s["state"] in ACCEPTED]
        standings[period] = standing(first_received=min(received, default=None), registered_at=registered_at, win=win, now=now)

    latest = next((s for s in history if s["state"] == State.APPLIED), None)
    filled = 0
    if latest is not None:
        # Over every open store, not only those the latest submission wrote: an unchanged store is not rewritten
        # (it keeps an older submission's id), and a store posted in a batch since carries the batch's.
        counted = (await conn.execute(sa.select(sa.func.count(stores.c.uscc), sa.func.count(stores.c.contact)).where(
            stores.c.platform_id == pid, stores.c.status == "open"))).one()
        filled = int(counted[0]) + int(counted[1])
    recent = [s for s in history if s["period"] in periods and s["state"] in (State.APPLIED, State.REJECTED)]

    due_months = months_due(registered_at=registered_at, now=now)
    first_reports = {m: aware(t) for m, t in await conn.execute(
        sa.select(reports.c.month, sa.func.min(reports.c.submitted_at)).where(reports.c.platform_id == pid).group_by(reports.c.month))}
    current_reports = (await conn.execute(
        sa.select(reports.c.month, reports.c.revision, reports.c.total_gmv_cny, reports.c.total_orders, reports.c.submitted_at)
        .where(reports.c.platform_id == pid).order_by(reports.c.month.desc(), reports.c.revision.desc()))).all()
    seen: set[str] = set()
    report_lines: list[dict[str, Any]] = []
    for r in current_reports:
        if r.month not in seen and len(report_lines) < 24:
            seen.add(r.month)
            report_lines.append({"month": r.month, "revision": r.revision, "total_gmv_cny": r.total_gmv_cny, "total_orders": r.total_orders,
                                 "on_time": first_reports[r.month] < report_deadline(r.month)})

    requests = (await conn.execute(sa.select(data_requests.c.request_id, data_requests.c.state)
                                   .where(data_requests.c.platform_id == pid))).all()
    late_deliveries = {rid for (rid,) in await conn.execute(sa.select(data_deliveries.c.request_id).where(
        data_deliveries.c.platform_id == pid, data_deliveries.c.late.is_(True)))}
    delivered = [rid for rid, state in requests if state == RequestState.DELIVERED]

    inputs = QualityInputs(
        latest_rows_total=latest["rows_total"] if latest else 0,
        latest_rows_accepted=latest["rows_staged"] if latest else 0,
        optional_filled=filled,
        optional_rows=int(total) if latest is not None else None,
        periods_on_time=sum(1 for s in standings.values() if s is Standing.ON_TIME),
        periods_late=sum(1 for s in standings.values() if s is Standing.LATE),
        periods_missing=sum(1 for s in standings.values() if s is Standing.MISSING),
        reports_due=len(due_months),
        reports_on_time=sum(1 for m in due_months if m in first_reports and first_reports[m] < report_deadline(m)),
        requests_on_time=sum(1 for rid in delivered if rid not in late_deliveries),
        requests_late=sum(1 for rid in delivered if rid in late_deliveries),
        requests_overdue=sum(1 for _, state in requests if state == RequestState.OVERDUE),
        rows_total=sum(s["rows_total"] for s in recent),
        rows_refused=sum(s["rows_refused"] for s in recent),
    )
    quality = score(inputs)
    return {
        "platform_id": pid,
        "name": entry.name,
        "classification": entry.type.value,
        "operating_model": entry.operating_model,
        "main_categories": list(entry.main_categories),
        "domicile_region": entry.domicile_region,
        "connected_to_canal": entry.connected_to_canal,
        "stores": {"open": int(total), "by_category": [{"category": c, "stores": int(n)} for c, n in by_category],
                   "by_region": [{"region": r, "stores": int(n)} for r, n in by_region]},
        "new_form_subjects": {"total": sum(int(n) for _, n in by_form),
                              "by_form": [{"form": f, "subjects": int(n)} for f, n in by_form]},
        "submissions": {
            "standing": {period: s.value for period, s in standings.items()},
            "history": [{"submission_id": s["submission_id"], "period": s["period"], "state": s["state"],
                         "received_at": aware(s["received_at"]).isoformat(), "rows_total": s["rows_total"],
                         "rows_refused": s["rows_refused"],
                         "registered": s["registered"], "updated": s["updated"], "closed": s["closed"]} for s in history],
        },
        "reports": report_lines,
        "data_requests": {state: sum(1 for _, st in requests if st == state)
                          for state in (RequestState.OPEN, RequestState.DELIVERED, RequestState.OVERDUE)},
        "quality": {"score": quality.score, "parts": [asdict(p) for p in quality.parts]},
    }
