"""Which consumer offsets may be committed: at-least-once with a decision still pending.

Drift events are decided in order, but the one that triggers a retrain is only decided for
good when the retrain ends, while later events are decided (skipped) at once. A committed
offset says "everything before this is done", so the commit holds at the oldest pending
message of each partition; after a crash, that event and the ones after it come back, and
TriggerPolicy recognises the ones it already answered.

>>> t = CommitTracker()
>>> t.seen(0, 10); t.seen(0, 11, final=False); t.seen(0, 12)
>>> t.to_commit()
{0: 11}
>>> t.committed({0: 11})
>>> t.to_commit()  # nothing new since
{}
>>> t.finish(0, 11)
>>> t.to_commit()
{0: 13}
"""

from __future__ import annotations

__all__ = ["CommitTracker"]


class CommitTracker:
    """Per partition, the next offset to commit, held back by pending decisions."""

    def __init__(self) -> None:
        self._next: dict[int, int] = {}
        self._pending: dict[int, set[int]] = {}
        self._committed: dict[int, int] = {}

    def seen(self, partition: int, offset: int, final: bool = True) -> None:
        """A message was decided (``final``) or its decision waits for :meth:`finish`."""
        self._next[partition] = max(self._next.get(partition, 0), offset + 1)
        if not final:
            self._pending.setdefault(partition, set()).add(offset)

    def finish(self, partition: int, offset: int) -> None:
        """The pending decision about this message is now final."""
        self._pending.get(partition, set()).discard(offset)

    def forget(self, partition: int) -> None:
        """The partition was revoked: another consumer continues from its committed offset."""
        self._next.pop(partition, None)
        self._pending.pop(partition, None)
        self._committed.pop(partition, None)

    def to_commit(self) -> dict[int, int]:
        """``partition -> offset`` to commit, where it moved since the last commit."""
        out = {}
        for partition, nxt in self._next.items():
            pending = self._pending.get(partition)
            offset = min(pending) if pending else nxt
            if self._committed.get(partition) != offset:
                out[partition] = offset
        return out

    def committed(self, offsets: dict[int, int]) -> None:
        """The broker accepted these offsets (a failed commit is simply tried again)."""
        self._committed.update(offsets)
