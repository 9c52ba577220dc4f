"""The join's changelog in segments: what a restore gives back, before and after the broker
compacts the topic, against a plain model of the writes."""

from __future__ import annotations

import random

import msgspec
import pytest

from monitor.state.changelog import ChangelogStore

encode, decode = msgspec.json.encode, msgspec.json.decode


def compacted(records: list[tuple[bytes, bytes | None]], rng: random.Random):
    """The topic as compaction may leave it: for some keys only the last record (a
    tombstone perhaps removed too), for others every record still there."""
    last = {key: i for i, (key, _) in enumerate(records)}
    squeeze = {key for key in last if rng.random() < 0.5}
    return [(key, value) for i, (key, value) in enumerate(records)
            if key not in squeeze or (i == last[key] and value is not None)]


@pytest.mark.parametrize("seed", range(40))
def test_a_restore_gives_every_live_key_its_last_value_and_a_deleted_one_at_most_its_last(
    seed: int,
):
    rng = random.Random(seed)
    store: ChangelogStore = ChangelogStore(encode, segment_bytes=rng.choice([40, 200, 10**6]))
    records: list[tuple[bytes, bytes | None]] = []
    written: dict[str, object] = {}  # key -> last value taken to the changelog
    deleted: set[str] = set()  # keys whose last change taken was a delete
    for step in range(rng.randint(5, 60)):
        for _ in range(rng.randint(0, 30)):
            key = f"k{rng.randint(0, 40)}"
            if key in store and rng.random() < 0.3:
                del store[key]
            else:
                store[key] = [key, step, rng.random()]
            if rng.random() < 0.1 and key in store:
                store.settle(key, ["settled", key])  # memory only: never written
        writes = store.take_writes()
        assert len(writes.keys) == len(set(writes.keys))
        records += writes.records
        for key in writes.keys:  # the model: each key's value when last taken, or deleted
            if key in store:
                written[key] = _last_written(writes.records, key)
                deleted.discard(key)
            else:
                deleted.add(key)

    for changelog in (records, compacted(records, rng)):
        restored = ChangelogStore.restore(changelog, encode=encode, decode=decode)
        for key, value in written.items():
            if key not in deleted:
                assert restored[key] == value
            else:  # gone, or its last value still held in a live segment
                assert restored.get(key) in (None, value)
        assert set(restored) <= set(written)
        # the dead segments older than every live one are tombstoned with the next writes
        present = {n for n, value in _latest(changelog).items() if value is not None}
        first_live = min(restored._live, default=float("inf"))
        assert _dead(restored.take_writes().records) == {n for n in present if n < first_live}
        assert restored.segments == len(present) - sum(n < first_live for n in present)
    # every segment holding a key's last value is kept
    homes = {store._home[k] for k in written if k not in deleted}
    assert homes == set(store._live) and homes <= set(store._kept)


def _latest(records) -> dict[int, bytes | None]:
    return {int(key.removeprefix(b"segment-")): value for key, value in records}


def _dead(records) -> set[int]:
    return {int(key.removeprefix(b"segment-")) for key, value in records if value is None}


def _last_written(records, key: str):
    found = None
    for _, value in records:
        if value is None:
            continue
        keys, values = decode(value)
        for k, v in zip(keys, values, strict=True):
            if k == key:
                found = v
    return found


def test_a_changelog_of_the_older_per_key_records_is_refused_with_what_to_do():
    with pytest.raises(ValueError, match=r"older driftline monitor.*new app id"):
        ChangelogStore.restore([(b"p1", b"{}")], encode=encode, decode=decode)


def test_a_slot_larger_than_a_segment_goes_out_alone_and_segments_cut_at_the_size():
    store: ChangelogStore = ChangelogStore(encode, segment_bytes=100)
    store["big"] = "x" * 500
    for i in range(10):
        store[f"k{i}"] = "y" * 20
    records = store.take_writes().records
    assert len(records[0][1]) > 500 and decode(records[0][1])[0] == ["big"]
    assert all(len(value) < 100 + 40 for _, value in records[1:])
    assert sum(len(decode(value)[0]) for _, value in records) == 11


def test_records_that_do_not_decode_are_handed_over_and_the_rest_is_restored():
    store: ChangelogStore = ChangelogStore(encode)
    store["a"], store["b"] = "one", "two"
    records = list(store.take_writes().records)
    bad: list[tuple[bytes, bytes | None, str]] = []

    def decode_text(raw: bytes) -> str:
        value = decode(raw)
        if value == "two":
            raise ValueError("not a slot")
        return value

    restored = ChangelogStore.restore(
        [(b"junk", b"x"), (b"segment-9", b"[[1],"), (b"segment-8", b"\xff"), *records],
        encode=encode, decode=decode_text,
        on_bad=lambda key, value, exc: bad.append((key, value, str(exc))))
    assert dict(restored.items()) == {"a": "one"}
    assert [key for key, _, _ in bad] == [b"junk", b"segment-8", b"segment-9", b"segment-0"]
    assert "not a slot" in bad[-1][2]
