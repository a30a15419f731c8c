"""Each platform connected to the complaint canal gets its feed topics (``feed.<id>.complaints.v1``, ``feed.<id>.answers.v1``).

Registering (or connecting) a platform records, in the same transaction, that its topics are wanted; a background job
creates them with the deployment's prefix and marks them done. Kafka being down delays the topics, never the
registration: the job tries again until the broker answers. Creating a topic that exists is a no-op, so reruns are safe.
The ``feed_topics`` row is the record of this system step (asked, attempts, last error, done); the decision behind it
is the platform's registration, audited there.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from contracts import topics
from services.bridge.kafka_topics import ensure_topics
from services.bridge.store import feed_topics
from services.runtime.clock import Clock
from services.runtime.service import Service

log = logging.getLogger("redshield.bridge.feeds")


def feed_topic_names(platform_id: str) -> list[str]:
    return [topics.feed_complaints(platform_id), topics.feed_answers(platform_id)]


async def want_feed_topics(conn: AsyncConnection, platform_id: str, now: datetime) -> None:
    """Note, in the caller's transaction, that the platform's feed topics must exist (once; again after a failure is fine)."""
    known = (await conn.execute(sa.select(feed_topics.c.platform_id).where(feed_topics.c.platform_id == platform_id))).first()
    if known is None:
        await conn.execute(sa.insert(feed_topics).values(platform_id=platform_id, requested_at=now, attempts=0))


class FeedTopics:
    def __init__(self, service: Service, *, clock: Clock, wakeup: asyncio.Event, retry_s: float, partitions: int,
                 timeout_ms: int = 10_000) -> None:
        self.service = service
        self.clock = clock
        self.wakeup = wakeup
        self.retry_s = retry_s
        self.partitions = partitions
        self.timeout_ms = timeout_ms

    async def pending(self) -> list[str]:
        async with self.service.uow() as uow:
            return list((await uow.conn.execute(sa.select(feed_topics.c.platform_id).where(feed_topics.c.created_at.is_(None))
                                                .order_by(feed_topics.c.requested_at))).scalars())

    async def create_pending(self) -> int:
        """Create the topics of every platform still waiting; returns how many platforms were settled."""
        settled = 0
        for platform_id in await self.pending():
            names = feed_topic_names(platform_id)
            try:
                await ensure_topics(self.service.settings, names, partitions=self.partitions, timeout_ms=self.timeout_ms)
            except Exception as exc:  # the broker is down or refused: recorded on the row, tried again next pass
                async with self.service.uow() as uow:
                    await uow.conn.execute(sa.update(feed_topics).where(feed_topics.c.platform_id == platform_id).values(
                        attempts=feed_topics.c.attempts + 1, last_error=repr(exc)[:500]))
                    await uow.commit()
                raise
            now = self.clock.now()
            async with self.service.uow() as uow:
                await uow.conn.execute(sa.update(feed_topics).where(feed_topics.c.platform_id == platform_id).values(
                    created_at=now, attempts=feed_topics.c.attempts + 1, last_error=None))
                await uow.commit()
            settled += 1
        return settled

    async def run(self) -> None:
        while True:
            try:
                self.wakeup.clear()
                await self.create_pending()
                await asyncio.wait_for(self.wakeup.wait(), timeout=self.retry_s)
            except TimeoutError:
                pass
            except Exception:
                log.exception("feed topics could not be created; trying again in %.0f s", self.retry_s)
                await asyncio.sleep(self.retry_s)
