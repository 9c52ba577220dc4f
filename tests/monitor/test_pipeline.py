"""The pure pieces together, as the faust app wires them: windows, accumulators, verdicts,
policy. A shifted stream gives one covariate event; a stationary one gives none."""

from __future__ import annotations

from driftline.events import DriftEvent
from monitor.drift.accumulator import WindowAccumulator
from monitor.drift.windows import EventTimeWindows, WindowClock
from monitor.merging.policy import DriftPolicy
from producers.generator import LAKH, GeneratorParams, LoanGenerator, default_probability


def monitor_stream(profile, minutes: int, shift_at: int | None, rate: int = 10):
    """Simulated traffic at ``rate`` events/s; the loan shift starts at minute ``shift_at``."""
    gen = LoanGenerator(seed=31)
    clock = WindowClock(EventTimeWindows(size=300, grace=10))
    policy = DriftPolicy()
    accumulators: dict[tuple[str, float], WindowAccumulator] = {}
    events: list[DriftEvent] = []
    offset = 0
    for minute in range(minutes):
        shifted = shift_at is not None and minute >= shift_at
        params = GeneratorParams(loan_mean=8.5 * LAKH) if shifted else GeneratorParams()
        batch = gen.sample(60 * rate, params)
        scores = default_probability(batch.columns)
        for i, row in enumerate(batch.rows()):
            t = minute * 60 + i / rate
            for window in clock.observe(t, "credit-risk/1"):
                acc = accumulators.get(("credit-risk/1", window.start))
                if acc is None:
                    acc = accumulators[("credit-risk/1", window.start)] = WindowAccumulator(
                        profile, window)
                acc.update(row, float(scores[i]), evidence=("predictions", 0, offset))
            offset += 1
        for key, window in clock.pop_closed():
            report = accumulators.pop((key, window.start)).evaluate()
            events.extend(policy.observe_window(report))
    return events


def test_a_shifted_stream_gives_one_covariate_event_in_the_first_full_window(loan_profile):
    events = monitor_stream(loan_profile, minutes=40, shift_at=12)  # onset at 720 s
    covariate = [e for e in events if e.kind == "covariate"]
    # [600, 900) holds the onset and is 60% shifted already: strong enough (severity high) to
    # raise at once, before the first full window [900, 1200); one event for the whole shift.
    assert [(e.window_start, e.window_end, e.severity) for e in covariate] == [
        (600.0, 900.0, "high")
    ]
    drifted = [s.feature for s in covariate[0].statistics if s.statistic == "psi" and s.drifted]
    assert drifted == ["loan_amount"]
    evidence = covariate[0].evidence
    assert [(r.first_offset, r.last_offset) for r in evidence] == [(6000, 8999)]  # 10 events/s
    assert {e.kind for e in events} <= {"covariate", "prediction"}


def test_a_stationary_stream_gives_no_event(loan_profile):
    assert monitor_stream(loan_profile, minutes=40, shift_at=None) == []
