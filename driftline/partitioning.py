"""Which partition a key belongs to: Kafka's murmur2 partitioner, computed here.

driftline's join is local to a partition, so a label must sit on the partition of its
prediction. Every driftline producer partitions with murmur2 (librdkafka's
``murmur2_random``, the Java client's and aiokafka's default): a key goes to
``(murmur2(key) & 0x7fffffff) % partitions``. Other clients' defaults (librdkafka's
``consistent_random``, Sarama's FNV-1a, kafka-go's round robin) put the same key elsewhere;
the monitor uses :func:`partitions_of` to notice such a message and move it.

The values below are those of Kafka's own test of its ``Utils.murmur2``:

>>> [murmur2(k) for k in (b"21", b"foobar", b"a-little-bit-long-string", b"abc")]
[-973932308, -790332482, -985981536, 479470107]
>>> murmur2(b"a-little-bit-longer-string")
-1486304829
>>> murmur2(b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8")
-58897971
>>> partition_of(b"p-1", 6), partitions_of([b"p-1", b"p-22", b"order-81"], 6).tolist()
(4, [4, 2, 2])
"""

from __future__ import annotations

import struct
from collections.abc import Sequence

import numpy as np

__all__ = ["murmur2", "partition_of", "partitions_of"]

_SEED = 0x9747B28C
_M = 0x5BD1E995
_MASK = 0xFFFFFFFF
_FEW = 12  # fewer keys are hashed one by one: numpy's set-up costs more than it saves


def murmur2(key: bytes) -> int:
    """Kafka's 32-bit murmur2 hash of ``key``, as a signed int (as Java's ``Utils.murmur2``)."""
    length = len(key)
    h = (_SEED ^ length) & _MASK
    whole = length - length % 4
    for k in struct.unpack_from(f"<{whole // 4}I", key):
        k = (k * _M) & _MASK
        k ^= k >> 24
        k = (k * _M) & _MASK
        h = ((h * _M) & _MASK) ^ k
    tail = key[whole:]
    if tail:
        h ^= int.from_bytes(tail, "little")
        h = (h * _M) & _MASK
    h ^= h >> 13
    h = (h * _M) & _MASK
    h ^= h >> 15
    return h - (1 << 32) if h & 0x80000000 else h


def partition_of(key: bytes, partitions: int) -> int:
    """The partition murmur2 gives ``key`` among ``partitions``."""
    return (murmur2(key) & 0x7FFFFFFF) % partitions


def partitions_of(keys: Sequence[bytes], partitions: int) -> np.ndarray:
    """:func:`partition_of` of every key, computed for all keys of one length at once."""
    if len(keys) < _FEW:
        return np.array([partition_of(key, partitions) for key in keys], dtype=np.int64)
    lengths = list(map(len, keys))
    if lengths.count(lengths[0]) == len(keys):  # the usual case: one length, one pass
        data = np.frombuffer(b"".join(keys), dtype=np.uint8).reshape(len(keys), lengths[0])
        return (_murmur2_rows(data) & 0x7FFFFFFF) % partitions
    out = np.empty(len(keys), dtype=np.int64)
    by_length: dict[int, list[int]] = {}
    for i, length in enumerate(lengths):
        by_length.setdefault(length, []).append(i)
    for length, rows in by_length.items():
        chosen = keys if len(rows) == len(keys) else [keys[i] for i in rows]
        data = np.frombuffer(b"".join(chosen), dtype=np.uint8).reshape(len(rows), length)
        out[rows] = _murmur2_rows(data) & 0x7FFFFFFF
    return out % partitions


def _murmur2_rows(data: np.ndarray) -> np.ndarray:
    """murmur2 of each row of a 2-D uint8 array (every key of one length), unsigned."""
    count, length = data.shape
    m = np.uint32(_M)
    h = np.full(count, (_SEED ^ length) & _MASK, dtype=np.uint32)
    whole = length - length % 4
    words = np.ascontiguousarray(data[:, :whole]).view("<u4")
    with np.errstate(over="ignore"):
        for j in range(whole // 4):
            k = words[:, j] * m
            k ^= k >> np.uint32(24)
            k *= m
            h *= m
            h ^= k
        if length % 4:
            tail = data[:, whole:].astype(np.uint32)
            for i in range(length % 4):
                h ^= tail[:, i] << np.uint32(8 * i)
            h *= m
        h ^= h >> np.uint32(13)
        h *= m
        h ^= h >> np.uint32(15)
    return h.astype(np.int64)
