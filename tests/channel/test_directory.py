"""Jurisdiction from bridge's directory: bridge-shaped events produced to the real broker become channel's
directory; intake then finds the merchant's region, the platform's domicile and whether first handling applies.
A conflicting region is flagged for the bureau and audited; other event types on the topic are passed by; a
broken known event goes to the DLQ with its reason."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from contracts import topics
from contracts.envelope import Envelope, header_map
from contracts.events.bridge import PlatformRegistered, PlatformUpdated, StoreClosed, StoreRegistered
from contracts.examples_bridge import _PLATFORM, _STORE
from services.channel.domain import Jurisdiction, jurisdiction_of
from services.channel.store import audit, complaints, directory_platforms, directory_stores
from services.runtime.clock import FixedClock
from tests.channel.test_first_handling import FILED_AT
from tests.flow.test_complaint_to_cockpit import filing
from tests.harness import Running, eventually, produce, produce_events, read_topic, running


def test_jurisdiction_is_the_published_region_then_the_directorys_then_the_domicile_then_home() -> None:
    assert jurisdiction_of("330106", None, "330108", "330100") == Jurisdiction("330106")
    assert jurisdiction_of(None, "330105", "330108", "330100") == Jurisdiction("330105")
    assert jurisdiction_of(None, None, "330108", "330100") == Jurisdiction("330108")
    assert jurisdiction_of(None, None, None, "330100") == Jurisdiction("330100")
    # The filing publishes one region, the directory lists another: the published one governs, flagged.
    assert jurisdiction_of("330106", "330105", "330108", "330100") == Jurisdiction("330106", conflict="330105")
    assert jurisdiction_of("330106", "330106", None, "330100") == Jurisdiction("330106")


@pytest.fixture
async def channel(kafka_bootstrap: str, prefix: str, database: tuple[str, str | None]) -> AsyncIterator[Running]:
    async with running("channel", kafka=kafka_bootstrap, prefix=prefix, database=database, clock=FixedClock(FILED_AT)) as svc:
        yield svc


def bridge_event(model: Any, data: dict[str, Any], subject: str, at: datetime) -> Envelope:
    event = model.model_validate(data)
    return Envelope(type=model.event_type, source="/redshield/bridge", subject=subject, data=event.model_dump(mode="json"), time=at,
                    dataschema=model.dataschema(), region=data.get("region") or data.get("domicile_region"), platformid=data["platform_id"])


T0 = datetime(2026, 11, 1, tzinfo=UTC)


async def rows(channel: Running, table: sa.Table) -> list[Any]:
    assert channel.service.engine is not None
    async with channel.service.engine.connect() as conn:
        return list((await conn.execute(sa.select(table))).all())


async def item(channel: Running, complaint_id: str) -> Any:
    assert channel.service.engine is not None
    async with channel.service.engine.connect() as conn:
        return (await conn.execute(sa.select(complaints).where(complaints.c.complaint_id == complaint_id))).one()


async def file(channel: Running, pcid: str, merchant: dict[str, Any], platform: str = "P001") -> str:
    answer = await channel.http.post("/v1/complaints", json=filing(pcid, merchant=merchant), headers=channel.auth("platform", platform=platform))
    assert answer.status_code == 202, answer.text
    return str(answer.json()["complaint_id"])


async def test_intake_takes_jurisdiction_and_first_handling_from_bridges_directory(
        channel: Running, kafka_bootstrap: str, prefix: str) -> None:
    topic = prefix + topics.BRIDGE_SUBJECTS
    p001 = _PLATFORM | {"domicile_region": "330108", "connected_to_canal": False, "version": 1}
    await produce_events(kafka_bootstrap, topic, [
        bridge_event(PlatformRegistered, p001, "P001", T0),
        bridge_event(StoreRegistered, _STORE | {"store_id": "S-1", "region": "330105"}, "P001/S-1", T0),
        bridge_event(StoreRegistered, _STORE | {"store_id": "S-9", "region": "330102"}, "P001/S-9", T0),
        # A store closed later, and an older update arriving after it: the later event stands.
        bridge_event(StoreClosed, {"platform_id": "P001", "store_id": "S-9", "region": "330109", "submission_id": _STORE["submission_id"],
                                   "period": "2026H2", "closed_at": T0.isoformat()}, "P001/S-9", T0 + timedelta(days=2)),
        bridge_event(StoreRegistered, _STORE | {"store_id": "S-9", "region": "330104"}, "P001/S-9", T0 + timedelta(days=1)),
        # Not channel's: passed by, not dead-lettered.
        Envelope(type="redshield.bridge.submission.applied.v1", source="/redshield/bridge", subject="x", data={"anything": 1}),
        Envelope(type="redshield.bridge.something.new.v1", source="/redshield/bridge", subject="y", data={}),
    ])
    await eventually(lambda: _count(channel, directory_stores, 2))
    assert {(r.store_id, r.region, r.closed) for r in await rows(channel, directory_stores)} == {("S-1", "330105", False), ("S-9", "330109", True)}

    unpublished = await file(channel, "J-1", {"store_id": "S-1", "store_name": "店"})
    unknown_store = await file(channel, "J-2", {"store_id": "S-404", "store_name": "店"})
    conflicting = await file(channel, "J-3", {"store_id": "S-1", "store_name": "店", "region": "330106"})
    closed_store = await file(channel, "J-4", {"store_id": "S-9", "store_name": "店"})
    assert (await item(channel, unpublished)).region == "330105"  # the store's region in the directory
    assert (await item(channel, unknown_store)).region == "330108"  # the platform's domicile
    assert (await item(channel, closed_store)).region == "330109"
    row = await item(channel, conflicting)
    assert (row.region, row.jurisdiction_conflict) == ("330106", "330105")
    # The directory says P001 is not connected: no first handling, straight to the bureau.
    assert row.state == "awaiting_acceptance"

    trail = [r for r in await rows(channel, audit) if r.complaint_id == conflicting and r.ground == "jurisdiction-conflict"]
    assert len(trail) == 1 and "330105" in trail[0].detail and trail[0].event_type == "redshield.channel.complaint.received.v1"
    bureau = channel.auth("bureau", region="330100")
    listed = (await channel.http.get("/v1/complaints", params={"jurisdiction_conflict": "true"}, headers=bureau)).json()
    assert [(i["complaint_id"], i["jurisdiction_conflict"]) for i in listed["items"]] == [(conflicting, "330105")]
    seen = (await channel.http.get(f"/v1/complaints/{conflicting}", headers=bureau)).json()
    assert seen["jurisdiction_conflict"] == "330105"

    # P001 joins the canal (a newer version); a stale version 1 arriving late changes nothing.
    await produce_events(kafka_bootstrap, topic, [
        bridge_event(PlatformUpdated, p001 | {"connected_to_canal": True, "version": 2, "changed": ["connected_to_canal"]}, "P001", T0),
        bridge_event(PlatformRegistered, p001, "P001", T0),
    ])
    await eventually(lambda: _connected(channel))
    joined = await file(channel, "J-5", {"store_id": "S-1", "store_name": "店"})
    assert (await item(channel, joined)).state == "assigned_to_platform"
    # A platform bridge never mentioned keeps the settings' default: connected.
    stranger = await file(channel, "J-6", {"store_id": "S-1", "store_name": "店"}, platform="P777")
    assert (await item(channel, stranger)).state == "assigned_to_platform"


async def test_a_broken_directory_event_goes_to_the_dlq_with_its_reason(channel: Running, kafka_bootstrap: str, prefix: str) -> None:
    broken = bridge_event(StoreRegistered, _STORE | {"store_id": "S-2"}, "P001/S-2", T0)
    broken_data = broken.data | {"region": "Hangzhou"}
    record = Envelope(type=broken.type, source=broken.source, subject=broken.subject, data=broken_data, time=T0)
    good = bridge_event(StoreRegistered, _STORE | {"store_id": "S-3"}, "P001/S-3", T0)
    await produce(kafka_bootstrap, prefix + topics.BRIDGE_SUBJECTS, [(e.key, e.value(), e.headers()) for e in (record, good)])
    (dead,) = await read_topic(kafka_bootstrap, prefix + topics.dlq("channel-directory"), 1)
    headers = header_map(dead.headers)
    assert headers["x-dlq-reason"] == b"schema" and b"region" in headers["x-dlq-error"]
    await eventually(lambda: _count(channel, directory_stores, 1))
    assert [r.store_id for r in await rows(channel, directory_stores)] == ["S-3"]


async def _count(channel: Running, table: sa.Table, n: int) -> bool:
    return len(await rows(channel, table)) == n


async def _connected(channel: Running) -> bool:
    (entry,) = await rows(channel, directory_platforms)
    return bool(entry.connected_to_canal) and entry.version == 2
