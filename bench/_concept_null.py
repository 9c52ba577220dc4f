"""The concept detector's false alarms at the contract (the ``concept-null`` part of
``bench_drift_quality.py``).

Stable Bernoulli error streams, each 30 days of labeled pairs at ``label_rate`` a second
(the false-alarm bench's labeled loan run has two), fed to
:class:`monitor.drift.concept.ConceptDriftDetector` as the monitor builds it (the default
contract, its threshold for that label rate, 6,000 errors a call as the merger feeds a
version's buckets); every alarm is false. Per error rate: the alarms per 30 days against the
concept family's budget (a quarter of the contract). **Anchor**: river's ADWIN (default
delta) on the first ``adwin_streams`` of the same streams, every detection false too (it
is fed one error at a time).

The streams are the tuning set's (the normal tail's divisor,
:data:`monitor.drift.glr.NORMAL_LEVEL_DIVISOR`, was chosen on them); the seeds start at
``SEED``.
"""

from __future__ import annotations

import time

import numpy as np
from _concept_streams import river_alarms

from monitor.drift.concept import ConceptDriftDetector
from monitor.drift.contract import HORIZON, family_budget

__all__ = ["concept_null", "glr_alarms", "stable_errors"]

SEED = 1000
RATES = (0.05, 0.176, 0.5)  # 0.176: the loan model's error rate on its own traffic
FEED = 6000  # errors per call


def stable_errors(seed: int, rate: float, events: int) -> np.ndarray:
    """A stable Bernoulli error stream: ``events`` errors, each 1 with probability ``rate``."""
    return (np.random.default_rng(seed).random(events) < rate).astype(np.int64)


def glr_alarms(errors: np.ndarray, label_rate: float, false_alarms: float = 1.0) -> int:
    """The alarms of the concept detector built as the monitor builds it, at a contract of
    ``false_alarms`` per 30 days, fed ``errors`` ``FEED`` at a time."""
    detector = ConceptDriftDetector(false_alarms=false_alarms, label_rate=label_rate)
    return sum(len(detector.update_errors(errors[i:i + FEED]))
               for i in range(0, len(errors), FEED))


def concept_null(streams: int, adwin_streams: int, label_rate: float = 2.0,
                 rates: tuple[float, ...] = RATES) -> bool:
    """Print the false alarms per 30 days of the GLR scan and of ADWIN per error rate; True
    when the scan's are at or under the concept budget at every rate."""
    from river import drift

    budget = family_budget(1.0, "concept")
    events = int(label_rate * HORIZON)
    print(f"concept-null: stable Bernoulli error streams of 30 days at {label_rate:g} labeled "
          f"pairs a second ({events:,} each), the default contract (concept budget "
          f"{budget:g} false alarms per 30 days); {streams} streams a rate, river ADWIN on "
          f"the first {adwin_streams}", flush=True)
    header = (f"{'error rate':>10} {'GLR alarms':>10} {'per 30 d':>9} {'ADWIN':>6} "
              f"{'per 30 d':>9}  goal")
    print(header)
    print("-" * len(header))
    met = True
    started = time.perf_counter()
    for rate in rates:
        ours = adwin = 0
        for i in range(streams):
            errors = stable_errors(SEED + i, rate, events)
            ours += glr_alarms(errors, label_rate)
            if i < adwin_streams:
                adwin += len(river_alarms(drift.ADWIN, errors.tolist()))
        mean = ours / streams
        ok = mean <= budget
        met &= ok
        anchor = (f"{adwin:>6} {adwin / adwin_streams:>9.3f}" if adwin_streams
                  else f"{'-':>6} {'-':>9}")
        print(f"{rate:>10g} {ours:>10} {mean:>9.3f} {anchor}  "
              f"{'met' if ok else 'NOT met'}  [{time.perf_counter() - started:.0f} s]",
              flush=True)
    print(f"\ngoal (false concept alarms per 30 days at or under the budget's {budget:g}, "
          f"every rate): {'met' if met else 'NOT met'}")
    return met
