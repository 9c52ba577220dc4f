"""A live range's report input: judged windows and events from Kafka, versions from MLflow.

:func:`read_range` reads the monitor's reports topic, ``drift-events`` and ``model-updates``
from the first record published at or after ``start - MARGIN`` (a window is published after
it closes, so nothing of the range is older) to the end of each log; :func:`within` keeps
what overlaps ``[start, end)`` by event time. :func:`registry_facts` asks the registry for
every version of the models in the range (aliases, run metrics, tags) and the reference
profiles of the versions judged. A record that does not decode is left out and named in
the report.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Iterator
from dataclasses import replace
from typing import TypeVar

from confluent_kafka import KafkaError, KafkaException

from driftline.errors import ContractError
from driftline.events import DriftEvent, Event, ModelUpdateEvent, decode
from driftline.kafka.consumer import Consumer, iter_range
from driftline.profile import ReferenceProfile
from driftline.report.inputs import ReportInput, VersionInfo, WindowRecord, read_windows
from driftline.settings import KafkaSettings

__all__ = ["MARGIN", "collect", "read_range", "registry_facts", "within"]

log = logging.getLogger(__name__)
E = TypeVar("E", bound=Event)

MARGIN = 3600.0
"""Seconds read before ``start``: clocks of the producers and the monitor may differ."""


def _records(kafka: KafkaSettings, topic: str, since: float) -> Iterator[bytes]:
    """Every value of ``topic`` published at or after ``since`` (none when it does not
    exist)."""
    with Consumer(kafka, commit="manual") as probe:
        try:
            marks = probe.topic_watermarks(topic)
        except KafkaException as exc:  # no such topic (yet) is an empty one; else raise
            error = exc.args[0] if exc.args else None
            if not isinstance(error, KafkaError) or (
                    error.code() != KafkaError.UNKNOWN_TOPIC_OR_PART):
                raise
            log.warning("not reading %s: it does not exist", topic)
            return
        firsts = probe.offsets_for_times(topic, {p: int(since * 1000) for p in marks})
    ranges = {p: (firsts[p] if firsts.get(p, -1) >= 0 else high, high)
              for p, (_low, high) in marks.items()}
    for message in iter_range(kafka, topic, ranges):
        value = message.value()
        if value is not None:
            yield value


def _overlaps(first: float, last: float, start: float, end: float) -> bool:
    return last > start and first < end


def _decoded(cls: type[E], raw: Iterable[bytes], unreadable: list[str], topic: str
             ) -> list[E]:
    """The events of ``raw`` that decode; why the others did not (into ``unreadable``)."""
    out = []
    for i, value in enumerate(raw):
        try:
            event = decode(cls, value)
        except (ContractError, RecursionError) as exc:
            why = "the JSON is nested too deeply" if isinstance(exc, RecursionError) else exc
            unreadable.append(f"{topic} record {i}: {why}")
            continue
        out.append(event)
    return out


def read_range(kafka: KafkaSettings, reports_topic: str, since: float
               ) -> tuple[list[WindowRecord], list[DriftEvent], list[ModelUpdateEvent],
                          list[str]]:
    """Judged windows, drift events and alias moves published at or after ``since``
    (seconds since the epoch, by Kafka timestamp), and why each record left out could not
    be read."""
    windows, unreadable = read_windows(_records(kafka, reports_topic, since))
    unreadable = [f"{reports_topic} {u}" for u in unreadable]
    events_topic, updates_topic = kafka.topic("drift-events"), kafka.topic("model-updates")
    events = _decoded(DriftEvent, _records(kafka, events_topic, since), unreadable,
                      events_topic)
    updates = _decoded(ModelUpdateEvent, _records(kafka, updates_topic, since), unreadable,
                       updates_topic)
    return windows, events, updates, unreadable


def within(data: ReportInput, start: float, end: float, model: str | None) -> ReportInput:
    """``data`` cut to what overlaps ``[start, end)`` of event time (and to ``model``).

    Alias moves are kept from ``start`` on with no upper bound: the registry stamps them
    with its own clock, which runs ahead of the traffic's when traffic is simulated or
    replayed, and the timeline places each at its version's first judged window
    (:func:`driftline.report.digest.move_times`), dropping those that land outside."""
    def mine(name: str) -> bool:
        return model is None or name == model

    return replace(
        data, start=start, end=end, model=model,
        windows=[w for w in data.windows if mine(w.model_name)
                 and _overlaps(w.window_start, w.window_end, start, end)],
        events=[e for e in data.events if mine(e.model_name)
                and _overlaps(e.window_start, e.window_end, start, end)],
        updates=[u for u in data.updates if mine(u.model_name) and start <= u.event_time])


def registry_facts(models: Iterable[str], judged: Iterable[tuple[str, str]]
                   ) -> tuple[list[VersionInfo], dict[tuple[str, str], ReferenceProfile],
                              list[str]]:
    """Every version of ``models`` with its aliases, run metrics and tags, the profiles of
    the ``judged`` (model, version) pairs, and what could not be read (MLflow must be
    configured: :func:`driftline.model.registry.configure`)."""
    import mlflow

    from driftline.model.registry import load_profile

    client = mlflow.MlflowClient()
    versions: list[VersionInfo] = []
    notes: list[str] = []
    for name in sorted(set(models)):
        try:
            found = client.search_model_versions(f"name = '{name}'")
        except Exception as exc:  # the registry is down, or the name is unknown
            notes.append(f"registry: no versions of {name} ({exc})")
            continue
        try:
            aliases = dict(client.get_registered_model(name).aliases or {})
        except Exception as exc:
            notes.append(f"registry: no aliases of {name} ({exc})")
            aliases = {}
        for mv in found:
            metrics: dict[str, float] = {}
            if mv.run_id:
                try:
                    metrics = dict(client.get_run(mv.run_id).data.metrics)
                except Exception as exc:
                    notes.append(f"registry: no run metrics of {name} v{mv.version} ({exc})")
            versions.append(VersionInfo(
                name=name, version=str(mv.version),
                created_at=mv.creation_timestamp / 1000.0 if mv.creation_timestamp else None,
                aliases=tuple(a for a, v in aliases.items() if str(v) == str(mv.version)),
                metrics=metrics,
                tags=dict(mv.tags or {})))
    profiles: dict[tuple[str, str], ReferenceProfile] = {}
    for name, version in sorted(set(judged)):
        try:
            profiles[(name, version)] = load_profile(name, version)
        except Exception as exc:
            notes.append(f"registry: no reference profile of {name} v{version} ({exc})")
    return versions, profiles, notes


def collect(kafka: KafkaSettings, reports_topic: str, start: float | None, end: float | None,
            model: str | None = None, *, span: float = 86_400.0, registry: bool = True,
            title: str = "", now: float | None = None) -> ReportInput:
    """Everything the report of ``[start, end)`` (event time) shows; with ``start`` None,
    the ``span`` seconds up to the newest judged window published in the last ``span``
    seconds (``registry``: also ask MLflow)."""
    now = time.time() if now is None else now
    since = (now - span if start is None else start) - MARGIN
    windows, events, updates, unreadable = read_range(kafka, reports_topic, since)
    if end is None:
        end = max((w.window_end for w in windows), default=now)
    if start is None:
        start = end - span
    data = within(ReportInput(windows=windows, events=events, updates=updates,
                              unreadable=unreadable), start, end, model)
    if registry:
        models = {w.model_name for w in data.windows} | {e.model_name for e in data.events}
        if model is not None:
            models.add(model)
        versions, profiles, notes = registry_facts(
            models, {(w.model_name, w.model_version) for w in data.windows
                     if w.drift is not None})
        data = replace(data, versions=versions, profiles=profiles,
                       unreadable=data.unreadable + notes)
    return replace(data, title=title or f"Drift report{': ' + model if model else ''}",
                   source=f"topics {reports_topic}, {kafka.topic('drift-events')}")
