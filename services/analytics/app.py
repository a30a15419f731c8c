"""analytics wiring: ClickHouse (chDB by default) → ingest consumer of every topic → cockpit API."""

from __future__ import annotations

import asyncio

from fastapi import FastAPI

from contracts import topics
from contracts.events.analytics import WarningRaised
from services.analytics import api
from services.analytics.clickhouse import ClickHouse, connect, migrate
from services.analytics.ingest import Ingest
from services.analytics.warnings_job import WarningsJob
from services.analytics.web import routes as web
from services.runtime.clock import Clock
from services.runtime.collector import tune_collector
from services.runtime.consumer import FetchSizes
from services.runtime.gil import hand_off_often
from services.runtime.service import Service
from services.runtime.settings import ServiceSettings, SharedSettings, load

CONSUMER = "analytics"  # consumer group and DLQ: dlq.analytics.v1


class AnalyticsSettings(ServiceSettings):
    #: ``chdb://<path>`` (embedded, default under var/) or a server URL, e.g. ``http://user:pw@host:8123/db``.
    clickhouse_url: str | None = None
    #: Database inside ClickHouse; created at start when missing.
    clickhouse_database: str | None = None
    #: At most this many events per batch. chDB's cost per batch (parts, the ledger's materialized views) is large:
    #: the same 200,000 events' rows, encoded and inserted, went in at ~28,000 events/s in batches of 5,000, ~40,000
    #: in batches of 20,000, ~47,000–53,000 in 50,000 or more (docs/performance.md); the ingest went from ~18,000 to
    #: ~23,000 events/s. A quiet stream still comes in small batches (the fetch wait below), so this costs freshness
    #: only when the stream is busy.
    ingest_max_records: int = 20_000
    #: The broker answers the ingest's fetch once this much is waiting (or after the wait below): each batch
    #: costs a few inserts whatever its size, so a busy stream should come in thousands, not hundreds.
    ingest_fetch_min_bytes: int = 1 << 20
    ingest_fetch_max_wait_ms: int = 200
    #: Enough per partition for a whole batch to be fetched ahead while the previous one is handled.
    ingest_max_partition_fetch_bytes: int = 16 << 20
    #: Seconds between risk-warning passes; 0 turns the job off.
    risk_interval_s: float = 60.0


def build(
    settings: AnalyticsSettings | None = None, *, clock: Clock | None = None, db_schema: str | None = None
) -> tuple[Service, FastAPI]:
    settings = settings or load("analytics", AnalyticsSettings)
    shared = SharedSettings()
    url = settings.clickhouse_url or f"chdb://{shared.var_dir / 'analytics'}"
    # The SQL database holds the outbox and the warnings raised; facts live in ClickHouse.
    service = Service(settings, shared=shared, clock=clock, db_schema=db_schema)
    ch = ClickHouse(connect(url, settings.clickhouse_database))
    ingest = Ingest(ch, service.clock)

    async def prepare() -> None:
        await asyncio.to_thread(migrate, ch.client)
        await ingest.load_freshness()
        tune_collector()  # the ingest makes ~250,000 short-lived objects a batch (services/runtime/collector.py)
        hand_off_often()  # the loop makes rows while a thread writes through chDB (services/runtime/gil.py)

    async def close() -> None:
        ch.close()

    service.on_start(prepare)
    service.on_stop(close)
    # Staged: the next batch's rows are made while this one is written (chDB releases the GIL while it works).
    service.consumer(CONSUMER, ingest.handle, staged=ingest).subscribe(
        service.broker,
        *topics.INTERNAL_TOPICS,
        group_id=CONSUMER,
        max_records=settings.ingest_max_records,
        fetch=FetchSizes(
            min_bytes=settings.ingest_fetch_min_bytes,
            max_wait_ms=settings.ingest_fetch_max_wait_ms,
            max_partition_bytes=settings.ingest_max_partition_fetch_bytes,
        ),
        title="analytics/ingest",
        description="Every internal topic, batched into ClickHouse; offsets committed after the insert.",
    )
    job = WarningsJob(service, ch)
    if settings.risk_interval_s > 0:
        interval = settings.risk_interval_s
        service.background("risk-warnings", lambda: job.loop(interval))
    service.documents(topics.ANALYTICS_WARNINGS, WarningRaised)
    app = service.app(title="redshield analytics", description="Every event in ClickHouse; the cockpits and risk warnings.")
    api.install(app, service, ch, ingest)
    web.install(app)
    app.state.warnings_job = job
    app.state.clickhouse = ch
    return service, app
