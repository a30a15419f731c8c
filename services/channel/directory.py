"""bridge's directory, kept locally: channel consumes bridge.subjects.v1 (platforms registered or updated, stores
registered, updated or closed) so intake can find a merchant's region, a platform's domicile and whether the
platform takes part in the canal, without ever calling bridge.

Redelivery changes nothing (inbox), and order does not matter: a platform entry moves only to a higher registry
version, a store only to a later event. Other event types on the topic (submissions, reports) are not channel's
and are passed by; a known type whose data does not fit its schema goes to dlq.channel-directory.v1.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncConnection

from contracts import topics
from contracts.events.bridge import PlatformRegistered, PlatformUpdated, StoreClosed, StoreRegistered, StoreUpdated
from services.channel.store import directory_platforms, directory_stores, utc
from services.runtime.consumer import Delivery, Rejected
from services.runtime.service import Service

DIRECTORY_CONSUMER = "channel-directory"  # consumer group and DLQ: dlq.channel-directory.v1

_PLATFORM_EVENTS = {m.event_type: m for m in (PlatformRegistered, PlatformUpdated)}
_STORE_EVENTS = {m.event_type: m for m in (StoreRegistered, StoreUpdated)}


async def apply_platform(conn: AsyncConnection, event: PlatformRegistered | PlatformUpdated, at: datetime) -> None:
    p = directory_platforms.c
    values = {"domicile_region": event.domicile_region, "connected_to_canal": event.connected_to_canal, "version": event.version,
              "updated_at": utc(at)}
    current = (await conn.execute(sa.select(p.version).where(p.platform_id == event.platform_id))).first()
    if current is None:
        await conn.execute(sa.insert(directory_platforms).values(platform_id=event.platform_id, **values))
    elif current.version < event.version:
        await conn.execute(sa.update(directory_platforms).where(p.platform_id == event.platform_id).values(values))


async def apply_store(conn: AsyncConnection, platform_id: str, store_id: str, *, region: str, uscc: str | None, closed: bool,
                      at: datetime) -> None:
    st = directory_stores.c
    values = {"region": region, "uscc": uscc, "closed": closed, "event_time": utc(at)}
    key = sa.and_(st.platform_id == platform_id, st.store_id == store_id)
    current = (await conn.execute(sa.select(st.event_time).where(key))).first()
    if current is None:
        await conn.execute(sa.insert(directory_stores).values(platform_id=platform_id, store_id=store_id, **values))
    elif utc(current.event_time) <= utc(at):
        await conn.execute(sa.update(directory_stores).where(key).values(values))


def directory_handler(service: Service):  # type: ignore[no-untyped-def]
    async def handle(batch: Sequence[Delivery]) -> list[tuple[Delivery, Rejected]]:
        rejected: list[tuple[Delivery, Rejected]] = []
        ours = [d for d in batch if d.envelope.type in _PLATFORM_EVENTS or d.envelope.type in _STORE_EVENTS
                or d.envelope.type == StoreClosed.event_type]
        async with service.uow() as uow:
            fresh = await uow.first_times(DIRECTORY_CONSUMER, [(d.envelope.source, d.envelope.id) for d in ours])
            for delivery in ours:
                envelope = delivery.envelope
                if (envelope.source, envelope.id) not in fresh:
                    continue
                try:
                    if envelope.type in _PLATFORM_EVENTS:
                        platform = _PLATFORM_EVENTS[envelope.type].model_validate(envelope.data)
                        await apply_platform(uow.conn, platform, envelope.time)
                    elif envelope.type in _STORE_EVENTS:
                        shop = _STORE_EVENTS[envelope.type].model_validate(envelope.data)
                        await apply_store(uow.conn, shop.platform_id, shop.store_id, region=shop.region, uscc=shop.uscc, closed=False,
                                          at=envelope.time)
                    else:
                        gone = StoreClosed.model_validate(envelope.data)
                        await apply_store(uow.conn, gone.platform_id, gone.store_id, region=gone.region, uscc=gone.uscc, closed=True,
                                          at=envelope.time)
                except ValidationError as exc:
                    fields = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
                    rejected.append((delivery, Rejected("schema", fields)))
            await uow.commit()
        return rejected

    return handle


def install(service: Service) -> None:
    consumer = service.consumer(DIRECTORY_CONSUMER, directory_handler(service))
    consumer.subscribe(
        service.broker,
        topics.BRIDGE_SUBJECTS,
        group_id=DIRECTORY_CONSUMER,
        title="channel/bridge-subjects",
        description="bridge's platforms and stores, kept as channel's directory for jurisdiction and first handling.",
    )
