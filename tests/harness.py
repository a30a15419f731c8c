"""Run services for tests: in process (fast, against the real broker and databases) or as real processes
(for kill -9). Plus small Kafka helpers that read and write records the way outside parties do."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord
from fastapi import FastAPI

from contracts.envelope import Envelope
from services.runtime.auth import Role, issue
from services.runtime.service import Service
from services.runtime.settings import load

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class Running:
    service: Service
    app: FastAPI
    http: httpx.AsyncClient

    def token(self, role: str, *, platform: str | None = None, region: str | None = None) -> str:
        r = Role(role)
        return issue(self.service.jwt_key, role=r, subject=f"test:{role}", platform_id=platform, region=region)

    def auth(self, role: str, **scope: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(role, **scope)}"}


def _settings(name: str, **overrides: Any) -> Any:
    if name == "channel":
        from services.channel.app import ChannelSettings

        return load(name, ChannelSettings, **overrides)
    if name == "analytics":
        from services.analytics.app import AnalyticsSettings

        return load(name, AnalyticsSettings, **overrides)
    if name == "bridge":
        from services.bridge.app import BridgeSettings

        return load(name, BridgeSettings, **overrides)
    return load(name, **overrides)


@asynccontextmanager
async def running(
    name: str, *, kafka: str, prefix: str, database: tuple[str, str | None] | None = None, clock: Any = None, **overrides: Any
) -> AsyncIterator[Running]:
    """Build, migrate and start one service in this process; stop it on exit."""
    options: dict[str, Any] = {"kafka_bootstrap_servers": kafka, "topic_prefix": prefix, **overrides}
    kwargs: dict[str, Any] = {"clock": clock}
    if database is not None:
        options["database_url"] = database[0]
        kwargs["db_schema"] = database[1]
    settings = _settings(name, **options)
    import importlib

    module = importlib.import_module(f"services.{name}.app")
    service, app = module.build(settings, **kwargs)
    await asyncio.to_thread(service.migrate)
    await service.start()
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=f"http://{name}") as http:
            yield Running(service, app, http)
    finally:
        await service.stop()


class Process:
    """A service as a real OS process (``redshield serve``), for crash tests."""

    def __init__(self, name: str, env: dict[str, str], port: int, log_path: Path) -> None:
        self.name = name
        self.env = env
        self.port = port
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60.0) -> None:
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "services.cli.main", "serve", self.name, "--port", str(self.port)],
            cwd=ROOT,
            env={**os.environ, **self.env},
            stdout=log,
            stderr=log,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode}:\n{self.log_path.read_text()[-3000:]}")
            try:
                if httpx.get(f"{self.url}/readyz", timeout=1.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise TimeoutError(f"{self.name} not ready after {timeout}s:\n{self.log_path.read_text()[-3000:]}")

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


async def produce(kafka: str, topic: str, records: Sequence[tuple[bytes | None, bytes | None, list[tuple[str, bytes]]]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=kafka, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        futures = [await producer.send(topic, value=value, key=key, headers=headers) for key, value, headers in records]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


async def produce_events(kafka: str, topic: str, envelopes: Sequence[Envelope]) -> None:
    await produce(kafka, topic, [(e.key, e.value(), e.headers()) for e in envelopes])


async def read_topic(kafka: str, topic: str, count: int, timeout: float = 30.0) -> list[ConsumerRecord[Any, Any]]:
    """Read ``count`` records from the start of ``topic`` (no consumer group), or fail after ``timeout``."""
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=kafka, auto_offset_reset="earliest", enable_auto_commit=False, group_id=None, metadata_max_age_ms=1000
    )
    await consumer.start()
    got: list[ConsumerRecord[Any, Any]] = []
    try:
        deadline = time.monotonic() + timeout
        while len(got) < count and time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=500)
            for records in batch.values():
                got.extend(records)
    finally:
        await consumer.stop()
    if len(got) < count:
        raise AssertionError(f"expected {count} records on {topic}, got {len(got)} in {timeout}s")
    return got


async def eventually(check: Any, timeout: float = 30.0, interval: float = 0.2) -> Any:
    """Await ``check()`` until it returns a truthy value; the last value or exception surfaces on timeout."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while True:
        try:
            last = await check()
            if last:
                return last
        except AssertionError:
            if time.monotonic() > deadline:
                raise
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met in {timeout}s; last value {last!r}")
        await asyncio.sleep(interval)
