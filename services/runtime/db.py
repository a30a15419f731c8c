"""SQLAlchemy engines: SQLite (WAL) by default, PostgreSQL by URL; Alembic migrations per service."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import event
from sqlalchemy import types as sqltypes
from sqlalchemy.dialects.sqlite import DATETIME as SQLITE_DATETIME
from sqlalchemy.engine import Dialect, Engine, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import AsyncAdaptedQueuePool


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def sync_url(url: str) -> str:
    """The same database through a synchronous driver, for Alembic."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return parsed.set(drivername="sqlite").render_as_string(hide_password=False)
    if backend == "postgresql":
        return parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    raise ValueError(f"unsupported database {backend!r}: use sqlite or postgresql")


def async_url(url: str) -> str:
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return parsed.set(drivername="sqlite+aiosqlite").render_as_string(hide_password=False)
    if backend == "postgresql":
        return parsed.set(drivername="postgresql+asyncpg").render_as_string(hide_password=False)
    raise ValueError(f"unsupported database {backend!r}: use sqlite or postgresql")


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets readers run beside the writer; synchronous=NORMAL keeps every commit across a process
    # crash (kill -9), which is the failure the services must survive.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


class UtcSqliteDateTime(SQLITE_DATETIME):
    """SQLite has no time zones, and SQLAlchemy's SQLite DATETIME keeps an aware value's wall time and drops its
    offset: 09:30+08:00 and 09:30 UTC would be stored alike and compare as equal. Here every aware value is stored
    as UTC, and a ``DateTime(timezone=True)`` column reads back aware in UTC — what PostgreSQL's timestamptz does,
    so the services see the same values on both databases and SQL comparisons of stored times are right."""

    def bind_processor(self, dialect: Dialect) -> Callable[[Any], Any] | None:
        parent = super().bind_processor(dialect)

        def process(value: Any) -> Any:
            if isinstance(value, datetime) and value.tzinfo is not None:
                value = value.astimezone(UTC).replace(tzinfo=None)
            return parent(value) if parent else value

        return process

    def result_processor(self, dialect: Dialect, coltype: object) -> Callable[[Any], Any] | None:
        parent = super().result_processor(dialect, coltype)
        if not self.timezone:
            return parent

        def process(value: Any) -> Any:
            value = parent(value) if parent else value
            return value.replace(tzinfo=UTC) if isinstance(value, datetime) and value.tzinfo is None else value

        return process


def utc_datetimes(engine: Engine) -> None:
    """Make ``engine`` (SQLite) store and read DateTime columns through :class:`UtcSqliteDateTime`."""
    engine.dialect.colspecs = {**engine.dialect.colspecs, sqltypes.DateTime: UtcSqliteDateTime}


def ensure_sqlite_dir(url: str) -> None:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)


def create_engine(url: str, *, schema: str | None = None) -> AsyncEngine:
    url = async_url(url)
    ensure_sqlite_dir(url)
    if is_sqlite(url):
        # One connection: SQLite has one writer, and a single pooled connection turns lock contention
        # into an orderly queue instead of SQLITE_BUSY on lock upgrades.
        engine = create_async_engine(url, poolclass=AsyncAdaptedQueuePool, pool_size=1, max_overflow=0)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        utc_datetimes(engine.sync_engine)
        return engine
    connect_args: dict[str, Any] = {}
    if schema:
        connect_args["server_settings"] = {"search_path": schema}
    return create_async_engine(url, pool_size=10, max_overflow=5, pool_pre_ping=True, connect_args=connect_args)


def migrate(service: str, url: str, *, schema: str | None = None, revision: str = "head") -> None:
    """Bring ``service``'s database to ``revision`` with its Alembic scripts."""
    ensure_sqlite_dir(url)
    config = Config()
    config.set_main_option("script_location", f"services.{service}:migrations")
    config.set_main_option("sqlalchemy.url", sync_url(url).replace("%", "%%"))
    config.attributes["schema"] = schema
    command.upgrade(config, revision)
