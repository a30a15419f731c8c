"""Pure processors, Snuba-style: one event in, rows per table out. No I/O, same rows every time."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, Final, NamedTuple

import orjson
from pydantic import ValidationError

from contracts.envelope import Envelope
from contracts.events.bridge import (
    NewFormSubjectRegistered,
    NewFormSubjectUpdated,
    PlatformRegistered,
    PlatformUpdated,
    ReportSubmitted,
    StoreClosed,
    StoreRegistered,
    StoreUpdated,
    WebsiteRegistered,
    WebsiteUpdated,
)
from contracts.events.channel import HANDLING_EVENTS, ComplaintReceived
from contracts.registry import model_for
from services.analytics.aggregates import LEDGER_COLUMNS
from services.analytics.complaint_reader import plain_complaint_row

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
PLATFORM_COLUMNS: Final = (
    "platform_id",
    "name",
    "uscc",
    "domicile_region",
    "type",
    "operating_model",
    "main_categories",
    "connected_to_canal",
    "version",
    "updated_at",
)
STORE_COLUMNS: Final = (
    "platform_id",
    "store_id",
    "merchant_name",
    "uscc",
    "region",
    "category",
    "above_threshold",
    "open",
    "updated_at",
)
WEBSITE_COLUMNS: Final = (
    "website_id",
    "operator_name",
    "uscc",
    "domain",
    "region",
    "category",
    "status",
    "version",
    "updated_at",
)
#: No name or handle: many new-form subjects are natural persons, and no cockpit needs to name them.
NEW_FORM_SUBJECT_COLUMNS: Final = (
    "platform_id",
    "subject_id",
    "form",
    "uscc",
    "region",
    "category",
    "version",
    "updated_at",
)
TRANSITION_COLUMNS: Final = (
    "event_id",
    "complaint_id",
    "platform_id",
    "region",
    "type",
    "state",
    "previous_state",
    "actor",
    "at",
    "deadline_kind",
    "deadline_due",
    "outcome",
)
GMV_REPORT_COLUMNS: Final = (
    "platform_id",
    "month",
    "revision",
    "report_id",
    "submitted_at",
    "sales_category",
    "sales_region",
    "sales_gmv_cny",
    "sales_orders",
    "stores_category",
    "stores_count",
    "ingested_at",
)
COLUMNS: Final[dict[str, tuple[str, ...]]] = {
    "events": EVENT_COLUMNS,
    "complaints": COMPLAINT_COLUMNS,
    "platforms": PLATFORM_COLUMNS,
    "stores": STORE_COLUMNS,
    "websites": WEBSITE_COLUMNS,
    "new_form_subjects": NEW_FORM_SUBJECT_COLUMNS,
    "complaint_transitions": TRANSITION_COLUMNS,
    "gmv_reports": GMV_REPORT_COLUMNS,
    # Written by the ingest from the stored summaries (services/analytics/aggregates.py), never by a processor.
    "complaint_ledger": LEDGER_COLUMNS,
}


class ProcessorError(ValueError):
    """A known event whose data the processor cannot turn into rows (a poison event)."""


class Position(NamedTuple):
    """Where an event was read (a named tuple: the ingest makes one per event)."""

    topic: str
    partition: int
    offset: int


#: What a processor makes of one event: the table and its row.
TableRow = tuple[str, tuple[Any, ...]]


@dataclass(slots=True)
class Rows:
    by_table: dict[str, list[tuple[Any, ...]]] = field(default_factory=dict)
    unknown_type: str | None = None


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC)


def _complaint_received(env: Envelope, ingested_at: datetime) -> TableRow:
    row = plain_complaint_row(env.data, env.time, ingested_at)
    return "complaints", row if row is not None else model_complaint_row(env.data, env.time, ingested_at)


def model_complaint_row(data: dict[str, Any], event_time: datetime, ingested_at: datetime) -> tuple[Any, ...]:
    """The ``complaints`` row through the contract's model: the judge of what :func:`plain_complaint_row` declines."""
    event = ComplaintReceived.model_validate(data)
    return (
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
        _utc(event_time),
        ingested_at,
    )


def _platform(env: Envelope, ingested_at: datetime) -> TableRow:
    model = PlatformUpdated if env.type == PlatformUpdated.event_type else PlatformRegistered
    p = model.model_validate(env.data)
    return (
        "platforms",
        (
            p.platform_id,
            p.name,
            p.uscc,
            p.domicile_region,
            p.type.value,
            p.operating_model,
            list(p.main_categories),
            1 if p.connected_to_canal else 0,
            p.version,
            _utc(env.time),
        ),
    )


def _store(env: Envelope, ingested_at: datetime) -> TableRow:
    model = StoreUpdated if env.type == StoreUpdated.event_type else StoreRegistered
    s = model.model_validate(env.data)
    return (
        "stores",
        (s.platform_id, s.store_id, s.merchant_name, s.uscc or "", s.region, s.category, 1 if s.above_threshold else 0, 1, _utc(env.time)),
    )


def _store_closed(env: Envelope, ingested_at: datetime) -> TableRow:
    s = StoreClosed.model_validate(env.data)
    return "stores", (s.platform_id, s.store_id, "", s.uscc or "", s.region, "", 0, 0, _utc(env.time))


def _website(env: Envelope, ingested_at: datetime) -> TableRow:
    model = WebsiteUpdated if env.type == WebsiteUpdated.event_type else WebsiteRegistered
    w = model.model_validate(env.data)
    return (
        "websites",
        (w.website_id, w.operator_name, w.uscc, w.domain, w.region, w.category, w.status.value, w.version, _utc(env.time)),
    )


def _new_form_subject(env: Envelope, ingested_at: datetime) -> TableRow:
    model = NewFormSubjectUpdated if env.type == NewFormSubjectUpdated.event_type else NewFormSubjectRegistered
    n = model.model_validate(env.data)
    return (
        "new_form_subjects",
        (n.platform_id, n.subject_id, n.form.value, n.uscc or "", n.region, n.category, n.version, _utc(env.time)),
    )


def _handling(env: Envelope, ingested_at: datetime) -> TableRow:
    model = HANDLING_BY_TYPE[env.type]
    e = model.model_validate(env.data)
    outcome = getattr(e, "outcome", None) or getattr(e, "ground", None) or getattr(e, "reason", None)
    return (
        "complaint_transitions",
        (
            env.id,
            e.complaint_id,
            e.platform_id,
            e.region,
            env.type.split(".")[3],
            e.state.value,
            getattr(e, "previous_state", e.state).value,
            getattr(e, "by", None) or "",
            _utc(e.at),
            e.deadline.kind.value if e.deadline else "",
            e.deadline.due if e.deadline else None,
            str(getattr(outcome, "value", outcome) or ""),
        ),
    )


def _report(env: Envelope, ingested_at: datetime) -> TableRow:
    r = ReportSubmitted.model_validate(env.data)
    year, month = (int(part) for part in r.month.split("-"))
    # Decimal from the decimal string, never through float: GMV totals must add up to the fen.
    return (
        "gmv_reports",
        (
            r.platform_id,
            date(year, month, 1),
            r.revision,
            r.report_id,
            _utc(r.submitted_at),
            [line.category for line in r.sales],
            [line.region for line in r.sales],
            [Decimal(line.gmv_cny) for line in r.sales],
            [line.orders for line in r.sales],
            [s.category for s in r.stores_by_category],
            [s.stores for s in r.stores_by_category],
            ingested_at,
        ),
    )


HANDLING_BY_TYPE: Final = {model.event_type: model for model in HANDLING_EVENTS}

#: Processors by CloudEvents type; a type without one is still stored raw in ``events``.
PROCESSORS: Final[dict[str, Callable[[Envelope, datetime], TableRow]]] = {
    ComplaintReceived.event_type: _complaint_received,
    PlatformRegistered.event_type: _platform,
    PlatformUpdated.event_type: _platform,
    StoreRegistered.event_type: _store,
    StoreUpdated.event_type: _store,
    StoreClosed.event_type: _store_closed,
    WebsiteRegistered.event_type: _website,
    WebsiteUpdated.event_type: _website,
    NewFormSubjectRegistered.event_type: _new_form_subject,
    NewFormSubjectUpdated.event_type: _new_form_subject,
    ReportSubmitted.event_type: _report,
    **{event_type: _handling for event_type in HANDLING_BY_TYPE},
}


def process_into(
    tables: dict[str, list[tuple[Any, ...]]], env: Envelope, position: Position, ingested_at: datetime, data_text: str | None = None
) -> str | None:
    """Append one event's rows to ``tables`` (table → rows), all of them or, when a known type's data is unusable,
    none (:class:`ProcessorError`); returns the event's type when no processor or model knows it. The ingest folds a
    whole batch into one ``tables`` this way. ``data_text`` is the record's value as received, which the raw
    ``events`` row keeps (the consumer has it: writing the parsed data out again cost as much as reading it); without
    it the data is written out again."""
    processor = PROCESSORS.get(env.type)
    made: TableRow | None = None
    if processor is not None:
        try:
            made = processor(env, ingested_at)
        # ArithmeticError: Decimal() refusing an amount (decimal.InvalidOperation is not a ValueError).
        except (ValidationError, ValueError, KeyError, TypeError, ArithmeticError) as exc:
            raise ProcessorError(f"{env.type} data cannot be turned into rows: {exc}") from exc
    known = processor is not None or model_for(env.type) is not None
    if made is not None:
        table, row = made
        tables.setdefault(table, []).append(row)
    event_row = (
        env.id,
        env.type,
        env.source,
        env.subject,
        _utc(env.time),
        env.region or "",
        env.platformid or "",
        orjson.dumps(env.data).decode() if data_text is None else data_text,
        position.topic,
        position.partition,
        position.offset,
        1 if known else 0,
        ingested_at,
    )
    tables.setdefault("events", []).append(event_row)
    return None if known else env.type


def process(env: Envelope, position: Position, ingested_at: datetime, data_text: str | None = None) -> Rows:
    """Rows for one event (:func:`process_into` on its own). Raises :class:`ProcessorError` when a known type's data
    is unusable."""
    rows = Rows()
    rows.unknown_type = process_into(rows.by_table, env, position, ingested_at, data_text)
    return rows
