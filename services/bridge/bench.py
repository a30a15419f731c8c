"""``redshield bench subjects --stores N``: load a synthetic N-store submission through bridge's own code path.

The rows (realistic names, valid USCCs, Hangzhou and other regions, one in fifty an unregistered merchant with an
ID number) are first written to a scratch NDJSON file, untimed, as the platform's side of the upload; the clock
then runs while that file streams in 1 MiB chunks through the same reader, row checks, staging and
one-transaction apply (one outbox event per store) as ``POST /v1/platforms/{id}/submissions``, minus HTTP and
Kafka. The database is ``REDSHIELD_BENCH_DATABASE_URL`` (a PostgreSQL URL; the run uses a schema of its own and
drops it) or a fresh SQLite file in a temporary directory.

In the same run, on the same database, the raw limit: the same rows (same values, the staging table's shape)
written to a bare table without indexes — ``COPY`` (asyncpg ``copy_records_to_table``, batches of 20,000) on
PostgreSQL, one ``executemany`` in one transaction on SQLite; only the database calls are timed.

A table, then, as the last line, one JSON object whose keys carry their units.
"""

from __future__ import annotations

import asyncio
import operator
import os
import random
import resource
import shutil
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any, Final

import orjson
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError

from contracts import uscc
from services.bridge.forms import PlatformForm
from services.bridge.staging import copy_rows
from services.bridge.store import STAGED_COLUMNS
from services.bridge.submissions import State
from services.bridge.uploads import Format, RowStream
from services.cli.benchkit import cpu_seconds, cpu_used_since, processes_cpu_seconds, system_cpu_seconds
from services.runtime.auth import Caller, Role
from services.runtime.settings import load

_REGIONS = ("330102", "330105", "330106", "330108", "330109", "330110", "330113", "330114", "310101", "110105", "440305", "441900")
_CATEGORIES = ("食品", "服装", "数码", "美妆", "家居", "母婴", "图书", "生鲜", "手工艺品")
_WORDS = ("西湖", "钱塘", "运河", "龙井", "丝绸", "青瓷", "临平", "滨江", "良渚", "富春")
_VALUE = {ch: i for i, ch in enumerate(uscc.ALPHABET)}
CHUNK_BYTES = 1 << 20
BATCH_ROWS = 20_000


def _complete(first17: str) -> str:
    total = sum(map(operator.mul, map(_VALUE.__getitem__, first17), uscc.WEIGHTS))
    return first17 + uscc.ALPHABET[(31 - total % 31) % 31]


def synthetic_row(n: int, rng: random.Random) -> dict[str, object]:
    region = _REGIONS[n % len(_REGIONS)]
    words, categories = _WORDS, _CATEGORIES
    # One random draw per row, cut into the four choices: the generator is the client's side, kept cheap.
    r = rng.getrandbits(16)
    row: dict[str, object] = {
        "store_id": f"S{n:09d}",
        "merchant_name": f"杭州{words[r % 10]}{words[(r >> 4) % 10]}贸易有限公司{n}",
        "address": f"{region}某路{n % 997}号{n % 31}室",
        "region": region,
        "shop_name": f"{words[(r >> 8) % 10]}{categories[(r >> 12) % 9]}旗舰店{n}",
        "shop_url": f"https://shop.example.com/s/{n}",
        "category": categories[(r >> 2) % 9],
        "contact": f"0571-8{n % 10_000_000:07d}",
        "above_threshold": n % 3 == 0,
    }
    if n % 50 == 0:  # an unregistered merchant: ID number and the exemption declaration
        row |= {"id_number": "11010519491231002X", "exemption_declared": True}
    else:
        row["uscc"] = _complete(f"9133{region[2:4]}00MA{n:07d}")
    return row


def rows(stores: int) -> Iterator[dict[str, object]]:
    rng = random.Random(2026)
    for n in range(stores):
        yield synthetic_row(n, rng)


def write_file(path: Path, stores: int) -> int:
    with path.open("wb") as out:
        batch: list[bytes] = []
        for row in rows(stores):
            batch.append(orjson.dumps(row))
            if len(batch) == 10_000:
                out.write(b"\n".join(batch) + b"\n")
                batch.clear()
        if batch:
            out.write(b"\n".join(batch) + b"\n")
    return path.stat().st_size


#: How much of the file is read between two calls that drop what was read from the page cache.
_UNCACHE_BYTES: Final = 64 * CHUNK_BYTES


async def body(path: Path) -> AsyncIterator[bytes]:
    """The file a chunk at a time, as an upload arrives over the network: each chunk's pages are dropped from the
    kernel's page cache once read. A 9-million-store file is 2.8 GB; cached, it took that much of the memory the
    server's own writes needed (on this 24 GB box the page cache ran out mid-run, and the kernel's reclaim slowed
    every process from there)."""
    with path.open("rb") as source:
        done = dropped = 0
        while chunk := source.read(CHUNK_BYTES):
            yield chunk
            done += len(chunk)
            if done - dropped >= _UNCACHE_BYTES:
                os.posix_fadvise(source.fileno(), dropped, done - dropped, os.POSIX_FADV_DONTNEED)
                dropped = done


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1024**2


def _raw_row(n: int, row: dict[str, Any]) -> tuple[Any, ...]:
    """A synthetic row in the staging table's shape, as the submission path stages it (digests as long as real ones)."""
    return ("raw", row["store_id"], n + 1, row["merchant_name"], row.get("uscc"), "valid" if row.get("uscc") else None,
            b"x" * 100 if row.get("id_number") else None, "0" * 32 if row.get("id_number") else None, bool(row.get("exemption_declared")),
            row["address"], row["region"], "valid", row["shop_name"], row["shop_url"], row["category"], row["contact"],
            row["above_threshold"], f"{n:032x}", orjson.dumps(row).decode()[1:-1])


async def raw_limit(engine: Any, stores: int) -> float:
    """Rows per second of the bare bulk write of the same rows; only the database calls are timed."""
    async with engine.begin() as conn:
        await conn.execute(sa.text("CREATE TABLE bench_raw_staged AS SELECT * FROM staged_stores WHERE 1 = 0"))
        if conn.dialect.name == "postgresql":
            # As the staging table (bridge migration 0017): a worker scanning it would take CPU from what is measured.
            await conn.execute(sa.text("ALTER TABLE bench_raw_staged SET (autovacuum_enabled = false)"))
    spent = 0.0
    try:
        async with engine.connect() as conn:
            batch: list[tuple[Any, ...]] = []
            for n, row in enumerate(rows(stores)):
                batch.append(_raw_row(n, row))
                if len(batch) == BATCH_ROWS or n == stores - 1:
                    started = time.perf_counter()
                    await copy_rows(conn, "bench_raw_staged", STAGED_COLUMNS, batch)
                    if conn.dialect.name == "postgresql":
                        await conn.commit()  # COPY in batches, each committed, as the staging does
                    spent += time.perf_counter() - started
                    batch = []
            started = time.perf_counter()
            await conn.commit()  # SQLite: all of it in this one transaction
            spent += time.perf_counter() - started
    finally:
        async with engine.begin() as conn:
            await conn.execute(sa.text("DROP TABLE bench_raw_staged"))
    return stores / spent


#: How PostgreSQL's backends and helpers name themselves (``postgres: 15/main: …``); the postmaster, named by its path,
#: is left out: it only starts them.
_SERVER_COMMAND: Final = b"postgres:"
#: The server settings a bulk load's speed may depend on, printed with the figures (docs/performance.md, bridge "Session 9").
_POSTGRES_SETTINGS = ("shared_buffers", "max_wal_size", "checkpoint_timeout", "wal_compression", "synchronous_commit")


async def _postgres_state(engine: Any) -> dict[str, Any]:
    """The WAL position and the checkpoints so far: a run's WAL bytes and checkpoints are the difference."""
    async with engine.connect() as conn:
        version = int((await conn.execute(sa.text("SHOW server_version_num"))).scalar_one())
        # PostgreSQL 17 moved the checkpoint counters to their own view.
        checkpoints = ("SELECT num_timed + num_requested FROM pg_stat_checkpointer" if version >= 170000
                       else "SELECT checkpoints_timed + checkpoints_req FROM pg_stat_bgwriter")
        row = (await conn.execute(sa.text(f"SELECT pg_current_wal_lsn() - '0/0'::pg_lsn, ({checkpoints})"))).one()
        settings = (await conn.execute(sa.text("SELECT name, current_setting(name) FROM pg_settings WHERE name = ANY(:names)"),
                                       {"names": list(_POSTGRES_SETTINGS)})).all()
        # TLS on the connection costs both ends CPU for every byte staged (asyncio encrypts in Python's ssl module).
        tls, socket = (await conn.execute(sa.text(
            "SELECT COALESCE((SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()), false), inet_client_addr() IS NULL"))).one()
    connection = "unix socket" if socket else ("tcp, TLS" if tls else "tcp, no TLS")
    return {"wal_bytes": int(row[0]), "checkpoints": int(row[1]), "settings": dict(settings), "connection": connection}


def _uncache(path: Path) -> None:
    """Drop a written (and synced) file's pages from the page cache: the upload reads it as if it came from afar."""
    with path.open("rb") as source:
        os.posix_fadvise(source.fileno(), 0, 0, os.POSIX_FADV_DONTNEED)


async def _settle(engine: Any, database: str, file: Path) -> str:
    """Let the untimed steps' writes reach the disk before the clock starts. A 9-million-row run writes a 2.8 GB file
    and the raw limit's ~6 GB table (and its WAL) first; their write-back and the checkpoints they asked for went on
    during the timed upload, which paid for them (9 M ran at ~43,000 rows/s from its first tenth, where 3 M on the same
    code ran at ~55,000). The file's pages are dropped from the page cache too (:func:`body`). Says what it did."""
    await asyncio.to_thread(os.sync)
    _uncache(file)
    if database != "postgresql":
        return "dirty pages synced, the file uncached"
    try:
        async with engine.connect() as conn:
            await conn.execute(sa.text("CHECKPOINT"))
    except DBAPIError:
        # PostgreSQL 15 lets superusers and members of pg_checkpoint run it.
        return "dirty pages synced, the file uncached; no CHECKPOINT (the role needs pg_checkpoint)"
    await asyncio.to_thread(os.sync)
    return "dirty pages synced, the file uncached, CHECKPOINT done"


async def run(stores: int) -> int:
    from services.bridge.app import BridgeSettings, build  # imported late: the CLI imports this module lazily too
    from services.runtime.collector import tune_collector

    scratch = Path(tempfile.mkdtemp(prefix="redshield-bench-subjects-"))
    url = os.environ.get("REDSHIELD_BENCH_DATABASE_URL") or f"sqlite+aiosqlite:///{scratch / 'bridge.db'}"
    database = "postgresql" if url.startswith("postgresql") else "sqlite"
    schema = f"bench_{uuid.uuid4().hex[:8]}" if database == "postgresql" else None
    settings = load("bridge", BridgeSettings, database_url=url, relay_enabled=False, submission_batch_rows=BATCH_ROWS)
    service, app = build(settings, db_schema=schema)
    await asyncio.to_thread(service.migrate)
    tune_collector()  # as the service does once started (services/bridge/app.py)
    registry, receiver, applier = app.state.bridge
    caller = Caller(subject="bench", role=Role.ADMIN)
    try:
        file = scratch / "stores.ndjson"
        print(f"bench subjects: writing {stores:,} stores to {file} (untimed) …", flush=True)
        file_bytes = await asyncio.to_thread(write_file, file, stores)
        print("  raw limit …", flush=True)
        assert service.engine is not None
        raw = await raw_limit(service.engine, stores)
        async with service.uow() as uow:
            await registry.register(uow, caller=caller, platform_id="BENCH", form=PlatformForm(
                name="基准平台", uscc="91330100716105852F", domicile_region="330106", type="b2c", operating_model="marketplace"))
            await uow.commit()
        settled = await _settle(service.engine, database, file)
        print(f"  submission … (before the clock: {settled})", flush=True)
        load_start = os.getloadavg()[0]
        server_start = await _postgres_state(service.engine) if database == "postgresql" else None
        cpu_start, busy_start = cpu_seconds() or 0.0, system_cpu_seconds() or 0.0
        server_cpu_start = processes_cpu_seconds(_SERVER_COMMAND) if database == "postgresql" else {}
        rss_samples: list[tuple[float, float]] = []
        started = time.perf_counter()
        stream = await RowStream.open(body(file), Format.NDJSON)

        async def sample() -> None:
            shown = 0.0
            while True:
                done = stream.reader.bytes_read / file_bytes
                rss_samples.append((done, rss_mb()))
                # A 9-million-row run stages for many minutes: say how far it is every tenth of the file.
                seconds = time.perf_counter() - started
                if done >= shown + 0.1 and seconds >= 5:
                    shown = done
                    print(f"  {done:4.0%} of the file read and checked in {seconds:,.0f} s (≈ {done * stores / seconds:,.0f} rows/s, "
                          f"RSS {rss_samples[-1][1]:,.0f} MB)", flush=True)
                await asyncio.sleep(1.0)

        sampler = asyncio.create_task(sample())
        try:
            submission_id = await receiver.start(caller=Caller(subject="platform:BENCH", role=Role.PLATFORM, platform_id="BENCH"),
                                                 platform_id="BENCH", period="2026H1", fmt="ndjson", idempotency_key=None, previous=None)
            state = await receiver.receive(submission_id, stream)
            staged = time.perf_counter()
            if state is State.STAGED:
                print(f"  applying {stores:,} rows in one transaction (diff, events, upsert) …", flush=True)
                assert await applier.apply(submission_id)
            else:
                # PostgreSQL: applied batch by batch as it was staged, committed at the file's end (streaming_apply).
                assert state is State.APPLIED, state
                print(f"  {stores:,} rows applied as they were staged (one transaction, committed at the file's end)", flush=True)
            applied = time.perf_counter()
        finally:
            sampler.cancel()
        python_cpu = (cpu_seconds() or 0.0) - cpu_start
        busy = (system_cpu_seconds() or 0.0) - busy_start
        server_cpu = cpu_used_since(server_cpu_start, processes_cpu_seconds(_SERVER_COMMAND)) if database == "postgresql" else []
        load_end = os.getloadavg()[0]
        server_end = await _postgres_state(service.engine) if server_start is not None else None
        size = await _size_on_disk(service, scratch, schema)
        async with service.uow() as uow:
            counts = (await uow.conn.execute(sa.text("SELECT rows_staged, registered FROM submissions WHERE submission_id = :s"),
                                             {"s": submission_id})).one()
        total = applied - started
        apply_s = applied - staged
        # Streamed on PostgreSQL: each batch is applied as it is staged, and no apply is left at the file's end.
        apply_rate = stores / apply_s if state is State.STAGED else None
        rate = stores / total
        quartiles = {f"{q}%": round(next((rss for done, rss in rss_samples if done >= q / 100), rss_samples[-1][1] if rss_samples else 0))
                     for q in (25, 50, 75, 100)}
        result = {
            "stores": stores, "database": database, "rows_staged": counts.rows_staged, "stores_registered": counts.registered,
            "stage_s": round(staged - started, 2), "apply_s": round(apply_s, 2), "total_s": round(total, 2),
            "rows_per_s": round(rate), "stage_rows_per_s": round(stores / (staged - started)),
            "apply_rows_per_s": round(apply_rate) if apply_rate is not None else None,
            "peak_rss_mb": round(peak_rss_mb()), "rss_mb_by_file_read": quartiles, "disk_mb": round(size / 1024**2),
            "file_mb": round(file_bytes / 1024**2),
            ("raw_copy_rows_per_s" if database == "postgresql" else "raw_executemany_rows_per_s"): round(raw),
            "rows_per_s_vs_raw": round(rate / raw, 3), "load_average_1m": [round(load_start, 2), round(load_end, 2)],
            "cpu_count": os.cpu_count(), "batch_rows": BATCH_ROWS, "apply_step_s": applier.last_seconds,
            "python_cpu_us_per_row": round(python_cpu / stores * 1e6, 1), "machine_busy_cpu_us_per_row": round(busy / stores * 1e6, 1),
            "before_clock": settled,
        }
        if server_cpu:
            # The server's processes on this machine: its backends (the staging's, the apply's) and its helpers.
            result |= {"postgres_cpu_us_per_row": round(sum(server_cpu) / stores * 1e6, 1),
                       "postgres_busiest_cpu_us_per_row": [round(seconds / stores * 1e6, 1) for seconds in server_cpu[:3]]}
        if server_start is not None and server_end is not None:
            wal = server_end["wal_bytes"] - server_start["wal_bytes"]
            result |= {"wal_mb": round(wal / 1024**2), "wal_bytes_per_row": round(wal / stores),
                       "checkpoints": server_end["checkpoints"] - server_start["checkpoints"],
                       "postgres_settings": server_end["settings"], "postgres_connection": server_end["connection"]}
        raw_name = "PostgreSQL COPY (asyncpg copy_records_to_table)" if database == "postgresql" else "SQLite executemany, one transaction"
        line = "-" * 100
        print(line)
        print(f"redshield bench subjects  (stores={stores:,}, database={database})")
        print(line)
        for label, value, note in (
            ("file", f"{file_bytes / 1024**2:,.0f}", "MiB of NDJSON, streamed in 1 MiB chunks"),
            ("stream + check + stage", f"{stores / (staged - started):,.0f}",
             f"rows/s; {staged - started:.1f} s, batches of {BATCH_ROWS:,}"),
            ("apply (diff + events + upsert)", f"{apply_rate:,.0f}" if apply_rate is not None else "in the stream",
             f"rows/s; {apply_s:.1f} s, {counts.registered:,} store events" if apply_rate is not None
             else f"each batch as it was staged; {counts.registered:,} store events"),
            ("  apply steps", "", ", ".join(f"{k} {v:.1f} s" for k, v in applier.last_seconds.items())),
            ("total", f"{rate:,.0f}", f"rows/s; {total:.1f} s"),
            ("raw limit", f"{raw:,.0f}", f"rows/s; {raw_name}, bare table"),
            ("total / raw limit", f"{rate / raw:.3f}", ""),
            ("peak RSS", f"{peak_rss_mb():,.0f}", "MB (ru_maxrss, whole bench process)"),
            ("RSS at 25/50/75/100 % of the file", " / ".join(str(v) for v in quartiles.values()), "MB"),
            ("on disk", f"{size / 1024**2:,.0f}", "MB after apply (tables + indexes" + (", WAL)" if database == "sqlite" else ")")),
            ("load average", f"{load_start:.2f} -> {load_end:.2f}", f"1-minute, {os.cpu_count()} cpu shared"),
            # Where the time goes: this process (reading, checking, encoding rows) against every process of the machine
            # (the database's backends above all); their sum over the cores is the floor any overlap can reach.
            ("CPU per row: this process", f"{python_cpu / stores * 1e6:,.1f}", "µs (user + system, while the file was received)"),
            ("CPU per row: whole machine", f"{busy / stores * 1e6:,.1f}",
             f"µs busy on all cores (/proc/stat); ÷ {os.cpu_count()} cores = a floor of "
             f"{busy / (os.cpu_count() or 1):,.1f} s against {total:.1f} s"),
            *((("CPU per row: PostgreSQL", f"{result['postgres_cpu_us_per_row']:,.1f}",
                "µs, all its processes on this machine; the busiest three "
                + " / ".join(f"{v:,.1f}" for v in result["postgres_busiest_cpu_us_per_row"]) + " µs"),)
              if "postgres_cpu_us_per_row" in result else ()),
            *((("WAL written", f"{result['wal_mb']:,}", f"MB, {result['wal_bytes_per_row']:,} bytes a row; "
                                                       f"{result['checkpoints']} checkpoints"),
               ("server settings", "", ", ".join(f"{k} {v}" for k, v in result["postgres_settings"].items())),
               ("connection to the server", "", result["postgres_connection"]))
              if "wal_mb" in result else ()),
        ):
            print(f"  {label:<36}{value:>22}   {note}")
        print(line)
        print(orjson.dumps(result).decode())
        return 0
    finally:
        if schema is not None and service.engine is not None:
            async with service.engine.begin() as conn:
                await conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        if service.engine is not None:
            await service.engine.dispose()
        shutil.rmtree(scratch, ignore_errors=True)


async def _size_on_disk(service: Any, scratch: Path, schema: str | None) -> int:
    if schema is None:
        return await asyncio.to_thread(lambda: sum(p.stat().st_size for p in scratch.glob("bridge.db*")))
    async with service.engine.connect() as conn:
        value = await conn.execute(sa.text(
            "SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = :schema AND c.relkind = 'r'"), {"schema": schema})
        return int(value.scalar_one())


if __name__ == "__main__":
    import sys

    raise SystemExit(asyncio.run(run(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000)))
