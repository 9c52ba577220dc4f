"""An event-time range resolves to the offsets from its first event to its last, per partition,
whatever lies between; messages without a usable event time never move its ends."""

from __future__ import annotations

from producers.eventrange import EventSpan, event_time_of
from tests.hostile import hostile_values


def _scan(times: list[float | None], start: float = 100.0, end: float = 200.0,
          slack: float = 10.0) -> tuple[EventSpan, int]:
    span = EventSpan(start=start, end=end, slack=slack)
    offset = -1
    for offset, moment in enumerate(times):
        if span.add(offset, moment):
            break
    return span, offset


def test_the_range_runs_from_the_first_event_inside_to_the_last():
    span, _ = _scan([50.0, 99.9, 100.0, 150.0, 130.0, 199.9, 200.0, 201.0])
    assert span.offsets(default=0) == (2, 6)


def test_an_event_out_of_order_within_the_slack_is_kept():
    span, stopped = _scan([150.0, 205.0, 180.0, 230.0, 190.0])
    assert span.offsets(default=0) == (0, 3)
    assert stopped == 3  # the first event later than end + slack ends the scan


def test_messages_without_a_usable_time_neither_start_nor_end_the_range():
    span, stopped = _scan([None, 120.0, None, 140.0, None, 500.0])
    assert span.offsets(default=0) == (1, 4)
    assert span.unreadable == 3 and stopped == 5


def test_a_partition_without_an_event_in_range_is_empty_at_the_default():
    span, _ = _scan([10.0, 20.0, 300.0])
    assert span.offsets(default=7) == (7, 7)


def test_open_ends_take_everything():
    span, _ = _scan([10.0, 1e9], start=float("-inf"), end=float("inf"))
    assert span.offsets(default=0) == (0, 2)


def test_only_a_number_in_the_accepted_range_is_an_event_time():
    assert event_time_of(b'{"event_time": 1700000000, "label": 1}') == 1700000000.0
    assert event_time_of(b'{"event_time": "1700000000"}') is None
    assert event_time_of(b'{"label": 1}') is None
    assert event_time_of(b'[1, 2]') is None
    assert event_time_of(b'{"event_time": 1.7e12}', 0.0, 2e9) is None  # milliseconds
    assert event_time_of(b"") is None


def test_hostile_values_raise_nothing_and_only_a_readable_time_counts():
    valid = b'{"prediction_id": "p1", "event_time": 1700000000.0, "label": 1}'
    times = {name: event_time_of(value) for name, value in hostile_values(valid).items()}
    # bad UTF-8 in another field leaves the time readable: it may bound a range, and the copy
    # carries the message as written for the monitor to dead-letter
    assert times.pop("bad utf-8") == 1700000000.0
    assert times == dict.fromkeys(times)
