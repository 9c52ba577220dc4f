"""The worker's ``policy`` table: faust's in-memory store, plus how far into its changelog
the memory goes.

faust's own in-memory store knows no offset, so every rebalance makes the worker read the
table's whole changelog again, even when it keeps the table's partition (and so already
holds every entry). This store remembers the offset of the last changelog entry its memory
holds (its own writes once Kafka acknowledges them, and the entries recovery or a standby
applied), so faust's recovery reads only what the memory lacks: after a rebalance that
leaves the partition where it was, nothing.

The memory is dropped when the partition leaves the worker altogether (neither active nor
standby); the offset goes with it, and a later owner reads the changelog from the start.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import faust
from faust.stores.memory import Store as MemoryStore
from faust.types import TP, EventT, StoreT


class OffsetMemoryStore(MemoryStore):
    """faust's in-memory store with the changelog offset its contents reach, for a table
    of one partition (every key in it is the partition's)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        self._offsets: dict[TP, int] = {}

    def persisted_offset(self, tp: TP) -> int | None:
        """The offset of the last changelog entry in memory (None: none is)."""
        return self._offsets.get(tp)

    def set_persisted_offset(self, tp: TP, offset: int) -> None:
        """Called by faust when Kafka acknowledges one of the table's own changelog writes."""
        if offset > self._offsets.get(tp, -1):
            self._offsets[tp] = offset

    def apply_changelog_batch(
        self,
        batch: Iterable[EventT],
        to_key: Callable[[Any], Any],
        to_value: Callable[[Any], Any],
    ) -> None:
        """Apply entries read back from the changelog (recovery, or a standby's reading)."""
        events = list(batch)
        super().apply_changelog_batch(events, to_key, to_value)
        for event in events:
            self.set_persisted_offset(event.message.tp, event.message.offset)

    async def on_rebalance(
        self,
        assigned: set[TP],
        revoked: set[TP],
        newly_assigned: set[TP],
        generation_id: int = 0,
    ) -> None:
        """Forget everything when the worker no longer holds the partition in any role."""
        topic = self.table.changelog_topic.get_topic_name()
        if any(tp.topic == topic for tp in revoked):
            self.data.clear()
            self._key_partition.clear()
            self._offsets.clear()

    async def on_recovery_completed(self, active_tps: set[TP], standby_tps: set[TP]) -> None:
        """Keep the memory: the partition is still this worker's, as active or as standby.

        (faust's in-memory store drops a standby's entries here, which would leave the
        offset pointing past entries no longer in memory.)"""


class OffsetMemoryTable(faust.Table):
    """A faust table kept in :class:`OffsetMemoryStore`."""

    def _new_store(self) -> StoreT:
        if self.partitions != 1:
            raise ValueError(f"table {self.name!r}: OffsetMemoryStore holds one partition, "
                             f"not {self.partitions}")
        return OffsetMemoryStore(
            "memory://",
            self.app,
            self,
            table_name=self.name,
            key_type=self.key_type,
            key_serializer=self.key_serializer,
            value_serializer=self.value_serializer,
            value_type=self.value_type,
            loop=self.loop,
            options=self.options,
        )


def offset_memory_table(app: faust.App, name: str, **kwargs: Any) -> OffsetMemoryTable:
    """Declare ``name`` on ``app`` (as ``app.Table`` does) with one partition, kept in an
    :class:`OffsetMemoryStore`."""
    table = OffsetMemoryTable(app, name=name, partitions=1, beacon=app.tables.beacon, **kwargs)
    app.tables.add(table)
    return table
