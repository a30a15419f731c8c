"""A batch's offsets to commit: one past the highest record of each partition, however the batch is ordered."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from aiokafka import TopicPartition

from services.runtime.consumer import _next_offsets


def record(topic: str, partition: int, offset: int) -> Any:
    return SimpleNamespace(topic=topic, partition=partition, offset=offset)


def test_each_partition_commits_one_past_its_highest_record() -> None:
    batch = [record("a", 0, 5), record("a", 1, 9), record("a", 0, 7), record("b", 0, 0), record("a", 0, 6), record("a", 1, 3)]
    assert _next_offsets(batch) == {TopicPartition("a", 0): 8, TopicPartition("a", 1): 10, TopicPartition("b", 0): 1}


def test_a_record_at_offset_zero_still_commits_offset_one() -> None:
    assert _next_offsets([record("a", 2, 0)]) == {TopicPartition("a", 2): 1}


def test_an_empty_batch_commits_nothing() -> None:
    assert _next_offsets([]) == {}
