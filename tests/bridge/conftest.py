"""bridge running in process against the session's broker and each database; rows and files the tests upload."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from contracts import uscc
from contracts.envelope import Envelope, from_record
from services.bridge import uploads
from services.bridge.store import stores
from services.runtime.bundles import row_records
from services.runtime.clock import FixedClock
from services.runtime.tables import outbox
from tests.harness import Running, eventually, running

CHINA = timezone(timedelta(hours=8))

PLATFORM = {
    "platform_id": "P001",
    "name": "西湖优选电商平台",
    "uscc": "91330100716105852F",
    "domicile_region": "330106",
    "type": "b2c",
    "operating_model": "marketplace",
    "main_categories": ["食品", "服装"],
    "contacts": [{"role": "compliance", "name": "李四", "phone": "13900000000", "email": "li@example.com"}],
    "connected_to_canal": True,
}


def store_uscc(n: int) -> str:
    return uscc.complete(f"91330106MA{n:07d}")


def store_row(n: int, **change: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "store_id": f"S{n:06d}",
        "merchant_name": f"杭州商户{n}有限公司",
        "uscc": store_uscc(n),
        "address": f"杭州市西湖区文三路{n}号",
        "region": "330106",
        "shop_name": f"商户{n}旗舰店",
        "shop_url": f"https://shop.example.com/s/{n}",
        "category": "食品",
        "contact": "0571-88000000",
        "above_threshold": n % 2 == 0,
    }
    row.update(change)
    return {k: v for k, v in row.items() if v is not None}


def broken(body: bytes, after: int) -> AsyncIterator[bytes]:
    """An upload whose connection drops after ``after`` bytes."""

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, after, 4096):
            yield body[start:min(start + 4096, after)]
        raise ConnectionResetError("client went away mid-upload")

    return chunks()


def ndjson(rows: list[dict[str, Any]]) -> bytes:
    return b"".join(json.dumps(r, ensure_ascii=False).encode() + b"\n" for r in rows)


@pytest.fixture
async def bridge(kafka_bootstrap: str, prefix: str, database: tuple[str, str | None]) -> AsyncIterator[Running]:
    async with running("bridge", kafka=kafka_bootstrap, prefix=prefix, database=database) as svc:
        yield svc


@pytest.fixture(autouse=True)
def bulk_lane_for_every_read(monkeypatch: pytest.MonkeyPatch) -> None:
    """The bulk lane (services/bridge/bulk_rows.py) takes even the tests' small files, which a real upload's reads of
    under 64 lines would leave to the row path: every submission test runs through it, and the row path still reads
    what the lane leaves (tests/bridge/test_bulk_rows.py runs one file through each)."""
    monkeypatch.setattr(uploads, "_BULK_MIN_LINES", 1)


@pytest.fixture
def clock() -> FixedClock:
    """Tuesday 7 April 2026, 10:00 in Hangzhou: a working day after the Qingming holiday (kept in UTC, as bridge stores time)."""
    return FixedClock(datetime(2026, 4, 7, 10, 0, tzinfo=CHINA).astimezone(UTC))


@pytest.fixture
async def bridge_on_clock(kafka_bootstrap: str, prefix: str, database: tuple[str, str | None], clock: FixedClock,
                          tmp_path: Path) -> AsyncIterator[Running]:
    """bridge on a clock the test moves; its watch passes only when the test calls ``tick()`` (after one at start)."""
    async with running("bridge", kafka=kafka_bootstrap, prefix=prefix, database=database, clock=clock, watch_interval_seconds=3600,
                       delivery_dir=str(tmp_path / "deliveries")) as svc:
        yield svc


async def register(svc: Running, **change: Any) -> dict[str, Any]:
    answer = await svc.http.post("/v1/platforms", json=PLATFORM | change, headers=svc.auth("regulator"))
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


async def submit(svc: Running, body: bytes, *, platform: str = "P001", fmt: str = "ndjson", period: str = "2026H1",
                 key: str | None = None, content_type: str | None = None) -> Any:
    headers = svc.auth("platform", platform=platform) | {"content-type": content_type or ("text/csv" if fmt == "csv" else "application/x-ndjson")}
    if key:
        headers["Idempotency-Key"] = key
    return await svc.http.post(f"/v1/platforms/{platform}/submissions", params={"format": fmt, "period": period}, content=body, headers=headers)


async def settled(svc: Running, submission_id: str, platform: str = "P001") -> dict[str, Any]:
    async def check() -> dict[str, Any] | None:
        answer = await svc.http.get(f"/v1/submissions/{submission_id}", headers=svc.auth("platform", platform=platform))
        body = answer.json()
        return body if body["state"] not in ("receiving", "staged") else None

    result: dict[str, Any] = await eventually(check, timeout=60)
    return result


@pytest.fixture
async def small_batches(monkeypatch: pytest.MonkeyPatch, kafka_bootstrap: str, prefix: str,
                        database: tuple[str, str | None]) -> AsyncIterator[Running]:
    """bridge staging 50 rows a batch, with P001 and P002 registered: a few hundred rows make several batches."""
    monkeypatch.setenv("REDSHIELD_BRIDGE_SUBMISSION_BATCH_ROWS", "50")
    async with running("bridge", kafka=kafka_bootstrap, prefix=prefix, database=database) as svc:
        await register(svc)
        await register(svc, platform_id="P002")
        yield svc


async def query(svc: Running, stmt: Any) -> list[dict[str, Any]]:
    assert svc.service.engine is not None
    async with svc.service.engine.connect() as conn:
        return [dict(r._mapping) for r in await conn.execute(stmt)]


async def store_state(svc: Running, platform: str) -> dict[str, tuple[Any, ...]]:
    """The subject database as a platform's submissions left it, without ids and times that differ run to run."""
    found = await query(svc, sa.select(stores).where(stores.c.platform_id == platform))
    return {r["store_id"]: (r["status"], r["digest"], r["region"], r["category"], r["uscc_check"]) for r in found}


async def outbox_events(svc: Running) -> list[Envelope]:
    """Every event bridge wrote through its outbox, in the order the relay publishes them: a bundle row's events
    (services/runtime/bundles.py) in their order where it stands."""
    rows = await query(svc, sa.select(outbox.c.key, sa.cast(outbox.c.headers, sa.Text).label("headers"), outbox.c.value, outbox.c.bundle)
                       .order_by(outbox.c.seq))
    return [from_record(key, value, headers) for row in rows
            for key, headers, value in row_records(row["key"], row["headers"], row["value"], row["bundle"])]
