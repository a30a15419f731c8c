"""One golden example: an event's data plus the CloudEvents attributes of its Kafka record.

Lives apart from ``contracts.examples`` so each service's examples module can import it without a cycle.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from contracts.envelope import Envelope
from contracts.events.base import EventData

#: The W3C trace-context example value: golden records that carry a trace use it.
TRACEPARENT: Final = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def fixed_uuid7(moment: datetime, serial: int) -> str:
    """A UUIDv7 for ``moment`` whose random bits are ``serial``: valid, time-ordered and reproducible."""
    unix_ms = int(moment.timestamp() * 1000)
    value = (unix_ms & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76
    value |= 0b10 << 62
    value |= serial & ((1 << 62) - 1)
    return str(uuid.UUID(int=value))


@dataclass(frozen=True, slots=True)
class Golden:
    """One golden example: an event's data and the attributes its record carries."""

    data: EventData
    source: str
    subject: str
    time: datetime
    serial: int
    region: str | None = None
    platformid: str | None = None
    traceparent: str | None = None

    @property
    def id(self) -> str:
        return fixed_uuid7(self.time, self.serial)

    def payload(self) -> dict[str, Any]:
        """The event's ``data`` as it travels: JSON values, absent optionals left out."""
        return self.data.model_dump(mode="json", exclude_none=True)

    def envelope(self) -> Envelope:
        model = type(self.data)
        return Envelope(
            type=model.event_type,
            source=self.source,
            subject=self.subject,
            data=self.payload(),
            id=self.id,
            time=self.time,
            dataschema=model.dataschema(),
            region=self.region,
            platformid=self.platformid,
            traceparent=self.traceparent,
        )
