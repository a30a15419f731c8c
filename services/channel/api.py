"""channel's HTTP routes: parse, authorise, call the use case, map errors to problem+json."""


from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from contracts.codes import IntakeChannel
from contracts.events.channel import ComplaintFiling
from services.channel import store
from services.channel.domain import IntakeRejected
from services.channel.intake import Intake
from services.runtime.auth import Caller, Role
from services.runtime.http import Problem, require_role
from services.runtime.service import Service


class Accepted(BaseModel):
    complaint_id: str
    duplicate: bool


def build_router(service: Service, intake: Intake) -> APIRouter:
    router = APIRouter(prefix="/v1", tags=["complaints"])
    CurrentCaller = Annotated[Caller, Depends(service.current_caller)]

    @router.post("/complaints", status_code=202, response_model=Accepted, summary="A platform files a complaint or report")
    async def post_complaint(filing: ComplaintFiling, caller: CurrentCaller) -> JSONResponse:
        require_role(caller, Role.PLATFORM)
        assert caller.platform_id is not None
        try:
            async with service.uow() as uow:
                (filed,) = await intake.file(uow, platform_id=caller.platform_id, filings=[filing], intake=IntakeChannel.PLATFORM_API)
                await uow.commit()
        except IntakeRejected as exc:
            raise Problem(422, "Filing refused", exc.detail, "https://redshield.dev/problems/" + exc.reason) from exc
        return JSONResponse({"complaint_id": filed.complaint_id, "duplicate": filed.duplicate}, status_code=202)

    @router.get("/complaints/{complaint_id}", summary="One complaint, as far as the caller may see it")
    async def get_complaint(complaint_id: str, caller: CurrentCaller) -> dict[str, Any]:
        async with service.uow() as uow:
            row = await store.get_complaint(uow.conn, complaint_id)
        if row is None or not _may_see(caller, row):
            # Another tenant's item answers exactly like a missing one.
            raise Problem(404, "Not found", f"no complaint {complaint_id}")
        row["amount"] = str(row["amount"])
        return row

    return router


def _may_see(caller: Caller, row: dict[str, Any]) -> bool:
    if caller.role in (Role.REGULATOR, Role.ADMIN, Role.AUDITOR):
        return True
    if caller.role is Role.PLATFORM:
        return bool(row["platform_id"] == caller.platform_id)
    if caller.role is Role.BUREAU and caller.region:
        return str(row["region"]).startswith(caller.region.rstrip("0") or caller.region)
    return False


def install(app: FastAPI, service: Service, intake: Intake) -> None:
    app.include_router(build_router(service, intake))
