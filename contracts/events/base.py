from __future__ import annotations

from typing import ClassVar

from pydantic import BaseModel, ConfigDict


class EventData(BaseModel):
    """Base of every event's ``data``: closed, frozen, with its CloudEvents type and topic."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    event_type: ClassVar[str]
    topic: ClassVar[str]
    #: Description shown in the JSON Schema and the AsyncAPI document.
    summary: ClassVar[str]

    @classmethod
    def dataschema(cls) -> str:
        return f"https://schemas.redshield.dev/{cls.event_type}.json"
