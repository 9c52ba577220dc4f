"""Join slots of one partition in memory, with the writes not yet sent to their changelog.

The monitor keeps each partition's join slots (:class:`~monitor.join.JoinState`'s store) in a
:class:`ChangelogStore`: a dict that remembers which keys changed since the last
:meth:`~ChangelogStore.take_writes`. The worker sends those writes to a compacted changelog
topic (key = prediction id, value = the slot, or a tombstone for a deleted slot) once per
checkpoint, not once per event: a slot written twice in one interval (waiting, then joined)
goes out once. A restarted worker rebuilds the store from the changelog with
:meth:`~ChangelogStore.restore` (the last value per key wins, a tombstone deletes).

>>> store = ChangelogStore()
>>> store["p1"] = b"waiting"
>>> store["p1"] = b"joined"
>>> store["p2"] = b"waiting"
>>> del store["p2"]
>>> store.take_writes()
[('p1', b'joined'), ('p2', None)]
>>> store.take_writes()
[]
>>> restored = ChangelogStore.restore([(b"p1", b"waiting"), (b"p2", b"x"), (b"p1", b"joined"),
...                                    (b"p2", None)])
>>> dict(restored), restored.take_writes()
({'p1': b'joined'}, [])
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, MutableMapping

__all__ = ["ChangelogStore"]


class ChangelogStore(MutableMapping[str, bytes]):
    """``str -> bytes`` in memory, tracking the keys changed since the last flush."""

    __slots__ = ("_data", "_dirty")

    def __init__(self) -> None:
        self._data: dict[str, bytes] = {}
        self._dirty: dict[str, bytes | None] = {}

    @classmethod
    def restore(cls, records: Iterable[tuple[bytes, bytes | None]]) -> ChangelogStore:
        """Rebuild from changelog records in offset order (nothing left to write)."""
        store = cls()
        data = store._data
        for key, value in records:
            k = key.decode()
            if value is None:
                data.pop(k, None)
            else:
                data[k] = value
        return store

    def take_writes(self) -> list[tuple[str, bytes | None]]:
        """The last value of every key changed since the previous call (None: deleted)."""
        writes = list(self._dirty.items())
        self._dirty.clear()
        return writes

    @property
    def unwritten(self) -> int:
        """Keys changed and not yet taken."""
        return len(self._dirty)

    def __getitem__(self, key: str) -> bytes:
        return self._data[key]

    def get(self, key: str, default: bytes | None = None) -> bytes | None:  # type: ignore[override]
        return self._data.get(key, default)

    def __setitem__(self, key: str, value: bytes) -> None:
        self._data[key] = value
        self._dirty[key] = value

    def __delitem__(self, key: str) -> None:
        del self._data[key]
        self._dirty[key] = None

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)
