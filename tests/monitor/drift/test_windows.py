"""Window assignment and closing, with exact expected output (closed-open intervals)."""

from __future__ import annotations

import msgspec
import pytest

from monitor.drift.windows import ClockState, EventTimeWindows, Window, WindowClock


def test_tumbling_assigns_each_event_to_one_window():
    windows = EventTimeWindows(size=10)
    assert [windows.assign(t) for t in (0, 9.999, 10, 25)] == [
        [Window(0, 10)],
        [Window(0, 10)],
        [Window(10, 20)],  # 10 is the end of [0, 10): it opens the next window
        [Window(20, 30)],
    ]


def test_hopping_assigns_each_event_to_size_over_step_windows():
    windows = EventTimeWindows(size=30, step=10)
    assert windows.assign(25) == [Window(0, 30), Window(10, 40), Window(20, 50)]
    # at a start boundary the window starting there is included, the one ending there is not
    assert windows.assign(30) == [Window(10, 40), Window(20, 50), Window(30, 60)]


def test_hopping_with_a_step_that_does_not_divide_the_size():
    assert EventTimeWindows(size=25, step=10).assign(21) == [
        Window(0, 25), Window(10, 35), Window(20, 45)
    ]
    assert EventTimeWindows(size=25, step=10).assign(26) == [Window(10, 35), Window(20, 45)]


def test_origin_shifts_every_window():
    assert EventTimeWindows(size=60, origin=15).assign(70) == [Window(15, 75)]
    assert EventTimeWindows(size=60, origin=15).assign(-50) == [Window(-105, -45)]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"size": 0}, "size must be positive"),
        ({"size": 10, "step": 0}, "step"),
        ({"size": 10, "step": 11}, "leaves gaps"),
        ({"size": 10, "grace": -1}, "grace"),
    ],
)
def test_bad_window_parameters_fail_early(kwargs, message):
    with pytest.raises(ValueError, match=message):
        EventTimeWindows(**kwargs)


def test_windows_close_when_the_watermark_reaches_their_end():
    clock = WindowClock(EventTimeWindows(size=10, grace=5))
    for t in (1, 4, 12):
        clock.observe(t, "m/1")
    assert clock.watermark == 7
    assert clock.pop_closed() == []  # [0, 10) waits for the grace period
    clock.observe(14.9, "m/1")
    assert clock.pop_closed() == []  # watermark 9.9 < 10
    clock.observe(15, "m/1")  # watermark 10 reaches the end of [0, 10)
    assert clock.pop_closed() == [("m/1", Window(0, 10))]
    assert clock.pop_closed() == []  # handed out once


def test_events_within_grace_still_count_and_late_events_are_dropped_and_counted():
    clock = WindowClock(EventTimeWindows(size=10, grace=5))
    clock.observe(12, "a")
    assert clock.observe(8, "a") == [Window(0, 10)]  # 4 behind, within grace
    clock.observe(21, "a")  # watermark 16 closes [0, 10)
    assert clock.observe(9, "a") == []  # its only window is closed: late
    assert clock.observe(9, "b") == []
    assert clock.late == {"a": 1, "b": 1}
    assert clock.pop_closed() == [("a", Window(0, 10))]


def test_hopping_event_late_for_old_windows_counts_in_the_open_ones():
    clock = WindowClock(EventTimeWindows(size=30, step=10))
    clock.observe(45, "k")  # watermark 45: [0, 30), [10, 40) closed
    assert clock.observe(25, "k") == [Window(20, 50)]
    assert clock.late == {}


def test_closed_windows_come_out_in_order_of_end_then_key():
    clock = WindowClock(EventTimeWindows(size=10, grace=10))
    for t, key in ((5, "b"), (15, "a"), (6, "a"), (16, "b")):
        clock.observe(t, key)
    clock.observe(50, "a")
    assert clock.pop_closed() == [
        ("a", Window(0, 10)),
        ("b", Window(0, 10)),
        ("a", Window(10, 20)),
        ("b", Window(10, 20)),
    ]


def test_an_explicit_watermark_closes_windows_of_a_quiet_stream():
    clock = WindowClock(EventTimeWindows(size=10, grace=2))
    clock.observe(3, "k")
    assert clock.pop_closed() == []
    assert clock.pop_closed(watermark=10) == [("k", Window(0, 10))]
    assert clock.watermark == 1  # the clock's own watermark did not move


def test_clock_state_round_trips_through_json():
    windows = EventTimeWindows(size=10, step=5, grace=1)
    clock = WindowClock(windows)
    for t, key in ((1, "a"), (7, "b"), (12, "a"), (2, "a")):
        clock.observe(t, key)
    data = msgspec.json.encode(clock.state())
    restored = WindowClock(windows, msgspec.json.decode(data, type=ClockState))
    assert restored.state() == clock.state()
    assert restored.open_windows == clock.open_windows
    assert restored.pop_closed(20) == clock.pop_closed(20)
