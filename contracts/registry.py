"""Every event type the system knows, by its CloudEvents ``type``."""

from __future__ import annotations

from typing import Final

from contracts.events.analytics import WarningRaised
from contracts.events.base import EventData
from contracts.events.bridge import BRIDGE_EVENTS
from contracts.events.channel import HANDLING_EVENTS, ComplaintAnswered, ComplaintReceived, ComplaintSubmitted

_CHANNEL: Final[tuple[type[EventData], ...]] = (ComplaintSubmitted, ComplaintReceived, ComplaintAnswered, *HANDLING_EVENTS)

EVENT_MODELS: Final[dict[str, type[EventData]]] = {model.event_type: model for model in _CHANNEL}
EVENT_MODELS.update({model.event_type: model for model in BRIDGE_EVENTS})
EVENT_MODELS[WarningRaised.event_type] = WarningRaised


def model_for(event_type: str) -> type[EventData] | None:
    return EVENT_MODELS.get(event_type)
