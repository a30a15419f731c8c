"""The deadline scheduler: finds deadlines whose notice is due, emits "approaching" and "missed" exactly once
each, and acts on a missed deadline where the rules say what follows (first handling → the bureau's track,
mediation → ended on the time limit).

Exactly once: a notice's flag is claimed with a conditional update in the transaction that writes its event to
the outbox. A second scheduler (another replica, or this one after a crash) finds the flag set and moves on.
Time comes from the service's clock, so tests move through months in seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable

from services.channel import domain, metrics, store
from services.channel.handling import Handling
from services.runtime.uow import UnitOfWork

log = logging.getLogger("redshield.channel.scheduler")


class DeadlineScheduler:
    def __init__(self, *, uow: Callable[[], UnitOfWork], handling: Handling, interval: float, batch_size: int = 200,
                 count_every: float = 60.0) -> None:
        self.uow = uow
        # The open-items gauge is a GROUP BY over the open items: once a minute, not on every scrape or pass.
        self.count_every = count_every
        self._counted_at: float | None = None
        self.handling = handling
        self.interval = interval
        self.batch_size = batch_size
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def run_once(self) -> int:
        """One pass over what is due now; returns the number of notices sent."""
        sent = 0
        while True:
            now = self.handling.clock.now()
            async with self.uow() as uow:
                due = await store.due_notices(uow.conn, now, self.batch_size)
            for notice in due:
                sent += await self._settle(notice)
            if len(due) < self.batch_size:
                return sent

    async def _settle(self, notice: store.DueNotice) -> int:
        now = self.handling.clock.now()
        async with self.uow() as uow:
            loaded = await store.load_track(uow.conn, notice.complaint_id)  # locks the item first, as transitions do
            if loaded is None or loaded.track.deadline is None or not await store.claim_notice(uow.conn, notice, now):
                return 0  # settled by someone else, or the deadline closed meanwhile
            track = loaded.track
            assert track.deadline is not None
            kind = track.deadline.kind
            sent = 0
            if notice.missed or now < track.deadline.deadline.expires_at:
                # A clock that jumped past the whole window sends "missed" only: "approaching" after the fact
                # would tell the platform nothing, and its flag is set so it never goes out later either.
                event = domain.deadline_notice(track, missed=notice.missed, at=now)
                self.handling.publish(uow, event, subject=track.complaint_id, region=track.region, platform_id=track.platform_id, time=now)
                sent = 1
            if notice.missed:
                steps = domain.act_on_missed_deadline(track, at=now, calendar=self.handling.calendar)
                if steps:
                    await store.update_track(uow.conn, loaded, steps)
                    await self.handling.record(uow, steps)
            await uow.commit()
        if notice.missed:
            metrics.deadline_missed(kind)
        return sent

    async def count_open(self) -> None:
        async with self.uow() as uow:
            counts = await store.open_counts(uow.conn)
        metrics.open_items(counts, store.OPEN_STATES)
        self._counted_at = time.monotonic()

    async def run(self) -> None:
        while not self._stopping.is_set():
            try:
                await self.run_once()
                if self._counted_at is None or time.monotonic() - self._counted_at >= self.count_every:
                    await self.count_open()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("deadline pass failed; trying again next interval")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), timeout=self.interval)

    async def start(self) -> None:
        self._stopping.clear()
        self._task = asyncio.create_task(self.run(), name="channel-deadline-scheduler")

    async def stop(self) -> None:
        self._stopping.set()
        if self._task is not None:
            task, self._task = self._task, None
            with contextlib.suppress(asyncio.CancelledError):
                await task

