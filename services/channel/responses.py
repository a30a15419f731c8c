"""What channel's transition routes answer: the item's new state, or the domain's refusal as a problem."""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel

from contracts.events.channel import ComplaintState, DeadlineRef
from services.channel.domain import AlreadyAnswered, GroundRequired, IllegalTransition, Step
from services.runtime.http import Problem

PROBLEMS = "https://redshield.dev/problems/"


class Moved(BaseModel):
    """An item's state after a transition, and the deadline it now runs against."""

    complaint_id: str
    state: ComplaintState
    deadline: DeadlineRef | None = None


def moved(steps: Sequence[Step]) -> Moved:
    track = steps[-1].track
    return Moved(complaint_id=track.complaint_id, state=track.state, deadline=track.deadline.ref() if track.deadline else None)


def transition_problem(exc: Exception) -> Problem:
    """Domain refusals as RFC 9457 problems: a conflict names the current state (and the target)."""
    if isinstance(exc, AlreadyAnswered):
        return Problem(409, "Already answered", str(exc), PROBLEMS + exc.reason, state=exc.current.value)
    if isinstance(exc, IllegalTransition):
        return Problem(409, "Transition not allowed", str(exc), PROBLEMS + exc.reason,
                       state=exc.current.value, target_state=exc.target.value)
    if isinstance(exc, GroundRequired):
        return Problem(422, "Ground required", str(exc), PROBLEMS + exc.reason)
    return Problem(409, "Changed meanwhile", f"{exc}; read the item again and retry", PROBLEMS + "concurrent-change")
