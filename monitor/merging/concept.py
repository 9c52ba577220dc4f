"""One concept detector per model version over the labeled pairs of every partition.

Each source partition sends the errors of the pairs it joins in short label-time buckets
(:class:`~monitor.state.error_buckets.BucketShare`, in partials of kind ``"errors"``) and,
with its heartbeats, how far it has sent them (``concept_watermark``). :class:`ConceptPool`
keeps the shares until every active partition has passed their bucket's end
(:meth:`ConceptPool.feed`, given that low mark by the merger), then feeds them to the
version's :class:`~monitor.drift.concept.ConceptDriftDetector` in order of the bucket's
start, the partitions of one bucket in order of their number, each share's pairs in the
order they joined. A detection names the share holding the pair at which it fired: its
largest label time is the detection's time, its offset ranges the evidence.

The detector's threshold counts every label of the version once (the contract's concept
budget over ``label_rate`` labels a second of the whole version), as one detector over one
stream would.

Restarts. Per version the store (a faust table in the app) holds the detector's state and,
per partition, the end of the last bucket fed from it (:class:`PoolState`). A share ending
at or before that (a partial read again after a restart, or sent again by a restarted
source) is a duplicate and is dropped, as is a second share of one bucket from one
partition while the first waits. A share of a bucket older than what was fed already from
other partitions (its partition was idle, or caught up late) is fed with the next batch.
The publisher acknowledges an ``"errors"`` partial once :meth:`ConceptPool.is_fed` says
every share in it was fed and the store's writes are out.

>>> from monitor.state.error_buckets import ErrorBuckets
>>> pool = ConceptPool()
>>> shares = []
>>> for p in (0, 1):
...     buckets = ErrorBuckets(width=1.0, partition=p)
...     buckets.add("m", "1", [5.5, 5.6], [0, 1], "labels", [10 * p, 10 * p + 1])
...     shares += [s for _, _, s in buckets.advance(6.2)]
>>> for p, share in enumerate(shares):
...     pool.add("m", "1", p, [share])
>>> pool.feed(5.0), pool.pending
([], 2)
>>> pool.feed(6.0), pool.pending, pool.state("m", "1").detector.n
([], 0, 4)
>>> pool.add("m", "1", 0, [shares[0]])  # the same share again: fed already
>>> pool.pending
0
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, MutableMapping
from dataclasses import dataclass
from typing import NamedTuple

import msgspec
import numpy as np

from driftline.events import FeatureStatistic, OffsetRange
from monitor.drift.concept import ConceptDriftDetector, ConceptState
from monitor.state.error_buckets import BucketShare

__all__ = ["ConceptParams", "ConceptPool", "Found", "PoolState"]


@dataclass(frozen=True)
class ConceptParams:
    """The concept detectors' settings: expected labeled events per second of a version (all
    partitions together), cuts per level of the scan, warm-up in labeled events."""

    label_rate: float = 1.0
    cuts: int = 8
    warmup: int = 1000


class PoolState(msgspec.Struct, kw_only=True):
    """One model version's pooled detector: its state, and per partition (its number as a
    string) the end of the last bucket fed from it."""

    detector: ConceptState = msgspec.field(default_factory=ConceptState)
    fed: dict[str, float] = {}


class Found(NamedTuple):
    """A detection: the model version, the label time of the share holding the pair at which
    it fired, its statistics, the share's evidence, and how many partitions the batch fed
    came from."""

    model_name: str
    model_version: str
    label_time: float
    statistics: list[FeatureStatistic]
    evidence: list[OffsetRange]
    partitions: int


_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(PoolState)


def _errors(shares: list[BucketShare], counts: np.ndarray) -> np.ndarray:
    """The shares' errors end to end, one 0/1 per pair, unpacked in one call: each share's
    bytes give its first ``count`` bits (the rest pad its last byte).

    >>> from monitor.state.error_buckets import BucketShare
    >>> a = BucketShare(start=0.0, end=1.0, count=3, errors=bytes([0b10100000]), label_time=0.5)
    >>> b = BucketShare(start=1.0, end=2.0, count=9, errors=bytes([255, 0]), label_time=1.5)
    >>> _errors([a, b], np.array([3, 9])).tolist()
    [1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0]
    """
    if len(shares) == 1:
        return shares[0].bits()
    sizes = np.fromiter((len(s.errors) for s in shares), np.int64, len(shares)) * 8
    if bool((sizes < counts).any()):  # (a share short of bits: bits() says what it holds)
        return np.concatenate([s.bits() for s in shares])
    bits = np.unpackbits(np.frombuffer(b"".join([s.errors for s in shares]), dtype=np.uint8))
    starts = np.cumsum(sizes) - sizes
    within = np.arange(len(bits)) - np.repeat(starts, sizes)  # each bit's place in its share
    return bits[within < np.repeat(counts, sizes)]


class ConceptPool:
    """Pools every partition's error buckets into one detector per model version.

    ``store`` keeps a :class:`PoolState` per ``"<model>\\t<version>"`` (default: a dict);
    ``false_alarms(model_name)`` is the model's contract (default: 1 for every model).
    """

    def __init__(self, store: MutableMapping[str, bytes] | None = None,
                 params: ConceptParams | None = None,
                 false_alarms: Callable[[str], float] = lambda _name: 1.0) -> None:
        self.store: MutableMapping[str, bytes] = {} if store is None else store
        self.params = params or ConceptParams()
        self.false_alarms = false_alarms
        self._states: dict[tuple[str, str], PoolState] = {}  # read from the store once
        # per version: (bucket start, partition) -> the share waiting to be fed
        self._pending: dict[tuple[str, str], dict[tuple[float, int], BucketShare]] = {}
        # per version: a heap of (bucket end, bucket start, partition), one entry per share
        # waiting, so that feed() takes the ready ones without looking at the others
        self._ends: dict[tuple[str, str], list[tuple[float, float, int]]] = {}
        self.duplicates = 0  # shares dropped as fed or waiting already

    @property
    def pending(self) -> int:
        """Shares waiting to be fed."""
        return sum(map(len, self._pending.values()))

    def state(self, model_name: str, model_version: str) -> PoolState:
        """The version's pooled detector state (the stored one; a fresh one before any)."""
        key = (model_name, model_version)
        found = self._states.get(key)
        if found is None:
            data = self.store.get(f"{model_name}\t{model_version}")
            found = self._states[key] = PoolState() if data is None else _decoder.decode(data)
        return found

    def add(self, model_name: str, model_version: str, partition: int,
            shares: list[BucketShare]) -> None:
        """Take a partition's shares of a version, unless fed or waiting already."""
        fed = self.state(model_name, model_version).fed.get(str(partition))
        version = (model_name, model_version)
        waiting = self._pending.setdefault(version, {})
        ends = self._ends.setdefault(version, [])
        for share in shares:
            key = (share.start, partition)
            if (fed is not None and share.end <= fed) or key in waiting:
                self.duplicates += 1
                continue
            waiting[key] = share
            heapq.heappush(ends, (share.end, share.start, partition))

    def is_fed(self, model_name: str, model_version: str, partition: int,
               shares: list[BucketShare]) -> bool:
        """Whether every one of a partition's shares has been fed to the detector (true of
        none)."""
        fed = self.state(model_name, model_version).fed.get(str(partition))
        return all(fed is not None and share.end <= fed for share in shares)

    def feed(self, through: float) -> list[Found]:
        """Feed every waiting share whose bucket ends at or before ``through`` (every active
        partition has sent its shares of it) to its version's detector, in bucket order;
        the detections."""
        out: list[Found] = []
        emptied = False
        for version, waiting in self._pending.items():
            ends = self._ends[version]
            if not ends or ends[0][0] > through:
                continue
            ready = []
            while ends and ends[0][0] <= through:
                _, start, partition = heapq.heappop(ends)
                ready.append((start, partition))
            ready.sort()
            out += self._feed(version, [(key[1], waiting.pop(key)) for key in ready])
            emptied = emptied or not waiting
        if emptied:
            self._pending = {v: w for v, w in self._pending.items() if w}
            self._ends = {v: self._ends[v] for v in self._pending}
        return out

    def detector(self, model_name: str, model_version: str) -> ConceptDriftDetector:
        """The version's detector, with its model's contract and the stored state."""
        detector = ConceptDriftDetector(
            false_alarms=self.false_alarms(model_name), label_rate=self.params.label_rate,
            cuts=self.params.cuts, warmup=self.params.warmup)
        detector.restore(self.state(model_name, model_version).detector)
        return detector

    def _feed(self, version: tuple[str, str], shares: list[tuple[int, BucketShare]]
              ) -> list[Found]:
        name, number = version
        state = self.state(name, number)
        detector = self.detector(name, number)
        counts = np.fromiter((s.count for _, s in shares), np.int64, len(shares))
        errors = _errors([s for _, s in shares], counts)
        fired = detector.update_errors(errors)
        ends = np.cumsum(counts)
        out = []
        for found in fired:
            partition, share = shares[int(np.searchsorted(ends, found.index, side="right"))]
            stats = [FeatureStatistic(feature="error_rate", statistic=n, value=found.error_rate,
                                      threshold=found.error_rate_before, drifted=True,
                                      feature_type="metric")
                     for n in found.detectors]
            out.append(Found(name, number, share.label_time, stats, list(share.evidence),
                             len({p for p, _ in shares})))
        fed = dict(state.fed)
        for partition, share in shares:
            fed[str(partition)] = max(fed.get(str(partition), share.end), share.end)
        new = PoolState(detector=detector.state(), fed=fed)
        self._states[version] = new
        self.store[f"{name}\t{number}"] = _encoder.encode(new)
        return out
