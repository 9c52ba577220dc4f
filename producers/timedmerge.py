"""Replay at a finite speed: merge partitions by timestamp and release each message when its
time comes, on the caller's clock.

The first message released fixes the origin; a message stamped ``dt`` seconds after it is due
``dt / speed`` seconds after the first was released. A message is only released once every
partition still open has a message buffered (or is finished), so an earlier message of a
partition the consumer has not reached yet is never overtaken. Within a partition the order
is always kept, even when timestamps go backwards (such a message is simply due at once).

>>> merge = TimedMerge([0, 1], speed=2.0)
>>> merge.add(0, 1_000, "a"); merge.add(0, 3_000, "c")
>>> merge.pop_ready(now=100.0)  # partition 1 may still hold something earlier
[]
>>> merge.add(1, 2_000, "b"); merge.finish(1)
>>> merge.pop_ready(now=100.0), merge.next_due
(['a'], 100.5)
>>> merge.pop_ready(now=100.5), merge.pop_ready(now=101.0), merge.done
(['b'], ['c'], False)
>>> merge.finish(0); merge.done
True
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from typing import Generic, TypeVar

__all__ = ["TimedMerge"]

T = TypeVar("T")


class TimedMerge(Generic[T]):
    """Buffers per partition; releases in timestamp order at ``speed`` x real time."""

    def __init__(self, partitions: Iterable[int], speed: float) -> None:
        if not speed > 0:
            raise ValueError(f"speed must be positive, got {speed}")
        self.speed = speed
        self._buffers: dict[int, deque[tuple[int, T]]] = {p: deque() for p in partitions}
        self._open = set(self._buffers)
        self._origin: tuple[float, int] | None = None  # (clock, timestamp_ms) of the first

    def add(self, partition: int, timestamp_ms: int, item: T) -> None:
        self._buffers[partition].append((timestamp_ms, item))

    def finish(self, partition: int) -> None:
        """No more messages will come for ``partition``."""
        self._open.discard(partition)

    def buffered(self, partition: int) -> int:
        return len(self._buffers[partition])

    @property
    def starving(self) -> list[int]:
        """Open partitions with nothing buffered: releasing waits for them."""
        return [p for p in self._open if not self._buffers[p]]

    @property
    def done(self) -> bool:
        return not self._open and not any(self._buffers.values())

    def _head(self) -> int | None:
        if self.starving:
            return None
        heads = [(buf[0][0], p) for p, buf in self._buffers.items() if buf]
        return min(heads)[1] if heads else None

    def _due(self, timestamp_ms: int) -> float:
        assert self._origin is not None
        clock, ts = self._origin
        return clock + max(0, timestamp_ms - ts) / 1000.0 / self.speed

    @property
    def next_due(self) -> float | None:
        """When the next message is due on the caller's clock (None: waiting for data)."""
        p = self._head()
        if p is None:
            return None
        if self._origin is None:
            return float("-inf")
        return self._due(self._buffers[p][0][0])

    def pop_ready(self, now: float) -> list[T]:
        """Every message due at ``now``, in release order."""
        out: list[T] = []
        while True:
            p = self._head()
            if p is None:
                return out
            timestamp_ms, item = self._buffers[p][0]
            if self._origin is None:
                self._origin = (now, timestamp_ms)
            elif self._due(timestamp_ms) > now:
                return out
            self._buffers[p].popleft()
            out.append(item)
