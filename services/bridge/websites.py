"""Enterprise websites (企业网站): registered and changed by a regulator, or by a bureau within its own area. Each change
is a new version, an audit row and an event on ``bridge.subjects.v1``, in one transaction. Regulators read every
website, a bureau those of its area."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from contracts.events.base import EventData
from contracts.events.bridge import RegionCheck, UsccCheck, WebsiteStatus
from services.bridge import website_rules
from services.bridge.domain import china_date
from services.bridge.faironline_rules import area_stem, in_area
from services.bridge.platforms import envelope_for
from services.bridge.store import for_update, uscc_overrides, websites, write_audit
from services.bridge.subject_rules import Issue
from services.bridge.website_rules import WebsiteEntry, WebsiteForm, WebsiteRegistration
from services.runtime.auth import Caller, Role
from services.runtime.clock import Clock
from services.runtime.uow import UnitOfWork

WRITERS: Final = (Role.REGULATOR, Role.ADMIN, Role.BUREAU)
READERS: Final = (Role.REGULATOR, Role.ADMIN, Role.AUDITOR, Role.BUREAU)


class UnknownWebsite(Exception):
    pass


class WebsiteExists(Exception):
    pass


class OutOfArea(Exception):
    """A bureau registering (or moving) a website outside its own area."""


@dataclass(frozen=True, slots=True)
class Written:
    entry: WebsiteEntry
    changed: list[str]
    warnings: tuple[Issue, ...]


def may_see(caller: Caller, region: str) -> bool:
    if caller.role is Role.BUREAU:
        return in_area(caller.region, region)
    return caller.role in READERS


class Websites:
    def __init__(self, *, clock: Clock) -> None:
        self.clock = clock

    async def register(self, uow: UnitOfWork, *, caller: Caller, form: WebsiteRegistration) -> Written:
        now = self.clock.now()
        _check_area(caller, form.region)
        if await _row(uow.conn, form.website_id, lock=True) is not None:
            raise WebsiteExists(form.website_id)
        entry, warnings = website_rules.register(form.website_id, WebsiteForm.model_validate(form.model_dump(exclude={"website_id"})),
                                                 on=china_date(now), overridden=await _overridden(uow.conn, form.uscc))
        await uow.conn.execute(sa.insert(websites).values(**_values(entry), created_at=now, updated_at=now))
        await write_audit(uow.conn, at=now, actor=caller.subject, role=caller.role.value, action="website.registered",
                          target=f"website:{entry.website_id}", detail=_audit_detail(entry, warnings))
        self._publish(uow, website_rules.registered_event(entry), entry, now)
        return Written(entry, [], warnings)

    async def revise(self, uow: UnitOfWork, *, caller: Caller, website_id: str, form: WebsiteForm) -> Written:
        now = self.clock.now()
        row = await _row(uow.conn, website_id, lock=True)
        if row is None or not may_see(caller, row["region"]):
            raise UnknownWebsite(website_id)
        _check_area(caller, form.region)
        current = entry_of(row)
        overridden = await _overridden(uow.conn, form.uscc)
        entry, changed, warnings = website_rules.revise(current, form, on=china_date(now), overridden=overridden)
        if not changed:
            return Written(current, [], warnings)  # the same entry again: no new version, no event, nothing to audit
        await uow.conn.execute(sa.update(websites).where(websites.c.website_id == website_id).values(**_values(entry), updated_at=now))
        await write_audit(uow.conn, at=now, actor=caller.subject, role=caller.role.value, action="website.updated",
                          target=f"website:{website_id}", detail=_audit_detail(entry, warnings) | {"changed": changed})
        self._publish(uow, website_rules.updated_event(entry, changed), entry, now)
        return Written(entry, changed, warnings)

    @staticmethod
    async def get(conn: AsyncConnection, caller: Caller, website_id: str) -> WebsiteEntry | None:
        row = await _row(conn, website_id)
        return entry_of(row) if row is not None and may_see(caller, row["region"]) else None

    @staticmethod
    async def listing(conn: AsyncConnection, caller: Caller, *, after: str | None, limit: int, uscc: str | None = None,
                      status: str | None = None) -> list[WebsiteEntry]:
        stmt = sa.select(websites).order_by(websites.c.website_id).limit(limit)
        if caller.role is Role.BUREAU:
            stmt = stmt.where(websites.c.region.startswith(area_stem(caller.region or ""), autoescape=True))
        if after is not None:
            stmt = stmt.where(websites.c.website_id > after)
        if uscc is not None:
            stmt = stmt.where(websites.c.uscc == uscc)
        if status is not None:
            stmt = stmt.where(websites.c.status == status)
        return [entry_of(dict(r._mapping)) for r in await conn.execute(stmt)]

    @staticmethod
    def _publish(uow: UnitOfWork, event: EventData, entry: WebsiteEntry, now: datetime) -> None:
        uow.publish(event.topic, envelope_for(event, subject=entry.website_id, time=now, region=entry.region, platform_id=None))


async def confirm_uscc(uow: UnitOfWork, code: str, *, now: datetime) -> int:
    """``code`` was just confirmed genuine (``POST /v1/uscc-overrides``): each website flagged with it becomes
    ``overridden``, a new version with its update event. Returns how many changed; none once they all have."""
    flagged = sa.select(websites).where(websites.c.uscc == code, websites.c.uscc_check == UsccCheck.CHECK_FAILED.value)
    rows = await uow.conn.execute(for_update(flagged.order_by(websites.c.website_id), uow.conn))
    entries = [entry_of(dict(r._mapping)) for r in rows]
    for current in entries:
        entry = replace(current, uscc_check=UsccCheck.OVERRIDDEN, version=current.version + 1)
        await uow.conn.execute(sa.update(websites).where(websites.c.website_id == entry.website_id)
                               .values(uscc_check=entry.uscc_check.value, version=entry.version, updated_at=now))
        Websites._publish(uow, website_rules.updated_event(entry, ["uscc_check"]), entry, now)
    return len(entries)


def _check_area(caller: Caller, region: str) -> None:
    if caller.role is Role.BUREAU and not in_area(caller.region, region):
        raise OutOfArea(region)


async def _row(conn: AsyncConnection, website_id: str, *, lock: bool = False) -> dict[str, Any] | None:
    stmt = sa.select(websites).where(websites.c.website_id == website_id)
    row = (await conn.execute(for_update(stmt, conn) if lock else stmt)).first()
    return dict(row._mapping) if row else None


async def _overridden(conn: AsyncConnection, code: str) -> bool:
    """A person confirmed this code is genuine although its check character fails (``POST /v1/uscc-overrides``)."""
    return (await conn.execute(sa.select(uscc_overrides.c.uscc).where(uscc_overrides.c.uscc == code))).first() is not None


def entry_of(row: dict[str, Any]) -> WebsiteEntry:
    return WebsiteEntry(
        website_id=row["website_id"], operator_name=row["operator_name"], uscc=row["uscc"], uscc_check=UsccCheck(row["uscc_check"]),
        domain=row["domain"], url=row["url"], icp_filing=row["icp_filing"], region=row["region"],
        region_check=RegionCheck(row["region_check"]), category=row["category"], status=WebsiteStatus(row["status"]),
        version=row["version"],
    )


def _values(entry: WebsiteEntry) -> dict[str, Any]:
    return {"website_id": entry.website_id, "version": entry.version,
            **{name: getattr(entry, name) for name in website_rules.FIELDS}} | {
        "uscc_check": entry.uscc_check.value, "region_check": entry.region_check.value, "status": entry.status.value}


def _audit_detail(entry: WebsiteEntry, warnings: tuple[Issue, ...]) -> dict[str, Any]:
    return {"version": entry.version, "uscc": entry.uscc, "uscc_check": entry.uscc_check.value, "domain": entry.domain,
            "icp_filing": entry.icp_filing, "region": entry.region, "status": entry.status.value,
            "warnings": [w.code for w in warnings]}


def website_view(entry: WebsiteEntry) -> dict[str, Any]:
    return {"website_id": entry.website_id, **{name: getattr(entry, name) for name in website_rules.FIELDS}, "version": entry.version} | {
        "uscc_check": entry.uscc_check.value, "region_check": entry.region_check.value, "status": entry.status.value,
        "links": {"self": f"/v1/websites/{entry.website_id}"}}
