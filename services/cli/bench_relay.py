"""``redshield bench relay``: how fast the outbox relay empties an outbox of store events into Kafka.

A large semi-annual submission commits one event per store; they reach the services that consume
``bridge.subjects.v1`` (channel's directory, analytics' store counts) only once the relay has published them. One
run: N store events like the bridge's (same headers, ~600-byte JSON values, one key per store) written to the outbox
of a scratch database (``REDSHIELD_BENCH_DATABASE_URL`` for PostgreSQL, in a schema of its own; else a fresh SQLite
file) as bridge's apply writes them — in bundles of 20,000 (services/runtime/bundles.py; with ``--bundle-events 0``
one row each, as before bundles), untimed; then, timed, the **raw limit** — a bare aiokafka producer sending the
same records one ``send()`` at a time, no database — and the relay publishing the whole outbox (read, send,
acknowledgements, marked sent), each to its own topic. The broker is ``KAFKA_BOOTSTRAP_SERVERS`` or one started
here.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from services.bridge.apply import BUNDLE_EVENTS
from services.cli import benchkit
from services.cli.benchkit import cpu_seconds, delete_topics, json_line, progress, rate, rounded, say, table
from services.runtime import db
from services.runtime.bundles import bundle_value
from services.runtime.kafka import new_producer
from services.runtime.outbox import OutboxRelay
from services.runtime.settings import ServiceSettings, load
from services.runtime.tables import outbox

#: Rows per outbox INSERT while filling (untimed).
_FILL_ROWS = 10_000


def store_event(n: int, topic: str, now: datetime) -> dict[str, Any]:
    """An outbox row shaped like the bridge's store registered events."""
    store = f"S{n:09d}"
    headers = [["ce_specversion", "1.0"], ["ce_id", str(uuid.UUID(int=n))], ["ce_source", "/redshield/bridge"],
               ["ce_type", "redshield.bridge.store.registered.v1"], ["ce_time", now.isoformat().replace("+00:00", "Z")],
               ["ce_subject", f"BENCH/{store}"], ["content-type", "application/json"],
               ["ce_dataschema", "https://schemas.redshield.dev/redshield.bridge.store.registered.v1.json"],
               ["ce_region", "330106"], ["ce_platformid", "BENCH"], ["ce_traceparent", f"00-{n:032x}-{n:016x}-01"]]
    value = (f'{{"platform_id":"BENCH","store_id":"{store}","merchant_name":"杭州青瓷西湖贸易有限公司{n}",'
             f'"exemption_declared":false,"region":"330106","region_check":"valid","shop_name":"丝绸数码旗舰店{n}",'
             f'"shop_url":"https://shop.example.com/s/{n}","category":"母婴","above_threshold":false,'
             f'"submission_id":"01a20000-0000-7000-8000-000000000000","period":"2026H1",'
             f'"uscc":"91330100MA0000005U","uscc_check":"valid"}}').encode()
    return {"event_id": str(uuid.UUID(int=n)), "topic": topic, "key": f"BENCH/{store}".encode(), "headers": headers, "value": value,
            "created_at": now}


async def raw_producer(settings: ServiceSettings, topic: str, rows: list[dict[str, Any]]) -> float:
    """Seconds for a bare producer — the relay's, from the same factory and settings — to send the rows with
    ``send()`` and have them acknowledged."""
    producer = new_producer(settings)
    await producer.start()
    try:
        await producer.send_and_wait(topic, value=b"{}", key=b"warm-up", headers=[])  # metadata and connection, untimed
        started = time.perf_counter()
        futures = [await producer.send(topic, value=row["value"], key=row["key"],
                                       headers=[(name, value.encode()) for name, value in row["headers"]]) for row in rows]
        await asyncio.gather(*futures)
        return time.perf_counter() - started
    finally:
        await producer.stop()


async def fill_bundles(conn: AsyncConnection, rows: list[dict[str, Any]], size: int) -> None:
    """The rows as outbox bundles of ``size`` events, as bridge's apply writes a submission's store events."""
    for first in range(0, len(rows), size):
        part = rows[first:first + size]
        value = bundle_value((row["key"].decode(), row["headers"], row["value"]) for row in part)
        await conn.execute(sa.insert(outbox).values(event_id=str(uuid.uuid4()), topic=part[0]["topic"], key=None, headers=[], value=value,
                                                    created_at=part[0]["created_at"], bundle=len(part)))


async def run(events: int, bundle_events: int | None = None) -> int:
    bundle_events = BUNDLE_EVENTS if bundle_events is None else bundle_events
    benchkit.start_clock()
    scratch = Path(tempfile.mkdtemp(prefix="redshield-bench-relay-"))
    url = os.environ.get("REDSHIELD_BENCH_DATABASE_URL") or f"sqlite+aiosqlite:///{scratch / 'relay.db'}"
    database = "postgresql" if url.startswith("postgresql") else "sqlite"
    schema = f"bench_{uuid.uuid4().hex[:8]}" if database == "postgresql" else None
    kafka = benchkit.Kafka(scratch / "kafka")
    bootstrap = await kafka.start()
    prefix = f"benchrelay{uuid.uuid4().hex[:8]}."
    await asyncio.to_thread(db.migrate, "bridge", url, schema=schema)  # bridge's first migration makes the outbox
    engine = db.create_engine(url, schema=schema)
    try:
        now = datetime.now(UTC)
        shape = f"in bundles of {bundle_events:,}" if bundle_events else "one row each"
        progress(f"writing {events:,} store events to the outbox, {shape} ({database}, untimed)")
        raw_rows = [store_event(n, "bridge.subjects.v1", now) for n in range(events)]
        async with engine.begin() as conn:
            if bundle_events:
                await fill_bundles(conn, raw_rows, bundle_events)
            else:
                for first in range(0, events, _FILL_ROWS):
                    await conn.execute(sa.insert(outbox), raw_rows[first:first + _FILL_ROWS])
        from services.bridge.app import BridgeSettings  # imported late, as the CLI imports its benches

        settings = load("bridge", BridgeSettings, kafka_bootstrap_servers=bootstrap)  # the relay's settings as bridge has them
        progress(f"raw limit: a bare producer sending them to {prefix}raw on {bootstrap}")
        raw_s = await raw_producer(settings, prefix + "raw", raw_rows)
        del raw_rows

        producer = new_producer(settings)
        await producer.start()
        relay = OutboxRelay(service="bench", engine=engine, producer=producer, wakeup=asyncio.Event(), topic_prefix=prefix,
                            batch_size=settings.relay_batch_size)
        try:
            await producer.send_and_wait(prefix + "bridge.subjects.v1", value=b"{}", key=b"warm-up", headers=[])
            progress(f"the relay publishing the outbox to {prefix}bridge.subjects.v1")
            cpu_start, started = cpu_seconds() or 0.0, time.perf_counter()
            shown, sent = started, 0
            while (count := await relay.publish_pending()) > 0:
                sent += count
                if time.perf_counter() - shown >= 5:
                    shown = time.perf_counter()
                    progress(f"  {sent:,} of {events:,} published ({sent / (shown - started):,.0f} events/s)")
            await relay.mark_published()
            relay_s = time.perf_counter() - started
            cpu_s = (cpu_seconds() or 0.0) - cpu_start
        finally:
            await producer.stop()
        assert sent == events, (sent, events)
        async with engine.connect() as conn:
            unsent = (await conn.execute(sa.select(sa.func.count()).select_from(outbox).where(outbox.c.sent_at.is_(None)))).scalar_one()

        relay_rate, raw_rate = rate(events, relay_s), rate(events, raw_s)
        figures = {
            "events": events, "database": database, "relay_events_per_s": rounded(relay_rate, 0),
            "raw_producer_events_per_s": rounded(raw_rate, 0),
            "relay_share_of_raw_limit": rounded(relay_rate / raw_rate, 3) if relay_rate and raw_rate else None,
            "relay_python_cpu_us_per_event": rounded(cpu_s / events * 1e6, 1), "relay_batch_events": relay.batch_size,
            "bundle_events": bundle_events or None,
            "unsent_after_mark": unsent, **benchkit.machine(),
        }
        say(table(f"redshield bench relay  (events={events:,}, database={database})", [
            ("relay: outbox → Kafka, events/s", f"{relay_rate:,.0f}", f"{relay_s:.1f} s; read, send, acknowledged, marked sent; "
                                                                        f"passes of {relay.batch_size:,} events; {shape}"),
            ("raw: bare producer send(), events/s", f"{raw_rate:,.0f}", f"{raw_s:.1f} s; the same records, no database"),
            ("relay ÷ raw limit", f"{figures['relay_share_of_raw_limit']}", ""),
            ("relay CPU per event, µs", f"{cpu_s / events * 1e6:,.1f}", "this process, user + system"),
            ("unsent after the run", f"{unsent:,}", "outbox rows not marked sent"),
        ], footnotes=["The machine is shared; read the figures with its load."]))
        say(json_line(figures))
        return 0
    finally:
        await delete_topics(bootstrap, prefix)
        if schema is not None:
            async with engine.begin() as conn:
                await conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        await engine.dispose()
        await kafka.stop()
        shutil.rmtree(scratch, ignore_errors=True)

