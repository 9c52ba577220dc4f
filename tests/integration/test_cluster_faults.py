"""A broker crash under load on the local three-broker cluster: the leader of a partition of
``predictions`` is killed with -9 while the scorer (HTTP with DRIFTLINE_PUBLISH=ack, and its
stream scorer on ``transactions``), the monitor and the retrainer run, then started again.

Nothing the scorer answered 200 for is missing from ``predictions``; every transaction the
broker acknowledged is scored; the monitor counts each window's predictions exactly as they
are on the topic (none lost, none twice); the shift that follows raises its drift event and the
retrainer answers it with exactly one retrain. The load held, what was lost and the time to
recover are printed (``pytest -s``) and written to ``<cluster home>/faults.txt``; they are
measured, not asserted.

The monitor's grace is wider than a failover: a stream prediction is stamped with its
transaction's time, and a transaction held by the dead leader is scored after newer HTTP
predictions reached the same ``predictions`` partition.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import mlflow
import msgspec
import pytest
from confluent_kafka.admin import AdminClient, ConfigResource

from driftline.events import DriftEvent, LabelEvent, PredictionEvent, TransactionEvent, decode
from driftline.kafka import Producer, create_topics, read_topic
from driftline.localcluster import LocalCluster
from driftline.model.registry import configure
from driftline.settings import KafkaSettings
from producers.demo import Processes
from producers.generator import GeneratorParams, LoanGenerator
from tests.scorer.support import free_ports, register_model

# the first test waits for the cluster and the whole scenario (a few minutes)
pytestmark = [pytest.mark.cluster, pytest.mark.timeout(900)]

MODEL = "credit-risk"
APP_ID = "monitor-faults"
WINDOW, GRACE, LABEL_WAIT = 10.0, 25.0, 2.0  # wall-clock seconds: the scorer stamps wall time
HTTP_SENDERS, HTTP_ROWS, HTTP_PACE = 2, 10, 0.05  # threads, rows per request, s between
STREAM_RATE = 100.0  # transactions per second
SHIFT = GeneratorParams(loan_mean=850_000.0)
# the test's own clients log through logging, not onto stderr, while a node is down
QUIET = {"logger": logging.getLogger("tests.cluster_faults.kafka")}
UNTRAINED = ("insufficient_data", "failed", "cancelled")  # retrain outcomes that trained nothing


@dataclass
class Answer:
    sent: float  # monotonic
    answered: float
    status: int
    ids: list[str]


@dataclass
class Load:
    """What the load generators sent and what was acknowledged to them."""

    answers: list[Answer] = field(default_factory=list)
    transactions_acked: set[str] = field(default_factory=set)
    transactions_failed: set[str] = field(default_factory=set)
    lag: list[tuple[float, int]] = field(default_factory=list)  # (monotonic, monitor lag)
    errors: list[str] = field(default_factory=list)

    @property
    def answered_ids(self) -> set[str]:
        return {i for a in self.answers if a.status == 200 for i in a.ids}


@dataclass
class Run:
    kafka: KafkaSettings
    home: Path
    load: Load
    killed: int
    killed_at: float
    began: float  # monotonic: the traffic's start
    restarted_at: float
    in_sync_at: float
    windows: list[float]  # window starts of the main traffic (stable, stable, shifted)
    shifted_window: float
    predictions: dict[str, PredictionEvent]
    reports: dict[tuple[str, float], dict[str, Any]]
    drift: list[DriftEvent]
    decisions: dict[str, list[str]]  # drift event id -> the retrainer's decision lines
    retrains: list[str]  # the retrainer's "retrain of ... finished" lines
    versions: list[str]
    logs: Path


def _wait(what: str, condition: Callable[[], Any], timeout: float, procs: Processes,
          poll: float = 0.5) -> Any:
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        procs.check()
        if time.monotonic() > deadline:
            tails = "\n".join(
                f"-- {name}:\n" + (procs.logs / f"{name}.log").read_text(errors="replace")[-1500:]
                for name, _ in procs.running)
            raise AssertionError(f"timed out waiting for {what}\n{tails}")
        time.sleep(poll)
    return value


def _environment(home: Path, kafka: KafkaSettings, port: int, metrics: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DRIFTLINE_")}
    env.update({
        "DRIFTLINE_HOME": str(home),
        "DRIFTLINE_KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap,
        "DRIFTLINE_KAFKA_TOPIC_PREFIX": kafka.topic_prefix,
        "DRIFTLINE_LOG_LEVEL": "INFO",
        # scorer: answer only once the broker has the prediction
        "DRIFTLINE_PORT": str(port),
        "DRIFTLINE_PUBLISH": "ack",
        "DRIFTLINE_ACK_TIMEOUT_S": "60",
        "DRIFTLINE_MODEL_POLL_S": "2",
        # monitor
        "DRIFTLINE_MONITOR_APP_ID": APP_ID,
        "DRIFTLINE_WINDOW_SIZE": str(WINDOW),
        "DRIFTLINE_GRACE": str(GRACE),
        "DRIFTLINE_LABEL_WAIT": str(LABEL_WAIT),
        # a partition whose leader is down is quiet, not idle: its windows wait for it
        "DRIFTLINE_IDLE_TIMEOUT": "120",
        "DRIFTLINE_CHECKPOINT_INTERVAL": "1",
        "DRIFTLINE_METRICS_PORT": str(metrics),
        "DRIFTLINE_MIN_ROWS": "150",
        "DRIFTLINE_RAISE_AFTER": "1",
        # retrainer: learn from the shifted rows, retry soon
        "DRIFTLINE_RETRAIN_SINCE_DRIFT": "true",
        "DRIFTLINE_RETRAIN_MIN_ROWS": "600",
        "DRIFTLINE_RETRAIN_WINDOW": "120",
        "DRIFTLINE_RETRAIN_READ_MARGIN": "60",
        "DRIFTLINE_RETRAIN_DATA_WAIT": "120",
        "DRIFTLINE_RETRAIN_DATA_POLL": "1",
        "DRIFTLINE_RETRAIN_RETRY_S": "2",
        "DRIFTLINE_RETRAIN_METRICS_PORT": "0",
        "DRIFTLINE_RETRAIN_GROUP": f"{kafka.topic_prefix}retrainer",
    })
    return env


class Traffic:
    """HTTP senders, a stream sender and a labeler, until :meth:`stop`; ``shifted`` switches
    the applications to the shifted population."""

    def __init__(self, url: str, kafka: KafkaSettings, load: Load) -> None:
        self.url, self.kafka, self.load = url, kafka, load
        self.shifted = threading.Event()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._labels = Producer(kafka, background_poll=True, options=QUIET)
        self._threads = [threading.Thread(target=self._http, args=(n,), daemon=True)
                         for n in range(HTTP_SENDERS)]
        self._threads.append(threading.Thread(target=self._stream, daemon=True))

    def __enter__(self) -> Traffic:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(120)
        self._labels.close(60)

    def _sample(self, gen: LoanGenerator, n: int) -> tuple[list[dict[str, Any]], list[int]]:
        batch = gen.sample(n, SHIFT if self.shifted.is_set() else None)
        return batch.rows(), batch.labels.tolist()

    def _label(self, ids: list[str], labels: list[int]) -> None:
        now = time.time()
        for pid, label in zip(ids, labels, strict=True):
            self._labels.send(self.kafka.topic("labels"),
                              LabelEvent(prediction_id=pid, event_time=now, label=label))

    def _http(self, sender: int) -> None:
        gen = LoanGenerator(100 + sender)
        with httpx.Client(timeout=120) as client:
            while not self._stop.is_set():
                rows, labels = self._sample(gen, HTTP_ROWS)
                sent = time.monotonic()
                try:
                    response = client.post(f"{self.url}/predict/batch", json={"rows": rows})
                except httpx.HTTPError as exc:
                    with self._lock:
                        self.load.errors.append(repr(exc))
                        self.load.answers.append(Answer(sent, time.monotonic(), 0, []))
                    continue
                ids = ([p["prediction_id"] for p in response.json()["predictions"]]
                       if response.status_code == 200 else [])
                with self._lock:
                    self.load.answers.append(
                        Answer(sent, time.monotonic(), response.status_code, ids))
                if ids:
                    self._label(ids, labels)
                self._stop.wait(HTTP_PACE)

    def _stream(self) -> None:
        gen = LoanGenerator(7)
        began, sent = time.monotonic(), 0

        def delivered(err: Any, msg: Any) -> None:
            request_id = msg.value() and decode(TransactionEvent, msg.value()).request_id
            with self._lock:
                (self.load.transactions_failed if err else
                 self.load.transactions_acked).add(request_id)

        with Producer(self.kafka, background_poll=True, options=QUIET) as producer:
            while not self._stop.is_set():
                rows, labels = self._sample(gen, 10)
                now = time.time()
                ids = [f"s-{uuid.uuid4().hex[:16]}" for _ in rows]
                for row, request_id in zip(rows, ids, strict=True):
                    producer.send(self.kafka.topic("transactions"), TransactionEvent(
                        entity_id=request_id, features=row, request_id=request_id,
                        event_time=now), on_delivery=delivered)
                self._label(ids, labels)
                sent += len(rows)
                self._stop.wait(max(0.0, began + sent / STREAM_RATE - time.monotonic()))


def _admin(kafka: KafkaSettings) -> AdminClient:
    return AdminClient({**kafka.confluent_config(), **QUIET})


def _leader(kafka: KafkaSettings, topic: str, partition: int) -> int:
    metadata = _admin(kafka).list_topics(topic, timeout=10)
    return metadata.topics[topic].partitions[partition].leader


def _fully_in_sync(kafka: KafkaSettings, topics: list[str]) -> bool:
    metadata = _admin(kafka).list_topics(timeout=10)
    return all(len(p.isrs) == 3 for t in topics for p in metadata.topics[t].partitions.values())


def _monitor_lag(port: int) -> int | None:
    try:
        return int(httpx.get(f"http://127.0.0.1:{port}/ready", timeout=2).json()["lag"])
    except (httpx.HTTPError, KeyError, ValueError):
        return None


def _reports(kafka: KafkaSettings) -> dict[tuple[str, float], dict[str, Any]]:
    out: dict[tuple[str, float], dict[str, Any]] = {}
    for msg in read_topic(kafka, kafka.service_topic(APP_ID, "reports")):
        report = msgspec.json.decode(msg.value())
        key = (report["kind"], report["window_start"])
        drift = report.get("drift") or {}
        if key in out:  # judged twice (a restart): the same counts
            assert (out[key].get("drift") or {}).get("rows") == drift.get("rows"), key
        out[key] = report
    return out


def _into_next_window(after: float = 0.5) -> float:
    now = time.time()
    start = (now // WINDOW + 1) * WINDOW
    time.sleep(start + after - now)
    return start


@pytest.fixture(scope="module")
def run(kafka_cluster: LocalCluster) -> Iterator[Run]:
    """The whole scenario once; the tests below read what it recorded. Its MLflow home and
    the services' logs stay under the cluster's folder until the next session."""
    prefix = f"f{uuid.uuid4().hex[:8]}"
    home = kafka_cluster.root / "runs" / prefix
    (home / "logs").mkdir(parents=True)
    kafka = KafkaSettings(bootstrap_servers=kafka_cluster.bootstrap, topic_prefix=f"{prefix}.")
    create_topics(kafka)
    register_model(home, MODEL)
    port, metrics = free_ports(2)
    procs = Processes(home / "logs")
    env = _environment(home, kafka, port, metrics)
    load = Load()
    url = f"http://127.0.0.1:{port}"
    watching = threading.Event()

    def watch_lag() -> None:
        while not watching.is_set():
            lag = _monitor_lag(metrics)
            if lag is not None:
                load.lag.append((time.monotonic(), lag))
            watching.wait(0.5)

    try:
        procs.start("scorer", ["serve", "--stream"], env)
        procs.start("monitor", ["monitor"], env)
        procs.start("retrainer", ["retrain"], env)

        def ready(at: str) -> bool:
            try:
                return httpx.get(f"{at}/ready", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        # the monitor is ready once its source loop holds partitions
        _wait("the scorer and the monitor to be ready",
              lambda: ready(url) and ready(f"http://127.0.0.1:{metrics}"), 180, procs)
        predictions = kafka.topic("predictions")
        watcher = threading.Thread(target=watch_lag, daemon=True)
        watcher.start()
        # the traffic starts with a window: no window before it is judged on a few rows
        first = _into_next_window(0.0)
        began = time.monotonic()
        with Traffic(url, kafka, load) as traffic:
            time.sleep(max(0.0, first + 3 - time.time()))  # the crash, 3 s into the window
            assert load.answers, "no traffic before the crash"
            killed = _leader(kafka, predictions, 0)
            killed_at = time.monotonic()
            kafka_cluster.kill(killed)
            _wait("a 200 answer to a request sent after the kill",
                  lambda: any(a.status == 200 and a.sent > killed_at for a in load.answers),
                  120, procs, poll=0.1)
            kafka_cluster.start(timeout=180)  # only the killed node is down
            restarted_at = time.monotonic()
            topics = [kafka.topic(t) for t in ("transactions", "predictions", "labels")]
            _wait("every replica back in sync", lambda: _fully_in_sync(kafka, topics), 180,
                  procs)
            in_sync_at = time.monotonic()
            # then one window of shifted applications, stable ones again after it
            shifted = max(first + 2 * WINDOW, (time.time() // WINDOW + 1) * WINDOW)
            time.sleep(shifted - time.time())
            traffic.shifted.set()
            time.sleep(shifted + WINDOW - time.time())
            traffic.shifted.clear()
            windows = [first + i * WINDOW for i in range(round((shifted - first) / WINDOW) + 1)]
            _wait("the monitor to judge every window of the run",
                  lambda: all(("drift", w) in _reports(kafka) for w in windows), 240, procs,
                  poll=2)
        watching.set()
        watcher.join(10)
        drift_topic = kafka.topic("drift-events")
        drift = _wait("a drift event", lambda: [
            e for e in (decode(DriftEvent, m.value()) for m in read_topic(kafka, drift_topic))
            if e.model_name == MODEL] or None, 60, procs)
        retrain_log = home / "logs" / "retrainer.log"

        def retrains() -> list[str]:
            """Retrains that trained a model (not those given up or retried for want of
            rows)."""
            return [line for line in retrain_log.read_text(errors="replace").splitlines()
                    if f"retrain of {MODEL} for drift event" in line and "finished" in line
                    and not any(f": {r} (" in line for r in UNTRAINED)]

        _wait("the retrain", retrains, 300, procs, poll=1)
        _wait("the retrainer to have decided on every drift event",
              lambda: _committed_all(kafka, drift_topic, f"{kafka.topic_prefix}retrainer"), 120,
              procs)
        configure(home)
        versions = sorted(str(v.version) for v in
                          mlflow.MlflowClient().search_model_versions(f"name='{MODEL}'"))
        found = {}
        for msg in read_topic(kafka, predictions, idle_timeout=20):
            event = decode(PredictionEvent, msg.value())
            found[event.prediction_id] = event
        decided = _wait("the retrainer's decision on every drift event",
                        lambda: _decisions(retrain_log, drift), 60, procs)
        outcome = Run(kafka, home, load, killed, killed_at, began, restarted_at, in_sync_at,
                      windows, shifted, found, _reports(kafka), drift, decided, retrains(),
                      versions, home / "logs")
    finally:
        watching.set()
        procs.stop_all()
        kafka_cluster.start(timeout=180)  # whatever happened, the next test gets three nodes
    _say(outcome, kafka_cluster.root / "faults.txt")
    yield outcome


def _decisions(log: Path, events: list[DriftEvent]) -> dict[str, list[str]] | None:
    """The retrainer's decision lines by drift event id, once every event has one."""
    lines = log.read_text(errors="replace").splitlines()
    found = {e.event_id: [line for line in lines if f"drift event {e.event_id} (" in line]
             for e in events}
    return found if all(found.values()) else None


def _committed_all(kafka: KafkaSettings, topic: str, group: str) -> bool:
    """``group`` has committed the end of ``topic``: every event on it decided."""
    from confluent_kafka import ConsumerGroupTopicPartitions, TopicPartition

    from driftline.kafka.admin import end_offsets

    ends = end_offsets(kafka, topic)
    admin = _admin(kafka)
    request = ConsumerGroupTopicPartitions(group, [TopicPartition(topic, p) for p in ends])
    offsets = admin.list_consumer_group_offsets([request])[group].result(10)
    return all(tp.offset >= ends[tp.partition] for tp in offsets.topic_partitions)


def _rate(answers: list[Answer], start: float, end: float) -> float:
    """HTTP requests answered 200 per second between two monotonic instants."""
    done = sum(1 for a in answers if a.status == 200 and start <= a.answered < end)
    return done / max(end - start, 1e-9)


def _say(r: Run, path: Path) -> None:
    """Print the measurements and append them to ``path``."""
    load = r.load
    answered = load.answered_ids
    lost = answered - r.predictions.keys()
    scored = load.transactions_acked - r.predictions.keys()
    statuses: dict[int, int] = {}
    for a in load.answers:
        statuses[a.status] = statuses.get(a.status, 0) + 1
    back = min((a.answered for a in load.answers if a.status == 200 and a.sent > r.killed_at),
               default=float("nan"))
    in_flight = [a.answered - a.sent for a in load.answers
                 if a.sent <= r.killed_at + 5 and a.answered >= r.killed_at]
    before = [lag for t, lag in load.lag if t < r.killed_at]
    calm = max(before, default=0)
    # from the kill until a little after every replica is back in sync (the shift after it
    # makes lag of its own)
    after = [(t, lag) for t, lag in load.lag if r.killed_at <= t <= r.in_sync_at + 5]
    peak_at, peak = max(after, key=lambda sample: sample[1], default=(r.killed_at, 0))
    lag_back = next((t for t, lag in after if t > peak_at and lag <= calm), float("nan"))
    lines = [
        f"fault: kill -9 of node {r.killed} (leader of predictions partition 0) under load, "
        "then a restart",
        f"load held (HTTP batches of {HTTP_ROWS} answered 200 per second): "
        f"{_rate(load.answers, r.began, r.killed_at):.1f}/s before the kill, "
        f"{_rate(load.answers, r.killed_at, r.in_sync_at):.1f}/s from the kill to all replicas "
        f"in sync, {_rate(load.answers, r.in_sync_at, r.in_sync_at + 10):.1f}/s in the 10 s "
        "after; stream: "
        f"{len(load.transactions_acked)} transactions acknowledged, "
        f"{len(load.transactions_failed)} failed to send",
        f"answers: {dict(sorted(statuses.items()))} (0: no answer), "
        f"{len(answered)} predictions answered 200",
        f"lost: {len(lost)} predictions answered 200, {len(scored)} acknowledged transactions "
        "not scored",
        f"recovery: first 200 to a request sent after the kill {back - r.killed_at:.1f} s; "
        f"slowest request in flight at the kill {max(in_flight, default=0):.1f} s; node "
        f"restarted and registered {r.restarted_at - r.killed_at:.1f} s, every replica in "
        f"sync {r.in_sync_at - r.killed_at:.1f} s after the kill",
        f"monitor lag (messages behind, sampled every 0.5 s): at most {calm} before the "
        f"kill; until 5 s after all replicas were in sync, peak {peak} "
        f"{peak_at - r.killed_at:.1f} s after the kill, back to {calm} or less "
        f"{lag_back - r.killed_at:.1f} s after the kill",
        "drift events (kind, window from the shifted one): " + ", ".join(
            f"{e.kind} {e.window_start - r.shifted_window:+.0f} s" for e in r.drift)
        + f"; retrains that trained: {len(r.retrains)}; versions: {r.versions}",
    ]
    text = "\n".join(lines)
    print("\n" + text, flush=True)
    with path.open("a") as out:
        out.write(f"{time.strftime('%Y-%m-%dT%H:%M:%S')}\n{text}\n\n")


def test_topics_are_replicated_on_three_brokers_with_two_in_sync_required(run: Run):
    topic = run.kafka.topic("predictions")
    admin = _admin(run.kafka)
    partitions = admin.list_topics(topic, timeout=10).topics[topic].partitions
    assert {len(p.replicas) for p in partitions.values()} == {3}
    [config] = admin.describe_configs([ConfigResource("topic", topic)]).values()
    assert config.result(10)["min.insync.replicas"].value == "2"


def test_no_prediction_answered_200_is_lost_when_a_leader_is_killed(run: Run):
    answered = run.load.answered_ids
    assert answered and any(a.sent > run.killed_at for a in run.load.answers)
    missing = answered - run.predictions.keys()
    assert not missing, f"{len(missing)} of {len(answered)} answered predictions lost"


def test_every_acknowledged_transaction_is_scored_once_the_cluster_recovers(run: Run):
    acked = run.load.transactions_acked
    assert acked
    missing = acked - run.predictions.keys()
    assert not missing, f"{len(missing)} of {len(acked)} acknowledged transactions not scored"


def test_the_monitor_counts_each_window_exactly_as_it_is_on_the_topic(run: Run):
    expected = {w: 0 for w in run.windows}
    for event in run.predictions.values():
        start = (event.event_time // WINDOW) * WINDOW
        if event.model_name == MODEL and start in expected:
            expected[start] += 1
    counted = {w: run.reports[("drift", w)]["drift"]["rows"] for w in run.windows}
    assert counted == expected
    assert min(expected.values()) > 0


def test_the_shift_is_answered_by_exactly_one_retrain(run: Run):
    """The shifted window raises drift (of one kind or several), the windows around the
    crash none; the retrainer decides on every event, and exactly one retrain trains and
    registers a version: no event is lost to the crash, none retrained twice."""
    assert any(e.window_start == run.shifted_window for e in run.drift)
    assert all(e.window_start >= run.shifted_window for e in run.drift), run.drift
    triggered = [line for lines in run.decisions.values() for line in lines
                 if "skipped" not in line]
    assert len(triggered) == 1, triggered
    [retrain] = run.retrains
    assert any(f"for drift event {e.event_id} " in retrain for e in run.drift)
    assert run.versions == ["1", "2"]  # the first champion and the one retrained version
