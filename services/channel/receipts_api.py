"""The consumer's side: look an item up by its receipt code, and confirm or dispute a platform's settlement.

No token: the code is the consumer's key to one item and nothing else. A code that is malformed, unknown or
wrong answers the same 404; the view shows the item's state, kind, open deadline and the public history of its
transitions, never personal data, the people who acted, review flags, or any other item.
"""


from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from contracts.events.channel import HANDLING_EVENTS, ActorRole, ComplaintFlagCleared, ComplaintFlagged, ComplaintState, DeadlineRef
from services.channel import domain, receipts, store
from services.channel.domain import Actor, GroundRequired, IllegalTransition, Step, Track
from services.channel.handling import Handling, UnknownComplaint
from services.channel.intake import Intake
from services.channel.responses import PROBLEMS, Moved, moved, transition_problem
from services.runtime.http import Problem
from services.runtime.service import Service

#: What the consumer's view calls a transition: its event's short name. Flags are the bureau's, not shown.
_PUBLIC_EVENTS = {m.event_type: m.event_type.split(".")[3] for m in HANDLING_EVENTS if m not in (ComplaintFlagged, ComplaintFlagCleared)}
CONSUMER = Actor(ActorRole.CONSUMER, "consumer/receipt")


class Transition(BaseModel):
    at: datetime
    event: str = Field(description="e.g. assigned, platform_responded, referred, accepted, closed")
    from_state: ComplaintState
    to_state: ComplaintState
    by: ActorRole


class ReceiptView(BaseModel):
    receipt_code: str
    kind: str
    state: ComplaintState
    received_at: datetime
    deadline: DeadlineRef | None = Field(default=None, description="The deadline the item now runs against, if any")
    history: list[Transition]


class Settlement(BaseModel):
    model_config = ConfigDict(extra="forbid")
    #: True: the consumer accepts the platform's settlement (closed). False: disputes it (the bureau's track).
    agree: bool


def _not_found() -> Problem:
    return Problem(404, "Not found", "no item has this receipt code", PROBLEMS + "unknown-receipt")


async def _find(conn: Any, key: bytes, code: str) -> dict[str, Any]:
    canonical = receipts.normalise(code)
    if canonical is None:
        raise _not_found()
    row = await store.by_receipt(conn, receipts.lookup_hash(key, canonical))
    # The lookup found the row by its hash; the code itself is checked again in constant time against the
    # one derived from the item, so no answer depends on how much of a wrong code was right.
    if row is None or not receipts.matches(key, row["complaint_id"], canonical):
        raise _not_found()
    return row


def build_router(service: Service, intake: Intake, handling: Handling) -> APIRouter:
    router = APIRouter(prefix="/v1/receipts/{code}", tags=["consumers"])
    key = intake.receipt_key

    @router.get("", response_model=ReceiptView, summary="A consumer looks up their item by its receipt code (no account)")
    async def look_up(code: str) -> ReceiptView:
        async with service.uow() as uow:
            row = await _find(uow.conn, key, code)
            trail = await uow.conn.execute(
                sa.select(store.audit.c.at, store.audit.c.event_type, store.audit.c.from_state, store.audit.c.to_state,
                          store.audit.c.actor_role)
                .where(store.audit.c.complaint_id == row["complaint_id"], store.audit.c.event_type.in_(list(_PUBLIC_EVENTS)))
                .order_by(store.audit.c.seq)
            )
            history = [Transition(at=store.utc(r.at), event=_PUBLIC_EVENTS[r.event_type], from_state=r.from_state, to_state=r.to_state,
                                  by=r.actor_role) for r in trail]
        deadline = None
        if row["deadline_kind"] is not None:
            deadline = DeadlineRef(kind=row["deadline_kind"], due=row["deadline_due"], provisional=bool(row["deadline_provisional"]))
        return ReceiptView(receipt_code=receipts.receipt_code(key, row["complaint_id"]), kind=row["kind"], state=row["state"],
                           received_at=store.utc(row["received_at"]), deadline=deadline, history=history)

    @router.post("/settlement", response_model=Moved,
                 summary="The consumer confirms a platform's settlement (closed) or disputes it (the bureau's track)")
    async def answer_settlement(code: str, body: Settlement) -> Moved:
        calendar = handling.calendar

        def decide(track: Track, now: datetime) -> Sequence[Step]:
            return [domain.answer_settlement(track, agree=body.agree, at=now, calendar=calendar, actor=CONSUMER)]

        try:
            async with service.uow() as uow:
                row = await _find(uow.conn, key, code)
                steps = await handling.transition(uow, row["complaint_id"], decide)
                await uow.commit()
        except UnknownComplaint as exc:
            raise _not_found() from exc
        except (IllegalTransition, GroundRequired, store.StaleTrack) as exc:
            raise transition_problem(exc) from exc
        return moved(steps)

    return router
