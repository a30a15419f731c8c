"""The aggregate tables answer exactly what the raw facts answer: through redelivery in other batches, retries
with the same token, state changes of the same complaint, steps that arrive before their complaint, and periods
that start or end in the middle of a day. Real chDB, the real ingest; the raw facts are the reference."""

from __future__ import annotations

import json
import random
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from contracts.envelope import Envelope
from services.analytics import cockpits
from services.analytics.aggregates import Complaint, Step, contribution, deltas
from services.analytics.clickhouse import ClickHouse, connect, migrate
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
            complaint_event(n, platform, rng.choice(["S-1", "S-2", "S-3", "S-4"]), rng.choice(["quality", "delivery", "refund"]), at,
                            rng.choice(["330106", "330110", "310101"]), rng.choice(["complaint", "complaint", "report"]))
        )
        cid = f"agg-{n:05d}"
        story = rng.random()
        if story < 0.6:
            due = (at + CN).date() + timedelta(days=rng.choice([1, 5]))
            events.append(step_event("assigned", cid, platform, at + timedelta(hours=1),
                                     deadline={"due": due.isoformat(), "kind": "first_handling", "provisional": False}))
            if story < 0.4:
                settled = rng.random() < 0.5
                events.append(step_event("platform_responded", cid, platform, at + timedelta(days=rng.choice([0, 3])),
                                         outcome="settled" if settled else "not_settled",
                                         state="platform_settled" if settled else "platform_not_settled", reason=None))
            elif story < 0.5:
                events.append(step_event("deadline_missed", cid, platform, at + timedelta(days=6),
                                         deadline={"due": due.isoformat(), "kind": "first_handling", "provisional": False}))
    return events


def deliveries(events: list[Envelope]) -> list[Delivery]:
    return [
        Delivery(record=SimpleNamespace(partition=0, offset=n), envelope=e, topic="channel.complaints.v1")  # type: ignore[arg-type]
        for n, e in enumerate(events)
    ]


class FailsAfterInsertOnce(ClickHouse):
    """The aggregate insert lands, then the call fails once: the batch is retried with the same tokens."""

    armed = False

    async def insert(self, table: str, rows: Any, columns: Any, token: str) -> None:
        await super().insert(table, rows, columns, token)
        if table == "complaint_daily" and self.armed:
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
    for n, batch in enumerate(batches):
        if n == 3:
            ch.armed = True
            with pytest.raises(ConnectionError):
                await ingest.handle(batch)
        assert await ingest.handle(batch) == []
    assert not ch.armed  # the failure did happen
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


# ---- the pure part: the difference a batch makes ---------------------------------------------------------------------

AT = datetime(2026, 11, 3, 20, 0, tzinfo=UTC)  # 04:00 on 11-04 in China
C = Complaint("c1", "P001", AT, "complaint", "quality", "330106", "S-1", "S-1 店")


def step(event_id: str, kind: str, state: str, hours: int, due: date | None = None, outcome: str = "") -> Step:
    return Step(event_id, kind, state, AT + timedelta(hours=hours), "first_handling" if due else "", due, outcome)


def test_a_new_complaint_adds_one_received_row_on_its_china_day_and_one_store_row() -> None:
    moved = deltas({}, {}, [C], {})
    assert moved.daily == [("P001", date(2026, 11, 4), "quality", "330106", "complaint", "received", 1, 0, 0, 0, 0, 0)]
    assert moved.store_daily == [("P001", date(2026, 11, 4), "S-1", "quality", "330106", "S-1 店", 1)]


def test_a_first_seen_complaint_without_steps_adds_exactly_its_contribution_at_any_hour() -> None:
    # New complaints take a shortcut that skips the steps; it must agree with the rule itself, across China's midnight.
    for hours in range(0, 48, 5):
        c = Complaint(f"c{hours}", "P002", AT + timedelta(hours=hours), "report", "refund", "330110", "S-9", "九号店")
        moved = deltas({}, {}, [c], {})
        assert moved.daily == [contribution(c, ())]
        assert moved.store_daily == [("P002", moved.daily[0][1], "S-9", "refund", "330110", "九号店", 1)]


def test_a_complaint_already_stored_adds_nothing_when_delivered_again() -> None:
    assert deltas({"c1": C}, {}, [C], {}).daily == []


def test_a_state_change_moves_the_complaint_from_one_state_row_to_the_other() -> None:
    assigned = step("e1", "assigned", "assigned_to_platform", 1, due=date(2026, 11, 5))
    answered = step("e2", "platform_responded", "platform_settled", 30, outcome="settled")
    moved = deltas({"c1": C}, {"c1": [assigned]}, [], {"c1": [answered]})
    assert [row[5:] for row in moved.daily] == [
        ("assigned_to_platform", -1, -1, 0, 0, 0, 0),
        ("platform_settled", 1, 1, 1, 1, 1, 0),
    ]
    assert moved.store_daily == []
    # The same step again, already stored: no difference.
    assert deltas({"c1": C}, {"c1": [assigned, answered]}, [], {"c1": [answered]}).daily == []


def test_steps_of_a_complaint_not_yet_stored_count_nowhere_until_it_comes() -> None:
    assigned = step("e1", "assigned", "assigned_to_platform", 1, due=date(2026, 11, 5))
    assert deltas({}, {}, [], {"c1": [assigned]}).daily == []
    arrived = deltas({}, {"c1": [assigned]}, [C], {})
    assert [row[5:] for row in arrived.daily] == [("assigned_to_platform", 1, 1, 0, 0, 0, 0)]


def test_an_answer_after_the_due_day_is_not_within_the_deadline() -> None:
    assigned = step("e1", "assigned", "assigned_to_platform", 1, due=date(2026, 11, 4))
    late = step("e2", "platform_responded", "platform_not_settled", 24, outcome="not_settled")  # 11-05 in China
    (row,) = deltas({}, {}, [C], {"c1": [assigned, late]}).daily
    assert row[5:] == ("platform_not_settled", 1, 1, 1, 0, 0, 0)
