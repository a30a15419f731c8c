"""Topic names: the logical names every service and platform agree on."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from contracts import topics
from contracts.registry import EVENT_MODELS

platform_ids = st.from_regex(r"\A[A-Za-z0-9][A-Za-z0-9_-]{0,31}\Z")


def test_a_platforms_feed_and_notify_topics_are_named_after_it() -> None:
    assert topics.feed_complaints("P001") == "feed.P001.complaints.v1"
    assert topics.feed_answers("P001") == "feed.P001.answers.v1"
    assert topics.notify("P001") == "notify.P001.v1"


@given(platform_ids)
def test_the_platform_of_a_feed_topic_is_the_platform_it_was_named_for(platform_id: str) -> None:
    assert topics.platform_of_feed_topic(topics.feed_complaints(platform_id)) == platform_id
    assert topics.platform_of_feed_topic(topics.feed_answers(platform_id)) == platform_id


@pytest.mark.parametrize(
    "topic",
    [
        "channel.complaints.v1",
        "notify.P001.v1",
        "feed.P001.complaints.v2",
        "feed.P001.orders.v1",
        "feed..complaints.v1",
        "feed.P.001.complaints.v1",
        "xfeed.P001.complaints.v1",
        "t1a2b.feed.P001.complaints.v1",  # prefixed: callers strip their deployment prefix first
    ],
)
def test_a_topic_that_is_not_a_feed_topic_belongs_to_no_platform(topic: str) -> None:
    assert topics.platform_of_feed_topic(topic) is None


@pytest.mark.parametrize("platform_id", ["", "-P001", "_P001", "P.001", "P 001", "P/001", "平台", "P" * 33, "*", "P001.*"])
def test_an_invalid_platform_id_names_no_topic(platform_id: str) -> None:
    for name in (topics.feed_complaints, topics.feed_answers, topics.notify):
        with pytest.raises(ValueError, match="invalid platform id"):
            name(platform_id)


def test_a_platform_id_with_a_trailing_newline_names_no_topic() -> None:
    with pytest.raises(ValueError):
        topics.feed_complaints("P001\n")


def test_the_longest_platform_id_is_32_characters() -> None:
    assert topics.feed_complaints("P" * 32) == f"feed.{'P' * 32}.complaints.v1"


def test_a_region_topic_is_named_after_a_six_digit_region_code() -> None:
    assert topics.region("330106") == "region.330106.v1"


@pytest.mark.parametrize("code", ["", "33010", "3301060", "33010a", "330 10", "330106\n", "region"])
def test_a_region_topic_needs_exactly_six_digits(code: str) -> None:
    with pytest.raises(ValueError, match="6 digits"):
        topics.region(code)


def test_a_region_code_in_non_ascii_digits_names_no_topic() -> None:
    with pytest.raises(ValueError):
        topics.region("３３０１０６")


def test_a_consumers_dead_letter_topic_is_named_after_its_group() -> None:
    assert topics.dlq("channel") == "dlq.channel.v1"
    assert topics.dlq("analytics") == "dlq.analytics.v1"


def test_internal_topics_are_service_aggregate_v1_and_listed_once() -> None:
    assert len(set(topics.INTERNAL_TOPICS)) == len(topics.INTERNAL_TOPICS)
    for name in topics.INTERNAL_TOPICS:
        assert re.fullmatch(r"(bridge|channel|enforcement|collab|analytics)\.[a-z]+\.v1", name), name


def test_the_feed_patterns_match_every_feed_topic_and_nothing_else() -> None:
    assert re.fullmatch(topics.FEED_COMPLAINTS_PATTERN, topics.feed_complaints("P001"))
    assert re.fullmatch(topics.FEED_ANSWERS_PATTERN, topics.feed_answers("P001"))
    assert not re.fullmatch(topics.FEED_COMPLAINTS_PATTERN, topics.feed_answers("P001"))
    assert not re.fullmatch(topics.FEED_COMPLAINTS_PATTERN, "channel.complaints.v1")


@pytest.mark.parametrize("event_type", sorted(EVENT_MODELS))
def test_every_event_model_is_published_on_a_known_topic(event_type: str) -> None:
    topic = EVENT_MODELS[event_type].topic
    if topic.startswith("feed."):
        assert topics.platform_of_feed_topic(topic.replace("<platform_id>", "P001")) == "P001"
    else:
        assert topic in topics.INTERNAL_TOPICS
