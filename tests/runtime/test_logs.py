"""Service logs: aiokafka's errors that heal themselves are warnings; every other error stays an error."""

from __future__ import annotations

import logging

import orjson

from services.runtime.logs import JsonFormatter, SelfHealingKafkaErrors


def _logged(logger: str, message: str, *args: object, level: int = logging.ERROR) -> dict[str, object]:
    record = logging.LogRecord(logger, level, __file__, 1, message, args, None)
    assert SelfHealingKafkaErrors().filter(record)
    return dict(orjson.loads(JsonFormatter("channel").format(record)))


def test_a_topic_created_by_its_first_record_is_a_warning_not_an_error() -> None:
    line = _logged("aiokafka.cluster", "Topic %s not found in cluster metadata", "notify.P010.v1")
    assert line["level"] == "WARNING"
    assert line["msg"] == "Topic notify.P010.v1 not found in cluster metadata"


def test_a_coordinator_or_leader_not_elected_yet_is_a_warning() -> None:
    assert _logged("aiokafka.consumer.group_coordinator",
                   "Group Coordinator Request failed: [Error 15] GroupCoordinatorNotAvailableError")["level"] == "WARNING"
    assert _logged("aiokafka.consumer.fetcher", "Failed fetch offsets from 1: [Error 6] NotLeaderForPartitionError: "
                   "TopicPartition(topic='enforcement.evidence.v1', partition=0)")["level"] == "WARNING"


def test_other_kafka_errors_and_our_own_stay_errors() -> None:
    assert _logged("aiokafka.consumer.group_coordinator", "Error sending JoinGroupRequest_v5 to node 1 [Error 7]")["level"] == "ERROR"
    # The same words from another logger are not aiokafka's transient: ours is never demoted.
    assert _logged("redshield.consumer", "Topic x not found in cluster metadata")["level"] == "ERROR"
    assert _logged("aiokafka.cluster", "Topic %s not found in cluster metadata", "t", level=logging.INFO)["level"] == "INFO"
