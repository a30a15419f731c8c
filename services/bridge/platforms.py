"""The platform registry use cases: register, revise, read. Each change is an audit row and an event."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from contracts.envelope import Envelope
from contracts.events.base import EventData
from contracts.events.bridge import PlatformType, UsccCheck
from services.bridge import domain
from services.bridge.domain import PlatformEntry, Refused
from services.bridge.feed_topics import want_feed_topics
from services.bridge.forms import Contact, PlatformForm
from services.bridge.store import for_update, platforms, uscc_overrides, write_audit
from services.runtime.auth import Caller
from services.runtime.clock import Clock
from services.runtime.keys import FieldCipher
from services.runtime.logs import trace_id_var, traceparent_for
from services.runtime.uow import UnitOfWork

SOURCE = "/redshield/bridge"


class AlreadyRegistered(Exception):
    pass


class UnknownPlatform(Exception):
    pass


def envelope_for(event: EventData, *, subject: str, time: datetime, region: str | None, platform_id: str | None,
                 trace_id: str | None = None) -> Envelope:
    return Envelope(
        type=event.event_type,
        source=SOURCE,
        subject=subject,
        data=event.model_dump(mode="json", exclude_none=True),
        time=time,
        dataschema=event.dataschema(),
        region=region,
        platformid=platform_id,
        traceparent=traceparent_for(trace_id or trace_id_var.get()),
    )


class Registry:
    def __init__(self, *, clock: Clock, cipher: FieldCipher) -> None:
        self.clock = clock
        self.cipher = cipher
        #: Set after a commit that connected a platform to the canal: the feed-topic job wakes without waiting its interval.
        self.connected = asyncio.Event()

    async def register(self, uow: UnitOfWork, *, caller: Caller, platform_id: str, form: PlatformForm) -> PlatformEntry:
        now = self.clock.now()
        if await _row(uow.conn, platform_id, lock=True) is not None:
            raise AlreadyRegistered(platform_id)
        known = await _override_reason(uow.conn, form.uscc)
        entry = domain.register(platform_id, form, on=domain.china_date(now), known_override=known)
        await uow.conn.execute(sa.insert(platforms).values(**self._row_values(entry), created_at=now, updated_at=now))
        await self._remember_override(uow.conn, entry, caller, now, known)
        await write_audit(uow.conn, at=now, actor=caller.subject, role=caller.role.value, action="platform.registered",
                          target=f"platform:{platform_id}", detail=_audit_detail(entry, form))
        self._publish(uow, domain.registered_event(entry), entry, now)
        if entry.connected_to_canal:
            await want_feed_topics(uow.conn, platform_id, now)
        return entry

    async def revise(self, uow: UnitOfWork, *, caller: Caller, platform_id: str, form: PlatformForm) -> tuple[PlatformEntry, list[str]]:
        now = self.clock.now()
        row = await _row(uow.conn, platform_id, lock=True)
        if row is None:
            raise UnknownPlatform(platform_id)
        current = self.entry_of(row)
        known = await _override_reason(uow.conn, form.uscc)
        entry, changed = domain.revise(current, form, on=domain.china_date(now), known_override=known)
        if not changed:
            return current, []  # the same form again: no new version, no event, nothing to audit
        await uow.conn.execute(sa.update(platforms).where(platforms.c.platform_id == platform_id)
                               .values(**self._row_values(entry), updated_at=now))
        await self._remember_override(uow.conn, entry, caller, now, known)
        await write_audit(uow.conn, at=now, actor=caller.subject, role=caller.role.value, action="platform.updated",
                          target=f"platform:{platform_id}", detail=_audit_detail(entry, form) | {"changed": changed})
        published = [name for name in changed if name in domain.EVENT_FIELDS]
        if published:
            self._publish(uow, domain.updated_event(entry, published), entry, now)
        if entry.connected_to_canal:
            await want_feed_topics(uow.conn, platform_id, now)
        return entry, changed

    async def get(self, conn: AsyncConnection, platform_id: str) -> PlatformEntry | None:
        row = await _row(conn, platform_id)
        return self.entry_of(row) if row is not None else None

    async def all(self, conn: AsyncConnection, *, only: str | None = None) -> list[PlatformEntry]:
        stmt = sa.select(platforms).order_by(platforms.c.platform_id)
        if only is not None:
            stmt = stmt.where(platforms.c.platform_id == only)
        return [self.entry_of(dict(row._mapping)) for row in await conn.execute(stmt)]

    def entry_of(self, row: dict[str, Any]) -> PlatformEntry:
        contacts = orjson.loads(self.cipher.decrypt(row["contacts_enc"]) or "[]")
        return PlatformEntry(
            platform_id=row["platform_id"],
            name=row["name"],
            uscc=row["uscc"],
            uscc_check=UsccCheck(row["uscc_check"]),
            uscc_override_reason=row["uscc_override_reason"],
            domicile_region=row["domicile_region"],
            type=PlatformType(row["type"]),
            operating_model=row["operating_model"],
            main_categories=tuple(row["main_categories"]),
            contacts=tuple(Contact.model_validate(c) for c in contacts),
            connected_to_canal=bool(row["connected_to_canal"]),
            version=row["version"],
        )

    def _row_values(self, entry: PlatformEntry) -> dict[str, Any]:
        contacts = orjson.dumps([c.model_dump(mode="json") for c in entry.contacts]).decode()
        return {
            "platform_id": entry.platform_id,
            "name": entry.name,
            "uscc": entry.uscc,
            "uscc_check": entry.uscc_check.value,
            "uscc_override_reason": entry.uscc_override_reason,
            "domicile_region": entry.domicile_region,
            "type": entry.type.value,
            "operating_model": entry.operating_model,
            "main_categories": list(entry.main_categories),
            "contacts_enc": self.cipher.encrypt(contacts),
            "connected_to_canal": entry.connected_to_canal,
            "version": entry.version,
        }

    @staticmethod
    async def _remember_override(conn: AsyncConnection, entry: PlatformEntry, caller: Caller, now: datetime, known: str | None) -> None:
        """A reason given on the form becomes the code's override, so its stores are not flagged either."""
        if entry.uscc_check is UsccCheck.OVERRIDDEN and known is None and entry.uscc_override_reason:
            await conn.execute(sa.insert(uscc_overrides).values(uscc=entry.uscc, reason=entry.uscc_override_reason,
                                                                decided_by=caller.subject, decided_at=now))
            await write_audit(conn, at=now, actor=caller.subject, role=caller.role.value, action="uscc.overridden",
                              target=f"uscc:{entry.uscc}",
                              detail={"reason": entry.uscc_override_reason, "via": f"platform:{entry.platform_id}"})

    @staticmethod
    def _publish(uow: UnitOfWork, event: EventData, entry: PlatformEntry, now: datetime) -> None:
        uow.publish(event.topic, envelope_for(event, subject=entry.platform_id, time=now, region=entry.domicile_region,
                                              platform_id=entry.platform_id))


async def _row(conn: AsyncConnection, platform_id: str, *, lock: bool = False) -> dict[str, Any] | None:
    stmt = sa.select(platforms).where(platforms.c.platform_id == platform_id)
    row = (await conn.execute(for_update(stmt, conn) if lock else stmt)).first()
    return dict(row._mapping) if row else None


async def _override_reason(conn: AsyncConnection, code: str) -> str | None:
    return (await conn.execute(sa.select(uscc_overrides.c.reason).where(uscc_overrides.c.uscc == code))).scalar_one_or_none()


def _audit_detail(entry: PlatformEntry, form: PlatformForm) -> dict[str, Any]:
    # The audit row says what was decided, without copying people's contact details into another table.
    return {
        "version": entry.version,
        "uscc": entry.uscc,
        "uscc_check": entry.uscc_check.value,
        "uscc_override_reason": form.uscc_override_reason,
        "domicile_region": entry.domicile_region,
        "type": entry.type.value,
        "connected_to_canal": entry.connected_to_canal,
        "contacts": len(entry.contacts),
    }


__all__ = ["AlreadyRegistered", "Refused", "Registry", "UnknownPlatform", "envelope_for"]
