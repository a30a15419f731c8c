"""analytics against the real broker and chDB: poison events go to the DLQ while ingestion goes on; a failed
insert retried with the same token never double-counts; cockpit filters are checked and scoped."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest

from contracts import topics
from contracts.envelope import Envelope, header_map
from services.analytics.clickhouse import ClickHouse, connect, migrate
from services.analytics.ingest import batch_token
from services.analytics.processors import COLUMNS, Position, process
from tests.faults.test_process_kills import received
from tests.harness import Running, eventually, produce_events, read_topic, running


@pytest.fixture
async def analytics(kafka_bootstrap: str, prefix: str, chdb_url: str) -> AsyncIterator[Running]:
    async with running(
        "analytics", kafka=kafka_bootstrap, prefix=prefix, clickhouse_url=chdb_url, clickhouse_database=prefix.strip(".")
    ) as svc:
        yield svc


async def total(analytics: Running, **params: str) -> int:
    answer = await analytics.http.get(
        "/v1/cockpits/governance", params={"from": "2026-01-01", "to": "2026-12-31", **params}, headers=analytics.auth("regulator")
    )
    assert answer.status_code == 200, answer.text
    return int(answer.json()["complaints"]["total"])


async def test_a_poison_event_goes_to_the_dlq_and_ingestion_goes_on(analytics: Running, kafka_bootstrap: str, prefix: str) -> None:
    poison = Envelope(type="redshield.channel.complaint.received.v1", source="/redshield/channel", subject="p", data={"complaint_id": 1})
    unknown = Envelope(type="redshield.channel.complaint.teleported.v1", source="/redshield/channel", subject="u", data={"x": 1})
    await produce_events(kafka_bootstrap, prefix + topics.CHANNEL_COMPLAINTS, [received(1), poison, unknown, received(2)])

    async def both_counted() -> bool:
        return await total(analytics) == 2

    await eventually(both_counted, timeout=60)
    (dead,) = await read_topic(kafka_bootstrap, prefix + topics.dlq("analytics"), 1)
    assert header_map(dead.headers)["x-dlq-reason"] == b"unprocessable"
    raw = await analytics.app.state.clickhouse.query("SELECT count() FROM events FINAL WHERE known = 0")
    assert raw == [(1,)]


@pytest.mark.parametrize(
    ("params", "name"),
    [
        ({"from": "yesterday"}, "from"),
        ({"to": "2026-02-30"}, "to"),
        ({"region": "33"}, "region"),
        ({"platform": "no such/platform"}, "platform"),
        ({"category": "weather"}, "category"),
        ({"from": "2026-05-01", "to": "2026-04-01"}, "to"),
        ({"from": "2026-05-01T00:00:00"}, "from"),
    ],
)
async def test_a_bad_cockpit_filter_is_a_422_naming_it(analytics: Running, params: dict[str, str], name: str) -> None:
    answer = await analytics.http.get("/v1/cockpits/governance", params=params, headers=analytics.auth("regulator"))
    assert answer.status_code == 422
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert answer.json()["errors"][0]["field"] == name


async def test_a_platform_token_does_not_open_the_governance_cockpit(analytics: Running) -> None:
    answer = await analytics.http.get("/v1/cockpits/governance", headers=analytics.auth("platform", platform="P001"))
    assert answer.status_code == 403


async def test_a_bureau_sees_only_its_region(analytics: Running, kafka_bootstrap: str, prefix: str) -> None:
    in_hangzhou = received(10)  # golden region 330106
    elsewhere = received(11)
    elsewhere = Envelope(
        type=elsewhere.type, source=elsewhere.source, subject=elsewhere.subject, data=elsewhere.data | {"region": "310101"}
    )
    await produce_events(kafka_bootstrap, prefix + topics.CHANNEL_COMPLAINTS, [in_hangzhou, elsewhere])

    async def both_in() -> bool:
        return await total(analytics) == 2

    await eventually(both_in, timeout=60)
    answer = await analytics.http.get(
        "/v1/cockpits/governance",
        params={"from": "2026-01-01", "to": "2026-12-31", "region": "310101"},
        headers=analytics.auth("bureau", region="330100"),
    )
    assert answer.json()["complaints"]["total"] == 1
    assert answer.json()["filters"]["region"] == "330100"
    assert await total(analytics, region="310000") == 1


@pytest.mark.parametrize(("asked", "seen"), [("330111", "330110"), ("330100", "330110"), ("330110", "330110"), (None, "330110")])
async def test_a_district_bureau_cannot_widen_its_view_to_a_neighbouring_district(analytics: Running, asked: str | None,
                                                                                   seen: str) -> None:
    params = {"from": "2026-01-01", "to": "2026-12-31"} | ({"region": asked} if asked else {})
    for cockpit in ("governance", "overview"):
        answer = await analytics.http.get(f"/v1/cockpits/{cockpit}", params=params, headers=analytics.auth("bureau", region="330110"))
        assert answer.status_code == 200, answer.text
        assert answer.json()["filters"]["region"] == seen


class FailsAfterInsertOnce(ClickHouse):
    """Inserts for real, then reports a failure once: the caller cannot know the rows landed."""

    failed = False

    async def insert(self, table: str, rows: Any, columns: Any, token: str) -> None:
        await super().insert(table, rows, columns, token)
        if not self.failed:
            self.failed = True
            raise ConnectionError("connection reset after the insert was sent")


async def test_an_insert_that_fails_is_retried_with_the_same_token_and_counted_once(chdb_url: str, prefix: str) -> None:
    database = prefix.strip(".") + "_retry"
    ch = FailsAfterInsertOnce(connect(chdb_url, database))
    migrate(ch.client)
    ingested = datetime(2026, 11, 28, tzinfo=UTC)
    positions = [Position("channel.complaints.v1", 0, n) for n in range(50)]
    rows = [process(received(n), positions[n], ingested).by_table["complaints"][0] for n in range(50)]
    token = batch_token("complaints", positions)
    with pytest.raises(ConnectionError):
        await ch.insert("complaints", rows, COLUMNS["complaints"], token)
    await ch.insert("complaints", rows, COLUMNS["complaints"], token)  # the consumer's retry
    # Plain count(), no FINAL: the token alone kept the retry out.
    assert await ch.query("SELECT count() FROM complaints") == [(50,)]
    ch.client.close()
