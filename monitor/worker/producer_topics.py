"""Keep every topic the worker writes in its Kafka producer's metadata.

faust's producer is aiokafka's, whose client refreshes metadata for the topics it tracks
(all topics while it tracks none). A topic it learned from an all-topics answer is not tracked
when it is first written to, so the first time another topic is tracked (the first send to a
topic created after the producer started, such as the reports topic), the refresh asks for that
topic alone and the answer drops the other one: a batch waiting for it has no leader, and the
refresh, still asking for the tracked topics only, never brings it back. The batch then waits
for faust's producer request timeout (20 minutes) without a word in the log, and so does the
publisher, which waits for it before acknowledging anything.

:func:`track_topics` tracks the worker's output topics from the start.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

__all__ = ["producer_client", "track_topics"]


def track_topics(client: Any, topics: Iterable[str]) -> None:
    """Have the aiokafka ``client`` keep ``topics`` in every metadata refresh it makes (all of
    them tracked before the next refresh, which each addition asks for)."""
    for topic in topics:
        client.add_topic(topic)


def producer_client(producer: Any) -> Any:
    """The aiokafka client under a started faust producer (faust's aiokafka driver)."""
    return producer._ensure_producer().client
