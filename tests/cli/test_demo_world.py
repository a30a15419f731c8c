"""The demo world's data: 110 platforms, 15 connected, valid codes and regions, bodies the APIs accept, all seeded."""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime

import pytest

from contracts import regions
from contracts.codes import ComplaintCategory
from contracts.events.channel import ComplaintAnswered, ComplaintFiling, FirstHandlingAnswer
from contracts.uscc import is_valid
from services.bridge.domain import check_uscc_shape, register
from services.bridge.forms import PlatformForm, PlatformRegistration
from services.bridge.validation import check_row, id_number_valid
from services.channel.domain import check_filing
from services.cli import demo, demo_world

TODAY = date(2026, 11, 28)
NOW = datetime(2026, 11, 28, 10, 30, tzinfo=demo.CHINA_TIME)
HANGZHOU = demo_world.platforms("hangzhou")


def test_hangzhou_has_110_platforms_15_connected_of_every_type_across_ten_districts() -> None:
    assert len(HANGZHOU) == 110
    assert len({p.platform_id for p in HANGZHOU}) == 110 and len({p.name for p in HANGZHOU}) == 110
    assert len({p.code for p in HANGZHOU}) == 110
    connected = [p for p in HANGZHOU if p.connected]
    assert [p.platform_id for p in connected] == [f"P{n:03d}" for n in range(1, 16)]
    assert set(Counter(p.type for p in HANGZHOU)) == set(demo_world.PLATFORM_TYPES)
    assert {p.domicile_region for p in HANGZHOU} == set(demo_world.HANGZHOU)
    assert {p.behaviour for p in connected} == {"fast", "slow", "silent"}
    assert {p.answers_via for p in connected if p.behaviour != "silent"} == {"http", "feed"}
    assert all(p.weight > 0 for p in connected)
    # The original five keep their ids and names in both worlds.
    small = demo_world.platforms("small")
    assert [(p.platform_id, p.name) for p in small] == [(p.platform_id, p.name) for p in HANGZHOU[:5]]
    assert [(p.platform_id, p.name) for p in small] == [(pid, p.name) for pid, p in demo.PLATFORMS.items()]
    with pytest.raises(ValueError, match="unknown demo world"):
        demo_world.platforms("mars")


@pytest.mark.parametrize("world", demo_world.WORLDS)
def test_every_registration_is_a_form_bridge_accepts(world: str) -> None:
    for p in demo_world.platforms(world):
        body = demo_world.registration(p)
        form = PlatformRegistration.model_validate(body)
        assert is_valid(form.uscc) and form.uscc[2:8] == p.domicile_region
        check_uscc_shape(form.uscc)
        entry = register(form.platform_id, PlatformForm.model_validate(form.model_dump(exclude={"platform_id"})), on=TODAY)
        assert entry.uscc_check.value == "valid" and entry.connected_to_canal == p.connected


def test_store_lists_are_valid_rows_in_hangzhou_and_other_provinces_with_a_few_exempt_individuals() -> None:
    sizes = {p.platform_id: len(demo.store_rows(p)) for p in HANGZHOU}
    assert 3000 <= sum(sizes.values()) <= 8000
    assert max(sizes.values()) >= 250 and min(sizes.values()) < 40
    places: Counter[str] = Counter()
    exempt = 0
    for p in HANGZHOU:
        rows = demo.store_rows(p)
        assert len({r["store_id"] for r in rows}) == len(rows)
        for line, row in enumerate(rows, start=1):
            verdict = check_row(row, line=line, on=TODAY)
            assert verdict.record is not None and verdict.findings == [], (p.platform_id, row, verdict.findings)
            assert regions.is_valid_region(row["region"], TODAY)
            if "uscc" in row:
                assert is_valid(row["uscc"]) and row["uscc"][2:8] == row["region"]
            else:
                exempt += 1
                assert row["exemption_declared"] is True and id_number_valid(row["id_number"])
            places["hangzhou" if row["region"].startswith("3301") else "elsewhere"] += 1
    assert places["elsewhere"] > 0.1 * places["hangzhou"]
    assert 0 < exempt < 0.1 * sum(sizes.values())


def test_the_stores_complaints_name_are_in_their_platforms_store_list() -> None:
    for world in demo_world.WORLDS:
        listed = {(p.platform_id, r["store_id"]) for p in demo_world.platforms(world) for r in demo.store_rows(p)}
        for item in demo.filings(300, world=world, now=NOW):
            assert (item.platform_id, item.body["merchant"]["store_id"]) in listed


def test_hangzhou_complaints_come_from_the_15_connected_platforms_and_validate() -> None:
    items = demo.filings(400, world="hangzhou", now=NOW)
    assert {i.platform_id for i in items} == {f"P{n:03d}" for n in range(1, 16)}
    assert {i.via for i in items} == {"http", "feed"}
    for item in items:
        filing = ComplaintFiling.model_validate(item.body)
        check_filing(filing, NOW)
        if filing.merchant.uscc is not None:
            assert is_valid(filing.merchant.uscc)
    ids = [i.body["platform_complaint_id"] for i in items]
    assert len(set(ids)) == len(ids)
    # Different ids from the small world's, so a run of one world never shadows the other's complaints.
    assert not set(ids) & {i.body["platform_complaint_id"] for i in demo.filings(400, now=NOW)}
    assert len({i.body["merchant"]["region"] for i in items}) > 8


def test_answers_are_mostly_settled_and_every_one_validates() -> None:
    outcomes: Counter[str] = Counter()
    for n in range(400):
        body = demo_world.answer("P001", f"c-{n}", "199.90")
        FirstHandlingAnswer.model_validate(body)
        ComplaintAnswered.model_validate(body | {"complaint_id": f"c-{n}"})
        outcomes[body["outcome"]] += 1
        if "refund_amount" in body:
            assert 0 < float(body["refund_amount"]) <= 199.90
        if body["outcome"] == "contested":
            assert body["reason"]
    assert outcomes["settled"] > outcomes["not_settled"] + outcomes["contested"] and outcomes["contested"] > 0
    env = demo.answer_envelope("P002", "c-1", demo_world.answer("P002", "c-1", "10.00"))
    assert env.type == ComplaintAnswered.event_type and env.source == "/platforms/P002" and env.data["complaint_id"] == "c-1"


def test_the_world_is_deterministic_by_seed() -> None:
    assert demo_world.platforms("hangzhou", seed=7) == demo_world.platforms("hangzhou", seed=7)
    assert demo_world.platforms("hangzhou", seed=7) != demo_world.platforms("hangzhou", seed=8)
    p = HANGZHOU[20]
    assert demo.store_rows(p, seed=7) == demo.store_rows(p, seed=7)
    assert demo.store_rows(p, seed=7) != demo.store_rows(p, seed=8)
    assert demo.filings(50, world="hangzhou", seed=7, now=NOW) == demo.filings(50, world="hangzhou", seed=7, now=NOW)
    assert demo_world.answer("P001", "x", "9.90", seed=7) == demo_world.answer("P001", "x", "9.90", seed=7)


def test_the_submission_period_is_the_half_year() -> None:
    assert demo.period_of(NOW) == "2026H2"
    assert demo.period_of(datetime(2026, 3, 1, tzinfo=demo.CHINA_TIME)) == "2026H1"


def test_the_mix_of_issues_varies_with_the_kind_of_platform() -> None:
    def share(platform_type: str, category: ComplaintCategory) -> float:
        mix = demo.category_mix(platform_type)
        return mix[category] / sum(mix.values())

    assert demo.category_mix("b2c") == demo.CATEGORY_WEIGHTS
    assert share("food_delivery", ComplaintCategory.FOOD_SAFETY) > 3 * share("b2c", ComplaintCategory.FOOD_SAFETY)
    assert share("live_stream", ComplaintCategory.FALSE_ADVERTISING) > 2 * share("b2c", ComplaintCategory.FALSE_ADVERTISING)
    assert share("social", ComplaintCategory.PERSONAL_INFO) > 2 * share("b2c", ComplaintCategory.PERSONAL_INFO)


def test_monthly_reports_are_the_past_whole_months_and_reports_bridge_accepts() -> None:
    from datetime import date

    from services.bridge.report_rules import check_report  # the rules bridge applies to a PUT

    months = demo_world.past_months(date(2026, 1, 15), 3)
    assert months == ["2025-10", "2025-11", "2025-12"]
    for p in HANGZHOU[:3] + HANGZHOU[-2:]:
        for month in months:
            body = demo_world.monthly_report(p, month)
            report = check_report(month, body, today=date(2026, 1, 15))
            listed = demo_world.stores(p)
            assert sum(n for _, n in report.stores_by_category) == len(listed)
            assert {s.region for s in report.sales} == {s.region for s in listed}


def test_double_eleven_outsells_the_spring_festival_month() -> None:
    from decimal import Decimal

    p = HANGZHOU[0]

    def gmv(month: str) -> Decimal:
        return sum((Decimal(s["gmv_cny"]) for s in demo_world.monthly_report(p, month)["sales"]), Decimal(0))

    assert gmv("2025-11") > gmv("2026-02") * Decimal("1.8")
