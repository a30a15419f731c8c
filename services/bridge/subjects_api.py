"""bridge's HTTP routes for the subjects beside whole-list submissions: enterprise websites, new-business-form subjects,
and stores posted in batches."""

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, FastAPI, Path, Query
from fastapi.responses import JSONResponse
from sqlalchemy.exc import IntegrityError

from contracts.events.bridge import NewBusinessForm, WebsiteStatus
from services.bridge import metrics
from services.bridge.new_form_rules import NewFormSubjectForm
from services.bridge.new_forms import WRITERS as NEW_FORM_WRITERS
from services.bridge.new_forms import NewForms, UnknownPlatform, subject_view
from services.bridge.scope import own_platform_only, readable, writes_for
from services.bridge.store_batch_rules import MAX_RECORDS, BatchRefused, records_of
from services.bridge.store_batches import StoreBatches
from services.bridge.store_batches import UnknownPlatform as BatchForUnknownPlatform
from services.bridge.subject_rules import Issue, SubjectRefused
from services.bridge.website_rules import WebsiteForm, WebsiteRegistration
from services.bridge.websites import READERS, WRITERS, OutOfArea, UnknownWebsite, WebsiteExists, Websites, Written, website_view
from services.runtime.auth import Caller, Role
from services.runtime.http import Problem, require_role
from services.runtime.service import Service

PROBLEMS = "https://redshield.dev/problems/"
#: A batch holds store data of many regions: platforms read their own, regulators and auditors every platform's.
BATCH_READERS = (Role.PLATFORM, Role.REGULATOR, Role.ADMIN, Role.AUDITOR)


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


def build_router(service: Service, sites: Websites, new_forms: NewForms, batches: StoreBatches) -> APIRouter:
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
        writes_for(caller, platform_id, "subjects")
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
        readable(caller, platform_id)
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

    # -- stores posted in batches ----------------------------------------------------------------------------------
    @router.post("/platforms/{platform_id}/stores/batch", tags=["subjects"],
                 summary=f"A platform posts up to {MAX_RECORDS} store records, each with its own idempotency id (record_id)",
                 description="Each record is a submission row plus `record_id`, checked by the same rules. One result per record, in "
                             "order: created, updated, unchanged, duplicate (the record_id was applied before: answered with that "
                             "result, nothing applied again) or refused (with findings; `line` is the record's index). A batch "
                             "never closes a store it does not list.")
    async def post_store_batch(platform_id: str, caller: CurrentCaller, body: Annotated[Any, Body(examples=[{"records": [{
            "record_id": "2026-03-16/S-88231/1", "store_id": "S-88231", "merchant_name": "杭州西湖茶叶有限公司",
            "uscc": "91330106MA2H0C3T5D", "address": "杭州市西湖区龙井路1号", "region": "330106", "shop_name": "西湖茶叶旗舰店",
            "shop_url": "https://shop.example.com/s/88231", "category": "食品"}]}])]) -> dict[str, Any]:
        own_platform_only(caller, platform_id)
        try:
            records = records_of(body)
            async with service.uow() as uow:
                answer = await batches.post(uow, caller=caller, platform_id=platform_id, records=records)
                await uow.commit()
            metrics.store_batch_applied(answer["counts"])
        except BatchRefused as exc:
            errors = [{"field": exc.field, "message": exc.detail, "type": exc.reason}] if exc.field else []
            raise Problem(422, "Batch refused", exc.detail, PROBLEMS + exc.reason, errors=errors, limit=MAX_RECORDS) from exc
        except BatchForUnknownPlatform as exc:
            raise Problem(404, "Not found", f"platform {platform_id} is not registered with the bureau") from exc
        except IntegrityError as exc:
            raise Problem(409, "Conflict", "a record of this batch was applied by another request at the same moment; send the batch "
                          "again (its applied records are answered as duplicates)", PROBLEMS + "batch-conflict") from exc
        return answer

    @router.get("/platforms/{platform_id}/store-batches", tags=["subjects"], summary="A platform's store batches, newest first (counts)")
    async def list_store_batches(platform_id: str, caller: CurrentCaller,
                                 limit: Annotated[int, Query(ge=1, le=500)] = 50) -> dict[str, Any]:
        require_role(caller, *BATCH_READERS)
        readable(caller, platform_id)
        async with service.uow() as uow:
            return {"batches": await batches.listing(uow.conn, platform_id, limit)}

    @router.get("/platforms/{platform_id}/store-batches/{batch_id}", tags=["subjects"],
                summary="One store batch with every record's result, as it was answered")
    async def get_store_batch(platform_id: str, batch_id: str, caller: CurrentCaller) -> dict[str, Any]:
        require_role(caller, *BATCH_READERS)
        found = None
        if caller.role is not Role.PLATFORM or caller.platform_id == platform_id:
            async with service.uow() as uow:
                found = await batches.get(uow.conn, platform_id, batch_id)
        if found is None:
            raise Problem(404, "Not found", f"no store batch {batch_id} of platform {platform_id}")
        return found

    return router


def install(app: FastAPI, service: Service, sites: Websites, new_forms: NewForms, batches: StoreBatches) -> None:
    app.include_router(build_router(service, sites, new_forms, batches))
