"""Labeled rows from the ``labeled`` topic, read in a bounded range.

A retrain needs the recent window of labeled rows, not the whole topic (which keeps three
months). :meth:`LabeledSource.read` finds the newest message timestamp, asks Kafka's time index
(``offsets_for_times``) for the first offset of each partition at or after
``newest - window - margin``, and reads from there up to the end offsets of the moment; the
exact event-time window is applied afterwards by :func:`retrainer.dataset.build_dataset`.
Kafka timestamps are when the monitor wrote the joined row, i.e. after the label arrived, so
the margin covers rows whose label came quickly while the newest row's came late.

:meth:`LabeledSource.read_range` reads the rows of an event-time range (``driftline models
evaluate``): from the first offset stamped at or after the range's start (less the margin) to
the end offsets of the moment, keeping the rows whose event time is in the range. A joined row
is written after its prediction's event time, so none in range is stamped before its start;
its end bounds nothing, since a label can come any time later.

Records that do not decode as :class:`~driftline.events.LabeledEvent` go to the dead-letter
topic once each, with the reason, and the read goes on.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from confluent_kafka import TopicPartition

from driftline.errors import ContractError
from driftline.events import LabeledEvent
from driftline.intake import TimeRange, decode_value
from driftline.kafka import Consumer, DeadLetterWriter, iter_range
from driftline.settings import KafkaSettings
from retrainer.dataset import SourcedRow

__all__ = ["LabeledRead", "LabeledSource", "start_offsets"]

log = logging.getLogger(__name__)


@dataclass
class LabeledRead:
    """What one read returned: the rows, the offsets read per partition (``[start, end)``),
    the timestamp the read started from (None: from the low watermark) and how many records
    were dead-lettered."""

    rows: list[SourcedRow] = field(default_factory=list)
    ranges: dict[int, tuple[int, int]] = field(default_factory=dict)
    since_ms: int | None = None
    dead_lettered: int = 0

    @property
    def read(self) -> int:
        return sum(end - start for start, end in self.ranges.values())


def start_offsets(
    watermarks: dict[int, tuple[int, int]],
    by_time: dict[int, int] | None,
    max_rows: int | None = None,
) -> dict[int, tuple[int, int]]:
    """``partition -> (start, end)`` to read, from the watermarks, the offsets Kafka's time
    index gave (-1 or missing: no message that recent) and a per-partition cap.

    >>> start_offsets({0: (0, 100), 1: (5, 50), 2: (0, 0)}, {0: 60, 1: -1}, max_rows=30)
    {0: (70, 100), 1: (50, 50), 2: (0, 0)}
    >>> start_offsets({0: (10, 100)}, None)
    {0: (10, 100)}
    """
    ranges = {}
    for p, (low, high) in sorted(watermarks.items()):
        start = low
        if by_time is not None:
            found = by_time.get(p, -1)
            start = high if found < 0 else max(low, found)
        if max_rows is not None:
            # No single partition can hold more of the most recent rows than max_rows.
            start = max(start, high - max_rows)
        ranges[p] = (min(start, high), high)
    return ranges


class LabeledSource:
    """Reads labeled rows of one topic; remembers what it dead-lettered across reads."""

    def __init__(
        self,
        kafka: KafkaSettings,
        topic: str,
        dead_letters: DeadLetterWriter | None = None,
        *,
        margin: float = 300.0,
        timeout: float = 10.0,
        times: TimeRange | None = None,
    ) -> None:
        self._kafka = kafka
        self._times = times
        self.topic = topic
        self._dead = dead_letters
        self._margin = margin
        self._timeout = timeout
        self._reported: set[tuple[int, int]] = set()

    def read(self, window: float | None, max_rows: int | None = None) -> LabeledRead:
        """Rows written in the last ``window`` (+ margin) seconds before the newest message
        (``None``: every row), at most ``max_rows`` per partition."""
        with Consumer(self._kafka, commit="manual") as consumer:
            marks = consumer.topic_watermarks(self.topic, self._timeout)
            since_ms = None
            by_time = None
            if window is not None:
                newest = self._newest_timestamp(consumer, marks)
                if newest is not None:
                    since_ms = int(newest - (window + self._margin) * 1000)
                    by_time = consumer.offsets_for_times(
                        self.topic, dict.fromkeys(marks, since_ms), self._timeout
                    )
        return self._read(LabeledRead(ranges=start_offsets(marks, by_time, max_rows),
                                      since_ms=since_ms))

    def read_range(self, start: float, end: float) -> LabeledRead:
        """The rows whose event time is in ``[start, end)`` (seconds since the epoch)."""
        if end <= start:
            raise ValueError(f"an empty event-time range: {start} to {end}")
        since_ms = max(int((start - self._margin) * 1000), 0)
        with Consumer(self._kafka, commit="manual") as consumer:
            marks = consumer.topic_watermarks(self.topic, self._timeout)
            by_time = consumer.offsets_for_times(self.topic, dict.fromkeys(marks, since_ms),
                                                 self._timeout)
        return self._read(LabeledRead(ranges=start_offsets(marks, by_time), since_ms=since_ms),
                          keep=lambda event: start <= event.event_time < end)

    def _read(self, result: LabeledRead,
              keep: Callable[[LabeledEvent], bool] | None = None) -> LabeledRead:
        """Read ``result.ranges`` into ``result`` (the rows ``keep`` accepts, or all),
        dead-lettering what does not decode."""
        for msg in iter_range(self._kafka, self.topic, result.ranges,
                              idle_timeout=max(self._timeout, 10.0)):
            try:
                event = decode_value(LabeledEvent, msg.value(), self._times)
            except ContractError as exc:
                position = (msg.partition(), msg.offset())
                if self._dead is not None and position not in self._reported:
                    self._reported.add(position)
                    self._dead.send_message(exc, msg)
                    result.dead_lettered += 1
                continue
            if keep is None or keep(event):
                result.rows.append(SourcedRow(event, msg.topic(), msg.partition(),
                                              msg.offset()))
        log.info(
            "read %d labeled rows from %s (%s)%s",
            len(result.rows),
            self.topic,
            " ".join(f"{p}:{s}-{e}" for p, (s, e) in result.ranges.items()),
            f", {result.dead_lettered} dead-lettered" if result.dead_lettered else "",
        )
        return result

    def _newest_timestamp(
        self, consumer: Consumer, marks: dict[int, tuple[int, int]]
    ) -> int | None:
        """The largest timestamp (ms) among the last message of each partition."""
        last = {p: high - 1 for p, (low, high) in marks.items() if high > low}
        if not last:
            return None
        consumer.assign(TopicPartition(self.topic, p, o) for p, o in last.items())
        newest: int | None = None
        waiting = set(last)
        polls = int(self._timeout / 0.5) + 1
        for _ in range(polls):
            for msg in consumer.consume(len(waiting), 0.5):
                if msg.partition() not in waiting:
                    continue
                waiting.discard(msg.partition())
                kind, ts = msg.timestamp()
                if kind and ts >= 0:
                    newest = ts if newest is None else max(newest, ts)
            if not waiting:
                break
        consumer.unassign()
        if waiting:
            # A compacted or truncated tail; the others still give a bound.
            log.warning("no last message read from %s partitions %s", self.topic, waiting)
        return newest
