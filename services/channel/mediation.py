"""Mediation over HTTP: sessions recorded, and the clock paused and resumed for testing, appraisal or
identification. Each is an act of the bureau whose region the item belongs to, an event and an audit record."""

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Annotated

import sqlalchemy as sa
from fastapi import APIRouter, Depends
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from contracts.events.channel import ActorRole, MediationParty, PauseReason, SessionForm
from contracts.ids import new_id
from services.channel import domain, store
from services.channel.bureau_track import in_region
from services.channel.domain import Actor, GroundRequired, IllegalTransition, Step, Track
from services.channel.handling import Handling, UnknownComplaint
from services.channel.responses import Moved, moved, transition_problem
from services.runtime.auth import Caller, Role
from services.runtime.http import Problem, require_role
from services.runtime.service import Service
from services.runtime.uow import UnitOfWork


class Session(BaseModel):
    model_config = ConfigDict(extra="forbid")

    held_at: AwareDatetime
    form: SessionForm
    parties: Annotated[list[MediationParty], Field(min_length=1, max_length=10)]
    summary: Annotated[str, StringConstraints(min_length=1, max_length=5000, strip_whitespace=True)]


class Pause(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: PauseReason


class Recorded(Moved):
    session_id: str


def build_router(service: Service, handling: Handling) -> APIRouter:
    router = APIRouter(prefix="/v1/complaints/{complaint_id}/mediation", tags=["bureau track"])
    CurrentCaller = Annotated[Caller, Depends(service.current_caller)]
    calendar = handling.calendar

    async def act(complaint_id: str, caller: Caller, move: Callable[[UnitOfWork, Track, datetime, Actor], Step],
                  after: Callable[[UnitOfWork, Step, Actor], object] | None = None) -> list[Step]:
        require_role(caller, Role.BUREAU)
        officer = Actor(ActorRole.BUREAU, caller.subject)
        try:
            async with service.uow() as uow:
                def decide(track: Track, now: datetime) -> Sequence[Step]:
                    return [move(uow, track, now, officer)]

                steps = await handling.transition(uow, complaint_id, decide, may_act=in_region(caller))
                if after is not None:
                    await after(uow, steps[-1], officer)  # type: ignore[misc]
                await uow.commit()
        except UnknownComplaint as exc:
            raise Problem(404, "Not found", str(exc)) from exc
        except (IllegalTransition, GroundRequired, store.StaleTrack) as exc:
            raise transition_problem(exc) from exc
        return steps

    @router.post("/sessions", response_model=Recorded, status_code=201, summary="Record a mediation session held on the item")
    async def record_session(complaint_id: str, body: Session, caller: CurrentCaller) -> Recorded:
        session_id = new_id()

        async def keep(uow: UnitOfWork, step: Step, officer: Actor) -> None:
            await store.insert_rows(uow.conn, store.mediation_sessions, [{
                "session_id": session_id, "complaint_id": complaint_id, "held_at": store.utc(body.held_at), "form": body.form.value,
                "parties": [p.value for p in dict.fromkeys(body.parties)], "summary": body.summary, "recorded_by": officer.subject,
                "recorded_at": store.utc(step.audit.at)}])

        steps = await act(complaint_id, caller, lambda uow, t, now, who: domain.record_session(
            t, session_id=session_id, held_at=body.held_at, form=body.form, parties=body.parties, at=now, actor=who), after=keep)
        return Recorded(**moved(steps).model_dump(), session_id=session_id)

    @router.post("/pause", response_model=Moved, summary="Stop the mediation clock for testing, appraisal or identification")
    async def pause(complaint_id: str, body: Pause, caller: CurrentCaller) -> Moved:
        async def keep(uow: UnitOfWork, step: Step, officer: Actor) -> None:
            await store.insert_rows(uow.conn, store.mediation_pauses, [{
                "pause_id": new_id(), "complaint_id": complaint_id, "reason": body.reason.value, "paused_at": store.utc(step.audit.at),
                "paused_by": officer.subject}])

        return moved(await act(complaint_id, caller, lambda uow, t, now, who: domain.pause_mediation(t, reason=body.reason, at=now,
                                                                                                       actor=who), after=keep))

    @router.post("/resume", response_model=Moved, summary="Run the mediation clock again; the deadline moves by the paused time")
    async def resume(complaint_id: str, caller: CurrentCaller) -> Moved:
        earlier: list[tuple[datetime, datetime]] = []

        async def keep(uow: UnitOfWork, step: Step, officer: Actor) -> None:
            p = store.mediation_pauses.c
            await uow.conn.execute(sa.update(store.mediation_pauses)
                                   .where(p.complaint_id == complaint_id, p.resumed_at.is_(None))
                                   .values(resumed_at=store.utc(step.audit.at), resumed_by=officer.subject))

        async with service.uow() as uow:
            earlier = await store.earlier_pauses(uow.conn, complaint_id)
        return moved(await act(complaint_id, caller, lambda uow, t, now, who: domain.resume_mediation(
            t, earlier_pauses=earlier, at=now, calendar=calendar, actor=who), after=keep))

    return router
