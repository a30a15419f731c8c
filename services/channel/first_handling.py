"""Platform first handling (先行处置): the platform's answer, over HTTP or on its answers feed, and what follows."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from contracts.events.channel import ActorRole, FirstHandlingAnswer
from services.channel import domain
from services.channel.domain import Actor, Step, Track
from services.channel.handling import Handling
from services.runtime.uow import UnitOfWork


async def answer(handling: Handling, uow: UnitOfWork, *, platform_id: str, complaint_id: str, reply: FirstHandlingAnswer,
                 actor: str) -> list[Step]:
    """Record the platform's answer; not settled or contested moves on to the bureau's track at once.

    Raises :class:`UnknownComplaint` for an item that is not this platform's, and the domain's errors for an
    answer that is not allowed (a second answer is :class:`domain.AlreadyAnswered`).
    """
    who = Actor(ActorRole.PLATFORM, actor)

    def decide(track: Track, now: datetime) -> Sequence[Step]:
        step = domain.answer_first_handling(track, answer=reply, at=now, actor=who)
        return domain.route_answer(step, at=now, calendar=handling.calendar)

    return await handling.transition(uow, complaint_id, decide, owner=platform_id)
