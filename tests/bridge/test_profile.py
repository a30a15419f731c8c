"""The platform profile (画像): its facts, stores, submissions, reports, and the data-quality score with its parts."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from services.runtime.clock import FixedClock
from tests.bridge.conftest import CHINA, ndjson, register, settled, store_row, submit
from tests.harness import Running

SALES: dict[str, Any] = {"sales": [{"category": "食品", "region": "330106", "gmv_cny": "1000.00", "orders": 10}],
                         "stores_by_category": [{"category": "食品", "stores": 3}]}


def move(clock: FixedClock, *parts: int) -> None:
    clock.advance(datetime(*parts, tzinfo=CHINA).astimezone(UTC) - clock.now())  # type: ignore[misc]


async def test_the_profile_shows_the_platform_its_stores_history_and_a_score_whose_parts_add_up(bridge_on_clock: Running,
                                                                                                 clock: FixedClock) -> None:
    svc = bridge_on_clock
    move(clock, 2026, 1, 10, 9)
    await register(svc)
    rows = [store_row(1), store_row(2), store_row(3, category="服装", region="330114"), store_row(4, region="330104"),
            store_row(5, shop_url=None)]
    await settled(svc, (await submit(svc, ndjson(rows), period="2026H1")).json()["submission_id"])
    move(clock, 2026, 2, 10, 9)
    as_p1 = svc.auth("platform", platform="P001")
    assert (await svc.http.put("/v1/platforms/P001/reports/2026-01", json=SALES, headers=as_p1)).status_code == 201
    move(clock, 2026, 3, 20, 9)  # January's report came in time, February's (due 15 March) never did

    answer = await svc.http.get("/v1/platforms/P001/profile", headers=as_p1)
    assert answer.status_code == 200, answer.text
    profile = answer.json()
    assert (profile["classification"], profile["operating_model"], profile["main_categories"]) == ("b2c", "marketplace", ["食品", "服装"])
    assert profile["stores"]["open"] == 3
    assert profile["stores"]["by_category"] == [{"category": "食品", "stores": 2}, {"category": "服装", "stores": 1}]
    assert profile["stores"]["by_region"] == [{"region": "330106", "stores": 2}, {"region": "330114", "stores": 1}]
    assert profile["submissions"]["standing"]["2026H1"] == "on_time" and profile["submissions"]["standing"]["2025H2"] == "not_due"
    assert [(s["period"], s["rows_total"], s["rows_refused"]) for s in profile["submissions"]["history"]] == [("2026H1", 5, 2)]
    assert [(r["month"], r["total_gmv_cny"], r["on_time"]) for r in profile["reports"]] == [("2026-01", "1000.00", True)]
    parts = {p["name"]: p for p in profile["quality"]["parts"]}
    # completeness: 3 of 5 rows accepted, every optional field filled in them → (0.6 + 1) / 2
    assert parts["completeness"]["value"] == 0.8 and parts["completeness"]["detail"] == {"required": 0.6, "optional": 1.0}
    # timeliness: the January window on time, one report of two due → 2 of 3
    assert abs(parts["timeliness"]["value"] - 2 / 3) < 1e-9 and parts["timeliness"]["detail"]["reports_due"] == 2
    assert parts["validation"]["value"] == 0.6 and parts["validation"]["detail"]["failure_rate"] == 0.4
    assert profile["quality"]["score"] == 70


async def test_a_platform_sees_only_its_own_profile(bridge_on_clock: Running) -> None:
    await register(bridge_on_clock)
    await register(bridge_on_clock, platform_id="P002", name="钱塘团购")
    other = await bridge_on_clock.http.get("/v1/platforms/P001/profile", headers=bridge_on_clock.auth("platform", platform="P002"))
    assert other.status_code == 404
    fresh = await bridge_on_clock.http.get("/v1/platforms/P002/profile", headers=bridge_on_clock.auth("regulator"))
    assert fresh.status_code == 200 and fresh.json()["quality"]["score"] is None
    assert (await bridge_on_clock.http.get("/v1/platforms/P404/profile", headers=bridge_on_clock.auth("regulator"))).status_code == 404


async def test_completeness_counts_stores_a_later_submission_left_unchanged_and_stores_a_batch_changed(bridge_on_clock: Running,
                                                                                                        clock: FixedClock) -> None:
    # An unchanged store is not rewritten by the next submission, and a batch stamps its own id on what it writes:
    # neither makes the platform's filled-in fields count for less.
    svc = bridge_on_clock
    move(clock, 2026, 1, 10, 9)
    await register(svc)
    rows = [store_row(1), store_row(2), store_row(3), store_row(4, contact=None)]
    await settled(svc, (await submit(svc, ndjson(rows), period="2026H1")).json()["submission_id"])
    move(clock, 2026, 7, 10, 9)
    await settled(svc, (await submit(svc, ndjson(rows), period="2026H2")).json()["submission_id"])
    as_p1 = svc.auth("platform", platform="P001")
    batch = {"records": [{"record_id": "r1", **store_row(2, shop_name="商户2新店")}]}
    posted = await svc.http.post("/v1/platforms/P001/stores/batch", json=batch, headers=as_p1)
    assert posted.status_code == 200, posted.text
    assert [r["outcome"] for r in posted.json()["results"]] == ["updated"]

    profile = (await svc.http.get("/v1/platforms/P001/profile", headers=as_p1)).json()
    parts = {p["name"]: p for p in profile["quality"]["parts"]}
    # 4 open stores × 2 optional fields (USCC, contact), one contact missing → 7 of 8
    assert parts["completeness"]["detail"] == {"required": 1.0, "optional": 7 / 8}


async def test_the_profile_counts_the_platforms_current_new_form_subjects_by_form(bridge_on_clock: Running) -> None:
    # Each subject counts once however often it was revised; another platform's subjects are not this one's.
    svc = bridge_on_clock
    await register(svc)
    await register(svc, platform_id="P002", name="钱塘团购")
    leader = {"form": "group_buying_leader", "name": "王阿姨", "id_number": "11010519491231002X", "exemption_declared": True,
              "region": "330110", "handle": "良渚文化村3号团", "category": "生鲜"}
    streamer = {"form": "live_streamer", "name": "甬上直播有限公司", "uscc": "91330106MA2H0C3T5D", "region": "330203",
                "handle": "甬上小鲜", "category": "食品"}
    regulator = svc.auth("regulator")
    for platform, subject_id, form in [("P001", "GB-1", leader), ("P001", "GB-2", leader | {"handle": "4号团"}),
                                       ("P001", "GB-1", leader | {"handle": "3号团（新）"}), ("P001", "LIVE-1", streamer),
                                       ("P002", "GB-9", leader)]:
        put = await svc.http.put(f"/v1/platforms/{platform}/new-form-subjects/{subject_id}", json=form, headers=regulator)
        assert put.status_code in (200, 201), put.text

    profile = (await svc.http.get("/v1/platforms/P001/profile", headers=svc.auth("platform", platform="P001"))).json()
    assert profile["new_form_subjects"] == {"total": 3, "by_form": [{"form": "group_buying_leader", "subjects": 2},
                                                                    {"form": "live_streamer", "subjects": 1}]}
    other = (await svc.http.get("/v1/platforms/P002/profile", headers=regulator)).json()
    assert other["new_form_subjects"]["total"] == 1
