"""bridge's HTTP routes for the subjects beside stores: enterprise websites and new-business-form subjects."""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Path, Query
from fastapi.responses import JSONResponse
from sqlalchemy.exc import IntegrityError

from contracts.events.bridge import NewBusinessForm, WebsiteStatus
from services.bridge.new_form_rules import NewFormSubjectForm
from services.bridge.new_forms import WRITERS as NEW_FORM_WRITERS
from services.bridge.new_forms import NewForms, UnknownPlatform, subject_view
from services.bridge.subject_rules import Issue, SubjectRefused
from services.bridge.website_rules import WebsiteForm, WebsiteRegistration
from services.bridge.websites import READERS, WRITERS, OutOfArea, UnknownWebsite, WebsiteExists, Websites, Written, website_view
from services.runtime.auth import Caller, Role
from services.runtime.http import Problem, require_role
from services.runtime.service import Service

PROBLEMS = "https://redshield.dev/problems/"


def subject_refused(exc: SubjectRefused) -> Problem:
    """Every error of the form at once, each naming its field; the type is the first error's."""
    first = exc.errors[0]
    fields = ", ".join(dict.fromkeys(e.field or "body" for e in exc.errors))
    detail = first.message if len(exc.errors) == 1 else f"invalid field(s): {fields}"
    return Problem(422, "Refused", detail, PROBLEMS + first.code,
                   errors=[{"field": e.field, "message": e.message, "type": e.code} for e in exc.errors])


def issue_view(issue: Issue) -> dict[str, Any]:
    return {"code": issue.code, "field": issue.field, "message": issue.message}


def _written(written: Written) -> dict[str, Any]:
    return website_view(written.entry) | {"changed": written.changed, "warnings": [issue_view(w) for w in written.warnings]}


def build_router(service: Service, sites: Websites, new_forms: NewForms) -> APIRouter:
    router = APIRouter(prefix="/v1")
    CurrentCaller = Annotated[Caller, Depends(service.current_caller)]

    def out_of_area(caller: Caller, region: str) -> Problem:
        return Problem(403, "Forbidden", f"a bureau keeps the websites of its own area ({caller.region}); {region} is outside it",
                       PROBLEMS + "out-of-area")

    # -- enterprise websites --------------------------------------------------------------------------------------
    @router.post("/websites", status_code=201, tags=["subjects"],
                 summary="A regulator (or a bureau, in its area) registers an enterprise website",
                 description="A USCC failing its check character is kept and flagged (see `warnings`), as in a store row; a "
                             "malformed code, domain or ICP filing number is refused with every field at fault.")
    async def register_website(form: WebsiteRegistration, caller: CurrentCaller) -> JSONResponse:
        require_role(caller, *WRITERS)
        try:
            async with service.uow() as uow:
                written = await sites.register(uow, caller=caller, form=form)
                await uow.commit()
        except SubjectRefused as exc:
            raise subject_refused(exc) from exc
        except OutOfArea as exc:
            raise out_of_area(caller, form.region) from exc
        except (WebsiteExists, IntegrityError) as exc:
            raise Problem(409, "Already registered", f"website {form.website_id} is registered; change it with PUT",
                          PROBLEMS + "website-exists") from exc
        return JSONResponse(_written(written), status_code=201, headers={"Location": f"/v1/websites/{form.website_id}"})

    @router.put("/websites/{website_id}", tags=["subjects"], summary="A regulator (or a bureau, in its area) replaces a website's entry",
                description="The same entry again changes nothing (no new version, no event); `changed` names what did.")
    async def revise_website(website_id: str, form: WebsiteForm, caller: CurrentCaller) -> dict[str, Any]:
        require_role(caller, *WRITERS)
        try:
            async with service.uow() as uow:
                written = await sites.revise(uow, caller=caller, website_id=website_id, form=form)
                await uow.commit()
        except SubjectRefused as exc:
            raise subject_refused(exc) from exc
        except OutOfArea as exc:
            raise out_of_area(caller, form.region) from exc
        except UnknownWebsite as exc:
            raise Problem(404, "Not found", f"no website {website_id}") from exc
        return _written(written)

    @router.get("/websites", tags=["subjects"], summary="Enterprise websites, by id (a bureau sees those of its area)")
    async def list_websites(caller: CurrentCaller, after: str | None = None, uscc: str | None = None, status: WebsiteStatus | None = None,
                            limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> dict[str, Any]:
        require_role(caller, *READERS)
        async with service.uow() as uow:
            entries = await sites.listing(uow.conn, caller, after=after, limit=limit, uscc=uscc.upper() if uscc else None,
                                          status=status.value if status else None)
        return {"websites": [website_view(e) for e in entries], "next": entries[-1].website_id if len(entries) == limit else None}

    @router.get("/websites/{website_id}", tags=["subjects"], summary="One enterprise website")
    async def get_website(website_id: str, caller: CurrentCaller) -> dict[str, Any]:
        require_role(caller, *READERS)
        async with service.uow() as uow:
            entry = await sites.get(uow.conn, caller, website_id)
        if entry is None:
            raise Problem(404, "Not found", f"no website {website_id}")
        return website_view(entry)

    # -- new-business-form subjects ------------------------------------------------------------------------------
    SubjectPath = Annotated[str, Path(min_length=1, max_length=200, pattern=r"^\S(.*\S)?$")]

    @router.put("/platforms/{platform_id}/new-form-subjects/{subject_id}", tags=["subjects"],
                summary="A platform (its own only) or a regulator creates or replaces a new-business-form subject",
                description="Live-stream hosts, micro-stores, group-buying leaders… Identity as in a store row: a USCC, or an ID "
                            "number with exemption_declared=true; the ID number is encrypted at rest and never shown or published. "
                            "201 when created; 200 when replaced (`changed` names what changed) or unchanged.")
    async def put_new_form_subject(platform_id: str, subject_id: SubjectPath, form: NewFormSubjectForm,
                                   caller: CurrentCaller) -> JSONResponse:
        require_role(caller, *NEW_FORM_WRITERS)
        if caller.role is Role.PLATFORM and caller.platform_id != platform_id:
            raise Problem(403, "Forbidden", f"a platform writes only its own subjects; this token is for {caller.platform_id}")
        try:
            async with service.uow() as uow:
                written = await new_forms.put(uow, caller=caller, platform_id=platform_id, subject_id=subject_id, form=form)
                await uow.commit()
        except SubjectRefused as exc:
            raise subject_refused(exc) from exc
        except UnknownPlatform as exc:
            raise Problem(404, "Not found", f"platform {platform_id} is not registered with the bureau") from exc
        except IntegrityError as exc:
            raise Problem(409, "Conflict", f"subject {subject_id} was written at the same moment; send again",
                          PROBLEMS + "subject-conflict") from exc
        body = subject_view(written.entry) | {"created": written.created, "changed": written.changed,
                                              "warnings": [issue_view(w) for w in written.warnings]}
        return JSONResponse(body, status_code=201 if written.created else 200, headers={"Location": body["links"]["self"]})

    @router.get("/platforms/{platform_id}/new-form-subjects", tags=["subjects"],
                summary="A platform's new-business-form subjects, by subject id (a bureau sees those of its area)")
    async def list_new_form_subjects(platform_id: str, caller: CurrentCaller, form: NewBusinessForm | None = None, after: str | None = None,
                                     limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> dict[str, Any]:
        if caller.role is Role.PLATFORM and caller.platform_id != platform_id:
            raise Problem(404, "Not found", f"no platform {platform_id}")
        async with service.uow() as uow:
            entries = await new_forms.listing(uow.conn, caller, platform_id=platform_id, form=form, after=after, limit=limit)
        return {"subjects": [subject_view(e) for e in entries], "next": entries[-1].subject_id if len(entries) == limit else None}

    @router.get("/platforms/{platform_id}/new-form-subjects/{subject_id}", tags=["subjects"], summary="One new-business-form subject")
    async def get_new_form_subject(platform_id: str, subject_id: str, caller: CurrentCaller) -> dict[str, Any]:
        async with service.uow() as uow:
            entry = await new_forms.get(uow.conn, caller, platform_id, subject_id)
        if entry is None:
            raise Problem(404, "Not found", f"no subject {subject_id} on platform {platform_id}")
        return subject_view(entry)

    return router


def install(app: FastAPI, service: Service, sites: Websites, new_forms: NewForms) -> None:
    app.include_router(build_router(service, sites, new_forms))
