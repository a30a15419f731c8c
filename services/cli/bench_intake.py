"""``redshield bench intake``: how fast channel takes complaints in, beside the raw limits of the same run.

channel runs as ``redshield serve channel`` in its own process (uvloop, httptools), as in production, with its
outbox relay publishing to the real broker. Measured, in one run:

* **single intake**: ``POST /v1/complaints``, one filing per request, ``--concurrency`` requests in flight over
  keep-alive connections; complaints/s and p50/p99 latency per request;
* **batch intake**: ``POST /v1/complaints/batch``, 1,000 filings per request (the limit);
* **feed intake**: the filings published to the platforms' ``feed.<platform>.complaints.v1`` topics; from the
  first send until channel's feed consumer has handled them all;

and the raw limits they are compared with:

* an **empty FastAPI endpoint** in its own uvicorn process (same loop, same HTTP parser), driven by the same
  client with the same concurrency: what HTTP alone costs on this box;
* **raw inserts of the same rows** into channel's ``complaints`` table on the same database: one transaction per
  row (what each single request must at least do) and one ``executemany`` transaction for all.

The client is a small HTTP/1.1 keep-alive client on asyncio streams, so that the load generator (which shares the
two cores with the server) costs as little as possible; both the service and the empty endpoint face the same one.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Final

import orjson
import sqlalchemy as sa
from aiokafka import AIOKafkaProducer

from contracts import topics
from contracts.codes import IntakeChannel
from contracts.envelope import Envelope
from contracts.events.channel import ComplaintFiling, ComplaintSubmitted
from contracts.ids import new_id
from services.channel import domain, store
from services.cli import benchkit
from services.cli.bench_pipeline import CHINA_TIME, create_topics, make_filing
from services.cli.benchkit import Kafka, ServiceProcess, delete_topics, percentile, progress, rate, rounded, say

PLATFORMS: Final = 8
BATCH_SIZE: Final = 1000
WARMUP_REQUESTS: Final = 300
PROGRESS_EVERY_S: Final = 5.0


# -- the client -----------------------------------------------------------------------------------------------
class KeepAlive:
    """One HTTP/1.1 connection, reused for every request (Content-Length bodies only: uvicorn always sends it)."""

    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def post(self, path: str, body: bytes, token: str) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        head = (
            f"POST {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\nAuthorization: Bearer {token}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        ).encode()
        self.writer.write(head + body)
        status_line = await self.reader.readline()
        if not status_line:
            raise ConnectionError("server closed the connection")
        status = int(status_line.split(b" ", 2)[1])
        length = 0
        while True:
            line = await self.reader.readline()
            if line in (b"\r\n", b"\n", b""):
                break
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value.strip())
        return status, await self.reader.readexactly(length) if length else b""

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            with contextlib.suppress(OSError):
                await self.writer.wait_closed()
            self.writer = None


@dataclass
class Load:
    """What one run of requests did: wall time, per-request latencies, answers by status."""

    requests: int
    items: int
    seconds: float
    latencies_s: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    first_error: str = ""

    @property
    def ok(self) -> int:
        return sum(n for status, n in self.statuses.items() if 200 <= status < 300)

    def pct_ms(self, pct: float) -> float | None:
        value = percentile(self.latencies_s, pct)
        return None if value is None else value * 1000


async def drive(url: str, path: str, bodies: Sequence[tuple[bytes, str]], *, concurrency: int, items_per_body: int, label: str) -> Load:
    """POST every (body, token) with ``concurrency`` connections, each taking the next body as soon as it is free."""
    host, port = url.removeprefix("http://").split(":")
    queue = iter(range(len(bodies)))
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    errors: list[str] = []
    done = 0

    async def worker() -> None:
        nonlocal done
        client = KeepAlive(host, int(port))
        try:
            for i in queue:
                body, token = bodies[i]
                t0 = time.perf_counter()
                status, answer = await client.post(path, body, token)
                latencies.append(time.perf_counter() - t0)
                statuses[status] = statuses.get(status, 0) + 1
                if not 200 <= status < 300 and not errors:
                    errors.append(f"{status}: {answer[:300].decode(errors='replace')}")
                done += 1
        finally:
            await client.close()

    async def report() -> None:
        while True:
            await asyncio.sleep(PROGRESS_EVERY_S)
            progress(f"{label}: {done}/{len(bodies)} requests")

    reporter = asyncio.create_task(report())
    t0 = time.perf_counter()
    try:
        await asyncio.gather(*(worker() for _ in range(max(1, min(concurrency, len(bodies))))))
    finally:
        reporter.cancel()
    seconds = time.perf_counter() - t0
    return Load(len(bodies), len(bodies) * items_per_body, seconds, latencies, statuses, errors[0] if errors else "")


# -- the empty endpoint ---------------------------------------------------------------------------------------
def empty_app() -> Any:
    """The raw HTTP limit: a FastAPI endpoint that reads the body and answers 202 without looking at it."""
    from fastapi import FastAPI, Request
    from fastapi.responses import Response

    app = FastAPI()
    answer = orjson.dumps({"complaint_id": "00000000-0000-7000-8000-000000000000", "duplicate": False})

    @app.post("/v1/complaints")
    async def take(request: Request) -> Response:
        await request.body()
        return Response(answer, status_code=202, media_type="application/json")

    @app.get("/readyz")
    async def ready() -> dict[str, str]:
        return {"status": "ready"}

    return app


def spawn_empty(port: int, log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "services.cli.bench_intake:empty_app", "--factory", "--host", "127.0.0.1",
             "--port", str(port), "--loop", "uvloop", "--http", "httptools", "--no-access-log", "--log-level", "warning"],
            cwd=benchkit.ROOT, stdout=out, stderr=out, start_new_session=True,
        )


# -- the filings ----------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Filings:
    """N filings per intake path, each path with its own ids (every filing is new to channel)."""

    single: list[tuple[str, dict[str, Any]]]
    batch: list[tuple[str, dict[str, Any]]]
    feed: list[tuple[str, dict[str, Any]]]
    warmup: list[tuple[str, dict[str, Any]]]


def filings(n: int, run: str, platforms: Sequence[str]) -> Filings:
    rng = random.Random(2026)
    start = datetime.now(CHINA_TIME) - timedelta(days=3)

    def series(tag: str, count: int) -> list[tuple[str, dict[str, Any]]]:
        out = []
        for i in range(count):
            pid = platforms[i % len(platforms)]
            out.append((pid, make_filing(rng, f"{pid}-{run}{tag}-{i:07d}", start + timedelta(seconds=i % 86_400))))
        return out

    return Filings(series("s", n), series("b", n), series("f", n), series("w", WARMUP_REQUESTS))


# -- raw inserts ----------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class RawInserts:
    rows: int
    per_row_s: float
    one_tx_s: float


async def raw_inserts(url: str, schema: str | None, items: Sequence[tuple[str, dict[str, Any]]]) -> RawInserts:
    """The same rows channel writes for these filings, into a bare copy of its table, twice: a transaction per row,
    then all rows in one executemany transaction."""
    from cryptography.fernet import Fernet

    from services.runtime import db
    from services.runtime.keys import FieldCipher

    cipher = FieldCipher(Fernet.generate_key().decode())
    now = datetime.now(CHINA_TIME)
    rows = []
    for pid, body in items:
        complaint = domain.receive(complaint_id=new_id(), platform_id=pid, filing=ComplaintFiling.model_validate(body),
                                   intake=IntakeChannel.PLATFORM_API, now=now, home_region="330100", hash_salt=b"bench")
        rows.append(store.complaint_row(complaint, cipher))
    table = sa.Table("raw_complaints", sa.MetaData(), *(c.copy() for c in store.complaints.columns))
    engine = db.create_engine(url, schema=schema)
    try:
        async with engine.begin() as conn:
            if schema:
                await conn.execute(sa.text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
                await conn.execute(sa.text(f'SET search_path TO "{schema}"'))
            await conn.run_sync(table.create)
        half = len(rows) // 2
        t0 = time.perf_counter()
        for row in rows[:half]:
            async with engine.begin() as conn:
                await conn.execute(table.insert(), row)
        per_row_s = (time.perf_counter() - t0) / max(1, half) * len(rows)
        t0 = time.perf_counter()
        async with engine.begin() as conn:
            await conn.execute(table.insert(), [r | {"complaint_id": new_id()} for r in rows])
        one_tx_s = time.perf_counter() - t0
    finally:
        await engine.dispose()
    return RawInserts(len(rows), per_row_s, one_tx_s)


async def drop_schemas(url: str, schemas: Sequence[str]) -> None:
    from services.runtime import db

    engine = db.create_engine(url)
    try:
        async with engine.begin() as conn:
            for name in schemas:
                await conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{name}" CASCADE'))
    except Exception as exc:
        say(f"bench intake: could not drop schemas {schemas}: {exc}")
    finally:
        await engine.dispose()


async def topic_count(bootstrap: str) -> int:
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, client_id="redshield-bench")
    await admin.start()
    try:
        return len(await admin.list_topics())
    finally:
        await admin.close()


# -- the feed -------------------------------------------------------------------------------------------------
async def consumed(http_url: str) -> float:
    import httpx

    async with httpx.AsyncClient(timeout=5.0) as http:
        text = (await http.get(f"{http_url}/metrics")).text
    return benchkit.metric_sum(text, "redshield_consumed_total", service="channel", consumer="channel")


async def feed_run(bootstrap: str, prefix: str, channel: ServiceProcess, items: Sequence[tuple[str, dict[str, Any]]],
                   within_s: float) -> tuple[float, float]:
    """Publish every filing to its platform's feed; seconds from the first send until channel handled them all,
    and seconds until the last send was acknowledged."""
    records = []
    for pid, body in items:
        env = Envelope(type=ComplaintSubmitted.event_type, source=f"/platforms/{pid}", subject=body["platform_complaint_id"],
                       data=body, platformid=pid, dataschema=ComplaintSubmitted.dataschema())
        records.append((prefix + topics.feed_complaints(pid), env.key, env.value(), env.headers()))
    before = await consumed(channel.url)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, linger_ms=5,
                                max_batch_size=256 * 1024)
    await producer.start()
    t0 = time.perf_counter()
    try:
        futures = [await producer.send(topic, value=value, key=key, headers=headers) for topic, key, value, headers in records]
        await asyncio.gather(*futures)
        acked = time.perf_counter() - t0
    finally:
        await producer.stop()
    deadline = t0 + within_s
    last_report = time.perf_counter()
    while True:
        seen = await consumed(channel.url) - before
        if seen >= len(records):
            return time.perf_counter() - t0, acked
        if time.perf_counter() > deadline:
            raise TimeoutError(f"feed: channel handled {seen:.0f}/{len(records)} in {within_s:.0f}s")
        if time.perf_counter() - last_report > PROGRESS_EVERY_S:
            progress(f"feed: {seen:.0f}/{len(records)} handled")
            last_report = time.perf_counter()
        await asyncio.sleep(0.05)


# -- the run --------------------------------------------------------------------------------------------------
def _fmt(value: float | None, digits: int = 0) -> str:
    return "n/a" if value is None else f"{value:,.{digits}f}"


def _share(part: float | None, whole: float | None) -> str:
    return f"{part / whole:.0%} of the raw limit" if part and whole else ""


def main(args: argparse.Namespace) -> int:
    return asyncio.run(run(complaints=args.complaints, concurrency=args.concurrency, database=args.database))


async def run(*, complaints: int, concurrency: int, database: str) -> int:
    if complaints < BATCH_SIZE or concurrency < 1:
        say(f"bench intake: --complaints must be >= {BATCH_SIZE} and --concurrency >= 1")
        return 2
    from services.runtime.auth import Role, issue, signing_key
    from services.runtime.settings import SharedSettings

    work = Path(tempfile.mkdtemp(prefix="redshield-bench-intake-"))
    run_id = uuid.uuid4().hex[:8]
    prefix = f"bench{run_id}."
    kafka = Kafka(work / "kafka")
    channel: ServiceProcess | None = None
    empty: subprocess.Popen[bytes] | None = None
    schema: str | None = None
    benchkit.start_clock()
    try:
        if database == "postgres":
            url = os.environ.get("REDSHIELD_BENCH_DATABASE_URL", "")
            if not url.startswith("postgresql"):
                say("bench intake: --database postgres needs REDSHIELD_BENCH_DATABASE_URL=postgresql+asyncpg://…")
                return 2
            schema = f"bench_{run_id}"
        else:
            url = f"sqlite+aiosqlite:///{work / 'channel.db'}"
        progress(f"bench intake: {complaints} complaints per path, {concurrency} in flight, {database}; work dir {work}")
        bootstrap = await kafka.start()
        broker_topics = await topic_count(bootstrap)
        progress(f"kafka {bootstrap}: {broker_topics} topics before this run"
                 + (" (every client decodes them all on each metadata refresh: the figures suffer)" if broker_topics > 500 else ""))
        pids = [f"P{i:03d}" for i in range(1, PLATFORMS + 1)]
        await create_topics(bootstrap, [prefix + topics.feed_complaints(p) for p in pids] + [prefix + topics.CHANNEL_COMPLAINTS])
        data = filings(complaints, run_id, pids)

        var = work / "var"
        shared = SharedSettings(var_dir=var)
        key = signing_key(shared)
        tokens = {p: issue(key, role=Role.PLATFORM, platform_id=p, subject=f"bench-{p}", issuer=shared.jwt_issuer) for p in pids}
        env = {
            "REDSHIELD_VAR_DIR": str(var),
            "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
            "REDSHIELD_TOPIC_PREFIX": prefix,
            "REDSHIELD_CHANNEL_DATABASE_URL": url,
            "REDSHIELD_LOG_JSON": "true",
        }
        if schema:
            env["REDSHIELD_CHANNEL_DATABASE_SCHEMA"] = schema
        channel = ServiceProcess("channel", env, work / "channel.log")
        channel.spawn()
        await channel.ready()
        progress(f"channel ready (pid {channel.pid}, :{channel.port}); kafka {bootstrap}")

        # -- raw limit: HTTP alone --
        empty_port = benchkit.free_port()
        empty = spawn_empty(empty_port, work / "empty.log")
        empty_svc = ServiceProcess("empty", {}, work / "empty.log", port=empty_port)
        empty_svc.proc = empty
        await empty_svc.ready()
        single_bodies = [(orjson.dumps(body), tokens[pid]) for pid, body in data.single]
        await drive(empty_svc.url, "/v1/complaints", single_bodies[:WARMUP_REQUESTS], concurrency=concurrency, items_per_body=1,
                    label="empty endpoint warm-up")
        raw_http = await drive(empty_svc.url, "/v1/complaints", single_bodies, concurrency=concurrency, items_per_body=1,
                               label="empty endpoint")
        progress(f"empty endpoint: {rate(raw_http.requests, raw_http.seconds) or 0:,.0f} requests/s")
        empty.terminate()
        await asyncio.to_thread(empty.wait, 20)
        empty = None

        # -- single intake --
        warm = [(orjson.dumps(body), tokens[pid]) for pid, body in data.warmup]
        await drive(channel.url, "/v1/complaints", warm, concurrency=concurrency, items_per_body=1, label="single warm-up")
        cpu0 = benchkit.cpu_seconds(channel.pid) if channel.pid else None
        single = await drive(channel.url, "/v1/complaints", single_bodies, concurrency=concurrency, items_per_body=1, label="single")
        cpu1 = benchkit.cpu_seconds(channel.pid) if channel.pid else None
        single_rate = rate(single.ok, single.seconds)
        progress(f"single: {single_rate or 0:,.0f} complaints/s, p99 {_fmt(single.pct_ms(99), 1)} ms; answers {single.statuses}")

        # -- batch intake --
        batches: list[tuple[bytes, str]] = []
        by_platform: dict[str, list[dict[str, Any]]] = {}
        for pid, body in data.batch:
            by_platform.setdefault(pid, []).append(body)
        for pid, bodies in by_platform.items():
            for i in range(0, len(bodies), BATCH_SIZE):
                batches.append((orjson.dumps({"filings": bodies[i : i + BATCH_SIZE]}), tokens[pid]))
        batch = await drive(channel.url, "/v1/complaints/batch", batches, concurrency=min(concurrency, 4),
                            items_per_body=0, label="batch")
        batch_items = sum(len(b) for b in by_platform.values()) if batch.ok == len(batches) else None
        batch_rate = rate(batch_items, batch.seconds) if batch_items else None
        progress(f"batch: {_fmt(batch_rate)} complaints/s; answers {batch.statuses} {batch.first_error[:200]}")

        # -- feed intake --
        feed_s, feed_acked_s = await feed_run(bootstrap, prefix, channel, data.feed, within_s=max(120.0, complaints / 50))
        feed_rate = rate(len(data.feed), feed_s)
        progress(f"feed: {_fmt(feed_rate)} complaints/s")
        channel_rss = benchkit.peak_rss_mb(channel.pid) if channel.pid else None
        await channel.stop()

        # -- raw limit: the database --
        raw = await raw_inserts(url.replace("channel.db", "raw.db"), f"{schema}_raw" if schema else None, data.single)
        progress(f"raw inserts: {rate(raw.rows, raw.per_row_s) or 0:,.0f} rows/s one per transaction, "
                 f"{rate(raw.rows, raw.one_tx_s) or 0:,.0f} rows/s in one")

        raw_http_rate = rate(raw_http.requests, raw_http.seconds)
        raw_row_tx_rate = rate(raw.rows, raw.per_row_s)
        raw_one_tx_rate = rate(raw.rows, raw.one_tx_s)
        cpu_per_item_ms = (cpu1 - cpu0) / single.ok * 1000 if cpu0 is not None and cpu1 is not None and single.ok else None
        info = benchkit.machine()
        rows: list[tuple[str, str, str]] = [
            ("complaints per path / in flight", f"{complaints} / {concurrency}", f"{PLATFORMS} platforms; database {database}"),
            ("machine", f"{info['cpu_count']} cpu, {info['memory_gb']} GB", f"{info['cpu_model']}; code at {benchkit.source_version()}"),
            ("broker topics / load average", f"{broker_topics} / {benchkit.load_average()}",
             "topics on the broker before the run; 1-minute load at the end"),
            ("raw limits (same box, same run)", "", ""),
            ("  empty FastAPI endpoint", _fmt(raw_http_rate), f"requests/s; p50 {_fmt(raw_http.pct_ms(50), 1)} ms, "
             f"p99 {_fmt(raw_http.pct_ms(99), 1)} ms"),
            ("  insert, a transaction per row", _fmt(raw_row_tx_rate), "rows/s into a bare copy of the complaints table"),
            ("  insert, one transaction", _fmt(raw_one_tx_rate), "rows/s, executemany"),
            ("channel (one process)", "", ""),
            ("  single HTTP intake", _fmt(single_rate), f"complaints/s; {_share(single_rate, raw_http_rate)}"),
            ("  single p50 / p99", f"{_fmt(single.pct_ms(50), 1)} / {_fmt(single.pct_ms(99), 1)}",
             f"ms per request; answers {dict(sorted(single.statuses.items()))}"),
            ("  CPU per single complaint", _fmt(cpu_per_item_ms, 2), "ms of channel's CPU (HTTP, checks, row, events, relay)"),
            ("  batch HTTP intake", _fmt(batch_rate), f"complaints/s, {BATCH_SIZE} per request; {_share(batch_rate, raw_one_tx_rate)}"
             + ("" if batch_rate else f" (answers {batch.statuses}: {batch.first_error[:120]})")),
            ("  feed intake", _fmt(feed_rate), f"complaints/s, first send → all handled; sends acked after {feed_acked_s:.2f}s"),
            ("  channel peak RSS", _fmt(channel_rss), "MiB"),
        ]
        goals = "goals for this machine: single >= 1,500/s per process with p99 < 50 ms; feed >= 20,000/s"
        say("")
        say(benchkit.table("redshield bench intake", rows, footnotes=[goals]))
        figures: dict[str, Any] = {
            "complaints": complaints,
            "concurrency": concurrency,
            "database": database,
            "single_complaints_per_s": rounded(single_rate),
            "single_p50_ms": rounded(single.pct_ms(50), 2),
            "single_p99_ms": rounded(single.pct_ms(99), 2),
            "single_non_2xx": single.requests - single.ok,
            "single_cpu_ms_per_complaint": rounded(cpu_per_item_ms, 3),
            "batch_complaints_per_s": rounded(batch_rate),
            "feed_complaints_per_s": rounded(feed_rate),
            "raw_empty_endpoint_requests_per_s": rounded(raw_http_rate),
            "raw_empty_endpoint_p99_ms": rounded(raw_http.pct_ms(99), 2),
            "raw_insert_row_per_tx_rows_per_s": rounded(raw_row_tx_rate),
            "raw_insert_one_tx_rows_per_s": rounded(raw_one_tx_rate),
            "channel_peak_rss_mb": rounded(channel_rss),
            "cpu_count": info["cpu_count"],
            "broker_topics": broker_topics,
            "load_average_1m": benchkit.load_average(),
        }
        say(benchkit.json_line(figures))
        return 0
    finally:
        if empty is not None:
            empty.kill()
        if channel is not None:
            await channel.stop()
        if kafka.bootstrap and not kafka.started:
            try:
                await delete_topics(kafka.bootstrap, prefix)
            except Exception as exc:
                say(f"bench intake: could not delete topics {prefix}*: {exc}")
        await kafka.stop()
        if schema:
            await drop_schemas(url, [schema, f"{schema}_raw"])
        shutil.rmtree(work, ignore_errors=True)
