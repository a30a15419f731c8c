"""Bulk writes of the submission path: staged rows by ``COPY`` on PostgreSQL, by one ``executemany`` on SQLite.

Both run inside the caller's transaction, so a batch is staged whole or not at all like any other write.
SQLAlchemy's ``insert(table), [dicts]`` compiles and converts every row in Python; at millions of rows that,
not the database, was the cost (≈ 20 µs a row), so rows arrive here as tuples in :data:`~services.bridge.store.STAGED_COLUMNS` order.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection

from services.bridge import bulk_rows
from services.bridge.store import STAGED_COLUMNS, lock_not_available, staged_stores


@dataclass(frozen=True, slots=True)
class StagedLines:
    """What one batch of an upload staged: its rows are the submission's staged rows on lines ``first`` to ``end - 1``
    (a batch's lines follow the one before it; refused lines stage nothing), ``rows`` of them."""

    first: int
    end: int
    rows: int


async def driver_connection(conn: AsyncConnection) -> Any:
    """The DBAPI driver's own connection (asyncpg or aiosqlite) under ``conn``, in ``conn``'s transaction."""
    # The adapter begins its transaction on the first statement; make sure there is one before the driver is used
    # directly, or a COPY would run (and commit) on its own.
    await conn.execute(sa.text("SELECT 1"))
    raw = await conn.get_raw_connection()
    return raw.driver_connection


async def copy_rows(conn: AsyncConnection, table: str, columns: Sequence[str], rows: Sequence[tuple[Any, ...]]) -> None:
    """Append ``rows`` to ``table``: ``COPY … FROM STDIN (binary)`` on PostgreSQL, ``executemany`` on SQLite."""
    if not rows:
        return
    if conn.dialect.name == "postgresql":
        driver = await driver_connection(conn)
        # search_path names the service's schema, so the bare table name is the right one.
        await driver.copy_records_to_table(table, records=rows, columns=list(columns))
        return
    quoted = ", ".join(f'"{name}"' for name in columns)
    await conn.exec_driver_sql(f'INSERT INTO "{table}" ({quoted}) VALUES ({", ".join("?" for _ in columns)})', list(rows))


async def stage_rows(conn: AsyncConnection, rows: Sequence[tuple[Any, ...]]) -> None:
    await copy_rows(conn, staged_stores.name, STAGED_COLUMNS, rows)


async def stage_bulk(conn: AsyncConnection, rows: Any, submission_id: str) -> None:
    """Stage the bulk lane's rows (a pyarrow table, services/bridge/bulk_rows.py): PostgreSQL ``COPY`` in binary
    form, written column-wise without a Python step per row; SQLite the same tuples the row path makes."""
    if conn.dialect.name != "postgresql":
        await stage_rows(conn, bulk_rows.staged_tuples(rows, submission_id))
        return
    pieces = bulk_rows.copy_binary(rows, submission_id)
    if not pieces:
        return
    driver = await driver_connection(conn)

    async def source() -> AsyncIterator[Any]:
        for piece in pieces:
            yield piece

    await driver.copy_to_table(staged_stores.name, source=source(), columns=list(STAGED_COLUMNS), format="binary")


async def count_staged(conn: AsyncConnection, submission_id: str) -> int:
    """How many rows of a submission are staged: what its ``rows_staged`` says, unless the table lost them (it is
    UNLOGGED on PostgreSQL, so a crash restart empties it: migration 0013)."""
    return int((await conn.execute(sa.select(sa.func.count()).select_from(staged_stores)
                                   .where(staged_stores.c.submission_id == submission_id))).scalar_one())


async def drop_staged(conn: AsyncConnection, submission_id: str) -> None:
    """Remove a submission's staged rows, in the caller's transaction.

    Deleting a 9-million-row submission's rows took 17 s at the end of its apply (and left as many dead rows for the
    vacuum). When the table holds no other submission's rows — one platform's upload at a time, the usual case —
    the whole table is emptied instead (PostgreSQL ``TRUNCATE``; SQLite's ``DELETE`` without a condition frees the
    pages at once). On PostgreSQL that needs the table to itself: the lock is asked for without waiting, and any
    other transaction on the table (another upload being staged or applied) means the plain ``DELETE``; once the
    lock is held no one else can stage a row, so the emptiness check stays true until the commit releases it."""
    others = sa.select(staged_stores.c.submission_id).where(staged_stores.c.submission_id != submission_id).limit(1)
    if conn.dialect.name == "postgresql":
        try:
            async with conn.begin_nested():
                await conn.execute(sa.text("LOCK TABLE staged_stores IN ACCESS EXCLUSIVE MODE NOWAIT"))
                if (await conn.execute(others)).first() is None:
                    await conn.execute(sa.text("TRUNCATE staged_stores"))
                    return
        except DBAPIError as exc:
            if not lock_not_available(exc):
                raise
    elif (await conn.execute(others)).first() is None:
        await conn.execute(sa.delete(staged_stores))
        return
    await conn.execute(sa.delete(staged_stores).where(staged_stores.c.submission_id == submission_id))
