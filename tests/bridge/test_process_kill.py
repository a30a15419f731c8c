"""kill -9 of bridge in the middle of a large upload: nothing applied, and the resend — or the rest of the file sent
from the line the upload stopped at — ends where one clean upload does."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from services.runtime.auth import Role, issue, signing_key
from services.runtime.settings import SharedSettings
from tests.bridge.conftest import PLATFORM, ndjson, store_row
from tests.harness import Process, eventually
from tests.kafka_broker import free_port

pytestmark = pytest.mark.slow

ROWS = 6000


def token(role: Role, platform: str | None = None) -> dict[str, str]:
    return {"Authorization": f"Bearer {issue(signing_key(SharedSettings()), role=role, subject=f'test:{role.value}', platform_id=platform)}"}


async def slow_body(rows: list[dict[str, Any]], hold_at: int | None = None) -> AsyncIterator[bytes]:
    """The rows in chunks; with ``hold_at``, the upload stalls there for good (the kill comes first), so it never completes."""
    for start in range(0, len(rows), 200):
        if hold_at is not None and start >= hold_at:
            await asyncio.Event().wait()
        yield ndjson(rows[start:start + 200])
        await asyncio.sleep(0.01)


async def latest(client: httpx.AsyncClient, platform: str) -> dict[str, Any] | None:
    answer = await client.get(f"/v1/platforms/{platform}/submissions", headers=token(Role.REGULATOR))
    listed = answer.json()["submissions"]
    return listed[0] if listed else None


async def stores_of(client: httpx.AsyncClient, platform: str) -> dict[str, tuple[Any, ...]]:
    found: dict[str, tuple[Any, ...]] = {}
    after: str | None = None
    while True:
        page = (await client.get(f"/v1/platforms/{platform}/stores", params={"limit": 1000, **({"after": after} if after else {})},
                                 headers=token(Role.REGULATOR))).json()
        found |= {s["store_id"]: (s["status"], s["category"], s["region"]) for s in page["stores"]}
        if page["next"] is None:
            return found
        after = page["next"]


async def upload(client: httpx.AsyncClient, platform: str, rows: list[dict[str, Any]], key: str,
                 hold_at: int | None = None) -> httpx.Response:
    return await client.post(f"/v1/platforms/{platform}/submissions", params={"format": "ndjson", "period": "2026H2"},
                             content=slow_body(rows, hold_at), timeout=120,
                             headers=token(Role.PLATFORM, platform) | {"content-type": "application/x-ndjson", "Idempotency-Key": key})


@pytest.mark.parametrize("then", ["resend", "resume"])
async def test_bridge_killed_mid_upload_applies_nothing_and_the_resend_or_resume_matches_a_clean_upload(
        kafka_bootstrap: str, prefix: str, tmp_path: Path, database: tuple[str, str | None], then: str) -> None:
    # On PostgreSQL the kill lands while the upload's apply transaction is open (applied as it is staged): the
    # database rolls it back when the dead process's connection closes.
    url, schema = database
    env = {"KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap, "REDSHIELD_TOPIC_PREFIX": prefix, "REDSHIELD_BRIDGE_DATABASE_URL": url,
           "REDSHIELD_BRIDGE_SUBMISSION_BATCH_ROWS": "500", "REDSHIELD_BRIDGE_STALE_UPLOAD_SECONDS": "1"}
    if schema is not None:
        env["REDSHIELD_BRIDGE_DATABASE_SCHEMA"] = schema
    bridge = Process("bridge", env, free_port(), tmp_path / "bridge.log")
    bridge.start()
    rows = [store_row(n, category="服装" if n % 5 == 0 else "食品") for n in range(ROWS)]
    try:
        async with httpx.AsyncClient(base_url=bridge.url, timeout=30) as client:
            for platform in ("P001", "P002"):
                answer = await client.post("/v1/platforms", json=PLATFORM | {"platform_id": platform}, headers=token(Role.REGULATOR))
                assert answer.status_code == 201, answer.text
            sending = asyncio.create_task(upload(client, "P001", rows, "P001-2026H2", hold_at=ROWS // 2))

            async def part_way() -> bool:
                current = await latest(client, "P001")
                return current is not None and current["state"] == "receiving" and current["rows_staged"] >= 1000

            await eventually(part_way, timeout=60, interval=0.05)
            bridge.kill9()
            sending.cancel()  # its body is stalled for good: the client would wait on it forever
            with contextlib.suppress(BaseException):
                await sending
        bridge.start()
        async with httpx.AsyncClient(base_url=bridge.url, timeout=30) as client:
            assert await stores_of(client, "P001") == {}  # nothing half-applied
            if then == "resend":
                resent = await upload(client, "P001", rows, "P001-2026H2")
            else:
                async def interrupted() -> dict[str, Any] | None:
                    current = await latest(client, "P001")  # the janitor finds the dead upload by its stale heartbeat
                    return current if current is not None and current["state"] == "interrupted" else None

                stopped = await eventually(interrupted, timeout=60)
                line = stopped["resume_line"]  # one store a line: the rows from there on are the file's rest
                assert line > 1000
                resent = await client.patch(f"/v1/submissions/{stopped['submission_id']}", params={"from_line": line},
                                            content=slow_body(rows[line - 1:]), timeout=120,
                                            headers=token(Role.PLATFORM, "P001") | {"content-type": "application/x-ndjson"})
            clean = await upload(client, "P002", rows, "P002-2026H2")
            assert resent.status_code == 202 and clean.status_code == 202, (resent.text, clean.text)

            async def both_applied() -> bool:
                one, two = await latest(client, "P001"), await latest(client, "P002")
                return bool(one and two and one["state"] == two["state"] == "applied")

            await eventually(both_applied, timeout=120)
            one, two = await latest(client, "P001"), await latest(client, "P002")
            assert one is not None and two is not None
            assert (one["registered"], one["rows_staged"]) == (two["registered"], two["rows_staged"]) == (ROWS, ROWS)
            assert await stores_of(client, "P001") == await stores_of(client, "P002")
            listed = (await client.get("/v1/platforms/P001/submissions", headers=token(Role.REGULATOR))).json()["submissions"]
            assert sorted(s["state"] for s in listed) == (["applied", "interrupted"] if then == "resend" else ["applied"])
    finally:
        bridge.stop()
