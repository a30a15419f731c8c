"""The ClickHouse handle: clickhouse-connect to chDB (embedded) or a server, one schema for both."""

from __future__ import annotations

import asyncio
import re
from collections import OrderedDict
from collections.abc import Callable, Sequence
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any, Final, TypeVar

import clickhouse_connect
import orjson
from clickhouse_connect.driver.client import Client

T = TypeVar("T")


def connect(url: str, database: str | None = None) -> Client:
    """``chdb://var/analytics`` is a data path relative to the working directory (``chdb:///abs`` absolute);
    anything else is a ClickHouse server URL. ``database`` is created when missing."""
    options: dict[str, Any]
    if url.startswith("chdb://"):
        location = url[len("chdb://") :].split("?")[0]
        options = {"interface": "chdb"}
        if location not in ("", "memory", ":memory:"):
            path = Path(location).resolve()
            path.mkdir(parents=True, exist_ok=True)
            options["path"] = str(path)
    else:
        options = {"dsn": url}
    if database:
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", database):
            raise ValueError(f"bad ClickHouse database name {database!r}")
        bootstrap = clickhouse_connect.get_client(**options)
        bootstrap.command(f"CREATE DATABASE IF NOT EXISTS {database}")
        bootstrap.close()
        options["database"] = database
    return clickhouse_connect.get_client(**options)


def migration_files() -> list[tuple[int, str, str]]:
    """(number, name, sql) for every numbered file in ``services/analytics/clickhouse_migrations/``."""
    found = []
    for entry in resources.files("services.analytics").joinpath("clickhouse_migrations").iterdir():
        match = re.match(r"^(\d{4})_(.+)\.sql$", entry.name)
        if match:
            found.append((int(match.group(1)), entry.name, entry.read_text(encoding="utf-8")))
    return sorted(found)


def statements(sql: str) -> list[str]:
    without_comments = "\n".join(line for line in sql.splitlines() if not line.strip().startswith("--"))
    return [stmt.strip() for stmt in without_comments.split(";") if stmt.strip()]


def migrate(client: Client) -> list[str]:
    """Apply the numbered migrations not yet applied; returns the names applied now."""
    client.command(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version UInt32, name String, applied_at DateTime DEFAULT now()) "
        "ENGINE = MergeTree ORDER BY version"
    )
    done = {row[0] for row in client.query("SELECT version FROM schema_migrations").result_rows}
    applied = []
    for number, name, sql in migration_files():
        if number in done:
            continue
        for stmt in statements(sql):
            client.command(stmt)
        client.insert("schema_migrations", [(number, name)], column_names=["version", "name"])
        applied.append(name)
    return applied


#: Every insert: SummingMergeTree and ReplacingMergeTree would otherwise collapse each block on the way in
#: (optimize_on_insert), which costs more than the insert itself here; merges and the queries' sum()/FINAL do it.
INSERT_SETTINGS: Final = {"optimize_on_insert": 0, "date_time_input_format": "best_effort"}


def _json_default(value: Any) -> str:
    # Money stays exact: a Decimal travels as its decimal string, which ClickHouse reads into Decimal(p, s).
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"cannot send {type(value).__name__} to ClickHouse")


#: Rows per orjson call in :func:`encode_rows`.
ENCODE_CHUNK_ROWS: Final = 1000


def encode_rows(rows: Sequence[Sequence[Any]]) -> bytes:
    """Rows as JSONCompactEachRow: one JSON array a row, the rows separated by commas (the format takes commas or
    newlines between rows). Datetimes go as RFC 3339 with their offset (read with ``date_time_input_format =
    best_effort``), dates as ISO days, Decimals as strings.

    A thousand rows per orjson call, its outer brackets cut off: one call a row was a Python call per row on the
    ingest's event loop; one call for a whole batch of 20,000 would hold the GIL for tens of milliseconds that the
    writer's thread, between two chDB calls, waits for (services/runtime/gil.py)."""
    dumps = orjson.dumps
    return b",".join(
        [dumps(rows[start : start + ENCODE_CHUNK_ROWS], default=_json_default)[1:-1] for start in range(0, len(rows), ENCODE_CHUNK_ROWS)]
    )
#: The session temporary table :meth:`ClickHouse.query_by_keys_now` fills.
KEYS: Final = "ingest_lookup_keys"


class ClickHouse:
    """Async face of a synchronous client: one call at a time (chDB allows one session per process).

    Cockpit reads may ask for ``cached=True``: the answer is kept, keyed by the statement, its parameters and the
    number of inserts made through this handle so far, so a repeat read between two ingested batches costs no
    query, and the first read after a batch sees the batch. Writes that bypass :meth:`insert` (migrations, the
    bench's generator) must call :meth:`changed`."""

    CACHE_ENTRIES = 512

    def __init__(self, client: Client) -> None:
        self.client = client
        self._lock = asyncio.Lock()
        self.generation = 0
        self._keys_table = False
        self._cache: OrderedDict[tuple[Any, ...], list[tuple[Any, ...]]] = OrderedDict()

    def changed(self) -> None:
        self.generation += 1
        self._cache.clear()

    async def insert(self, table: str, rows: Sequence[Sequence[Any]], columns: Sequence[str], token: str) -> None:
        await self.exclusive(lambda: self.insert_now(table, rows, columns, token))

    async def exclusive(self, work: Callable[[], T]) -> T:
        """Run ``work`` — blocking calls such as :meth:`insert_now` and :meth:`query_by_keys_now` — in one worker
        thread turn, holding the handle. A write of several statements done this way never waits for the event loop
        between them (the loop may be busy making the next batch's rows for tens of milliseconds at a time)."""
        async with self._lock:
            try:
                return await asyncio.to_thread(work)
            finally:
                # Even a failed insert may have landed (the reply was lost): never serve an answer from before it.
                self.changed()

    def insert_now(self, table: str, rows: Sequence[Sequence[Any]], columns: Sequence[str], token: str) -> None:
        """Blocking; only inside :meth:`exclusive`."""
        self.insert_encoded_now(table, encode_rows(rows), columns, token)

    def insert_encoded_now(self, table: str, block: bytes, columns: Sequence[str], token: str) -> None:
        """Rows already made into a block by :func:`encode_rows` (the ingest encodes its facts while the previous batch
        is written). Blocking; only inside :meth:`exclusive`."""
        # Rows go as JSONCompactEachRow encoded by orjson (C) rather than clickhouse-connect's Native encoder, which
        # is Python per value and holds the GIL for about as long as chDB takes to write the block; chDB parses
        # JSON at the same speed and releases the GIL while it does, so the event loop keeps reading Kafka meanwhile.
        self.client.raw_insert(
            table,
            list(columns),
            insert_block=block,
            fmt="JSONCompactEachRow",
            settings={"insert_deduplication_token": token} | INSERT_SETTINGS,
        )

    async def query(self, sql: str, parameters: dict[str, Any] | None = None, *, cached: bool = False) -> list[tuple[Any, ...]]:
        key = (sql, tuple(sorted((k, repr(v)) for k, v in (parameters or {}).items())), self.generation) if cached else None
        if key is not None and key in self._cache:
            self._cache.move_to_end(key)
            return self._cache[key]
        generation = self.generation
        async with self._lock:
            result = await asyncio.to_thread(self.client.query, sql, parameters=parameters or {})
        rows = [tuple(row) for row in result.result_rows]
        # Only an answer no insert overtook is kept under this generation.
        if key is not None and generation == self.generation:
            self._cache[key] = rows
            while len(self._cache) > self.CACHE_ENTRIES:
                self._cache.popitem(last=False)
        return rows

    def query_by_keys_now(self, keys: Sequence[str], sqls: Sequence[str]) -> list[list[tuple[Any, ...]]]:
        """Run ``sqls``, each of which may read ``SELECT key FROM {KEYS}``: the keys are inserted (one Native block)
        into a session temporary table first. Binding thousands of keys as an ``Array(String)`` parameter costs
        ~150 ms per query here (the parameter is parsed as text); this costs a few ms. Blocking; only inside
        :meth:`exclusive`, so the keys and the queries are one turn of the handle."""
        if not self._keys_table:
            self.client.command(f"CREATE TEMPORARY TABLE IF NOT EXISTS {KEYS} (key String) ENGINE = Memory")
            self._keys_table = True
        self.client.command(f"TRUNCATE TABLE {KEYS}")
        if keys:
            # One JSON column from orjson, not clickhouse-connect's Native encoder: its Python per key held the GIL
            # for ~2 ms a lookup, which the ingest's other thread then waited out.
            self.client.raw_insert(KEYS, ["key"], insert_block=orjson.dumps([list(keys)]), fmt="JSONCompactColumns")
        return [[tuple(row) for row in self.client.query(sql.replace("{KEYS}", KEYS)).result_rows] for sql in sqls]

    def close(self) -> None:
        self.client.close()
