"""bridge's HTTP route for new-business-form subjects across platforms, as regulators read them."""

# No ``from __future__ import annotations``: FastAPI must resolve the route's local ``CurrentCaller`` alias.
import re
from typing import Annotated, Any, Final

from fastapi import APIRouter, Depends, FastAPI, Query

from contracts.events.bridge import NewBusinessForm
from services.bridge.new_forms import NewForms, subject_view
from services.runtime.auth import Caller, Role
from services.runtime.http import Problem, require_role
from services.runtime.service import Service

PROBLEMS: Final = "https://redshield.dev/problems/"
PLATFORM_ID: Final = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$"
#: Platforms read theirs here too (the listing keeps them to their own), as under /v1/platforms/{id}/new-form-subjects:
#: unlike an enterprise website, a subject belongs to the platform that wrote it.
READERS: Final = (Role.REGULATOR, Role.ADMIN, Role.AUDITOR, Role.BUREAU, Role.PLATFORM)


def after_of(text: str) -> tuple[str, str]:
    """The (platform, subject id) a ``next`` value names; a malformed one is the caller's error, named as ``after``."""
    platform_id, slash, subject_id = text.partition("/")
    if not slash or not subject_id or not re.fullmatch(PLATFORM_ID, platform_id):
        raise Problem(422, "Invalid request", "after must be a `next` value of this listing: platform/subject id", PROBLEMS + "validation",
                      errors=[{"field": "query.after", "message": "not a platform/subject id", "type": "value_error"}])
    return platform_id, subject_id


def build_router(service: Service, new_forms: NewForms) -> APIRouter:
    router = APIRouter(prefix="/v1")
    CurrentCaller = Annotated[Caller, Depends(service.current_caller)]

    @router.get("/new-form-subjects", tags=["subjects"],
                summary="New-business-form subjects across platforms, by platform and subject id (a bureau sees those of its "
                        "area, a platform its own)",
                description="`region` takes whole code levels: 330000 the province, 330100 every district of Hangzhou, 330106 "
                            "one district. Pass `next` as `after` for the following page; it is absent on the last.")
    async def list_new_form_subjects(
        caller: CurrentCaller,
        form: NewBusinessForm | None = None,
        platform_id: Annotated[str | None, Query(pattern=PLATFORM_ID)] = None,
        region: Annotated[str | None, Query(pattern=r"^[0-9]{6}$", description="a GB/T 2260 code, e.g. 330100")] = None,
        after: Annotated[str | None, Query(max_length=240, description="`next` of the previous page")] = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> dict[str, Any]:
        require_role(caller, *READERS)
        last = after_of(after) if after is not None else None
        async with service.uow() as uow:
            entries = await new_forms.across(uow.conn, caller, form=form, platform_id=platform_id, region=region, after=last, limit=limit)
        # The page's last subject as platform/subject id, the key its events carry: platform ids hold no slash.
        last_read = f"{entries[-1].platform_id}/{entries[-1].subject_id}" if len(entries) == limit else None
        return {"subjects": [subject_view(e) for e in entries], "next": last_read}

    return router


def install(app: FastAPI, service: Service, new_forms: NewForms) -> None:
    app.include_router(build_router(service, new_forms))
