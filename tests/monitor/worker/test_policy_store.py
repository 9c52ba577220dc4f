"""The policy table's store knows how far into the changelog its memory goes, so faust's
recovery reads back only what the memory lacks.

A real faust app and table (never started: no broker), driven through the calls faust makes:
``_on_changelog_sent`` when Kafka acknowledges a write, ``apply_changelog_batch`` when
recovery or a standby applies read-back entries, ``on_rebalance`` and
``on_recovery_completed`` around a rebalance, and ``Recovery.add_active``, which is where
recovery takes the offset it starts from."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import faust
import pytest
from faust.types import TP
from faust.types.tuples import Message

from monitor.worker.policy_store import OffsetMemoryStore, offset_memory_table


@pytest.fixture
def table():
    app = faust.App("policy-store-test", broker="kafka://127.0.0.1:1", store="memory://",
                    autodiscover=False, web_enabled=False)
    return offset_memory_table(app, "policy", key_type=bytes, value_type=bytes)


def _tp(table) -> TP:
    return TP(table.changelog_topic.get_topic_name(), 0)


def _acked(table, offset: int) -> None:
    """faust's callback for an acknowledged changelog write, at ``offset``."""
    metadata = SimpleNamespace(topic_partition=_tp(table), offset=offset)
    table._on_changelog_sent(SimpleNamespace(result=lambda: metadata))


def _entry(table, key: bytes, value: bytes | None, offset: int):
    message = Message(topic=_tp(table).topic, partition=0, offset=offset, timestamp=0.0,
                      timestamp_type=0, headers=None, key=key, value=value, checksum=None)
    return SimpleNamespace(key=key, value=value, message=message, headers=None)


def _start_offset(table) -> int | None:
    """The offset faust's recovery would start this worker's active partition from."""
    recovery = table.app.tables.recovery
    recovery.add_active(table, _tp(table))
    return recovery.active_offsets[_tp(table)]


def test_the_table_is_kept_in_the_offset_store(table):
    assert isinstance(table.data, OffsetMemoryStore)


def test_a_table_of_more_than_one_partition_is_refused():
    app = faust.App("policy-store-wide", broker="kafka://127.0.0.1:1", autodiscover=False,
                    web_enabled=False)
    wide = offset_memory_table(app, "wide", key_type=bytes, value_type=bytes)
    wide.partitions = 2
    with pytest.raises(ValueError, match="one partition, not 2"):
        wide.data  # noqa: B018 (the store is made on first use)


def test_recovery_starts_after_the_last_acknowledged_write(table):
    assert _start_offset(table) is None  # nothing in memory: read from the start
    table.data[b"judged|a"] = b"1"  # the table's own write (no stream here)
    _acked(table, 0)
    table.data[b"judged|b"] = b"2"
    _acked(table, 2)
    _acked(table, 1)  # acknowledgements may come out of order: the highest stays
    assert _start_offset(table) == 2


def test_entries_read_back_are_applied_and_move_the_offset(table):
    table.apply_changelog_batch([_entry(table, b"judged|a", b"1", 5),
                                 _entry(table, b"judged|b", b"2", 6),
                                 _entry(table, b"judged|a", None, 7)])  # a deletion
    assert dict(table.data.data) == {b"judged|b": b"2"}
    assert _start_offset(table) == 7


def test_a_rebalance_that_keeps_the_partition_keeps_memory_and_offset(table):
    table.data[b"position|x"] = b"9"
    _acked(table, 3)
    table.apply_changelog_batch([_entry(table, b"judged|a", b"1", 4)])
    other = TP("partials", 0)
    asyncio.run(table.on_rebalance({_tp(table), other}, {other}, set(), 2))
    # faust's in-memory store would drop the read-back entries here
    asyncio.run(table.data.on_recovery_completed(set(), {_tp(table)}))
    assert dict(table.data.data) == {b"position|x": b"9", b"judged|a": b"1"}
    assert _start_offset(table) == 4


def test_a_rebalance_that_takes_the_partition_away_forgets_everything(table):
    table.data[b"position|x"] = b"9"
    _acked(table, 3)
    asyncio.run(table.on_rebalance(set(), {_tp(table)}, set(), 2))
    assert dict(table.data.data) == {}
    assert _start_offset(table) is None
