"""The retrainer on history, in a sandbox: when would it have retrained, and what would the
new versions have scored on the labels that followed.

``driftline backtest --retrain`` hands this module a policy run's drift events and the
labeled pairs the backtest joined. A sandbox registry (an MLflow store of its own under the
run's results folder) starts with a copy of the backtested version as ``@champion``. The
drift events are taken in event-time order through the retrainer's own
:class:`~retrainer.trigger.TriggerPolicy` (kinds, severity, duplicates, debounce, cooldown,
a version that no longer serves); each one it triggers runs the retrainer's own
:class:`~retrainer.job.RetrainJob` (data, challenger, gate, registration, promotion) with the
labeled pairs as the ``labeled`` topic held them at that moment (:class:`HistorySource`).
A retrain short of labeled rows waits as the live one does, in event time: it is tried
again every ``retrain_data_poll`` seconds of history, for ``retrain_data_wait`` seconds.

Nothing reaches Kafka or the live registry: the model-updates announcement goes to a list
(:class:`Announcements`) and every version is registered in the sandbox store. After the
runs, each promotion is scored on the pairs whose predictions came after it (until the next
promotion or the end of the range), beside the version it replaced, on the same rows.
"""

from __future__ import annotations

import bisect
import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from driftline.events import DriftEvent, Event, LabeledEvent
from driftline.model.registry import configure, get_alias, load_model, load_profile
from driftline.model.serving import serve_loaded
from retrainer.dataset import SourcedRow
from retrainer.job import RetrainJob
from retrainer.promotion import CHAMPION
from retrainer.settings import RetrainerSettings
from retrainer.source import LabeledRead

__all__ = ["Announcements", "HistorySource", "SandboxRetrain", "run_sandbox", "seed_sandbox"]

log = logging.getLogger(__name__)


class Announcements:
    """Stands in for the producer of ``model-updates``: keeps what would be announced."""

    failed = 0
    last_error: str | None = None

    def __init__(self) -> None:
        self.sent: list[Event] = []

    def send(self, _topic: str, event: Event, **_options: Any) -> None:
        self.sent.append(event)

    def flush(self, _timeout: float | None = None) -> int:
        return 0


class HistorySource:
    """The ``labeled`` topic as it stood at ``now`` (event time): the pairs whose label had
    come by then, newest last."""

    topic = "labeled"

    def __init__(self, pairs: Sequence[LabeledEvent], margin: float = 0.0) -> None:
        self.pairs = sorted(pairs, key=lambda p: p.label_time)
        self._times = [p.label_time for p in self.pairs]
        self.margin = margin
        self.now = float("-inf")

    def read(self, window: float | None, max_rows: int | None = None) -> LabeledRead:
        high = bisect.bisect_right(self._times, self.now)
        low = 0 if window is None else bisect.bisect_left(
            self._times, self.now - window - self.margin)
        if max_rows is not None:
            low = max(low, high - max_rows)
        rows = [SourcedRow(event=self.pairs[i], topic=self.topic, partition=0, offset=i)
                for i in range(low, high)]
        return LabeledRead(rows=rows, ranges={0: (low, high)})


@dataclass
class SandboxRetrain:
    """One drift event through the sandboxed retrainer: the decision, the retrain's ending,
    and for a promotion, the new and the replaced version on the pairs that followed."""

    event_id: str
    kind: str
    event_time: float
    decision: str
    result: str | None = None
    reason: str = ""
    version: str | None = None
    champion_before: str | None = None
    trained_at: float | None = None  # event time the data was read at
    challenger: dict[str, float] = field(default_factory=dict)
    champion: dict[str, float] = field(default_factory=dict)
    after: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def seed_sandbox(live_home: Path, sandbox_home: Path, name: str, version: str,
                 trusted_types: Sequence[str] = ()) -> str:
    """Copy version ``version`` of ``name`` from the live registry into the sandbox's as
    its ``@champion`` (the model, signature, profile, decision tiers, trust and holdout
    metrics); returns the sandbox version."""
    import mlflow

    from driftline.model.decision import DecisionPolicy
    from driftline.model.registry import feature_schema_from_metadata, register_version
    from driftline.model.trust import tagged_types

    configure(live_home)
    loaded = load_model(name, version, trusted_types=trusted_types)
    profile = load_profile(name, version)
    experiment = configure(sandbox_home, embedded=True)
    trusted = [*tagged_types(loaded.tags), *trusted_types]
    # in the sandbox's experiment, whose artifacts live under its home (the store's default
    # experiment would put them in ./mlruns of whatever directory the process runs in)
    with mlflow.start_run(experiment_id=experiment, run_name=f"copy of {name} v{version}"):
        if loaded.metrics:
            mlflow.log_metrics(loaded.metrics)
        ref = register_version(
            name, loaded.estimator, signature=loaded.signature, profile=profile,
            features=feature_schema_from_metadata(loaded.metadata),
            alias=CHAMPION, description=f"copy of the live registry's v{version}",
            trusted_types=trusted, decision=DecisionPolicy.from_tags(loaded.tags),
        )
    return ref.version


def run_sandbox(settings: RetrainerSettings, events: Sequence[DriftEvent],
                pairs: Sequence[LabeledEvent], *, end: float) -> list[SandboxRetrain]:
    """Every event through the trigger policy and, when triggered, a retrain (see the module
    docstring); ``settings.home`` is the sandbox (seeded already). ``end``: the end of the
    backtest's range, where the last promotion's scoring stops."""
    experiment_id = configure(settings.home, embedded=True)
    source = HistorySource(pairs, margin=settings.retrain_read_margin)
    announcements = Announcements()
    # no waiting in wall time (the loop below waits in event time), and no drift report:
    # it would be read from the live monitor's topics, not from the backtest's windows
    quick = settings.model_copy(update={"retrain_data_wait": 0.0, "retrain_report_span": 0.0})
    job = RetrainJob(quick, producer=announcements, source=source,  # type: ignore[arg-type]
                     experiment_id=experiment_id)
    policy = settings.trigger_policy()
    out: list[SandboxRetrain] = []
    for event in sorted(events, key=lambda e: (e.event_time, e.event_id)):
        champion = get_alias(settings.model_name, CHAMPION)
        decision = policy.decide(event, champion_version=champion)
        record = SandboxRetrain(event.event_id, event.kind, event.event_time, decision.reason)
        out.append(record)
        if not decision.trigger:
            continue
        at, waited = event.event_time, 0.0
        while True:
            source.now = at
            result = job.run(event)
            if result.result != "insufficient_data" or waited >= settings.retrain_data_wait:
                break
            step = min(settings.retrain_data_poll, settings.retrain_data_wait - waited)
            at, waited = at + step, waited + step
        policy.finished(settings.model_name, at=at)
        record.result, record.reason, record.version = result.result, result.reason, \
            result.version
        record.champion_before, record.trained_at = result.champion_before, at
        record.challenger, record.champion = dict(result.challenger), dict(result.champion)
    _score_after(settings, out, pairs, end)
    return out


def _score_after(settings: RetrainerSettings, retrains: list[SandboxRetrain],
                 pairs: Sequence[LabeledEvent], end: float) -> None:
    """Each promotion against the version it replaced, on the pairs predicted after it."""
    from sklearn.metrics import roc_auc_score

    promoted = [r for r in retrains if r.result == "promoted" and r.version]
    for i, record in enumerate(promoted):
        start = record.trained_at or record.event_time
        stop = promoted[i + 1].trained_at if i + 1 < len(promoted) else end
        rows = [p for p in pairs if start < p.prediction.event_time <= (stop or end)]
        labels = np.array([p.label for p in rows])
        record.after = {"from": start, "to": stop, "rows": len(rows)}
        if len(rows) < 2 or len(set(labels.tolist())) < 2:
            record.after["note"] = "too few labeled rows, or one class only"
            continue
        features = [dict(p.prediction.features) for p in rows]
        for role, version in (("new", record.version), ("replaced", record.champion_before)):
            if version is None:
                continue
            loaded = load_model(settings.model_name, version,
                                trusted_types=settings.retrain_trusted_types)
            served = serve_loaded(loaded, role, max_rows=max(len(rows), 1))
            scores = served.score(features)
            record.after[f"{role}_auc"] = float(roc_auc_score(labels, scores))
            record.after[f"{role}_version"] = version
