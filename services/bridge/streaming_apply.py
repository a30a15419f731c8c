"""PostgreSQL: a submission applied while its file is still being staged, in one transaction that commits only once
the file has ended.

The receiver stages each batch in its own short transaction (progress, duplicates across batches, a broken upload
dropped). Applying only after the whole file left the two halves of the work one after the other: on a
9-million-row file, minutes of Python (reading and checking rows) and then minutes of PostgreSQL (each store's event
into the outbox, the upsert), on a box whose other core idled meanwhile. Here a second connection holds one
transaction open from the first batch: once a batch is staged, its stores' events and upsert run in that
transaction while the receiver checks the next batch; when the file ends, the closures, the submission marked
applied, one commit. Nothing of it is visible before that commit, so a submission is still applied whole or not at
all: a broken upload or a killed process rolls it back (PostgreSQL does when the connection dies), and what is left
is what the staging leaves.

It holds the platform's row lock for the whole upload (as :class:`~services.bridge.apply.Applier` does for an
apply), and steps aside — the submission then ends ``staged`` and the applier applies it as before — whenever it
could change the order in which a platform's submissions apply, or cannot take the lock at once: another
submission of the platform staged or being received when it starts, or staged before it ends; the platform locked
by another transaction; a failure of its own. On SQLite (one writer) it never starts.
"""

from __future__ import annotations

import logging
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncTransaction

from services.bridge import metrics
from services.bridge.apply import Applier, PlatformBusy, Steps
from services.bridge.staging import StagedLines
from services.bridge.store import stores, submissions
from services.bridge.submissions import State

log = logging.getLogger("redshield.bridge.streaming_apply")

#: The stores open before this submission (the only ones it can close), kept for the transaction.
OPEN_BEFORE = "bridge_open_before"
_open_before = sa.table(OPEN_BEFORE, sa.column("store_id", sa.String))


class StreamingApply:
    def __init__(self, applier: Applier, conn: AsyncConnection, transaction: AsyncTransaction, sub: Any, domicile: str | None, *,
                 first_list: bool = False) -> None:
        self.applier = applier
        self.conn = conn
        self.transaction = transaction
        self.sub = sub
        self.domicile = domicile
        self.now = applier.clock.now()
        self.registered = 0
        self.updated = 0
        self.steps = Steps()
        #: The platform had no store (open or closed) when this transaction took its lock: see _EventSql.batch.
        self.first_list = first_list

    @classmethod
    async def begin(cls, applier: Applier, submission_id: str) -> StreamingApply | None:
        """The apply of a submission being received, or None where it must wait for the whole file (see above)."""
        engine = applier.service.engine
        if engine is None or engine.dialect.name != "postgresql":
            return None
        conn = await engine.connect()
        transaction = await conn.begin()
        try:
            sub = (await conn.execute(sa.select(submissions).where(submissions.c.submission_id == submission_id))).one()
            domicile = await applier.lock_platform(conn, sub.platform_id)
            others = (await conn.execute(sa.select(sa.func.count()).select_from(submissions).where(
                submissions.c.platform_id == sub.platform_id, submissions.c.submission_id != submission_id,
                submissions.c.state.in_([State.RECEIVING, State.STAGED])))).scalar_one()
            if sub.state != State.RECEIVING or others:
                await _close(conn, transaction)
                return None
            # The batch statements look each id up by key; their cost estimates (a nested loop per id) would have
            # PostgreSQL compile them with JIT every time, ~20 ms a statement for nothing.
            await conn.execute(sa.text("SET LOCAL jit = off"))
            # Each batch's statement keeps the batch's changed stores (20,000 rows, ~1 KB each) for its two inserts:
            # in memory, not spilled to a temporary file as the default 4 MB would have it.
            await conn.execute(sa.text("SET LOCAL work_mem = '64MB'"))
            await conn.execute(sa.text(f"CREATE TEMPORARY TABLE {OPEN_BEFORE} ON COMMIT DROP AS SELECT store_id FROM stores "
                                       "WHERE platform_id = :platform AND status = 'open'"), {"platform": sub.platform_id})
            await conn.execute(sa.text(f"ANALYZE {OPEN_BEFORE}"))  # so the closures are planned from its real size
            first_list = (await conn.execute(sa.select(sa.literal(1)).select_from(stores).where(
                stores.c.platform_id == sub.platform_id).limit(1))).first() is None
        except PlatformBusy:
            await _close(conn, transaction)
            return None
        except BaseException:
            await _close(conn, transaction)
            raise
        log.info("applying the submission as it is staged", extra={"fields": {"submission_id": submission_id}})
        return cls(applier, conn, transaction, sub, domicile, first_list=first_list)

    async def batch(self, lines: StagedLines) -> None:
        """Events and upsert for one batch just staged (committed by the receiver: this transaction sees its rows).
        A store id is staged once per file, so no batch sees a store an earlier batch of the file changed."""
        if not lines.rows:
            return
        self.steps.restart()
        registered, updated = await self.applier.apply_batch(self.conn, self.sub, self.now, lines, first_list=self.first_list)
        self.steps.lap("events_and_upsert")
        self.registered += registered
        self.updated += updated

    async def finish(self, *, content_sha256: str, bytes_received: int) -> bool:
        """After the file's last batch was staged: the closures, the submission staged and applied in one commit.
        False (and nothing applied) when the submission must go the applier's way instead."""
        conn, applier = self.conn, self.applier
        try:
            sub = (await conn.execute(sa.select(submissions).where(submissions.c.submission_id == self.sub.submission_id)
                                      .with_for_update())).one()
            earlier = (await conn.execute(sa.select(sa.func.count()).select_from(submissions).where(
                submissions.c.platform_id == sub.platform_id, submissions.c.state == State.STAGED))).scalar_one()
            if sub.state != State.RECEIVING or sub.parts != 1 or not sub.rows_staged or earlier:
                # Superseded or interrupted meanwhile (and perhaps resumed by another upload since: a second part);
                # nothing valid (the receiver rejects it); or another submission of the platform staged first, which
                # must apply first.
                await self.abandon()
                return False
            now = applier.clock.now()
            self.steps.restart()
            closed = await applier._emit_closures(conn, sub, now, OPEN_BEFORE)
            self.steps.lap("closure_events")
            await applier._close(conn, sub, now, _open_before)
            self.steps.lap("close")
            counts = {"registered": self.registered, "updated": self.updated, "closed": closed,
                      "unchanged": sub.rows_staged - self.registered - self.updated}
            await conn.execute(sa.update(submissions).where(submissions.c.submission_id == sub.submission_id).values(
                staged_at=now, heartbeat_at=now, content_sha256=content_sha256, bytes_received=bytes_received, resume_line=None))
            await applier.finish(conn, sub, now, counts, self.domicile, self.steps)
            await self.transaction.commit()
            self.steps.lap("commit")
        except Exception:
            log.exception("applying submission %s as it was staged failed; the applier applies it", self.sub.submission_id)
            await self.abandon()
            return False
        await conn.close()
        metrics.submissions_reached(State.STAGED)
        applier.applied(sub.submission_id, counts, self.steps.seconds)
        return True

    async def abandon(self) -> None:
        """Roll back everything this apply did; the staged rows are the receiver's and stay as they are."""
        await _close(self.conn, self.transaction)


async def _close(conn: AsyncConnection, transaction: AsyncTransaction) -> None:
    try:
        if transaction.is_active:
            await transaction.rollback()
    finally:
        await conn.close()

