"""analytics wiring: ClickHouse (chDB by default) → ingest consumer of every topic → cockpit API."""

from __future__ import annotations

import asyncio

from fastapi import FastAPI

from contracts import topics
from services.analytics import api
from services.analytics.clickhouse import ClickHouse, connect, migrate
from services.analytics.ingest import Ingest
from services.runtime.clock import Clock
from services.runtime.service import Service
from services.runtime.settings import ServiceSettings, SharedSettings, load

CONSUMER = "analytics"  # consumer group and DLQ: dlq.analytics.v1


class AnalyticsSettings(ServiceSettings):
    #: ``chdb://<path>`` (embedded, default under var/) or a server URL, e.g. ``http://user:pw@host:8123/db``.
    clickhouse_url: str | None = None
    #: Database inside ClickHouse; created at start when missing.
    clickhouse_database: str | None = None
    ingest_max_records: int = 5000


def build(settings: AnalyticsSettings | None = None, *, clock: Clock | None = None) -> tuple[Service, FastAPI]:
    settings = settings or load("analytics", AnalyticsSettings)
    shared = SharedSettings()
    url = settings.clickhouse_url or f"chdb://{shared.var_dir / 'analytics'}"
    service = Service(settings, shared=shared, clock=clock, with_database=False)
    ch = ClickHouse(connect(url, settings.clickhouse_database))
    ingest = Ingest(ch, service.clock)

    async def prepare() -> None:
        await asyncio.to_thread(migrate, ch.client)
        await ingest.load_freshness()

    async def close() -> None:
        ch.close()

    service.on_start(prepare)
    service.on_stop(close)
    service.consumer(CONSUMER, ingest.handle).subscribe(
        service.broker,
        *topics.INTERNAL_TOPICS,
        group_id=CONSUMER,
        max_records=settings.ingest_max_records,
        title="analytics/ingest",
        description="Every internal topic, batched into ClickHouse; offsets committed after the insert.",
    )
    app = service.app(title="redshield analytics", description="Every event in ClickHouse; the cockpits and risk warnings.")
    api.install(app, service, ch, ingest)
    app.state.clickhouse = ch
    return service, app
