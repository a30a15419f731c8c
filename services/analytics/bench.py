"""``redshield bench analytics``: the ingest rate Kafka → ClickHouse beside its two raw limits (a bare aiokafka
consumer, a bare chDB insert of the same rows), then each cockpit endpoint's p50/p95 at each scale, with the
complaint facts generated inside ClickHouse (INSERT … SELECT FROM numbers(N)) into a scratch database.

One process, one chDB data path (chDB opens one per process), one database per measurement."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import tempfile
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, Final

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from contracts import topics
from contracts.envelope import Envelope
from services.analytics import aggregates
from services.analytics.app import AnalyticsSettings, build
from services.analytics.clickhouse import INSERT_SETTINGS, connect, encode_rows, migrate
from services.analytics.ingest import batch_facts, batch_token
from services.analytics.processors import COLUMNS, Position, process_into
from services.cli import benchkit
from services.cli.benchkit import percentile, progress, rate, rounded, say
from services.runtime.settings import load

GOLDEN: Final = Path(__file__).resolve().parents[2] / "contracts" / "golden" / "redshield.channel.complaint.received.v1" / "1.json"
PLATFORMS: Final = 110
READ_BATCH: Final = 5000  # the raw consumer's getmany
CATEGORIES: Final = ["quality", "counterfeit", "false_advertising", "price", "after_sales", "refund", "delivery", "contract"]
REGIONS: Final = ["330102", "330105", "330106", "330108", "330109", "330110", "330111", "330112", "330113", "330114", "310101", "440305"]
DAYS: Final = 365
CHUNK: Final = 10_000_000


# ---- (a) ingest --------------------------------------------------------------------------------------------------


def complaint_events(n: int, now: datetime) -> list[Envelope]:
    """Golden-shaped ComplaintReceived events: the golden example with its id, platform, category, region and
    time varied."""
    base = json.loads(GOLDEN.read_text(encoding="utf-8"))
    out = []
    for i in range(n):
        platform = f"P{i % PLATFORMS + 1:03d}"
        data = base | {
            "complaint_id": str(uuid.UUID(int=(0x019B << 112) | i)),
            "platform_id": platform,
            "platform_complaint_id": f"bench-{i}",
            "category": CATEGORIES[i % len(CATEGORIES)],
            "region": REGIONS[i % len(REGIONS)],
            "received_at": (now - timedelta(seconds=i % 86_400)).isoformat(),
        }
        out.append(
            Envelope(
                type="redshield.channel.complaint.received.v1",
                source="/redshield/channel",
                subject=data["complaint_id"],
                data=data,
                platformid=platform,
                region=data["region"],
            )
        )
    return out


async def produce_all(bootstrap: str, topic: str, events: list[Envelope]) -> float:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, num_partitions=3, replication_factor=1)])
    finally:
        await admin.close()
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, linger_ms=5, max_batch_size=262_144)
    await producer.start()
    started = time.perf_counter()
    try:
        for first in range(0, len(events), 10_000):
            sent = [await producer.send(topic, e.value(), key=e.key, headers=e.headers()) for e in events[first : first + 10_000]]
            await asyncio.gather(*sent)
    finally:
        await producer.stop()
    return time.perf_counter() - started


async def raw_consume(bootstrap: str, topic: str, count: int) -> float:
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", enable_auto_commit=False, group_id=None)
    await consumer.start()
    got = 0
    try:
        started = time.perf_counter()
        while got < count:
            for records in (await consumer.getmany(timeout_ms=500, max_records=READ_BATCH)).values():
                got += len(records)
        return time.perf_counter() - started
    finally:
        await consumer.stop()


def raw_insert(url: str, events: list[Envelope], batch: int) -> tuple[float, int]:
    """The rows the ingest writes for the same events — the processors' facts and the complaint ledger's rows (with
    the materialized views the tables carry) — inserted bare, ``batch`` events at a time; making the rows is not
    timed, encoding them is."""
    database = f"bench_raw_insert_{batch}"
    client = connect(url, database)
    migrate(client)
    ingested = datetime.now(UTC)
    batches = []
    for first in range(0, len(events), batch):
        tables: dict[str, list[Any]] = {}
        positions = [Position("channel.complaints.v1", 0, first + i) for i in range(len(events[first : first + batch]))]
        for env, position in zip(events[first : first + batch], positions, strict=True):
            process_into(tables, env, position, ingested)
        # Every complaint is new here, as in the ingest's run: nothing stored to look up.
        tables = {"complaint_ledger": aggregates.changes({}, *batch_facts(tables))} | tables
        batches.append((tables, positions))
    rows = 0
    started = time.perf_counter()
    for tables, positions in batches:
        for table, table_rows in tables.items():
            # The ingest's own way in (JSONCompactEachRow from orjson), encoding timed with the insert.
            client.raw_insert(
                table,
                list(COLUMNS[table]),
                insert_block=encode_rows(table_rows),
                fmt="JSONCompactEachRow",
                settings={"insert_deduplication_token": batch_token(table, positions)} | INSERT_SETTINGS,
            )
            rows += len(table_rows)
    seconds = time.perf_counter() - started
    # Its parts would go on merging in this process's chDB through the ingest run that follows, taking a core from it.
    client.command(f"DROP DATABASE {database} SYNC")
    client.close()
    return seconds, rows


def drop_database(url: str, database: str) -> None:
    # Dropped as soon as measured: its parts would go on merging in this process's chDB, taking a core from what follows.
    client = connect(url)
    client.command(f"DROP DATABASE IF EXISTS {database} SYNC")
    client.close()


def ingest_settings(bootstrap: str, prefix: str, url: str, work: Path, database: str = "bench_ingest") -> AnalyticsSettings:
    """The service's settings as it runs (``REDSHIELD_ANALYTICS_*`` apply), pointed at the bench's broker and chDB."""
    return load(
        "analytics",
        AnalyticsSettings,
        kafka_bootstrap_servers=bootstrap,
        topic_prefix=prefix,
        database_url=f"sqlite+aiosqlite:///{work / 'analytics.db'}",
        clickhouse_url=url,
        clickhouse_database=database,
        risk_interval_s=0,
    )


async def ingest_rate(settings: AnalyticsSettings, count: int) -> float | None:
    """The real analytics service (consumer, processors, aggregates, inserts) draining ``count`` waiting events."""
    service, app = build(settings)
    await asyncio.to_thread(service.migrate)
    await service.start()
    started = time.perf_counter()
    ch = app.state.clickhouse
    try:
        first: tuple[float, int] | None = None
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            ((n,),) = await ch.query("SELECT count() FROM events")
            now = time.perf_counter()
            if n and first is None:
                first = (now, int(n))
            if n >= count and first is not None:
                # From the first rows seen to the last; a run too small for more than one batch falls back to the
                # time since the service started, group join included (a lower bound).
                return rate(count - first[1], now - first[0]) if count > first[1] else rate(count, now - started)
            await asyncio.sleep(0.05)
        return None
    finally:
        await service.stop()


# ---- (b) cockpits at scale ---------------------------------------------------------------------------------------

#: How often each category is complained about: a few dominate (quality, after-sales, refunds), as in any
#: market regulator's statistics; the order is CATEGORIES'.
CATEGORY_SHARES: Final = (0.30, 0.05, 0.08, 0.06, 0.20, 0.15, 0.12, 0.04)
STORES_PER_PLATFORM: Final = 181  # the registry's 20,000 stores, store m belonging to platform m % 110

_GENERATED: Final = """
    SELECT number AS n,
           cityHash64(number) AS h,
           -- Platforms: u³ puts ~21% of complaints on P001 and ~45% on the top 10, a long thin tail after.
           toUInt32(floor(pow((h % 1000003) / 1000003, 3) * {platforms})) AS p,
           concat('P', leftPad(toString(p + 1), 3, '0')) AS platform_id,
           -- Time: position = t^0.8 over the year, so the daily volume grows towards today (×1.25 the mean at the end).
           toDateTime64({origin:DateTime64(3, 'UTC')}, 3, 'UTC')
               + toIntervalMillisecond(toUInt64(pow(n / {total:UInt64}, 0.8) * {span_ms:UInt64})) AS received_at,
           {category_expr} AS category,
           -- Regions: u² favours the first (Hangzhou's central districts); Shanghai and Shenzhen are rare.
           {regions:Array(String)}[toUInt32(floor(pow((bitShiftRight(h, 40) % 1000003) / 1000003, 2) * {n_regions})) + 1] AS region,
           if(intHash32(n) % 10 = 0, 'report', 'complaint') AS kind,
           -- Stores belong to their platform; a few of each platform's stores draw most of its complaints (u⁴).
           toUInt32(floor(pow((bitShiftRight(h, 20) % 1000003) / 1000003, 4) * {stores_per})) AS store_rank,
           concat('S-', toString(p + {platforms} * store_rank)) AS store_id,
           n % 4 = 0 AS is_assigned,
           n % 8 = 0 AS is_answered,
           n % 16 = 0 AS is_settled,
           multiIf(is_settled, 'platform_settled', is_answered, 'platform_not_settled',
                   is_assigned, 'assigned_to_platform', 'received') AS state
    FROM numbers({start:UInt64}, {count:UInt64})
"""


def _category_expr() -> str:
    u = "(intHash64(n) % 1000003) / 1000003"
    edges, acc = [], 0.0
    for name, share in list(zip(CATEGORIES, CATEGORY_SHARES, strict=True))[:-1]:
        acc += share
        edges.append(f"{u} < {acc:.4f}, '{name}'")
    return f"multiIf({', '.join(edges)}, '{CATEGORIES[-1]}')"


#: Bulk loading: SummingMergeTree and ReplacingMergeTree would collapse every inserted block on the way in
#: (optimize_on_insert), ten times the cost of the insert itself here; the merges do it afterwards.
BULK: Final = {"optimize_on_insert": 0}


def generate(client: Any, total: int, origin: datetime, show: bool = True) -> float:
    """``total`` complaints over DAYS days from ``origin``, shaped like a city's (see CATEGORY_SHARES and the
    comments in _GENERATED): skewed over platforms, categories, regions and stores, growing through the year.
    Every 4th is assigned to its platform (due in 7 days), every 8th answered two days later, half of those
    settled. The facts go into the raw tables, their contributions into the aggregates, chunk by chunk (a chunk
    is a stretch of time), from the same expressions; then the aggregates are merged (OPTIMIZE … FINAL)."""
    started = time.perf_counter()
    # The registry: platforms and their stores, so the overview and every platform's detail have a profile.
    client.command(
        f"""INSERT INTO platforms SELECT concat('P', leftPad(toString(number + 1), 3, '0')), concat('平台 ', toString(number + 1)),
               '', {{regions:Array(String)}}[number % {len(REGIONS)} + 1], ['b2c', 'live_stream', 'food_delivery'][number % 3 + 1], '',
               ['食品'], number < 15, 1, now64(3) FROM numbers({PLATFORMS})""",
        parameters={"regions": REGIONS},
    )
    client.command(
        f"""INSERT INTO stores SELECT concat('P', leftPad(toString(number % {PLATFORMS} + 1), 3, '0')), concat('S-', toString(number)),
               '商户', '', {{regions:Array(String)}}[number % {len(REGIONS)} + 1], ['食品', '服装', '数码产品'][number % 3 + 1],
               1, 1, now64(3) FROM numbers(20000)""",
        parameters={"regions": REGIONS},
    )
    gen = (
        _GENERATED.replace("{platforms}", str(PLATFORMS))
        .replace("{n_regions}", str(len(REGIONS)))
        .replace("{stores_per}", str(STORES_PER_PLATFORM))
        .replace("{category_expr}", _category_expr())
    )
    for start in range(0, total, CHUNK):
        count = min(CHUNK, total - start)
        params = {"origin": origin.replace(tzinfo=None), "span_ms": DAYS * 86_400_000, "total": total, "regions": REGIONS}
        params |= {"start": start, "count": count}
        client.command(
            f"""INSERT INTO complaints
            SELECT concat('c', leftPad(toString(n), 10, '0')) AS complaint_id, platform_id, concat('pc-', toString(n)), kind, 'web',
                   received_at,
                   'standard', region, store_id, concat(store_id, ' 旗舰店'), '', region, toDecimal64(n % 1000, 2), '食品', category,
                   '商品 质量 问题', '', 'received', received_at, received_at
            FROM ({gen})""",
            parameters=params,
            settings=BULK,
        )
        client.command(
            f"""INSERT INTO complaint_transitions
            SELECT concat('a-', toString(n)), concat('c', leftPad(toString(n), 10, '0')), platform_id, region, 'assigned',
                   'assigned_to_platform', 'received', 'system', received_at + toIntervalHour(1), 'first_handling',
                   toDate(received_at, 'Asia/Shanghai') + 7, ''
            FROM ({gen}) WHERE is_assigned
            UNION ALL
            SELECT concat('r-', toString(n)), concat('c', leftPad(toString(n), 10, '0')), platform_id, region, 'platform_responded',
                   state, 'assigned_to_platform', 'platform', received_at + toIntervalDay(2), '', NULL,
                   if(is_settled, 'settled', 'not_settled')
            FROM ({gen}) WHERE is_answered""",
            parameters=params,
            settings=BULK,
        )
        # complaint_daily's materialized views fill complaint_daily_nr and complaint_daily_region from these rows.
        client.command(
            f"""INSERT INTO complaint_daily
            SELECT platform_id, toDate(received_at, 'Asia/Shanghai') AS day, category, region, kind, state, count(),
                   countIf(is_assigned), countIf(is_answered), countIf(is_settled), countIf(is_answered), 0
            FROM ({gen}) GROUP BY platform_id, day, category, region, kind, state""",
            parameters=params,
            settings=BULK,
        )
        client.command(
            f"""INSERT INTO complaint_store_daily
            SELECT platform_id, toDate(received_at, 'Asia/Shanghai') AS day, store_id, category, region,
                   any(concat(store_id, ' 旗舰店')), count()
            FROM ({gen}) GROUP BY platform_id, day, store_id, category, region""",
            parameters=params,
            settings=BULK,
        )
        if show:
            done = start + count
            elapsed = time.perf_counter() - started
            progress(f"generated {done:,} of {total:,} complaints ({100 * done / total:.0f}%, {done / elapsed:,.0f}/s)")
    for table in (
        "complaint_daily",
        "complaint_daily_nr",
        "complaint_daily_region",
        "complaint_store_daily",
        "complaint_store_platform_daily",
    ):
        if show:
            progress(f"merging {table} (OPTIMIZE … FINAL)")
        client.command(f"OPTIMIZE TABLE {table} FINAL")
    return time.perf_counter() - started


ENDPOINTS: Final = ("overview", "governance", "platform_detail")


async def cockpit_latency(url: str, database: str, work: Path, queries: int, today: date, cached: bool) -> dict[str, list[float]]:
    """Each endpoint through the real FastAPI app (httpx's ASGI transport), one request at a time; ``cached`` False
    empties the app's answer cache before every request (the first read after an ingested batch)."""
    from services.runtime.auth import Role, issue

    settings = load(
        "analytics",
        AnalyticsSettings,
        clickhouse_url=url,
        clickhouse_database=database,
        risk_interval_s=0,
        database_url=f"sqlite+aiosqlite:///{work / 'cockpit.db'}",
        kafka_bootstrap_servers="127.0.0.1:1",
        topic_prefix="none.",
    )
    service, app = build(settings)
    await asyncio.to_thread(migrate, app.state.clickhouse.client)
    token = issue(service.jwt_key, role=Role.REGULATOR, subject="bench:regulator")
    period = {"from": (today - timedelta(days=29)).isoformat(), "to": today.isoformat()}
    paths = {
        "overview": ("/v1/cockpits/overview", {}),
        "governance": ("/v1/cockpits/governance", period),
        "platform_detail": ("/v1/cockpits/platforms/P001", period),
    }
    timings: dict[str, list[float]] = {name: [] for name in ENDPOINTS}
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://analytics", headers={"Authorization": f"Bearer {token}"}, timeout=120
    ) as http:
        for name, (path, params) in paths.items():
            for i in range(queries + 2):
                if not cached:
                    # A cold read: as if a batch had just been ingested, every query runs.
                    app.state.clickhouse.changed()
                started = time.perf_counter()
                answer = await http.get(path, params=params)
                elapsed = (time.perf_counter() - started) * 1000
                if answer.status_code != 200:
                    raise RuntimeError(f"{path} answered {answer.status_code}: {answer.text[:500]}")
                if i >= 2:  # two warm-up requests: first-touch of the marks and caches
                    timings[name].append(elapsed)
    app.state.clickhouse.close()
    return timings


# ---- the run -----------------------------------------------------------------------------------------------------


async def run(args: argparse.Namespace, scales: list[int], work: Path, raw_batches: list[int]) -> dict[str, Any]:
    figures: dict[str, Any] = {"events": args.events, "scales": scales, "queries": args.queries}
    rows: list[tuple[str, str, str]] = []
    url = f"chdb://{work / 'chdb'}"
    kafka = benchkit.Kafka(work / "kafka")
    bootstrap = await kafka.start()
    run_id = uuid.uuid4().hex[:8]
    try:
        now = datetime.now(UTC)
        events = complaint_events(args.events, now)
        # Each round its own topic (so its own consumer group) and its own chDB database: the same records, read
        # from the start by a service that has seen none of them.
        prefixes = [f"bench{run_id}r{r}." for r in range(args.rounds)]
        produce_s = []
        for prefix in prefixes:
            progress(f"producing {args.events:,} complaint events to {prefix}{topics.CHANNEL_COMPLAINTS} on {bootstrap}")
            produce_s.append(await produce_all(bootstrap, prefix + topics.CHANNEL_COMPLAINTS, events))
        progress("raw limit 1: a bare aiokafka consumer reading them")
        consume_s = await raw_consume(bootstrap, prefixes[0] + topics.CHANNEL_COMPLAINTS, args.events)
        batch = ingest_settings(bootstrap, prefixes[0], url, work).ingest_max_records
        # The box is shared and a single figure moves by a fifth from one minute to the next: each round measures the
        # raw insert and then the ingest, back to back, and the ratio is taken within the round.
        rounds: list[dict[str, float]] = []
        insert_rows = 0
        for r, prefix in enumerate(prefixes, start=1):
            progress(f"round {r} of {args.rounds}: raw limit 2, a bare chDB insert of the processors' rows, {batch:,} events a batch")
            insert_s, insert_rows = await asyncio.to_thread(raw_insert, url, events, batch)
            progress(f"round {r} of {args.rounds}: the analytics service ingesting them")
            ingest = await ingest_rate(ingest_settings(bootstrap, prefix, url, work, f"bench_ingest_{r}"), args.events)
            drop_database(url, f"bench_ingest_{r}")
            raw = rate(args.events, insert_s)
            slower = min(rate(args.events, consume_s), raw)
            rounds.append({"raw_insert_events_per_s": rounded(raw, 0), "ingest_events_per_s": rounded(ingest or 0.0, 0),
                           "ingest_share_of_slower_raw_limit": rounded((ingest or 0.0) / slower, 3) if slower else 0.0})
            progress(f"round {r}: ingest {ingest or 0:,.0f} events/s, raw insert {raw:,.0f} events/s, "
                     f"ingest ÷ slower raw limit {rounds[-1]['ingest_share_of_slower_raw_limit']}")
        # The same insert at other batch sizes, to show how much of chDB's cost is per batch (not in the ratio).
        other_batches: dict[int, float] = {}
        for size in raw_batches:
            if size != batch:
                progress(f"raw limit 2 again, {size:,} events a batch")
                other_batches[size] = (await asyncio.to_thread(raw_insert, url, events, size))[0]
        raw_insert_median = statistics.median(r["raw_insert_events_per_s"] for r in rounds)
        ingest = statistics.median(r["ingest_events_per_s"] for r in rounds)
        figures |= {
            "produce_events_per_s": rounded(rate(args.events, statistics.median(produce_s)), 0),
            "raw_consume_events_per_s": rounded(rate(args.events, consume_s), 0),
            "raw_insert_rows_per_s": rounded(raw_insert_median * insert_rows / args.events, 0),
            "raw_insert_events_per_s": raw_insert_median,
            "ingest_events_per_s": ingest,
            "ingest_batch_events": batch,
            "rounds": rounds,
        }
        figures |= {f"raw_insert_events_per_s_at_batch_{size}": rounded(rate(args.events, s), 0) for size, s in other_batches.items()}
        shares = [r["ingest_share_of_slower_raw_limit"] for r in rounds]
        figures["ingest_share_of_slower_raw_limit"] = rounded(statistics.median(shares), 3) if ingest else None
        figures["ingest_share_of_slower_raw_limit_min"] = min(shares) if ingest else None
        rows += [
            ("ingest (Kafka → ClickHouse)", "", ""),
            (
                "  analytics ingest, events/s",
                f"{figures['ingest_events_per_s']:,.0f}" if ingest else "—",
                "consumer, processors, complaint ledger, inserts; first row seen → all rows in; median of the rounds",
            ),
            ("  raw: bare aiokafka consumer, events/s", f"{figures['raw_consume_events_per_s']:,.0f}", "group-less, from the start"),
            (
                "  raw: bare chDB insert, events/s",
                f"{figures['raw_insert_events_per_s']:,.0f}",
                f"{figures['raw_insert_rows_per_s']:,.0f} rows/s (events, complaints, ledger), batches of {batch:,} (the ingest's); median",
            ),
            (
                "  ingest ÷ slower raw limit",
                f"{figures['ingest_share_of_slower_raw_limit']}",
                f"goal ≥ 0.5; median of {len(rounds)} rounds, lowest {figures['ingest_share_of_slower_raw_limit_min']}",
            ),
        ]
        for r, measured in enumerate(rounds, start=1):
            rows.append((
                f"  round {r}: ingest / raw insert / ÷",
                f"{measured['ingest_events_per_s']:,.0f} / {measured['raw_insert_events_per_s']:,.0f} / "
                f"{measured['ingest_share_of_slower_raw_limit']}",
                "events/s, measured back to back",
            ))
        for size in other_batches:
            measured = figures[f"raw_insert_events_per_s_at_batch_{size}"]
            rows.append((f"  raw: the same insert, batches of {size:,}", f"{measured:,.0f}", "events/s; shown, not in the ratio"))
        for scale in scales:
            database = f"bench_scale_{scale}"
            drop_database(url, database)
            client = connect(url, database)
            migrate(client)
            origin = datetime.combine(now.date() - timedelta(days=DAYS - 1), datetime.min.time(), UTC) - timedelta(hours=8)
            progress(f"generating {scale:,} complaints inside ClickHouse ({database})")
            gen_s = generate(client, scale, origin)
            ((daily_rows,),) = client.query("SELECT count() FROM complaint_daily").result_rows
            ((nr_rows,),) = client.query("SELECT count() FROM complaint_daily_nr").result_rows
            client.close()
            progress(f"{args.queries} requests per cockpit endpoint at {scale:,} complaints")
            today = (now + timedelta(hours=8)).date()
            cold = await cockpit_latency(url, database, work, args.queries, today, cached=False)
            warm = await cockpit_latency(url, database, work, args.queries, today, cached=True)
            rows.append((f"cockpits at {scale:,} complaints", "", ""))
            rows.append(("  generation, s", f"{gen_s:,.1f}", f"{daily_rows:,} rows in complaint_daily, {nr_rows:,} in complaint_daily_nr"))
            figures[f"generate_s_at_{scale}"] = rounded(gen_s, 1)
            figures[f"complaint_daily_rows_at_{scale}"] = daily_rows
            figures[f"complaint_daily_nr_rows_at_{scale}"] = nr_rows
            for name in ENDPOINTS:
                p50, p95 = percentile(cold[name], 50), percentile(cold[name], 95)
                figures[f"{name}_p50_ms_at_{scale}"] = rounded(p50, 1)
                figures[f"{name}_p95_ms_at_{scale}"] = rounded(p95, 1)
                rows.append((f"  {name} p50 / p95, ms", f"{p50:,.1f} / {p95:,.1f}", "every query runs (cache emptied); goal p95 ≤ 100 ms"))
            for name in ENDPOINTS:
                p50, p95 = percentile(warm[name], 50), percentile(warm[name], 95)
                figures[f"{name}_cached_p50_ms_at_{scale}"] = rounded(p50, 2)
                figures[f"{name}_cached_p95_ms_at_{scale}"] = rounded(p95, 2)
                rows.append((f"  {name} repeat p50 / p95, ms", f"{p50:,.2f} / {p95:,.2f}", "same request, no batch ingested since"))
            drop_database(url, database)
    finally:
        # A shared broker (KAFKA_BOOTSTRAP_SERVERS) keeps what a run leaves: 11 topics a round, which every later
        # client then decodes on each metadata refresh.
        try:
            await asyncio.wait_for(benchkit.delete_topics(bootstrap, f"bench{run_id}r"), 30)
        except Exception as exc:  # reported, and never in place of the run's own error
            progress(f"could not delete this run's topics bench{run_id}r*: {exc!r}")
        await kafka.stop()
    figures["peak_rss_mb"] = rounded(benchkit.peak_rss_mb(), 0)
    figures["load_average_1m"] = benchkit.load_average()
    rows.append(("process", "", ""))
    rows.append(("  peak RSS, MB", f"{figures['peak_rss_mb']:,.0f}", "this process: service, chDB, generator"))
    say(
        benchkit.table(
            f"redshield bench analytics  (events={args.events}, scales={','.join(map(str, scales))}, queries={args.queries})",
            rows,
            footnotes=["The machine is shared; read the figures with the load average in the JSON line."],
        )
    )
    return figures


def main(args: argparse.Namespace) -> int:
    try:
        scales = [int(s) for s in str(args.scales).split(",") if s.strip()]
        raw_batches = [int(s) for s in str(args.raw_batches).split(",") if s.strip()]
    except ValueError:
        say(f"--scales {args.scales!r} / --raw-batches: not a comma-separated list of counts")
        return 2
    if args.events <= 0 or args.queries <= 0 or args.rounds <= 0 or any(s <= 0 for s in scales + raw_batches):
        say("--events, --queries, --rounds, every scale and every raw batch size must be positive")
        return 2
    benchkit.start_clock()
    # The collector as the service runs it, from the start: the raw limits are measured in the same process.
    from services.runtime.collector import tune_collector
    from services.runtime.gil import hand_off_often

    tune_collector()
    hand_off_often()
    work = Path(tempfile.mkdtemp(prefix="redshield-bench-analytics-"))
    try:
        figures = asyncio.run(run(args, scales, work, raw_batches))
    finally:
        if not os.environ.get("REDSHIELD_BENCH_KEEP"):
            shutil.rmtree(work, ignore_errors=True)
    say(benchkit.json_line(figures))
    return 0
