"""The bureau's track over HTTP: accept or refuse, mediation, closing, and the verification of reports.

Each route is one transition of the state machine, taken by an officer of the bureau whose region the item
belongs to; an item of another region answers 404, exactly like a missing one.
"""

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, StringConstraints

from contracts.events.channel import ActorRole, ClosingOutcome, MediationEndGround, RefusalGround
from services.channel import domain, store
from services.channel.domain import Actor, GroundRequired, IllegalTransition, Step, Track
from services.channel.handling import Handling, UnknownComplaint
from services.channel.responses import Moved, moved, transition_problem
from services.runtime.auth import Caller, Role
from services.runtime.http import Problem, require_role
from services.runtime.service import Service

Text = Annotated[str, StringConstraints(min_length=1, max_length=2000, strip_whitespace=True)]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Refusal(_Body):
    ground: RefusalGround
    detail: Text | None = None


class MediationEnd(_Body):
    ground: MediationEndGround


class Closing(_Body):
    outcome: ClosingOutcome
    reason: Text | None = None


class Extension(_Body):
    #: The person who approved the extension (not the officer asking for it).
    approver: Text


class Escalation(_Body):
    finding: Text


def in_region(caller: Caller) -> Callable[[Track], bool]:
    """A bureau acts on the items of its region and, for a city or province bureau, of the regions below it."""
    scope = caller.region or ""
    return lambda track: bool(scope) and domain.in_scope(track.region, scope)


def build_router(service: Service, handling: Handling) -> APIRouter:
    router = APIRouter(prefix="/v1/complaints/{complaint_id}", tags=["bureau track"])
    CurrentCaller = Annotated[Caller, Depends(service.current_caller)]
    calendar = handling.calendar

    async def act(complaint_id: str, caller: Caller, move: Callable[[Track, datetime, Actor], Step]) -> Moved:
        require_role(caller, Role.BUREAU)
        officer = Actor(ActorRole.BUREAU, caller.subject)

        def decide(track: Track, now: datetime) -> Sequence[Step]:
            return [move(track, now, officer)]

        try:
            async with service.uow() as uow:
                steps = await handling.transition(uow, complaint_id, decide, may_act=in_region(caller))
                await uow.commit()
        except UnknownComplaint as exc:
            raise Problem(404, "Not found", str(exc)) from exc
        except (IllegalTransition, GroundRequired, store.StaleTrack) as exc:
            raise transition_problem(exc) from exc
        return moved(steps)

    @router.post("/accept", response_model=Moved, summary="The bureau accepts a complaint (受理)")
    async def accept(complaint_id: str, caller: CurrentCaller) -> Moved:
        return await act(complaint_id, caller, lambda t, now, who: domain.accept(t, at=now, actor=who))

    @router.post("/refuse", response_model=Moved, summary="The bureau refuses a complaint (不予受理) on a ground of the rule set")
    async def refuse(complaint_id: str, body: Refusal, caller: CurrentCaller) -> Moved:
        return await act(complaint_id, caller,
                         lambda t, now, who: domain.refuse(t, ground=body.ground, detail=body.detail, at=now, actor=who))

    @router.post("/mediation", response_model=Moved, summary="Both parties consented: mediation starts, its limit counted from acceptance")
    async def start_mediation(complaint_id: str, caller: CurrentCaller) -> Moved:
        return await act(complaint_id, caller, lambda t, now, who: domain.start_mediation(t, at=now, calendar=calendar, actor=who))

    @router.post("/mediation/end", response_model=Moved, summary="Mediation ends by agreement or on an ending ground")
    async def end_mediation(complaint_id: str, body: MediationEnd, caller: CurrentCaller) -> Moved:
        return await act(complaint_id, caller,
                         lambda t, now, who: domain.end_mediation(t, ground=body.ground, at=now, calendar=calendar, actor=who))

    @router.post("/close", response_model=Moved, summary="The item is closed with an outcome")
    async def close(complaint_id: str, body: Closing, caller: CurrentCaller) -> Moved:
        return await act(complaint_id, caller,
                         lambda t, now, who: domain.close(t, outcome=body.outcome, reason=body.reason, at=now, actor=who))

    @router.post("/verification/extend", response_model=Moved, summary="Verification extended once, with an approver's consent")
    async def extend_verification(complaint_id: str, body: Extension, caller: CurrentCaller) -> Moved:
        return await act(complaint_id, caller,
                         lambda t, now, who: domain.extend_verification(t, approver=body.approver, at=now, calendar=calendar, actor=who))

    @router.post("/escalate", response_model=Moved, summary="A verified report becomes a case clue for enforcement")
    async def escalate(complaint_id: str, body: Escalation, caller: CurrentCaller) -> Moved:
        return await act(complaint_id, caller, lambda t, now, who: domain.escalate(t, finding=body.finding, at=now, actor=who))

    return router
