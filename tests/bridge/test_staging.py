"""A submission's staged rows go with its apply, and only its own: the whole table is emptied at once only when it
holds no other submission's rows and (PostgreSQL) no other transaction is using it. The table is not crash-safe on
PostgreSQL (UNLOGGED: a crash restart empties it), so a staged submission whose rows are gone is never applied."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import sqlalchemy as sa

from services.bridge.apply import _EventSql
from services.bridge.staging import drop_staged, stage_rows
from services.bridge.store import STAGED_COLUMNS, audit, staged_stores, stores
from services.runtime.tables import outbox
from tests.bridge.conftest import ndjson, register, settled, store_row, submit
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


async def test_the_staging_table_is_not_written_to_the_wal_on_postgresql(bridge: Running, database: tuple[str, str | None]) -> None:
    if not database[0].startswith("postgresql"):
        pytest.skip("SQLite has no unlogged tables; its staging is as durable as the rest of the file")
    assert bridge.service.engine is not None
    async with bridge.service.engine.connect() as conn:
        persistence = (await conn.execute(sa.text(
            "SELECT CAST(relpersistence AS TEXT) FROM pg_class WHERE oid = to_regclass('staged_stores')"))).scalar_one()
    assert persistence == "u"


async def test_autovacuum_leaves_the_staging_table_alone_on_postgresql(bridge: Running, database: tuple[str, str | None]) -> None:
    """Its rows go at the apply's end; a worker scanning it meanwhile took CPU from the upload and the TRUNCATE's lock."""
    if not database[0].startswith("postgresql"):
        pytest.skip("SQLite has no autovacuum")
    assert bridge.service.engine is not None
    async with bridge.service.engine.connect() as conn:
        options = (await conn.execute(sa.text("SELECT reloptions FROM pg_class WHERE oid = to_regclass('staged_stores')"))).scalar_one()
    assert "autovacuum_enabled=false" in options


async def test_a_batch_of_a_large_upload_reads_its_staged_rows_as_one_index_range_on_postgresql(
        bridge: Running, database: tuple[str, str | None]) -> None:
    """The apply beside the staging finds a batch's rows by its lines; a scan of the whole staging table per batch
    would make a large upload quadratic. The table is never analyzed (autovacuum leaves it alone), so the plan must
    not depend on statistics."""
    if not database[0].startswith("postgresql"):
        pytest.skip("SQLite applies after the whole file")
    assert bridge.service.engine is not None
    async with bridge.service.engine.connect() as conn:
        await conn.execute(sa.text(
            "INSERT INTO staged_stores (submission_id, store_id, line, merchant_name, exemption_declared, address, region, region_check, "
            "shop_name, shop_url, category, above_threshold, digest) SELECT 'S' || (n % 3), 'x' || n, n, 'm', false, 'a', '330106', 'valid', "
            "'s', 'https://a.example', 'c', false, 'd' FROM generate_series(1, 30000) AS n"))
        plan = "\n".join((await conn.execute(sa.text(f"EXPLAIN SELECT s.store_id {_EventSql.STAGED_BATCH}"),
                                              {"submission": "S1", "first_line": 1000, "end_line": 3000})).scalars())
        await conn.rollback()
    assert "ix_staged_stores_lines" in plan and "Seq Scan" not in plan, plan


async def test_store_keys_compare_bytewise_on_postgresql(bridge: Running, database: tuple[str, str | None]) -> None:
    if not database[0].startswith("postgresql"):
        pytest.skip("SQLite compares text bytewise unless told otherwise")
    assert bridge.service.engine is not None
    async with bridge.service.engine.connect() as conn:
        collations = dict((await conn.execute(sa.text(
            "SELECT table_name || '.' || column_name, collation_name FROM information_schema.columns "
            "WHERE table_schema = current_schema() AND table_name IN ('stores', 'staged_stores') "
            "AND column_name IN ('platform_id', 'store_id', 'uscc', 'submission_id')"))).all())
    # The staged USCC is copied, never looked up: it keeps the database's collation.
    assert collations == {"stores.platform_id": "C", "stores.store_id": "C", "stores.uscc": "C",
                          "staged_stores.submission_id": "C", "staged_stores.store_id": "C", "staged_stores.uscc": None}


async def count(svc: Running, table: sa.Table) -> int:
    assert svc.service.engine is not None
    async with svc.service.engine.connect() as conn:
        return int((await conn.execute(sa.select(sa.func.count()).select_from(table))).scalar_one())


async def test_a_staged_submission_whose_rows_were_lost_is_not_applied_and_is_resent_with_its_key(bridge: Running) -> None:
    # What a crash restart does to an unlogged table — it comes back empty — done here by emptying it: applying the
    # submission regardless would close every store its file listed.
    _, receiver, applier = bridge.app.state.bridge
    await register(bridge)
    first = await settled(bridge, (await submit(bridge, ndjson([store_row(n) for n in range(30)]))).json()["submission_id"])
    assert first["registered"] == 30
    await applier.stop()
    receiver.apply_while_staged = None  # staged, then left for the applier, which is stopped
    second = ndjson([store_row(n, category="服装" if n < 5 else "食品") for n in range(30)])
    answer = await submit(bridge, second, period="2026H2", key="2026H2")
    assert answer.json()["state"] == "staged"
    events, open_stores = await count(bridge, outbox), await count(bridge, stores)
    assert bridge.service.engine is not None
    async with bridge.service.engine.begin() as conn:
        await conn.execute(sa.delete(staged_stores))

    assert await applier.apply_next() is True
    lost = (await bridge.http.get(f"/v1/submissions/{answer.json()['submission_id']}",
                                  headers=bridge.auth("platform", platform="P001"))).json()
    assert lost["state"] == "interrupted" and "0 of 30 found" in lost["failure"] and "resend" in lost["failure"]
    assert lost["resume_line"] is None  # nothing left to resume from: only a resend brings the file in
    assert (await count(bridge, outbox), await count(bridge, stores)) == (events, open_stores)
    async with bridge.service.engine.connect() as conn:
        actions = (await conn.execute(sa.select(audit.c.action).order_by(audit.c.id))).scalars().all()
    assert actions[-1] == "submission.staging_lost"

    # The same file again under the same key: received anew and applied as any resend is.
    resent = await submit(bridge, second, period="2026H2", key="2026H2")
    assert resent.status_code == 202 and resent.json()["submission_id"] != answer.json()["submission_id"]
    await applier.start()
    done = await settled(bridge, resent.json()["submission_id"])
    assert (done["state"], done["updated"], done["unchanged"], done["closed"]) == ("applied", 5, 25, 0)
