"""The record a replay leaves behind, for a backtest to cite and to rerun from: which messages
of which topic were copied where.

A one-topic replay (``driftline replay --topic``) writes a :class:`ReplayManifest`; a replay of
several topics under a prefix (``driftline replay --topics``) writes a
:class:`PrefixReplayManifest` holding one per topic, with the prefix and the requested
event-time range, which ``driftline backtest --manifest`` reads (:func:`read_manifest`).

>>> m = ReplayManifest(replay_id="r1", created_at="2026-11-27T18:00:00+00:00",
...     source_topic="predictions", target_topic="predictions-replay", requested_from="earliest",
...     requested_to="latest", speed="max", partitioning="same-partition",
...     ranges=[PartitionRange(partition=0, start_offset=10, end_offset=20, count=10,
...                            first_offset=10, last_offset=19)])
>>> m.count, m.offset_ranges()
(10, [OffsetRange(topic='predictions', partition=0, first_offset=10, last_offset=19)])
>>> ReplayManifest.from_json(m.to_json()) == m
True
>>> multi = PrefixReplayManifest(replay_id="r2", created_at="2026-11-27T18:00:00+00:00",
...     source_prefix="", target_prefix="bt1.", requested_from="2026-11-27T10:00:00Z",
...     requested_to="2026-11-27T12:00:00Z", time="event", event_from=1795773600.0,
...     event_to=1795780800.0, partner_window=86400.0, topics=[m])
>>> read_manifest_bytes(multi.to_json()).backtest_range()
('bt1.', 1795773600.0, 1795780800.0)
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import msgspec

from driftline.errors import DriftlineError
from driftline.events import OffsetRange

__all__ = [
    "ManifestError",
    "PartitionRange",
    "PrefixReplayManifest",
    "ReplayManifest",
    "TimeBasis",
    "read_manifest",
    "read_manifest_bytes",
]

MANIFEST_VERSION = 1

TimeBasis = Literal["event", "kafka"]
"""What the times of a range mean: the payload's event time, or Kafka's timestamps."""


class ManifestError(DriftlineError):
    """A manifest file that cannot be read, or cannot serve as asked."""


def _write(path: Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` whole (parents created, renamed into place)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_bytes(data + b"\n")
    tmp.replace(path)
    return path


class PartitionRange(msgspec.Struct, kw_only=True, frozen=True):
    """One source partition: the requested offsets ``[start_offset, end_offset)`` and what was
    copied from them (offsets can be missing inside a range, e.g. after compaction)."""

    partition: int
    start_offset: int
    end_offset: int
    count: int
    first_offset: int | None = None
    last_offset: int | None = None
    first_timestamp_ms: int | None = None
    last_timestamp_ms: int | None = None
    target_partition: int | None = None  # same-partition copies: where it went


class ReplayManifest(msgspec.Struct, kw_only=True, frozen=True):
    """Source topic, per-partition offset ranges, count and target of one replay."""

    manifest_version: int = MANIFEST_VERSION
    replay_id: str
    created_at: str
    source_topic: str
    target_topic: str
    requested_from: str
    requested_to: str
    speed: str
    time: TimeBasis = "kafka"  # what times in the range mean: payload event time or Kafka's
    event_from: float | None = None  # the event-time range resolved to ``ranges`` (seconds)
    event_to: float | None = None
    partitioning: Literal["same-partition", "by-key"]
    ranges: list[PartitionRange]
    elapsed_s: float = 0.0
    target_end_offsets_before: dict[int, int] = {}
    target_end_offsets_after: dict[int, int] = {}
    notes: list[str] = []

    @property
    def count(self) -> int:
        """Messages copied."""
        return sum(r.count for r in self.ranges)

    @property
    def rate(self) -> float:
        """Messages copied per second of the replay."""
        return self.count / self.elapsed_s if self.elapsed_s > 0 else 0.0

    def offset_ranges(self) -> list[OffsetRange]:
        """The copied source ranges as :class:`~driftline.events.OffsetRange` evidence."""
        return [
            OffsetRange(
                topic=self.source_topic,
                partition=r.partition,
                first_offset=r.first_offset,
                last_offset=r.last_offset,
            )
            for r in self.ranges
            if r.first_offset is not None and r.last_offset is not None
        ]

    def to_json(self) -> bytes:
        payload = msgspec.to_builtins(self)
        payload["count"] = self.count  # convenience for readers of the file
        return msgspec.json.format(msgspec.json.encode(payload), indent=2)

    @classmethod
    def from_json(cls, data: bytes | str) -> ReplayManifest:
        raw = msgspec.json.decode(data)
        raw.pop("count", None)
        return msgspec.convert(raw, cls, strict=False)

    def write(self, path: Path) -> Path:
        """Write the manifest (parents created) and return its path."""
        return _write(path, self.to_json())

    @classmethod
    def read(cls, path: Path) -> ReplayManifest:
        return cls.from_json(path.read_bytes())


class PrefixReplayManifest(msgspec.Struct, kw_only=True, frozen=True):
    """A replay of several topics into ``target_prefix``: the requested range (by event
    time, ``[event_from, event_to)``; labels are copied up to ``partner_window`` seconds
    later) and each topic's own manifest."""

    manifest_version: int = MANIFEST_VERSION
    kind: Literal["prefix"] = "prefix"
    replay_id: str
    created_at: str
    source_prefix: str
    target_prefix: str
    requested_from: str
    requested_to: str
    time: TimeBasis = "event"
    event_from: float | None = None
    event_to: float | None = None
    partner_window: float = 0.0
    topics: list[ReplayManifest] = []

    @property
    def count(self) -> int:
        """Messages copied, every topic together."""
        return sum(t.count for t in self.topics)

    def backtest_range(self) -> tuple[str, float, float]:
        """``(prefix, start, end)`` for a backtest of the copied range: the target prefix and
        the requested event times. ManifestError when the replay was not by event time, or
        its range was open at an end."""
        if self.time != "event" or self.event_from is None or self.event_to is None:
            raise ManifestError(
                f"replay {self.replay_id} was not of an event-time range ({self.requested_from}"
                f" .. {self.requested_to}, by {self.time} time); give --from and --to")
        return self.target_prefix, self.event_from, self.event_to

    def to_json(self) -> bytes:
        payload = msgspec.to_builtins(self)
        payload["count"] = self.count
        for topic, manifest in zip(payload["topics"], self.topics, strict=True):
            topic["count"] = manifest.count
        return msgspec.json.format(msgspec.json.encode(payload), indent=2)

    def write(self, path: Path) -> Path:
        """Write the manifest (parents created) and return its path."""
        return _write(path, self.to_json())


def read_manifest_bytes(data: bytes | str) -> ReplayManifest | PrefixReplayManifest:
    """The manifest in ``data``, of one topic or of several under a prefix."""
    try:
        raw = msgspec.json.decode(data)
    except msgspec.DecodeError as exc:
        raise ManifestError(f"not a replay manifest: {exc}") from None
    if not isinstance(raw, dict):
        raise ManifestError("not a replay manifest: a JSON object is expected")
    raw.pop("count", None)
    for topic in raw.get("topics") or []:
        if isinstance(topic, dict):
            topic.pop("count", None)
    cls: type[ReplayManifest | PrefixReplayManifest] = (
        PrefixReplayManifest if raw.get("kind") == "prefix" else ReplayManifest)
    try:
        return msgspec.convert(raw, cls, strict=False)
    except msgspec.ValidationError as exc:
        raise ManifestError(f"not a replay manifest: {exc}") from None


def read_manifest(path: Path) -> ReplayManifest | PrefixReplayManifest:
    """The manifest in the file ``path`` (ManifestError naming the file when unreadable)."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ManifestError(f"cannot read manifest {path}: {exc.strerror}") from None
    try:
        return read_manifest_bytes(data)
    except ManifestError as exc:
        raise ManifestError(f"{path}: {exc}") from None
