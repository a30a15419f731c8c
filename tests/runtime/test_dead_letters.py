"""What a dead letter says about itself, and the record as it was before it failed."""

from __future__ import annotations

from services.runtime.dead_letters import original_headers, read_dead_letter, should_replay

HEADERS = [
    ("ce_type", b"redshield.channel.complaint.received.v1"),
    ("ce_id", b"01a2"),
    ("X-DLQ-Reason", b"processing-failed"),
    ("x-dlq-error", b"ConnectionError"),
    ("x-dlq-original-topic", b"t1.channel.complaints.v1"),
    ("x-dlq-original-partition", b"2"),
    ("x-dlq-original-offset", b"41"),
    ("x-dlq-attempts", b"3"),
    ("content-type", b"application/json"),
]


def test_a_dead_letter_names_its_reason_origin_and_event() -> None:
    letter = read_dead_letter(HEADERS)
    assert (letter.reason, letter.original_topic, letter.original_partition, letter.original_offset) == (
        "processing-failed", "t1.channel.complaints.v1", 2, 41
    )
    assert (letter.attempts, letter.event_type, letter.event_id) == (3, "redshield.channel.complaint.received.v1", "01a2")


def test_the_record_goes_back_with_its_own_headers_in_order_and_none_of_the_dlqs() -> None:
    assert original_headers(HEADERS) == [
        ("ce_type", b"redshield.channel.complaint.received.v1"), ("ce_id", b"01a2"), ("content-type", b"application/json")
    ]


def test_only_the_reasons_asked_for_go_back_and_never_a_record_without_an_origin() -> None:
    letter = read_dead_letter(HEADERS)
    assert should_replay(letter, frozenset({"processing-failed"})) and should_replay(letter, None)
    assert not should_replay(letter, frozenset({"schema-invalid"}))
    assert not should_replay(read_dead_letter([("x-dlq-reason", b"processing-failed")]), None)
    assert read_dead_letter(None).reason == "unknown"
