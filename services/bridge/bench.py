"""``redshield bench subjects --stores N``: load a synthetic N-store submission through bridge's own code path.

The rows (realistic names, valid USCCs, Hangzhou and other regions, a few unregistered merchants) are made
on the fly and streamed, as an upload would arrive; they go through the same reader, row checks, staging
and one-transaction apply (with one outbox event per store) as ``POST /v1/platforms/{id}/submissions``,
minus HTTP and Kafka. Printed: rows/s per phase, peak RSS, bytes on disk; the database is
``REDSHIELD_BENCH_DATABASE_URL`` (PostgreSQL URL) or a fresh SQLite file under a temporary directory.
"""

from __future__ import annotations

import asyncio
import os
import random
import resource
import shutil
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import orjson
import sqlalchemy as sa

from contracts import uscc
from services.bridge.forms import PlatformForm
from services.bridge.uploads import Format, RowStream
from services.runtime.auth import Caller, Role
from services.runtime.settings import load

_REGIONS = ("330102", "330105", "330106", "330108", "330109", "330110", "330113", "330114", "310101", "110105", "440305", "441900")
_CATEGORIES = ("食品", "服装", "数码", "美妆", "家居", "母婴", "图书", "生鲜", "手工艺品")
_WORDS = ("西湖", "钱塘", "运河", "龙井", "丝绸", "青瓷", "临平", "滨江", "良渚", "富春")


def synthetic_row(n: int, rng: random.Random) -> dict[str, object]:
    region = _REGIONS[n % len(_REGIONS)]
    row: dict[str, object] = {
        "store_id": f"S{n:09d}",
        "merchant_name": f"杭州{rng.choice(_WORDS)}{rng.choice(_WORDS)}贸易有限公司{n}",
        "address": f"{region}某路{n % 997}号{n % 31}室",
        "region": region,
        "shop_name": f"{rng.choice(_WORDS)}{rng.choice(_CATEGORIES)}旗舰店{n}",
        "shop_url": f"https://shop.example.com/s/{n}",
        "category": rng.choice(_CATEGORIES),
        "contact": f"0571-8{n % 10_000_000:07d}",
        "above_threshold": n % 3 == 0,
    }
    if n % 50 == 0:  # an unregistered merchant: ID number and the exemption declaration
        row |= {"id_number": "11010519491231002X", "exemption_declared": True}
    else:
        row["uscc"] = uscc.complete(f"9133{region[2:4]}00MA{n:07d}")
    return row


async def body(stores: int, chunk_rows: int = 2000) -> AsyncIterator[bytes]:
    rng = random.Random(2026)
    for start in range(0, stores, chunk_rows):
        yield b"".join(orjson.dumps(synthetic_row(n, rng)) + b"\n" for n in range(start, min(start + chunk_rows, stores)))


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def run(stores: int) -> int:
    from services.bridge.app import BridgeSettings, build  # imported late: the CLI imports this module lazily too

    scratch = Path(tempfile.mkdtemp(prefix="redshield-bench-subjects-"))
    url = os.environ.get("REDSHIELD_BENCH_DATABASE_URL") or f"sqlite+aiosqlite:///{scratch / 'bridge.db'}"
    schema = f"bench_{uuid.uuid4().hex[:8]}" if url.startswith("postgresql") else None
    settings = load("bridge", BridgeSettings, database_url=url, relay_enabled=False)
    service, app = build(settings, db_schema=schema)
    await asyncio.to_thread(service.migrate)
    registry, receiver, applier = app.state.bridge
    caller = Caller(subject="bench", role=Role.ADMIN)
    try:
        async with service.uow() as uow:
            await registry.register(uow, caller=caller, platform_id="BENCH", form=PlatformForm(
                name="基准平台", uscc="91330100716105852F", domicile_region="330106", type="b2c", operating_model="marketplace"))
            await uow.commit()
        started = time.perf_counter()
        rows = await RowStream.open(body(stores), Format.NDJSON)
        submission_id = await receiver.start(caller=Caller(subject="platform:BENCH", role=Role.PLATFORM, platform_id="BENCH"),
                                             platform_id="BENCH", period="2026H1", fmt="ndjson", idempotency_key=None, previous=None)
        await receiver.receive(submission_id, rows)
        staged = time.perf_counter()
        await applier.apply(submission_id)
        applied = time.perf_counter()
        size = await _size_on_disk(service, url, scratch, schema)
        print(f"bench subjects: {stores} stores on {url.split(':')[0]}")
        print(f"  stream+check+stage  {staged - started:8.1f} s  {stores / (staged - started):10,.0f} rows/s")
        print(f"  apply (+{stores} events) {applied - staged:8.1f} s  {stores / (applied - staged):10,.0f} rows/s")
        print(f"  total               {applied - started:8.1f} s  {stores / (applied - started):10,.0f} rows/s")
        read_mib = rows.reader.bytes_read / 1024**2
        print(f"  peak RSS            {peak_rss_mb():8.0f} MiB   on disk {size / 1024**2:,.0f} MiB   read {read_mib:,.0f} MiB")
        print(orjson.dumps({"stores": stores, "stage_s": round(staged - started, 2), "apply_s": round(applied - staged, 2),
                            "rows_per_s": round(stores / (applied - started)), "peak_rss_mib": round(peak_rss_mb()),
                            "disk_mib": round(size / 1024**2)}).decode())
        return 0
    finally:
        if schema is not None and service.engine is not None:
            async with service.engine.begin() as conn:
                await conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        if service.engine is not None:
            await service.engine.dispose()
        shutil.rmtree(scratch, ignore_errors=True)


async def _size_on_disk(service: object, url: str, scratch: Path, schema: str | None) -> int:
    if schema is None:
        return await asyncio.to_thread(lambda: sum(p.stat().st_size for p in scratch.glob("bridge.db*")))
    engine = service.engine  # type: ignore[attr-defined]
    async with engine.connect() as conn:
        value = await conn.execute(sa.text(
            "SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = :schema AND c.relkind = 'r'"), {"schema": schema})
        return int(value.scalar_one())


if __name__ == "__main__":
    import sys

    raise SystemExit(asyncio.run(run(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000)))
