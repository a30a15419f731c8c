"""Aggregate tables kept at insert time, so the cockpits read thousands of rows instead of 100 million.

Each complaint *contributes* one row to ``complaint_daily``: its received day (China Standard Time), platform,
category, region, kind, current state and first-handling flags. The ingest keeps, per complaint, a
:class:`Summary` of what it knows (the complaint as first received and its handling steps folded: newest step,
first assignment with a due day, first answer, settled, deadline missed) in the ``complaint_ledger``. When a batch
brings a complaint or a step, the new summary is the stored one with the batch folded in; if it differs, one
ledger version records it together with the contribution it moves (-old, +new), and the ledger's materialized
views add that to ``complaint_daily`` and ``complaint_store_daily``.

Folding is idempotent and indifferent to order (maxima, minima and "any"), so a record delivered again, in
whatever batch, leaves the summary as it was and adds nothing; and because the summary and the contribution it
moved are the same row, no crash can leave one without the other. A retry of the same batch reuses the batch's
dedup token, so ClickHouse drops the second copy of the ledger rows.

The functions here are pure; :class:`services.analytics.ingest.Ingest` does the reading and the inserting.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any, Final, NamedTuple

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


class Complaint(NamedTuple):
    """A complaint as the ledger's fold takes it. A named tuple, not a frozen dataclass: the ingest makes one per
    complaint it takes, and a frozen dataclass's ``__init__`` costs several times a tuple's."""

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


#: The ledger's columns, in the order :func:`changes` makes its rows.
LEDGER_COLUMNS: Final = (
    "complaint_id",
    "version",
    "sign",
    "platform_id",
    "day",
    "category",
    "region",
    "kind",
    "state",
    "assigned",
    "answered",
    "settled",
    "within_deadline",
    "deadline_missed",
    "store_id",
    "store_name",
    "store_first",
    "known",
    "received_at",
    "newest_at",
    "newest_event_id",
    "newest_state",
    "due_at",
    "due_event_id",
    "due",
    "first_answer_at",
)
SUMMARY_COLUMNS: Final = (
    "complaint_id",
    "version",
    "known",
    "platform_id",
    "received_at",
    "kind",
    "category",
    "region",
    "store_id",
    "store_name",
    "assigned",
    "settled",
    "deadline_missed",
    "newest_at",
    "newest_event_id",
    "newest_state",
    "due_at",
    "due_event_id",
    "due",
    "first_answer_at",
)
#: The newest summary of each complaint the ingest is about to change (the ledger is ordered by complaint id).
#: PREWHERE by hand: as a WHERE the same condition read every column of the granules it kept and cost 10 ms a batch
#: of 5,000 keys finding none in 200,000 ledger rows (3.8 ms this way), 17 ms finding all (9.5).
LEDGER_LOOKUP: Final = (
    f"SELECT {', '.join(SUMMARY_COLUMNS)} FROM complaint_ledger "
    "PREWHERE complaint_id IN (SELECT key FROM {KEYS}) WHERE sign >= 0 "
    "ORDER BY complaint_id, version DESC LIMIT 1 BY complaint_id"
)

_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)


def to_millisecond(moment: datetime) -> datetime:
    """Times as the ledger stores them (DateTime64(3)): a step folded again after a round trip through ClickHouse
    must compare equal to itself, and two steps in the same millisecond must order the same way on both sides."""
    return moment.replace(microsecond=moment.microsecond - moment.microsecond % 1000)


@dataclass(frozen=True, slots=True)
class Summary:
    """What the ledger knows of one complaint. Each part is a maximum, a minimum or an "any" over the steps, so
    folding a step in twice, or in another order, gives the same summary."""

    complaint: Complaint | None = None
    #: The newest step by (time, event id), and its state.
    newest: tuple[datetime, str, str] | None = None
    assigned: bool = False
    #: The first assignment that carries a due day, by (time, event id).
    due: tuple[datetime, str, date] | None = None
    first_answer_at: datetime | None = None
    settled: bool = False
    missed: bool = False

    def fold(self, complaint: Complaint | None, steps: Iterable[Step]) -> Summary:
        """This summary with a complaint (the first version stays) and steps added."""
        newest, assigned, due, first_answer, settled, missed = (
            self.newest,
            self.assigned,
            self.due,
            self.first_answer_at,
            self.settled,
            self.missed,
        )
        for s in steps:
            at = to_millisecond(s.at)
            if newest is None or (at, s.event_id) > newest[:2]:
                newest = (at, s.event_id, s.state)
            if s.type == "assigned":
                assigned = True
                if s.deadline_due is not None and (due is None or (at, s.event_id) < due[:2]):
                    due = (at, s.event_id, s.deadline_due)
            elif s.type == "platform_responded":
                first_answer = at if first_answer is None else min(first_answer, at)
                settled = settled or s.outcome == "settled"
            elif s.type == "deadline_missed" and s.deadline_kind == "first_handling":
                missed = True
        return Summary(self.complaint or complaint, newest, assigned, due, first_answer, settled, missed)

    def contribution(self) -> tuple[Any, ...] | None:
        """The complaint's row in ``complaint_daily`` (see :func:`contribution`); None while it is not known."""
        c = self.complaint
        if c is None:
            return None
        answered = self.first_answer_at is not None
        within = self.first_answer_at is not None and self.due is not None and self.first_answer_at.astimezone(CHINA).date() <= self.due[2]
        return (
            c.platform_id,
            c.received_at.astimezone(CHINA).date(),
            c.category,
            c.region,
            c.kind,
            self.newest[2] if self.newest is not None else "received",
            1,
            int(self.assigned),
            int(answered),
            int(self.settled),
            int(within),
            int(self.missed),
        )


def summary_from(values: Mapping[str, Any]) -> tuple[int, Summary]:
    """A ledger row read by :data:`LEDGER_LOOKUP` as (version, summary)."""
    complaint = None
    if values["known"]:
        complaint = Complaint(
            str(values["complaint_id"]),
            str(values["platform_id"]),
            aware(values["received_at"]),
            str(values["kind"]),
            str(values["category"]),
            str(values["region"]),
            str(values["store_id"]),
            str(values["store_name"]),
        )
    newest = None
    if values["newest_at"] is not None:
        newest = (aware(values["newest_at"]), str(values["newest_event_id"]), str(values["newest_state"]))
    due = None
    if values["due"] is not None:
        due = (aware(values["due_at"]), str(values["due_event_id"]), values["due"])
    answer = values["first_answer_at"]
    return int(values["version"]), Summary(
        complaint,
        newest,
        bool(values["assigned"]),
        due,
        aware(answer) if answer is not None else None,
        bool(values["settled"]),
        bool(values["deadline_missed"]),
    )


def _ledger_row(
    complaint_id: str, version: int, sign: int, summary: Summary, moved: tuple[Any, ...] | None, store_first: bool
) -> tuple[Any, ...]:
    c = summary.complaint
    key = moved if moved is not None else ("", date(1970, 1, 1), "", "", "", "", 0, 0, 0, 0, 0, 0)
    if sign < 0:
        # The row that takes the old contribution out carries no summary: the lookup reads rows with sign >= 0.
        return (complaint_id, version, sign, *key[:6], *key[7:], "", "", 0, 0, _EPOCH, None, "", "", None, "", None, None)
    newest, due = summary.newest, summary.due
    return (
        complaint_id,
        version,
        sign,
        *key[:6],
        *key[7:],
        c.store_id if c else "",
        c.store_name if c else "",
        int(store_first),
        int(c is not None),
        c.received_at if c else _EPOCH,
        newest[0] if newest else None,
        newest[1] if newest else "",
        newest[2] if newest else "",
        due[0] if due else None,
        due[1] if due else "",
        due[2] if due else None,
        summary.first_answer_at,
    )


def changes(
    stored: Mapping[str, tuple[int, Summary]],
    batch_complaints: Sequence[Complaint],
    batch_steps: Mapping[str, Sequence[Step]],
) -> list[tuple[Any, ...]]:
    """Ledger rows (:data:`LEDGER_COLUMNS`) that move each complaint of the batch from its stored summary to the
    summary with the batch folded in; nothing for a complaint the batch does not change."""
    first_seen: dict[str, Complaint] = {}
    for c in batch_complaints:
        first_seen.setdefault(c.complaint_id, c)  # the first version of a complaint wins
    rows: list[tuple[Any, ...]] = []
    for complaint_id in sorted(first_seen.keys() | batch_steps.keys()):
        version, before = stored.get(complaint_id, (0, None))
        if before is None and complaint_id not in batch_steps:
            # Most of a stream: a complaint seen for the first time, with no step yet. Its row is known without
            # folding; this is the general case below written out, and a test holds the two equal.
            c = first_seen[complaint_id]
            day = c.received_at.astimezone(CHINA).date()
            rows.append(
                (
                    complaint_id,
                    1,
                    1,
                    c.platform_id,
                    day,
                    c.category,
                    c.region,
                    c.kind,
                    "received",
                    0,
                    0,
                    0,
                    0,
                    0,
                    c.store_id,
                    c.store_name,
                    1,
                    1,
                    c.received_at,
                    None,
                    "",
                    "",
                    None,
                    "",
                    None,
                    None,
                )
            )
            continue
        old = before or Summary()
        new = old.fold(first_seen.get(complaint_id), batch_steps.get(complaint_id, ()))
        if new == old:
            continue  # everything the batch says of it is in the ledger already
        was, now = old.contribution(), new.contribution()
        if was is not None and was != now:
            rows.append(_ledger_row(complaint_id, version + 1, -1, old, was, False))
        moves = now is not None and was != now
        rows.append(_ledger_row(complaint_id, version + 1, 1 if moves else 0, new, now, was is None and now is not None))
    return rows



def changes_over(
    provisional: Sequence[tuple[Any, ...]],
    stored: Mapping[str, tuple[int, Summary]],
    batch_complaints: Sequence[Complaint],
    batch_steps: Mapping[str, Sequence[Step]],
) -> list[tuple[Any, ...]]:
    """:func:`changes` given ``provisional`` = ``changes({}, batch_complaints, batch_steps)``, made before the stored
    summaries were read (the ingest makes it while the previous batch is written). A complaint's rows depend on its
    own stored summary only, so those of complaints with nothing stored are the provisional ones; the others are
    folded again."""
    if not stored:
        return list(provisional)
    kept = [row for row in provisional if row[0] not in stored]
    again = changes(
        stored,
        [c for c in batch_complaints if c.complaint_id in stored],
        {complaint_id: steps for complaint_id, steps in batch_steps.items() if complaint_id in stored},
    )
    return kept + again

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
