"""The record a replay leaves behind, for a backtest to cite: which messages of which topic were
copied where.

>>> m = ReplayManifest(replay_id="r1", created_at="2026-11-27T18:00:00+00:00",
...     source_topic="predictions", target_topic="predictions-replay", requested_from="earliest",
...     requested_to="latest", speed="max", partitioning="same-partition",
...     ranges=[PartitionRange(partition=0, start_offset=10, end_offset=20, count=10,
...                            first_offset=10, last_offset=19)])
>>> m.count, m.offset_ranges()
(10, [OffsetRange(topic='predictions', partition=0, first_offset=10, last_offset=19)])
>>> ReplayManifest.from_json(m.to_json()) == m
True
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import msgspec

from driftline.events import OffsetRange

__all__ = ["PartitionRange", "ReplayManifest"]

MANIFEST_VERSION = 1


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
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_bytes(self.to_json() + b"\n")
        tmp.replace(path)
        return path

    @classmethod
    def read(cls, path: Path) -> ReplayManifest:
        return cls.from_json(path.read_bytes())
