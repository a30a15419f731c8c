"""Lists by role over HTTP, on SQLite and PostgreSQL: each caller sees exactly its scope, every filter narrows
the list as its name says, a bad filter value is a 422 naming it, and cursor pages survive inserts."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest

from services.channel.domain import in_scope, region_scope
from services.runtime.clock import FixedClock
from tests.channel.test_first_handling import FILED_AT
from tests.flow.test_complaint_to_cockpit import filing
from tests.harness import Running, running


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(FILED_AT)


@pytest.fixture
async def channel(kafka_bootstrap: str, prefix: str, database: tuple[str, str | None], clock: FixedClock) -> AsyncIterator[Running]:
    async with running("channel", kafka=kafka_bootstrap, prefix=prefix, database=database, clock=clock) as svc:
        yield svc


_phones = iter(range(13900000000, 13999999999))


async def file(channel: Running, pcid: str, *, platform: str = "P001", region: str = "330106", at: str = "2026-11-20T09:30:00+08:00",
               same_consumer: bool = False, **changes: Any) -> str:
    consumer = {"name": "张三", "phone": "13800000000"} if same_consumer else {"name": "李四", "phone": str(next(_phones))}
    body = filing(pcid, received_at=at, merchant={"store_id": f"S-{pcid}", "store_name": "店", "region": region}, consumer=consumer,
                  **changes)
    answer = await channel.http.post("/v1/complaints", json=body, headers=channel.auth("platform", platform=platform))
    assert answer.status_code == 202, answer.text
    return str(answer.json()["complaint_id"])


async def ids(channel: Running, params: dict[str, Any] | list[tuple[str, Any]] | None = None, **scope: str) -> set[str]:
    role = scope.pop("role", "regulator")
    answer = await channel.http.get("/v1/complaints", params=params or {}, headers=channel.auth(role, **scope))
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["next_cursor"] is None, "the test's lists fit one page"
    return {item["complaint_id"] for item in body["items"]}


def test_a_bureau_oversees_its_region_and_the_regions_below_it_and_no_neighbour() -> None:
    assert region_scope("330000") == "33" and region_scope("330100") == "3301" and region_scope("330106") == "330106"
    assert in_scope("330106", "330100") and in_scope("330106", "330000") and not in_scope("330206", "330100")
    # Yuhang (330110) is a district: its trailing zero is not a level, and Fuyang (330111) is not its item.
    assert in_scope("330110", "330110") and not in_scope("330111", "330110")


async def test_each_role_sees_exactly_its_scope(channel: Running) -> None:
    xihu = await file(channel, "A-1", region="330106")
    yuhang = await file(channel, "A-2", region="330110")
    fuyang = await file(channel, "A-3", region="330111")
    ningbo = await file(channel, "A-4", platform="P002", region="330206")
    assert await ids(channel, role="platform", platform="P001") == {xihu, yuhang, fuyang}
    assert await ids(channel, role="platform", platform="P002") == {ningbo}
    assert await ids(channel, role="bureau", region="330100") == {xihu, yuhang, fuyang}
    assert await ids(channel, role="bureau", region="330110") == {yuhang}
    assert await ids(channel, role="bureau", region="330000") == {xihu, yuhang, fuyang, ningbo}
    assert await ids(channel, role="regulator") == {xihu, yuhang, fuyang, ningbo}
    # A platform naming another platform still sees only its own: nothing.
    assert await ids(channel, {"platform": "P002"}, role="platform", platform="P001") == set()


async def test_filters_narrow_the_list_as_named(channel: Running, clock: FixedClock) -> None:
    early = await file(channel, "F-1", at="2026-11-19T08:00:00+08:00", category="price")
    report = await file(channel, "F-2", kind="report", region="330110")
    other_platform = await file(channel, "F-3", platform="P002", region="330206")
    answered = await file(channel, "F-4")
    moved = await channel.http.post(f"/v1/complaints/{answered}/answer", json={"outcome": "not_settled"},
                                    headers=channel.auth("platform", platform="P001"))
    assert moved.json()["state"] == "awaiting_acceptance"
    everything = {early, report, other_platform, answered}

    assert await ids(channel, [("state", "verification"), ("state", "awaiting_acceptance")]) == {report, answered}
    assert await ids(channel, {"kind": "report"}) == {report}
    assert await ids(channel, {"category": "price"}) == {early}
    assert await ids(channel, {"platform": "P002"}) == {other_platform}
    assert await ids(channel, {"region": "330110"}) == {report}
    assert await ids(channel, {"region": "330100"}) == everything - {other_platform}
    assert await ids(channel, {"received_from": "2026-11-20T00:00:00+08:00"}) == everything - {early}
    assert await ids(channel, {"received_to": "2026-11-20T00:00:00+08:00"}) == {early}
    # First handling runs 10 working days (due Fri 4 Dec), acceptance 7 (due Tue 1 Dec), verification 15 (due 11 Dec).
    assert await ids(channel, {"deadline_kind": "first_handling"}) == {early, other_platform}
    assert await ids(channel, {"deadline_kind": "acceptance", "due_before": "2026-12-01"}) == {answered}
    assert await ids(channel, {"due_after": "2026-12-05"}) == {report}
    assert await ids(channel, {"overdue": "true"}) == set()
    clock.advance(timedelta(days=12))  # Wed 2 Dec: acceptance (1 Dec) has passed, first handling (4 Dec) not yet
    assert await ids(channel, {"overdue": "true"}) == {answered}
    assert await ids(channel, {"overdue": "false"}) == everything - {answered}


async def test_flagged_items_are_listed_for_the_bureau_and_the_filter_is_not_the_platforms(channel: Running) -> None:
    # Five filings by one consumer arriving together: the bulk pattern flags the fifth.
    filed = [await file(channel, f"B-{n}", same_consumer=True) for n in range(5)]
    calm = await file(channel, "B-calm")
    flagged = await ids(channel, {"flagged": "true"}, role="bureau", region="330100")
    assert flagged and flagged <= set(filed)
    assert await ids(channel, {"flagged": "false"}, role="bureau", region="330100") == (set(filed) | {calm}) - flagged
    refused = await channel.http.get("/v1/complaints", params={"flagged": "true"}, headers=channel.auth("platform", platform="P001"))
    assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "query.flagged"


async def test_cursor_pages_stay_stable_while_items_arrive(channel: Running) -> None:
    before = [await file(channel, f"C-{n}", at=f"2026-11-20T0{n}:00:00+08:00") for n in range(7)]
    seen: list[str] = []
    cursor: str | None = None
    arrivals = 0
    while True:
        params: dict[str, Any] = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = (await channel.http.get("/v1/complaints", params=params, headers=channel.auth("regulator"))).json()
        seen += [item["complaint_id"] for item in page["items"]]
        received = [item["received_at"] for item in page["items"]]
        assert received == sorted(received, reverse=True)
        cursor = page["next_cursor"]
        if cursor is None:
            break
        # Newer items, and items the platform received long ago, keep arriving between pages.
        await file(channel, f"N-{arrivals}", at="2026-11-20T09:59:00+08:00")
        await file(channel, f"O-{arrivals}", at="2026-11-18T09:00:00+08:00")
        arrivals += 1
    assert len(seen) == len(set(seen)), "no item is listed twice"
    assert set(before) <= set(seen), "no item that was there is skipped"
    assert seen[:7] == list(reversed(before)), "newest received first"


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"state": "lost"}, "query.state"),
        ({"deadline_kind": "someday"}, "query.deadline_kind"),
        ({"due_before": "2026-13-01"}, "query.due_before"),
        ({"due_before": "2026-12-01", "due_after": "2026-12-05"}, "query.due_after"),
        ({"overdue": "perhaps"}, "query.overdue"),
        ({"category": "weather"}, "query.category"),
        ({"kind": "praise"}, "query.kind"),
        ({"platform": "P 1"}, "query.platform"),
        ({"region": "3301"}, "query.region"),
        ({"received_from": "2026-11-20T00:00:00"}, "query.received_from"),
        ({"received_from": "2026-11-21T00:00:00+08:00", "received_to": "2026-11-20T00:00:00+08:00"}, "query.received_from"),
        ({"flagged": "maybe"}, "query.flagged"),
        ({"limit": 501}, "query.limit"),
        ({"limit": 0}, "query.limit"),
        ({"cursor": "bm90LWEtY3Vyc29y"}, "query.cursor"),
    ],
)
async def test_a_bad_filter_value_is_a_422_naming_the_filter(channel: Running, params: dict[str, Any], field: str) -> None:
    answer = await channel.http.get("/v1/complaints", params=params, headers=channel.auth("bureau", region="330100"))
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert any(e["field"].startswith(field) for e in answer.json()["errors"]), answer.json()
