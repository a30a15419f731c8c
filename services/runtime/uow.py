"""Unit of work: one transaction per use case; the aggregate's rows and its outgoing events commit together."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from types import TracebackType
from typing import Self

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from contracts.envelope import Envelope
from services.runtime.metrics import INBOX_DUPLICATES
from services.runtime.tables import inbox, outbox


class UnitOfWork:
    """``async with uow_factory() as uow: ...; uow.publish(topic, envelope); await uow.commit()``.

    Leaving the block without ``commit()`` rolls back, events included.
    """

    def __init__(self, engine: AsyncEngine, committed: asyncio.Event | None = None, *, service: str = "") -> None:
        self._engine = engine
        self._service = service
        self._committed = committed
        self._conn: AsyncConnection | None = None
        self._pending: list[tuple[str, Envelope]] = []

    async def __aenter__(self) -> Self:
        self._conn = await self._engine.connect()
        await self._conn.begin()
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        conn = self._conn
        self._conn = None
        if conn is None:
            return
        try:
            if conn.in_transaction():
                await conn.rollback()
        finally:
            await conn.close()

    @property
    def conn(self) -> AsyncConnection:
        if self._conn is None:
            raise RuntimeError("unit of work used outside its 'async with' block")
        return self._conn

    def publish(self, topic: str, envelope: Envelope) -> None:
        """Queue an event; it is written to the outbox in this transaction and sent after commit."""
        self._pending.append((topic, envelope))

    async def first_time(self, consumer: str, source: str, event_id: str) -> bool:
        """Record an incoming event in the inbox; False when this consumer already processed it."""
        dialect = self.conn.dialect.name
        values = {"consumer": consumer, "source": source, "event_id": event_id, "processed_at": datetime.now(UTC)}
        stmt: sa.Executable
        if dialect == "postgresql":
            stmt = postgresql.insert(inbox).values(values).on_conflict_do_nothing()
        else:
            stmt = sqlite.insert(inbox).values(values).on_conflict_do_nothing()
        result = await self.conn.execute(stmt)
        first = bool(result.rowcount)
        if not first:
            INBOX_DUPLICATES.labels(self._service, consumer).inc()
        return first

    async def first_times(self, consumer: str, events: list[tuple[str, str]]) -> set[tuple[str, str]]:
        """The inbox for a whole batch in one statement: the (source, event_id) pairs not processed before."""
        if not events:
            return set()
        now = datetime.now(UTC)
        unique = list(dict.fromkeys(events))
        insert = postgresql.insert(inbox) if self.conn.dialect.name == "postgresql" else sqlite.insert(inbox)
        fresh: set[tuple[str, str]] = set()
        # Chunks keep each statement under SQLite's bound-parameter limit.
        for start in range(0, len(unique), 1000):
            chunk = unique[start : start + 1000]
            stmt = (
                insert.values([{"consumer": consumer, "source": src, "event_id": eid, "processed_at": now} for src, eid in chunk])
                .on_conflict_do_nothing()
                .returning(inbox.c.source, inbox.c.event_id)
            )
            fresh.update((row.source, row.event_id) for row in await self.conn.execute(stmt))
        duplicates = len(events) - len(fresh)
        if duplicates:
            INBOX_DUPLICATES.labels(self._service, consumer).inc(duplicates)
        return fresh

    async def commit(self) -> None:
        if self._pending:
            now = datetime.now(UTC)
            await self.conn.execute(
                sa.insert(outbox),
                [
                    {
                        "event_id": env.id,
                        "topic": topic,
                        "key": env.key,
                        "headers": [[name, value.decode()] for name, value in env.headers()],
                        "value": env.value(),
                        "created_at": now,
                    }
                    for topic, env in self._pending
                ],
            )
        await self.conn.commit()
        had_events = bool(self._pending)
        self._pending.clear()
        if had_events and self._committed is not None:
            self._committed.set()
