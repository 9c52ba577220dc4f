"""The worker's agent on the partials topic: merge, judge once, publish, acknowledge in order.

:class:`WindowPublisher` takes the partials the source loops send (one partition, all of the
worker group's source partitions), merges every partition's share of a window with a
:class:`~monitor.merging.merge.WindowMerger` that judges it once, and publishes each judged
window to the reports topic and its drift events to ``drift-events``, the log and the
webhook. It acknowledges partials strictly in offset order, each once it and all before it
are done, so a restart reads every share of the windows still open again (a partial of
error buckets is done once the concept detector was fed them and its state is written).
Partials that faust's stream stepped over in a rebalance are read back from Kafka
(:class:`~monitor.merging.gaps.OffsetGaps`).
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any, Protocol

import msgspec

from driftline.events import DriftEvent, encode
from driftline.kafka.admin import watermarks
from driftline.kafka.consumer import iter_range
from driftline.kafka.deadletter import dead_letter_for
from monitor.merging.gaps import OffsetGaps
from monitor.merging.merge import WINDOW_SHARES, InOrder, Judged, WindowMerger
from monitor.state.live_versions import LiveVersions
from monitor.state.partition import Partial
from monitor.worker.alerts import WebhookSink, log_alert
from monitor.worker.metrics import PublisherMetrics

__all__ = ["WindowPublisher", "read_partials"]

log = logging.getLogger(__name__)

_partial_decoder = msgspec.json.Decoder(Partial)
_report_encoder = msgspec.json.Encoder()

# in the report's metrics, but with metrics of their own (label coverage, label delay)
_NOT_PERFORMANCE = frozenset({"label_coverage", "delay_mean"})

WindowKey = tuple[str, str, str, float]  # (kind, model name, model version, window start)
ReadBack = Callable[[range], Awaitable[list[tuple[int, bytes]]]]


class Sink(Protocol):
    """Where records go (a faust topic in the worker)."""

    async def send(self, *, key: bytes, value: bytes) -> Any: ...


class WindowPublisher:
    """Merges the partials of one stream and publishes what they judge.

    ``reports`` and ``drift_events``: where judged windows and drift events go; ``drain``:
    waits until everything sent is acknowledged by Kafka (before any partial is acked);
    ``position``: where the last offset handled is kept for the next owner (a faust table);
    ``read_back(offsets)``: the partials at ``offsets`` still in Kafka; ``dead_letters``:
    where a partial that does not decode goes (read from ``source_topic``)."""

    def __init__(
        self,
        merger: WindowMerger,
        metrics: PublisherMetrics,
        *,
        reports: Sink,
        drift_events: Sink,
        drain: Callable[[], Awaitable[None]],
        position: MutableMapping[str, bytes],
        read_back: ReadBack,
        webhook: WebhookSink | None = None,
        dead_letters: Sink | None = None,
        source_topic: str = "",
        version_horizon: float = math.inf,
    ) -> None:
        self.merger = merger
        self.metrics = metrics
        self.reports = reports
        self.drift_events = drift_events
        self.drain = drain
        self.position = position
        self.read_back = read_back
        self.webhook = webhook
        self.dead_letters = dead_letters
        self.source_topic = source_topic
        if dead_letters is not None:
            metrics.dead_lettered.labels(source_topic)  # at 0 from the start
        self.versions = LiveVersions(version_horizon)  # which versions have metric series
        self.order = InOrder()  # the ack order of the partials taken
        self.waiting: dict[WindowKey, list[list[Any]]] = {}  # a window's shares not acked
        self.unfed: list[tuple[Partial, list[Any]]] = []  # error buckets not fed yet
        self.gaps: OffsetGaps | None = None  # made at the first partial, from ``position``
        # The position is written once a second, not per partial: a table write per partial
        # costs the worker's event loop, and an older position only makes the next owner
        # read again what it de-duplicates anyway.
        self.position_due = 0.0
        self.heartbeat_at = 0.0  # when the newest source heartbeat handled was sent

    async def run(self, stream: Any) -> None:
        """Take every event of a faust stream (acknowledged here, not by faust)."""
        async for event in stream.noack().events():
            await self.take(event)

    async def take(self, event: Any) -> None:
        """Handle one event of the stream, after any partials its offset shows were
        stepped over, then ack what is done."""
        offset = event.message.offset
        await self._read_skipped(offset)
        partial = await self._decode(event.value, offset, getattr(event, "key", None))
        held = partial is not None and (_is_share(partial) or partial.kind == "errors")
        entry = self.order.add(event, done=not held)
        if partial is not None:
            await self.handle(partial, entry)
        if time.monotonic() >= self.position_due:
            self.position["0"] = b"%d" % offset
            self.position_due = time.monotonic() + 1.0
        for acked in self.order.release():
            acked.ack()

    async def handle(self, partial: Partial, entry: list[Any] | None) -> None:
        """Merge one partial and publish the windows it completes; ``entry``: its place in
        the ack order (None for one read back from Kafka, whose offset is committed)."""
        share = _window_key(partial)
        if partial.kind == "watermark" and partial.sent_at is not None \
                and partial.sent_at > self.heartbeat_at:
            self.heartbeat_at = partial.sent_at
            self.metrics.heartbeat.set(partial.sent_at)
        if _is_share(partial) and entry is not None:
            self.waiting.setdefault(share, []).append(entry)
        elif partial.kind == "errors" and entry is not None:
            self.unfed.append((partial, entry))
        judged_now = self.merger.add(partial)
        for judged in judged_now:
            await self._publish(judged)
        fed = [entry for p, entry in self.unfed if self._fed(p)] if self.unfed else []
        if judged_now or fed:
            await self.drain()  # the reports, events and table writes are out before any ack
            for judged in judged_now:
                self._done((judged.kind, judged.model_name, judged.model_version,
                            judged.window_start))
        if fed:
            for entry in fed:
                self.order.finish(entry)
            finished = set(map(id, fed))
            self.unfed = [(p, e) for p, e in self.unfed if id(e) not in finished]
        if _is_share(partial) and self.merger.is_judged(partial):
            self._done(share)  # a late share of a window judged before

    def _fed(self, partial: Partial) -> bool:
        return self.merger.concept.is_fed(partial.model_name, partial.model_version,
                                          partial.partition, partial.buckets or [])

    async def _read_skipped(self, offset: int) -> None:
        if self.gaps is None:
            stored = self.position.get("0")
            self.gaps = OffsetGaps(None if stored is None else int(stored))
        skipped = self.gaps.see(offset)
        if not skipped:
            return
        log.warning("the publisher's stream stepped over partials %d-%d (a rebalance); "
                    "reading them from Kafka", skipped.start, skipped.stop - 1)
        for at, raw in await self.read_back(skipped):
            partial = await self._decode(raw, at, None)
            if partial is not None:
                self.metrics.partials_read_back.inc()
                await self.handle(partial, None)

    async def _decode(self, raw: Any, offset: int, key: Any) -> Partial | None:
        """The partial in ``raw``; None for one that does not decode, which goes to the
        dead-letter topic (when there is one) and is acked like any other."""
        try:
            if not isinstance(raw, bytes):
                raise ValueError("the message has no value (a tombstone)" if raw is None
                                 else f"the value is {type(raw).__name__}, not bytes")
            return _partial_decoder.decode(raw)
        except (ValueError, RecursionError) as exc:  # msgspec's errors are ValueErrors
            error = ("the JSON is nested too deeply" if isinstance(exc, RecursionError)
                     else str(exc))
            log.error("unreadable partial at offset %s: %s", offset, error)
            if self.dead_letters is not None:
                letter = dead_letter_for(
                    f"invalid Partial: {error}", source_topic=self.source_topic, partition=0,
                    offset=offset, key=key if isinstance(key, bytes) else None,
                    value=raw if isinstance(raw, bytes) else None, service="monitor")
                await self.dead_letters.send(key=letter.key, value=encode(letter))
                self.metrics.dead_lettered.labels(self.source_topic).inc()
            return None

    async def _publish(self, judged: Judged) -> None:
        if self._live(judged):
            _observe(self.metrics, judged)
        await self.reports.send(key=judged.model_name.encode(),
                                value=_report_encoder.encode(judged))
        for event in judged.events:
            await self.drift_events.send(key=event.key, value=encode(event))
            self._alert(event)

    def _live(self, judged: Judged) -> bool:
        """Whether the judged window's version is live (by window start): a version seen
        for the first time starts its counters at 0, versions that left service lose their
        series and their pooled windows' counts, and a window of a retired version counts
        in no metric."""
        seen = self.versions.see(judged.model_name, judged.model_version, judged.window_start)
        for model, version in seen.retired:
            log.info("%s v%s left service: its metric series and pooled windows are removed",
                     model, version)
            self.metrics.retire(model, version)
            self.merger.retire(model, version)
        if seen.new:
            self.metrics.start_version(judged.model_name, judged.model_version)
        return seen.live

    def _alert(self, event: DriftEvent) -> None:
        log_alert(event)
        if self.webhook is not None:
            self.webhook.submit(event)

    def _done(self, key: WindowKey) -> None:
        for entry in self.waiting.pop(key, []):
            self.order.finish(entry)


def read_partials(kafka: Any, topic: str) -> ReadBack:
    """A ``read_back`` for :class:`WindowPublisher`: the partials at the given offsets of
    ``topic`` (one partition) still in Kafka, read in a thread."""

    def read(offsets: range) -> list[tuple[int, bytes]]:
        low, high = watermarks(kafka, topic)[0]
        start, stop = max(offsets.start, low), min(offsets.stop, high)
        return [(m.offset(), m.value()) for m in iter_range(kafka, topic, {0: (start, stop)})]

    async def read_back(offsets: range) -> list[tuple[int, bytes]]:
        return await asyncio.get_running_loop().run_in_executor(None, read, offsets)

    return read_back


def _is_share(partial: Partial) -> bool:
    """Whether the partial is a partition's share of a window (not a heartbeat or an alarm)."""
    return partial.kind in WINDOW_SHARES


def _window_key(partial: Partial) -> WindowKey:
    return (partial.kind, partial.model_name, partial.model_version, partial.window_start)


def _observe(metrics: PublisherMetrics, judged: Judged) -> None:
    labels = (judged.model_name, judged.model_version)
    metrics.windows.labels(*labels, judged.kind).inc()
    if judged.drift is not None:
        report = judged.drift
        metrics.window_rows.labels(*labels).set(report.rows)
        metrics.drifted_ratio.labels(*labels).set(report.share_drifted)
        for j in [*report.features, *([report.score] if report.score else [])]:
            for stat in j.statistics:
                metrics.statistic.labels(*labels, j.feature, stat.statistic).set(stat.value)
    if judged.performance is not None:
        performance = judged.performance
        if performance.label_coverage is not None:
            metrics.label_coverage.labels(*labels).set(performance.label_coverage)
        for name, value in performance.metrics().items():
            if name not in _NOT_PERFORMANCE:
                metrics.performance.labels(*labels, name).set(value)
    if judged.estimate is not None and judged.kind == "estimate":  # the newest window's
        for name, value in judged.estimate.metrics().items():
            metrics.estimated.labels(*labels, name).set(value)
    for event in judged.events:
        metrics.drift_events.labels(event.model_name, event.model_version, event.kind,
                                    event.severity).inc()
