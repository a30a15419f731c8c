"""Every event type the system knows, by its CloudEvents ``type``."""

from __future__ import annotations

from typing import Final

from contracts.events.analytics import WarningRaised
from contracts.events.base import EventData
from contracts.events.channel import ComplaintReceived, ComplaintSubmitted

EVENT_MODELS: Final[dict[str, type[EventData]]] = {
    model.event_type: model
    for model in (
        ComplaintSubmitted,
        ComplaintReceived,
        WarningRaised,
    )
}


def model_for(event_type: str) -> type[EventData] | None:
    return EVENT_MODELS.get(event_type)
