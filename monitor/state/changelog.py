"""Join slots of one partition in memory, written to their changelog in segments.

A :class:`ChangelogStore` is a dict of values that remembers which keys changed since the
last :meth:`~ChangelogStore.take_writes`, which returns those writes as a few large records
(*segments*, up to ``segment_bytes`` each) and tombstones for the old segments no key needs
any more. :meth:`~ChangelogStore.restore` rebuilds a store from the records of a compacted
topic. How segments live and die: ``docs/monitoring-internals.md``, "The join slot
changelog".

>>> store = ChangelogStore(encode=msgspec.json.encode)
>>> store["p1"] = "waiting"
>>> store["p2"] = "waiting"
>>> first = store.take_writes()
>>> first.records, first.keys
([(b'segment-0', b'[["p1","p2"],["waiting","waiting"]]')], ['p1', 'p2'])
>>> store["p1"] = "joined"
>>> del store["p2"]
>>> second = store.take_writes()
>>> second.records
[(b'segment-1', b'[["p1"],["joined"]]'), (b'segment-0', None)]
>>> restored = ChangelogStore.restore(first.records + second.records,
...                                   encode=msgspec.json.encode, decode=msgspec.json.decode)
>>> dict(restored), restored.take_writes().records
({'p1': 'joined'}, [])
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator, MutableMapping
from typing import Generic, NamedTuple, TypeVar

import msgspec

__all__ = ["SEGMENT_BYTES", "ChangelogStore", "Writes"]

V = TypeVar("V")
_DELETED = object()
_PREFIX = b"segment-"
# Below the 1 MB a Kafka topic and librdkafka take by default, with room for the key and
# the record's framing. One slot larger than this goes out as a segment of its own.
SEGMENT_BYTES = 900_000

_keys_encoder = msgspec.json.Encoder()
_segment_decoder = msgspec.json.Decoder(tuple[list[str], list[msgspec.Raw]])


class Writes(NamedTuple):
    """What one :meth:`ChangelogStore.take_writes` hands the changelog."""

    records: list[tuple[bytes, bytes | None]]  # (key, value or None for a tombstone), in order
    keys: list[str]  # the slot keys changed since the previous take (written or deleted)


class ChangelogStore(MutableMapping[str, V], Generic[V]):
    """``str -> value`` in memory, tracking the keys changed since the last flush;
    ``encode`` turns a value into the bytes of its slot in a segment (valid JSON)."""

    __slots__ = ("_data", "_dirty", "_encode", "_home", "_kept", "_limit", "_live", "_next")

    def __init__(self, encode: Callable[[V], bytes], *,
                 segment_bytes: int = SEGMENT_BYTES) -> None:
        self._data: dict[str, V] = {}
        self._dirty: dict[str, object] = {}  # key -> the value written, or _DELETED
        self._encode = encode
        self._limit = segment_bytes
        self._home: dict[str, int] = {}  # key -> the segment holding its last written value
        self._live: dict[int, int] = {}  # segment -> how many keys' last value it holds
        self._kept: deque[int] = deque()  # segments written and not tombstoned, in order
        self._next = 0  # the next segment's number

    @classmethod
    def restore(
        cls,
        records: Iterable[tuple[bytes, bytes | None]],
        *,
        encode: Callable[[V], bytes],
        decode: Callable[[bytes], V],
        segment_bytes: int = SEGMENT_BYTES,
        on_bad: Callable[[bytes, bytes | None, Exception], None] | None = None,
    ) -> ChangelogStore[V]:
        """Rebuild from changelog records in offset order (nothing left to write but the
        tombstones of the dead segments older than every live one). A segment or a slot
        that does not decode is left out and handed, with its segment's key and value and
        the error, to ``on_bad`` (when given; else the error propagates)."""
        latest: dict[int, bytes | None] = {}
        for key, value in records:
            number = key[len(_PREFIX):] if key and key.startswith(_PREFIX) else b""
            if not number.isdigit():
                error = ValueError(
                    f"changelog record {(key or b'')[:40]!r} is not a segment: the topic was "
                    "written by an older driftline monitor or by hand; start this one under a "
                    "new app id (DRIFTLINE_MONITOR_APP_ID)")
                if on_bad is None:
                    raise error
                on_bad(key or b"", value, error)
                continue
            latest[int(number)] = value
        store = cls(encode, segment_bytes=segment_bytes)
        raws: dict[str, msgspec.Raw] = {}
        home = store._home
        for number in sorted(latest):
            value = latest[number]
            if value is None:
                continue
            try:
                keys, slots = _segment_decoder.decode(value)
                if len(keys) != len(slots):
                    raise ValueError(f"{len(keys)} keys for {len(slots)} slots")
            except (ValueError, RecursionError) as exc:  # msgspec's errors are ValueErrors
                if on_bad is None:
                    raise
                on_bad(_PREFIX + b"%d" % number, value, exc)
                continue
            for key, raw in zip(keys, slots, strict=True):
                raws[key] = raw
                home[key] = number
        data: dict[str, V] = {}
        for key, raw in raws.items():
            try:
                data[key] = decode(bytes(raw))
            except (ValueError, TypeError, RecursionError) as exc:
                if on_bad is None:
                    raise
                on_bad(_PREFIX + b"%d" % home.pop(key), bytes(raw), exc)
        store._data = data
        store._live = dict(Counter(home.values()))
        store._kept = deque(n for n in sorted(latest) if latest[n] is not None)
        store._next = max(latest, default=-1) + 1
        return store

    def take_writes(self) -> Writes:
        """The segments holding the last value of every key changed since the previous
        call, then the tombstones of the dead segments older than every live one."""
        encode, home, live, limit = self._encode, self._home, self._live, self._limit
        records: list[tuple[bytes, bytes | None]] = []
        keys: list[str] = []
        values: list[bytes] = []
        size = 0
        for key, value in self._dirty.items():
            old = home.pop(key, None)
            if old is not None:
                left = live[old] - 1
                if left:
                    live[old] = left
                else:
                    del live[old]
            if value is _DELETED:
                continue
            data = encode(value)  # type: ignore[arg-type]
            keys.append(key)
            values.append(data)
            home[key] = self._next
            size += len(key) + len(data) + 4
            if size >= limit:
                records.append(self._segment(keys, values))
                keys, values, size = [], [], 0
        if keys:
            records.append(self._segment(keys, values))
        changed = list(self._dirty)
        self._dirty.clear()
        # after the segments that hold what replaced them: a restore never finds a key's
        # last value gone before its new one is there
        kept = self._kept
        while kept and kept[0] not in live:
            records.append((_PREFIX + b"%d" % kept.popleft(), None))
        return Writes(records, changed)

    def _segment(self, keys: list[str], values: list[bytes]) -> tuple[bytes, bytes]:
        number = self._next
        self._next += 1
        self._live[number] = len(keys)
        self._kept.append(number)
        value = b"".join((b"[", _keys_encoder.encode(keys), b",[", b",".join(values), b"]]"))
        return _PREFIX + b"%d" % number, value

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

    @property
    def segments(self) -> int:
        """Segments in the changelog not tombstoned (live, or dead behind a live one)."""
        return len(self._kept)

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
