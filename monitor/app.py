"""The faust-streaming app behind ``driftline monitor``.

Two agents:

``process`` reads ``predictions`` and ``labels`` together (co-partitioned: the same
partition numbers go to the same worker) and runs one :class:`~monitor.partition.PartitionState`
per source partition: the join (slots in the ``join`` table, a changelog topic), the window
counts, and the concept detectors on each joined pair. Joined pairs go to ``labeled``; closed
windows and detector alarms go, as partials, to the internal ``<app id>-partials`` topic.
Bad messages go to ``dead-letter`` with the reason and processing goes on. Each partition's
state is checkpointed to the ``checkpoints`` table every ``checkpoint_interval`` seconds and
only then are its events acknowledged, so the committed offset never passes the checkpoint.

``judge`` reads the partials (one partition), merges every partition's share of a window,
judges it once (:class:`~monitor.merge.WindowMerger`), applies hysteresis and cooldown
(policy state in the ``policy`` table), writes each judged window (drift statistics per
feature, performance, label coverage) to ``<app id>-reports``, and drift events to
``drift-events``, the log and the webhook.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, MutableMapping
from dataclasses import dataclass, field
from typing import Any

import faust
import msgspec

from driftline.errors import ContractError
from driftline.events import (
    FeatureStatistic,
    LabelEvent,
    PredictionEvent,
    decode,
    encode,
)
from driftline.kafka.deadletter import dead_letter_for
from driftline.topics import topic_names
from monitor.alerts import WebhookSink, log_alert
from monitor.concept import ConceptDetectors
from monitor.judge import DriftConfig
from monitor.merge import Judged, WindowMerger
from monitor.metrics import MonitorMetrics
from monitor.partition import Partial, PartitionConfig, PartitionState, finite_or_none
from monitor.policy import DriftPolicy
from monitor.settings import MonitorSettings

__all__ = ["Monitor", "build_monitor"]

log = logging.getLogger(__name__)

_partial_encoder = msgspec.json.Encoder()
_partial_decoder = msgspec.json.Decoder(Partial)
_report_encoder = msgspec.json.Encoder()


class _PrefixView(MutableMapping[str, bytes]):
    """One partition's keys of a faust table (``b"<partition>|<key>"``)."""

    def __init__(self, table: Any, partition: int) -> None:
        self._table = table
        self._prefix = f"{partition}|".encode()

    def _k(self, key: str) -> bytes:
        return self._prefix + key.encode()

    def __getitem__(self, key: str) -> bytes:
        value = self._table.get(self._k(key))
        if value is None:
            raise KeyError(key)
        return value

    def get(self, key: str, default: Any = None) -> Any:
        value = self._table.get(self._k(key))
        return default if value is None else value

    def __setitem__(self, key: str, value: bytes) -> None:
        self._table[self._k(key)] = value

    def __delitem__(self, key: str) -> None:
        del self._table[self._k(key)]

    def __iter__(self) -> Iterator[str]:
        n = len(self._prefix)
        for key in list(self._table.keys()):
            if key.startswith(self._prefix):
                yield key[n:].decode()

    def __len__(self) -> int:
        return sum(1 for _ in self)


@dataclass
class Monitor:
    """The app and what its agents share (exposed for tests and the CLI)."""

    app: faust.App
    settings: MonitorSettings
    metrics: MonitorMetrics
    states: dict[int, PartitionState] = field(default_factory=dict)


def _credentials(settings: MonitorSettings) -> Any:
    k = settings.kafka
    if k.security_protocol == "PLAINTEXT":
        return None
    context = k.ssl_context() if k.security_protocol in ("SSL", "SASL_SSL") else None
    if k.security_protocol == "SSL":
        return faust.SSLCredentials(context)
    return faust.SASLCredentials(
        username=k.sasl_username,
        password=k.sasl_password.get_secret_value() if k.sasl_password else None,
        ssl_context=context,
        mechanism=k.sasl_mechanism,
    )


def build_monitor(
    settings: MonitorSettings,
    *,
    profiles: Any = None,
    baselines: Any = None,
) -> Monitor:
    """Build the faust app. ``profiles(name, version)`` and ``baselines(name, version)``
    default to the MLflow registry."""
    if profiles is None or baselines is None:
        from driftline.registry import configure
        from monitor.profiles import RegistryLookups

        configure(settings.home)
        lookups = RegistryLookups()
        profiles = profiles or lookups.profile
        baselines = baselines or lookups.baseline

    k = settings.kafka
    names = topic_names(k.topic_prefix)
    app_id = f"{k.topic_prefix}{settings.monitor_app_id}"
    app = faust.App(
        app_id,
        broker=[f"kafka://{host}" for host in k.bootstrap.split(",")],
        broker_credentials=_credentials(settings),
        store="memory://",
        topic_partitions=k.partitions,
        topic_replication_factor=k.replication_factor,
        key_serializer="raw",
        value_serializer="raw",
        web_enabled=False,
        autodiscover=False,
        consumer_auto_offset_reset="earliest",
        producer_acks=-1,
        broker_commit_interval=min(2.8, settings.checkpoint_interval),
        table_cleanup_interval=60.0,
        # Events are acknowledged only when a checkpoint covers them, so faust must not wait
        # for every event to be acked before a rebalance or a stop: it would wait for the
        # agent it has just paused. Unacked events are read again and skipped or replayed.
        stream_wait_empty=False,
    )
    metrics = MonitorMetrics()
    monitor = Monitor(app=app, settings=settings, metrics=metrics)

    source = app.topic(names["predictions"], names["labels"], key_type=bytes, value_type=bytes)
    labeled_topic = app.topic(names["labeled"], key_type=bytes, value_type=bytes)
    drift_topic = app.topic(names["drift-events"], key_type=bytes, value_type=bytes)
    dead_topic = app.topic(names["dead-letter"], key_type=bytes, value_type=bytes)
    partials_topic = app.topic(f"{app_id}-partials", partitions=1, key_type=bytes,
                               value_type=bytes, internal=True)
    reports_topic = app.topic(f"{app_id}-reports", partitions=1, key_type=bytes,
                              value_type=bytes, internal=True)
    join_table = app.Table("join", partitions=k.partitions, key_type=bytes, value_type=bytes)
    checkpoints = app.Table("checkpoints", partitions=k.partitions, key_type=bytes,
                            value_type=bytes)
    policy_table = app.Table("policy", partitions=1, key_type=bytes, value_type=bytes)

    config = PartitionConfig(settings.windows(), label_wait=settings.label_wait,
                             join_ttl=settings.join_ttl, threshold=settings.positive_threshold)
    detectors = ConceptDetectors(threshold=settings.positive_threshold)
    held: dict[int, list[Any]] = {}
    last_checkpoint: dict[int, float] = {}
    positions: dict[tuple[str, int], int] = {}
    webhook = (
        WebhookSink(settings.webhook_url, timeout=settings.webhook_timeout,
                    retries=settings.webhook_retries)
        if settings.webhook_url else None
    )

    def state_for(partition: int) -> PartitionState:
        state = monitor.states.get(partition)
        if state is None:
            raw = checkpoints.get(str(partition).encode())
            snapshot = None if raw is None else PartitionState.decode_snapshot(raw)
            state = PartitionState(partition, config, _PrefixView(join_table, partition),
                                   profiles, snapshot)
            monitor.states[partition] = state
            last_checkpoint[partition] = time.monotonic()
            log.info("partition %d: resumed at %s", partition, state.offsets or "the start")
        return state

    @app.on_partitions_assigned.connect
    async def _assigned(app: faust.App, assigned: set[Any], **kwargs: Any) -> None:
        mine = {tp.partition for tp in assigned if tp.topic == names["predictions"]}
        for partition in list(monitor.states):
            if partition not in mine:  # moved to another worker: it resumes from the table
                del monitor.states[partition]
                held.pop(partition, None)

    async def drain() -> None:
        """Wait until everything handed to faust's producer is acknowledged by Kafka (its own
        flush gives up on a message slower than 0.1 s)."""
        while app.producer.buffer.size:
            await app.producer.buffer.flush()
        await app.producer.flush()

    async def checkpoint(partition: int, state: PartitionState) -> None:
        # Everything sent so far (labeled pairs, partials, slots) must be in Kafka before the
        # checkpoint says it was, and the checkpoint before the offsets move past it.
        await drain()
        checkpoints[str(partition).encode()] = state.snapshot()
        await drain()
        for event in held.pop(partition, []):
            event.ack()
        last_checkpoint[partition] = time.monotonic()
        metrics.expired.inc(len(state.expire()))

    @app.agent(source)
    async def process(stream: Any) -> None:
        async for event in stream.noack().events():
            msg = event.message
            topic, partition, offset = msg.topic, msg.partition, msg.offset
            state = state_for(partition)
            held.setdefault(partition, []).append(event)
            positions[(topic, partition)] = offset
            value = event.value
            try:
                if topic == names["predictions"]:
                    step = state.on_prediction(decode(PredictionEvent, value), topic, offset)
                    outcome = "skipped" if step.skipped else "prediction"
                else:
                    step = state.on_label(decode(LabelEvent, value), topic, offset)
                    outcome = "skipped" if step.skipped else "label"
            except ContractError as exc:
                if state.on_dead_letter(topic, offset):
                    letter = dead_letter_for(exc, source_topic=topic, partition=partition,
                                             offset=offset, key=event.key, value=value,
                                             service="monitor")
                    await dead_topic.send(key=letter.key, value=encode(letter))
                    metrics.dead_letters.labels(topic).inc()
                metrics.events.labels(topic, "dead-letter").inc()
                continue
            metrics.events.labels(topic, outcome).inc()
            for labeled in step.labeled:
                await labeled_topic.send(key=labeled.key, value=encode(labeled))
                metrics.labeled.inc()
                p = labeled.prediction
                fired = detectors.update(p.model_name, p.model_version, p.score,
                                         labeled.label)
                if fired:
                    detector = detectors.get(p.model_name, p.model_version)
                    stats = [
                        FeatureStatistic(feature="error_rate", statistic=name,
                                         value=detector.error_rate, threshold=0.0,
                                         drifted=True, feature_type="metric")
                        for name in fired
                    ]
                    partial = Partial(kind="detection", partition=partition,
                                      watermark=finite_or_none(state.drift_clock.watermark),
                                      model_name=p.model_name, model_version=p.model_version,
                                      event_time=labeled.label_time, detection=stats)
                    await partials_topic.send(key=partial.key,
                                              value=_partial_encoder.encode(partial))
            for partial in step.partials:
                await partials_topic.send(key=partial.key, value=_partial_encoder.encode(partial))
            if time.monotonic() - last_checkpoint.get(partition, 0.0) >= (
                settings.checkpoint_interval
            ):
                await checkpoint(partition, state)

    @app.agent(partials_topic)
    async def judge(stream: Any) -> None:

        merger = WindowMerger(
            partitions=k.partitions,
            profiles=profiles,
            baselines=baselines,
            config=DriftConfig(dataset_share=settings.dataset_share, min_rows=settings.min_rows),
            policy=DriftPolicy(raise_after=settings.raise_after,
                               clear_after=settings.clear_after, cooldown=settings.cooldown,
                               store=_PrefixView(policy_table, 0)),
            idle_timeout=settings.idle_timeout,
            min_labeled=settings.min_labeled,
        )
        # A partial is acknowledged once the window it feeds is judged, so a restart re-reads
        # every partial of the windows still open (heartbeats and detections: at once).
        waiting: dict[tuple[str, str, str, float], list[Any]] = {}
        async for event in stream.noack().events():
            try:
                partial = _partial_decoder.decode(event.value)
            except msgspec.ValidationError as exc:  # never expected: our own topic
                log.error("unreadable partial at offset %s: %s", event.message.offset, exc)
                event.ack()
                continue
            if partial.kind in ("drift", "performance"):
                key = (partial.kind, partial.model_name, partial.model_version,
                       partial.window_start)
                waiting.setdefault(key, []).append(event)
            judged_now = merger.add(partial)
            if partial.kind not in ("drift", "performance"):
                event.ack()
            for judged in judged_now:
                _observe(metrics, judged)
                await reports_topic.send(key=judged.model_name.encode(),
                                         value=_report_encoder.encode(judged))
                for drift_event in judged.events:
                    await drift_topic.send(key=drift_event.key, value=encode(drift_event))
                    metrics.drift_events.labels(drift_event.model_name,
                                                drift_event.model_version, drift_event.kind,
                                                drift_event.severity).inc()
                    log_alert(drift_event)
                    if webhook is not None:
                        webhook.submit(drift_event)
                key = (judged.kind, judged.model_name, judged.model_version,
                       judged.window_start)
                if key in waiting:
                    await drain()  # the report and events are out before the ack
                for done in waiting.pop(key, []):
                    done.ack()
            if partial.kind in ("drift", "performance") and merger.is_judged(partial):
                for done in waiting.pop((partial.kind, partial.model_name,
                                         partial.model_version, partial.window_start), []):
                    done.ack()

    @app.task
    async def declare_outputs() -> None:
        await reports_topic.declare()

    @app.timer(1.0)
    async def heartbeats() -> None:
        """Each assigned partition's watermarks and whether it has a backlog, so the judge
        waits for slow partitions and not for idle ones."""
        from faust.types import TP

        try:
            assigned = app.consumer.assignment()
        except Exception:
            return
        for tp in assigned:
            if tp.topic != names["predictions"]:
                continue
            behind = False
            for topic in (names["predictions"], names["labels"]):
                high = app.consumer.highwater(TP(topic, tp.partition))
                seen = positions.get((topic, tp.partition))
                if high is not None and high > 0 and (seen is None or seen < high - 1):
                    behind = True
            state = monitor.states.get(tp.partition)
            partial = Partial(
                kind="watermark", partition=tp.partition, caught_up=not behind,
                watermark=finite_or_none(state.drift_clock.watermark) if state else None,
                performance_watermark=(
                    finite_or_none(state.performance_watermark) if state else None
                ),
            )
            await partials_topic.send(key=partial.key, value=_partial_encoder.encode(partial))

    @app.timer(5.0)
    async def gauges() -> None:
        metrics.join_state.set(len(join_table))
        for (topic, partition), offset in list(positions.items()):
            try:
                from faust.types import TP

                high = app.consumer.highwater(TP(topic, partition))
            except Exception:
                continue
            if high is not None:
                metrics.lag.labels(topic, str(partition)).set(max(high - offset - 1, 0))
        for partition, state in monitor.states.items():
            metrics.late.labels(str(partition)).set(sum(state.drift_clock.late.values()))

    return monitor


def _observe(metrics: MonitorMetrics, judged: Judged) -> None:
    labels = (judged.model_name, judged.model_version)
    metrics.windows.labels(*labels, judged.kind).inc()
    if judged.drift is not None:
        report = judged.drift
        metrics.window_rows.labels(*labels).set(report.rows)
        metrics.share_drifted.labels(*labels).set(report.share_drifted)
        for j in [*report.features, *([report.score] if report.score else [])]:
            for stat in j.statistics:
                metrics.statistic.labels(*labels, j.feature, stat.statistic).set(stat.value)
    if judged.performance is not None:
        for name, value in judged.performance.metrics().items():
            metrics.performance.labels(*labels, name).set(value)


def run(settings: MonitorSettings) -> None:
    """Run the monitor worker until interrupted."""
    from prometheus_client import start_http_server

    monitor = build_monitor(settings)
    if settings.metrics_port:
        start_http_server(settings.metrics_port, addr=settings.metrics_host)
    worker = faust.Worker(monitor.app, loglevel=settings.log_level.lower(), quiet=True,
                          redirect_stdouts=False)
    worker.execute_from_commandline()

