"""The three cockpits over real ingested events: bridge's registry and stores, channel's complaints and their
handling. Counts, rates, first-handling shares and scope are checked against what was published."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from contracts import topics
from contracts.envelope import Envelope
from tests.faults.test_process_kills import received
from tests.harness import Running, eventually, produce_events, running

GOLDEN = Path(__file__).resolve().parents[2] / "contracts" / "golden"


def golden(event_type: str, **changes: Any) -> Envelope:
    data = json.loads((GOLDEN / event_type / "1.json").read_text(encoding="utf-8")) | changes
    subject = str(data.get("complaint_id") or data.get("store_id") or data.get("website_id") or data.get("subject_id")
                  or data.get("platform_id"))
    return Envelope(type=event_type, source="/redshield/test", subject=subject, data=data)


def website(version: int, **changes: Any) -> Envelope:
    """Golden website W-330106-0001 (食品, Xihu, active) as version 1 registered, or a later version updated."""
    if version == 1:
        return golden("redshield.bridge.website.registered.v1", **changes)
    return golden("redshield.bridge.website.updated.v1", **({"status": "active"} | changes | {"version": version}))


def new_form_subject(version: int, **changes: Any) -> Envelope:
    """Golden subject P001/LIVE-20931 (a live streamer in Xihu, 食品) as version 1 registered, or a later version updated."""
    if version == 1:
        return golden("redshield.bridge.new_form_subject.registered.v1", **changes)
    return golden("redshield.bridge.new_form_subject.updated.v1", **(changes | {"version": version}))


#: Enterprise websites: three current (one suspended — still supervised — one moved from Qiantang to Yuhang, one
#: in Shanghai), one closed. The moved website's version 1 comes again after its version 2, as a redelivery would.
WEBSITES = [
    website(1),
    website(2, status="suspended", changed=["status"]),
    website(1, website_id="W-2", region="330114", category="生鲜"),
    website(2, website_id="W-2", region="330110", category="生鲜", changed=["region"]),
    website(1, website_id="W-2", region="330114", category="生鲜"),
    website(1, website_id="W-3", region="330110", category="服装"),
    website(2, website_id="W-3", region="330110", category="服装", status="closed", changed=["status"]),
    website(1, website_id="W-4", region="310101", category="服装"),
]
#: New-business-form subjects: P001's live streamer (renamed in version 2) and group-buying leader, P002's micro-store
#: that became a live streamer in version 2 (its version 1 redelivered after), and P002's other subject in Shanghai.
NEW_FORM_SUBJECTS = [
    new_form_subject(1),
    new_form_subject(2, handle="茶语小西官方", changed=["handle"]),
    new_form_subject(1, subject_id="GB-7781", form="group_buying_leader", region="330110", category="生鲜"),
    new_form_subject(1, platform_id="P002", subject_id="MS-1", form="micro_store", region="330110"),
    new_form_subject(2, platform_id="P002", subject_id="MS-1", form="live_streamer", region="330110", changed=["form"]),
    new_form_subject(1, platform_id="P002", subject_id="MS-1", form="micro_store", region="330110"),
    new_form_subject(1, platform_id="P002", subject_id="OT-1", form="other", region="310101", category="服装"),
]


def report(name: str, **changes: Any) -> Envelope:
    """Golden report 1 (revision 1 of P001's 2026-10) or 2 (its correction, which drops the 服装 line)."""
    data = json.loads((GOLDEN / "redshield.bridge.report.submitted.v1" / name).read_text(encoding="utf-8")) | changes
    return Envelope(type="redshield.bridge.report.submitted.v1", source="/redshield/test", subject=f"{data['platform_id']}/{data['month']}",
                    data=data)


def complaint(n: int, platform: str, store: str, category: str, day: int) -> Envelope:
    base = received(n)
    data = base.data | {
        "platform_id": platform,
        "category": category,
        "merchant": base.data["merchant"] | {"store_id": store},
        "received_at": (datetime(2026, 11, day, 2, 0, tzinfo=UTC)).isoformat(),
    }
    return Envelope(type=base.type, source=base.source, subject=base.subject, data=data)


def handling(kind: str, complaint_id: str, platform: str, at: datetime, **changes: Any) -> Envelope:
    return golden(f"redshield.channel.complaint.{kind}.v1", complaint_id=complaint_id, platform_id=platform, at=at.isoformat(), **changes)


@pytest.fixture
async def world(kafka_bootstrap: str, prefix: str, chdb_url: str, tmp_path: Path) -> AsyncIterator[Running]:
    subjects = [
        golden("redshield.bridge.platform.registered.v1"),  # P001, b2c, domicile 330106, connected
        golden("redshield.bridge.platform.registered.v1", platform_id="P002", name="运河集市", type="live_stream", domicile_region="330110",
               connected_to_canal=False),
        golden("redshield.bridge.store.registered.v1", store_id="S-1"),
        golden("redshield.bridge.store.registered.v1", store_id="S-2", category="服装", region="330110"),
        golden("redshield.bridge.store.registered.v1", store_id="S-3"),
        golden("redshield.bridge.store.closed.v1", store_id="S-3"),
        golden("redshield.bridge.store.registered.v1", platform_id="P002", store_id="S-9", region="330110"),
        # Exchanges: the submission behind the stores, a batch of store records, one delivery of requested data; notices
        # around them are not.
        golden("redshield.bridge.submission.applied.v1"),
        golden("redshield.bridge.store_batch.applied.v1"),
        golden("redshield.bridge.submission.missed.v1"),
        golden("redshield.bridge.datarequest.issued.v1"),
        golden("redshield.bridge.datarequest.delivered.v1"),
        golden("redshield.bridge.datarequest.overdue.v1"),
        *WEBSITES,
        *NEW_FORM_SUBJECTS,
    ]
    reports = [
        report("1.json"),  # P001 2026-10 rev 1: 食品 18250340.50 + 服装 9120000.00 + 食品 351200.00 (Dongguan)
        report("2.json"),  # rev 2 of the same month: 食品 18250340.50 only
        report("1.json", month="2026-11", report_id="r-p001-11", sales=[
            {"category": "食品", "region": "330106", "gmv_cny": "20000000.01", "orders": 5},
        ]),
        report("1.json", platform_id="P002", month="2026-11", report_id="r-p002-11", sales=[
            {"category": "服装", "region": "330110", "gmv_cny": "0.10", "orders": 1},
            {"category": "食品", "region": "330110", "gmv_cny": "0.20", "orders": 2},
        ]),
    ]
    complaints = [
        complaint(1, "P001", "S-1", "quality", 20),
        complaint(2, "P001", "S-1", "quality", 21),
        complaint(3, "P001", "S-2", "delivery", 21),
        complaint(4, "P002", "S-9", "refund", 22),
    ]
    ids = [c.data["complaint_id"] for c in complaints]
    day20 = datetime(2026, 11, 20, 3, 0, tzinfo=UTC)
    steps = [
        handling("assigned", ids[0], "P001", day20),  # due 2026-12-04
        handling("platform_responded", ids[0], "P001", day20 + timedelta(days=2), outcome="settled", state="platform_settled", reason=None),
        handling("assigned", ids[1], "P001", day20 + timedelta(days=1)),
        handling("platform_responded", ids[1], "P001", datetime(2026, 12, 10, 3, 0, tzinfo=UTC), outcome="not_settled",
                 state="platform_not_settled", reason=None),
    ]
    async with running(
        "analytics", kafka=kafka_bootstrap, prefix=prefix, database=(f"sqlite+aiosqlite:///{tmp_path}/a.db", None),
        clickhouse_url=chdb_url, clickhouse_database=prefix.strip(".") + "_cockpits", risk_interval_s=0,
    ) as analytics:
        await produce_events(kafka_bootstrap, prefix + topics.BRIDGE_SUBJECTS, subjects)
        await produce_events(kafka_bootstrap, prefix + topics.BRIDGE_REPORTS, reports)
        await produce_events(kafka_bootstrap, prefix + topics.CHANNEL_COMPLAINTS, complaints + steps)

        async def everything_in() -> bool:
            rows = await analytics.app.state.clickhouse.query("SELECT count() FROM events")
            return bool(rows[0][0] >= len(subjects) + len(reports) + len(complaints) + len(steps))

        await eventually(everything_in, timeout=60)
        yield analytics


async def get(analytics: Running, path: str, role: str = "regulator", **params: str) -> dict[str, Any]:
    scope = {"platform": params.pop("as_platform")} if "as_platform" in params else {}
    answer = await analytics.http.get(path, params=params, headers=analytics.auth(role, **scope))
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


async def test_the_overview_counts_platforms_open_stores_and_exchanges(world: Running) -> None:
    body = await get(world, "/v1/cockpits/overview")
    assert body["platforms"]["total"] == 2 and body["platforms"]["connected_to_canal"] == 1
    assert {p["type"]: p["count"] for p in body["platforms"]["by_type"]} == {"b2c": 1, "live_stream": 1}
    assert body["stores"]["total"] == 3  # S-3 closed
    assert {p["platform_id"]: p["count"] for p in body["stores"]["by_platform"]} == {"P001": 2, "P002": 1}
    assert body["data_exchanges"]["total"] == 7  # one submission, one store batch, four reports (revisions count), one delivery
    assert body["freshness"]["newest_event_time"]
    in_yuhang = await get(world, "/v1/cockpits/overview", region="330110")
    assert in_yuhang["platforms"]["total"] == 1 and in_yuhang["stores"]["total"] == 2


async def test_governance_shows_states_and_first_handling_shares(world: Running) -> None:
    body = await get(world, "/v1/cockpits/governance", **{"from": "2026-11-01", "to": "2026-11-30"})
    assert body["complaints"]["total"] == 4
    assert {s["state"]: s["count"] for s in body["complaints"]["by_state"]} == {
        "received": 2, "platform_settled": 1, "platform_not_settled": 1,
    }
    first = body["first_handling"]
    assert (first["assigned"], first["answered"], first["settled"], first["within_deadline"]) == (2, 2, 1, 1)
    assert first["share_handled_first"] == 0.5 and first["share_within_deadline"] == 0.5
    assert body["cases"]["note"]
    monthly = await get(world, "/v1/cockpits/governance", **{"from": "2026-11-01", "to": "2026-11-30", "interval": "month"})
    assert monthly["complaints"]["trend"] == [{"month": "2026-11-01", "count": 4}]


async def test_the_platform_detail_has_profile_trends_and_rates(world: Running) -> None:
    body = await get(world, "/v1/cockpits/platforms/P001", **{"from": "2026-11-01", "to": "2026-11-30"})
    assert body["profile"]["name"] == "西湖优选电商平台" and body["profile"]["type"] == "b2c"
    assert body["stores"]["total"] == 2
    complaints = body["complaints"]
    assert complaints["total"] == 3
    assert complaints["per_10k_stores"] == 15000.0
    assert body["gmv"]["total_cny"] == "20000000.01" and body["gmv"]["months"] == {"from": "2026-11", "to": "2026-11"}
    assert complaints["per_100m_cny_gmv"] == round(3 * 100_000_000 / 20_000_000.01, 4)
    assert complaints["top_merchants"][0] == {"store_id": "S-1", "store_name": "西湖茶叶旗舰店", "count": 2}
    assert complaints["trend"] == [{"day": "2026-11-20", "count": 1}, {"day": "2026-11-21", "count": 2}]
    assert [(d["day"], d["settled"], d["within_deadline"]) for d in body["first_handling_trend"]] == [("2026-11-20", 1, 1), ("2026-11-21", 0, 0)]


async def test_a_platform_reaches_only_its_own_detail_cockpit(world: Running) -> None:
    own = await world.http.get("/v1/cockpits/platforms/P002", headers=world.auth("platform", platform="P002"))
    other = await world.http.get("/v1/cockpits/platforms/P001", headers=world.auth("platform", platform="P002"))
    overview = await world.http.get("/v1/cockpits/overview", headers=world.auth("platform", platform="P002"))
    assert own.status_code == 200 and own.json()["complaints"]["total"] == 1
    assert other.status_code == 404
    assert overview.status_code == 403


async def test_unknown_platform_and_bad_interval(world: Running) -> None:
    missing = await world.http.get("/v1/cockpits/platforms/P999", headers=world.auth("regulator"))
    bad = await world.http.get("/v1/cockpits/governance", params={"interval": "fortnight"}, headers=world.auth("regulator"))
    assert missing.status_code == 404
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "interval"


async def test_gmv_keeps_only_the_latest_revision_of_each_month_to_the_fen(world: Running) -> None:
    gmv = (await get(world, "/v1/cockpits/overview"))["gmv"]
    # Revision 2 replaced 2026-10 whole: its 服装 line and the Dongguan line are gone, never added twice.
    assert gmv["total_cny"] == "38250340.81"
    assert gmv["orders"] == 412033 + 5 + 3
    assert {p["platform_id"]: p["gmv_cny"] for p in gmv["by_platform"]} == {"P001": "38250340.51", "P002": "0.30"}
    assert {c["category"]: c["gmv_cny"] for c in gmv["by_category"]} == {"食品": "38250340.71", "服装": "0.10"}
    assert [(m["month"], m["gmv_cny"]) for m in gmv["by_month"]] == [("2026-10", "18250340.50"), ("2026-11", "20000000.31")]
    clothing = (await get(world, "/v1/cockpits/overview", category="服装"))["gmv"]
    assert clothing["total_cny"] == "0.10"
    in_yuhang = (await get(world, "/v1/cockpits/overview", region="330110"))["gmv"]
    assert in_yuhang["total_cny"] == "0.30"
    october = await get(world, "/v1/cockpits/platforms/P001", **{"from": "2026-10-01", "to": "2026-10-31"})
    assert october["gmv"]["total_cny"] == "18250340.50" and october["complaints"]["per_100m_cny_gmv"] == 0.0
    no_reports = await get(world, "/v1/cockpits/platforms/P001", **{"from": "2025-01-01", "to": "2025-01-31"})
    assert no_reports["gmv"]["total_cny"] is None and no_reports["complaints"]["per_100m_cny_gmv"] is None


def counts(pairs: list[dict[str, Any]], key: str) -> dict[str, int]:
    return {pair[key]: pair["count"] for pair in pairs}


async def test_the_overview_counts_current_websites_by_district_and_category(world: Running) -> None:
    websites = (await get(world, "/v1/cockpits/overview"))["websites"]
    # W-3 is closed; W-1 is suspended but still supervised; W-2 counts once, where its latest version put it.
    assert websites["total"] == 3 and websites["suspended"] == 1
    assert counts(websites["by_region"], "region") == {"330106": 1, "330110": 1, "310101": 1}
    assert counts(websites["by_category"], "category") == {"食品": 1, "生鲜": 1, "服装": 1}


async def test_the_overview_counts_new_form_subjects_by_form_and_platform(world: Running) -> None:
    subjects = (await get(world, "/v1/cockpits/overview"))["new_form_subjects"]
    assert subjects["total"] == 4
    # MS-1's version 2 made it a live streamer: the distribution moved, the total did not, the late version 1 changed nothing.
    assert counts(subjects["by_form"], "form") == {"live_streamer": 2, "group_buying_leader": 1, "other": 1}
    assert counts(subjects["by_platform"], "platform_id") == {"P001": 2, "P002": 2}


async def test_websites_and_new_form_subjects_follow_the_region_platform_and_category_filters(world: Running) -> None:
    in_yuhang = await get(world, "/v1/cockpits/overview", region="330110")
    assert in_yuhang["websites"]["total"] == 1  # W-2, moved here; W-3 closed
    assert in_yuhang["new_form_subjects"]["total"] == 2  # GB-7781 and MS-1
    in_qiantang = await get(world, "/v1/cockpits/overview", region="330114")
    assert in_qiantang["websites"]["total"] == 0  # W-2 left with its version 2
    on_p002 = await get(world, "/v1/cockpits/overview", platform="P002")
    assert counts(on_p002["new_form_subjects"]["by_form"], "form") == {"live_streamer": 1, "other": 1}
    # A website is on no platform: the platform filter leaves them all.
    assert on_p002["websites"]["total"] == 3
    clothing = await get(world, "/v1/cockpits/overview", category="服装")
    assert clothing["websites"]["total"] == 1 and clothing["new_form_subjects"]["total"] == 1


async def test_a_bureau_sees_the_websites_and_new_form_subjects_of_its_area_only(world: Running) -> None:
    async def overview_for(bureau: str, **params: str) -> dict[str, Any]:
        answer = await world.http.get("/v1/cockpits/overview", params=params, headers=world.auth("bureau", region=bureau))
        assert answer.status_code == 200, answer.text
        body: dict[str, Any] = answer.json()
        return body

    hangzhou = await overview_for("330100", region="310101")  # asking for Shanghai still answers Hangzhou
    assert hangzhou["filters"]["region"] == "330100"
    assert hangzhou["websites"]["total"] == 2 and hangzhou["new_form_subjects"]["total"] == 3
    assert "310101" not in counts(hangzhou["websites"]["by_region"], "region")
    yuhang = await overview_for("330110", platform="P002")
    assert yuhang["websites"]["total"] == 1
    assert counts(yuhang["new_form_subjects"]["by_platform"], "platform_id") == {"P002": 1}
