"""Concept detection against ADWIN at a matched false-alarm rate (the ``detection-matched``
part of ``bench_drift_quality.py``).

The ``detection`` part runs driftline's detector at the default contract and river's ADWIN at
its default delta. Their false alarms are equal there only because streams of 90,000 events
show none for either; on 30-day stable streams they differ, by a factor that depends on the
error rate and the label rate (``concept-null``, at two labels a second, finds ADWIN's
several times the scan's). This part compares the two at rates measured to match, in one
run:

1. **ADWIN's rate.** river's ADWIN (default delta) on ``adwin_streams`` stable Bernoulli error
   streams of 30 days at one labeled event a second (the detection streams' clock) per error
   rate; every detection is false. Rates: 0.05, 0.2 (the Bernoulli evaluation streams' rate
   before their drift) and 0.5.
2. **The matched contract.** The scan (built as the monitor builds it, :func:`glr_alarms`) on
   ``streams`` stable streams per rate, at each contract of :data:`CONTRACTS` in turn; the
   matched contract is the loosest one whose false alarms per 30 days are at or under
   ADWIN's at every rate (the search goes from the strictest, below the default, and stops
   at the first contract over it).
3. **Detection.** Every stream of the detection part (tuning and evaluation, as there) with
   driftline at the matched contract, driftline at the default contract and ADWIN, through
   the same policy and counting as the detection part.

With ``per_rate`` (``--per-rate``) the match is made per error rate instead of once for all:
each detection stream's error rate before its drift (its seeds' mean) is taken to the nearest
of :data:`GRID` (in ratio; a stream without errors before its drift takes the lowest), ADWIN's
and the scan's false alarms are measured at each of those rates alone, and each stream runs
at the loosest contract under ADWIN at its own rate: the comparison a team with a model of
that error rate would make.

The null streams are stable streams of the tuning kind (seeds from ``SEED``, apart from
``concept-null``'s); nothing here is fitted to the evaluation streams: the contract is chosen
on the null streams alone, before any drift is seen.
"""

from __future__ import annotations

import math
import time

from _concept_null import glr_alarms, stable_errors
from _concept_streams import (
    STREAMS,
    TRAIN,
    Alarms,
    Stream,
    beats,
    driftline_alarms,
    errors_of,
    print_goal,
    print_stream,
    river_alarms,
)

from monitor.drift.contract import HORIZON

__all__ = ["detection_matched"]

SEED = 5000
LABEL_RATE = 1.0  # labeled events a second, as in the detection part
RATES = (0.05, 0.2, 0.5)
GRID = (0.05, 0.1, 0.2)  # per-rate matching: the rates a stream's error rate is taken to
CONTRACTS = (0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0)  # false alarms per 30 days, loosening


def _adwin_rates(streams: int, events: int,
                 error_rates: tuple[float, ...] = RATES) -> dict[float, float]:
    from river import drift

    rates = {}
    for rate in error_rates:
        alarms = sum(len(river_alarms(drift.ADWIN, stable_errors(SEED + i, rate, events)
                                      .tolist())) for i in range(streams))
        rates[rate] = alarms / streams
        print(f"  river ADWIN, error rate {rate:g}: {alarms} false alarms in {streams} streams, "
              f"{rates[rate]:.3f} per 30 days", flush=True)
    return rates


def _matched_contract(adwin: dict[float, float], streams: int, events: int) -> float:
    """The loosest contract of :data:`CONTRACTS` whose scan stays at or under ``adwin`` at
    every rate of it (the strictest, said so, when even it does not)."""
    rates = tuple(adwin)
    matched = CONTRACTS[0]
    for contract in CONTRACTS:
        # the same streams for every contract, drawn again each time (about 20 MB a stream)
        ours = {rate: sum(glr_alarms(stable_errors(SEED + 10_000 + i, rate, events),
                                     LABEL_RATE, contract) for i in range(streams)) / streams
                for rate in rates}
        under = all(ours[r] <= adwin[r] for r in rates)
        print(f"  GLR scan at a contract of {contract:g}: "
              + ", ".join(f"{ours[r]:.3f}" for r in rates)
              + f" per 30 days at error rate{'s' if len(rates) > 1 else ''} "
              + f"{', '.join(f'{r:g}' for r in rates)}: "
              + ("at or under ADWIN's" if under else
                 "over ADWIN's" + (" at some rate" if len(rates) > 1 else "")), flush=True)
        if not under:
            if contract == CONTRACTS[0]:
                print(f"  no contract of the grid stays under ADWIN's rates; the comparison "
                      f"takes the strictest, {contract:g}")
            break
        matched = contract
    return matched


def _nearest(rate: float) -> float:
    """The rate of :data:`GRID` nearest to ``rate`` in ratio (the lowest for a rate of 0)."""
    return min(GRID, key=lambda r: abs(math.log(max(rate, 1e-9) / r)))


def _rate_before(streams: list[Stream]) -> float:
    """The error rate before the drift, over every seed's stream."""
    before = [e for s in streams for e in errors_of(s)[:s.onset - TRAIN]]
    return sum(before) / len(before)


def detection_matched(seeds: int, bernoulli_seeds: int, streams: int, adwin_streams: int,
                      names: tuple[str, ...] = tuple(STREAMS), per_rate: bool = False) -> bool:
    """Print the matching and the detection at the matched contract (``per_rate``: at each
    stream's own error rate); True when driftline at it beats ADWIN on every evaluation
    stream."""
    events = int(LABEL_RATE * HORIZON)
    print(f"detection-matched{' per rate' if per_rate else ''}: stable Bernoulli error "
          f"streams of 30 days at {LABEL_RATE:g} labeled event a second ({events:,} each); "
          f"river ADWIN on {adwin_streams} and the GLR scan on {streams} per error rate",
          flush=True)
    started = time.perf_counter()
    built = {name: [STREAMS[name](seed) for seed in range(
        bernoulli_seeds if name.startswith("bernoulli") else seeds)] for name in names}
    if per_rate:
        rate_of = {}
        for name in names:
            before = _rate_before(built[name])
            rate_of[name] = _nearest(before)
            print(f"  {name}: error rate {before:.3f} before the drift, matched at "
                  f"{rate_of[name]:g}", flush=True)
        matched = {}
        for rate in sorted(set(rate_of.values())):
            matched[rate] = _matched_contract(_adwin_rates(adwin_streams, events, (rate,)),
                                              streams, events)
            print(f"  matched contract at error rate {rate:g}: {matched[rate]:g}", flush=True)
        contract_of = {name: matched[rate_of[name]] for name in names}
    else:
        contract = _matched_contract(_adwin_rates(adwin_streams, events), streams, events)
        print(f"matched contract: {contract:g} false alarms per 30 days (the default: 1)",
              flush=True)
        contract_of = dict.fromkeys(names, contract)
    print(f"[{time.perf_counter() - started:.0f} s]\n", flush=True)
    header = (f"{'stream':<22} {'set':<10} {'detector':<34} {'detected':>8} "
              f"{'median delay':>12} {'false alarms':>12}")
    print(header)
    print("-" * len(header))
    from river import drift

    verdicts = {}
    for name in names:
        contract = contract_of[name]
        rows = [Alarms(f"driftline, contract {contract:g} (matched)"),
                Alarms("driftline, contract 1 (default)"), Alarms("river ADWIN")]
        for stream in built[name]:
            rows[0].add(driftline_alarms(stream, contract), stream.onset)
            rows[1].add(driftline_alarms(stream), stream.onset)
            rows[2].add(river_alarms(drift.ADWIN, errors_of(stream)), stream.onset)
        verdicts[name] = beats(rows[0], rows[2])
        print_stream(name, len(built[name]), rows, 34, verdicts[name], "matched beats ADWIN",
                     started)
    return print_goal(verdicts, names, "goal at matched false-alarm rates (lower median delay "
                      "than river ADWIN, no more false alarms, on every evaluation stream)")
