"""Wiring shared by the five services: settings → engine → producer, broker, relay → FastAPI app."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import sqlalchemy as sa
from fastapi import FastAPI
from faststream.kafka import KafkaBroker
from sqlalchemy.ext.asyncio import AsyncEngine

from contracts.events.base import EventData
from services.runtime import db
from services.runtime.auth import signing_key
from services.runtime.clock import Clock, SystemClock
from services.runtime.consumer import BatchHandler, DeadLetters, ReliableConsumer
from services.runtime.http import BodyLimit, RequestMetrics, TraceContext, caller_dependency, install_ops_routes, install_problem_handlers
from services.runtime.kafka import new_broker, new_producer
from services.runtime.outbox import OutboxRelay
from services.runtime.settings import ServiceSettings, SharedSettings
from services.runtime.uow import UnitOfWork

log = logging.getLogger("redshield.service")


class Service:
    """One running service's shared parts. Build it, add routes and consumers, then ``app()``."""

    def __init__(
        self,
        settings: ServiceSettings,
        *,
        shared: SharedSettings | None = None,
        clock: Clock | None = None,
        with_database: bool = True,
        db_schema: str | None = None,
    ) -> None:
        self.settings = settings
        self.shared = shared or SharedSettings()
        self.clock: Clock = clock or SystemClock()
        self.name = settings.service
        self.jwt_key = signing_key(self.shared)
        self.current_caller = caller_dependency(self.jwt_key, self.shared.jwt_issuer)
        self.db_schema = db_schema or settings.database_schema
        self.engine: AsyncEngine | None = db.create_engine(settings.database_url, schema=self.db_schema) if with_database else None
        self.producer = new_producer(settings)
        self.broker: KafkaBroker = new_broker(settings)
        self.committed = asyncio.Event()
        self.relay: OutboxRelay | None = (
            OutboxRelay(
                service=self.name,
                engine=self.engine,
                producer=self.producer,
                wakeup=self.committed,
                batch_size=settings.relay_batch_size,
                poll_interval=settings.relay_poll_interval_ms / 1000,
                topic_prefix=settings.topic_prefix,
            )
            if self.engine is not None
            else None
        )
        self._tasks: list[asyncio.Task[None]] = []
        self._on_start: list[Callable[[], Awaitable[None]]] = []
        self._on_stop: list[Callable[[], Awaitable[None]]] = []
        self._background: list[tuple[str, Callable[[], Awaitable[None]]]] = []
        self._consumers: list[ReliableConsumer] = []

    # -- building blocks for the service modules --------------------------------------------------------
    def uow(self) -> UnitOfWork:
        if self.engine is None:
            raise RuntimeError(f"{self.name} has no SQL database")
        return UnitOfWork(self.engine, self.committed, service=self.name)

    def consumer(self, consumer: str, handler: BatchHandler, **kwargs: Any) -> ReliableConsumer:
        reliable = ReliableConsumer(
            service=self.name,
            consumer=consumer,
            handler=handler,
            dead_letters=DeadLetters(self.producer, service=self.name, consumer=consumer, topic_prefix=self.settings.topic_prefix),
            topic_prefix=self.settings.topic_prefix,
            max_attempts=self.settings.consumer_max_attempts,
            retry_backoff=self.settings.consumer_retry_backoff_ms / 1000,
            **kwargs,
        )
        self._consumers.append(reliable)
        return reliable

    def documents(self, topic: str, model: type[EventData]) -> None:
        """Name an event this service publishes (through its outbox) in its AsyncAPI document."""
        self.broker.publisher(
            self.settings.topic_prefix + topic,
            schema=model,
            title=f"{self.name}/{model.event_type}",
            description=model.summary,
            include_in_schema=True,
        )

    def background(self, name: str, job: Callable[[], Awaitable[None]]) -> None:
        """A task that runs from start to stop (schedulers, periodic jobs); cancelled at stop."""
        self._background.append((name, job))

    def on_start(self, hook: Callable[[], Awaitable[None]]) -> None:
        self._on_start.append(hook)

    def on_stop(self, hook: Callable[[], Awaitable[None]]) -> None:
        self._on_stop.append(hook)

    def migrate(self) -> None:
        if self.engine is not None:
            db.migrate(self.name, self.settings.database_url, schema=self.db_schema)

    # -- lifecycle ------------------------------------------------------------------------------------------
    async def start(self) -> None:
        await self.producer.start()
        for hook in self._on_start:
            await hook()
        if self.relay is not None and self.settings.relay_enabled:
            self._tasks.append(asyncio.create_task(self.relay.run(), name=f"{self.name}-relay"))
        await self.broker.start()
        for name, job in self._background:
            self._tasks.append(asyncio.create_task(job(), name=f"{self.name}-{name}"))  # type: ignore[arg-type]
        log.info("service started", extra={"fields": {"port": self.settings.port}})

    async def stop(self) -> None:
        # Order matters: write what pipelined consumers hold, stop taking new records, let the relay drain what is
        # committed, then close.
        for reliable in self._consumers:
            await reliable.drain()
        try:
            await self.broker.stop()
        except Exception:  # stopping must go on: the relay still has to drain and the producer to close
            log.exception("broker did not stop cleanly")
        for task in self._tasks:
            if task.get_name() != f"{self.name}-relay":
                task.cancel()
        for hook in reversed(self._on_stop):
            await hook()
        if self.relay is not None and self.settings.relay_enabled:
            await self.relay.stop()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        await self.producer.stop()
        if self.engine is not None:
            await self.engine.dispose()
        log.info("service stopped")

    async def _check_database(self) -> None:
        assert self.engine is not None
        async with self.engine.connect() as conn:
            await conn.execute(sa.text("SELECT 1"))

    async def _check_broker(self) -> None:
        if not await self.broker.ping(timeout=2.0):
            raise ConnectionError(f"Kafka at {self.settings.kafka_bootstrap_servers} did not answer")

    def app(self, *, title: str, description: str = "") -> FastAPI:
        service = self

        @asynccontextmanager
        async def lifespan(_: FastAPI) -> AsyncIterator[None]:
            await service.start()
            try:
                yield
            finally:
                await service.stop()

        app = FastAPI(title=title, description=description, version="0.1.0", lifespan=lifespan)
        install_problem_handlers(app)
        checks: dict[str, Callable[[], Awaitable[None]]] = {"kafka": self._check_broker}
        if self.engine is not None:
            checks["database"] = self._check_database
        install_ops_routes(app, checks)
        app.add_middleware(TraceContext)
        app.add_middleware(BodyLimit, max_bytes=self.settings.max_body_bytes)
        # Outermost: a 413 from the body limit is counted and timed like any other answer.
        app.add_middleware(RequestMetrics, service=self.name)
        app.state.service = self
        return app
