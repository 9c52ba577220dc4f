"""Where a backtest's source loop sends what the live one produces to Kafka: memory.

:class:`MemorySink` has the methods of :class:`driftline.kafka.Producer` the source loop
calls, and :meth:`MemorySink.take`, which the backtest's loop sends partials to without
encoding them. Partials go to a callback as they are sent (the backtest judges them at once, per
policy); joined pairs are counted (and kept when asked, for a sandboxed retrainer); dead
letters are kept with their reasons; a message the live monitor would move to the partition
of its key is counted, not moved (in history the live monitor already wrote it there).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

import msgspec

from driftline.events import DeadLetter, Event, decode, encode
from monitor.state.partition import Partial

__all__ = ["MemorySink"]

_partial_decoder = msgspec.json.Decoder(Partial)


class MemorySink:
    """Takes the source loop's output instead of a Kafka producer.

    ``partials``, ``labeled`` and ``dead_letter``: the names of those topics as the loop
    writes them; ``on_partial``: called with each partial, in the order sent."""

    def __init__(self, *, partials: str, labeled: str, dead_letter: str,
                 on_partial: Callable[[Partial], None], keep_labeled: bool = False) -> None:
        self._partials = partials
        self._labeled = labeled
        self._dead_letter = dead_letter
        self._on_partial = on_partial
        self.keep_labeled = keep_labeled
        self.labeled: list[dict[str, Any]] = []  # kept only with ``keep_labeled``
        self.joined = 0
        self.dead_letters: list[DeadLetter] = []
        self.not_moved: Counter[str] = Counter()  # topic -> messages left where they were

    def take(self, partial: Partial) -> None:
        """A partial handed over as it is, not encoded: what the loop would send to
        ``partials`` (the mergers copy a share before they change anything of it)."""
        self._on_partial(partial)

    def produce(self, topic: str, value: bytes | None, key: bytes | None = None,
                **_options: Any) -> None:
        if topic == self._partials:
            assert value is not None
            self._on_partial(_partial_decoder.decode(value))
        elif topic == self._labeled:
            self.produce_many(topic, [{"key": key, "value": value}])
        elif topic == self._dead_letter:
            assert value is not None
            self.dead_letters.append(decode(DeadLetter, value))
        else:
            self.not_moved[topic] += 1

    def produce_many(self, topic: str, messages: list[dict[str, Any]],
                     **_options: Any) -> None:
        if topic != self._labeled:
            for message in messages:
                self.produce(topic, message.get("value"), message.get("key"))
            return
        self.joined += len(messages)
        if self.keep_labeled:
            self.labeled.extend(messages)

    def send(self, topic: str, event: Event, **_options: Any) -> None:
        if topic == self._dead_letter and isinstance(event, DeadLetter):
            self.dead_letters.append(event)
        else:
            self.produce(topic, encode(event), event.key)

    def poll(self, _timeout: float = 0.0) -> int:
        return 0

    def flush(self, _timeout: float | None = None) -> int:
        return 0

    def close(self, *_args: Any, **_kwargs: Any) -> None:
        return None
