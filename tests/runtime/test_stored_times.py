"""A stored moment is the same moment on SQLite and PostgreSQL, whatever offset it was written with."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import sqlalchemy as sa

from services.runtime import db

CHINA = timezone(timedelta(hours=8))
moments = sa.Table("moments", sa.MetaData(), sa.Column("name", sa.String(10)), sa.Column("at", sa.DateTime(timezone=True)))


async def test_times_written_with_any_offset_read_back_aware_and_compare_as_the_same_instant(database: tuple[str, str | None]) -> None:
    url, schema = database
    engine = db.create_engine(url, schema=schema)
    try:
        async with engine.begin() as conn:
            if schema:
                await conn.execute(sa.text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
            await conn.run_sync(moments.create)
            await conn.execute(moments.insert(), [
                {"name": "beijing", "at": datetime(2026, 11, 20, 9, 30, tzinfo=CHINA)},  # 01:30 UTC
                {"name": "utc", "at": datetime(2026, 11, 20, 5, 0, tzinfo=UTC)},
            ])
            rows = {name: at for name, at in (await conn.execute(sa.select(moments.c.name, moments.c.at))).all()}
            earlier = (await conn.execute(
                sa.select(moments.c.name).where(moments.c.at < datetime(2026, 11, 20, 2, 0, tzinfo=UTC))
            )).scalars().all()
            first = (await conn.execute(sa.select(moments.c.name).order_by(moments.c.at).limit(1))).scalar_one()
    finally:
        await engine.dispose()
    assert rows["beijing"] == datetime(2026, 11, 20, 1, 30, tzinfo=UTC) and rows["beijing"].utcoffset() is not None
    assert rows["utc"] == datetime(2026, 11, 20, 5, 0, tzinfo=UTC)
    assert earlier == ["beijing"] and first == "beijing"  # compared as instants, not as wall-clock strings
