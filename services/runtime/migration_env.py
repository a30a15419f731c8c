"""The Alembic env every service's ``migrations/env.py`` delegates to."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine, pool, text

from services.runtime.db import _sqlite_pragmas, is_sqlite, utc_datetimes


def run() -> None:
    config = context.config
    url = config.get_main_option("sqlalchemy.url")
    assert url, "sqlalchemy.url must be set by services.runtime.db.migrate"
    schema = config.attributes.get("schema")
    engine = create_engine(url, poolclass=pool.NullPool)
    if is_sqlite(url):
        from sqlalchemy import event

        event.listen(engine, "connect", _sqlite_pragmas)
        utc_datetimes(engine)
    with engine.connect() as connection:
        if schema:
            connection.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
            connection.execute(text(f'SET search_path TO "{schema}"'))
            connection.commit()
        context.configure(connection=connection, target_metadata=None, render_as_batch=is_sqlite(url))
        with context.begin_transaction():
            context.run_migrations()
