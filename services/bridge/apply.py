"""Applying a staged submission: one transaction turns the difference to the platform's stores into events.

Inside that transaction, page by page (memory stays flat however large the file):
1. staged rows that are new, changed or back after being closed → store registered / updated events;
2. open stores missing from the file (and not merely refused in it) → store closed events;
3. stores upserted from the staging table and the missing ones closed, in set-based SQL;
4. the staging rows dropped, the submission marked applied with its counts, an audit row written.
The events go to the outbox in the same transaction, so the stores and their events commit together or
not at all. A kill at any point leaves the submission ``staged``; the applier picks it up again on start.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from contracts import topics
from contracts.envelope import Envelope
from contracts.events.bridge import StoreClosed, StoreRegistered, StoreUpdated, SubmissionApplied
from services.bridge.deadlines import window
from services.bridge.platforms import SOURCE
from services.bridge.store import STORE_FIELDS, findings, for_update, platforms, staged_stores, stores, submissions, write_audit
from services.bridge.submissions import State
from services.runtime.clock import Clock
from services.runtime.logs import traceparent_for
from services.runtime.service import Service
from services.runtime.tables import outbox

log = logging.getLogger("redshield.bridge.apply")

#: Fields whose difference an update event names (``id_number`` compared by its keyed digest).
COMPARED = ("merchant_name", "uscc", "exemption_declared", "address", "region", "shop_name", "shop_url", "category", "contact",
            "above_threshold")
_BOOLEANS = frozenset({"exemption_declared", "above_threshold"})


def store_data(row: Any, *, platform_id: str, submission_id: str, period: str) -> dict[str, Any]:
    """The data of a store registered/updated event, built straight from the row: this is the hot path of a
    9-million-row load, so no model round trip (tests check every emitted event against the models)."""
    data: dict[str, Any] = {
        "platform_id": platform_id,
        "store_id": row.store_id,
        "merchant_name": row.merchant_name,
        "exemption_declared": bool(row.exemption_declared),
        "region": row.region,
        "region_check": row.region_check,
        "shop_name": row.shop_name,
        "shop_url": row.shop_url,
        "category": row.category,
        "above_threshold": bool(row.above_threshold),
        "submission_id": submission_id,
        "period": period,
    }
    if row.uscc is not None:
        data["uscc"] = row.uscc
        data["uscc_check"] = row.uscc_check
    return data


def changed_fields(row: Any) -> list[str]:
    changed = []
    for name in COMPARED:
        new, old = getattr(row, name), getattr(row, f"old_{name}")
        if name in _BOOLEANS:
            new, old = bool(new), bool(old)
        if new != old:
            changed.append(name)
    if row.id_number_mac != row.old_id_number_mac:
        changed.append("id_number")
    return changed


def _outbox_row(event_type: str, dataschema: str, subject: str, data: dict[str, Any], *, now: datetime, region: str | None,
                platform_id: str, trace_id: str | None) -> dict[str, Any]:
    envelope = Envelope(type=event_type, source=SOURCE, subject=subject, data=data, time=now, dataschema=dataschema,
                        region=region, platformid=platform_id, traceparent=traceparent_for(trace_id))
    # The same row shape UnitOfWork.commit writes; written here page by page so millions of events never sit in memory.
    return {"event_id": envelope.id, "topic": topics.BRIDGE_SUBJECTS, "key": envelope.key,
            "headers": [[name, value.decode()] for name, value in envelope.headers()], "value": envelope.value(), "created_at": now}


class Applier:
    def __init__(self, service: Service, *, clock: Clock, page_size: int = 5000, poll_interval: float = 2.0,
                 housekeeping: Callable[[], Awaitable[object]] | None = None, deadline_day: int = 31) -> None:
        self.service = service
        self.deadline_day = deadline_day
        self.housekeeping = housekeeping
        self.clock = clock
        self.page_size = page_size
        self.poll_interval = poll_interval
        self.wakeup = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._failures: dict[str, int] = {}
        self.max_attempts = 3

    # -- the background loop ------------------------------------------------------------------------------
    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="bridge-applier")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            try:
                if self.housekeeping is not None:
                    await self.housekeeping()
                while await self.apply_next():
                    pass
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("applier pass failed; retrying")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wakeup.wait(), timeout=self.poll_interval)
            self.wakeup.clear()

    async def apply_next(self) -> bool:
        """Apply the submission staged first; False when none waits."""
        async with self.service.uow() as uow:
            submission_id = (await uow.conn.execute(
                sa.select(submissions.c.submission_id).where(submissions.c.state == State.STAGED)
                .order_by(submissions.c.staged_at, submissions.c.submission_id).limit(1))).scalar_one_or_none()
        if submission_id is None:
            return False
        try:
            await self.apply(submission_id)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            attempts = self._failures[submission_id] = self._failures.get(submission_id, 0) + 1
            log.exception("applying submission %s failed (attempt %d)", submission_id, attempts)
            if attempts < self.max_attempts:
                raise
            await self._give_up(submission_id, exc)
        return True

    async def _give_up(self, submission_id: str, exc: Exception) -> None:
        async with self.service.uow() as uow:
            await uow.conn.execute(sa.update(submissions)
                                   .where(submissions.c.submission_id == submission_id, submissions.c.state == State.STAGED)
                                   .values(state=State.FAILED, failure=f"apply failed: {type(exc).__name__}: {exc}"[:2000]))
            await write_audit(uow.conn, at=self.clock.now(), actor="bridge", role="system", action="submission.failed",
                              target=f"submission:{submission_id}", detail={"error": repr(exc)[:500]})
            await uow.commit()

    # -- one submission, one transaction ---------------------------------------------------------------------
    async def apply(self, submission_id: str) -> bool:
        async with self.service.uow() as uow:
            conn = uow.conn
            sub = (await conn.execute(for_update(sa.select(submissions).where(submissions.c.submission_id == submission_id), conn))).first()
            if sub is None or sub.state != State.STAGED:
                return False  # another replica applied it first
            # One platform's submissions apply one at a time, whatever the number of replicas.
            domicile = (await conn.execute(for_update(sa.select(platforms.c.domicile_region)
                                                      .where(platforms.c.platform_id == sub.platform_id), conn))).scalar_one_or_none()
            now = self.clock.now()
            registered, updated = await self._emit_changes(conn, sub, now)
            closed = await self._emit_closures(conn, sub, now)
            await self._upsert(conn, sub, now)
            await self._close(conn, sub, now)
            await conn.execute(sa.delete(staged_stores).where(staged_stores.c.submission_id == submission_id))
            counts = {"registered": registered, "updated": updated, "closed": closed, "unchanged": sub.rows_staged - registered - updated}
            await conn.execute(sa.update(submissions).where(submissions.c.submission_id == submission_id)
                               .values(state=State.APPLIED, applied_at=now, **counts))
            await write_audit(conn, at=now, actor=sub.submitted_by, role="platform", action="submission.applied",
                              target=f"submission:{submission_id}", detail={"platform_id": sub.platform_id, "period": sub.period, **counts})
            await conn.execute(sa.insert(outbox), [self._applied_row(sub, counts, now, domicile)])
            await uow.commit()
        self.service.committed.set()  # wake the relay: the events are in the outbox
        self._failures.pop(submission_id, None)
        log.info("submission applied", extra={"fields": {"submission_id": submission_id, **counts}})
        return True

    def _applied_row(self, sub: Any, counts: dict[str, int], now: datetime, region: str | None) -> dict[str, Any]:
        """The submission itself as one event, whatever it changed: each one is a data exchange, counted once."""
        win = window(sub.period, deadline_day=self.deadline_day)
        received = sub.received_at if sub.received_at.tzinfo else sub.received_at.replace(tzinfo=UTC)
        event = SubmissionApplied(platform_id=sub.platform_id, submission_id=sub.submission_id, period=sub.period, received_at=received,
                                  applied_at=now, deadline=win.deadline, on_time=received < win.deadline, rows_total=sub.rows_total,
                                  rows_staged=sub.rows_staged, rows_refused=sub.rows_refused, rows_flagged=sub.rows_flagged, **counts)
        return _outbox_row(event.event_type, event.dataschema(), sub.platform_id, event.model_dump(mode="json"), now=now, region=region,
                           platform_id=sub.platform_id, trace_id=sub.trace_id)

    async def _emit_changes(self, conn: AsyncConnection, sub: Any, now: datetime) -> tuple[int, int]:
        s, st = staged_stores, stores
        old = [st.c[name].label(f"old_{name}") for name in (*COMPARED, "id_number_mac")]
        query = (
            sa.select(*[s.c[name] for name in ("store_id", *STORE_FIELDS)], st.c.status.label("old_status"), *old)
            .select_from(s.outerjoin(st, sa.and_(st.c.platform_id == sub.platform_id, st.c.store_id == s.c.store_id)))
            .where(s.c.submission_id == sub.submission_id)
            .where(sa.or_(st.c.store_id.is_(None), st.c.status == "closed", st.c.digest != s.c.digest))
            .order_by(s.c.store_id)
            .limit(self.page_size)
        )
        registered = updated = 0
        after = ""
        while rows := (await conn.execute(query.where(s.c.store_id > after))).all():
            page = []
            for row in rows:
                data = store_data(row, platform_id=sub.platform_id, submission_id=sub.submission_id, period=sub.period)
                if row.old_status in (None, "closed"):
                    registered += 1
                    kind, schema = StoreRegistered.event_type, StoreRegistered.dataschema()
                else:
                    updated += 1
                    data["changed"] = changed_fields(row)
                    kind, schema = StoreUpdated.event_type, StoreUpdated.dataschema()
                page.append(_outbox_row(kind, schema, f"{sub.platform_id}/{row.store_id}", data, now=now, region=row.region,
                                        platform_id=sub.platform_id, trace_id=sub.trace_id))
            await conn.execute(sa.insert(outbox), page)
            after = rows[-1].store_id
        return registered, updated

    def _missing(self, sub: Any) -> sa.ColumnElement[bool]:
        """Open stores of the platform that the file neither lists validly nor lists in a refused row."""
        st = stores
        listed = sa.exists().where(staged_stores.c.submission_id == sub.submission_id, staged_stores.c.store_id == st.c.store_id)
        refused = sa.exists().where(findings.c.submission_id == sub.submission_id, findings.c.store_id == st.c.store_id,
                                    findings.c.severity == "error")
        return sa.and_(st.c.platform_id == sub.platform_id, st.c.status == "open", ~listed, ~refused)

    async def _emit_closures(self, conn: AsyncConnection, sub: Any, now: datetime) -> int:
        st = stores
        query = sa.select(st.c.store_id, st.c.uscc, st.c.region).where(self._missing(sub)).order_by(st.c.store_id).limit(self.page_size)
        closed = 0
        after = ""
        closed_at = now.astimezone(UTC).isoformat().replace("+00:00", "Z")
        while rows := (await conn.execute(query.where(st.c.store_id > after))).all():
            page = []
            for row in rows:
                data: dict[str, Any] = {"platform_id": sub.platform_id, "store_id": row.store_id, "region": row.region,
                                        "submission_id": sub.submission_id, "period": sub.period, "closed_at": closed_at}
                if row.uscc is not None:
                    data["uscc"] = row.uscc
                page.append(_outbox_row(StoreClosed.event_type, StoreClosed.dataschema(), f"{sub.platform_id}/{row.store_id}", data,
                                        now=now, region=row.region, platform_id=sub.platform_id, trace_id=sub.trace_id))
            await conn.execute(sa.insert(outbox), page)
            closed += len(rows)
            after = rows[-1].store_id
        return closed

    async def _upsert(self, conn: AsyncConnection, sub: Any, now: datetime) -> None:
        s, st = staged_stores, stores
        columns = ["platform_id", "store_id", *STORE_FIELDS, "status", "first_submission_id", "last_submission_id", "updated_at",
                   "closed_at"]
        source = sa.select(
            sa.literal(sub.platform_id, sa.String), s.c.store_id, *[s.c[name] for name in STORE_FIELDS], sa.literal("open", sa.String),
            sa.literal(sub.submission_id, sa.String), sa.literal(sub.submission_id, sa.String), sa.literal(now, sa.DateTime(timezone=True)),
            sa.null(),
        ).where(s.c.submission_id == sub.submission_id)
        dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
        insert = dialect.insert(st).from_select(columns, source)
        excluded = insert.excluded
        statement = insert.on_conflict_do_update(
            index_elements=[st.c.platform_id, st.c.store_id],
            set_={**{name: excluded[name] for name in STORE_FIELDS}, "status": "open", "last_submission_id": excluded.last_submission_id,
                  "updated_at": excluded.updated_at, "closed_at": None},
            # Unchanged stores are not rewritten: a resend of the same file writes nothing.
            where=sa.or_(st.c.digest != excluded.digest, st.c.status == "closed"),
        )
        await conn.execute(statement)

    async def _close(self, conn: AsyncConnection, sub: Any, now: datetime) -> None:
        await conn.execute(sa.update(stores).where(self._missing(sub))
                           .values(status="closed", closed_at=now, updated_at=now, last_submission_id=sub.submission_id))

