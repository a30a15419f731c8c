"""Batch ingest: processors turn a polled batch into rows; each table gets one insert with a dedup token
derived from the batch's offsets; offsets are committed (by the caller) only after every insert."""

from __future__ import annotations

import hashlib
import logging
import operator
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from prometheus_client import Counter, Gauge, Histogram

from services.analytics import aggregates
from services.analytics.aggregates import LEDGER_LOOKUP, SUMMARY_COLUMNS, Complaint, Step, Summary, step_from, summary_from
from services.analytics.clickhouse import ClickHouse, encode_rows
from services.analytics.processors import COLUMNS, Position, ProcessorError, process_into
from services.runtime.clock import Clock
from services.runtime.consumer import Delivery, Rejected

log = logging.getLogger("redshield.analytics.ingest")
_LOOKUP_COLUMNS = ("complaint_id", "platform_id", "received_at", "kind", "category", "region", "store_id", "store_name")

INGESTED_ROWS = Counter("redshield_analytics_ingested_rows_total", "Rows inserted into ClickHouse", ["table"])
INSERT_SECONDS = Histogram(
    "redshield_analytics_insert_seconds", "Duration of one batch insert", buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5)
)
UNKNOWN_EVENTS = Counter("redshield_analytics_unknown_events_total", "Events of a type or version no processor knows (kept raw)", ["type"])
FRESHNESS = Gauge("redshield_analytics_freshness_seconds", "Seconds between now and the newest event ingested")
#: A busy stream should fill batches up to the ingest's maximum (REDSHIELD_ANALYTICS_INGEST_MAX_RECORDS): chDB's cost
#: is mostly per batch, so batches far below it under load mean the fetch sizes are holding the ingest back.
BATCH_EVENTS = Histogram(
    "redshield_analytics_batch_events",
    "Events in one written batch (processed and rejected)",
    buckets=(1, 10, 100, 1000, 2500, 5000, 10000, 15000, 20000, 50000),
)


def _span_digest(positions: Sequence[Position]) -> str:
    spans: dict[tuple[str, int], tuple[int, int]] = {}
    for p in positions:
        key = (p.topic, p.partition)
        span = spans.get(key)
        spans[key] = (p.offset, p.offset) if span is None else (min(span[0], p.offset), max(span[1], p.offset))
    text = ";".join(f"{t}/{part}/{lo}-{hi}" for (t, part), (lo, hi) in sorted(spans.items()))
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def batch_token(table: str, positions: Sequence[Position], digest: str | None = None) -> str:
    """Same records, same token: a retried insert of the same batch is dropped by ClickHouse. ``digest`` is the
    batch's :func:`_span_digest`, computed once for all its tables."""
    return f"{table}:{digest or _span_digest(positions)}:{len(positions)}"


@dataclass(frozen=True, slots=True)
class LedgerDraft:
    """A batch's complaints and steps as the ledger's fold takes them (:func:`batch_facts`), and the ledger rows as if
    none of them were stored, encoded: what the writer inserts when its lookup finds none (most of a stream:
    complaints seen for the first time)."""

    complaints: list[Complaint]
    steps: dict[str, list[Step]]
    rows_if_new: list[tuple[object, ...]]
    block_if_new: bytes


@dataclass(frozen=True, slots=True)
class Prepared:
    """A batch's rows, made and encoded, not yet written. Everything that does not depend on what is stored is done
    here, on the event loop, while the previous batch is written, so the writer's thread only looks up and inserts."""

    #: Table → (rows, the rows encoded for the insert).
    tables: dict[str, tuple[int, bytes]]
    #: The ledger's part; None when the batch has no complaint and no handling step.
    ledger: LedgerDraft | None
    positions: list[Position]
    rejected: list[tuple[Delivery, Rejected]]
    #: The newest event time among the batch's processed events.
    newest: datetime | None
    ingested_at: datetime


class Ingest:
    def __init__(self, ch: ClickHouse, clock: Clock) -> None:
        self.ch = ch
        self.clock = clock
        self.newest_event_time: datetime | None = None
        self.last_ingested_at: datetime | None = None

    async def load_freshness(self) -> None:
        rows = await self.ch.query("SELECT max(time), max(ingested_at), count() FROM events")
        if rows and rows[0][2]:
            self.newest_event_time = rows[0][0].replace(tzinfo=UTC)
            self.last_ingested_at = rows[0][1].replace(tzinfo=UTC)

    async def handle(self, batch: Sequence[Delivery]) -> list[tuple[Delivery, Rejected]]:
        return await self.write(self.prepare(batch))

    def prepare(self, batch: Sequence[Delivery]) -> Prepared:
        """The processors' rows of a batch: pure, so the consumer runs it for the next batch while this one is
        written (services/runtime/consumer.py, staged handlers)."""
        ingested_at = self.clock.now().astimezone(UTC)
        merged: dict[str, list[tuple[object, ...]]] = {}
        positions: list[Position] = []
        rejected: list[tuple[Delivery, Rejected]] = []
        newest: datetime | None = None
        for delivery in batch:
            record, envelope = delivery.record, delivery.envelope
            position = Position(delivery.topic, record.partition, record.offset)
            try:
                unknown = process_into(merged, envelope, position, ingested_at, record.value.decode())
            except ProcessorError as exc:
                rejected.append((delivery, Rejected("unprocessable", str(exc))))
                continue
            if unknown is not None:
                UNKNOWN_EVENTS.labels(unknown).inc()
            positions.append(position)
            moment = envelope.time
            if newest is None or moment > newest:
                newest = moment
        draft = None
        if "complaints" in merged or "complaint_transitions" in merged:
            complaints, steps = batch_facts(merged)
            rows_if_new = aggregates.changes({}, complaints, steps)
            draft = LedgerDraft(complaints, steps, rows_if_new, encode_rows(rows_if_new))
        tables = {table: (len(rows), encode_rows(rows)) for table, rows in merged.items()}
        return Prepared(tables, draft, positions, rejected, newest, ingested_at)

    async def write(self, prepared: Prepared) -> list[tuple[Delivery, Rejected]]:
        """Store a prepared batch. Idempotent: after a partial failure the same batch may be written again (the
        tokens drop the tables already in, the ledger folds nothing twice)."""
        await self.ch.exclusive(lambda: self._store(prepared))
        BATCH_EVENTS.observe(len(prepared.positions) + len(prepared.rejected))
        if prepared.positions:
            newest = prepared.newest
            if self.newest_event_time is not None and (newest is None or self.newest_event_time > newest):
                newest = self.newest_event_time
            self.newest_event_time = newest
            self.last_ingested_at = prepared.ingested_at
            if newest is not None:
                FRESHNESS.set(max(0.0, (self.clock.now() - newest).total_seconds()))
        return list(prepared.rejected)

    def _store(self, prepared: Prepared) -> None:
        """The lookup, the ledger's fold and the inserts, in one worker-thread turn (ClickHouse.exclusive)."""
        tables = prepared.tables
        draft = prepared.ledger
        if draft is not None:
            # The ledger row of a change carries both the complaint's new summary and the contribution it moves,
            # so whichever of this batch's inserts a crash interrupts, the redelivered records (in whatever batches)
            # fold into the summaries already stored and move nothing twice.
            stored = self.stored_summaries(draft.complaints, draft.steps)
            ledger, block = draft.rows_if_new, draft.block_if_new
            if stored:
                ledger = aggregates.changes_over(draft.rows_if_new, stored, draft.complaints, draft.steps)
                block = encode_rows(ledger)
            if ledger:
                tables = {"complaint_ledger": (len(ledger), block)} | tables
        # The raw events table goes last: once an event is there, every row made from it is in too.
        positions = prepared.positions
        digest = _span_digest(positions)
        for table, (count, block) in sorted(tables.items(), key=lambda item: item[0] == "events"):
            started = time.perf_counter()
            self.ch.insert_encoded_now(table, block, COLUMNS[table], batch_token(table, positions, digest))
            INSERT_SECONDS.observe(time.perf_counter() - started)
            INGESTED_ROWS.labels(table).inc(count)

    def stored_summaries(self, batch_complaints: list[Complaint], batch_steps: dict[str, list[Step]]) -> dict[str, tuple[int, Summary]]:
        """The ledger's newest summary of each complaint the batch names, where one is stored."""
        ids = sorted({c.complaint_id for c in batch_complaints} | batch_steps.keys())
        (found,) = self.ch.query_by_keys_now(ids, [LEDGER_LOOKUP])
        return {str(row[0]): summary_from(dict(zip(SUMMARY_COLUMNS, row, strict=True))) for row in found}


def batch_facts(merged: dict[str, list[tuple[object, ...]]]) -> tuple[list[Complaint], dict[str, list[Step]]]:
    """The complaints and handling steps among a batch's rows, as the ledger's rule takes them."""
    # The rows come from our own processors (strings, aware UTC datetimes): no conversion needed.
    c = {name: n for n, name in enumerate(COLUMNS["complaints"])}
    at = operator.itemgetter(*(c[name] for name in _LOOKUP_COLUMNS))
    batch_complaints = list(map(Complaint._make, map(at, merged.get("complaints", []))))
    batch_steps: dict[str, list[Step]] = {}
    for row in merged.get("complaint_transitions", []):
        values = dict(zip(COLUMNS["complaint_transitions"], row, strict=True))
        batch_steps.setdefault(str(values["complaint_id"]), []).append(step_from(values))
    return batch_complaints, batch_steps
