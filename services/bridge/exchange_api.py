"""bridge's HTTP routes for the exchanges beyond the subject database: monthly reports (and what follows in this module)."""

from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, Body, Depends, FastAPI, Query, Request
from fastapi.responses import FileResponse, JSONResponse
from sqlalchemy.exc import IntegrityError

from services.bridge.data_requests import DataRequests, NotFound, NotJson, TooLarge, delivery_view, request_view
from services.bridge.deadlines import Standing, period_of
from services.bridge.domain import Refused
from services.bridge.forms import DataRequestForm
from services.bridge.platforms import Registry
from services.bridge.profile import profile
from services.bridge.report_rules import ReportRefused
from services.bridge.reports import NoSuchPlatform, Reports, report_view
from services.bridge.scope import may_read, own_platform_only, readable
from services.bridge.store import platforms
from services.bridge.submission_deadlines import DeadlineWatch, standings
from services.bridge.submissions import aware
from services.runtime.auth import Caller, Role
from services.runtime.http import Problem, require_role
from services.runtime.service import Service

PROBLEMS = "https://redshield.dev/problems/"
REQUESTERS = (Role.REGULATOR, Role.ADMIN)
MonthQuery = Annotated[str | None, Query(pattern=r"^[0-9]{4}-(0[1-9]|1[0-2])$")]


def report_refused(exc: ReportRefused) -> Problem:
    errors = [{"field": e.field, "message": e.message, "type": e.reason} for e in exc.errors]
    fields = ", ".join(dict.fromkeys(e.field for e in exc.errors))
    return Problem(422, "Report refused", f"invalid field(s): {fields}", PROBLEMS + "report-invalid", errors=errors)


def refused(exc: Refused) -> Problem:
    errors = [{"field": exc.field, "message": exc.detail, "type": exc.reason}] if exc.field else []
    return Problem(422, "Refused", exc.detail, PROBLEMS + exc.reason, errors=errors)


def build_router(service: Service, registry: Registry, reports: Reports, requests: DataRequests, deadlines: DeadlineWatch) -> APIRouter:
    router = APIRouter(prefix="/v1")
    CurrentCaller = Annotated[Caller, Depends(service.current_caller)]

    # -- monthly reports ------------------------------------------------------------------------------------------
    @router.put("/platforms/{platform_id}/reports/{month}", tags=["reports"],
                summary="A platform reports one month: GMV and orders by category and region, stores by category",
                description="The same body again answers the existing revision (200, nothing new); a changed body becomes the "
                            "next revision, which replaces the earlier one whole. 201 for the month's first report.")
    async def put_report(platform_id: str, month: str, caller: CurrentCaller,
                         body: Annotated[dict[str, Any], Body(examples=[{
                             "sales": [{"category": "食品", "region": "330106", "gmv_cny": "18250340.50", "orders": 412033}],
                             "stores_by_category": [{"category": "食品", "stores": 1290}]}])]) -> JSONResponse:
        own_platform_only(caller, platform_id)
        try:
            async with service.uow() as uow:
                stored = await reports.put(uow, caller=caller, platform_id=platform_id, month=month, body=body)
                await uow.commit()
        except ReportRefused as exc:
            raise report_refused(exc) from exc
        except NoSuchPlatform as exc:
            raise Problem(404, "Not found", f"platform {platform_id} is not registered with the bureau") from exc
        except IntegrityError as exc:
            # Two first reports of one month at the same moment: the unique revision lets one in; the other may send again.
            raise Problem(409, "Conflict", f"another report of {month} arrived at the same moment; send again",
                          PROBLEMS + "report-conflict") from exc
        status = 201 if stored.new and stored.row["revision"] == 1 else 200
        return JSONResponse(report_view(stored.row) | {"duplicate": not stored.new}, status_code=status,
                            headers={"Location": f"/v1/platforms/{platform_id}/reports/{month}"})

    @router.get("/platforms/{platform_id}/reports/{month}", tags=["reports"], summary="The current revision of one month's report")
    async def get_report(platform_id: str, month: str, caller: CurrentCaller) -> dict[str, Any]:
        row = None
        if may_read(caller, platform_id):
            async with service.uow() as uow:
                row = await reports.latest(uow.conn, platform_id, month)
        if row is None:
            raise Problem(404, "Not found", f"no report of {month} from platform {platform_id}")
        return report_view(row)

    @router.get("/platforms/{platform_id}/reports", tags=["reports"], summary="A platform's reports, newest month first")
    async def list_reports(platform_id: str, caller: CurrentCaller, since: MonthQuery = None, until: MonthQuery = None,
                           limit: Annotated[int, Query(ge=1, le=500)] = 120) -> dict[str, Any]:
        readable(caller, platform_id)
        async with service.uow() as uow:
            rows = await reports.months(uow.conn, platform_id, since=since, until=until, limit=limit)
        return {"platform_id": platform_id, "reports": [report_view(r, with_lines=False) for r in rows]}

    @router.get("/reports", tags=["reports"], summary="Every platform's current reports (a platform sees only its own)")
    async def all_reports(caller: CurrentCaller, since: MonthQuery = None, until: MonthQuery = None,
                          limit: Annotated[int, Query(ge=1, le=500)] = 500) -> dict[str, Any]:
        only = caller.platform_id if caller.role is Role.PLATFORM else None
        async with service.uow() as uow:
            rows = await reports.months(uow.conn, only, since=since, until=until, limit=limit)
        return {"reports": [report_view(r, with_lines=False) for r in rows]}

    # -- data requests (regulator → platform) ---------------------------------------------------------------------
    @router.post("/data-requests", status_code=201, tags=["data requests"],
                 summary="A regulator requests data from a platform: legal basis, scope (subjects, period, fields), deadline")
    async def issue_request(form: DataRequestForm, caller: CurrentCaller) -> JSONResponse:
        require_role(caller, *REQUESTERS)
        try:
            async with service.uow() as uow:
                row = await requests.issue(uow, caller=caller, form=form)
                await uow.commit()
        except Refused as exc:
            raise refused(exc) from exc
        return JSONResponse(request_view(row, []), status_code=201, headers={"Location": f"/v1/data-requests/{row['request_id']}"})

    @router.get("/data-requests", tags=["data requests"], summary="Data requests, newest first (a platform sees only its own)")
    async def list_requests(caller: CurrentCaller, platform_id: str | None = None,
                            state: Annotated[str | None, Query(pattern="^(open|delivered|overdue)$")] = None,
                            limit: Annotated[int, Query(ge=1, le=500)] = 100) -> dict[str, Any]:
        if caller.role is Role.PLATFORM:
            if platform_id not in (None, caller.platform_id):
                return {"requests": []}
            platform_id = caller.platform_id
        async with service.uow() as uow:
            rows = await requests.listing(uow.conn, platform_id=platform_id, state=state, limit=limit)
        return {"requests": [request_view(r) for r in rows]}

    async def visible_request(request_id: str, caller: Caller) -> dict[str, Any]:
        only = caller.platform_id if caller.role is Role.PLATFORM else None
        async with service.uow() as uow:
            row = await requests.get(uow.conn, request_id, platform_id=only)
        if row is None:
            raise Problem(404, "Not found", f"no data request {request_id}")
        return row

    @router.get("/data-requests/{request_id}", tags=["data requests"], summary="One data request with its deliveries")
    async def get_request(request_id: str, caller: CurrentCaller) -> dict[str, Any]:
        row = await visible_request(request_id, caller)
        async with service.uow() as uow:
            return request_view(row, await requests.deliveries(uow.conn, request_id))

    @router.post("/data-requests/{request_id}/deliveries", status_code=201, tags=["data requests"],
                 summary="The platform delivers the requested data: any file (streamed) or a JSON document",
                 description="The SHA-256 and size are recorded; the same content sent again answers the first delivery (200).")
    async def deliver(request_id: str, request: Request, caller: CurrentCaller) -> JSONResponse:
        require_role(caller, Role.PLATFORM)
        content_type = request.headers.get("content-type") or "application/octet-stream"
        try:
            done = await requests.deliver(caller=caller, request_id=request_id, content_type=content_type, body=request.stream())
        except NotFound as exc:
            raise Problem(404, "Not found", f"no data request {request_id}") from exc
        except TooLarge as exc:
            raise Problem(413, "Request body too large", str(exc)) from exc
        except NotJson as exc:
            raise Problem(422, "Not the declared format", f"the body is declared JSON but is not: {exc}", PROBLEMS + "wrong-format",
                          errors=[{"field": "body", "message": str(exc), "type": "not-json"}]) from exc
        return JSONResponse(delivery_view(done.row) | {"duplicate": done.duplicate}, status_code=200 if done.duplicate else 201)

    @router.get("/data-requests/{request_id}/deliveries/{delivery_id}/content", tags=["data requests"],
                summary="The delivered content, as it arrived")
    async def delivery_content(request_id: str, delivery_id: str, caller: CurrentCaller) -> FileResponse:
        await visible_request(request_id, caller)
        async with service.uow() as uow:
            found = [d for d in await requests.deliveries(uow.conn, request_id) if d["delivery_id"] == delivery_id]
        if not found:
            raise Problem(404, "Not found", f"no delivery {delivery_id} for data request {request_id}")
        return FileResponse(found[0]["path"], media_type=found[0]["content_type"], headers={"Digest": f"sha-256={found[0]['sha256']}"})

    # -- profile (画像) and data quality ----------------------------------------------------------------------------
    @router.get("/platforms/{platform_id}/profile", tags=["platforms"],
                summary="A platform's profile: classification, stores, submissions, reports, and its data-quality score with its parts")
    async def platform_profile(platform_id: str, caller: CurrentCaller) -> dict[str, Any]:
        readable(caller, platform_id)
        async with service.uow() as uow:
            entry = await registry.get(uow.conn, platform_id)
            if entry is None:
                raise Problem(404, "Not found", f"no platform {platform_id}")
            registered_at = (await uow.conn.execute(sa.select(platforms.c.created_at)
                                                    .where(platforms.c.platform_id == platform_id))).scalar_one()
            return await profile(uow.conn, entry, aware(registered_at), now=deadlines.clock.now(), deadline_day=deadlines.deadline_day)

    # -- semi-annual submission deadlines ---------------------------------------------------------------------------
    @router.get("/submission-deadlines", tags=["submissions"],
                summary="Who has submitted for a period (default: the current one): on time, late, missing, pending",
                description="A platform sees only its own line.")
    async def submission_deadlines(caller: CurrentCaller,
                                   period: Annotated[str | None, Query(pattern=r"^[0-9]{4}H[12]$")] = None) -> dict[str, Any]:
        now = deadlines.clock.now()
        win = deadlines.window(period or period_of(now))
        only = caller.platform_id if caller.role is Role.PLATFORM else None
        async with service.uow() as uow:
            lines = await standings(uow.conn, win, now=now, only=only)
        counts = {s.value: sum(1 for line in lines if line["standing"] == s) for s in Standing}
        return {"period": win.period, "opens_at": win.opens_at.isoformat(), "deadline": win.deadline.isoformat(),
                "counts": counts, "platforms": lines}

    return router


def install(app: FastAPI, service: Service, registry: Registry, reports: Reports, requests: DataRequests,
            deadlines: DeadlineWatch) -> None:
    app.include_router(build_router(service, registry, reports, requests, deadlines))
