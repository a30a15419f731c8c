"""The outbox relay: publishes committed events in commit order, then marks them sent.

A row is one event, or a bundle of many (services/runtime/bundles.py), published in its order and marked as one.

A crash between publish and mark means the same events are sent again; consumers drop them by event id
(inbox), so the effect happens once. A crash before publish loses nothing: the rows are still unsent.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from services.runtime.bundles import row_records
from services.runtime.kafka import EventProducer, OutgoingRecord
from services.runtime.metrics import OUTBOX_BACKLOG, RELAY_ERRORS, RELAY_LAG, RELAY_PUBLISHED
from services.runtime.tables import outbox

log = logging.getLogger("redshield.relay")


class OutboxRelay:
    def __init__(
        self,
        *,
        service: str,
        engine: AsyncEngine,
        producer: EventProducer,
        wakeup: asyncio.Event,
        batch_size: int = 2000,
        poll_interval: float = 0.2,
        keep_sent: timedelta = timedelta(days=1),
        topic_prefix: str = "",
    ) -> None:
        self.topic_prefix = topic_prefix
        self.service = service
        self.engine = engine
        self.producer = producer
        self.wakeup = wakeup
        self.batch_size = batch_size
        self.poll_interval = poll_interval
        self.keep_sent = keep_sent
        self._stopping = asyncio.Event()
        self._last_housekeeping = 0.0
        self._published: list[int] = []
        self._published_events = 0

    async def run(self) -> None:
        backoff = self.poll_interval
        while not self._stopping.is_set():
            try:
                sent = await self.publish_pending()
                backoff = self.poll_interval
                if sent >= self.batch_size:
                    continue  # more waiting: no sleep
                await self._housekeeping()
            except asyncio.CancelledError:
                raise
            except Exception:
                RELAY_ERRORS.labels(self.service).inc()
                log.exception("relay pass failed; retrying")
                backoff = min(backoff * 2, 5.0)
            await self._sleep(backoff)

    async def stop(self) -> None:
        """Drain what is committed, then stop: a graceful shutdown leaves nothing unsent it could send."""
        self._stopping.set()
        self.wakeup.set()
        try:
            while await self.publish_pending() > 0:
                pass
            await self.mark_published()
        except Exception:
            log.exception("relay could not drain at shutdown; rows stay in the outbox for the next start")

    async def publish_pending(self) -> int:
        """Publish the next unsent events; returns how many. Marking them sent rides on the next pass's
        transaction (or :meth:`mark_published`), so a pass takes the database once, not twice: on SQLite's
        single connection a relay that waits twice per pass falls behind a busy consumer.

        A pass takes rows in order until it holds ``batch_size`` events, bundles counted by their events, and at
        least one row (a bundle larger than a pass goes whole)."""
        async with self.engine.begin() as conn:
            await self._mark(conn)
            rows = (await conn.execute(self._next_pass())).all()
        if not rows:
            return 0
        # Queued in this pass's order into the producer's per-partition batches; the idempotent producer keeps
        # that order through retries.
        futures = await self.producer.send_many(self._records(rows))
        await asyncio.gather(*futures)
        now = datetime.now(UTC)
        self._published = [row.seq for row in rows]
        per_topic: dict[str, int] = {}
        lag = RELAY_LAG.labels(self.service)
        for row in rows:
            events = row.bundle or 1
            per_topic[row.topic] = per_topic.get(row.topic, 0) + events
            created = row.created_at if row.created_at.tzinfo else row.created_at.replace(tzinfo=UTC)
            # Once per row: a bundle's events committed together and were acknowledged together.
            lag.observe(max(0.0, (now - created).total_seconds()))
        for topic, count in per_topic.items():
            RELAY_PUBLISHED.labels(self.service, topic).inc(count)
        self._published_events = sum(per_topic.values())
        return self._published_events

    def _next_pass(self) -> sa.Select[Any]:
        """The next pass's rows: unsent, by seq, each row taken while the events before it number fewer than
        ``batch_size``. The sizes are read first, apart from the values, so a pass never loads bundles it will not send."""
        events = sa.func.coalesce(outbox.c.bundle, 1)
        unsent = (sa.select(outbox.c.seq, events.label("events")).where(outbox.c.sent_at.is_(None))
                  .order_by(outbox.c.seq).limit(self.batch_size).subquery())
        before = (sa.func.sum(unsent.c.events).over(order_by=unsent.c.seq) - unsent.c.events).label("before")
        taken = sa.select(unsent.c.seq, before).subquery()
        return (
            # The headers as the JSON text they are stored as, parsed with orjson (row_records): the JSON type's own
            # reading (the json module) was a third of a pass's Python.
            sa.select(outbox.c.seq, outbox.c.topic, outbox.c.key, sa.cast(outbox.c.headers, sa.Text).label("headers"),
                      outbox.c.value, outbox.c.created_at, outbox.c.bundle)
            .join(taken, taken.c.seq == outbox.c.seq)
            .where(taken.c.before < self.batch_size)
            .order_by(outbox.c.seq)
        )

    def _records(self, rows: Sequence[Any]) -> Iterator[OutgoingRecord]:
        prefix = self.topic_prefix
        for row in rows:
            topic = prefix + row.topic
            for key, headers, value in row_records(row.key, row.headers, row.value, row.bundle):
                yield topic, key, value, headers

    async def mark_published(self) -> None:
        """Record what the last pass published (a crash before this only means those rows go out again)."""
        if self._published:
            async with self.engine.begin() as conn:
                await self._mark(conn)

    async def _mark(self, conn: AsyncConnection) -> None:
        if self._published:
            await conn.execute(sa.update(outbox).where(outbox.c.seq.in_(self._published)).values(sent_at=datetime.now(UTC)))
            self._published = []
            self._published_events = 0

    async def backlog(self) -> int:
        """Events committed and not yet published (published rows awaiting their mark do not count)."""
        async with self.engine.connect() as conn:
            count = (await conn.execute(sa.select(sa.func.coalesce(sa.func.sum(sa.func.coalesce(outbox.c.bundle, 1)), 0))
                                        .where(outbox.c.sent_at.is_(None)))).scalar_one()
        return int(count) - self._published_events

    async def _housekeeping(self) -> None:
        if time.monotonic() - self._last_housekeeping < 5:
            return
        self._last_housekeeping = time.monotonic()
        OUTBOX_BACKLOG.labels(self.service).set(await self.backlog())
        cutoff = datetime.now(UTC) - self.keep_sent
        async with self.engine.begin() as conn:
            await conn.execute(sa.delete(outbox).where(outbox.c.sent_at.is_not(None), outbox.c.sent_at < cutoff))

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):  # the normal way to wake: the interval passed
            await asyncio.wait_for(self.wakeup.wait(), timeout=seconds)
        self.wakeup.clear()
