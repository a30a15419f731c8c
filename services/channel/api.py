"""channel's HTTP routes: parse, authorise, call the use case, map errors to problem+json."""

import base64
import binascii
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from contracts.events.channel import ComplaintFiling, ComplaintState, DeadlineRef, FirstHandlingAnswer
from services.channel import batch, bureau_intake, bureau_track, first_handling, lists, mediation, metrics, receipts_api, store
from services.channel.domain import GroundRequired, IllegalTransition, IntakeRejected, check_filing, in_scope
from services.channel.handling import Handling, UnknownComplaint
from services.channel.intake import Intake
from services.channel.responses import PROBLEMS, Moved, moved, transition_problem
from services.channel.single_intake import SingleIntake
from services.runtime.auth import Caller, Role
from services.runtime.http import Problem, require_role
from services.runtime.service import Service


class Accepted(BaseModel):
    complaint_id: str
    duplicate: bool
    kind: str = Field(description="complaint or report; a mixed filing answers with its complaint part")
    receipt_code: str = Field(description="For the consumer: looks the item up at GET /v1/receipts/{code}, no account needed")
    linked_complaint_id: str | None = Field(default=None, description="The report part of a mixed filing")
    linked_receipt_code: str | None = None
    repeat: str | None = Field(default=None, description="A repeat report answered with the open one: same_facts or new_facts (merged)")


class PlatformItem(BaseModel):
    complaint_id: str
    platform_complaint_id: str
    kind: str
    state: ComplaintState
    received_at: str
    category: str
    store_id: str
    store_name: str
    order_id: str | None = None
    amount: str
    region: str
    deadline: DeadlineRef | None = None
    receipt_code: str
    linked_complaint_id: str | None = None


class PlatformPage(BaseModel):
    items: list[PlatformItem]
    #: Pass as ``cursor`` for the next page; absent on the last page.
    next_cursor: str | None = None


def build_router(service: Service, intake: Intake, handling: Handling) -> APIRouter:
    router = APIRouter(prefix="/v1", tags=["complaints"])
    single = SingleIntake(service, intake)
    CurrentCaller = Annotated[Caller, Depends(service.current_caller)]

    @router.post("/complaints", status_code=202, response_model=Accepted, summary="A platform files a complaint or report")
    async def post_complaint(filing: ComplaintFiling, caller: CurrentCaller) -> JSONResponse:
        require_role(caller, Role.PLATFORM)
        assert caller.platform_id is not None
        try:
            check_filing(filing, service.clock.now())
            filed = await single.file(caller.platform_id, filing)
        except IntakeRejected as exc:
            raise Problem(422, "Filing refused", exc.detail, PROBLEMS + exc.reason) from exc
        return JSONResponse(filed.body(), status_code=202)

    @router.get("/complaints/{complaint_id}", summary="One complaint, as far as the caller may see it")
    async def get_complaint(complaint_id: str, caller: CurrentCaller) -> dict[str, Any]:
        async with service.uow() as uow:
            row = await store.get_complaint(uow.conn, complaint_id)
            if row is None or not _may_see(caller, row):
                # Another tenant's item answers exactly like a missing one.
                raise Problem(404, "Not found", f"no complaint {complaint_id}")
            row["amount"] = str(row["amount"])
            row["receipt_code"] = intake.receipt(complaint_id)
            if row["kind"] == "report":
                row["facts"] = await store.facts_of(uow.conn, complaint_id)
            if caller.role is Role.PLATFORM:
                row.pop("jurisdiction_conflict", None)  # the bureau's to resolve, like flags
            else:
                # Flags are for the bureau's review; a platform must not treat a consumer differently for them.
                row["flags"] = (await store.flags_of(uow.conn, [complaint_id])).get(complaint_id, [])
        return row

    @router.get("/platform/complaints", response_model=PlatformPage, summary="The calling platform's items, oldest first, by cursor")
    async def list_platform_complaints(
        caller: CurrentCaller,
        state: Annotated[ComplaintState | None, Query(description="Only items in this state, e.g. assigned_to_platform")] = None,
        cursor: Annotated[str | None, Query(description="next_cursor of the previous page")] = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
    ) -> PlatformPage:
        require_role(caller, Role.PLATFORM)
        assert caller.platform_id is not None
        after = _decode_cursor(cursor) if cursor else None
        async with service.uow() as uow:
            rows = await store.list_for_platform(uow.conn, caller.platform_id, state=state, after=after, limit=limit + 1)
        more = len(rows) > limit
        rows = rows[:limit]
        items = [_platform_item(row, intake.receipt(row["complaint_id"])) for row in rows]
        return PlatformPage(items=items, next_cursor=_encode_cursor(rows[-1]["complaint_id"]) if more else None)

    @router.post("/complaints/{complaint_id}/answer", response_model=Moved,
                 summary="The platform answers a complaint assigned to it: settled, not settled or contested")
    async def answer_complaint(complaint_id: str, reply: FirstHandlingAnswer, caller: CurrentCaller) -> Moved:
        require_role(caller, Role.PLATFORM)
        assert caller.platform_id is not None
        try:
            async with service.uow() as uow:
                steps = await first_handling.answer(handling, uow, platform_id=caller.platform_id, complaint_id=complaint_id, reply=reply,
                                                    actor=caller.subject)
                await uow.commit()
            metrics.platform_responded(reply.outcome)
        except UnknownComplaint as exc:
            raise Problem(404, "Not found", str(exc)) from exc
        except (IllegalTransition, GroundRequired, store.StaleTrack) as exc:
            raise transition_problem(exc) from exc
        return moved(steps)

    return router


def _platform_item(row: dict[str, Any], receipt_code: str) -> PlatformItem:
    deadline = None
    if row["deadline_kind"] is not None:
        deadline = DeadlineRef(kind=row["deadline_kind"], due=row["deadline_due"], provisional=bool(row["deadline_provisional"]))
    return PlatformItem(
        complaint_id=row["complaint_id"], platform_complaint_id=row["platform_complaint_id"], kind=row["kind"], state=row["state"],
        received_at=row["received_at"].isoformat(), category=row["category"], store_id=row["store_id"], store_name=row["store_name"],
        order_id=row["order_id"], amount=str(row["amount"]), region=row["region"], deadline=deadline, receipt_code=receipt_code,
        linked_complaint_id=row["linked_complaint_id"],
    )


def _encode_cursor(complaint_id: str) -> str:
    return base64.urlsafe_b64encode(complaint_id.encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> str:
    try:
        after = base64.b64decode(cursor + "=" * (-len(cursor) % 4), altchars=b"-_", validate=True).decode()
        uuid.UUID(after)  # complaint ids are UUIDs: anything else was not made here
        return after
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise Problem(422, "Invalid request", "cursor is not one this API gave out", PROBLEMS + "validation",
                      errors=[{"field": "query.cursor", "message": "not a cursor from next_cursor", "type": "value_error"}]) from exc


def _may_see(caller: Caller, row: dict[str, Any]) -> bool:
    if caller.role in (Role.REGULATOR, Role.ADMIN, Role.AUDITOR):
        return True
    if caller.role is Role.PLATFORM:
        return bool(row["platform_id"] == caller.platform_id)
    if caller.role is Role.BUREAU and caller.region:
        return in_scope(str(row["region"]), caller.region)
    return False


def install(app: FastAPI, service: Service, intake: Intake, handling: Handling) -> None:
    app.include_router(build_router(service, intake, handling))
    app.include_router(bureau_track.build_router(service, handling))
    app.include_router(batch.build_router(service, intake))
    app.include_router(receipts_api.build_router(service, intake, handling))
    app.include_router(bureau_intake.build_router(service, intake, handling))
    app.include_router(lists.build_router(service, intake))
    app.include_router(mediation.build_router(service, handling))
