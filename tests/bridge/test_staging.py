"""A submission's staged rows go with its apply, and only its own: the whole table is emptied at once only when it
holds no other submission's rows and (PostgreSQL) no other transaction is using it."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import sqlalchemy as sa

from services.bridge.staging import STAGED_COLUMNS, drop_staged, stage_rows
from services.bridge.store import staged_stores
from tests.harness import Running


def staged(submission_id: str, n: int) -> tuple[Any, ...]:
    values: dict[str, Any] = {"submission_id": submission_id, "store_id": f"S{n}", "line": n, "merchant_name": "商户", "uscc": None,
                              "uscc_check": None, "id_number_enc": None, "id_number_mac": None, "exemption_declared": True,
                              "address": "地址", "region": "330106", "region_check": "valid", "shop_name": "店", "shop_url": "https://s.example/1",
                              "category": "食品", "contact": None, "above_threshold": False, "digest": "0" * 32, "event_fields": None}
    return tuple(values[name] for name in STAGED_COLUMNS)


async def submissions_staged(svc: Running) -> dict[str, int]:
    assert svc.service.engine is not None
    async with svc.service.engine.connect() as conn:
        rows = await conn.execute(sa.select(staged_stores.c.submission_id, sa.func.count()).group_by(staged_stores.c.submission_id))
        return {submission_id: count for submission_id, count in rows}


async def test_only_the_submissions_own_rows_go_and_the_last_ones_empty_the_table(bridge: Running) -> None:
    engine = bridge.service.engine
    assert engine is not None
    async with engine.begin() as conn:
        await stage_rows(conn, [staged("A", n) for n in range(50)] + [staged("B", n) for n in range(30)])
    async with engine.begin() as conn:
        await drop_staged(conn, "A")
    assert await submissions_staged(bridge) == {"B": 30}
    async with engine.begin() as conn:
        await drop_staged(conn, "B")
    assert await submissions_staged(bridge) == {}


async def test_rows_dropped_in_a_transaction_that_rolls_back_are_still_there(bridge: Running) -> None:
    engine = bridge.service.engine
    assert engine is not None
    async with engine.begin() as conn:
        await stage_rows(conn, [staged("A", n) for n in range(20)])
    async with engine.connect() as conn:
        await drop_staged(conn, "A")  # the table emptied at once: it holds nothing else
        await conn.rollback()
    assert await submissions_staged(bridge) == {"A": 20}


async def test_a_table_another_transaction_is_using_is_not_waited_for_and_keeps_the_other_rows(bridge: Running,
                                                                                              database: tuple[str, str | None]) -> None:
    engine = bridge.service.engine
    assert engine is not None
    if not database[0].startswith("postgresql"):
        pytest.skip("SQLite has one writer at a time: no other transaction can be writing the table meanwhile")
    async with engine.begin() as conn:
        await stage_rows(conn, [staged("A", n) for n in range(20)])
    async with engine.connect() as other:
        # Another upload's transaction has read the table (and holds its lock until it ends).
        await other.execute(sa.select(sa.func.count()).select_from(staged_stores))
        async with engine.begin() as conn:
            # Asking for the table to itself and waiting would wait until `other` ends: never, here.
            await asyncio.wait_for(drop_staged(conn, "A"), timeout=10)
        await other.rollback()
    assert await submissions_staged(bridge) == {}
