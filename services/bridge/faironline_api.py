"""HTTP entry of the Zhejiang Fair Online adapter: the province posts items and polls outcomes with its own credential;
bureau officers read items and record outcomes with their JWT."""

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, FastAPI, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from sqlalchemy.exc import IntegrityError

from contracts.events.bridge import FairOnlineOutcome
from services.bridge.domain import Refused
from services.bridge.faironline import DECIDERS, FairOnline, OutcomeConflict, UnknownItem, is_province, item_view, may_see, outcome_view
from services.bridge.faironline_rules import BadAssignment, check_outcome, parse_assignment
from services.runtime.auth import Caller
from services.runtime.http import Problem, require_role
from services.runtime.service import Service

PROBLEMS = "https://redshield.dev/problems/"


class OutcomeForm(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    outcome: FairOnlineOutcome
    reasons: list[Annotated[str, StringConstraints(max_length=1000)]] = Field(min_length=1, max_length=20)
    case_number: Annotated[str, StringConstraints(max_length=100)] | None = None


def build_router(service: Service, adapter: FairOnline, credential: str) -> APIRouter:
    router = APIRouter(prefix="/v1/fair-online", tags=["fair-online"])
    CurrentCaller = Annotated[Caller, Depends(service.current_caller)]

    async def province(request: Request) -> None:
        scheme, _, presented = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not presented or not is_province(presented.strip(), credential):
            raise Problem(401, "Unauthorized", "this endpoint answers only the provincial monitoring system's credential")

    @router.post("/items", status_code=201, dependencies=[Depends(province)],
                 summary="Zhejiang Fair Online assigns a monitoring item (交办) to the bureau",
                 description="Idempotent by the province's item id: the same item again answers 200 with the item as first taken in.")
    async def assign(body: Annotated[Any, Body()]) -> JSONResponse:
        try:
            item = parse_assignment(body)
        except BadAssignment as exc:
            errors = [{"field": p.field, "message": p.message, "type": "invalid-assignment"} for p in exc.problems]
            raise Problem(422, "Invalid assignment", f"invalid field(s): {', '.join(dict.fromkeys(p.field for p in exc.problems))}",
                          PROBLEMS + "invalid-assignment", errors=errors) from exc
        try:
            async with service.uow() as uow:
                taken = await adapter.take_in(uow, item, via="http")
                await uow.commit()
        except IntegrityError:
            # The same item arrived on the topic at the same moment: that copy was taken in; answer with it.
            async with service.uow() as uow:
                row = await adapter.get(uow.conn, item.item_id)
            if row is None:
                raise
            return JSONResponse(item_view(row) | {"duplicate": True}, status_code=200)
        return JSONResponse(item_view(taken.row) | {"duplicate": not taken.new}, status_code=201 if taken.new else 200,
                            headers={"Location": f"/v1/fair-online/items/{item.item_id}"})

    @router.get("/outcomes", dependencies=[Depends(province)],
                summary="The province polls the outcomes returned, in the order they were recorded",
                description="Pass the last `seq` seen as `after`; `next` is the value for the following page (null: no more now).")
    async def poll(after: Annotated[int, Query(ge=0)] = 0,
                   limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> dict[str, Any]:
        async with service.uow() as uow:
            rows = await adapter.outcomes_after(uow.conn, after, limit)
        views = [outcome_view(r) for r in rows]
        for view in views:
            view.pop("decided_by")  # the province gets the unit's outcome, not the officer's account name
        return {"outcomes": views, "next": rows[-1]["seq"] if rows else None}

    @router.get("/items", summary="Items assigned by the province (a bureau sees those of its area)")
    async def list_items(caller: CurrentCaller, state: Annotated[str | None, Query(pattern="^(assigned|returned)$")] = None,
                         limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> dict[str, Any]:
        require_role(caller, *DECIDERS)
        async with service.uow() as uow:
            rows = await adapter.items(uow.conn, caller, state=state, limit=limit)
        return {"items": [item_view(r) for r in rows]}

    @router.get("/items/{item_id}", summary="One item, with its outcome once recorded")
    async def get_item(item_id: str, caller: CurrentCaller) -> dict[str, Any]:
        require_role(caller, *DECIDERS)
        async with service.uow() as uow:
            row = await adapter.get(uow.conn, item_id)
            outcome = await adapter.outcome_of(uow.conn, item_id) if row is not None else None
        if row is None or not may_see(caller, row["region"]):
            raise Problem(404, "Not found", f"no Fair Online item {item_id}")
        return item_view(row, outcome)

    @router.post("/items/{item_id}/outcome", status_code=201,
                 summary="A bureau officer records the item's outcome; it goes back to the province",
                 description="handled, case_filed (with the case number) or no_violation, always with reasons. The same outcome "
                             "again answers 200; a different one is 409 (the province has the first).")
    async def record_outcome(item_id: str, form: OutcomeForm, caller: CurrentCaller) -> JSONResponse:
        require_role(caller, *DECIDERS)
        try:
            outcome = check_outcome(form.outcome, form.reasons, form.case_number)
            async with service.uow() as uow:
                taken = await adapter.record_outcome(uow, caller=caller, item_id=item_id, outcome=outcome)
                await uow.commit()
        except Refused as exc:
            raise Problem(422, "Refused", exc.detail, PROBLEMS + exc.reason,
                          errors=[{"field": exc.field, "message": exc.detail, "type": exc.reason}]) from exc
        except UnknownItem as exc:
            raise Problem(404, "Not found", f"no Fair Online item {item_id}") from exc
        except OutcomeConflict as exc:
            raise Problem(409, "Outcome already returned", f"item {item_id} was returned as {exc.recorded['outcome']}",
                          PROBLEMS + "outcome-returned") from exc
        except IntegrityError as exc:
            raise Problem(409, "Outcome already returned", f"another outcome of {item_id} was recorded at the same moment",
                          PROBLEMS + "outcome-returned") from exc
        return JSONResponse(outcome_view(taken.row) | {"duplicate": not taken.new}, status_code=201 if taken.new else 200,
                            headers={"Location": f"/v1/fair-online/items/{item_id}"})

    return router


def install(app: FastAPI, service: Service, adapter: FairOnline, credential: str) -> None:
    app.include_router(build_router(service, adapter, credential))
