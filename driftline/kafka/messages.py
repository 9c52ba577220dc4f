"""One part of every message of a batch, read without a Python frame per message."""

from __future__ import annotations

from collections.abc import Sequence
from operator import methodcaller
from typing import Any

from confluent_kafka import Message

__all__ = ["each"]

# confluent-kafka's own C methods: mapped over a batch, no attribute look-up per message
_DIRECT = {name: getattr(Message, name)
           for name in ("topic", "partition", "offset", "key", "value", "headers", "error")}


def each(part: str, messages: Sequence[Any]) -> list[Any]:
    """``message.<part>()`` of every message, in order (``part``: topic, partition, offset,
    key, value, headers or error): through confluent-kafka's method itself, or by name when
    some message is of another class (a test's stand-in).

    >>> each("offset", [Message(topic="t", partition=0, offset=7), Message(offset=8)])
    [7, 8]
    """
    try:
        return list(map(_DIRECT[part], messages))
    except TypeError:  # (not a confluent-kafka Message)
        return list(map(methodcaller(part), messages))
