"""Processors are pure: the same event gives the same rows, every time; unknown types are kept raw."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from contracts.envelope import Envelope
from contracts.examples import GOLDEN
from contracts.registry import EVENT_MODELS
from services.analytics.processors import COLUMNS, Position, ProcessorError, process

INGESTED = datetime(2026, 11, 28, 8, 0, tzinfo=UTC)


def golden_envelopes() -> list[Envelope]:
    found = []
    for examples in GOLDEN.values():
        for golden in examples:
            found.append(
                Envelope(
                    type=golden.data.event_type,
                    source=golden.source,
                    subject=golden.subject,
                    data=golden.data.model_dump(mode="json", exclude_none=True),
                    id=golden.id,
                    time=golden.time,
                    region=golden.region,
                    platformid=golden.platformid,
                )
            )
    return found


@pytest.mark.parametrize("envelope", golden_envelopes(), ids=lambda e: f"{e.type}:{e.subject}")
def test_every_golden_example_gives_identical_rows_twice(envelope: Envelope) -> None:
    position = Position("channel.complaints.v1", 0, 42)
    first = process(envelope, position, INGESTED)
    second = process(envelope, position, INGESTED)
    assert first.by_table == second.by_table
    assert first.unknown_type is None
    for table, rows in first.by_table.items():
        assert all(len(row) == len(COLUMNS[table]) for row in rows)


def test_every_event_type_has_a_golden_example() -> None:
    assert set(GOLDEN) == set(EVENT_MODELS)


def test_a_received_complaint_becomes_one_complaint_row_and_one_raw_event() -> None:
    (envelope,) = [e for e in golden_envelopes() if e.type == "redshield.channel.complaint.received.v1"][:1]
    rows = process(envelope, Position("channel.complaints.v1", 1, 7), INGESTED)
    assert len(rows.by_table["complaints"]) == 1
    assert len(rows.by_table["events"]) == 1
    complaint = dict(zip(COLUMNS["complaints"], rows.by_table["complaints"][0], strict=True))
    assert complaint["complaint_id"] == envelope.data["complaint_id"]
    assert complaint["received_at"].tzinfo is not None


def test_an_unknown_type_is_kept_raw_and_named() -> None:
    envelope = Envelope(type="redshield.future.thing.happened.v9", source="/redshield/future", subject="x", data={"a": 1})
    rows = process(envelope, Position("channel.complaints.v1", 0, 1), INGESTED)
    assert rows.unknown_type == "redshield.future.thing.happened.v9"
    assert list(rows.by_table) == ["events"]
    event = dict(zip(COLUMNS["events"], rows.by_table["events"][0], strict=True))
    assert event["known"] == 0 and event["data"] == '{"a":1}'


def test_the_raw_event_keeps_the_records_value_as_received() -> None:
    (envelope,) = [e for e in golden_envelopes() if e.type == "redshield.channel.complaint.received.v1"][:1]
    position = Position("channel.complaints.v1", 0, 1)
    as_sent = envelope.value().decode()
    assert process(envelope, position, INGESTED, as_sent).by_table == process(envelope, position, INGESTED).by_table
    spaced = '{ "a": 1 }'
    other = Envelope(type="redshield.future.thing.happened.v9", source="/redshield/future", subject="x", data={"a": 1})
    (row,) = process(other, position, INGESTED, spaced).by_table["events"]
    assert dict(zip(COLUMNS["events"], row, strict=True))["data"] == spaced


def test_a_known_type_with_unusable_data_is_a_processor_error() -> None:
    envelope = Envelope(type="redshield.channel.complaint.received.v1", source="/redshield/channel", subject="x", data={"complaint_id": 5})
    with pytest.raises(ProcessorError):
        process(envelope, Position("channel.complaints.v1", 0, 1), INGESTED)


def test_a_complaint_whose_amount_is_not_a_number_is_a_processor_error_not_a_crash() -> None:
    # The event's schema types the amount as a string; Decimal() refusing it raises an ArithmeticError.
    (envelope,) = [e for e in golden_envelopes() if e.type == "redshield.channel.complaint.received.v1"][:1]
    data = envelope.data | {"order": envelope.data["order"] | {"amount": "two hundred"}}
    poisoned = Envelope(type=envelope.type, source=envelope.source, subject=envelope.subject, data=data)
    with pytest.raises(ProcessorError, match="cannot be turned into rows"):
        process(poisoned, Position("channel.complaints.v1", 0, 1), INGESTED)


def test_a_periodic_report_becomes_one_row_per_platform_and_month_with_exact_money() -> None:
    first, correction = [e for e in golden_envelopes() if e.type == "redshield.bridge.report.submitted.v1"]
    rows = process(first, Position("bridge.reports.v1", 0, 3), INGESTED)
    (report,) = [dict(zip(COLUMNS["gmv_reports"], row, strict=True)) for row in rows.by_table["gmv_reports"]]
    assert (report["platform_id"], report["month"], report["revision"]) == ("P001", date(2026, 10, 1), 1)
    assert report["sales_gmv_cny"] == [Decimal("18250340.50"), Decimal("9120000.00"), Decimal("351200.00")]
    assert report["sales_category"] == ["食品", "服装", "食品"] and report["sales_region"] == ["330106", "330106", "441900"]
    assert report["stores_category"] == ["食品", "服装"] and report["stores_count"] == [1290, 611]
    # The correction is keyed the same (platform, month) with a higher revision: it replaces the row whole.
    (fixed,) = process(correction, Position("bridge.reports.v1", 0, 4), INGESTED).by_table["gmv_reports"]
    fixed_row = dict(zip(COLUMNS["gmv_reports"], fixed, strict=True))
    assert (fixed_row["platform_id"], fixed_row["month"], fixed_row["revision"]) == ("P001", date(2026, 10, 1), 2)
    assert fixed_row["sales_category"] == ["食品"]


def test_a_website_becomes_one_row_keyed_by_its_id_with_its_version() -> None:
    registered, _, updated = [e for e in golden_envelopes() if e.type.startswith("redshield.bridge.website.")]
    rows = [
        dict(zip(COLUMNS["websites"], row, strict=True))
        for envelope in (registered, updated)
        for row in process(envelope, Position("bridge.subjects.v1", 0, 5), INGESTED).by_table["websites"]
    ]
    # The update is the same website in a higher version: the ReplacingMergeTree keeps it instead of the first.
    assert [(w["website_id"], w["status"], w["version"]) for w in rows] == [
        ("W-330106-0001", "active", 1), ("W-330106-0001", "suspended", 2),
    ]
    assert rows[0]["domain"] == "xihutea.com.cn" and rows[0]["region"] == "330106" and rows[0]["updated_at"].tzinfo is not None


def test_a_new_form_subject_becomes_one_row_keyed_by_platform_and_subject_without_the_persons_name() -> None:
    envelopes = [e for e in golden_envelopes() if e.type.startswith("redshield.bridge.new_form_subject.")]
    rows = [
        dict(zip(COLUMNS["new_form_subjects"], row, strict=True))
        for envelope in envelopes
        for row in process(envelope, Position("bridge.subjects.v1", 0, 6), INGESTED).by_table["new_form_subjects"]
    ]
    assert [(s["platform_id"], s["subject_id"], s["form"], s["version"]) for s in rows] == [
        ("P001", "LIVE-20931", "live_streamer", 1), ("P001", "GB-7781", "group_buying_leader", 1), ("P001", "LIVE-20931", "live_streamer", 2),
    ]
    assert rows[1]["uscc"] == ""  # a leader without a licence: no code, and no name or handle either
    assert not {"name", "handle"} & set(COLUMNS["new_form_subjects"])
