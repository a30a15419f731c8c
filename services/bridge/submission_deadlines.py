"""Who has submitted for a period, and noting — once per platform and period — those who had not by the deadline."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from contracts.events.bridge import SubmissionMissed
from services.bridge.deadlines import Standing, Window, period_of, previous_period, standing, window
from services.bridge.platforms import envelope_for
from services.bridge.store import missed_submissions, platforms, submissions, write_audit
from services.bridge.submissions import State, aware
from services.runtime.clock import Clock
from services.runtime.service import Service

SYSTEM = "system:bridge"
#: Submissions that count as made: accepted whole (applied, or staged and about to be).
ACCEPTED = (State.STAGED.value, State.APPLIED.value)


async def standings(conn: AsyncConnection, win: Window, *, now: datetime, only: str | None = None) -> list[dict[str, Any]]:
    first = (sa.select(submissions.c.platform_id, sa.func.min(submissions.c.received_at).label("first_received"))
             .where(submissions.c.period == win.period, submissions.c.state.in_(ACCEPTED))
             .group_by(submissions.c.platform_id).subquery())
    noted = sa.select(missed_submissions.c.platform_id, missed_submissions.c.noted_at).where(
        missed_submissions.c.period == win.period).subquery()
    stmt = (sa.select(platforms.c.platform_id, platforms.c.name, platforms.c.created_at, first.c.first_received, noted.c.noted_at)
            .select_from(platforms.outerjoin(first, first.c.platform_id == platforms.c.platform_id)
                         .outerjoin(noted, noted.c.platform_id == platforms.c.platform_id))
            .order_by(platforms.c.platform_id))
    if only is not None:
        stmt = stmt.where(platforms.c.platform_id == only)
    out = []
    for row in await conn.execute(stmt):
        received = aware(row.first_received) if row.first_received is not None else None
        out.append({
            "platform_id": row.platform_id,
            "name": row.name,
            "standing": standing(first_received=received, registered_at=aware(row.created_at), win=win, now=now).value,
            "first_received_at": received.isoformat() if received else None,
            "missed_noted_at": aware(row.noted_at).isoformat() if row.noted_at is not None else None,
        })
    return out


class DeadlineWatch:
    def __init__(self, service: Service, *, clock: Clock, deadline_day: int) -> None:
        self.service = service
        self.clock = clock
        self.deadline_day = deadline_day

    def window(self, period: str) -> Window:
        return window(period, deadline_day=self.deadline_day)

    async def note_missed(self) -> int:
        """Note every registered platform without a submission for a closed window; each (platform, period) once."""
        now = self.clock.now()
        current = period_of(now)
        noted = 0
        # The previous period too: a watch that was down across a deadline still notes it when it comes back.
        for period in (previous_period(current), current):
            win = self.window(period)
            if now < win.deadline:
                continue
            async with self.service.uow() as uow:
                for entry in await standings(uow.conn, win, now=now):
                    if entry["standing"] != Standing.MISSING or entry["missed_noted_at"] is not None:
                        continue
                    noted += await self._note(uow, entry["platform_id"], win, now)
                await uow.commit()
        return noted

    @staticmethod
    async def _note(uow: Any, platform_id: str, win: Window, now: datetime) -> int:
        await uow.conn.execute(sa.insert(missed_submissions).values(platform_id=platform_id, period=win.period, deadline=win.deadline,
                                                                    noted_at=now))
        await write_audit(uow.conn, at=now, actor=SYSTEM, role="system", action="submission.missed", target=f"platform:{platform_id}",
                          detail={"period": win.period, "deadline": win.deadline.isoformat(), "ground": "no submission by the deadline"})
        region = (await uow.conn.execute(sa.select(platforms.c.domicile_region)
                                         .where(platforms.c.platform_id == platform_id))).scalar_one()
        event = SubmissionMissed(platform_id=platform_id, period=win.period, deadline=win.deadline, noted_at=now)
        uow.publish(event.topic, envelope_for(event, subject=platform_id, time=now, region=region, platform_id=platform_id))
        return 1
