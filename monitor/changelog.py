"""Join slots of one partition in memory, with the writes not yet sent to their changelog.

The monitor keeps each partition's join slots (:class:`~monitor.join.JoinState`'s store) in a
:class:`ChangelogStore`: a dict of values (slot objects: nothing is encoded per event) that
remembers which keys changed since the last :meth:`~ChangelogStore.take_writes`. The worker
sends those writes, encoded, to a compacted changelog topic (key = prediction id, value = the
slot's bytes, or a tombstone for a deleted slot) once per checkpoint, not once per event: a
slot written twice in one interval (waiting, then joined) goes out once. A restarted worker
rebuilds the store from the changelog with :meth:`~ChangelogStore.restore` (the last value per
key wins, a tombstone deletes).

>>> store = ChangelogStore(encode=str.encode)
>>> store["p1"] = "waiting"
>>> store["p1"] = "joined"
>>> store["p2"] = "waiting"
>>> del store["p2"]
>>> store.take_writes()
[('p1', b'joined'), ('p2', None)]
>>> store.take_writes()
[]
>>> restored = ChangelogStore.restore(
...     [(b"p1", b"waiting"), (b"p2", b"x"), (b"p1", b"joined"), (b"p2", None)],
...     encode=str.encode, decode=bytes.decode)
>>> dict(restored), restored.take_writes()
({'p1': 'joined'}, [])
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, MutableMapping
from typing import Generic, TypeVar

__all__ = ["ChangelogStore"]

V = TypeVar("V")
_DELETED = object()


class ChangelogStore(MutableMapping[str, V], Generic[V]):
    """``str -> value`` in memory, tracking the keys changed since the last flush;
    ``encode`` turns a value into the bytes of its changelog record."""

    __slots__ = ("_data", "_dirty", "_encode")

    def __init__(self, encode: Callable[[V], bytes]) -> None:
        self._data: dict[str, V] = {}
        self._dirty: dict[str, object] = {}  # key -> the value written, or _DELETED
        self._encode = encode

    @classmethod
    def restore(
        cls,
        records: Iterable[tuple[bytes, bytes | None]],
        *,
        encode: Callable[[V], bytes],
        decode: Callable[[bytes], V],
    ) -> ChangelogStore[V]:
        """Rebuild from changelog records in offset order (nothing left to write)."""
        latest: dict[str, bytes | None] = {}
        for key, value in records:
            latest[key.decode()] = value
        store = cls(encode)
        store._data = {k: decode(v) for k, v in latest.items() if v is not None}
        return store

    def take_writes(self) -> list[tuple[str, bytes | None]]:
        """The encoded last value of every key changed since the previous call (None:
        deleted)."""
        encode = self._encode
        writes = [(k, None if v is _DELETED else encode(v))  # type: ignore[arg-type]
                  for k, v in self._dirty.items()]
        self._dirty.clear()
        return writes

    def settle(self, key: str, value: V) -> None:
        """Replace ``key``'s value in memory only (no changelog write): for a value that
        differs from the one written only in what no restart can need any more."""
        if key in self._data:
            self._data[key] = value

    def tracked(self) -> tuple[dict[str, V], dict[str, object]]:
        """The two dicts behind the store, for a hot loop that writes many values: set a
        key in both (the value, and the same value as its pending write). Deletes go
        through ``del store[key]``."""
        return self._data, self._dirty

    @property
    def unwritten(self) -> int:
        """Keys changed and not yet taken."""
        return len(self._dirty)

    def __getitem__(self, key: str) -> V:
        return self._data[key]

    def get(self, key: str, default: V | None = None) -> V | None:  # type: ignore[override]
        return self._data.get(key, default)

    def __setitem__(self, key: str, value: V) -> None:
        self._data[key] = value
        self._dirty[key] = value

    def __delitem__(self, key: str) -> None:
        del self._data[key]
        self._dirty[key] = _DELETED

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)
