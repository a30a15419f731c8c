"""The bureau's own desk: officers enter what came in by hotline, at the counter or through 12315, and review
the professional-claimant flags raised on the items of their region."""


from datetime import datetime
from typing import Annotated, Any, Literal

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from contracts.codes import ComplaintCategory, IntakeChannel
from contracts.events.channel import (
    ActorRole,
    AwareDatetime,
    ClaimantPattern,
    ComplaintFiling,
    ComplaintFlagCleared,
    ComplaintState,
    Consumer,
    FiledKind,
    Merchant,
    Order,
)
from services.channel import domain, metrics, store
from services.channel.bureau_track import in_region
from services.channel.domain import IntakeRejected
from services.channel.handling import Handling
from services.channel.intake import Intake
from services.channel.responses import PROBLEMS
from services.runtime.auth import Caller, Role
from services.runtime.http import Problem, require_role
from services.runtime.service import Service

IntakeId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")]
PlatformId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{1,32}$")]
Reason = Annotated[str, StringConstraints(min_length=1, max_length=2000, strip_whitespace=True)]

_SOURCES = {"hotline": IntakeChannel.HOTLINE, "counter": IntakeChannel.COUNTER, "12315": IntakeChannel.NATIONAL_12315}


class OfficerFiling(BaseModel):
    """What an officer enters: the filing, where it came in, and the officer's own intake id (the idempotency key)."""

    model_config = ConfigDict(extra="forbid")
    intake_id: IntakeId = Field(description="The officer's record id (hotline ticket, counter slip); the same id answers the same item")
    source_channel: Literal["hotline", "counter", "12315"]
    platform_id: PlatformId = Field(description="The platform the merchant sells on; a connected platform handles the complaint first")
    kind: FiledKind
    received_at: AwareDatetime
    merchant: Merchant
    order: Order
    category: ComplaintCategory
    description: Annotated[str, StringConstraints(min_length=1, max_length=5000)]
    consumer: Consumer | None = None


class FlagClearing(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: Reason


class FlagItem(BaseModel):
    flag_id: str
    complaint_id: str
    pattern: ClaimantPattern
    detail: str
    rule_id: str
    raised_at: datetime
    state: ComplaintState
    platform_id: str
    region: str
    cleared_at: datetime | None = None
    clear_reason: str | None = None


def _region_scope(caller: Caller) -> str:
    return domain.region_scope(caller.region) if caller.region else ""


def build_router(service: Service, intake: Intake, handling: Handling) -> APIRouter:
    router = APIRouter(prefix="/v1/bureau", tags=["bureau desk"])
    CurrentCaller = Annotated[Caller, Depends(service.current_caller)]

    @router.post("/intake", status_code=202, summary="An officer files what came in by hotline, at the counter or through 12315")
    async def officer_intake(body: OfficerFiling, caller: CurrentCaller) -> JSONResponse:
        require_role(caller, Role.BUREAU)
        if not caller.region:
            raise Problem(403, "Forbidden", "an officer's token must name the bureau's region")
        key = f"{caller.region}/{body.intake_id}"
        filing = ComplaintFiling(
            platform_complaint_id=f"{body.source_channel}/{key}", kind=body.kind, received_at=body.received_at, merchant=body.merchant,
            order=body.order, category=body.category, description=body.description, consumer=body.consumer,
        )
        try:
            async with service.uow() as uow:
                known = await store.by_intake_key(uow.conn, key)
                if known is not None:
                    # The same intake id again answers the item it made, whatever the rest of the body says now.
                    filed = intake.answer_known(filing.platform_complaint_id, known)
                else:
                    (filed,) = await intake.file(uow, platform_id=body.platform_id, filings=[filing], intake=_SOURCES[body.source_channel],
                                                 home_region=caller.region, intake_key=key)
                    await uow.commit()
            metrics.filed(_SOURCES[body.source_channel], [filed])
        except IntakeRejected as exc:
            raise Problem(422, "Filing refused", exc.detail, PROBLEMS + exc.reason) from exc
        return JSONResponse(filed.body() | {"intake_id": body.intake_id}, status_code=202)

    @router.get("/flags", response_model=list[FlagItem], summary="Professional-claimant flags on the items of the officer's region")
    async def list_flags(
        caller: CurrentCaller,
        include_cleared: Annotated[bool, Query(description="Also flags already reviewed and cleared")] = False,
        limit: Annotated[int, Query(ge=1, le=500)] = 100,
    ) -> list[FlagItem]:
        require_role(caller, Role.BUREAU)
        f, c = store.flags, store.complaints
        stmt = (sa.select(f.c.flag_id, f.c.complaint_id, f.c.pattern, f.c.detail, f.c.rule_id, f.c.raised_at, f.c.cleared_at,
                          f.c.clear_reason, c.c.state, c.c.platform_id, c.c.region)
                .select_from(f.join(c, c.c.complaint_id == f.c.complaint_id))
                .where(c.c.region.startswith(_region_scope(caller))).order_by(f.c.raised_at, f.c.flag_id).limit(limit))
        if not include_cleared:
            stmt = stmt.where(f.c.cleared_at.is_(None))
        async with service.uow() as uow:
            rows = (await uow.conn.execute(stmt)).all()
        return [FlagItem(**(dict(r._mapping) | {"raised_at": store.utc(r.raised_at),
                                                 "cleared_at": store.utc(r.cleared_at) if r.cleared_at else None})) for r in rows]

    @router.post("/flags/{flag_id}/clear", summary="An officer reviewed a flag and clears it, with a reason")
    async def clear_flag(flag_id: str, body: FlagClearing, caller: CurrentCaller) -> dict[str, Any]:
        require_role(caller, Role.BUREAU)
        f = store.flags
        now = service.clock.now()
        async with service.uow() as uow:
            row = (await uow.conn.execute(
                sa.select(f.c.complaint_id, f.c.pattern, f.c.cleared_at).where(f.c.flag_id == flag_id))).first()
            loaded = await store.load_track(uow.conn, row.complaint_id) if row else None
            if row is None or loaded is None or not in_region(caller)(loaded.track):
                raise Problem(404, "Not found", f"no flag {flag_id}")
            done = await uow.conn.execute(
                sa.update(f).where(f.c.flag_id == flag_id, f.c.cleared_at.is_(None))
                .values(cleared_at=store.utc(now), cleared_by=caller.subject, clear_reason=body.reason))
            if done.rowcount != 1:
                raise Problem(409, "Already cleared", f"flag {flag_id} was cleared before", PROBLEMS + "flag-cleared")
            track = loaded.track
            event = ComplaintFlagCleared(complaint_id=track.complaint_id, platform_id=track.platform_id, region=track.region,
                                         state=track.state, at=now, flag_id=flag_id, pattern=ClaimantPattern(row.pattern),
                                         by=ActorRole.BUREAU, reason=body.reason)
            event_id = handling.publish(uow, event, subject=track.complaint_id, region=track.region, platform_id=track.platform_id,
                                        time=now)
            await store.insert_audit(uow.conn, [{
                "complaint_id": track.complaint_id, "at": store.utc(now), "actor_role": ActorRole.BUREAU.value, "actor": caller.subject,
                "from_state": track.state.value, "to_state": track.state.value, "event_type": ComplaintFlagCleared.event_type,
                "event_id": event_id, "ground": f"flag-cleared:{row.pattern}", "detail": body.reason, "rule_id": None}])
            await uow.commit()
        return {"flag_id": flag_id, "complaint_id": track.complaint_id, "cleared_at": store.utc(now).isoformat(), "reason": body.reason}

    return router
