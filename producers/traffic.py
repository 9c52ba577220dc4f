"""The traffic itself: a seeded, pure stream of applications in simulated time.

Request ``i`` happens ``i / per_second`` simulated seconds after the start, drawn under the
scenario's conditions at that instant, with its ground-truth label and the delay after which
the label becomes known (None: never). Requests are drawn in fixed blocks of the sequence, so
the stream depends only on the seed, the scenario, the delays and the request rate, never on
how fast anyone reads it. Separate random streams feed the features, the mixture draws, the
faults and the delays: changing the label delays leaves the applications as they were.

>>> from producers.delays import Fixed
>>> from producers.scenarios import parse_scenario
>>> traffic = Traffic(parse_scenario("stable:1m,data-quality:share=0.5"),
...                   LabelDelays(Fixed(300.0), never=0.2), seed=11, per_second=1.0, run_id="r")
>>> for app in traffic.take(65)[58:]:
...     print(app.request_id, app.sim_time, app.features.get("loan_amount"), app.label,
...           app.label_delay, app.malformed)
r-00000058 58.0 234757.0 0 300.0 None
r-00000059 59.0 294427.0 0 None None
r-00000060 60.0 135490.0 0 None None
r-00000061 61.0 158135.0 1 300.0 None
r-00000062 62.0 247264.0 0 300.0 None
r-00000063 63.0 500.0 1 300.0 out-of-range loan_amount
r-00000064 64.0 144755.0 0 300.0 out-of-range existing_debt_ratio
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from driftline.events import FeatureValue
from producers.delays import LabelDelays
from producers.faults import corrupt
from producers.scenarios import DRIFTS, Conditions, Schedule, blend
from producers.sources import Source, parse_source

__all__ = ["Application", "Traffic"]

_BLEND_STEPS = 100  # incremental drift moves in steps of 1% of the way


@dataclass(frozen=True)
class Application:
    """One request to score, with the truth about it."""

    index: int
    request_id: str
    sim_time: float  # seconds since the start of the run, in simulated time
    features: dict[str, FeatureValue]
    label: int
    label_delay: float | None  # simulated seconds after sim_time; None: never arrives
    malformed: str | None = None  # what was damaged on purpose (data-quality), if anything

    @property
    def label_due(self) -> float | None:
        """Simulated time at which the label becomes known (None: never)."""
        return None if self.label_delay is None else self.sim_time + self.label_delay


def _child_seeds(seed: int, n: int) -> list[int]:
    return [int(s.generate_state(1)[0]) for s in np.random.SeedSequence(seed).spawn(n)]


class Traffic:
    """Applications under ``schedule`` from ``source`` (a spec such as ``"loans"`` or
    ``"agrawal:function=0:to=4"``), ``per_second`` of them per simulated second."""

    def __init__(
        self,
        schedule: Schedule,
        delays: LabelDelays,
        *,
        seed: int = 0,
        per_second: float = 10.0,
        source: str = "loans",
        run_id: str = "run",
        block: int = 256,
    ) -> None:
        if not per_second > 0:
            raise ValueError(f"per_second must be positive, got {per_second}")
        source_seed, mix_seed, fault_seed, delay_seed = _child_seeds(seed, 4)
        self.source: Source = parse_source(source, seed=source_seed)
        unsupported = sorted(schedule.drift_names - self.source.drifts)
        if unsupported:
            loans_only = [n for n in unsupported if DRIFTS[n].loans_only]
            raise ValueError(
                f"the {self.source.name} source cannot play {', '.join(unsupported)}"
                + (" (loans only)" if loans_only else "")
                + f"; it understands {', '.join(sorted(self.source.drifts))}"
            )
        self.schedule = schedule
        self.delays = delays
        self.per_second = float(per_second)
        self.run_id = run_id
        self._block = block
        self._mix_rng = np.random.default_rng(mix_seed)
        self._fault_rng = np.random.default_rng(fault_seed)
        self._delay_rng = np.random.default_rng(delay_seed)
        self._blends: dict[tuple[int, int, int], Conditions] = {}

    def request_id(self, index: int) -> str:
        return f"{self.run_id}-{index:08d}"

    def time_of(self, index: int) -> float:
        """Simulated time of request ``index``."""
        return index / self.per_second

    def _conditions(self, t: float) -> Conditions:
        mix = self.schedule.at(t)
        u = self._mix_rng.random()  # drawn for every request, so the stream stays aligned
        if mix.how == "mixture":
            return mix.new if u < mix.weight else mix.old
        step = round(mix.weight * _BLEND_STEPS)
        key = (id(mix.old), id(mix.new), step)
        if key not in self._blends:
            self._blends[key] = blend(mix.old, mix.new, step / _BLEND_STEPS)
        return self._blends[key]

    def _draw_block(self, start: int) -> list[Application]:
        n = self._block
        times = [self.time_of(i) for i in range(start, start + n)]
        conditions = [self._conditions(t) for t in times]
        rows: list[dict[str, FeatureValue]] = [{}] * n
        labels = np.zeros(n, dtype=np.int64)
        groups: dict[int, list[int]] = {}
        for pos, c in enumerate(conditions):
            groups.setdefault(id(c), []).append(pos)
        for positions in groups.values():
            drawn, drawn_labels = self.source.sample(len(positions), conditions[positions[0]])
            for pos, row, label in zip(positions, drawn, drawn_labels, strict=True):
                rows[pos] = row
                labels[pos] = label
        faults = self._fault_rng.random(n)
        delays = self.delays.sample(self._delay_rng, n)
        apps = []
        for pos in range(n):
            features, malformed = rows[pos], None
            if faults[pos] < conditions[pos].malformed_share:
                features, malformed = corrupt(features, self.source.schema, self._fault_rng)
            delay = float(delays[pos])
            apps.append(
                Application(
                    index=start + pos,
                    request_id=self.request_id(start + pos),
                    sim_time=times[pos],
                    features=features,
                    label=int(labels[pos]),
                    label_delay=None if np.isnan(delay) else delay,
                    malformed=malformed,
                )
            )
        return apps

    def __iter__(self) -> Iterator[Application]:
        for start in itertools.count(0, self._block):
            yield from self._draw_block(start)

    def take(self, n: int) -> list[Application]:
        """The first ``n`` applications of a fresh iteration (call once per Traffic)."""
        return list(itertools.islice(iter(self), n))
