"""The monitor's source loop over a fixed range of history, read to its end.

:class:`RangeLoop` is :class:`~monitor.worker.source_loop.SourceLoop` (the same decoding,
alignment of the two topics, join, windows and concept detectors as the live monitor) with
three differences: it assigns itself the partitions of both topics between fixed offsets
instead of joining a consumer group, it keeps only the events whose event time is inside the
range (and of the chosen model), and when a partition has been read to its end it closes
that partition's windows up to the end of the range (:meth:`PartitionState.finish`). What
the live loop writes to Kafka goes to a :class:`~monitor.backtest.sink.MemorySink` (the
partials as they are, not encoded).

Which offsets: from the first message stamped (Kafka time) at or after the start less
``lookback`` (a message is stamped when produced, so never before its event happened),
to each partition's end when the backtest starts; a topic partition stops early at its
first event later than ``read_until`` (the end of the range plus the grace, the label wait
and the alignment slack: what the live monitor waits for before it closes the range's last
windows).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from confluent_kafka import Message, TopicPartition
from prometheus_client import CollectorRegistry

from driftline.kafka import Consumer
from driftline.settings import KafkaSettings
from monitor.backtest.sink import MemorySink
from monitor.settings import MonitorSettings
from monitor.state.partition import Partial, PartitionState
from monitor.worker.metrics import SourceMetrics
from monitor.worker.source_loop import SourceLoop, _Bad, _Run, internal_topics

__all__ = ["RangeLoop", "ReadRange", "range_consumer"]

log = logging.getLogger(__name__)


def range_consumer(kafka: KafkaSettings) -> Consumer:
    """The consumer a range is read through: no group, an error for an offset out of range,
    and large fetches (per partition too) with a deep local queue, so that history arrives
    in few round trips."""
    return Consumer(kafka, None, offset_reset="error", strict=True, options={
        "fetch.max.bytes": 52_428_800,
        "max.partition.fetch.bytes": 10_485_760,
        "queued.max.messages.kbytes": 262_144,
    })


TopicPartitionKey = tuple[str, int]


@dataclass
class ReadRange:
    """What a backtest reads: event times ``[start, end]`` (seconds), the model's
    predictions only (``model_name``/``model_version``; None: all), and how far to read past
    ``end`` in event time (``read_until``)."""

    start: float
    end: float
    read_until: float
    model_name: str | None = None
    model_version: str | None = None
    lookback: float = 60.0
    offsets: dict[TopicPartitionKey, tuple[int, int]] = field(default_factory=dict)


class RangeLoop(SourceLoop):
    """Reads a range of ``predictions`` and ``labels`` through the source loop's path."""

    def __init__(self, settings: MonitorSettings, profiles: Any, sink: MemorySink,
                 reading: ReadRange) -> None:
        super().__init__(settings, self.app_id(settings), profiles,
                         SourceMetrics(CollectorRegistry()), producer=sink)
        self.sink = sink
        self.reading = reading
        # never checkpointed: the join needs no record of where each event was read
        self.config = dataclasses.replace(self.config, join_sources=False)
        self.write_labeled = sink.keep_labeled  # else the pairs are only counted
        self._open: dict[TopicPartitionKey, int] = {}  # topic partition -> end offset
        self._beyond: set[TopicPartitionKey] = set()  # read past ``read_until``
        self._finished: set[int] = set()
        self.read = 0  # messages read
        self.planned = 0  # messages in the offset ranges
        self.outside = 0  # events read and left out (time range, another model)

    @staticmethod
    def app_id(settings: MonitorSettings) -> str:
        """The name its (never written) internal topics are derived from."""
        return f"{settings.kafka.topic_prefix}backtest"

    @classmethod
    def partials_topic(cls, settings: MonitorSettings) -> str:
        """Where the loop sends partials (to its sink: the name only tells them apart)."""
        return internal_topics(cls.app_id(settings))["partials"]

    # -- the range --------------------------------------------------------------------------

    def plan(self) -> dict[TopicPartitionKey, tuple[int, int]]:
        """Resolve the offset ranges of both topics (kept in ``reading.offsets``)."""
        consumer = self._consumer = range_consumer(self.kafka)
        since_ms = max(int((self.reading.start - self.reading.lookback) * 1000), 0)
        ranges: dict[TopicPartitionKey, tuple[int, int]] = {}
        for topic in (self.predictions, self.labels):
            marks = consumer.topic_watermarks(topic)
            self._partition_counts[topic] = len(marks)
            found = consumer.offsets_for_times(topic, dict.fromkeys(marks, since_ms))
            for p, (low, high) in marks.items():
                first = found.get(p, -1)
                start = high if first is None or first < 0 else max(first, low)
                ranges[(topic, p)] = (start, high)
        counts = set(self._partition_counts.values())
        if len(counts) != 1:
            raise ValueError(f"{self.predictions} and {self.labels} have different partition "
                             f"counts ({self._partition_counts}); the join needs them equal")
        self.reading.offsets = ranges
        self.planned = sum(end - start for start, end in ranges.values())
        return ranges

    def run_to_end(self, progress: Callable[[int, int], None] | None = None) -> None:
        """Read every range to its end, then close every partition's windows up to the end
        of the range."""
        if not self.reading.offsets:
            self.plan()
        consumer = self._consumer
        assert consumer is not None
        partitions = sorted({p for _, p in self.reading.offsets})
        for p in partitions:
            self.states[p] = PartitionState(p, self.config, {}, self.profiles)
        self._open = {tp: end for tp, (start, end) in self.reading.offsets.items()
                      if start < end}
        consumer.assign([TopicPartition(t, p, self.reading.offsets[(t, p)][0])
                         for t, p in self._open])
        try:
            self._finish_done(partitions)
            while self._open:
                messages = consumer.consume(self.batch_size, 0.5)
                self.read += len(messages)
                if messages or self._parked:
                    self.apply(messages)  # (_decoded keeps what is inside the ranges)
                if not messages:
                    self._at_end(consumer)
                self._close_read()
                self._finish_done(partitions)
                if progress is not None:
                    progress(self.read, self.planned)
            if self._parked:
                self.apply([])
            self._finish_done(partitions, force=True)
        finally:
            consumer.close()

    def _at_end(self, consumer: Consumer) -> None:
        """After an empty fetch: the open topic partitions whose position reached their end
        (their last messages were not decoded events: moved or dead-lettered)."""
        positions = consumer.position([TopicPartition(*tp) for tp in self._open])
        for tp in positions:
            if tp.offset >= 0 and tp.offset >= self._open[(tp.topic, tp.partition)]:
                self._beyond.add((tp.topic, tp.partition))

    def _close_read(self) -> None:
        """Stop reading the topic partitions read to their end, or past ``read_until``."""
        done = self._beyond & set(self._open)
        self._beyond.clear()
        if done:
            for tp in done:
                del self._open[tp]
            assert self._consumer is not None
            self._consumer.pause([TopicPartition(*tp) for tp in done])

    def _finish_done(self, partitions: list[int], force: bool = False) -> None:
        """Close the windows of each partition whose two topics are read and applied."""
        open_partitions = {p for _, p in self._open}
        for p in partitions:
            if p in self._finished or (not force and (p in open_partitions
                                                      or p in self._parked)):
                continue
            self._finished.add(p)
            for partial in self.states[p].finish(self.reading.end):
                self._send(partial)

    # -- the source loop's hooks ------------------------------------------------------------

    def _send(self, partial: Partial) -> None:
        """Hand a partial to the sink as it is (the live loop encodes it for Kafka)."""
        self.sink.take(partial)

    def _lag(self, consumer: Consumer, topic: str, p: int,  # type: ignore[override]
             state: PartitionState) -> int:
        """Whether a topic partition has events left to read (1) or not (0)."""
        return int((topic, p) in self._open)

    def _decoded(self, topic: str, run: list[Message]) -> list[_Run | _Bad]:
        """The source loop's decoding of the part of ``run`` inside its offset range,
        keeping the events of the range (and the model)."""
        tp = (topic, run[0].partition())
        end = self.reading.offsets[tp][1]
        if run[-1].offset() + 1 >= end:  # read to the end of its range
            self._beyond.add(tp)
            if run[-1].offset() >= end:  # (written after the backtest started)
                run = [m for m in run if m.offset() < end]
                if not run:
                    return []
        parts = super()._decoded(topic, run)
        reading = self.reading
        low, high = reading.start, reading.read_until
        model, version = reading.model_name, reading.model_version
        out: list[_Run | _Bad] = []
        for part in parts:
            if not isinstance(part, _Run):
                out.append(part)
                continue
            times = part.times
            if not times:
                continue
            first, last = min(times), max(times)
            if last > high:
                self._beyond.add(tp)
            if model is None and low <= first and last <= high:
                out.append(part)  # all of it (the common case: no per-event look)
                continue
            keep = [i for i, (t, e) in enumerate(zip(times, part.events, strict=True))
                    if low <= t <= high and _of_model(e, model, version)]
            if len(keep) == len(times):
                out.append(part)
                continue
            self.outside += len(times) - len(keep)
            if keep:
                out.append(_Run([part.offsets[i] for i in keep],
                                [part.events[i] for i in keep],
                                [part.raws[i] for i in keep],
                                [times[i] for i in keep],
                                sum(len(part.raws[i]) for i in keep)))
        return out


def _of_model(event: Any, model: str | None, version: str | None) -> bool:
    """Whether a prediction is of the chosen model (labels carry no model: always)."""
    name = getattr(event, "model_name", None)
    if name is None or model is None:
        return True
    return name == model and (version is None or event.model_version == version)
