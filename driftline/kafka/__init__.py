"""Kafka at the edges: a typed producer, consumer helpers, admin and dead-lettering."""

from driftline.kafka.admin import (
    TopicInfo,
    create_topics,
    delete_topics,
    describe_topics,
    end_offsets,
    wait_for_broker,
    watermarks,
)
from driftline.kafka.consumer import group_consumer, iter_range, poll_batch, read_topic
from driftline.kafka.deadletter import DeadLetterWriter, dead_letter_for
from driftline.kafka.producer import Producer

__all__ = [
    "DeadLetterWriter",
    "Producer",
    "TopicInfo",
    "create_topics",
    "dead_letter_for",
    "delete_topics",
    "describe_topics",
    "end_offsets",
    "group_consumer",
    "iter_range",
    "poll_batch",
    "read_topic",
    "wait_for_broker",
    "watermarks",
]
