"""The subject database as people read it (stores, a merchant across platforms), and the USCC override."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from contracts import uscc
from contracts.events.bridge import StoreUpdated, UsccCheck
from services.bridge import new_forms, websites
from services.bridge.apply import store_data
from services.bridge.domain import Refused, check_uscc_shape
from services.bridge.forms import UsccOverride
from services.bridge.platforms import envelope_for
from services.bridge.store import store_batches, stores, submissions, uscc_overrides, write_audit
from services.bridge.submissions import aware
from services.runtime.auth import Caller, Role
from services.runtime.clock import Clock
from services.runtime.uow import UnitOfWork

#: Columns a caller may read: ID numbers stay encrypted and are never served; their digest is internal.
PUBLIC = [c for c in stores.c if c.name not in ("id_number_enc", "id_number_mac", "digest")]


def region_prefix(region: str) -> str:
    """A bureau's region as a code prefix: province 33 (330000), city 3301 (330100), county 330106."""
    if region.endswith("0000"):
        return region[:2]
    if region.endswith("00"):
        return region[:4]
    return region


def scope(caller: Caller) -> sa.ColumnElement[bool] | None:
    """What of the subject database a caller sees; None: everything."""
    if caller.role in (Role.REGULATOR, Role.ADMIN, Role.AUDITOR):
        return None
    if caller.role is Role.PLATFORM and caller.platform_id:
        return stores.c.platform_id == caller.platform_id
    if caller.role is Role.BUREAU and caller.region:
        return stores.c.region.startswith(region_prefix(caller.region), autoescape=True)
    return sa.false()


def _public(row: Any) -> dict[str, Any]:
    out = dict(row._mapping)
    for name in ("exemption_declared", "above_threshold"):
        out[name] = bool(out[name])
    for name in ("updated_at", "closed_at"):
        if out.get(name) is not None:
            out[name] = aware(out[name]).isoformat()
    return out


async def list_stores(conn: AsyncConnection, caller: Caller, *, platform_id: str | None = None, uscc_code: str | None = None,
                      after: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
    stmt = sa.select(*PUBLIC).order_by(stores.c.platform_id, stores.c.store_id).limit(limit)
    visible = scope(caller)
    if visible is not None:
        stmt = stmt.where(visible)
    if platform_id is not None:
        stmt = stmt.where(stores.c.platform_id == platform_id)
    if uscc_code is not None:
        stmt = stmt.where(stores.c.uscc == uscc_code)
    if after is not None:
        stmt = stmt.where(stores.c.store_id > after)
    return [_public(row) for row in await conn.execute(stmt)]


async def get_store(conn: AsyncConnection, caller: Caller, platform_id: str, store_id: str) -> dict[str, Any] | None:
    stmt = sa.select(*PUBLIC).where(stores.c.platform_id == platform_id, stores.c.store_id == store_id)
    visible = scope(caller)
    if visible is not None:
        stmt = stmt.where(visible)
    row = (await conn.execute(stmt)).first()
    return _public(row) if row else None


async def override_uscc(uow: UnitOfWork, *, caller: Caller, form: UsccOverride, clock: Clock) -> tuple[bool, dict[str, int]]:
    """Record that a failing code is genuine; flagged stores, enterprise websites and new-business-form subjects using it
    become ``overridden`` (one update event each).

    Returns (newly recorded, how many of each kind changed). Recording the same code again changes nothing.
    """
    check_uscc_shape(form.uscc)
    if uscc.is_valid(form.uscc):
        raise Refused("uscc-valid", f"{form.uscc} passes its check character: there is nothing to override", "uscc")
    if (await uow.conn.execute(sa.select(uscc_overrides.c.uscc).where(uscc_overrides.c.uscc == form.uscc))).first():
        return False, {"stores": 0, "websites": 0, "new_form_subjects": 0}
    now = clock.now()
    await uow.conn.execute(sa.insert(uscc_overrides).values(uscc=form.uscc, reason=form.reason, decided_by=caller.subject, decided_at=now))
    # A store's last data came from a submission or from a batch (POST …/stores/batch): its event names that one's period.
    period = sa.func.coalesce(submissions.c.period, store_batches.c.period).label("period")
    flagged = (await uow.conn.execute(
        sa.select(stores, period)
        .select_from(stores.outerjoin(submissions, submissions.c.submission_id == stores.c.last_submission_id)
                     .outerjoin(store_batches, store_batches.c.batch_id == stores.c.last_submission_id))
        .where(stores.c.uscc == form.uscc, stores.c.uscc_check == UsccCheck.CHECK_FAILED.value)
    )).all()
    await uow.conn.execute(sa.update(stores).where(stores.c.uscc == form.uscc, stores.c.uscc_check == UsccCheck.CHECK_FAILED.value)
                           .values(uscc_check=UsccCheck.OVERRIDDEN.value, updated_at=now))
    for row in flagged:
        data = store_data(row, platform_id=row.platform_id, submission_id=row.last_submission_id, period=row.period)
        event = StoreUpdated.model_validate(data | {"uscc_check": UsccCheck.OVERRIDDEN.value, "changed": ["uscc_check"]})
        uow.publish(event.topic, envelope_for(event, subject=f"{row.platform_id}/{row.store_id}", time=now, region=row.region,
                                              platform_id=row.platform_id))
    # The override belongs to the code, not to stores: every kind of subject carrying it is confirmed in this transaction.
    sites = await websites.confirm_uscc(uow, form.uscc, now=now)
    subjects = await new_forms.confirm_uscc(uow, form.uscc, now=now)
    changed = {"stores": len(flagged), "websites": sites, "new_form_subjects": subjects}
    await write_audit(uow.conn, at=now, actor=caller.subject, role=caller.role.value, action="uscc.overridden", target=f"uscc:{form.uscc}",
                      detail={"reason": form.reason, **changed})
    return True, changed


async def submission(conn: AsyncConnection, submission_id: str) -> dict[str, Any] | None:
    row = (await conn.execute(sa.select(submissions).where(submissions.c.submission_id == submission_id))).first()
    return dict(row._mapping) if row else None
