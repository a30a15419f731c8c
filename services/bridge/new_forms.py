"""New-business-form subjects (新业态主体) on a platform: written by the platform itself (only its own) or a regulator, one
``PUT`` per subject that creates or replaces it. Each change is a new version, an audit row and an event on
``bridge.subjects.v1``, in one transaction. ID numbers are encrypted at rest (as stores' are) and never leave bridge.

A platform reads its own subjects, regulators every platform's, a bureau the subjects of its area.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from contracts.events.base import EventData
from contracts.events.bridge import NewBusinessForm, RegionCheck, UsccCheck
from services.bridge import new_form_rules
from services.bridge.domain import china_date
from services.bridge.faironline_rules import area_stem
from services.bridge.new_form_rules import NewFormSubject, NewFormSubjectForm
from services.bridge.platforms import envelope_for
from services.bridge.store import for_update, new_form_subjects, platforms, uscc_overrides, write_audit
from services.bridge.subject_rules import Issue
from services.runtime.auth import Caller, Role
from services.runtime.clock import Clock
from services.runtime.keys import FieldCipher
from services.runtime.uow import UnitOfWork

WRITERS: Final = (Role.PLATFORM, Role.REGULATOR, Role.ADMIN)


class UnknownPlatform(Exception):
    pass


@dataclass(frozen=True, slots=True)
class Written:
    entry: NewFormSubject
    created: bool
    changed: list[str]
    warnings: tuple[Issue, ...]


def scope(caller: Caller) -> sa.ColumnElement[bool] | None:
    """What of the subjects a caller sees; None: everything."""
    t = new_form_subjects.c
    if caller.role in (Role.REGULATOR, Role.ADMIN, Role.AUDITOR):
        return None
    if caller.role is Role.PLATFORM and caller.platform_id:
        return t.platform_id == caller.platform_id
    if caller.role is Role.BUREAU and caller.region:
        return t.region.startswith(area_stem(caller.region), autoescape=True)
    return sa.false()


class NewForms:
    def __init__(self, *, clock: Clock, cipher: FieldCipher, mac_key: bytes) -> None:
        self.clock = clock
        self.cipher = cipher
        self.mac_key = mac_key

    async def put(self, uow: UnitOfWork, *, caller: Caller, platform_id: str, subject_id: str, form: NewFormSubjectForm) -> Written:
        """Create the subject or replace its entry; the same entry again changes nothing."""
        conn = uow.conn
        now = self.clock.now()
        if (await conn.execute(sa.select(platforms.c.platform_id).where(platforms.c.platform_id == platform_id))).first() is None:
            raise UnknownPlatform(platform_id)
        t = new_form_subjects.c
        stmt = sa.select(new_form_subjects).where(t.platform_id == platform_id, t.subject_id == subject_id)
        row = (await conn.execute(for_update(stmt, conn))).first()
        overridden = form.uscc is not None and (
            await conn.execute(sa.select(uscc_overrides.c.uscc).where(uscc_overrides.c.uscc == form.uscc))).first() is not None
        day = china_date(now)
        if row is None:
            entry, warnings = new_form_rules.register(platform_id, subject_id, form, on=day, overridden=overridden, mac_key=self.mac_key)
            await conn.execute(sa.insert(new_form_subjects).values(**self._values(entry, form), created_at=now, updated_at=now))
            changed: list[str] = []
            event: EventData = new_form_rules.registered_event(entry)
            action = "new_form_subject.registered"
        else:
            current = entry_of(dict(row._mapping))
            entry, changed, warnings = new_form_rules.revise(current, form, on=day, overridden=overridden, mac_key=self.mac_key)
            if not changed:
                return Written(current, False, [], warnings)  # the same entry again: no new version, no event, nothing to audit
            await conn.execute(sa.update(new_form_subjects).where(t.platform_id == platform_id, t.subject_id == subject_id)
                               .values(**self._values(entry, form), updated_at=now))
            event = new_form_rules.updated_event(entry, changed)
            action = "new_form_subject.updated"
        # The audit row says what was decided; the ID number (and its digest) stays out of it.
        await write_audit(conn, at=now, actor=caller.subject, role=caller.role.value, action=action,
                          target=f"new_form_subject:{platform_id}/{subject_id}",
                          detail={"platform_id": platform_id, "form": entry.form.value, "version": entry.version, "uscc": entry.uscc,
                                  "uscc_check": entry.uscc_check.value if entry.uscc_check else None,
                                  "exemption_declared": entry.exemption_declared, "region": entry.region, "changed": changed,
                                  "warnings": [w.code for w in warnings]})
        self._publish(uow, event, entry, now)
        return Written(entry, row is None, changed, warnings)

    def _values(self, entry: NewFormSubject, form: NewFormSubjectForm) -> dict[str, Any]:
        return {
            "platform_id": entry.platform_id, "subject_id": entry.subject_id, "form": entry.form.value, "name": entry.name,
            "uscc": entry.uscc, "uscc_check": entry.uscc_check.value if entry.uscc_check else None,
            "id_number_enc": self.cipher.encrypt(form.id_number), "id_number_mac": entry.id_number_mac,
            "exemption_declared": entry.exemption_declared, "region": entry.region, "region_check": entry.region_check.value,
            "handle": entry.handle, "url": entry.url, "category": entry.category, "version": entry.version,
        }

    @staticmethod
    def _publish(uow: UnitOfWork, event: EventData, entry: NewFormSubject, now: datetime) -> None:
        uow.publish(event.topic, envelope_for(event, subject=f"{entry.platform_id}/{entry.subject_id}", time=now, region=entry.region,
                                              platform_id=entry.platform_id))

    @staticmethod
    async def get(conn: AsyncConnection, caller: Caller, platform_id: str, subject_id: str) -> NewFormSubject | None:
        t = new_form_subjects.c
        stmt = sa.select(new_form_subjects).where(t.platform_id == platform_id, t.subject_id == subject_id)
        visible = scope(caller)
        if visible is not None:
            stmt = stmt.where(visible)
        row = (await conn.execute(stmt)).first()
        return entry_of(dict(row._mapping)) if row else None

    @staticmethod
    async def listing(conn: AsyncConnection, caller: Caller, *, platform_id: str, form: NewBusinessForm | None, after: str | None,
                      limit: int) -> list[NewFormSubject]:
        t = new_form_subjects.c
        stmt = sa.select(new_form_subjects).where(t.platform_id == platform_id).order_by(t.subject_id).limit(limit)
        visible = scope(caller)
        if visible is not None:
            stmt = stmt.where(visible)
        if form is not None:
            stmt = stmt.where(t.form == form.value)
        if after is not None:
            stmt = stmt.where(t.subject_id > after)
        return [entry_of(dict(r._mapping)) for r in await conn.execute(stmt)]

    @staticmethod
    async def across(conn: AsyncConnection, caller: Caller, *, form: NewBusinessForm | None, platform_id: str | None, region: str | None,
                     after: tuple[str, str] | None, limit: int) -> list[NewFormSubject]:
        """Every platform's subjects the caller may see, by (platform, subject id); ``region`` takes in whole code levels
        (330100: every district of Hangzhou), as a bureau's area does. ``after`` is the last (platform, subject id) read."""
        t = new_form_subjects.c
        stmt = sa.select(new_form_subjects).order_by(t.platform_id, t.subject_id).limit(limit)
        visible = scope(caller)
        if visible is not None:
            stmt = stmt.where(visible)
        if form is not None:
            stmt = stmt.where(t.form == form.value)
        if platform_id is not None:
            stmt = stmt.where(t.platform_id == platform_id)
        if region is not None:
            stmt = stmt.where(t.region.startswith(area_stem(region), autoescape=True))
        if after is not None:
            stmt = stmt.where(sa.or_(t.platform_id > after[0], sa.and_(t.platform_id == after[0], t.subject_id > after[1])))
        return [entry_of(dict(r._mapping)) for r in await conn.execute(stmt)]


async def confirm_uscc(uow: UnitOfWork, code: str, *, now: datetime) -> int:
    """``code`` was just confirmed genuine (``POST /v1/uscc-overrides``): each subject flagged with it, on any platform,
    becomes ``overridden``, a new version with its update event. Returns how many changed; none once they all have."""
    t = new_form_subjects.c
    flagged = sa.select(new_form_subjects).where(t.uscc == code, t.uscc_check == UsccCheck.CHECK_FAILED.value)
    rows = await uow.conn.execute(for_update(flagged.order_by(t.platform_id, t.subject_id), uow.conn))
    entries = [entry_of(dict(r._mapping)) for r in rows]
    for current in entries:
        entry = replace(current, uscc_check=UsccCheck.OVERRIDDEN, version=current.version + 1)
        await uow.conn.execute(sa.update(new_form_subjects).where(t.platform_id == entry.platform_id, t.subject_id == entry.subject_id)
                               .values(uscc_check=UsccCheck.OVERRIDDEN.value, version=entry.version, updated_at=now))
        NewForms._publish(uow, new_form_rules.updated_event(entry, ["uscc_check"]), entry, now)
    return len(entries)


def entry_of(row: dict[str, Any]) -> NewFormSubject:
    return NewFormSubject(
        platform_id=row["platform_id"], subject_id=row["subject_id"], form=NewBusinessForm(row["form"]), name=row["name"],
        uscc=row["uscc"], uscc_check=UsccCheck(row["uscc_check"]) if row["uscc_check"] else None, id_number_mac=row["id_number_mac"],
        exemption_declared=bool(row["exemption_declared"]), region=row["region"], region_check=RegionCheck(row["region_check"]),
        handle=row["handle"], url=row["url"], category=row["category"], version=row["version"],
    )


def subject_view(entry: NewFormSubject) -> dict[str, Any]:
    """What a caller reads: never the ID number nor its digest, only whether one is on file."""
    path = f"/v1/platforms/{entry.platform_id}/new-form-subjects/{entry.subject_id}"
    return {
        "platform_id": entry.platform_id, "subject_id": entry.subject_id, "form": entry.form.value, "name": entry.name,
        "uscc": entry.uscc, "uscc_check": entry.uscc_check.value if entry.uscc_check else None,
        "id_number_on_file": entry.id_number_mac is not None, "exemption_declared": entry.exemption_declared, "region": entry.region,
        "region_check": entry.region_check.value, "handle": entry.handle, "url": entry.url, "category": entry.category,
        "version": entry.version, "links": {"self": path},
    }
