"""The watch: a periodic job that turns the passing of deadlines into events, each exactly once.

Every tick reads the service clock, so tests (and demos) move time by hand instead of waiting months.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from services.bridge.data_requests import DataRequests
from services.bridge.submission_deadlines import DeadlineWatch

log = logging.getLogger("redshield.bridge.watch")


@dataclass(frozen=True, slots=True)
class Tick:
    requests_overdue: int
    submissions_missed: int


class Watch:
    def __init__(self, requests: DataRequests, deadlines: DeadlineWatch, *, interval_s: float) -> None:
        self.requests = requests
        self.deadlines = deadlines
        self.interval_s = interval_s

    async def tick(self) -> Tick:
        return Tick(requests_overdue=await self.requests.mark_overdue(), submissions_missed=await self.deadlines.note_missed())

    async def run(self) -> None:
        while True:
            try:
                await self.tick()
            except Exception:  # a failed pass is logged and retried next time; the job must not die with it
                log.exception("watch pass failed")
            await asyncio.sleep(self.interval_s)
