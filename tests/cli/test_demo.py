"""The demo feed's data: every filing is one channel accepts, over HTTP and on a platform's feed."""

from __future__ import annotations

from datetime import datetime, timedelta

from contracts import topics
from contracts.envelope import from_record
from contracts.events.channel import ComplaintFiling
from contracts.uscc import is_valid
from services.channel.consumers import check_feed_origin
from services.channel.domain import check_filing
from services.cli import demo

NOW = datetime(2026, 11, 20, 10, 30, tzinfo=demo.CHINA_TIME)


def test_every_filing_validates_and_is_accepted_by_the_canal_rules() -> None:
    items = demo.filings(200, now=NOW)
    assert len(items) == 200
    for item in items:
        filing = ComplaintFiling.model_validate(item.body)
        check_filing(filing, NOW)  # nothing in the future
        assert NOW - timedelta(days=14) < filing.received_at <= NOW
        assert filing.received_at.utcoffset() == timedelta(hours=8)
        assert filing.merchant.region in demo.DISTRICTS
        assert item.platform_id in demo.PLATFORMS
        assert item.via in ("http", "feed")


def test_merchant_credit_codes_are_valid_and_some_stores_publish_none() -> None:
    codes = {m.store_id: m.uscc for m in demo.MERCHANTS}
    assert all(is_valid(code) for code in codes.values())
    assert all(code[2:8] == m.region for m, code in zip(demo.MERCHANTS, codes.values(), strict=True))
    merchants = [i.body["merchant"] for i in demo.filings(200, now=NOW)]
    assert all(is_valid(m["uscc"]) for m in merchants if "uscc" in m)
    assert any("uscc" not in m for m in merchants)


def test_the_same_seed_gives_the_same_feed_and_more_complaints_extend_it() -> None:
    assert demo.filings(60, seed=7, now=NOW) == demo.filings(60, seed=7, now=NOW)
    assert demo.filings(80, seed=7, now=NOW)[:60] == demo.filings(60, seed=7, now=NOW)
    assert demo.filings(60, seed=8, now=NOW) != demo.filings(60, seed=7, now=NOW)
    ids = [(i.platform_id, i.body["platform_complaint_id"]) for i in demo.filings(500, now=NOW)]
    assert len(set(ids)) == len(ids)


def test_platforms_file_over_both_paths_and_the_summary_adds_up() -> None:
    items = demo.filings(60, now=NOW)
    assert {i.platform_id for i in items} == set(demo.PLATFORMS)
    assert {i.via for i in items} == {"http", "feed"}
    assert {i.body["category"] for i in items} >= {"quality", "refund", "after_sales"}
    table = demo.summary(items)
    assert table[-1].split()[-3:] == [str(sum(i.via == "http" for i in items)), str(sum(i.via == "feed" for i in items)), "60"]


def test_feed_records_are_binary_cloudevents_from_their_own_platform() -> None:
    for item in [i for i in demo.filings(60, now=NOW) if i.via == "feed"]:
        env = demo.envelope(item)
        parsed = from_record(env.key, env.value(), env.headers())
        check_feed_origin(topics.feed_complaints(item.platform_id), parsed)
        assert parsed.data == item.body
        assert parsed.subject == item.body["platform_complaint_id"]
