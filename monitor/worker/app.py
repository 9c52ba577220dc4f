"""The faust-streaming app behind ``driftline monitor``.

Two parts:

the **source loop** (:class:`~monitor.worker.source_loop.SourceLoop`, in a thread of the
worker or in ``DRIFTLINE_SOURCE_PROCESSES`` processes of its own:
:mod:`monitor.worker.source_host`) reads ``predictions`` and ``labels`` in batches for the
partitions this worker owns (consumer group ``<app id>-source``, co-partitioned) and runs
one :class:`~monitor.state.partition.PartitionState` per partition: the join, the window
counts and the errors of the joined pairs in label-time buckets. Joined pairs go to
``labeled``; closed windows, closed error buckets and heartbeats go, as partials, to the
internal ``<app id>-partials`` topic. It is not a faust agent: faust hands an agent one
event at a time, and the source loop reads confluent-kafka batches.

the ``publish`` agent (:class:`~monitor.worker.publisher.WindowPublisher`) reads the
partials (one partition), merges every partition's share of a window and judges it once
(:class:`~monitor.merging.merge.WindowMerger`), runs one concept detector per model version
over every partition's error buckets, applies hysteresis and cooldown (policy state, the
sequential evidence and the concept detectors' state in the faust table ``policy``, with its
changelog), writes each judged window to ``<app id>-reports`` and drift events to
``drift-events``, the log and the webhook.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, MutableMapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import faust
from prometheus_client import REGISTRY

from driftline.kafka import create_internal_topics
from driftline.logs import configure_logging
from driftline.process import tune_gc
from monitor.merging.merge import WindowMerger
from monitor.merging.policy import DriftPolicy
from monitor.settings import MonitorSettings
from monitor.worker.alerts import WebhookSink
from monitor.worker.metrics import (
    PublisherMetrics,
    ShippedMetrics,
    SourceMetrics,
    dead_lettered_counter,
    readiness,
)
from monitor.worker.policy_store import offset_memory_table
from monitor.worker.producer_topics import producer_client, track_topics
from monitor.worker.publisher import WindowPublisher, read_partials
from monitor.worker.report_server import ReportPages, report_link, serve
from monitor.worker.slow_waits import awaited
from monitor.worker.source_host import SourceProcesses, SourceThread
from monitor.worker.source_loop import SourceLoop, create_own_topics, internal_topics

__all__ = ["Monitor", "build_monitor", "report_pages"]

log = logging.getLogger(__name__)

class _PrefixView(MutableMapping[str, bytes]):
    """The keys of a faust table that start with ``prefix``, without it."""

    def __init__(self, table: Any, prefix: str) -> None:
        self._table = table
        self._prefix = prefix.encode()

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
    metrics: PublisherMetrics
    source: SourceLoop | None  # None: the source loop runs in processes of its own
    sources: SourceThread | SourceProcesses  # the service that runs it


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


def data_folder(settings: MonitorSettings, app_id: str) -> Path:
    """Where the faust app ``app_id`` keeps its local data: under driftline's home, never in
    the current directory."""
    return settings.home / "faust" / f"{app_id}-data"


def faust_app(settings: MonitorSettings, app_id: str) -> faust.App:
    """The worker's faust app (no agents yet), its data folder under ``settings.home``."""
    k = settings.kafka
    datadir = data_folder(settings, app_id)
    datadir.parent.mkdir(parents=True, exist_ok=True)
    return faust.App(
        app_id,
        broker=[f"kafka://{host}" for host in k.bootstrap.split(",")],
        broker_credentials=_credentials(settings),
        # faust formats the path with its settings (``{conf.name}``): braces stay literal
        datadir=str(datadir).replace("{", "{{").replace("}", "}}"),
        store="memory://",
        topic_partitions=k.partitions,
        topic_replication_factor=k.replication_factor or 1,  # resolved by run()
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
        consumer_group_instance_id=settings.monitor_instance_id,
        # one session timeout for both of the worker's groups; faust's heartbeat stays at
        # its 3 s, or a third of a shorter session
        broker_session_timeout=settings.monitor_session_timeout,
        broker_heartbeat_interval=min(3.0, settings.monitor_session_timeout / 3),
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
        from driftline.model.registry import configure
        from monitor.worker.profiles import RegistryLookups

        configure(settings.home)
        lookups = RegistryLookups()
        profiles = profiles or lookups.profile
        baselines = baselines or lookups.baseline

    policies = settings.monitoring_policy()  # an invalid policy file stops here
    k = settings.kafka
    app_id = f"{k.topic_prefix}{settings.monitor_app_id}"
    app = faust_app(settings, app_id)
    own = internal_topics(app_id)
    source: SourceLoop | None = None
    sources: SourceThread | SourceProcesses
    if settings.source_processes:  # (they read the profiles from the registry themselves)
        shipped = ShippedMetrics()
        REGISTRY.register(shipped)
        sources = SourceProcesses(settings, app_id, settings.source_processes, shipped,
                                  loop=app.loop, beacon=app.beacon)
        dead_lettered = dead_lettered_counter(shipped.worker)
    else:
        source = SourceLoop(settings, app_id, profiles, SourceMetrics())
        sources = SourceThread(source, loop=app.loop, beacon=app.beacon)
        dead_lettered = source.metrics.dead_lettered
    metrics = PublisherMetrics(dead_lettered=dead_lettered)
    monitor = Monitor(app=app, settings=settings, metrics=metrics, source=source,
                      sources=sources)

    drift_topic = app.topic(k.topic("drift-events"), key_type=bytes, value_type=bytes)
    dead_topic = app.topic(k.topic("dead-letter"), key_type=bytes, value_type=bytes)
    partials_topic = app.topic(own["partials"], partitions=1, key_type=bytes,
                               value_type=bytes, internal=True)
    reports_topic = app.topic(own["reports"], partitions=1, key_type=bytes,
                              value_type=bytes, internal=True)
    # kept in memory with its changelog offset: a rebalance that leaves the partition here
    # reads nothing back (monitor.worker.policy_store)
    policy_table = offset_memory_table(app, "policy", key_type=bytes, value_type=bytes)
    base = settings.report_base_url
    webhook = (
        WebhookSink(settings.webhook_url, timeout=settings.webhook_timeout,
                    retries=settings.webhook_retries,
                    on_outcome=lambda outcome: metrics.webhook.labels(outcome).inc(),
                    report_link=(lambda e: report_link(base, e.model_name, e.event_id))
                    if base else None)
        if settings.webhook_url else None
    )

    async def drain() -> None:
        """Wait until everything handed to faust's producer is acknowledged by Kafka (its own
        flush gives up on a message slower than 0.1 s)."""
        what = "Kafka to acknowledge the publisher's writes (reports, events, its table)"
        while app.producer.buffer.size:
            await awaited(app.producer.buffer.flush(), what)
        await awaited(app.producer.flush(), what)

    @app.agent(partials_topic)
    async def publish(stream: Any) -> None:
        # before the first send: every topic the publisher writes stays in the producer's
        # metadata (monitor.worker.producer_topics says what happens otherwise)
        track_topics(producer_client(await app.maybe_start_producer()), [
            own["reports"], k.topic("drift-events"), k.topic("dead-letter"),
            policy_table.changelog_topic.get_topic_name(),
        ])
        merger = WindowMerger(
            partitions=k.partitions,
            profiles=profiles,
            baselines=baselines,
            policy=DriftPolicy(store=_PrefixView(policy_table, "0|")),
            policies=policies,  # each model's judging, hysteresis and cooldown
            idle_timeout=settings.idle_timeout,
            min_labeled=settings.min_labeled,
            judged=_PrefixView(policy_table, "judged|"),
            sequential=_PrefixView(policy_table, "sequential|"),
            pooled=_PrefixView(policy_table, "pooled|"),
            concept=_PrefixView(policy_table, "concept|"),
            concept_params=settings.concept_params(),
        )
        publisher = WindowPublisher(
            merger, metrics, reports=reports_topic, drift_events=drift_topic, drain=drain,
            position=_PrefixView(policy_table, "position|"),
            read_back=read_partials(k, own["partials"]), webhook=webhook,
            dead_letters=dead_topic, source_topic=own["partials"],
            version_horizon=settings.version_horizon(),
        )
        await publisher.run(stream)

    @app.task
    async def declare_outputs() -> None:
        await reports_topic.declare()
        await app.add_runtime_dependency(sources)

    return monitor


def report_pages(settings: MonitorSettings) -> ReportPages:
    """The ``/report`` pages of this worker group: its reports topic over the last
    ``report_span`` seconds, with the registry's versions (MLflow configured already)."""
    from driftline.report.live import collect

    topic = settings.kafka.service_topic(settings.monitor_app_id, "reports")
    return ReportPages(
        lambda: collect(settings.kafka, topic, None, None, span=settings.report_span),
        refresh=settings.report_refresh)


def run(settings: MonitorSettings) -> None:
    """Run the monitor worker until interrupted."""
    if settings.kafka.replication_factor is None:  # faust creates topics of its own too
        from driftline.kafka.admin import cluster_replication

        factor = cluster_replication(settings.kafka, timeout=60)
        settings = settings.model_copy(update={
            "kafka": settings.kafka.model_copy(update={"replication_factor": factor})})
    # Before faust joins its group: it assigns only the topics its cluster metadata lists by
    # then, and on a cluster a topic faust has just created may not be listed yet (a policy
    # table without its changelog partition crashes the publisher on every restart).
    app_id = f"{settings.kafka.topic_prefix}{settings.monitor_app_id}"
    create_own_topics(settings.kafka, app_id)
    create_internal_topics(settings.kafka, {
        f"{app_id}-policy-changelog": (1, {"cleanup.policy": "compact"}),
        f"{app_id}-__assignor-__leader": (1, {}),
    })
    monitor = build_monitor(settings)
    if isinstance(monitor.sources, SourceProcesses):
        # now, not when faust has started: their imports take seconds, faust's start too
        monitor.sources.launch()
    tune_gc()  # the worker is a process of its own
    if settings.metrics_port:
        serve(settings.metrics_port, settings.metrics_host, report_pages(settings),
              ready=readiness)
    json_logs = settings.log_format == "json"
    if json_logs:  # faust's own setup would put its text formatter back on the root logger
        configure_logging(settings.log_level, "json", service="monitor")
    worker = faust.Worker(monitor.app, loglevel=settings.log_level.lower(), quiet=True,
                          redirect_stdouts=False, override_logging=not json_logs)
    if json_logs:
        worker.spinner = None  # its terminal codes would break the first JSON line
    worker.execute_from_commandline()

