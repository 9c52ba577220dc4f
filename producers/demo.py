"""``driftline demo``: the whole loop on one machine, closing by itself.

It starts the local Kafka broker (the local three-broker cluster with
``DRIFTLINE_KAFKA_LOCAL_BROKERS=3``; neither when ``DRIFTLINE_KAFKA_BOOTSTRAP_SERVERS`` names a
cluster) and the embedded MLflow under ``<home>/demo``, trains and registers the first model,
then runs the scorer (HTTP and stream), the monitor, the retrainer and the producer as
separate processes, exactly as a user would run them, on topics of their own (a fresh prefix
per run). Traffic goes stable, then the loan amount shifts and the meaning of debt flips at
the same moment. Simulated time runs ``time_scale`` times faster than the wall clock, so the
windows and label delays of a real deployment fit in a few minutes. While it runs it prints
every judged window (rows, PSI of the loan amount and the score, AUC, the version judged),
every drift event and every promotion; at the end a summary (onset, detection, retrain,
promotion, AUC before, at its worst, after) and the drift report of the run
(``<home>/demo/drift-report.html``), and it stops everything it started.

The pieces are reusable: :func:`start_loop` starts the loop on given topics and MLflow home
(the closed-loop benchmark runs it twice, drift-triggered and on a fixed retrain schedule),
:class:`Processes` stops what it started, :func:`read_report` and friends turn what the loop
writes to Kafka into progress lines.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec

from driftline.events import DriftEvent, ModelUpdateEvent, decode
from driftline.settings import DriftlineSettings, KafkaSettings
from producers.demo_summary import DemoSummary, WindowPoint, summarize

__all__ = [
    "MONITOR_APP_ID",
    "DemoPlan",
    "Loop",
    "Processes",
    "drift_line",
    "loop_settings",
    "producer_args",
    "progress",
    "read_report",
    "run_demo",
    "start_loop",
    "update_line",
    "write_report",
]

# The monitor's default app id (DRIFTLINE_MONITOR_APP_ID), which the demo's monitor keeps: its
# window reports are the service topic ``<app id>-reports``.
MONITOR_APP_ID = "driftline-monitor"

Say = Callable[[str], None]


@dataclass(frozen=True)
class DemoPlan:
    """Timing of the demo, in simulated seconds unless named wall."""

    rate: float = 200.0  # transactions per wall second
    time_scale: float = 10.0
    stable: float = 600.0
    drifted: float = 720.0
    window: float = 120.0
    grace: float = 10.0
    label_delay: str = "exponential:20s"
    label_wait: float = 100.0
    seed: int = 7
    train_rows: int = 20_000
    timeout_wall: float = 300.0

    @property
    def duration(self) -> float:
        return self.stable + self.drifted


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Processes:
    """``driftline`` commands started as processes of their own (logs in ``logs/<name>.log``,
    working directory ``logs``'s parent, so their local state stays there), stopped in reverse
    order by :meth:`stop_all`."""

    def __init__(self, logs: Path) -> None:
        self.logs = logs
        self.running: list[tuple[str, subprocess.Popen]] = []

    def start(self, name: str, args: list[str], env: dict[str, str]) -> subprocess.Popen:
        log = (self.logs / f"{name}.log").open("ab")
        proc = subprocess.Popen(
            [sys.executable, "-m", "driftline.cli", *args], env=env, stdout=log,
            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
            cwd=self.logs.parent,
        )
        log.close()
        self.running.append((name, proc))
        return proc

    def check(self) -> None:
        for name, proc in self.running:
            if name != "producer" and proc.poll() is not None:
                tail = (self.logs / f"{name}.log").read_text(errors="replace")[-2000:]
                raise RuntimeError(f"the {name} exited with code {proc.returncode}:\n{tail}")

    def stop_all(self) -> None:
        for _name, proc in reversed(self.running):
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + 20
        for _name, proc in reversed(self.running):
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(10)


def progress(began: float) -> Say:
    """Print a line prefixed with the seconds since ``began`` (monotonic)."""

    def say(text: str) -> None:
        print(f"[{time.monotonic() - began:5.0f}s] {text}", flush=True)

    return say


def _clock(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%H:%M")


def run_demo(plan: DemoPlan | None = None) -> DemoSummary:
    """Run the demo end to end and return its summary (also printed)."""
    plan = plan or DemoPlan()
    began = time.monotonic()
    say = progress(began)
    base = DriftlineSettings()
    home = (base.home / "demo").resolve()
    shutil.rmtree(home, ignore_errors=True)
    (home / "logs").mkdir(parents=True)
    procs = Processes(home / "logs")
    local = None
    try:
        kafka = base.kafka
        if kafka.uses_local_broker:
            from driftline.localcluster import LocalCluster
            from driftline.localkafka import LocalKafka

            cluster = kafka.local_brokers == 3
            local = LocalCluster(base) if cluster else LocalKafka(base)
            if local.status(probe_timeout=1).answering:
                local = None  # someone else's broker: use it, leave it running
            else:
                say("starting the local Kafka cluster" if cluster else
                    "starting the local Kafka broker")
                local.start()
        kafka = kafka.model_copy(update={"topic_prefix": f"demo{uuid.uuid4().hex[:6]}."})
        loop = start_loop(plan, kafka, home, procs, say)
        summary = _follow(plan, kafka, procs, began, loop)
        write_report(kafka, home, loop.start, say)
        return summary
    finally:
        procs.stop_all()
        if local is not None:
            local.stop()
        say(f"stopped everything; logs in {home / 'logs'}")


@dataclass(frozen=True)
class Loop:
    """A loop :func:`start_loop` started: where the scorer answers, the simulated start of the
    traffic and its drift onset (event times, seconds since the epoch), and the producer."""

    port: int
    start: float
    onset: float
    producer: subprocess.Popen


def start_loop(plan: DemoPlan, kafka: KafkaSettings, home: Path, procs: Processes, say: Say,
               *, retrain_args: Sequence[str] = ()) -> Loop:
    """Create the topics under ``kafka``'s prefix, train and register the first model in the
    MLflow under ``home``, start the scorer (HTTP and stream), the monitor and the retrainer
    (``driftline retrain`` with ``retrain_args``), wait for the scorer, then start the
    producer: stable traffic, then the loan amount shifts and debt changes meaning."""
    from driftline.kafka.admin import create_topics, wait_for_broker

    wait_for_broker(kafka, timeout=30)
    create_topics(kafka)
    say(f"Kafka at {kafka.bootstrap}; topics under the prefix {kafka.topic_prefix!r}")

    from producers.bootstrap import bootstrap

    say("training the first credit-risk model and registering it in MLflow")
    _ref, message = bootstrap(home, seed=plan.seed, rows=plan.train_rows)
    say(message)

    port = _free_port()
    env = _environment(home, kafka, plan, port)
    procs.start("scorer", ["serve", "--stream", "--port", str(port)], env)
    procs.start("monitor", ["monitor"], env)
    procs.start("retrainer", ["retrain", *retrain_args], env)
    _wait_ready(port, procs)
    say(f"scorer ready on http://127.0.0.1:{port} (try /model), monitor and retrainer running")

    # The simulated period ends now: its event times are history, never ahead of the services'
    # clocks (they refuse events further ahead than DRIFTLINE_EVENT_TIME_MAX_LEAD).
    start = time.time() - plan.duration
    onset = start + plan.stable
    producer = procs.start("producer", producer_args(plan, start), env)
    say(f"traffic: {plan.rate:.0f} applications/s, simulated time x{plan.time_scale:g}; "
        f"stable until {_clock(onset)}, then the loan amount shifts to 8.5 lakh and debt "
        "changes meaning")
    return Loop(port, start, onset, producer)


def producer_args(plan: DemoPlan, start: float) -> list[str]:
    """``driftline produce`` arguments of the plan's traffic to the transactions topic, from
    the event time ``start`` on: stable, then the loan amount shifts and debt changes
    meaning."""
    scenario = f"stable:{plan.stable:.0f}s,loan-amount-shift+concept-flip"
    return [
        "produce", "--to", "kafka", "--scenario", scenario, "--rate", str(plan.rate),
        "--duration", f"{plan.duration:.0f}s", "--time-scale", str(plan.time_scale),
        "--label-delay", plan.label_delay, "--label-loss", "0.02", "--seed",
        str(plan.seed), "--start", datetime.fromtimestamp(start, UTC).isoformat(),
        "--no-progress", "--drain",
    ]


def loop_settings(plan: DemoPlan) -> dict[str, str]:
    """The services' ``DRIFTLINE_*`` settings that make the loop close within minutes:
    windows in the plan's simulated seconds, frequent checkpoints and model polls, and a
    retrainer that learns from what came after the drift."""
    return {
        "DRIFTLINE_MODEL_POLL_S": "5",
        # monitor: windows in simulated seconds
        "DRIFTLINE_WINDOW_SIZE": str(plan.window),
        "DRIFTLINE_GRACE": str(plan.grace),
        "DRIFTLINE_LABEL_WAIT": str(plan.label_wait),
        "DRIFTLINE_IDLE_TIMEOUT": "10",
        "DRIFTLINE_CHECKPOINT_INTERVAL": "1",
        # retrainer: learn from what came after the drift
        "DRIFTLINE_RETRAIN_WINDOW": str(plan.window * 1.5),
        "DRIFTLINE_RETRAIN_SINCE_DRIFT": "true",
        "DRIFTLINE_RETRAIN_MIN_ROWS": "1500",
        "DRIFTLINE_RETRAIN_DATA_WAIT": "90",
        "DRIFTLINE_RETRAIN_DATA_POLL": "2",
        "DRIFTLINE_RETRAIN_READ_MARGIN": "60",
    }


def _environment(home: Path, kafka: KafkaSettings, plan: DemoPlan, port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DRIFTLINE_")}
    env.update(loop_settings(plan))
    env.update({
        "DRIFTLINE_HOME": str(home),
        "DRIFTLINE_KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap,
        "DRIFTLINE_KAFKA_TOPIC_PREFIX": kafka.topic_prefix,
        "DRIFTLINE_LOG_LEVEL": "INFO",
        # scorer
        "DRIFTLINE_SCORER_URL": f"http://127.0.0.1:{port}",
        "DRIFTLINE_METRICS_PORT": "0",
        "DRIFTLINE_RETRAIN_METRICS_PORT": "0",
    })
    return env


def _wait_ready(port: int, procs: Processes, timeout: float = 90.0) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        procs.check()
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"http://127.0.0.1:{port}/ready", timeout=2).status_code == 200:
                return
        time.sleep(0.5)
    raise RuntimeError(f"the scorer was not ready within {timeout:.0f}s")


def _follow(plan: DemoPlan, kafka: KafkaSettings, procs: Processes, began: float,
            loop: Loop) -> DemoSummary:
    from driftline.kafka import Consumer

    say = progress(began)
    reports = kafka.service_topic(MONITOR_APP_ID, "reports")
    drift, updates = kafka.topic("drift-events"), kafka.topic("model-updates")
    predictions = kafka.topic("predictions")
    consumer = Consumer(kafka, f"{kafka.topic_prefix}demo", commit="manual",
                        options={"topic.metadata.refresh.interval.ms": 2000})
    consumer.subscribe([reports, drift, updates])
    windows: list[WindowPoint] = []
    detections: list[tuple[float, str, float]] = []
    promotions: list[tuple[str, float]] = []
    finished_at: float | None = None
    last_rate = (time.monotonic(), 0)
    end_event_time = loop.start + plan.duration
    with consumer:
        while True:
            procs.check()
            batch = consumer.poll_batch(100, 0.5)
            now = time.monotonic()
            if now - last_rate[0] >= 15:
                count = _end_offsets(kafka, predictions)
                rate = (count - last_rate[1]) / (now - last_rate[0])
                say(f"{count:,} predictions so far ({rate:,.0f}/s)")
                last_rate = (now, count)
            if loop.producer.poll() is not None and finished_at is None:
                finished_at = now
                say("the producer finished; waiting for the last windows")
            if finished_at is not None and (
                now - finished_at > plan.label_wait / plan.time_scale + 20
                or any(w.end >= end_event_time - plan.window for w in windows)
            ):
                break
            if now - began > plan.timeout_wall:
                say("time is up")
                break
            for msg in batch:
                topic = msg.topic()
                if topic == reports:
                    point, lines = read_report(msgspec.json.decode(msg.value()))
                    for line in lines:
                        say(line)
                    if point is not None:
                        windows.append(point)
                elif topic == drift:
                    event = decode(DriftEvent, msg.value())
                    detections.append((event.event_time, event.kind, now - began))
                    say(drift_line(event))
                elif topic == updates:
                    update = decode(ModelUpdateEvent, msg.value())
                    promotions.append((update.version, now - began))
                    say(update_line(update))
    summary = summarize(windows, onset=loop.onset, detections=detections,
                        promotions=promotions)
    _print_summary(summary, began)
    return summary


def write_report(kafka: KafkaSettings, home: Path, start: float, say: Say) -> Path | None:
    """Write the drift report of the run (from the event time ``start`` on) to
    ``<home>/drift-report.html`` while the broker and the registry are still up; a report
    that cannot be built is said and skipped."""
    from driftline.model.registry import configure
    from driftline.report import build_report
    from driftline.report.live import collect

    path = home / "drift-report.html"
    try:
        configure(home)
        data = collect(kafka, kafka.service_topic(MONITOR_APP_ID, "reports"), start, None,
                       title="Drift report: the demo")
        path.write_text(build_report(data), encoding="utf-8")
    except Exception as exc:  # the run is over either way; say why there is no report
        say(f"no drift report: {exc}")
        return None
    say(f"the drift report of this run: {path}")
    return path


def _end_offsets(kafka: KafkaSettings, topic: str) -> int:
    from driftline.kafka.admin import end_offsets

    with contextlib.suppress(Exception):
        return sum(end_offsets(kafka, topic).values())
    return 0


def read_report(report: dict[str, Any]) -> tuple[WindowPoint | None, list[str]]:
    """One report of the monitor (decoded JSON from ``<prefix>driftline-monitor-reports``):
    its performance window, if it has one, and its progress lines (PSI of the loan amount and
    the score, AUC, the version judged)."""
    version, start = report["model_version"], report["window_start"]
    lines, point = [], None
    if report.get("drift"):
        stats = {}
        for feature in [*report["drift"]["features"], report["drift"].get("score") or {}]:
            for stat in feature.get("statistics", []):
                if stat["statistic"] == "psi":
                    stats[stat["feature"]] = stat["value"]
        drifted = ", ".join(report["drift"]["drifted_features"]) or "none"
        lines.append(f"window {_clock(start)}-{_clock(report['window_end'])} v{version}: "
                     f"{report['drift']['rows']:,} predictions, PSI loan_amount "
                     f"{stats.get('loan_amount', float('nan')):.2f}, score "
                     f"{stats.get('score', float('nan')):.2f}; drifted: {drifted}")
    if report.get("performance"):
        perf = report["performance"]
        auc = perf.get("roc_auc")
        point = WindowPoint(start, report["window_end"], version, auc, perf["labeled"])
        auc_text = "n/a" if auc is None else f"{auc:.3f}"
        coverage = perf.get("label_coverage") or 0.0
        lines.append(f"  performance {_clock(start)} v{version}: AUC {auc_text}, "
                     f"{perf['labeled']:,} labeled ({coverage:.0%}), Brier "
                     f"{(perf.get('brier') or float('nan')):.3f}")
    return point, lines


def drift_line(event: DriftEvent) -> str:
    return (f"DRIFT {event.severity} {event.kind} on v{event.model_version} (window from "
            f"{_clock(event.window_start)}): {event.summary[:110]}")


def update_line(update: ModelUpdateEvent) -> str:
    return (f"MODEL v{update.version} is now @{update.alias} (was v{update.previous_version}): "
            f"{update.reason[:100]}")


def _print_summary(s: DemoSummary, began: float) -> None:
    def auc(value: float | None) -> str:
        return "n/a" if value is None else f"{value:.3f}"

    print("\n==== driftline demo summary ====")
    print(f"drift onset (simulated)        {_clock(s.onset)}")
    if s.first_detection:
        t, kind, wall = s.first_detection
        # the event's own time: a window's end, or the labeled pair a detector fired on
        print(f"first detection                {kind} drift at {_clock(t)} simulated "
              f"(at {wall:.0f}s of the demo)")
    else:
        print("first detection                none")
    if s.promotion:
        print(f"retrain and promotion          v{s.promotion[0]} became champion at "
              f"{s.promotion[1]:.0f}s of the demo")
    else:
        print("retrain and promotion          none")
    print(f"AUC before the drift           {auc(s.auc_before)}")
    print(f"AUC at its worst               {auc(s.auc_worst)}")
    print(f"AUC after the promotion        {auc(s.auc_after)}"
          + ("  (back to >= 95% of before)" if s.recovered else ""))
    print(f"total time                     {time.monotonic() - began:.0f}s")
