"""Watermark queries ride out a moving partition leader (a fake consumer at the seam; the
real broker path runs in every integration test that restores the monitor's state)."""

from __future__ import annotations

import time

import pytest
from confluent_kafka import KafkaError, KafkaException, TopicPartition

from driftline.kafka.admin import _watermark


class _Flaky:
    def __init__(self, errors: list[int]) -> None:
        self.errors = list(errors)
        self.calls = 0

    def get_watermark_offsets(self, tp: TopicPartition, timeout: float) -> tuple[int, int]:
        self.calls += 1
        if self.errors:
            raise KafkaException(KafkaError(self.errors.pop(0)))
        return (0, 42)


def test_a_partition_without_a_leader_yet_is_asked_again():
    consumer = _Flaky([KafkaError.NOT_LEADER_FOR_PARTITION, KafkaError._TRANSPORT])
    assert _watermark(consumer, TopicPartition("t", 0), time.monotonic() + 5) == (0, 42)
    assert consumer.calls == 3


def test_other_errors_and_the_deadline_still_raise():
    with pytest.raises(KafkaException):
        _watermark(_Flaky([KafkaError.TOPIC_AUTHORIZATION_FAILED]), TopicPartition("t", 0),
                   time.monotonic() + 5)
    stuck = _Flaky([KafkaError.NOT_LEADER_FOR_PARTITION] * 100)
    with pytest.raises(KafkaException):
        _watermark(stuck, TopicPartition("t", 0), time.monotonic() + 0.5)
    assert 1 < stuck.calls < 100
