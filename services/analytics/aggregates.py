"""Aggregate tables kept at insert time, so the cockpits read thousands of rows instead of 100 million.

Each complaint *contributes* one row to ``complaint_daily``: its received day (China Standard Time), platform,
category, region, kind, current state and first-handling flags. When a batch brings a complaint or a handling
step, the ingest computes the complaint's contribution before and after the batch from the facts already in
ClickHouse plus the batch, and inserts the difference (-old, +new) into the SummingMergeTree. Because the
difference is taken against the stored facts (deduplicated by complaint id and event id), a record delivered
twice in different batches adds nothing the second time, and a state change moves the complaint from one state
row to the other instead of counting it twice. A retry of the same batch reuses the batch's dedup token, so
ClickHouse drops the second copy of the deltas even when the facts landed in between.

The functions here are pure; :class:`services.analytics.ingest.Ingest` does the reading and the inserting.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any, Final

CHINA: Final = timezone(timedelta(hours=8))

DAILY_COLUMNS: Final = (
    "platform_id",
    "day",
    "category",
    "region",
    "kind",
    "state",
    "complaints",
    "assigned",
    "answered",
    "settled",
    "within_deadline",
    "deadline_missed",
)
STORE_DAILY_COLUMNS: Final = ("platform_id", "day", "store_id", "category", "region", "store_name", "complaints")

#: What the ingest needs to know about a complaint already stored (``complaints_by_id``, keyed by id).
COMPLAINT_LOOKUP: Final = (
    "SELECT complaint_id, platform_id, received_at, kind, category, region, store_id, store_name "
    "FROM complaints_by_id WHERE complaint_id IN (SELECT key FROM {KEYS})"
)
#: Its handling steps already stored (``complaint_transitions`` is ordered by complaint id: a key lookup).
TRANSITION_LOOKUP: Final = (
    "SELECT complaint_id, event_id, type, state, at, deadline_kind, deadline_due, outcome "
    "FROM complaint_transitions WHERE complaint_id IN (SELECT key FROM {KEYS})"
)


@dataclass(frozen=True, slots=True)
class Complaint:
    complaint_id: str
    platform_id: str
    received_at: datetime
    kind: str
    category: str
    region: str
    store_id: str
    store_name: str


@dataclass(frozen=True, slots=True)
class Step:
    event_id: str
    type: str
    state: str
    at: datetime
    deadline_kind: str
    deadline_due: date | None
    outcome: str


def aware(moment: datetime) -> datetime:
    """ClickHouse hands DateTime64 back naive (UTC); the processors make them aware."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def complaint_from(values: Mapping[str, Any]) -> Complaint:
    return Complaint(
        str(values["complaint_id"]),
        str(values["platform_id"]),
        aware(values["received_at"]),
        str(values["kind"]),
        str(values["category"]),
        str(values["region"]),
        str(values["store_id"]),
        str(values["store_name"]),
    )


def step_from(values: Mapping[str, Any]) -> Step:
    return Step(
        str(values["event_id"]),
        str(values["type"]),
        str(values["state"]),
        aware(values["at"]),
        str(values["deadline_kind"]),
        values["deadline_due"],
        str(values["outcome"]),
    )


def contribution(c: Complaint, steps: Iterable[Step]) -> tuple[Any, ...]:
    """The complaint's row in ``complaint_daily``, with the same meaning as the cockpit's queries over the raw
    facts: state of the newest step (``received`` without one); assigned / answered / settled / deadline missed
    when any step says so; within the deadline when the first answer's day is on or before the assignment's due."""
    ordered = sorted(steps, key=lambda s: (s.at, s.event_id))
    state = ordered[-1].state if ordered else "received"
    assigned = [s for s in ordered if s.type == "assigned"]
    due = next((s.deadline_due for s in assigned if s.deadline_due is not None), None)
    answers = [s for s in ordered if s.type == "platform_responded"]
    settled = any(s.outcome == "settled" for s in answers)
    within = bool(answers) and due is not None and answers[0].at.astimezone(CHINA).date() <= due
    missed = any(s.type == "deadline_missed" and s.deadline_kind == "first_handling" for s in ordered)
    return (
        c.platform_id,
        c.received_at.astimezone(CHINA).date(),
        c.category,
        c.region,
        c.kind,
        state,
        1,
        int(bool(assigned)),
        int(bool(answers)),
        int(settled),
        int(within),
        int(missed),
    )


def _negated(row: tuple[Any, ...]) -> tuple[Any, ...]:
    return row[:6] + tuple(-n for n in row[6:])


@dataclass(slots=True)
class Deltas:
    daily: list[tuple[Any, ...]]
    store_daily: list[tuple[Any, ...]]


def deltas(
    stored_complaints: Mapping[str, Complaint],
    stored_steps: Mapping[str, Sequence[Step]],
    batch_complaints: Sequence[Complaint],
    batch_steps: Mapping[str, Sequence[Step]],
) -> Deltas:
    """Rows that move the aggregates from the stored facts to the stored facts plus this batch."""
    new_complaints = {c.complaint_id: c for c in batch_complaints}
    out = Deltas([], [])
    for complaint_id in sorted(new_complaints.keys() | batch_steps.keys()):
        before_c = stored_complaints.get(complaint_id)
        if before_c is None and complaint_id not in batch_steps and complaint_id not in stored_steps:
            # Most of a stream: a complaint seen for the first time, with no step yet. Its row is known without
            # sorting steps; this is contribution(c, ()) written out, and a test holds the two equal.
            c = new_complaints[complaint_id]
            day = c.received_at.astimezone(CHINA).date()
            out.daily.append((c.platform_id, day, c.category, c.region, c.kind, "received", 1, 0, 0, 0, 0, 0))
            out.store_daily.append((c.platform_id, day, c.store_id, c.category, c.region, c.store_name, 1))
            continue
        # The first version of a complaint wins: a redelivered ComplaintReceived changes nothing.
        after_c = before_c or new_complaints.get(complaint_id)
        if after_c is None:
            continue  # steps of a complaint not (yet) stored count nowhere, as in the raw queries
        before_steps = {s.event_id: s for s in stored_steps.get(complaint_id, ())}
        after_steps = before_steps | {s.event_id: s for s in batch_steps.get(complaint_id, ())}
        before = contribution(before_c, before_steps.values()) if before_c is not None else None
        after = contribution(after_c, after_steps.values())
        if before == after:
            continue
        if before is not None:
            out.daily.append(_negated(before))
        out.daily.append(after)
        if before_c is None:
            out.store_daily.append(
                (after_c.platform_id, after[1], after_c.store_id, after_c.category, after_c.region, after_c.store_name, 1)
            )
    return out


def summed(rows: Sequence[tuple[Any, ...]], key_width: int) -> list[tuple[Any, ...]]:
    """Rows with the same key (the first ``key_width`` columns) added up, those that come to all zeros dropped: the
    SummingMergeTree would do the same on merge, and fewer rows make the insert and its materialized views cheaper.
    A column after the key that is not a number (a store's name) keeps its first value."""
    out: dict[tuple[Any, ...], list[Any]] = {}
    for row in rows:
        key = row[:key_width]
        held = out.get(key)
        if held is None:
            out[key] = list(row[key_width:])
        else:
            for n, value in enumerate(row[key_width:]):
                if isinstance(value, int):
                    held[n] += value
    return [key + tuple(values) for key, values in out.items() if any(v for v in values if isinstance(v, int))]


def raw_daily_sql(where: str) -> str:
    """Rows shaped like ``complaint_daily``, computed from the raw facts of the complaints ``where`` selects: what
    the cockpits read for part-days at the edges of a period, and what the tests compare the aggregates with."""
    return f"""
        SELECT c.platform_id AS platform_id, toDate(c.received_at, 'Asia/Shanghai') AS day, c.category AS category,
               c.region AS region, c.kind AS kind, if(h.h_state = '', 'received', h.h_state) AS state,
               toInt64(1) AS complaints, h.h_assigned AS assigned, h.h_answered AS answered, h.h_settled AS settled,
               h.h_within AS within_deadline, h.h_missed AS deadline_missed
        FROM (SELECT complaint_id, platform_id, received_at, kind, category, region FROM complaints FINAL WHERE {where}) AS c
        LEFT JOIN (
            SELECT complaint_id,
                   argMax(state, at) AS h_state,
                   toInt64(countIf(type = 'assigned') > 0) AS h_assigned,
                   toInt64(countIf(type = 'platform_responded') > 0) AS h_answered,
                   toInt64(countIf(type = 'platform_responded' AND outcome = 'settled') > 0) AS h_settled,
                   toInt64(ifNull(countIf(type = 'platform_responded') > 0
                           AND toDate(minIf(at, type = 'platform_responded'), 'Asia/Shanghai') <= anyIf(deadline_due, type = 'assigned'),
                           0)) AS h_within,
                   toInt64(countIf(type = 'deadline_missed' AND deadline_kind = 'first_handling') > 0) AS h_missed
            FROM complaint_transitions FINAL
            WHERE complaint_id IN (SELECT complaint_id FROM complaints WHERE {where})
            GROUP BY complaint_id
        ) AS h USING complaint_id
    """


def raw_store_daily_sql(where: str) -> str:
    """Rows shaped like ``complaint_store_daily`` from the raw complaints ``where`` selects."""
    return f"""
        SELECT platform_id, toDate(received_at, 'Asia/Shanghai') AS day, store_id, category, region, store_name,
               toInt64(1) AS complaints
        FROM complaints FINAL WHERE {where}
    """
