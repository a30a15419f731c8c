"""The aggregate tables answer exactly what the raw facts answer: through redelivery in other batches, retries
with the same token, a crash between a batch's inserts followed by a redelivery cut into other batches, state
changes of the same complaint, steps that arrive before their complaint, and periods that start or end in the
middle of a day. Real chDB, the real ingest; the raw facts are the reference."""

from __future__ import annotations

import json
import random
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from prometheus_client import REGISTRY

from contracts.envelope import Envelope
from services.analytics import cockpits
from services.analytics.aggregates import SUMMARY_COLUMNS, Complaint, Step, Summary, changes, changes_over, contribution
from services.analytics.clickhouse import ClickHouse, connect, migrate, migration_files, statements
from services.analytics.cockpits import Filters
from services.analytics.ingest import Ingest
from services.runtime.clock import FixedClock
from services.runtime.consumer import Delivery
from tests.faults.test_process_kills import received

GOLDEN = Path(__file__).resolve().parents[2] / "contracts" / "golden"
CN = timedelta(hours=8)


def step_event(kind: str, complaint_id: str, platform: str, at: datetime, **changes: Any) -> Envelope:
    data = json.loads((GOLDEN / f"redshield.channel.complaint.{kind}.v1" / "1.json").read_text(encoding="utf-8"))
    data |= {"complaint_id": complaint_id, "platform_id": platform, "at": at.isoformat()} | changes
    return Envelope(type=f"redshield.channel.complaint.{kind}.v1", source="/redshield/test", subject=complaint_id, data=data)


def complaint_event(n: int, platform: str, store: str, category: str, at: datetime, region: str, kind: str) -> Envelope:
    base = received(n)
    data = base.data | {
        "complaint_id": f"agg-{n:05d}",
        "platform_id": platform,
        "category": category,
        "region": region,
        "kind": kind,
        "merchant": base.data["merchant"] | {"store_id": store, "store_name": f"{store} 店"},
        "received_at": at.isoformat(),
    }
    return Envelope(type=base.type, source=base.source, subject=data["complaint_id"], data=data)


def stream(seed: int) -> list[Envelope]:
    """Complaints over 20 days at random hours, and for many of them a first-handling story told in steps."""
    rng = random.Random(seed)
    start = datetime(2026, 11, 1, tzinfo=UTC)
    events: list[Envelope] = []
    for n in range(300):
        platform = rng.choice(["P001", "P002", "P003"])
        at = start + timedelta(minutes=rng.randrange(20 * 24 * 60))
        events.append(
            complaint_event(
                n,
                platform,
                rng.choice(["S-1", "S-2", "S-3", "S-4"]),
                rng.choice(["quality", "delivery", "refund"]),
                at,
                rng.choice(["330106", "330110", "310101"]),
                rng.choice(["complaint", "complaint", "report"]),
            )
        )
        cid = f"agg-{n:05d}"
        story = rng.random()
        if story < 0.6:
            due = (at + CN).date() + timedelta(days=rng.choice([1, 5]))
            events.append(
                step_event(
                    "assigned",
                    cid,
                    platform,
                    at + timedelta(hours=1),
                    deadline={"due": due.isoformat(), "kind": "first_handling", "provisional": False},
                )
            )
            if story < 0.4:
                settled = rng.random() < 0.5
                events.append(
                    step_event(
                        "platform_responded",
                        cid,
                        platform,
                        at + timedelta(days=rng.choice([0, 3])),
                        outcome="settled" if settled else "not_settled",
                        state="platform_settled" if settled else "platform_not_settled",
                        reason=None,
                    )
                )
                if story < 0.15:  # answered again later: the first answer decides the deadline, any answer "settled"
                    answer = at + timedelta(days=rng.choice([2, 5]))
                    events.append(
                        step_event("platform_responded", cid, platform, answer, outcome="settled", state="platform_settled", reason=None)
                    )
            elif story < 0.5:
                events.append(
                    step_event(
                        "deadline_missed",
                        cid,
                        platform,
                        at + timedelta(days=6),
                        deadline={"due": due.isoformat(), "kind": "first_handling", "provisional": False},
                    )
                )
    return events


def deliveries(events: list[Envelope]) -> list[Delivery]:
    return [
        Delivery(record=SimpleNamespace(partition=0, offset=n, value=e.value()), envelope=e, topic="channel.complaints.v1")  # type: ignore[arg-type]
        for n, e in enumerate(events)
    ]


class FailsAfterInsertOnce(ClickHouse):
    """The ledger insert lands, then the call fails once: the batch is retried with the same tokens, or (``crash``)
    the process is taken to have died there, and the records come again in other batches."""

    armed = False
    crash = False

    def insert_encoded_now(self, table: str, block: bytes, columns: Any, token: str) -> None:
        super().insert_encoded_now(table, block, columns, token)
        if table == "complaint_ledger" and self.armed:
            self.armed = False
            raise ConnectionError("reset after the insert was sent")


@pytest.fixture
async def filled(chdb_url: str, prefix: str) -> ClickHouse:
    ch = FailsAfterInsertOnce(connect(chdb_url, prefix.strip(".") + "_aggregates"))
    migrate(ch.client)
    ingest = Ingest(ch, FixedClock(datetime(2026, 11, 28, tzinfo=UTC)))
    records = deliveries(stream(7))
    # Steps first for a slice: they arrive before their complaint, and must count once it comes.
    early = [d for d in records[:60] if "assigned" in d.envelope.type]
    batches = [early] + [records[i : i + 97] for i in range(0, len(records), 97)]
    # A crash before the commit: a stretch delivered again, cut into other batches (other tokens).
    batches += [records[i : i + 41] for i in range(200, 420, 41)]
    crashes = 0
    for n, batch in enumerate(batches):
        if n in (3, 5):
            ch.armed = True
            with pytest.raises(ConnectionError):
                await ingest.handle(batch)
        if n == 5:
            # Died after the ledger insert, before the facts and the commit: after the restart the same records
            # come cut otherwise (other tokens), half of them with records the crashed batch did not hold.
            crashes += 1
            cut = len(batch) // 3
            assert await ingest.handle(batch[:cut]) == []
            assert await ingest.handle(batch[cut:] + batches[n + 1][:20]) == []
            continue
        assert await ingest.handle(batch) == []
    assert not ch.armed and crashes == 1  # the failures did happen
    return ch


FILTERS = [
    {},
    {"region": "330100"},
    {"platform": "P002", "category": "refund"},
    {"region": "310000", "category": "quality"},
]
PERIODS = [
    (datetime(2026, 11, 1, tzinfo=UTC) - CN, datetime(2026, 11, 30, tzinfo=UTC) - CN),  # whole days
    (datetime(2026, 11, 3, 7, 13, 5, 250_000, tzinfo=UTC), datetime(2026, 11, 17, 19, 2, tzinfo=UTC)),  # part-days at both ends
    (datetime(2026, 11, 5, 1, tzinfo=UTC), datetime(2026, 11, 5, 9, tzinfo=UTC)),  # inside one day
]


@pytest.mark.parametrize("interval", ["day", "week", "month"])
async def test_governance_from_aggregates_equals_governance_from_raw_facts(filled: ClickHouse, interval: cockpits.Interval) -> None:
    for start, end in PERIODS:
        for chosen in FILTERS:
            filters = Filters(start, end, **chosen)
            fast = await cockpits.governance(filled, filters, interval)
            raw = await cockpits.governance(filled, filters, interval, source="raw")
            assert fast == raw, (start, end, chosen)
    whole = await cockpits.governance(filled, Filters(*PERIODS[0]), interval)
    assert whole["complaints"]["total"] == 300  # every complaint once, redelivered or not
    assert whole["first_handling"]["assigned"] > 0 and len(whole["complaints"]["by_state"]) >= 3


async def test_platform_detail_from_aggregates_equals_detail_from_raw_facts(filled: ClickHouse) -> None:
    for start, end in PERIODS:
        for platform in ("P001", "P002", "P003"):
            for chosen in ({}, {"region": "330110"}, {"category": "delivery"}):
                filters = Filters(start, end, **chosen)
                fast = await cockpits.platform_detail(filled, platform, filters, "week")
                raw = await cockpits.platform_detail(filled, platform, filters, "week", source="raw")
                assert fast == raw, (start, end, platform, chosen)


async def test_the_aggregate_rows_sum_to_the_raw_contributions(filled: ClickHouse) -> None:
    key = "platform_id, day, category, region, kind, state"
    figures = "sum(complaints), sum(assigned), sum(answered), sum(settled), sum(within_deadline), sum(deadline_missed)"
    from services.analytics.aggregates import raw_daily_sql

    stored = await filled.query(f"SELECT {key}, {figures} FROM complaint_daily GROUP BY {key} HAVING sum(complaints) != 0 ORDER BY {key}")
    raw = await filled.query(f"SELECT {key}, {figures} FROM ({raw_daily_sql('1')}) GROUP BY {key} ORDER BY {key}")
    assert stored == raw and len(raw) > 50


# ---- the pure part: the change a batch makes ----------------------------------------------------------------------

AT = datetime(2026, 11, 3, 20, 0, tzinfo=UTC)  # 04:00 on 11-04 in China
C = Complaint("c1", "P001", AT, "complaint", "quality", "330106", "S-1", "S-1 店")
SIGN, KEY, FLAGS = 2, slice(3, 9), slice(9, 14)
STORE_FIRST = 16


def step(event_id: str, kind: str, state: str, hours: int, due: date | None = None, outcome: str = "") -> Step:
    return Step(event_id, kind, state, AT + timedelta(hours=hours), "first_handling" if due else "", due, outcome)


def moved(rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """What the rows add to complaint_daily: (sign, state, flags) of each row that counts."""
    return [(row[SIGN], row[KEY][5], *row[FLAGS]) for row in rows if row[SIGN] != 0]


def stored(complaint: Complaint | None, *steps: Step) -> dict[str, tuple[int, Summary]]:
    return {"c1": (1, Summary().fold(complaint, steps))}


def test_a_new_complaint_adds_one_received_row_on_its_china_day_and_counts_once_for_its_store() -> None:
    (row,) = changes({}, [C], {})
    assert row[SIGN] == 1 and row[KEY] == ("P001", date(2026, 11, 4), "quality", "330106", "complaint", "received")
    assert row[FLAGS] == (0, 0, 0, 0, 0) and row[STORE_FIRST] == 1 and row[1] == 1


def test_a_first_seen_complaint_takes_the_shortcut_to_exactly_the_general_rule_at_any_hour() -> None:
    # New complaints skip the fold; the row must be the one the general rule writes, across China's midnight.
    for hours in range(0, 48, 5):
        c = Complaint(f"c{hours}", "P002", AT + timedelta(hours=hours), "report", "refund", "330110", "S-9", "九号店")
        (shortcut,) = changes({}, [c], {})
        (general,) = changes({c.complaint_id: (0, Summary())}, [c], {})
        assert shortcut == general
        assert Summary().fold(c, ()).contribution() == contribution(c, ())


def test_a_complaint_already_in_the_ledger_changes_nothing_when_delivered_again() -> None:
    assert changes(stored(C), [C], {}) == []


def test_a_state_change_moves_the_complaint_from_one_state_row_to_the_other() -> None:
    assigned = step("e1", "assigned", "assigned_to_platform", 1, due=date(2026, 11, 5))
    answered = step("e2", "platform_responded", "platform_settled", 30, outcome="settled")
    rows = changes(stored(C, assigned), [], {"c1": [answered]})
    assert moved(rows) == [(-1, "assigned_to_platform", 1, 0, 0, 0, 0), (1, "platform_settled", 1, 1, 1, 1, 0)]
    assert {row[1] for row in rows} == {2} and not any(row[STORE_FIRST] for row in rows)
    # The same step again, already in the ledger: no change.
    assert changes(stored(C, assigned, answered), [], {"c1": [answered]}) == []


def test_steps_of_a_complaint_not_yet_known_are_remembered_but_count_nowhere_until_it_comes() -> None:
    assigned = step("e1", "assigned", "assigned_to_platform", 1, due=date(2026, 11, 5))
    (remembered,) = changes({}, [], {"c1": [assigned]})
    assert remembered[SIGN] == 0 and moved([remembered]) == []
    assert moved(changes(stored(None, assigned), [C], {})) == [(1, "assigned_to_platform", 1, 0, 0, 0, 0)]


def test_an_answer_after_the_due_day_is_not_within_the_deadline() -> None:
    assigned = step("e1", "assigned", "assigned_to_platform", 1, due=date(2026, 11, 4))
    late = step("e2", "platform_responded", "platform_not_settled", 24, outcome="not_settled")  # 11-05 in China
    assert moved(changes({}, [C], {"c1": [assigned, late]})) == [(1, "platform_not_settled", 1, 1, 0, 0, 0)]


STEPS = [
    step("e1", "assigned", "assigned_to_platform", 1, due=date(2026, 11, 6)),
    step("e2", "assigned", "assigned_to_platform", 1, due=date(2026, 11, 4)),  # same time: the event id decides
    step("e3", "platform_responded", "platform_not_settled", 26, outcome="not_settled"),
    step("e4", "platform_responded", "platform_settled", 50, outcome="settled"),
    step("e5", "deadline_missed", "overdue", 70, due=date(2026, 11, 4)),
    step("e6", "closed", "closed", 70),
]


@given(st.lists(st.sampled_from(STEPS), max_size=12), st.integers(min_value=0, max_value=12))
def test_folding_steps_in_any_order_any_number_of_times_and_in_any_batches_gives_the_rule(delivered: list[Step], cut: int) -> None:
    # The ledger's summary must reach the contribution the plain rule gives over the distinct steps, however the
    # stream delivers them: reordered, repeated, split across batches.
    summary = Summary().fold(C, delivered[:cut]).fold(None, delivered[cut:]).fold(C, delivered[: cut // 2])
    assert summary.contribution() == contribution(C, {s.event_id: s for s in delivered}.values())


async def test_the_migration_backfills_from_the_facts_the_summaries_the_ingest_keeps(filled: ClickHouse) -> None:
    # A deployment upgraded to the ledger (0008) starts from summaries made in SQL from the facts it already
    # holds; they must be the ones the ingest would have kept, or the first change after the upgrade moves wrong.
    (backfill,) = [
        s for s in statements(dict((n, sql) for n, _, sql in migration_files())[8]) if s.startswith("INSERT INTO complaint_ledger")
    ]
    await filled.query("CREATE TABLE ledger_backfill AS complaint_ledger")
    await filled.query(backfill.replace("INSERT INTO complaint_ledger", "INSERT INTO ledger_backfill", 1))
    columns = ", ".join(c for c in SUMMARY_COLUMNS if c != "version")
    newest = "WHERE sign >= 0 ORDER BY complaint_id, version DESC LIMIT 1 BY complaint_id"
    kept = await filled.query(f"SELECT {columns} FROM complaint_ledger {newest}")
    made = await filled.query(f"SELECT {columns} FROM ledger_backfill {newest}")
    assert made == kept and len(kept) == 300


async def test_a_step_with_microseconds_delivered_again_after_its_round_trip_through_the_ledger_changes_nothing(
    chdb_url: str, prefix: str
) -> None:
    # ClickHouse keeps milliseconds; the stream carries microseconds. The summary read back must still recognise
    # the step, or every redelivery would write a new ledger version (and could reorder steps in one millisecond).
    ch = ClickHouse(connect(chdb_url, prefix.strip(".") + "_micro"))
    migrate(ch.client)
    ingest = Ingest(ch, FixedClock(datetime(2026, 11, 28, tzinfo=UTC)))
    at = datetime(2026, 11, 3, 7, 13, 5, 123_456, tzinfo=UTC)
    first = complaint_event(1, "P001", "S-1", "quality", at, "330106", "complaint")
    answer = step_event("platform_responded", "agg-00001", "P001", at + timedelta(microseconds=999),
                        outcome="settled", state="platform_settled", reason=None)
    records = deliveries([first, answer])
    assert await ingest.handle(records) == []
    assert await ingest.handle(records[1:]) == []
    assert await ch.query("SELECT count(), max(version) FROM complaint_ledger") == [(1, 1)]
    ch.client.close()


async def test_each_written_batch_is_counted_by_its_number_of_events(chdb_url: str, prefix: str) -> None:
    ch = ClickHouse(connect(chdb_url, prefix.strip(".") + "_batches"))
    migrate(ch.client)
    ingest = Ingest(ch, FixedClock(datetime(2026, 11, 28, tzinfo=UTC)))
    at = datetime(2026, 11, 3, 7, 13, tzinfo=UTC)
    records = deliveries([complaint_event(n, "P001", "S-1", "quality", at, "330106", "complaint") for n in range(7)])
    count, total = REGISTRY.get_sample_value("redshield_analytics_batch_events_count"), REGISTRY.get_sample_value(
        "redshield_analytics_batch_events_sum"
    )
    assert await ingest.handle(records) == []
    assert REGISTRY.get_sample_value("redshield_analytics_batch_events_count") == (count or 0) + 1
    assert REGISTRY.get_sample_value("redshield_analytics_batch_events_sum") == (total or 0) + 7
    ch.client.close()


@given(
    st.lists(st.tuples(st.integers(min_value=0, max_value=5), st.booleans(), st.lists(st.sampled_from(STEPS), max_size=3)), max_size=8),
    st.sets(st.integers(min_value=0, max_value=5)),
)
def test_rows_made_before_the_lookup_and_completed_after_it_are_the_rows_of_the_rule(
    batch: list[tuple[int, bool, list[Step]]], known: set[int]
) -> None:
    # The ingest folds a batch as if nothing were stored while the previous batch is written, then folds again only
    # the complaints its lookup finds: that must be the rule's rows, whichever complaints are stored and however the
    # batch mixes first sightings, repeats and steps.
    complaints = [C._replace(complaint_id=f"c{n}") for n, with_complaint, _ in batch if with_complaint]
    steps: dict[str, list[Step]] = {}
    for n, _, delivered in batch:
        steps.setdefault(f"c{n}", []).extend(delivered)
    steps = {complaint_id: found for complaint_id, found in steps.items() if found}
    summaries = {f"c{n}": (n + 1, Summary().fold(C._replace(complaint_id=f"c{n}") if n % 2 else None, STEPS[: n % 3])) for n in known}
    provisional = changes({}, complaints, steps)
    assert sorted(changes_over(provisional, summaries, complaints, steps), key=repr) == sorted(changes(summaries, complaints, steps), key=repr)
