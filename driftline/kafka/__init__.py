"""Kafka at the edges: one producer and one consumer class, bounded reads, admin, dead letters."""

from driftline.kafka.admin import (
    TopicInfo,
    create_internal_topics,
    create_topics,
    delete_topics,
    describe_topics,
    end_offsets,
    wait_for_broker,
    watermarks,
)
from driftline.kafka.consumer import Consumer, iter_range, read_topic
from driftline.kafka.deadletter import DeadLetterWriter, dead_letter_for
from driftline.kafka.producer import Producer

__all__ = [
    "Consumer",
    "DeadLetterWriter",
    "Producer",
    "TopicInfo",
    "create_internal_topics",
    "create_topics",
    "dead_letter_for",
    "delete_topics",
    "describe_topics",
    "end_offsets",
    "iter_range",
    "read_topic",
    "wait_for_broker",
    "watermarks",
]
