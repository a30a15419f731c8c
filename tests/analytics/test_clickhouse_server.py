"""The numbered ClickHouse migrations on a ClickHouse server, not only on chDB (which every other analytics test
uses): started through testcontainers where a Docker engine is reachable, skipped with the reason where not."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from services.analytics.clickhouse import connect, migrate, migration_files

IMAGE = "clickhouse/clickhouse-server:24.8"


def _docker_unreachable() -> str | None:
    """Why no Docker engine can be used here, or None when one answers."""
    try:
        import docker

        client = docker.from_env(timeout=5)
        client.ping()
        client.close()
    except Exception as exc:
        return f"{type(exc).__name__}: {str(exc)[:200]}"
    return None


@pytest.fixture(scope="module")
def server_url() -> Iterator[str]:
    reason = _docker_unreachable()
    if reason is not None:
        pytest.skip(f"no Docker engine reachable, so no ClickHouse server to migrate ({reason}); chDB runs the migrations in every other test")
    from testcontainers.clickhouse import ClickHouseContainer

    with ClickHouseContainer(IMAGE, username="redshield", password="redshield-test") as server:
        host, port = server.get_container_host_ip(), server.get_exposed_port(8123)
        yield f"http://redshield:redshield-test@{host}:{port}/"


def test_every_migration_applies_on_a_server_once_and_a_second_run_applies_nothing(server_url: str) -> None:
    client = connect(server_url, database="redshield_migrations")
    try:
        assert migrate(client) == [name for _, name, _ in migration_files()]
        assert migrate(client) == []
        tables = {row[0] for row in client.query("SHOW TABLES").result_rows}
        assert {"events", "complaints", "schema_migrations"} <= tables, tables
    finally:
        client.close()

