"""A synthetic monitored day for the drift report's tests: judged by the monitor's own code.

Ten features (seven numeric, three categorical), 5-minute windows. From ``shift_at`` the
loan amount moves up and the channel mix changes; from ``flip_at`` the labels follow another
concept and the AUC falls; at ``retrain_at`` a version 2 (trained on the new data) takes
over and the AUC recovers. Windows are judged by the monitor's accumulator, judge and drift
policy and written as the monitor writes them to its reports topic.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import msgspec
import numpy as np

from driftline.events import DriftEvent, ModelUpdateEvent
from driftline.profile import ReferenceProfile, build_profile
from driftline.report import ReportInput, VersionInfo, read_windows
from monitor.drift.accumulator import WindowAccumulator
from monitor.drift.performance import PerformanceAccumulator
from monitor.drift.windows import Window
from monitor.merging.merge import Judged
from monitor.merging.policy import DriftPolicy

__all__ = ["Day", "synthetic_day"]

NUMERIC = ["loan_amount", "income", "age", "debt_ratio", "credit_lines", "tenure_months",
           "utilisation"]
CATEGORICAL = ["channel", "region", "product"]
MODEL = "credit-risk"
T0 = 1_779_926_400.0  # 2026-05-28 00:00 UTC


@dataclass
class Day:
    """The records a report of the day is built from."""

    records: list[bytes]
    events: list[DriftEvent]
    updates: list[ModelUpdateEvent]
    versions: list[VersionInfo]
    profiles: dict[tuple[str, str], ReferenceProfile] = field(default_factory=dict)

    def report_input(self, **kwargs: object) -> ReportInput:
        windows, unreadable = read_windows(self.records)
        return ReportInput(windows=windows, events=self.events, updates=self.updates,
                           versions=self.versions, profiles=self.profiles,
                           unreadable=unreadable, **kwargs)  # type: ignore[arg-type]


def _rows(rng: np.random.Generator, n: int, shifted: bool) -> dict[str, np.ndarray]:
    cols = {
        "loan_amount": rng.lognormal(12.0 + (0.6 if shifted else 0.0), 0.5, n),
        "income": rng.lognormal(10.8, 0.4, n),
        "age": rng.normal(41, 11, n).clip(18, 90),
        "debt_ratio": rng.beta(2, 5, n),
        "credit_lines": rng.poisson(4, n).astype(float),
        "tenure_months": rng.gamma(3, 12, n),
        "utilisation": rng.beta(2, 3, n),
        "channel": rng.choice(["web", "branch", "broker"], n,
                              p=[0.3, 0.2, 0.5] if shifted else [0.6, 0.3, 0.1]),
        "region": rng.choice(["north", "south", "east", "west"], n),
        "product": rng.choice(["personal", "auto", "home"], n, p=[0.5, 0.3, 0.2]),
    }
    return cols


def _score(cols: dict[str, np.ndarray], flipped: bool) -> tuple[np.ndarray, np.ndarray]:
    """The model's score and the label (the concept flips: the debt ratio stops mattering)."""
    z = (np.log(cols["loan_amount"]) - 12.0) * 1.2 + (cols["debt_ratio"] - 0.3) * 4
    score = 1 / (1 + np.exp(-z))
    truth = z if not flipped else -(cols["utilisation"] - 0.4) * 6
    rng = np.random.default_rng(int(cols["age"][0] * 1000))
    label = (rng.random(len(z)) < 1 / (1 + np.exp(-truth))).astype(int)
    return score, label


def _retrained(cols: dict[str, np.ndarray]) -> np.ndarray:
    """Version 2's score: it learned the flipped concept."""
    return 1 / (1 + np.exp((cols["utilisation"] - 0.4) * 6))


def synthetic_day(windows: int = 288, rows: int = 200, *, shift_at: int = 120,
                  flip_at: int = 160, retrain_at: int = 200, seed: int = 7) -> Day:
    """A day of judged windows (every ``windows`` of 300 s, ``rows`` predictions each)."""
    rng = np.random.default_rng(seed)
    train = _rows(rng, 5000, False)
    score, label = _score(train, False)
    profiles = {
        (MODEL, "1"): build_profile(train, score, numeric=NUMERIC, categorical=CATEGORICAL,
                                    labels=label, model_name=MODEL, model_version="1"),
    }
    new = _rows(rng, 5000, True)
    _, new_label = _score(new, True)
    new_score = _retrained(new)
    profiles[(MODEL, "2")] = build_profile(new, new_score, numeric=NUMERIC,
                                           categorical=CATEGORICAL, labels=new_label,
                                           model_name=MODEL, model_version="2")
    policy = DriftPolicy()
    encoder = msgspec.json.Encoder()
    records: list[bytes] = []
    events: list[DriftEvent] = []
    offset = 0
    for i in range(windows):
        start = T0 + 300.0 * i
        version = "2" if i >= retrain_at else "1"
        cols = _rows(rng, rows, i >= shift_at)
        s, y = _score(cols, i >= flip_at)
        if version == "2":
            s = _retrained(cols)
        acc = WindowAccumulator(profiles[(MODEL, version)], Window(start, start + 300.0))
        perf = PerformanceAccumulator()
        perf.add_predictions(rows)
        for r in range(rows):
            acc.update({k: (v[r].item()) for k, v in cols.items()}, score=float(s[r]),
                       evidence=("predictions", i % 3, offset))
            offset += 1
            if r < rows * 0.8:
                perf.update(float(s[r]), int(y[r]), delay=600.0)
        report = acc.evaluate()
        judged = Judged("drift", MODEL, version, start, start + 300.0, partitions=3,
                        drift=report, events=policy.observe_window(report))
        events += judged.events
        records.append(encoder.encode(judged))
        records.append(encoder.encode(Judged("performance", MODEL, version, start,
                                             start + 300.0, partitions=3,
                                             performance=perf.evaluate())))
    rank = {"low": 0, "medium": 1, "high": 2}
    trigger = max((e for e in events if e.kind == "covariate"),
                  key=lambda e: (rank[e.severity], -e.window_start), default=None)
    retrained = T0 + 300.0 * retrain_at - 120.0
    versions = [
        VersionInfo(MODEL, "1", T0 - 3600.0, ("previous",),
                    {"holdout_auc": 0.83, "holdout_brier": 0.17, "holdout_accuracy": 0.76},
                    {"driftline.decision": "bootstrap"}),
        VersionInfo(MODEL, "2", retrained, ("champion",),
                    {"holdout_auc": 0.81, "holdout_brier": 0.18, "holdout_accuracy": 0.74},
                    {"driftline.decision": "promoted",
                     "driftline.trigger_event_id": trigger.event_id if trigger else "",
                     "driftline.reason": "challenger AUC 0.81 beats the champion's 0.55"}),
    ]
    updates = [ModelUpdateEvent(event_time=retrained + 5.0, model_name=MODEL, version="2",
                                previous_version="1", reason="drift retrain: promoted")]
    return Day(records, [], updates, versions, profiles)
