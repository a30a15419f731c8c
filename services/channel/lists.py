"""Lists of items by role: a platform sees its own, a bureau its region and the regions below it, a regulator
all. Filters on state, open deadline, category, kind, platform, region, time of receipt and review flags; keyset
paging on (received_at, complaint_id), newest first."""

import base64
import binascii
import uuid
from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import AwareDatetime, BaseModel, StringConstraints

from contracts.codes import ComplaintCategory, FilingKind
from contracts.events.channel import ComplaintState, DeadlineKind, DeadlineRef
from services.channel import domain, store
from services.channel.intake import Intake
from services.channel.responses import PROBLEMS
from services.runtime.auth import Caller, Role
from services.runtime.calendar import Deadline
from services.runtime.http import Problem, require_role
from services.runtime.service import Service

MAX_PAGE = 500
RegionQuery = Annotated[str, StringConstraints(pattern=r"^[0-9]{6}$")]


class Item(BaseModel):
    complaint_id: str
    platform_id: str
    platform_complaint_id: str
    kind: str
    state: ComplaintState
    received_at: datetime
    category: str
    store_id: str
    store_name: str
    order_id: str | None = None
    amount: str
    region: str
    deadline: DeadlineRef | None = None
    overdue: bool = False
    receipt_code: str
    linked_complaint_id: str | None = None
    #: For the bureau: the store's region in bridge's directory, where it differs from the filing's.
    jurisdiction_conflict: str | None = None


class Page(BaseModel):
    items: list[Item]
    #: Pass as ``cursor`` for the next page; absent on the last page.
    next_cursor: str | None = None


def scope_of(caller: Caller) -> store.ListScope:
    if caller.role is Role.PLATFORM:
        assert caller.platform_id is not None
        return store.ListScope(platform_id=caller.platform_id)
    if caller.role is Role.BUREAU:
        assert caller.region is not None
        return store.ListScope(region_prefix=domain.region_scope(caller.region))
    return store.ListScope()


def encode_cursor(received_at: datetime, complaint_id: str) -> str:
    raw = f"{store.utc(received_at).isoformat()}|{complaint_id}"
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        raw = base64.b64decode(cursor + "=" * (-len(cursor) % 4), altchars=b"-_", validate=True).decode()
        at, complaint_id = raw.split("|")
        uuid.UUID(complaint_id)
        moment = datetime.fromisoformat(at)
        if moment.tzinfo is None:
            raise ValueError("cursor time without offset")
        return moment, complaint_id
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise _bad("cursor", "not a cursor from next_cursor") from exc


def _bad(name: str, message: str) -> Problem:
    return Problem(422, "Invalid request", f"invalid field(s): query.{name}", PROBLEMS + "validation",
                   errors=[{"field": f"query.{name}", "message": message, "type": "value_error"}])


def build_router(service: Service, intake: Intake) -> APIRouter:
    router = APIRouter(prefix="/v1", tags=["lists"])
    CurrentCaller = Annotated[Caller, Depends(service.current_caller)]

    @router.get("/complaints", response_model=Page, summary="Items the caller may see, newest received first, with filters")
    async def list_complaints(
        caller: CurrentCaller,
        state: Annotated[list[ComplaintState] | None, Query(description="One or more states (repeat the parameter)")] = None,
        deadline_kind: Annotated[DeadlineKind | None, Query(description="Only items whose open deadline is of this kind")] = None,
        due_before: Annotated[date | None, Query(description="Open deadline's last day on or before")] = None,
        due_after: Annotated[date | None, Query(description="Open deadline's last day on or after")] = None,
        overdue: Annotated[bool | None, Query(description="true: the open deadline has passed; false: not passed or none")] = None,
        category: ComplaintCategory | None = None,
        kind: FilingKind | None = None,
        platform: Annotated[str | None, Query(pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$")] = None,
        region: Annotated[RegionQuery | None, Query(description="A region code; a city or province includes its regions")] = None,
        received_from: Annotated[AwareDatetime | None, Query(description="RFC 3339 with offset, inclusive")] = None,
        received_to: Annotated[AwareDatetime | None, Query(description="RFC 3339 with offset, exclusive")] = None,
        flagged: Annotated[bool | None, Query(description="Has an open professional-claimant flag (not for platforms)")] = None,
        jurisdiction_conflict: Annotated[bool | None, Query(description="The directory's store region differs (not for platforms)")] = None,
        cursor: Annotated[str | None, Query(description="next_cursor of the previous page")] = None,
        limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
    ) -> Page:
        require_role(caller, Role.PLATFORM, Role.BUREAU, Role.REGULATOR, Role.ADMIN, Role.AUDITOR)
        if due_before and due_after and due_after > due_before:
            raise _bad("due_after", "due_after is after due_before")
        if received_from and received_to and received_from >= received_to:
            raise _bad("received_from", "received_from is not before received_to")
        platform_view = caller.role is Role.PLATFORM
        if platform_view and (flagged is not None or jurisdiction_conflict is not None):
            # Flags are for the bureau's review: a platform must not even learn which items carry one.
            raise _bad("flagged" if flagged is not None else "jurisdiction_conflict", "not a filter a platform may use")
        after = decode_cursor(cursor) if cursor else None
        where = store.ListFilter(
            states=tuple(s.value for s in state or ()), deadline_kind=deadline_kind.value if deadline_kind else None,
            due_before=due_before, due_after=due_after, overdue=overdue, category=category.value if category else None,
            kind=kind.value if kind else None, platform_id=platform, region_prefix=domain.region_scope(region) if region else None,
            received_from=received_from, received_to=received_to, flagged=flagged, jurisdiction_conflict=jurisdiction_conflict,
        )
        now = service.clock.now()
        async with service.uow() as uow:
            rows = await store.list_items(uow.conn, scope_of(caller), where, now=now, after=after, limit=limit + 1)
        more = len(rows) > limit
        rows = rows[:limit]
        items = [_item(row, intake.receipt(row["complaint_id"]), now, platform_view) for row in rows]
        last = rows[-1] if rows else None
        return Page(items=items, next_cursor=encode_cursor(last["received_at"], last["complaint_id"]) if more and last else None)

    return router


def _item(row: dict[str, Any], receipt_code: str, now: datetime, platform_view: bool) -> Item:
    deadline = None
    overdue = False
    if row["deadline_kind"] is not None:
        due = row["deadline_due"] if isinstance(row["deadline_due"], date) else date.fromisoformat(str(row["deadline_due"]))
        ref = DeadlineRef(kind=row["deadline_kind"], due=due, provisional=bool(row["deadline_provisional"]))
        deadline, overdue = ref, Deadline(due).expires_at <= now
    return Item(
        complaint_id=row["complaint_id"], platform_id=row["platform_id"], platform_complaint_id=row["platform_complaint_id"],
        kind=row["kind"], state=row["state"], received_at=store.utc(row["received_at"]), category=row["category"],
        store_id=row["store_id"], store_name=row["store_name"], order_id=row["order_id"], amount=str(row["amount"]),
        region=row["region"], deadline=deadline, overdue=overdue, receipt_code=receipt_code, linked_complaint_id=row["linked_complaint_id"],
        jurisdiction_conflict=None if platform_view else row["jurisdiction_conflict"],
    )
