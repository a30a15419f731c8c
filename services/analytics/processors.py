"""Pure processors, Snuba-style: one event in, rows per table out. No I/O, same rows every time."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Final

import orjson
from pydantic import ValidationError

from contracts.envelope import Envelope
from contracts.events.channel import ComplaintReceived
from contracts.registry import model_for

EVENT_COLUMNS: Final = (
    "event_id",
    "type",
    "source",
    "subject",
    "time",
    "region",
    "platform_id",
    "data",
    "topic",
    "partition",
    "offset",
    "known",
    "ingested_at",
)
COMPLAINT_COLUMNS: Final = (
    "complaint_id",
    "platform_id",
    "platform_complaint_id",
    "kind",
    "intake",
    "received_at",
    "rule_set",
    "region",
    "store_id",
    "store_name",
    "merchant_uscc",
    "merchant_region",
    "amount",
    "goods_category",
    "category",
    "description",
    "consumer_hash",
    "state",
    "updated_at",
    "ingested_at",
)
COLUMNS: Final[dict[str, tuple[str, ...]]] = {"events": EVENT_COLUMNS, "complaints": COMPLAINT_COLUMNS}


class ProcessorError(ValueError):
    """A known event whose data the processor cannot turn into rows (a poison event)."""


@dataclass(frozen=True, slots=True)
class Position:
    topic: str
    partition: int
    offset: int


@dataclass(slots=True)
class Rows:
    by_table: dict[str, list[tuple[Any, ...]]] = field(default_factory=dict)
    unknown_type: str | None = None

    def add(self, table: str, row: tuple[Any, ...]) -> None:
        self.by_table.setdefault(table, []).append(row)


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC)


def _complaint_received(env: Envelope, ingested_at: datetime, rows: Rows) -> None:
    event = ComplaintReceived.model_validate(env.data)
    rows.add(
        "complaints",
        (
            event.complaint_id,
            event.platform_id,
            event.platform_complaint_id,
            event.kind.value,
            event.intake.value,
            _utc(event.received_at),
            event.rule_set.value,
            event.region,
            event.merchant.store_id,
            event.merchant.store_name,
            event.merchant.uscc or "",
            event.merchant.region or "",
            Decimal(event.order.amount),
            event.order.goods_category,
            event.category.value,
            event.description,
            event.consumer_hash or "",
            "received",
            _utc(env.time),
            ingested_at,
        ),
    )


#: Processors by CloudEvents type; a type without one is still stored raw in ``events``.
PROCESSORS: Final[dict[str, Callable[[Envelope, datetime, Rows], None]]] = {
    ComplaintReceived.event_type: _complaint_received,
}


def process(env: Envelope, position: Position, ingested_at: datetime) -> Rows:
    """Rows for one event. Raises :class:`ProcessorError` when a known type's data is unusable."""
    rows = Rows()
    processor = PROCESSORS.get(env.type)
    known = processor is not None or model_for(env.type) is not None
    if processor is not None:
        try:
            processor(env, ingested_at, rows)
        except (ValidationError, ValueError, KeyError, TypeError) as exc:
            raise ProcessorError(f"{env.type} data cannot be turned into rows: {exc}") from exc
    if not known:
        rows.unknown_type = env.type
    rows.add(
        "events",
        (
            env.id,
            env.type,
            env.source,
            env.subject,
            _utc(env.time),
            env.region or "",
            env.platformid or "",
            orjson.dumps(env.data).decode(),
            position.topic,
            position.partition,
            position.offset,
            1 if known else 0,
            ingested_at,
        ),
    )
    return rows
