"""Fixtures every test shares: a real Kafka broker, an isolated topic prefix, real databases."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

# Nothing a test does may touch the checkout's own var/: state lives in one temporary folder per session.
_SESSION_DIR = Path(tempfile.mkdtemp(prefix="redshield-tests-"))
os.environ["REDSHIELD_VAR_DIR"] = str(_SESSION_DIR / "var")
os.environ.setdefault("REDSHIELD_ENV", "test")
os.environ.setdefault("REDSHIELD_LOG_JSON", "false")

from services.cli.benchkit import delete_topics  # noqa: E402
from tests.kafka_broker import ROOT, kafka  # noqa: E402

POSTGRES_URL = os.environ.get("REDSHIELD_TEST_POSTGRES_URL")


def run_bench(database: str, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``redshield bench <args>`` in a subprocess on ``database`` ("sqlite": a scratch file; "postgresql": the test
    server, skipped without one), failing the test if it does not end cleanly."""
    environment = {k: v for k, v in os.environ.items() if k != "REDSHIELD_BENCH_DATABASE_URL"} | (env or {})
    if database == "postgresql":
        if not POSTGRES_URL:
            pytest.skip("REDSHIELD_TEST_POSTGRES_URL is not set (CI sets it; see .ci/run)")
        environment["REDSHIELD_BENCH_DATABASE_URL"] = POSTGRES_URL
    done = subprocess.run([sys.executable, "-m", "services.cli.main", "bench", *args], cwd=ROOT,
                          env=environment, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done


@pytest.fixture(scope="session")
def session_dir() -> Path:
    return _SESSION_DIR


@pytest.fixture(scope="session")
def kafka_bootstrap(session_dir: Path) -> Iterator[str]:
    with kafka(session_dir / "kafka") as bootstrap:
        os.environ["KAFKA_BOOTSTRAP_SERVERS"] = bootstrap
        yield bootstrap


@pytest.fixture
def prefix(request: pytest.FixtureRequest) -> Iterator[str]:
    """A topic prefix of this test's own, so tests never read each other's events. Its topics are deleted after
    the test: a broker holding thousands of dead topics makes every client decode them all on each metadata
    refresh, which slows every later test (and benchmark) that shares the broker."""
    name = f"t{uuid.uuid4().hex[:10]}."
    yield name
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if bootstrap and "kafka_bootstrap" in request.fixturenames:
        failure = _run_in_thread(delete_topics(bootstrap, name))
        if failure is not None:
            request.node.warn(pytest.PytestWarning(f"could not delete topics {name}*: {failure!r}"))


def _run_in_thread(work: Any) -> BaseException | None:
    """Run a coroutine to completion on a loop of its own (a test's loop may still be around)."""
    import threading

    failure: list[BaseException] = []

    def target() -> None:
        try:
            asyncio.run(work)
        except Exception as exc:
            failure.append(exc)

    thread = threading.Thread(target=target)
    thread.start()
    thread.join(60)
    return failure[0] if failure else None


@pytest.fixture(scope="session")
def chdb_url(session_dir: Path) -> str:
    # chDB opens one data path per process; tests share it and each takes a database of its own.
    return f"chdb://{session_dir / 'chdb'}"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
async def database(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[tuple[str, str | None]]:
    """(url, schema): a fresh SQLite file, or a fresh schema in the PostgreSQL of REDSHIELD_TEST_POSTGRES_URL."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'service.db'}", None
        return
    if not POSTGRES_URL:
        pytest.skip("REDSHIELD_TEST_POSTGRES_URL is not set (CI sets it; see .ci/run)")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    yield POSTGRES_URL, schema
    import sqlalchemy as sa

    from services.runtime.db import sync_url

    engine = sa.create_engine(sync_url(POSTGRES_URL))
    with engine.begin() as conn:
        conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    engine.dispose()
