"""Applying a staged submission: one transaction turns the difference to the platform's stores into events.

Inside that transaction, each step one set-based statement (memory stays flat however large the file, and no row
passes through Python):
1. staged rows that are new or back after being closed → store registered events; staged rows whose content digest
   differs from the open store's → store updated events (``INSERT INTO outbox … SELECT``, see :class:`_EventSql`, as
   outbox bundles of up to :data:`BUNDLE_EVENTS` events a row);
2. open stores missing from the file (and not merely refused in it) → store closed events;
3. the missing stores closed, then the listed ones upserted from the staging table, in set-based SQL (the two sets
   are disjoint, and closing first keeps its lookups to the stores open before this submission);
4. the staging rows dropped, the submission marked applied with its counts, an audit row written.
The events go to the outbox in the same transaction, so the stores and their events commit together or
not at all. A kill at any point leaves the submission ``staged``; the applier picks it up again on start.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, Final

import orjson
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection

from contracts import topics
from contracts.envelope import CONTENT_TYPE, SPECVERSION, Envelope, format_time
from contracts.events.bridge import StoreClosed, StoreRegistered, StoreUpdated, SubmissionApplied
from contracts.ids import new_id
from services.bridge import metrics
from services.bridge.deadlines import window
from services.bridge.platforms import SOURCE
from services.bridge.staging import StagedLines, count_staged, drop_staged
from services.bridge.store import (
    STORE_FIELDS,
    findings,
    for_update,
    lock_not_available,
    platforms,
    staged_stores,
    stores,
    submissions,
    write_audit,
)
from services.bridge.submissions import State, end_waiting
from services.runtime.clock import Clock
from services.runtime.logs import traceparent_for
from services.runtime.service import Service
from services.runtime.tables import outbox

log = logging.getLogger("redshield.bridge.apply")

#: Events per outbox bundle row (services/runtime/bundles.py): ~25 MB of value at most, one row where there were as
#: many, and the relay's pass of store events is one or two rows.
BUNDLE_EVENTS: Final = 20_000

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


_HEX32 = re.compile(r"[0-9a-f]{32}")


def _id_prefix() -> str:
    """The first 24 hex digits (in UUID layout) of one statement's event ids: a fresh UUIDv7's, the rest a counter."""
    prefix = new_id().replace("-", "")[:24]
    return f"{prefix[:8]}-{prefix[8:12]}-{prefix[12:16]}-{prefix[16:20]}-{prefix[20:24]}"


def _id_params() -> dict[str, str]:
    """One event statement's ids (:meth:`_EventSql.insert`): ``l_id`` opens each event's own headers with the
    prefix of its id (:func:`_id_prefix`; a counter completes it), ``bundle_pre`` the bundle rows' ids; ``span``
    is the parent id in the traceparent its events share (W3C: 16 hex digits)."""
    return {"l_id": '\t[["ce_id","' + _id_prefix(), "bundle_pre": _id_prefix(), "span": os.urandom(8).hex()}


def _data_params(sub: Any) -> dict[str, str]:
    """The JSON text around a store event's own members (:meth:`_EventSql.store_data`): the platform before them,
    the submission and its period after."""
    return {"d_head": '{"platform_id":' + _json(sub.platform_id) + ",",
            "d_tail": ',"submission_id":' + _json(sub.submission_id) + ',"period":' + _json(sub.period)}


def _json(value: str) -> str:
    return orjson.dumps(value).decode()


def _outbox_row(event_type: str, dataschema: str, subject: str, data: dict[str, Any], *, now: datetime, region: str | None,
                platform_id: str, trace_id: str | None) -> dict[str, Any]:
    envelope = Envelope(type=event_type, source=SOURCE, subject=subject, data=data, time=now, dataschema=dataschema,
                        region=region, platformid=platform_id, traceparent=traceparent_for(trace_id))
    # The same row shape UnitOfWork.commit writes; written here page by page so millions of events never sit in memory.
    return {"event_id": envelope.id, "topic": topics.BRIDGE_SUBJECTS, "key": envelope.key,
            "headers": [[name, value.decode()] for name, value in envelope.headers()], "value": envelope.value(), "created_at": now}


class PlatformBusy(Exception):
    """The platform's row is locked by another apply (or a submission applied as it is staged): try later."""

    def __init__(self, platform_id: str) -> None:
        super().__init__(f"platform {platform_id} is being applied to by another transaction")
        self.platform_id = platform_id


class Steps:
    """Seconds per step of an apply, summed when a step runs several times (per batch while staging): where a large
    apply spends its time, logged with the counts and printed by the bench."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self._mark = time.perf_counter()

    def restart(self) -> None:
        self._mark = time.perf_counter()

    def lap(self, step: str) -> None:
        now = time.perf_counter()
        self.seconds[step] = round(self.seconds.get(step, 0.0) + now - self._mark, 3)
        self._mark = now


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
        #: Seconds per step of the last apply in this process.
        self.last_seconds: dict[str, float] = {}

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
                busy: set[str] = set()
                while await self.apply_next(busy):
                    pass
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("applier pass failed; retrying")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wakeup.wait(), timeout=self.poll_interval)
            self.wakeup.clear()

    async def apply_next(self, busy: set[str] | None = None) -> bool:
        """Apply the submission staged first, of a platform not in ``busy``; False when none waits. A platform whose
        submission is being applied as it is staged (:mod:`services.bridge.streaming_apply`) is added to ``busy`` and
        left for a later pass, so one long upload never holds the applier."""
        busy = set() if busy is None else busy
        async with self.service.uow() as uow:
            submission_id = (await uow.conn.execute(
                sa.select(submissions.c.submission_id).where(submissions.c.state == State.STAGED, submissions.c.platform_id.not_in(busy))
                .order_by(submissions.c.staged_at, submissions.c.submission_id).limit(1))).scalar_one_or_none()
        if submission_id is None:
            return False
        try:
            await self.apply(submission_id)
        except PlatformBusy as exc:
            log.info("platform %s is being applied to by another transaction; its submissions wait for the next pass", exc.platform_id)
            busy.add(exc.platform_id)
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
            failed = await uow.conn.execute(sa.update(submissions)
                                            .where(submissions.c.submission_id == submission_id, submissions.c.state == State.STAGED)
                                            .values(state=State.FAILED, failure=f"apply failed: {type(exc).__name__}: {exc}"[:2000]))
            await write_audit(uow.conn, at=self.clock.now(), actor="bridge", role="system", action="submission.failed",
                              target=f"submission:{submission_id}", detail={"error": repr(exc)[:500]})
            await uow.commit()
        metrics.submissions_reached(State.FAILED, failed.rowcount)

    # -- one submission, one transaction ---------------------------------------------------------------------
    async def apply(self, submission_id: str) -> bool:
        async with self.service.uow() as uow:
            conn = uow.conn
            sub = (await conn.execute(for_update(sa.select(submissions).where(submissions.c.submission_id == submission_id), conn))).first()
            if sub is None or sub.state != State.STAGED:
                return False  # another replica applied it first
            # One platform's submissions apply one at a time, whatever the number of replicas.
            domicile = await self.lock_platform(conn, sub.platform_id)
            now = self.clock.now()
            steps = Steps()
            found = await count_staged(conn, sub.submission_id)
            if found != sub.rows_staged:
                await self._staging_lost(conn, sub, now, found)
                await uow.commit()
                metrics.submissions_reached(State.INTERRUPTED)
                return False
            steps.lap("staging_check")
            registered, updated = await self._emit_changes(conn, sub, now)
            steps.lap("change_events")
            closed = await self._emit_closures(conn, sub, now)
            steps.lap("closure_events")
            # Closing first: it looks up every open store in the staging table, and before the upsert those are only
            # the stores open until now (none on a first submission), not the millions the upsert is about to open.
            await self._close(conn, sub, now)
            steps.lap("close")
            await self._upsert(conn, sub, now)
            steps.lap("upsert")
            counts = {"registered": registered, "updated": updated, "closed": closed, "unchanged": sub.rows_staged - registered - updated}
            await self.finish(conn, sub, now, counts, domicile, steps)
            await uow.commit()
            steps.lap("commit")
        self.applied(sub.submission_id, counts, steps.seconds)
        return True

    async def _staging_lost(self, conn: AsyncConnection, sub: Any, now: datetime, found: int) -> None:
        """The staging table is not crash-safe on PostgreSQL (migration 0013: UNLOGGED, emptied by a crash restart or
        on a promoted standby). Applying a submission with rows missing would close every store it no longer lists,
        so it is not applied: it is marked interrupted, like a broken upload, and the platform resends it (the same
        Idempotency-Key reopens it)."""
        log.error("submission %s: %d staged rows expected, %d found (the staging table was emptied, e.g. by a database crash); "
                  "not applied, marked interrupted to be resent", sub.submission_id, sub.rows_staged, found)
        await end_waiting(conn, sub.submission_id, f"staged rows lost before the apply ({found} of {sub.rows_staged} found; the "
                                                   "database restarted after a crash?): nothing was applied; resend the file",
                          state=State.INTERRUPTED)
        await write_audit(conn, at=now, actor="bridge", role="system", action="submission.staging_lost",
                          target=f"submission:{sub.submission_id}", detail={"rows_staged": sub.rows_staged, "rows_found": found})

    async def lock_platform(self, conn: AsyncConnection, platform_id: str) -> str | None:
        """Lock the platform's row (PostgreSQL; SQLite's transactions are serial anyway) and answer its domicile. A
        platform locked by another transaction raises :class:`PlatformBusy` at once instead of waiting for it."""
        statement = sa.select(platforms.c.domicile_region).where(platforms.c.platform_id == platform_id)
        if conn.dialect.name == "postgresql":
            statement = statement.with_for_update(nowait=True)
        try:
            return (await conn.execute(statement)).scalar_one_or_none()
        except DBAPIError as exc:
            if lock_not_available(exc):
                raise PlatformBusy(platform_id) from exc
            raise

    async def finish(self, conn: AsyncConnection, sub: Any, now: datetime, counts: dict[str, int], domicile: str | None,
                     steps: Steps) -> None:
        """The end of an apply, in its transaction: the staging dropped, the submission marked applied with its counts,
        its audit row and its SubmissionApplied event."""
        await drop_staged(conn, sub.submission_id)
        steps.lap("drop_staging")
        await conn.execute(sa.update(submissions).where(submissions.c.submission_id == sub.submission_id)
                           .values(state=State.APPLIED, applied_at=now, **counts))
        await write_audit(conn, at=now, actor=sub.submitted_by, role="platform", action="submission.applied",
                          target=f"submission:{sub.submission_id}", detail={"platform_id": sub.platform_id, "period": sub.period, **counts})
        await conn.execute(sa.insert(outbox), [self._applied_row(sub, counts, now, domicile)])

    def applied(self, submission_id: str, counts: dict[str, int], seconds: dict[str, float]) -> None:
        """After the commit: figures, metrics, the relay woken."""
        self.last_seconds = seconds
        metrics.applied(seconds, counts)
        metrics.submissions_reached(State.APPLIED)
        self.service.committed.set()  # wake the relay: the events are in the outbox
        self._failures.pop(submission_id, None)
        log.info("submission applied", extra={"fields": {"submission_id": submission_id, **counts, "seconds": seconds}})

    def _applied_row(self, sub: Any, counts: dict[str, int], now: datetime, region: str | None) -> dict[str, Any]:
        """The submission itself as one event, whatever it changed: each one is a data exchange, counted once."""
        win = window(sub.period, deadline_day=self.deadline_day)
        received = sub.received_at if sub.received_at.tzinfo else sub.received_at.replace(tzinfo=UTC)
        event = SubmissionApplied(platform_id=sub.platform_id, submission_id=sub.submission_id, period=sub.period, received_at=received,
                                  applied_at=now, deadline=win.deadline, on_time=received < win.deadline, rows_total=sub.rows_total,
                                  rows_staged=sub.rows_staged, rows_refused=sub.rows_refused, rows_flagged=sub.rows_flagged, **counts)
        return _outbox_row(event.event_type, event.dataschema(), sub.platform_id, event.model_dump(mode="json"), now=now, region=region,
                           platform_id=sub.platform_id, trace_id=sub.trace_id)

    def _event_params(self, sub: Any, now: datetime) -> dict[str, Any]:
        trace = sub.trace_id if sub.trace_id and _HEX32.fullmatch(sub.trace_id) else os.urandom(16).hex()
        return {"platform": sub.platform_id, "submission": sub.submission_id, "topic": topics.BRIDGE_SUBJECTS, "trace": trace, "now": now,
                "j_platform": _json(sub.platform_id), "j_submission": _json(sub.submission_id), "j_period": _json(sub.period),
                "j_source": _json(SOURCE), "j_time": _json(format_time(now)), **_data_params(sub)}

    async def _insert_events(self, conn: AsyncConnection, sql: str, params: dict[str, Any], event: type[Any]) -> int:
        """One statement's events; returns how many. Their ids are UUIDv7 with a counter in the last 32 bits (RFC 9562
        allows a counter there): one fresh random prefix per statement, so ids are unique and sorted by insertion."""
        postgres = conn.dialect.name == "postgresql"
        statement = sa.text(sql.replace(":now", "CAST(:now AS TIMESTAMP WITH TIME ZONE)") if postgres else sql).bindparams(
            sa.bindparam("now", type_=sa.DateTime(timezone=True)))
        types = {"j_type": _json(event.event_type), "j_schema": _json(event.dataschema())}
        result = await conn.execute(statement, params | _id_params() | types)
        return sum(result.scalars())

    async def _emit_changes(self, conn: AsyncConnection, sub: Any, now: datetime) -> tuple[int, int]:
        """Registered (new or reopened) and updated (content digest differs) stores, as events, in two set-based
        statements over the submission's staged rows."""
        sql = _EventSql(conn.dialect.name)
        params = self._event_params(sub, now)
        joined = ("FROM staged_stores s {join} stores st ON st.platform_id = CAST(:platform AS TEXT) AND st.store_id = s.store_id "
                  "WHERE s.submission_id = CAST(:submission AS TEXT) AND ")
        registered = await self._insert_events(conn, sql.insert(
            data=sql.store_data(changed=None), region="s.region", store_id="s.store_id",
            source=joined.format(join="LEFT JOIN") + "(st.store_id IS NULL OR st.status = 'closed')"), params, StoreRegistered)
        updated = await self._insert_events(conn, sql.insert(
            data=sql.store_data(changed=sql.changed()), region="s.region", store_id="s.store_id",
            source=joined.format(join="JOIN") + "st.status = 'open' AND st.digest <> s.digest"), params, StoreUpdated)
        return registered, updated

    async def apply_batch(self, conn: AsyncConnection, sub: Any, now: datetime, lines: StagedLines, *,
                          first_list: bool = False) -> tuple[int, int]:
        """PostgreSQL, one staged batch of a submission applied as it is staged (services/bridge/streaming_apply.py):
        the registered and updated events and the upsert of the stores staged on ``lines``
        (:meth:`_EventSql.batch`); returns how many stores were registered and updated. ``first_list``: the platform
        had no store at all when this transaction took its lock (:meth:`_EventSql.first_list_batch`)."""
        params = self._event_params(sub, now) | {
            "first_line": lines.first, "end_line": lines.end, **_id_params(),
            "j_registered": _json(StoreRegistered.event_type), "j_registered_schema": _json(StoreRegistered.dataschema()),
            "j_updated": _json(StoreUpdated.event_type), "j_updated_schema": _json(StoreUpdated.dataschema())}
        sql = _EventSql(conn.dialect.name)
        one_bundle = lines.rows <= BUNDLE_EVENTS
        now_param = sa.bindparam("now", type_=sa.DateTime(timezone=True))
        if first_list:
            insert_stores, insert_events = sql.first_list_batch(one_bundle=one_bundle)
            registered = (await conn.execute(sa.text(insert_stores).bindparams(now_param), params)).rowcount
            events = sum((await conn.execute(sa.text(insert_events).bindparams(now_param), params)).scalars())
            if events != registered:  # the same staged rows, read twice in one transaction
                raise RuntimeError(f"{registered} stores registered but {events} events written for lines {lines.first}–{lines.end - 1}")
            return registered, 0
        registered, updated = (await conn.execute(sa.text(sql.batch(one_bundle=one_bundle)).bindparams(now_param), params)).one()
        return int(registered), int(updated)

    def _missing(self, sub: Any, open_before: sa.TableClause | None = None) -> sa.ColumnElement[bool]:
        """Open stores of the platform that the file neither lists validly nor lists in a refused row; with
        ``open_before``, only among the stores open before this submission (listed in that table)."""
        st = stores
        listed = sa.exists().where(staged_stores.c.submission_id == sub.submission_id, staged_stores.c.store_id == st.c.store_id)
        refused = sa.exists().where(findings.c.submission_id == sub.submission_id, findings.c.store_id == st.c.store_id,
                                    findings.c.severity == "error")
        missing = sa.and_(st.c.platform_id == sub.platform_id, st.c.status == "open", ~listed, ~refused)
        if open_before is not None:
            # A join (UPDATE … FROM), driven by the snapshot: after the upserts the platform's open stores are the
            # file's millions, and none of those can be missing from it.
            missing = sa.and_(missing, st.c.store_id == open_before.c.store_id)
        return missing

    async def _emit_closures(self, conn: AsyncConnection, sub: Any, now: datetime, open_before: str | None = None) -> int:
        """The same set as :meth:`_missing`, written as SQL text for the event statement."""
        sql = _EventSql(conn.dialect.name)
        closed_at = now.astimezone(UTC).isoformat().replace("+00:00", "Z")
        stores_from = "FROM stores st " if open_before is None else f"FROM {open_before} o JOIN stores st ON st.store_id = o.store_id "
        source = (stores_from + "WHERE st.platform_id = CAST(:platform AS TEXT) AND st.status = 'open' "
                  "AND NOT EXISTS (SELECT 1 FROM staged_stores s "
                  "WHERE s.submission_id = CAST(:submission AS TEXT) AND s.store_id = st.store_id) "
                  "AND NOT EXISTS (SELECT 1 FROM submission_findings f WHERE f.submission_id = CAST(:submission AS TEXT) "
                  "AND f.store_id = st.store_id AND f.severity = 'error')")
        statement = sql.insert(data=sql.closed_data(), region="st.region", store_id="st.store_id", source=source)
        return await self._insert_events(conn, statement,
                                         self._event_params(sub, now) | {"j_closed_at": _json(closed_at)}, StoreClosed)

    async def _upsert(self, conn: AsyncConnection, sub: Any, now: datetime) -> None:
        """The staged stores into ``stores``: new ones inserted, changed or reopened ones updated."""
        st = stores
        s = staged_stores
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

    async def _close(self, conn: AsyncConnection, sub: Any, now: datetime, open_before: sa.TableClause | None = None) -> None:
        await conn.execute(sa.update(stores).where(self._missing(sub, open_before))
                           .values(status="closed", closed_at=now, updated_at=now, last_submission_id=sub.submission_id))



class _EventSql:
    """SQL that builds outbox bundles (services/runtime/bundles.py; each event as :func:`_outbox_row` would write it)
    for a whole statement's rows at once.

    A store event per store was a Python event object, a JSON dump and an INSERT parameter set each: at 9 million
    stores that was most of the apply. Here the database writes key, headers and value itself, as JSON text put
    together by concatenation: PostgreSQL's ``json_build_object``/``json_build_array`` look up every argument's type
    on every call (≈ 65 µs a row for an event's dozen of them), concatenation with one ``to_json`` per text column
    costs a few. Constants (platform, submission, period, type, schema, time, source) are JSON-encoded in Python
    and bound as ``j_*`` parameters; per-row text goes through the database's own JSON quoting. The tests read
    every event back through ``from_record`` and its model.
    """

    def __init__(self, dialect: str) -> None:
        self.postgres = dialect == "postgresql"

    def quote(self, expr: str) -> str:
        """JSON text of a non-null text expression."""
        return f"CAST(to_json({expr}) AS TEXT)" if self.postgres else f"json_quote({expr})"

    @staticmethod
    def boolean(column: str) -> str:
        return f"CASE WHEN {column} THEN 'true' ELSE 'false' END"

    @staticmethod
    def obj(pairs: dict[str, str], tail: str = "''") -> str:
        """A JSON object from non-null JSON-text expressions; ``tail`` adds optional members (``,"k":v`` or '')."""
        members = " || ',' || ".join(f"'\"{name}\":' || {value}" for name, value in pairs.items())
        return f"'{{' || {members} || {tail} || '}}'"

    def hex8(self, number: str) -> str:
        return f"lpad(to_hex({number}), 8, '0')" if self.postgres else f"printf('%08x', {number})"


    def changed(self) -> str:
        """The ``changed`` list of an update: COMPARED order, then id_number (compared by its keyed digest)."""
        differs = "IS DISTINCT FROM" if self.postgres else "IS NOT"
        parts = [f"CASE WHEN s.{name} {differs} st.{name} THEN '\"{name}\",' ELSE '' END" for name in COMPARED]
        parts.append(f"CASE WHEN s.id_number_mac {differs} st.id_number_mac THEN '\"id_number\",' ELSE '' END")
        return f"'[' || rtrim({' || '.join(parts)}, ',') || ']'"

    def insert(self, *, data: str, source: str, region: str, store_id: str, event_type: str = "CAST(:j_type AS TEXT)",
               schema: str = "CAST(:j_schema AS TEXT)", per_event_type: bool = False, one_bundle: bool = False) -> str:
        """``INSERT INTO outbox … SELECT`` of the events over ``source`` (a FROM … WHERE clause), as outbox bundles
        (services/runtime/bundles.py): one row of up to :data:`BUNDLE_EVENTS` events, each a line of its key, its own
        headers and its value; ``data`` is the value's JSON text. The headers every event of the statement has in
        common — ``event_type`` and ``schema`` too, unless ``per_event_type`` — are the bundle row's, written once;
        a line holds its event's id, subject and region (and, ``per_event_type``, its type and schema). Binds
        :l_id (:func:`_id_params`), :span, :trace, :platform, :topic, :now, :bundle_pre and the JSON-encoded
        :j_source, :j_time, :j_platform and, as the caller's expressions name them, :j_type and :j_schema; returns
        the number of events of each bundle row written (``RETURNING bundle``).

        A line is put together from few pieces on purpose: each ``||`` is a step for every event of millions, and
        the constants between them are bound as one parameter each (measured on a staged batch of 20,000: 36 pieces
        ~5.9 µs a store, these ~4.2)."""
        counter = "row_number() OVER ()"
        subject = self.quote(f"CAST(:platform AS TEXT) || '/' || {store_id}")
        own_type = (f"""'],["ce_type",' || {event_type} || '],["ce_dataschema",' || {schema} || '],["ce_region","'"""
                    if per_event_type else """'],["ce_region","'""")
        # The region is a code of six digits (contracts/regions.py checks every staged and stored one): nothing in it
        # to escape, so it is put between quotes as it is.
        line = (f"""{subject} || CAST(:l_id AS TEXT) || {self.hex8(counter)} || '"],["ce_subject",' || {subject} || {own_type} || """
                f"""{region} || '"]]{chr(9)}' || {data}""")
        shared_type = "" if per_event_type else f"""',["ce_type",' || {event_type} || '],["ce_dataschema",' || {schema} || ']' || """
        shared = (f"""'[["ce_specversion","{SPECVERSION}"],["ce_source",' || CAST(:j_source AS TEXT) || '],["ce_time",' || """
                  f"""CAST(:j_time AS TEXT) || '],["content-type","{CONTENT_TYPE}"],["ce_platformid",' || CAST(:j_platform AS TEXT) || """
                  f"""'],["ce_traceparent","00-' || CAST(:trace AS TEXT) || '-' || CAST(:span AS TEXT) || '-01"]' || {shared_type}']'""")
        # PostgreSQL: each line made bytes as it is aggregated, not the whole bundle after — a bundle's ~17 MB of text
        # converted at once was one more copy of it in fresh memory (page faults: ~1 µs a store in the apply).
        lines = (r"string_agg(convert_to(e.line, 'UTF8'), CAST(E'\\x0a' AS bytea))" if self.postgres else
                 "CAST(group_concat(e.line, char(10)) AS BLOB)")
        # The counter numbers the statement's events from 1 (the last 32 bits of their ids), the bundles from 0.
        numbered = f"SELECT {line} AS line, ({counter} - 1) / {BUNDLE_EVENTS} AS part {source}"
        headers = f"CAST({shared} AS json)" if self.postgres else shared
        # ``one_bundle``: the caller knows the source has at most BUNDLE_EVENTS rows; one aggregate over them all spares
        # the grouping's sort of every event's text (~0.6 µs a store). No rows, no bundle.
        rows = (f"SELECT {lines} AS value, count(*) AS events, 0 AS part FROM ({numbered}) e HAVING count(*) > 0" if one_bundle else
                f"SELECT {lines} AS value, count(*) AS events, e.part FROM ({numbered}) e GROUP BY e.part")
        return (f"INSERT INTO outbox (event_id, topic, key, headers, value, created_at, bundle) "
                f"SELECT CAST(:bundle_pre AS TEXT) || {self.hex8('b.part')}, CAST(:topic AS TEXT), NULL, {headers}, "
                f"b.value, :now, b.events FROM ({rows}) b RETURNING bundle")

    #: One staged batch's rows: the lines it covers (a store id is staged once per file, each on its own line). An
    #: index range of ``ix_staged_stores_lines`` (migration 0018): looking each of its ids up in the staging's primary
    #: key was ~3 µs a store of the apply.
    STAGED_BATCH: Final = ("FROM staged_stores s WHERE s.submission_id = CAST(:submission AS TEXT) "
                           "AND s.line >= CAST(:first_line AS INTEGER) AND s.line < CAST(:end_line AS INTEGER)")

    def batch(self, *, one_bundle: bool = False) -> str:
        """PostgreSQL: one staged batch's registered and updated events and its upsert, one statement. Binds
        :first_line and :end_line (the batch's lines, :data:`STAGED_BATCH`) and what :meth:`insert` binds, with
        :j_registered, :j_updated and their :j_*_schema for the type; answers one row, (registered, updated).

        Each staged row's store is looked up once, by key, in a CTE the two inserts share (LATERAL … LIMIT 1, which
        the planner cannot flatten into a join whose statistics would not have seen this upload's rows); separate
        statements looked every store up three times. Every part of a statement sees the same snapshot, so the events
        compare the staged rows with the stores as they were before this batch's upsert."""
        columns = ["store_id", *STORE_FIELDS]
        kept = ", ".join(f"s.{name}" for name in columns)
        changes = f"""WITH changes AS (
            SELECT {kept}, {self.store_fields()} AS fields, st.store_id IS NULL AS new_store,
                   st.store_id IS NULL OR st.status = 'closed' AS registered,
                   CASE WHEN st.status = 'open' THEN {self.changed()} END AS changed
            {self.STAGED_BATCH.replace(" WHERE ", " LEFT JOIN LATERAL (SELECT * FROM stores WHERE platform_id = CAST(:platform AS TEXT) "
                                       "AND store_id = s.store_id LIMIT 1) st ON true WHERE ")}
            AND (st.store_id IS NULL OR st.status = 'closed' OR st.digest <> s.digest)
        )"""
        events = self.insert(
            # c.changed is null exactly where the store is registered (no open store to compare with).
            data=self.store_data(fields="c.fields", changed="c.changed"), source="FROM changes c", region="c.region", store_id="c.store_id",
            event_type="CASE WHEN c.registered THEN CAST(:j_registered AS TEXT) ELSE CAST(:j_updated AS TEXT) END",
            schema="CASE WHEN c.registered THEN CAST(:j_registered_schema AS TEXT) ELSE CAST(:j_updated_schema AS TEXT) END",
            per_event_type=True, one_bundle=one_bundle,
        ).replace(":now", "CAST(:now AS TIMESTAMP WITH TIME ZONE)")
        updated = ", ".join(f"{name} = EXCLUDED.{name}" for name in
                            [*STORE_FIELDS, "last_submission_id", "updated_at"]) + ", status = 'open', closed_at = NULL"
        insert = self._stores_insert("FROM changes c", "c")
        # Stores the platform never had are inserted plainly: the upsert's speculative insertion cost ~3 µs more a
        # row. No other transaction can add them meanwhile: this one holds the platform's row lock, as every writer of
        # its stores does (a conflict would fail loudly).
        return (f"{changes}, events AS ({events}), inserted AS ({insert} WHERE c.new_store), "
                f"upserted AS ({insert} WHERE NOT c.new_store ON CONFLICT (platform_id, store_id) DO UPDATE SET {updated}) "
                "SELECT count(*) FILTER (WHERE registered), count(*) FILTER (WHERE NOT registered) FROM changes")

    def first_list_batch(self, *, one_bundle: bool = False) -> tuple[str, str]:
        """PostgreSQL: :meth:`batch` for a platform that had no store when the transaction took its lock. Every writer
        of its stores takes that lock, so the only stores it has are the ones earlier batches of this file inserted —
        never one of this batch's (a store id is staged once per file): every staged row is a new store, with nothing
        to look up or compare. Two statements, each reading the batch's staged rows by their index range: the stores
        inserted (its row count: how many were registered), then their registered events (``RETURNING bundle``).
        One statement's CTE kept ~1 KB a row in a tuple store for its two inserts: dearer than reading the rows twice."""
        source = self.STAGED_BATCH
        events = self.insert(
            data=self.store_data(changed=None), source=source, region="s.region", store_id="s.store_id",
            event_type="CAST(:j_registered AS TEXT)", schema="CAST(:j_registered_schema AS TEXT)", one_bundle=one_bundle,
        ).replace(":now", "CAST(:now AS TIMESTAMP WITH TIME ZONE)")
        return self._stores_insert(source, "s"), events

    @staticmethod
    def _stores_insert(source: str, alias: str) -> str:
        """``INSERT INTO stores … SELECT`` of new open stores from the rows of ``source`` (named ``alias``)."""
        columns = ["store_id", *STORE_FIELDS]
        written = ["platform_id", *columns, "status", "first_submission_id", "last_submission_id", "updated_at", "closed_at"]
        return (f"INSERT INTO stores ({', '.join(written)}) SELECT CAST(:platform AS TEXT), "
                f"{', '.join(f'{alias}.{name}' for name in columns)}, 'open', CAST(:submission AS TEXT), CAST(:submission AS TEXT), "
                f"CAST(:now AS TIMESTAMP WITH TIME ZONE), NULL {source}")

    def store_fields(self) -> str:
        """The store's own members of its event data (``"store_id":…`` up to the code check), JSON text: the staged
        row's ``event_fields`` (made in Python as the row was checked, :func:`services.bridge.store_values.event_fields`),
        or the same members written here for a row staged without them. COALESCE evaluates the second argument only
        where the first is null."""
        q = self.quote
        members = {
            "store_id": q("s.store_id"), "merchant_name": q("s.merchant_name"), "exemption_declared": self.boolean("s.exemption_declared"),
            "region": q("s.region"), "region_check": q("s.region_check"), "shop_name": q("s.shop_name"), "shop_url": q("s.shop_url"),
            "category": q("s.category"), "above_threshold": self.boolean("s.above_threshold"),
        }
        text = " || ',' || ".join(f"'\"{name}\":' || {value}" for name, value in members.items())
        # No code, no code check: the keys are absent, as the models have it.
        tail = f"""CASE WHEN s.uscc IS NULL THEN '' ELSE ',"uscc":' || {q("s.uscc")} || ',"uscc_check":' || {q("s.uscc_check")} END"""
        return f"COALESCE(s.event_fields, {text} || {tail})"

    def store_data(self, *, changed: str | None, fields: str | None = None) -> str:
        """A store registered or updated event's data: the platform, the store's members (``fields``, by default
        :meth:`store_fields`), the submission and, where ``changed`` (the JSON-text expression of the changed
        fields' list) is not null, that list — absent on a registered store's event. Binds :d_head and :d_tail
        (:func:`_data_params`): the constant members before and after the store's, one piece each."""
        tail = "'}'" if changed is None else f"""COALESCE(',"changed":' || {changed}, '') || '}}'"""
        return f"CAST(:d_head AS TEXT) || {fields or self.store_fields()} || CAST(:d_tail AS TEXT) || {tail}"

    def closed_data(self) -> str:
        q = self.quote
        pairs = {"platform_id": "CAST(:j_platform AS TEXT)", "store_id": q("st.store_id"), "region": q("st.region"),
                 "submission_id": "CAST(:j_submission AS TEXT)", "period": "CAST(:j_period AS TEXT)",
                 "closed_at": "CAST(:j_closed_at AS TEXT)"}
        return self.obj(pairs, f"""CASE WHEN st.uscc IS NULL THEN '' ELSE ',"uscc":' || {q("st.uscc")} END""")
