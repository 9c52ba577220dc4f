"""Run a backtest: read the range once through the monitor's source path, judge it once per
policy, and set the baselines beside them.

Nothing is written to Kafka and nothing to the registry (it is only read, for the model's
reference profile and baseline metrics): the source loop's output goes to memory
(:class:`~monitor.backtest.sink.MemorySink`), its consumer assigns partitions itself and
commits nothing. Results go to a folder (:func:`write_results`).
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec

from driftline.errors import ContractError
from driftline.events import DriftEvent, decode
from driftline.instants import format_instant
from driftline.kafka import read_topic
from driftline.profile import ReferenceProfile
from monitor.backtest.judging import (
    AlarmScore,
    PolicyJudge,
    RunOutcome,
    event_signature,
    periodic_delay,
    score_alarms,
)
from monitor.backtest.loop import RangeLoop, ReadRange
from monitor.backtest.sink import MemorySink
from monitor.merging.policy_file import MonitoringPolicy, load_policy
from monitor.settings import MonitorSettings
from monitor.state.partition import Partial

__all__ = [
    "BacktestRequest",
    "BacktestResult",
    "run_backtest",
    "run_folder",
    "summary_rows",
    "write_results",
]

log = logging.getLogger(__name__)

LIVE_POLICY = "live policy"


@dataclass
class BacktestRequest:
    """One backtest as asked: event times ``[start, end]``, the model (name; version, or
    None for every version), the policy files (none: the live policy), the topic prefix to
    read (None: the settings' own), and a known drift onset to score alarms against."""

    start: float
    end: float
    model_name: str | None = None
    model_version: str | None = None
    policies: list[Path] = field(default_factory=list)
    prefix: str | None = None
    onset: float | None = None
    lookback: float = 60.0
    keep_labeled: bool = False  # keep the joined pairs (for --retrain)


@dataclass
class BacktestResult:
    """Per policy what it raised; the live run's events over the range; what was read."""

    request: BacktestRequest
    topics: dict[str, str]
    runs: list[RunOutcome]
    live: RunOutcome | None  # None: no live drift-events topic to compare with
    counts: dict[str, int]
    seconds: float
    labeled: list[dict[str, Any]] = field(default_factory=list)  # with keep_labeled

    def matches_live(self, run: RunOutcome) -> bool | None:
        """Whether ``run`` raised the same events as the live run (None: no live run)."""
        if self.live is None:
            return None
        return (sorted(map(event_signature, run.events))
                == sorted(map(event_signature, self.live.events)))


def _policies(settings: MonitorSettings, files: list[Path]) -> list[tuple[str, str,
                                                                              MonitoringPolicy]]:
    """(label, source, policy) per file; the live policy alone without files. Each file is
    validated here (an invalid one stops the backtest, naming the key)."""
    if not files:
        source = str(settings.policy_file) if settings.policy_file else "settings"
        return [(LIVE_POLICY, source, settings.monitoring_policy())]
    base = settings.monitoring_policy().base
    out, seen = [], Counter[str]()
    for path in files:
        label = path.stem
        seen[label] += 1
        if seen[label] > 1:
            label = f"{label}-{seen[label]}"
        out.append((label, str(path), load_policy(path, base=base)))
    return out


def run_backtest(
    settings: MonitorSettings,
    request: BacktestRequest,
    *,
    profiles: Callable[[str, str], ReferenceProfile | None] | None = None,
    baselines: Callable[[str, str], Mapping[str, float]] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> BacktestResult:
    """Run ``request`` to the end of its range (see the module docstring).
    ``profiles``/``baselines`` default to the MLflow registry, as the monitor's."""
    began = time.monotonic()
    if request.prefix is not None:
        settings = settings.model_copy(update={
            "kafka": settings.kafka.model_copy(update={"topic_prefix": request.prefix})})
    if profiles is None or baselines is None:
        from driftline.model.registry import configure
        from monitor.worker.profiles import RegistryLookups

        configure(settings.home)
        lookups = RegistryLookups()
        profiles = profiles or lookups.profile
        baselines = baselines or lookups.baseline
    policies = _policies(settings, request.policies)
    k = settings.kafka
    read_until = (request.end + settings.grace + settings.label_wait
                  + min(settings.source_align, settings.join_ttl / 2))
    reading = ReadRange(start=request.start, end=request.end, read_until=read_until,
                        model_name=request.model_name, model_version=request.model_version,
                        lookback=request.lookback)
    judges: list[PolicyJudge] = []

    def judge(partial: Partial) -> None:
        for j in judges:
            j.add(partial)

    sink = MemorySink(partials=RangeLoop.partials_topic(settings), labeled=k.topic("labeled"),
                      dead_letter=k.topic("dead-letter"), on_partial=judge,
                      keep_labeled=request.keep_labeled)
    loop = RangeLoop(settings, profiles, sink, reading)
    offsets = loop.plan()
    partitions = len({p for _, p in offsets})
    judges.extend(PolicyJudge(label, source, policy, partitions=partitions, profiles=profiles,
                              baselines=baselines, min_labeled=settings.min_labeled,
                              start=request.start, end=request.end,
                              concept=settings.concept_params())
                  for label, source, policy in policies)
    loop.run_to_end(progress)
    unjudged = sum(j.pending for j in judges)
    if unjudged:
        log.warning("%d windows were merged in part and never judged", unjudged)
    counts = {"read": loop.read, "planned": loop.planned, "outside": loop.outside,
              "joined": sink.joined, "dead_letters": len(sink.dead_letters),
              "not_moved": sum(sink.not_moved.values()), "unjudged": unjudged}
    return BacktestResult(
        request=request,
        topics={"predictions": loop.predictions, "labels": loop.labels},
        runs=[j.outcome for j in judges],
        live=_live_events(settings, request),
        counts=counts,
        seconds=time.monotonic() - began,
        labeled=sink.labeled,
    )


def _live_events(settings: MonitorSettings, request: BacktestRequest) -> RunOutcome | None:
    """The drift events the live monitor raised over the range (from ``drift-events``)."""
    topic = settings.topic("drift-events")
    try:
        messages = read_topic(settings.kafka, topic)
    except Exception as exc:  # no such topic: no live run to compare with
        log.info("no live drift events to compare with (%s: %s)", topic, exc)
        return None
    live = RunOutcome("live", topic)
    for msg in messages:
        try:
            event = decode(DriftEvent, msg.value())
        except ContractError:  # a bad message: the live monitor's dead letter, not a live event
            continue
        if request.model_name is not None and event.model_name != request.model_name:
            continue
        if request.model_version is not None and event.model_version != request.model_version:
            continue
        if request.start <= event.window_start and event.window_end <= request.end:
            live.events.append(event)
    live.events.sort(key=lambda e: (e.window_end, e.kind))
    return live


# -- the summary ------------------------------------------------------------------------------

def _alarm_time(event: DriftEvent) -> float:
    return event.window_end


def summary_rows(result: BacktestResult) -> list[dict[str, Any]]:
    """One row per run (each policy, then the live run), with its periodic baseline: the
    expected delay of the same number of alarms evenly spaced over the range at a random
    phase."""
    req = result.request
    rows = []
    outcomes = [(run, True) for run in result.runs]
    if result.live is not None:
        outcomes.append((result.live, False))
    for run, judged in outcomes:
        times = [_alarm_time(e) for e in run.events]
        score = score_alarms(times, req.onset)
        periodic = periodic_delay(req.start, req.end, len(times), req.onset)
        kinds = Counter(e.kind for e in run.events)
        rows.append({
            "run": run.label,
            "source": run.source,
            "windows": len(run.windows) if judged else None,
            "events": len(run.events),
            "by_kind": dict(sorted(kinds.items())),
            "first": format_instant(min(times)) if times else None,
            "features": sorted({s.feature for e in run.events for s in e.statistics
                                if s.drifted and e.kind == "covariate"}),
            "false_alarms": score.false_alarms,
            "delay_s": score.delay,
            "periodic_delay_s": periodic,
            "beats_periodic": _beats(score, periodic),
            "matches_live": result.matches_live(run) if judged else None,
        })
    return rows


def _beats(score: AlarmScore, periodic: float | None) -> bool | None:
    """Whether a run's first alarm after the onset came sooner than its periodic
    baseline's expected delay (None: no onset, or neither alarmed)."""
    if score.delay is None and periodic is None:
        return None
    if score.delay is None:
        return False
    return periodic is None or score.delay < periodic


# -- results on disk --------------------------------------------------------------------------

def _jsonl(path: Path, items: list[Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as out:
        for item in items:
            out.write(msgspec.json.encode(item) + b"\n")


def run_folder(folder: Path, run: RunOutcome) -> Path:
    """Where one run's files go in the results folder."""
    return folder / run.label.replace(" ", "-").replace("/", "-")


def write_results(result: BacktestResult, folder: Path) -> Path:
    """Write ``backtest.json`` (the request, what was read, the summary) and, per run, its
    judged windows (``<run>/windows.jsonl``: the records the live monitor writes to its
    reports topic) and drift events (``<run>/events.jsonl``). Returns the folder."""
    folder.mkdir(parents=True, exist_ok=True)
    req = result.request
    runs = [*result.runs, *([result.live] if result.live is not None else [])]
    for run in runs:
        if run is not result.live:
            _jsonl(run_folder(folder, run) / "windows.jsonl", run.windows)
        _jsonl(run_folder(folder, run) / "events.jsonl", run.events)
    if result.labeled:
        with (folder / "labeled.jsonl").open("wb") as out:
            for record in result.labeled:
                out.write(record["value"] + b"\n")
    manifest = {
        "request": {
            "from": format_instant(req.start), "to": format_instant(req.end),
            "start": req.start, "end": req.end, "model_name": req.model_name,
            "model_version": req.model_version, "policies": [str(p) for p in req.policies],
            "prefix": req.prefix, "onset": req.onset, "lookback": req.lookback,
        },
        "topics": result.topics,
        "counts": result.counts,
        "seconds": round(result.seconds, 3),
        "summary": summary_rows(result),
    }
    (folder / "backtest.json").write_bytes(msgspec.json.format(msgspec.json.encode(manifest)))
    return folder
