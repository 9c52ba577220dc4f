"""One partition's joined pairs as the concept detector needs them: 0/1 errors in short
label-time buckets.

The concept detector (:mod:`monitor.drift.concept`) watches the error stream of a model
version over every partition. :class:`ErrorBuckets` keeps, per model version, the errors of
the pairs this partition joined in buckets of ``width`` seconds of label time, in the order
they joined: one bit per pair (packed), with the offset ranges of the events that completed
the pairs (the evidence) and the largest label time among them. A bucket closes once the
partition's events have reached its end (:meth:`advance`: the caller gives the earlier of
the largest label time and the largest prediction time seen, so that no pair of the bucket
is still to join but for events out of order); it leaves as a :class:`BucketShare`, and
:attr:`ErrorBuckets.through` says that every bucket ending at or before it has left. A pair
whose bucket has closed already (an event out of order) counts in the oldest open bucket: a
share once sent never changes. :class:`monitor.merging.concept.ConceptPool` merges the shares of
every partition in bucket order.

The state is plain data (:class:`ErrorBucketsState`), checkpointed with the partition.

>>> buckets = ErrorBuckets(width=1.0, partition=0)
>>> buckets.add("m", "1", [10.2, 10.7, 11.1], [0, 1, 1], "labels", [5, 6, 7])
>>> [(name, share.start, share.count, share.bits().tolist()) for name, _, share
...  in buckets.advance(11.4)]
[('m', 10.0, 2, [0, 1])]
>>> buckets.through
11.0
>>> buckets.add("m", "1", [10.9], [1], "predictions", [3])  # late: in the open bucket
>>> share = buckets.flush()[0][2]
>>> share.start, share.bits().tolist(), [(r.topic, r.first_offset) for r in share.evidence]
(11.0, [1, 1], [('labels', 7), ('predictions', 3)])
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import msgspec
import numpy as np

from driftline.events import OffsetRange

__all__ = ["BucketShare", "ErrorBuckets", "ErrorBucketsState"]


class BucketShare(msgspec.Struct, kw_only=True, frozen=True):
    """One partition's joined pairs of one model version whose (clamped) label times fall in
    ``[start, end)``: ``count`` of them, their errors in join order (``errors``: one bit per
    pair, packed big-endian as :func:`numpy.packbits` does), the largest label time among
    them and the offset ranges of the events that completed them, per topic."""

    start: float
    end: float
    count: int
    errors: bytes
    label_time: float
    evidence: list[OffsetRange] = []

    def bits(self) -> np.ndarray:
        """The errors, one 0/1 per pair in join order."""
        return np.unpackbits(np.frombuffer(self.errors, dtype=np.uint8), count=self.count)


class ErrorBucketsState(msgspec.Struct, kw_only=True):
    """:class:`ErrorBuckets` as plain data: ``through`` (None before any label) and the open
    buckets per ``"<model>\\t<version>"``."""

    through: float | None = None
    open: dict[str, list[BucketShare]] = {}


class _Open:
    """A bucket still filling: its errors in chunks, the largest label time, and the first
    and last offset per topic."""

    __slots__ = ("chunks", "count", "index", "label_time", "ranges")

    def __init__(self, index: int) -> None:
        self.index = index
        self.chunks: list[np.ndarray] = []
        self.count = 0
        self.label_time = -math.inf
        self.ranges: dict[str, list[int]] = {}

    def take(self, errors: np.ndarray, label_time: float, topic: str, first: int,
             last: int) -> None:
        self.chunks.append(errors)
        self.count += len(errors)
        self.label_time = max(self.label_time, label_time)
        found = self.ranges.get(topic)
        if found is None:
            self.ranges[topic] = [first, last]
        else:
            found[0], found[1] = min(found[0], first), max(found[1], last)

    def share(self, width: float, partition: int) -> BucketShare:
        chunks = self.chunks
        bits = (chunks[0] if len(chunks) == 1 else np.concatenate(chunks) if chunks
                else np.zeros(0, dtype=np.uint8))
        return BucketShare(
            start=self.index * width, end=(self.index + 1) * width, count=self.count,
            errors=np.packbits(bits.astype(np.uint8, copy=False)).tobytes(),
            label_time=self.label_time,
            evidence=[OffsetRange(topic=topic, partition=partition, first_offset=first,
                                  last_offset=last)
                      for topic, (first, last) in sorted(self.ranges.items())])

    @classmethod
    def restored(cls, share: BucketShare, width: float) -> _Open:
        found = cls(round(share.start / width))
        found.chunks.append(share.bits())
        found.count = share.count
        found.label_time = share.label_time
        found.ranges = {r.topic: [r.first_offset, r.last_offset] for r in share.evidence}
        return found


class ErrorBuckets:
    """The error buckets of one partition (see the module docstring)."""

    def __init__(self, width: float, partition: int,
                 state: ErrorBucketsState | None = None) -> None:
        if not width > 0:
            raise ValueError("the bucket width must be > 0")
        self.width = width
        self.partition = partition
        state = state or ErrorBucketsState()
        self.through = state.through
        # buckets before this index are closed (None: none is)
        self._first_open: int | None = (None if state.through is None
                                        else math.floor(state.through / width))
        self._open: dict[tuple[str, str], dict[int, _Open]] = {}
        for key, shares in state.open.items():
            name, _, version = key.partition("\t")
            self._open[(name, version)] = {
                (found := _Open.restored(share, width)).index: found for share in shares}

    def add(self, model_name: str, model_version: str, label_times: Sequence[float],
            errors: Sequence[int], topic: str, offsets: Sequence[int]) -> None:
        """Count joined pairs of one model version, in the order they joined: their label
        times, 0/1 errors, and the offsets (in ``topic``) of the events that completed them."""
        if not len(errors):
            return
        times = np.asarray(label_times, dtype=float)
        index = np.floor(times / self.width).astype(np.int64)
        if self._first_open is not None:
            np.maximum(index, self._first_open, out=index)
        bits = np.array(errors, dtype=np.uint8)  # (a copy: the buckets keep slices of it)
        at = np.asarray(offsets, dtype=np.int64)
        if len(index) > 1 and bool((index[1:] < index[:-1]).any()):
            # by bucket, each bucket's pairs still in the order they joined
            order = np.argsort(index, kind="stable")
            index, bits, at, times = index[order], bits[order], at[order], times[order]
        # the stretches of one bucket, each taken in one call
        starts = np.flatnonzero(np.concatenate(([True], index[1:] != index[:-1])))
        ends = [*starts[1:].tolist(), len(index)]
        latest = np.maximum.reduceat(times, starts).tolist()
        lows = np.minimum.reduceat(at, starts).tolist()
        highs = np.maximum.reduceat(at, starts).tolist()
        buckets = self._open.setdefault((model_name, model_version), {})
        for k, start, end, t, low, high in zip(index[starts].tolist(), starts.tolist(), ends,
                                               latest, lows, highs, strict=True):
            found = buckets.get(k)
            if found is None:
                found = buckets[k] = _Open(k)
            found.take(bits[start:end], t, topic, low, high)

    def advance(self, mark: float | None) -> list[tuple[str, str, BucketShare]]:
        """Close every bucket ending at or before the start of the bucket of ``mark`` (the
        time up to which the partition's pairs have joined); their shares, oldest first."""
        if mark is None or not math.isfinite(mark):
            return []
        first_open = math.floor(mark / self.width)
        if self._first_open is not None and first_open <= self._first_open:
            return []
        self._first_open = first_open
        self.through = first_open * self.width
        return self._close(first_open)

    def flush(self) -> list[tuple[str, str, BucketShare]]:
        """Close every open bucket (the end of the input); :attr:`through` moves past them."""
        last = max((k for buckets in self._open.values() for k in buckets), default=None)
        if last is None:
            return []
        first_open = last + 1 if self._first_open is None else max(last + 1,
                                                                    self._first_open)
        self._first_open = first_open
        self.through = first_open * self.width
        return self._close(first_open)

    def _close(self, before: int) -> list[tuple[str, str, BucketShare]]:
        out = []
        for (name, version), buckets in self._open.items():
            for k in sorted(k for k in buckets if k < before):
                out.append((name, version, buckets.pop(k).share(self.width, self.partition)))
        self._open = {v: b for v, b in self._open.items() if b}
        out.sort(key=lambda item: item[2].start)
        return out

    def state(self) -> ErrorBucketsState:
        """The open buckets and :attr:`through`, as plain data."""
        return ErrorBucketsState(through=self.through, open={
            f"{name}\t{version}": [b.share(self.width, self.partition)
                                   for _, b in sorted(buckets.items())]
            for (name, version), buckets in self._open.items()})
