"""Labels waiting for their time: a heap ordered by due time in simulated seconds.

>>> queue = LabelQueue()
>>> for due, name in [(30.0, "c"), (10.0, "a"), (10.0, "b"), (90.0, "d")]:
...     queue.push(due, name)
>>> queue.pop_due(29.0), len(queue), queue.next_due
(['a', 'b'], 2, 30.0)
>>> queue.pop_due(100.0), len(queue)
(['c', 'd'], 0)
"""

from __future__ import annotations

import heapq
import itertools
from typing import Generic, TypeVar

__all__ = ["LabelQueue"]

T = TypeVar("T")


class LabelQueue(Generic[T]):
    """Items released once the clock passes their due time; ties keep insertion order."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, T]] = []
        self._seq = itertools.count()

    def __len__(self) -> int:
        return len(self._heap)

    @property
    def next_due(self) -> float | None:
        """The earliest due time waiting, or None when empty."""
        return self._heap[0][0] if self._heap else None

    def push(self, due: float, item: T) -> None:
        heapq.heappush(self._heap, (due, next(self._seq), item))

    def pop_due(self, now: float) -> list[T]:
        """Every item due at or before ``now``, earliest first."""
        out: list[T] = []
        heap = self._heap
        while heap and heap[0][0] <= now:
            out.append(heapq.heappop(heap)[2])
        return out

    def drain(self) -> list[T]:
        """Everything left, earliest first (the queue is empty afterwards)."""
        return [heapq.heappop(self._heap)[2] for _ in range(len(self._heap))]
