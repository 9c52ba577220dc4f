"""murmur2 partitioning computed here: one key at a time and a batch at once agree."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from driftline.partitioning import partition_of, partitions_of


@given(st.lists(st.binary(max_size=48), max_size=60), st.integers(min_value=1, max_value=64))
def test_a_batch_gets_the_partitions_its_keys_get_one_by_one(keys, partitions):
    assert partitions_of(keys, partitions).tolist() == [partition_of(k, partitions) for k in keys]


def test_many_keys_of_one_length_get_the_partitions_they_get_one_by_one():
    keys = [f"{i:032x}".encode() for i in range(500)]
    assert partitions_of(keys, 6).tolist() == [partition_of(k, 6) for k in keys]
    assert set(partitions_of(keys, 6).tolist()) == set(range(6))
