"""Hostile message values for the consumers' tests: each kind a topic may hold that is not
exactly one valid event, built around one valid event's JSON, and how to write them."""

from __future__ import annotations

from collections.abc import Sequence

from driftline.kafka import Producer
from driftline.settings import KafkaSettings

__all__ = ["hostile_values", "produce_between"]


def hostile_values(valid: bytes) -> dict[str, bytes | None]:
    """Each kind of hostile value by name; ``valid`` is one valid event's JSON (an object)."""
    return {
        "tombstone": None,
        "empty": b"",
        "two events": valid + b"," + valid,
        "bad utf-8": valid[:-1] + b',"x":"\xff\xfe"}',
        "wrong types": b'{"schema_version":"one","event_time":"yesterday","features":7}',
        "deeply nested": valid[:-1] + b',"x":' + b"[" * 100_000 + b"]" * 100_000 + b"}",
        # compressible: the broker takes it at its default size limit, the consumer must not
        "over 1 MB": valid[:-1] + b',"pad":"' + b"x" * (1 << 20) + b'"}',
    }


def produce_between(kafka: KafkaSettings, topic: str, valid: Sequence[tuple[bytes, bytes]],
                    hostile: dict[str, bytes | None]) -> None:
    """Write the ``(key, value)`` pairs of ``valid`` to ``topic`` in order, with one hostile
    value after each of the first ones under the same key (so on the same partition), so
    every hostile value sits between valid events, inside any run a consumer reads at once."""
    bad = list(hostile.values())
    with Producer(kafka, options={"message.max.bytes": 8_000_000}) as producer:
        for i, (k, v) in enumerate(valid):
            producer.produce(topic, v, k)
            if i < len(bad):
                producer.produce(topic, bad[i], k)
