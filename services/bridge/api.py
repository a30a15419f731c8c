"""bridge's HTTP routes: parse, authorise, call a use case, map errors to problem+json."""


from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, Depends, FastAPI, Header, Query, Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import IntegrityError

from services.bridge import subjects
from services.bridge.apply import Applier
from services.bridge.domain import PlatformEntry, Refused, check_period
from services.bridge.forms import PlatformForm, PlatformRegistration, UsccOverride
from services.bridge.platforms import AlreadyRegistered, Registry, UnknownPlatform
from services.bridge.scope import own_platform_only
from services.bridge.store import findings, submissions
from services.bridge.submissions import SETTLED, InProgress, NotResumable, Receiver, State, Superseded, aware
from services.bridge.uploads import RowStream, WrongFormat, format_for
from services.runtime.auth import Caller, Role
from services.runtime.http import Problem, require_role
from services.runtime.service import Service

PROBLEMS = "https://redshield.dev/problems/"
REGISTRARS = (Role.REGULATOR, Role.ADMIN)
_TIMES = ("received_at", "heartbeat_at", "staged_at", "applied_at")


def refused(exc: Refused) -> Problem:
    errors = [{"field": exc.field, "message": exc.detail, "type": exc.reason}] if exc.field else []
    return Problem(422, "Refused", exc.detail, PROBLEMS + exc.reason, errors=errors)


def superseded(submission_id: str) -> Problem:
    return Problem(409, "Upload superseded", f"this upload of submission {submission_id} stalled, was declared broken and was resent "
                   "or resumed by another; nothing more of it was taken", PROBLEMS + "upload-superseded")


def platform_view(entry: PlatformEntry) -> dict[str, Any]:
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
        "contacts": [c.model_dump(mode="json", exclude_none=True) for c in entry.contacts],
        "connected_to_canal": entry.connected_to_canal,
        "version": entry.version,
    }


def submission_view(row: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in row.items() if k not in ("trace_id", "heartbeat_at", "csv_header")}
    for name in _TIMES:
        if out.get(name) is not None:
            out[name] = aware(out[name]).isoformat()
    out["links"] = {"self": f"/v1/submissions/{row['submission_id']}", "errors": f"/v1/submissions/{row['submission_id']}/errors"}
    return out


def build_router(service: Service, registry: Registry, receiver: Receiver, applier: Applier) -> APIRouter:
    router = APIRouter(prefix="/v1")
    CurrentCaller = Annotated[Caller, Depends(service.current_caller)]

    def may_see_platform(caller: Caller, platform_id: str) -> bool:
        return caller.role is not Role.PLATFORM or caller.platform_id == platform_id

    # -- platform registry ----------------------------------------------------------------------------------
    @router.post("/platforms", status_code=201, tags=["platforms"], summary="A regulator registers a platform")
    async def register_platform(form: PlatformRegistration, caller: CurrentCaller) -> JSONResponse:
        require_role(caller, *REGISTRARS)
        try:
            async with service.uow() as uow:
                entry = await registry.register(uow, caller=caller, platform_id=form.platform_id,
                                                form=PlatformForm.model_validate(form.model_dump(exclude={"platform_id"})))
                await uow.commit()
        except Refused as exc:
            raise refused(exc) from exc
        except (AlreadyRegistered, IntegrityError) as exc:
            raise Problem(409, "Already registered", f"platform {form.platform_id} is registered; change it with PUT",
                          PROBLEMS + "platform-exists") from exc
        if entry.connected_to_canal:
            registry.connected.set()
        return JSONResponse(platform_view(entry), status_code=201, headers={"Location": f"/v1/platforms/{entry.platform_id}"})

    @router.put("/platforms/{platform_id}", tags=["platforms"], summary="A regulator replaces a platform's registry entry")
    async def revise_platform(platform_id: str, form: PlatformForm, caller: CurrentCaller) -> dict[str, Any]:
        require_role(caller, *REGISTRARS)
        try:
            async with service.uow() as uow:
                entry, changed = await registry.revise(uow, caller=caller, platform_id=platform_id, form=form)
                await uow.commit()
        except Refused as exc:
            raise refused(exc) from exc
        except UnknownPlatform as exc:
            raise Problem(404, "Not found", f"no platform {platform_id}") from exc
        if entry.connected_to_canal:
            registry.connected.set()
        return platform_view(entry) | {"changed": changed}

    @router.get("/platforms", tags=["platforms"], summary="Registered platforms (a platform sees only itself)")
    async def list_platforms(caller: CurrentCaller) -> dict[str, Any]:
        async with service.uow() as uow:
            entries = await registry.all(uow.conn, only=caller.platform_id if caller.role is Role.PLATFORM else None)
        return {"platforms": [platform_view(e) for e in entries]}

    @router.get("/platforms/{platform_id}", tags=["platforms"], summary="One platform's registry entry")
    async def get_platform(platform_id: str, caller: CurrentCaller) -> dict[str, Any]:
        async with service.uow() as uow:
            entry = await registry.get(uow.conn, platform_id) if may_see_platform(caller, platform_id) else None
        if entry is None:
            raise Problem(404, "Not found", f"no platform {platform_id}")
        return platform_view(entry)

    @router.post("/uscc-overrides", tags=["subjects"], summary="A person confirms a USCC that fails its check character is genuine")
    async def override_uscc(form: UsccOverride, caller: CurrentCaller) -> dict[str, Any]:
        require_role(caller, *REGISTRARS)
        try:
            async with service.uow() as uow:
                recorded, changed = await subjects.override_uscc(uow, caller=caller, form=form, clock=registry.clock)
                await uow.commit()
        except Refused as exc:
            raise refused(exc) from exc
        return {"uscc": form.uscc, "recorded": recorded, "stores_changed": changed["stores"], "websites_changed": changed["websites"],
                "new_form_subjects_changed": changed["new_form_subjects"]}

    # -- subject database -------------------------------------------------------------------------------------
    @router.get("/platforms/{platform_id}/stores", tags=["subjects"], summary="A platform's stores, by store id")
    async def list_stores(platform_id: str, caller: CurrentCaller, after: str | None = None,
                          limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> dict[str, Any]:
        if not may_see_platform(caller, platform_id):
            raise Problem(404, "Not found", f"no platform {platform_id}")
        async with service.uow() as uow:
            rows = await subjects.list_stores(uow.conn, caller, platform_id=platform_id, after=after, limit=limit)
        return {"stores": rows, "next": rows[-1]["store_id"] if len(rows) == limit else None}

    @router.get("/platforms/{platform_id}/stores/{store_id}", tags=["subjects"], summary="One store")
    async def get_store(platform_id: str, store_id: str, caller: CurrentCaller) -> dict[str, Any]:
        async with service.uow() as uow:
            row = await subjects.get_store(uow.conn, caller, platform_id, store_id)
        if row is None:
            raise Problem(404, "Not found", f"no store {store_id} on platform {platform_id}")
        return row

    @router.get("/merchants/{uscc}/stores", tags=["subjects"], summary="One merchant's stores across platforms, linked by USCC")
    async def merchant_stores(uscc: str, caller: CurrentCaller, limit: Annotated[int, Query(ge=1, le=1000)] = 1000) -> dict[str, Any]:
        async with service.uow() as uow:
            rows = await subjects.list_stores(uow.conn, caller, uscc_code=uscc.upper(), limit=limit)
        return {"uscc": uscc.upper(), "platforms": sorted({r["platform_id"] for r in rows}), "stores": rows}

    # -- submissions ------------------------------------------------------------------------------------------
    @router.post("/platforms/{platform_id}/submissions", status_code=202, tags=["submissions"],
                 summary="A platform uploads its whole merchant list (NDJSON or CSV, streamed)",
                 description="The body is read as a stream; rows are checked and staged in batches, then the submission is "
                             "applied whole in one transaction. Send an Idempotency-Key to resend a broken upload safely.")
    async def submit(platform_id: str, request: Request, caller: CurrentCaller, period: str,
                     format: Annotated[str | None, Query(description="ndjson or csv")] = None,
                     idempotency_key: Annotated[str | None, Header(max_length=200)] = None) -> JSONResponse:
        own_platform_only(caller, platform_id, verb="submits")
        try:
            check_period(period)
        except Refused as exc:
            raise refused(exc) from exc
        async with service.uow() as uow:
            if await registry.get(uow.conn, platform_id) is None:
                raise Problem(404, "Not found", f"platform {platform_id} is not registered with the bureau")
        previous = await receiver.existing(platform_id, idempotency_key)
        if previous is not None and previous["state"] in SETTLED:
            # A resend of an upload that already arrived: answered with what it became, the body unread.
            return JSONResponse(submission_view(previous) | {"duplicate": True}, status_code=200)
        try:
            fmt = format_for(format, request.headers.get("content-type"))
            rows = await RowStream.open(request.stream(), fmt)
        except WrongFormat as exc:
            raise Problem(exc.status, "Not the declared format", exc.detail, PROBLEMS + "wrong-format") from exc
        try:
            submission_id = await receiver.start(caller=caller, platform_id=platform_id, period=period, fmt=fmt.value,
                                                 idempotency_key=idempotency_key, previous=previous)
        except InProgress as exc:
            raise Problem(409, "Upload in progress", f"submission {exc} with this Idempotency-Key is being received right now",
                          PROBLEMS + "upload-in-progress") from exc
        except IntegrityError as exc:
            raise Problem(409, "Upload in progress", "another upload with this Idempotency-Key has just started",
                          PROBLEMS + "upload-in-progress") from exc
        try:
            state = await receiver.receive(submission_id, rows)
        except Superseded as exc:
            raise superseded(submission_id) from exc
        return await received(submission_id, state)

    async def received(submission_id: str, state: State) -> JSONResponse:
        """The answer to an upload that ended: the submission as it now stands (applied already, or staged)."""
        if state is State.STAGED:
            applier.wakeup.set()
        async with service.uow() as uow:
            row = await subjects.submission(uow.conn, submission_id)
        assert row is not None
        return JSONResponse(submission_view(row) | {"duplicate": False}, status_code=202,
                            headers={"Location": f"/v1/submissions/{submission_id}"})

    @router.patch("/submissions/{submission_id}", status_code=202, tags=["submissions"],
                  summary="A platform sends the rest of an interrupted upload, from the line it stopped at",
                  description="An upload that broke off is `interrupted` with its `resume_line`: the first line after its last "
                              "staged batch. Send the file from that line on (`from_line`, the same format and content type); "
                              "the rows before it are kept, and the submission ends as one uninterrupted upload would. "
                              "409 names the line to send from when `from_line` is not it.")
    async def resume(submission_id: str, request: Request, caller: CurrentCaller,
                     from_line: Annotated[int, Query(ge=2, description="the submission's resume_line")]) -> JSONResponse:
        row = await visible_submission(submission_id, caller)
        own_platform_only(caller, row["platform_id"], verb="submits")
        try:
            # Asked before the body is read (and again under the submission's lock when it is staged).
            Receiver.check_resumable(row, from_line)
        except NotResumable as exc:
            raise Problem(409, "Cannot resume", exc.detail, PROBLEMS + "not-resumable", resume_line=exc.resume_line) from exc
        try:
            fmt = format_for(row["format"], request.headers.get("content-type"))
            rows = await RowStream.resume(request.stream(), fmt, from_line=from_line, header_text=row["csv_header"])
        except WrongFormat as exc:
            raise Problem(exc.status, "Not the declared format", exc.detail, PROBLEMS + "wrong-format") from exc
        try:
            state = await receiver.resume(submission_id, rows, from_line=from_line, caller=caller)
        except Superseded as exc:
            raise superseded(submission_id) from exc
        except NotResumable as exc:
            raise Problem(409, "Cannot resume", exc.detail, PROBLEMS + "not-resumable", resume_line=exc.resume_line) from exc
        return await received(submission_id, state)

    @router.get("/platforms/{platform_id}/submissions", tags=["submissions"], summary="A platform's submissions, newest first")
    async def list_submissions(platform_id: str, caller: CurrentCaller, limit: Annotated[int, Query(ge=1, le=200)] = 50) -> dict[str, Any]:
        if not may_see_platform(caller, platform_id):
            raise Problem(404, "Not found", f"no platform {platform_id}")
        async with service.uow() as uow:
            rows = (await uow.conn.execute(sa.select(submissions).where(submissions.c.platform_id == platform_id)
                                           .order_by(submissions.c.received_at.desc()).limit(limit))).all()
        return {"submissions": [submission_view(dict(r._mapping)) for r in rows]}

    async def visible_submission(submission_id: str, caller: Caller) -> dict[str, Any]:
        async with service.uow() as uow:
            row = await subjects.submission(uow.conn, submission_id)
        if row is None or not may_see_platform(caller, row["platform_id"]):
            raise Problem(404, "Not found", f"no submission {submission_id}")
        return row

    @router.get("/submissions/{submission_id}", tags=["submissions"], summary="A submission's progress and counts")
    async def get_submission(submission_id: str, caller: CurrentCaller) -> dict[str, Any]:
        return submission_view(await visible_submission(submission_id, caller))

    @router.get("/submissions/{submission_id}/errors", tags=["submissions"], summary="The per-row report: refused rows and flags, by line")
    async def submission_errors(submission_id: str, caller: CurrentCaller, after: Annotated[int, Query(ge=0)] = 0,
                                limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
                                severity: Annotated[str | None, Query(pattern="^(error|warning)$")] = None) -> dict[str, Any]:
        await visible_submission(submission_id, caller)
        stmt = (sa.select(findings).where(findings.c.submission_id == submission_id, findings.c.id > after)
                .order_by(findings.c.id).limit(limit))
        if severity is not None:
            stmt = stmt.where(findings.c.severity == severity)
        async with service.uow() as uow:
            rows = (await uow.conn.execute(stmt)).all()
        items = [{"line": r.line, "store_id": r.store_id, "severity": r.severity, "code": r.code, "field": r.field, "message": r.message}
                 for r in rows]
        next_after = rows[-1].id if len(rows) == limit else None
        return {"submission_id": submission_id, "findings": items, "next": next_after}

    return router


def install(app: FastAPI, service: Service, registry: Registry, receiver: Receiver, applier: Applier) -> None:
    app.include_router(build_router(service, registry, receiver, applier))
