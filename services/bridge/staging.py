"""Bulk writes of the submission path: staged rows by ``COPY`` on PostgreSQL, by one ``executemany`` on SQLite.

Both run inside the caller's transaction, so a batch is staged whole or not at all like any other write.
SQLAlchemy's ``insert(table), [dicts]`` compiles and converts every row in Python; at millions of rows that,
not the database, was the cost (≈ 20 µs a row), so rows arrive here as tuples in :data:`STAGED_COLUMNS` order.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from services.bridge.store import STORE_FIELDS, staged_stores

STAGED_COLUMNS: Final = ("submission_id", "store_id", "line", *STORE_FIELDS, "event_fields")


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
