"""--from / --to: reading bounds and resolving them to offsets per partition."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from producers.bounds import parse_bound, parse_speed, resolve_range

MARKS = {0: (0, 100), 1: (20, 60), 2: (0, 0)}  # partition -> (low, high)


def test_time_bounds_read_iso_with_or_without_zone():
    utc = parse_bound("2026-11-27T10:00:00Z")
    naive = parse_bound("2026-11-27T10:00:00")
    ist = parse_bound("2026-11-27T15:30:00+05:30")
    expected = int(datetime(2026, 11, 27, 10, tzinfo=UTC).timestamp() * 1000)
    assert utc.time_ms == naive.time_ms == ist.time_ms == expected


def test_keywords_and_offsets():
    assert parse_bound("beginning").kind == "earliest"
    assert parse_bound("END").kind == "latest"
    assert parse_bound("0:5,2:7").offsets == {0: 5, 2: 7}


def test_offsets_are_clamped_to_what_each_partition_holds():
    got = resolve_range(parse_bound("10"), parse_bound("50"), MARKS, None)
    assert got == {0: (10, 50), 1: (20, 50), 2: (0, 0)}


def test_partitions_not_named_keep_the_defaults():
    got = resolve_range(parse_bound("1:30"), parse_bound("0:40"), MARKS, None)
    assert got == {0: (0, 40), 1: (30, 60), 2: (0, 0)}


def test_an_end_before_the_start_is_an_empty_range():
    got = resolve_range(parse_bound("70"), parse_bound("30"), MARKS, None)
    assert got[0] == (70, 70)


def test_time_bounds_use_the_lookup_and_none_means_the_end():
    table = {1_000: {0: 10, 1: 25, 2: None}, 2_000: {0: 40, 1: None, 2: None}}
    start = parse_bound("1970-01-01T00:00:01Z")
    end = parse_bound("1970-01-01T00:00:02Z")
    got = resolve_range(start, end, MARKS, lambda ms: table[ms])
    # partition 1 has nothing at or after 2 s: the range runs to its high watermark
    assert got == {0: (10, 40), 1: (25, 60), 2: (0, 0)}


def test_time_bounds_need_a_lookup():
    with pytest.raises(ValueError, match="time index"):
        resolve_range(parse_bound("2026-01-01T00:00:00Z"), parse_bound("latest"), MARKS, None)


@pytest.mark.parametrize("text", ["fast", "0x", "-2x", "infx", ""])
def test_bad_speeds_are_refused(text):
    with pytest.raises(ValueError, match="cannot read speed"):
        parse_speed(text)


@pytest.mark.parametrize("text", ["yesterday", "0:5,x:7", "-5", "12:00:00"])
def test_bad_bounds_are_refused(text):
    with pytest.raises(ValueError, match="cannot read"):
        parse_bound(text)
