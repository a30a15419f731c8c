"""channel's domain metrics move with real filings, answers and missed deadlines (HTTP, the feeds on the real
broker, the scheduler on a clock the test moves; SQLite and PostgreSQL). The registry is the process's: the tests
read deltas."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta

import pytest
from prometheus_client import REGISTRY

from contracts import topics
from services.channel.scheduler import DeadlineScheduler
from services.runtime.calendar import CHINA_TIME
from services.runtime.clock import FixedClock
from tests.channel.test_batch_and_officer_intake import consumer, officer_filing
from tests.channel.test_feed import feed_record
from tests.flow.test_complaint_to_cockpit import filing
from tests.harness import Running, eventually, produce, running

FILED_AT = datetime(2026, 11, 20, 10, 0, tzinfo=CHINA_TIME)  # Friday; first handling is due Fri 4 Dec


def value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def received(intake: str, kind: str = "complaint") -> float:
    return value("redshield_channel_complaints_received_total", intake=intake, kind=kind)


def duplicates(intake: str) -> float:
    return value("redshield_channel_duplicate_filings_total", intake=intake)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(FILED_AT)


@pytest.fixture
async def channel(kafka_bootstrap: str, prefix: str, database: tuple[str, str | None], clock: FixedClock) -> AsyncIterator[Running]:
    async with running("channel", kafka=kafka_bootstrap, prefix=prefix, database=database, clock=clock,
                       deadline_scan_interval_ms=100) as svc:
        yield svc


async def test_a_filing_is_counted_once_and_its_repeat_as_a_duplicate(channel: Running) -> None:
    headers = channel.auth("platform", platform="P001")
    before = received("platform_api"), duplicates("platform_api")
    for _ in range(2):
        answer = await channel.http.post("/v1/complaints", json=filing("M-1"), headers=headers)
        assert answer.status_code == 202, answer.text
    assert (received("platform_api") - before[0], duplicates("platform_api") - before[1]) == (1, 1)


async def test_a_batch_counts_its_items_by_kind_and_a_refused_filing_not_at_all(channel: Running) -> None:
    complaints, reports, dups = received("platform_api"), received("platform_api", "report"), duplicates("platform_api")
    batch = [filing("B-1", consumer=consumer(1)), filing("B-2", kind="mixed", consumer=consumer(2)), filing("B-1", consumer=consumer(1)),
             filing("B-3", kind="praise")]
    answer = await channel.http.post("/v1/complaints/batch", json={"filings": batch}, headers=channel.auth("platform", platform="P001"))
    assert answer.status_code == 200, answer.text
    assert (answer.json()["created"], answer.json()["duplicates"], answer.json()["rejected"]) == (2, 1, 1)
    # The mixed filing is two items: a complaint and a report.
    assert received("platform_api") - complaints == 2
    assert received("platform_api", "report") - reports == 1
    assert duplicates("platform_api") - dups == 1


async def test_an_officers_filing_counts_under_its_source_channel(channel: Running) -> None:
    headers = channel.auth("bureau", region="330100")
    before = received("hotline"), duplicates("hotline")
    for _ in range(2):
        answer = await channel.http.post("/v1/bureau/intake", json=officer_filing("HZ-9", "hotline"), headers=headers)
        assert answer.status_code == 202, answer.text
    assert (received("hotline") - before[0], duplicates("hotline") - before[1]) == (1, 1)


async def test_a_platform_answer_is_counted_by_outcome_and_a_refused_second_one_is_not(channel: Running) -> None:
    headers = channel.auth("platform", platform="P001")
    complaint_id = (await channel.http.post("/v1/complaints", json=filing("A-1"), headers=headers)).json()["complaint_id"]
    settled, not_settled = (value("redshield_channel_platform_responses_total", outcome=o) for o in ("settled", "not_settled"))
    first = await channel.http.post(f"/v1/complaints/{complaint_id}/answer", json={"outcome": "settled", "refund_amount": "299"}, headers=headers)
    assert first.status_code == 200, first.text
    second = await channel.http.post(f"/v1/complaints/{complaint_id}/answer", json={"outcome": "not_settled"}, headers=headers)
    assert second.status_code == 409
    assert value("redshield_channel_platform_responses_total", outcome="settled") - settled == 1
    assert value("redshield_channel_platform_responses_total", outcome="not_settled") - not_settled == 0


async def test_a_missed_first_handling_deadline_is_counted_once(channel: Running, clock: FixedClock) -> None:
    before = value("redshield_channel_deadlines_missed_total", deadline="first_handling")
    answer = await channel.http.post("/v1/complaints", json=filing("D-1"), headers=channel.auth("platform", platform="P001"))
    assert answer.status_code == 202, answer.text
    clock.advance(timedelta(days=15))  # Sat 5 Dec: the last day (Fri 4 Dec) is over
    await eventually(lambda: _delta_is("redshield_channel_deadlines_missed_total", before, deadline="first_handling"), timeout=30)
    scheduler: DeadlineScheduler = channel.app.state.scheduler
    await scheduler.run_once()  # a second pass finds the notice claimed
    assert value("redshield_channel_deadlines_missed_total", deadline="first_handling") - before == 1


async def test_the_open_items_gauge_counts_this_database_by_state(channel: Running) -> None:
    headers = channel.auth("platform", platform="P001")
    ids = [(await channel.http.post("/v1/complaints", json=filing(f"O-{n}", consumer=consumer(n)), headers=headers)).json()["complaint_id"]
           for n in range(3)]
    answer = await channel.http.post(f"/v1/complaints/{ids[0]}/answer", json={"outcome": "settled", "refund_amount": "10"}, headers=headers)
    assert answer.status_code == 200, answer.text
    scheduler: DeadlineScheduler = channel.app.state.scheduler
    await scheduler.count_open()
    counts = {s: value("redshield_channel_open_complaints", state=s) for s in ("received", "assigned_to_platform", "platform_settled")}
    assert counts == {"received": 0, "assigned_to_platform": 2, "platform_settled": 1}
    assert REGISTRY.get_sample_value("redshield_channel_open_complaints", {"state": "closed"}) is None  # final states are not open


async def test_a_feed_record_replayed_is_received_once(kafka_bootstrap: str, prefix: str, database: tuple[str, str | None]) -> None:
    before = received("platform_feed"), duplicates("platform_feed")
    record = feed_record("P011", "F-1")
    await produce(kafka_bootstrap, prefix + topics.feed_complaints("P011"), [(record.key, record.value(), record.headers())] * 3)
    async with running("channel", kafka=kafka_bootstrap, prefix=prefix, database=database):
        await eventually(lambda: _received_delta_is(before[0]), timeout=60)
    # The redeliveries stop at the inbox: they are neither items nor duplicate filings.
    assert (received("platform_feed") - before[0], duplicates("platform_feed") - before[1]) == (1, 0)


async def _delta_is(name: str, before: float, **labels: str) -> bool:
    return value(name, **labels) - before == 1


async def _received_delta_is(before: float) -> bool:
    return received("platform_feed") - before == 1
