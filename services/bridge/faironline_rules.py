"""Pure rules of the Zhejiang Fair Online link: what an assignment must hold, what an outcome needs, who may see an item."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from pydantic import ValidationError

from contracts.events.bridge import FairOnlineAssignment, FairOnlineOutcome
from services.bridge.domain import Refused

#: Outcomes that need a reason a person wrote: the province learns from them why a clue did or did not hold.
MIN_REASON_CHARS: Final = 4


@dataclass(frozen=True, slots=True)
class Problem:
    field: str
    message: str


class BadAssignment(ValueError):
    """An assignment that does not fit the province's schema; every field at fault is named."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        super().__init__("; ".join(f"{p.field}: {p.message}" for p in problems))
        self.problems = tuple(problems)


def parse_assignment(payload: Any) -> FairOnlineAssignment:
    """The record as the province's schema reads it, or :class:`BadAssignment` naming each bad field."""
    if not isinstance(payload, dict):
        raise BadAssignment([Problem("(body)", "an assignment is a JSON object")])
    try:
        item = FairOnlineAssignment.model_validate(payload)
    except ValidationError as exc:
        raise BadAssignment([Problem(".".join(str(p) for p in e["loc"]) or "(body)", e["msg"]) for e in exc.errors()]) from exc
    if item.due is not None and item.due < item.assigned_at.date():
        raise BadAssignment([Problem("due", "the due day is before the day the item was assigned")])
    return item


@dataclass(frozen=True, slots=True)
class Outcome:
    outcome: FairOnlineOutcome
    reasons: tuple[str, ...]
    case_number: str | None


def check_outcome(outcome: FairOnlineOutcome, reasons: Sequence[str], case_number: str | None) -> Outcome:
    """An officer's outcome: every outcome gives its reasons; a clue filed as a case names the case, and only then."""
    kept = tuple(r.strip() for r in reasons if r.strip())
    if not kept or any(len(r) < MIN_REASON_CHARS for r in kept):
        raise Refused("reasons-required", f"give the grounds of the outcome (each at least {MIN_REASON_CHARS} characters)", "reasons")
    number = case_number.strip() if case_number else None
    if outcome is FairOnlineOutcome.CASE_FILED and not number:
        raise Refused("case-number-required", "an item filed as a case names the case number", "case_number")
    if outcome is not FairOnlineOutcome.CASE_FILED and number:
        raise Refused("case-number-unexpected", f"a case number belongs only to the outcome {FairOnlineOutcome.CASE_FILED.value}",
                      "case_number")
    return Outcome(outcome, kept, number)


def same_outcome(recorded: Outcome, asked: Outcome) -> bool:
    """A resend of the recorded outcome is answered with it; a different one is a conflict (the province has it)."""
    return recorded == asked


def in_area(bureau_region: str | None, item_region: str) -> bool:
    """A bureau sees the items of its area: a city bureau (3301 00) every district under it, a district only its own."""
    return bool(bureau_region) and item_region.startswith(area_stem(bureau_region or ""))


def area_stem(bureau_region: str) -> str:
    """The leading digits a region code of the area shares: 330100 → 3301, 330000 → 33, 330106 → 330106."""
    stem = bureau_region
    while stem.endswith("00") and len(stem) > 2:
        stem = stem[:-2]
    return stem
