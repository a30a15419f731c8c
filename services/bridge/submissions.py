"""Receiving a semi-annual submission: stream the file, check every row, stage the valid ones.

Nothing here touches the subject database. Rows go to ``staged_stores`` in batches (each batch its own
short transaction, so memory and locks stay small and progress is visible); the submission becomes
``staged`` only when the whole file arrived. :mod:`services.bridge.apply` then applies it in one
transaction. A broken upload therefore leaves, at worst, staged rows of a submission that is never applied.

A broken upload is ``interrupted`` with the line it stopped at (``resume_line``: the first line after its last
staged batch). The platform either sends the file's rest from that line (:meth:`Receiver.resume`; its staged rows
and findings are kept for that, for ``resume_window_s``), or resends the whole file under the same
Idempotency-Key, which discards them. Both end where one uninterrupted upload would.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncConnection

from contracts.events.bridge import UsccCheck
from contracts.ids import new_id
from services.bridge import bulk_rows, metrics
from services.bridge.bulk_rows import BulkCheck, BulkRows
from services.bridge.domain import china_date
from services.bridge.staging import StagedLines, count_staged, drop_staged, stage_bulk, stage_rows
from services.bridge.store import findings, for_update, staged_stores, submissions, unique_violation, uscc_overrides, write_audit
from services.bridge.store_values import event_fields, store_values
from services.bridge.uploads import LineError, RowStream
from services.bridge.validation import FastCheck, Finding, Severity, StoreRecord, check_row
from services.runtime.auth import Caller
from services.runtime.clock import Clock
from services.runtime.keys import FieldCipher
from services.runtime.logs import trace_id_var
from services.runtime.service import Service

log = logging.getLogger("redshield.bridge.submissions")


class State(StrEnum):
    RECEIVING = "receiving"
    STAGED = "staged"
    APPLIED = "applied"
    #: The upload broke off; its staged rows were dropped (or will be by the janitor). Resend it.
    INTERRUPTED = "interrupted"
    #: Nothing valid to apply: applying it would close every store of the platform.
    REJECTED = "rejected"
    FAILED = "failed"


#: A resend with the same idempotency key is answered with the submission it names, unread.
SETTLED = frozenset({State.STAGED, State.APPLIED, State.REJECTED})


class Superseded(Exception):
    """This upload was declared broken (stale) and resent: its stream must stop writing."""


class InProgress(Exception):
    """The same idempotency key is being uploaded right now."""


class NotResumable(Exception):
    """The submission cannot continue from the line asked for: the reason, and the line it could continue from."""

    def __init__(self, detail: str, resume_line: int | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.resume_line = resume_line

#: Rows checked between two turns of the event loop while a batch is written.
_TURN_ROWS = 500


@dataclass(slots=True)
class _Batch:
    #: Each store id's first line in the batch and its record; None for a row of the bulk lane (kept in ``bulk``).
    records: dict[str, tuple[int, StoreRecord | None]] = field(default_factory=dict)
    bulk: list[BulkRows] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    flagged_lines: set[int] = field(default_factory=set)
    refused: int = 0
    total: int = 0
    #: Bytes of the file read when the batch was complete: the progress its commit records.
    bytes_read: int = 0
    #: The batch's lines: from the line after the previous batch's (the file's first, the part's first) to the line
    #: after its last row — where the upload goes on if it breaks after this batch's commit.
    first_line: int = 1
    next_line: int = 0
    #: A CSV file's header line, recorded with the first batch (a resumed part does not repeat it).
    csv_header: str | None = None

    def size(self) -> int:
        return len(self.records) + len(self.findings)


class ApplyingWhileStaged(Protocol):
    """A submission applied batch by batch as it is staged, committed whole at the end
    (:class:`services.bridge.streaming_apply.StreamingApply`)."""

    async def batch(self, lines: StagedLines) -> None: ...

    async def finish(self, *, content_sha256: str, bytes_received: int) -> bool: ...

    async def abandon(self) -> None: ...


class _Applying:
    """The apply running beside the staging, while there is one: batch k is applied (its own connection) once it is
    staged, while batch k+1 is staged and batch k+2 checked; at most one batch's apply waits behind the staging."""

    def __init__(self, submission_id: str, now: ApplyingWhileStaged | None) -> None:
        self.submission_id = submission_id
        self.now = now
        self.pending: list[asyncio.Task[None]] = []

    def queue(self, staging: asyncio.Task[StagedLines]) -> None:
        if self.now is not None:
            previous = self.pending[-1] if self.pending else None
            self.pending.append(asyncio.create_task(self._apply(staging, previous)))

    async def _apply(self, staging: asyncio.Task[StagedLines], previous: asyncio.Task[None] | None) -> None:
        lines = await staging
        if previous is not None:
            await previous
        if self.now is None:
            return
        try:
            await self.now.batch(lines)
        except Exception:
            # Applying as it is staged is a shortcut: the staging goes on, and the applier applies the whole file.
            log.warning("applying submission %s as it is staged failed; it is applied once staged", self.submission_id, exc_info=True)
            await self.abandon()

    async def keep_up(self) -> None:
        """Wait until at most one batch's apply is still running (memory stays flat however slow the applying)."""
        while len(self.pending) > 1:
            await self.pending.pop(0)

    async def drain(self) -> None:
        while self.pending:
            await self.pending.pop(0)

    async def stop(self) -> None:
        """The upload broke: the applies in flight cancelled, the transaction rolled back."""
        for task in self.pending:
            task.cancel()
        for task in self.pending:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self.pending.clear()
        await self.abandon()

    async def abandon(self) -> None:
        current, self.now = self.now, None
        if current is not None:
            try:
                await current.abandon()
            except Exception:  # its connection is gone with it; PostgreSQL rolls the transaction back
                log.warning("could not roll back the apply beside the staging", exc_info=True)


class Receiver:
    def __init__(self, service: Service, *, clock: Clock, cipher: FieldCipher, mac_key: bytes, batch_size: int = 5000,
                 stale_after_s: float = 60.0, resume_window_s: float = 86_400.0) -> None:
        #: Set by the app: starts applying a submission as it is staged where that is possible (PostgreSQL).
        self.apply_while_staged: Callable[[str], Awaitable[ApplyingWhileStaged | None]] | None = None
        self.service = service
        self.clock = clock
        self.cipher = cipher
        self.mac_key = mac_key
        self.batch_size = batch_size
        self.stale_after_s = stale_after_s
        #: How long an interrupted upload's staged rows wait for the rest of its file.
        self.resume_window_s = resume_window_s

    async def existing(self, platform_id: str, idempotency_key: str | None) -> dict[str, Any] | None:
        if idempotency_key is None:
            return None
        async with self.service.uow() as uow:
            row = (await uow.conn.execute(sa.select(submissions).where(
                submissions.c.platform_id == platform_id, submissions.c.idempotency_key == idempotency_key))).first()
        return dict(row._mapping) if row else None

    async def start(self, *, caller: Caller, platform_id: str, period: str, fmt: str, idempotency_key: str | None,
                    previous: dict[str, Any] | None) -> str:
        """Open (or, for a resend of a broken upload with the same key, reopen) a submission; returns its id."""
        now = self.clock.now()
        superseded = False
        async with self.service.uow() as uow:
            action = "submission.received"
            if previous is not None:
                if previous["state"] == State.RECEIVING and (now - aware(previous["heartbeat_at"])).total_seconds() < self.stale_after_s:
                    raise InProgress(previous["submission_id"])
                # The broken attempt gives its key to the new one; a stream still writing to it finds it no longer receiving.
                await discard_upload(uow.conn, previous["submission_id"])
                await uow.conn.execute(sa.update(submissions).where(submissions.c.submission_id == previous["submission_id"]).values(
                    idempotency_key=None,
                    state=sa.case((submissions.c.state == State.RECEIVING, State.INTERRUPTED.value), else_=submissions.c.state),
                    failure=sa.func.coalesce(submissions.c.failure, "superseded by a resend with the same Idempotency-Key")))
                action = "submission.resent"
                superseded = previous["state"] == State.RECEIVING
            submission_id = new_id()
            await self._give_up_waiting_parts(uow.conn, platform_id, submission_id)
            await uow.conn.execute(sa.insert(submissions).values(
                submission_id=submission_id, platform_id=platform_id, period=period, format=fmt, idempotency_key=idempotency_key,
                state=State.RECEIVING, submitted_by=caller.subject, received_at=now, heartbeat_at=now, trace_id=trace_id_var.get()))
            await write_audit(uow.conn, at=now, actor=caller.subject, role=caller.role.value, action=action,
                              target=f"submission:{submission_id}",
                              detail={"platform_id": platform_id, "period": period, "format": fmt, "idempotency_key": idempotency_key,
                                      "replaces": previous["submission_id"] if previous else None})
            await uow.commit()
        if superseded:
            metrics.submissions_reached(State.INTERRUPTED)
        return submission_id

    @staticmethod
    async def _give_up_waiting_parts(conn: AsyncConnection, platform_id: str, newer: str) -> None:
        """A platform's new upload ends its interrupted ones: resumed later, an older file would apply over it."""
        waiting = (await conn.execute(sa.select(submissions.c.submission_id).where(
            submissions.c.platform_id == platform_id, submissions.c.state == State.INTERRUPTED,
            submissions.c.resume_line.is_not(None)))).scalars().all()
        for submission_id in waiting:
            await end_waiting(conn, submission_id, f"superseded by submission {newer}")

    async def receive(self, submission_id: str, rows: RowStream) -> State:
        """Stage every valid row of ``rows``; any exception leaves the submission unapplied and marked interrupted.
        Answers ``staged`` (the applier applies it), ``applied`` (applied as it was staged) or ``rejected``.

        Batches are checked while the previous one is written: the checks are Python on the event loop, the staging
        is the database's work (COPY, its index, the commit), so the two overlap. Writes stay one at a time and in
        file order, so a store id's first occurrence is staged before a later batch looks for it. Where it can
        (PostgreSQL), each staged batch is also applied then, in one transaction committed at the file's end
        (:mod:`services.bridge.streaming_apply`)."""
        first = _Batch(csv_header=rows.header_text)
        unknown = rows.unknown_columns()
        if unknown:
            first.findings.append(Finding(1, Severity.WARNING, "unknown-column", f"ignored column(s): {', '.join(unknown)}"))
        return await self._receive(submission_id, 1, rows, first, _Applying(submission_id, await self._begin_applying(submission_id)))

    async def resume(self, submission_id: str, rows: RowStream, *, from_line: int, caller: Caller) -> State:
        """Stage the rest of an interrupted upload's file, ``rows`` numbered from ``from_line`` on, and answer as
        :meth:`receive`. The submission then goes the applier's way (its earlier part's rows are staged, not applied).
        Raises :class:`NotResumable` when it is not interrupted, ``from_line`` is not the line it stopped at, or its
        staged rows are gone (a database crash restart empties the staging table): then only a resend will do."""
        now = self.clock.now()
        async with self.service.uow() as uow:
            conn = uow.conn
            sub = (await conn.execute(for_update(sa.select(submissions).where(submissions.c.submission_id == submission_id), conn))).one()
            self.check_resumable(sub._mapping, from_line)
            found = await count_staged(conn, submission_id)
            if found != sub.rows_staged:
                await end_waiting(conn, submission_id, f"staged rows lost ({found} of {sub.rows_staged} found; the database restarted?): "
                                                       "resend the whole file")
                await uow.commit()
                raise NotResumable(f"the staged rows of submission {submission_id} are gone ({found} of {sub.rows_staged}): "
                                   "resend the whole file")
            await conn.execute(sa.update(submissions).where(submissions.c.submission_id == submission_id).values(
                state=State.RECEIVING, heartbeat_at=now, failure=None, parts=submissions.c.parts + 1))
            await write_audit(conn, at=now, actor=caller.subject, role=caller.role.value, action="submission.resumed",
                              target=f"submission:{submission_id}", detail={"from_line": from_line, "part": sub.parts + 1})
            await uow.commit()
        metrics.RESUMES.inc()
        return await self._receive(submission_id, sub.parts + 1, rows, _Batch(first_line=from_line), _Applying(submission_id, None),
                                   bytes_before=sub.bytes_received)

    @staticmethod
    def check_resumable(sub: Mapping[str, Any], from_line: int) -> None:
        """Raises :class:`NotResumable` unless the submission is interrupted and continues from ``from_line``."""
        if sub["state"] != State.INTERRUPTED or sub["resume_line"] is None:
            raise NotResumable(f"submission {sub['submission_id']} is {sub['state']}" + ("" if sub["state"] != State.INTERRUPTED else
                               " and cannot be resumed (nothing of it was staged, or its rows expired): resend the whole file"))
        if from_line != sub["resume_line"]:
            raise NotResumable(f"submission {sub['submission_id']} continues from line {sub['resume_line']}, not {from_line}",
                               sub["resume_line"])

    async def _receive(self, submission_id: str, part: int, rows: RowStream, batch: _Batch, applying: _Applying,
                       bytes_before: int = 0) -> State:
        """Every write names the ``part`` (upload) it belongs to: a stalled upload declared dead and resumed by another
        must not write into the submission when it wakes up (it is :class:`Superseded` instead)."""
        day = china_date(self.clock.now())
        writing: asyncio.Task[StagedLines] | None = None
        metrics.RECEIVING.inc()
        try:
            fast = FastCheck(day)
            bulk = BulkCheck(fast, self.mac_key)
            checked = 0
            async for items in rows.batches(bulk):
                for whole in items:
                    item: Any = whole
                    rest: BulkRows | None = None
                    while item is not None:
                        # A batch takes no more rows than it has room for: its events then fit one outbox bundle.
                        room = self.batch_size - batch.size()
                        if isinstance(item, BulkRows) and 0 < room < len(item.lines):
                            item, rest = item.split(room)
                        self._check(item, fast, batch)
                        checked += 1
                        if checked % _TURN_ROWS == 0:
                            await asyncio.sleep(0)  # the write in flight gets its turns between its statements
                        if batch.size() >= self.batch_size:
                            batch.bytes_read = bytes_before + rows.reader.bytes_read
                            batch.next_line = item.next_line()
                            if writing is not None:
                                await writing
                            await applying.keep_up()
                            writing = asyncio.create_task(self._flush(submission_id, part, batch))
                            applying.queue(writing)
                            batch = _Batch(first_line=batch.next_line)
                        item, rest = rest, None
            if writing is not None:
                await writing
            batch.bytes_read = bytes_before + rows.reader.bytes_read
            batch.next_line = rows.reader.number + 1
            writing = asyncio.create_task(self._flush(submission_id, part, batch))
            applying.queue(writing)
            await writing
            await applying.drain()
            if applying.now is not None and await applying.now.finish(content_sha256=rows.reader.sha256.hexdigest(),
                                                                       bytes_received=rows.reader.bytes_read):
                applying.now = None
                return State.APPLIED
            applying.now = None  # abandoned by finish, or never begun
            return await self._finish(submission_id, part, rows, bytes_before)
        except BaseException as exc:
            if writing is not None and not writing.done():
                # Its transaction must end before the staging is dropped.
                writing.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    try:
                        await writing
                    except Exception:  # the first failure is the one raised; this one is only reported
                        log.warning("the batch being staged failed too while the upload broke", exc_info=True)
            await applying.stop()
            await self._interrupted(submission_id, part, exc)
            raise
        finally:
            metrics.RECEIVING.dec()

    async def _begin_applying(self, submission_id: str) -> ApplyingWhileStaged | None:
        if self.apply_while_staged is None:
            return None
        try:
            return await self.apply_while_staged(submission_id)
        except Exception:
            log.warning("could not start applying submission %s as it is staged; it is applied once staged", submission_id,
                        exc_info=True)
            return None

    def _check(self, item: Any, fast: FastCheck, batch: _Batch) -> None:
        if isinstance(item, BulkRows):
            self._take_bulk(item, batch)
            return
        batch.total += 1
        if isinstance(item, LineError):
            batch.refused += 1
            batch.findings.append(Finding(item.line, Severity.ERROR, item.code, item.message))
            return
        record = fast.record(item.values)
        flagged = False
        if record is None:
            # Something to report (or a value only the full rules accept, such as a number for a text field).
            verdict = check_row(item.values, line=item.line, on=fast.on)
            batch.findings.extend(verdict.findings)
            if verdict.record is None:
                batch.refused += 1
                return
            record = verdict.record
            flagged = any(f.severity is Severity.WARNING for f in verdict.findings)
        first = batch.records.get(record.store_id)
        if first is not None:
            batch.refused += 1
            batch.findings.append(_duplicate(item.line, record.store_id, first[0]))
            return
        if flagged:
            batch.flagged_lines.add(item.line)
        batch.records[record.store_id] = (item.line, record)

    @staticmethod
    def _take_bulk(item: BulkRows, batch: _Batch) -> None:
        """The bulk lane's rows, checked already: only a store id met before in the batch makes one a duplicate."""
        records, refused = batch.records, 0
        for store_id, line in zip(item.store_ids, item.lines, strict=True):
            first = records.get(store_id)
            if first is None:
                records[store_id] = (line, None)
            else:
                refused += 1
                batch.findings.append(_duplicate(line, store_id, first[0]))
        batch.total += len(item.lines)
        batch.refused += refused
        batch.bulk.append(item)

    async def _flush(self, submission_id: str, part: int, batch: _Batch) -> StagedLines:
        """Stage a batch in its own transaction; returns the lines it staged."""
        async with self.service.uow() as uow:
            conn = uow.conn
            await self._apply_overrides(conn, batch)
            if conn.dialect.name == "postgresql":
                # A store id met on an earlier batch's line is rare, and the staging's primary key refuses it: looking
                # every id up first (a descent of an index of millions each) was ~15 % of the staging backend's work.
                try:
                    async with conn.begin_nested():
                        rows_staged = await self._stage(conn, submission_id, batch)
                except Exception as exc:
                    if not unique_violation(exc):
                        raise
                    await self._refuse_staged_before(conn, submission_id, batch)
                    rows_staged = await self._stage(conn, submission_id, batch)
            else:
                await self._refuse_staged_before(conn, submission_id, batch)
                rows_staged = await self._stage(conn, submission_id, batch)
            if batch.findings:
                await conn.execute(sa.insert(findings), [
                    {"submission_id": submission_id, "line": f.line, "store_id": f.store_id, "severity": f.severity.value,
                     "code": f.code, "field": f.field, "message": f.message[:500]}
                    for f in sorted(batch.findings, key=lambda f: f.line)
                ])
            progress = await conn.execute(sa.update(submissions).where(
                submissions.c.submission_id == submission_id, submissions.c.state == State.RECEIVING, submissions.c.parts == part).values(
                rows_total=submissions.c.rows_total + batch.total,
                rows_staged=submissions.c.rows_staged + rows_staged,
                rows_refused=submissions.c.rows_refused + batch.refused,
                rows_flagged=submissions.c.rows_flagged + len(batch.flagged_lines),
                bytes_received=batch.bytes_read,
                heartbeat_at=self.clock.now(),
                resume_line=batch.next_line,
                **({"csv_header": batch.csv_header} if batch.csv_header is not None else {}),
            ))
            if progress.rowcount != 1:
                raise Superseded(submission_id)  # rolls this batch back
            await uow.commit()
        metrics.rows_committed(staged=rows_staged, flagged=len(batch.flagged_lines), refused=batch.refused)
        return StagedLines(batch.first_line, batch.next_line, rows_staged)

    @staticmethod
    async def _refuse_staged_before(conn: AsyncConnection, submission_id: str, batch: _Batch) -> None:
        """A store id staged by an earlier batch of this file: the first occurrence stands, this line is refused."""
        if not batch.records:
            return
        ids = list(batch.records)
        listed = (staged_stores.c.store_id == sa.any_(sa.bindparam("ids", ids, type_=ARRAY(sa.String))) if conn.dialect.name == "postgresql"
                  else staged_stores.c.store_id.in_(ids))
        earlier = await conn.execute(sa.select(staged_stores.c.store_id, staged_stores.c.line).where(
            staged_stores.c.submission_id == submission_id, listed))
        for store_id, first_line in earlier:
            line, _ = batch.records.pop(store_id)
            batch.flagged_lines.discard(line)
            batch.refused += 1
            batch.findings.append(_duplicate(line, store_id, first_line))

    async def _stage(self, conn: AsyncConnection, submission_id: str, batch: _Batch) -> int:
        """The batch's rows into the staging table (the row path's and the bulk lane's); returns how many."""
        staged = [self._staged_row(submission_id, line, record) for line, record in batch.records.values() if record is not None]
        if staged:
            await stage_rows(conn, staged)
        bulk = bulk_rows.kept(batch.bulk, batch.records)
        if bulk is not None:
            await stage_bulk(conn, bulk, submission_id)
        return len(staged) + (bulk.num_rows if bulk is not None else 0)

    async def _apply_overrides(self, conn: AsyncConnection, batch: _Batch) -> None:
        """A failing code a person already confirmed is not flagged again."""
        failing = {r.uscc for _, r in batch.records.values() if r is not None and r.uscc_check is UsccCheck.CHECK_FAILED and r.uscc}
        if not failing:
            return
        confirmed = set((await conn.execute(sa.select(uscc_overrides.c.uscc).where(uscc_overrides.c.uscc.in_(failing)))).scalars())
        if not confirmed:
            return
        for store_id, (line, record) in list(batch.records.items()):
            if record is not None and record.uscc in confirmed:
                batch.records[store_id] = (line, _with_check(record, UsccCheck.OVERRIDDEN))

        def overridden(store_id: str | None) -> bool:
            entry = batch.records.get(store_id) if store_id is not None else None
            return entry is not None and entry[1] is not None and entry[1].uscc in confirmed

        batch.findings = [f for f in batch.findings if not (f.code == "uscc-check-failed" and overridden(f.store_id))]
        still_flagged = {f.line for f in batch.findings if f.severity is Severity.WARNING}
        batch.flagged_lines &= still_flagged

    def _staged_row(self, submission_id: str, line: int, record: StoreRecord) -> tuple[Any, ...]:
        """The row in :data:`services.bridge.store.STAGED_COLUMNS` order."""
        return (submission_id, record.store_id, line, *store_values(record, self.cipher, self.mac_key), event_fields(record))

    async def _finish(self, submission_id: str, part: int, rows: RowStream, bytes_before: int) -> State:
        now = self.clock.now()
        async with self.service.uow() as uow:
            staged = (await uow.conn.execute(
                sa.select(submissions.c.rows_staged).where(submissions.c.submission_id == submission_id))).scalar_one()
            state = State.STAGED if staged else State.REJECTED
            finished = await uow.conn.execute(sa.update(submissions).where(
                submissions.c.submission_id == submission_id, submissions.c.state == State.RECEIVING, submissions.c.parts == part).values(
                state=state, staged_at=now, heartbeat_at=now, resume_line=None,
                # One upload's digest is the file's; a resumed file's parts were hashed apart, so it has none.
                content_sha256=rows.reader.sha256.hexdigest() if part == 1 else None,
                bytes_received=bytes_before + rows.reader.bytes_read,
                failure=None if staged else "no valid row: applying it would close every store of the platform"))
            if finished.rowcount != 1:
                raise Superseded(submission_id)
            await uow.commit()
        metrics.submissions_reached(state)
        return state

    async def _interrupted(self, submission_id: str, part: int, exc: BaseException) -> None:
        """Its staged batches are kept: the upload can go on from the line after them (:meth:`resume`)."""
        log.warning("submission %s broke off: %r", submission_id, exc)
        try:
            async with self.service.uow() as uow:
                marked = await uow.conn.execute(sa.update(submissions).where(
                    submissions.c.submission_id == submission_id, submissions.c.state == State.RECEIVING,
                    submissions.c.parts == part).values(
                    state=State.INTERRUPTED, failure=f"upload broke off: {type(exc).__name__}: {exc}"[:1500] + _resume_hint(submission_id),
                    heartbeat_at=self.clock.now()))
                await uow.commit()
            # A superseded upload was counted interrupted by the resend that took its key.
            metrics.submissions_reached(State.INTERRUPTED, marked.rowcount)
        except Exception:
            # The janitor finds it by its stale heartbeat; nothing of it is applied either way.
            log.exception("could not mark submission %s interrupted", submission_id)

    async def sweep_stale(self) -> int:
        """Mark uploads whose process died mid-stream (no heartbeat for a while) interrupted, their staged rows kept
        for a resume; discard the staged rows of interrupted uploads not resumed within ``resume_window_s``."""
        now = self.clock.now().timestamp()
        async with self.service.uow() as uow:
            waiting = (await uow.conn.execute(
                sa.select(submissions.c.submission_id, submissions.c.state, submissions.c.heartbeat_at).where(
                    sa.or_(submissions.c.state == State.RECEIVING,
                           sa.and_(submissions.c.state == State.INTERRUPTED, submissions.c.resume_line.is_not(None)))))).all()
            stale = [row.submission_id for row in waiting
                     if row.state == State.RECEIVING and aware(row.heartbeat_at).timestamp() < now - self.stale_after_s]
            expired = [row.submission_id for row in waiting
                       if row.state == State.INTERRUPTED and aware(row.heartbeat_at).timestamp() < now - self.resume_window_s]
            for submission_id in stale:
                # Still receiving: a submission applied as it was staged may have committed since it was read.
                await uow.conn.execute(sa.update(submissions).where(
                    submissions.c.submission_id == submission_id, submissions.c.state == State.RECEIVING).values(
                    state=State.INTERRUPTED, failure="upload stopped without finishing (no progress)" + _resume_hint(submission_id)))
            for submission_id in expired:
                await end_waiting(uow.conn, submission_id, "not resumed in time: resend the whole file")
            await uow.commit()
        metrics.submissions_reached(State.INTERRUPTED, len(stale))
        return len(stale)


def _resume_hint(submission_id: str) -> str:
    return f"; send the rest of the file from its resume_line (PATCH /v1/submissions/{submission_id}?from_line=…), or resend it whole"


async def discard_upload(conn: AsyncConnection, submission_id: str) -> None:
    """What an upload that is to be resent left: its staged rows and its findings (the resend reports them again)."""
    await drop_staged(conn, submission_id)
    await conn.execute(sa.delete(findings).where(findings.c.submission_id == submission_id))


async def end_waiting(conn: AsyncConnection, submission_id: str, reason: str, *, state: State | None = None) -> None:
    """An upload that can no longer be resumed: what it left discarded, no ``resume_line``, ``reason`` added to its
    failure; with ``state``, moved there too. Only a resend under its Idempotency-Key brings the file in now."""
    await discard_upload(conn, submission_id)
    failure = submissions.c.failure
    await conn.execute(sa.update(submissions).where(submissions.c.submission_id == submission_id).values(
        resume_line=None, failure=sa.case((failure.is_(None), reason), else_=failure + "; " + reason),
        **({"state": state} if state is not None else {})))


def _duplicate(line: int, store_id: str, first_line: int) -> Finding:
    return Finding(line, Severity.ERROR, "duplicate-store-id",
                   f"store_id {store_id!r} already given on line {first_line}; the first stands",
                   "store_id", store_id)


def _with_check(record: StoreRecord, check: UsccCheck) -> StoreRecord:
    return replace(record, uscc_check=check)


def aware(moment: datetime) -> datetime:
    # SQLite hands back naive datetimes for timezone-aware columns; every time we store is UTC.
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
