"""The closed loop: from drift onset to the new champion serving, and to the AUC being back,
for drift-triggered retraining against a baseline that retrains on a fixed schedule, in the
same run.

Each mode runs the whole loop as ``driftline demo`` does (:func:`producers.demo.start_loop`:
the scorer with stream scoring, the monitor, the retrainer and the producer as processes of
their own), on a fresh topic prefix and a fresh MLflow home, with the same traffic: ``--rate``
applications per wall second, stable, then the loan amount shifts to 8.5 lakh and debt changes
meaning at the same moment; simulated time runs ``--time-scale`` times faster than the clock.
The only difference is the retrainer: ``driftline retrain`` (on drift events), then
``driftline retrain --every SECONDS`` (on the wall clock, drift events unread).

Measured per mode from what the loop wrote to Kafka (wall times are Kafka timestamps: the
writers' clocks on this machine):

- onset: when the scorer published the first prediction of an application drawn after the
  onset (its event time at or after the onset);
- onset to serving: from the onset to the first prediction made by the first version promoted
  after it (the new champion serving);
- AUC per window (the monitor's reports, ``<prefix>driftline-monitor-reports``): before the
  drift (the first version's windows ending before the onset), at its worst (its windows after
  the onset), and the first window starting after the onset, of any version, with an AUC of at
  least 95% of before. Its time is the wall time of that window's end (its event time through
  the time scale) minus the onset: the loop had served a whole window at that AUC by then.
  When the monitor's report of it arrived is printed too (later by the label wait). Windows
  (per version: the window of a swap has a part per version) with fewer than 200 labeled rows
  do not count. The version that brought the AUC back, and when it first served, is printed
  besides the first version promoted after the onset: a champion retrained too early can
  serve sooner and help little.

A mode stops two windows after both are measured (to see the AUC hold), when the traffic and
its last windows are done, or at its time limit; a service that exits fails its mode (the
other still runs, the exit status says so). Goals (the issue): onset to serving at most 60 s,
AUC back within 120 s. The schedule's phase against the onset decides much of the baseline's
number; the due times of its retrains relative to the onset are printed (expected wait over a
random phase: half the interval, plus the retrain itself).

    .venv/bin/python bench/bench_loop.py                       # 1,000/s, 5 to 12 minutes
    .venv/bin/python bench/bench_loop.py --rate 200 --stable 300 --drifted 900 --every 40

The broker: ``DRIFTLINE_KAFKA_BOOTSTRAP_SERVERS`` if set, else a local broker under
``.driftline/bench/loop`` on 127.0.0.1:29692 (started and stopped here unless one already
answers there). Each mode's logs and MLflow are kept in ``.driftline/bench/loop/runs/<mode>``.
Every process started is stopped at the end, on Ctrl-C and on SIGTERM.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import sys
import time
import uuid
from dataclasses import dataclass, field, replace
from pathlib import Path

import msgspec
from _broker import REPO, bench_broker

from driftline.events import DriftEvent, ModelUpdateEvent, decode
from driftline.settings import KafkaSettings
from producers.demo import (
    MONITOR_APP_ID,
    DemoPlan,
    Loop,
    Processes,
    drift_line,
    progress,
    read_report,
    start_loop,
    update_line,
)
from producers.demo_summary import WindowPoint, first_recovered, summarize

PORT = int(os.environ.get("DRIFTLINE_BENCH_LOOP_KAFKA_PORT", "29692"))
RUNS = REPO / ".driftline" / "bench" / "loop" / "runs"
SERVING_GOAL = 60.0
RECOVERY_GOAL = 120.0
SHARE = 0.95
MIN_LABELED = 200  # a window judged on fewer labeled rows is too noisy to count (the monitor's
# own floor for performance drift, DRIFTLINE_MIN_LABELED)
MODES = ("drift", "schedule")


class _Served(msgspec.Struct):
    """The two fields of a PredictionEvent the benchmark reads."""

    model_version: str
    event_time: float


@dataclass
class _Observed:
    """What one mode's loop wrote to Kafka, as read so far."""

    onset_wall: float | None = None
    first_served: dict[str, float] = field(default_factory=dict)  # version -> wall
    promotions: list[tuple[str, float]] = field(default_factory=list)  # (version, wall)
    detections: list[tuple[float, str, float]] = field(default_factory=list)
    windows: list[WindowPoint] = field(default_factory=list)
    reported: dict[tuple[float, str], float] = field(default_factory=dict)  # window -> wall
    predictions: int = 0
    first_wall: float | None = None
    last_wall: float | None = None


@dataclass(frozen=True)
class Result:
    """One mode's numbers; seconds are wall seconds after the onset."""

    mode: str
    label: str
    onset_wall: float | None
    rate: float | None
    detection: float | None
    version: str | None
    serving: float | None
    recovering_version: str | None
    recovering_serving: float | None
    auc_before: float | None
    auc_worst: float | None
    auc_after: float | None
    recovered: float | None
    reported: float | None
    retrains: str = ""
    ticks: str = ""
    failure: str = ""

    @property
    def done(self) -> bool:
        return self.serving is not None and self.recovered is not None


def _measure(mode: str, label: str, seen: _Observed, loop: Loop, plan: DemoPlan) -> Result:
    onset_wall = seen.onset_wall
    windows = [w for w in seen.windows if w.rows >= MIN_LABELED]
    summary = summarize(windows, onset=loop.onset, detections=[], promotions=[])
    version = serving = detection = recovered = reported = None
    recovering_version = recovering_serving = None
    auc_after = None
    if onset_wall is not None:
        new = [v for v, at in seen.promotions if at >= onset_wall and v in seen.first_served]
        if new:
            version = new[0]
            serving = seen.first_served[version] - onset_wall
            after = [w.auc for w in windows
                     if w.version == version and w.start >= loop.onset and w.auc is not None]
            auc_after = round(sum(after) / len(after), 4) if after else None
        drift = [wall for _t, _kind, wall in seen.detections if wall >= onset_wall]
        detection = min(drift) - onset_wall if drift else None
        back = first_recovered(windows, onset=loop.onset, auc_before=summary.auc_before,
                               share=SHARE)
        if back is not None:
            recovered = (back.end - loop.onset) / plan.time_scale
            if back.version != "1" and back.version in seen.first_served:
                recovering_version = back.version
                recovering_serving = seen.first_served[back.version] - onset_wall
            reported = seen.reported[(back.start, back.version)] - onset_wall
    rate = None
    if seen.first_wall is not None and seen.last_wall and seen.last_wall > seen.first_wall:
        rate = seen.predictions / (seen.last_wall - seen.first_wall)
    return Result(mode, label, onset_wall, rate, detection, version, serving,
                  recovering_version, recovering_serving, summary.auc_before,
                  summary.auc_worst, auc_after, recovered, reported)


def _follow(mode: str, label: str, plan: DemoPlan, kafka: KafkaSettings, procs: Processes,
            loop: Loop, say) -> Result:
    from driftline.kafka import Consumer

    predictions = kafka.topic("predictions")
    reports = kafka.service_topic(MONITOR_APP_ID, "reports")
    drift, updates = kafka.topic("drift-events"), kafka.topic("model-updates")
    consumer = Consumer(kafka, f"{kafka.topic_prefix}bench", commit="manual",
                        options={"topic.metadata.refresh.interval.ms": 2000})
    consumer.subscribe([predictions, reports, drift, updates])
    decoder = msgspec.json.Decoder(_Served)
    seen = _Observed()
    began = time.monotonic()
    limit = (plan.duration + plan.label_wait) / plan.time_scale + 60
    finished_at = done_at = None
    last_count = (began, 0)
    try:
        while True:
            procs.check()
            for msg in consumer.consume(2000, 0.5):
                topic, wall = msg.topic(), msg.timestamp()[1] / 1000.0
                if topic == predictions:
                    served = decoder.decode(msg.value())
                    seen.predictions += 1
                    seen.first_wall = min(seen.first_wall or wall, wall)
                    seen.last_wall = max(seen.last_wall or wall, wall)
                    first = seen.first_served.get(served.model_version)
                    if first is None or wall < first:
                        seen.first_served[served.model_version] = wall
                    if served.event_time >= loop.onset and (
                            seen.onset_wall is None or wall < seen.onset_wall):
                        if seen.onset_wall is None:
                            say("onset: the first drifted application was scored")
                        seen.onset_wall = wall
                elif topic == reports:
                    point, lines = read_report(msgspec.json.decode(msg.value()))
                    for line in lines:
                        say(line)
                    if point is not None:
                        seen.windows.append(point)
                        seen.reported[(point.start, point.version)] = time.time()
                elif topic == drift:
                    event = decode(DriftEvent, msg.value())
                    seen.detections.append((event.event_time, event.kind, wall))
                    say(drift_line(event))
                elif topic == updates:
                    update = decode(ModelUpdateEvent, msg.value())
                    if update.alias == "champion":
                        seen.promotions.append((update.version, wall))
                    say(update_line(update))
            now = time.monotonic()
            if now - last_count[0] >= 15:
                rate = (seen.predictions - last_count[1]) / (now - last_count[0])
                say(f"{seen.predictions:,} predictions read ({rate:,.0f}/s)")
                last_count = (now, seen.predictions)
            result = _measure(mode, label, seen, loop, plan)
            if result.done and done_at is None:
                done_at = now
                say(f"measured: v{result.version} served {result.serving:.1f}s after the "
                    f"onset, AUC back {result.recovered:.1f}s after it; two more windows "
                    "to see it hold")
            if done_at is not None and now - done_at > 2 * plan.window / plan.time_scale:
                return result
            if loop.producer.poll() is not None and finished_at is None:
                finished_at = now
                say("the producer finished; waiting for the last windows")
            drained = plan.label_wait / plan.time_scale + 20
            if finished_at is not None and now - finished_at > drained:
                return result
            if now - began > limit:
                say(f"time is up ({limit:.0f}s)")
                return result
    finally:
        consumer.close()


def _retrains(home: Path, onset_wall: float | None) -> tuple[str, str]:
    """From the mode's registry: how many challengers were registered (and promoted), and the
    due times of scheduled retrains relative to the onset."""
    from driftline.model.registry import configure
    from retrainer.catalog import collect
    from retrainer.schedule import SCHEDULED_PREFIX

    configure(home)
    made = [v for v in collect("credit-risk") if v.decision in ("promoted", "rejected")]
    promoted = sum(v.decision == "promoted" for v in made)
    ticks = []
    for v in sorted(made, key=lambda v: int(v.version)):
        if v.trigger_event.startswith(SCHEDULED_PREFIX) and onset_wall is not None:
            due = float(v.trigger_event.removeprefix(SCHEDULED_PREFIX)) - onset_wall
            ticks.append(f"{due:+.0f}s {v.decision}")
    return f"{len(made)} ({promoted} promoted)", ", ".join(ticks)


def run_mode(mode: str, plan: DemoPlan, every: float, bootstrap: str, began: float) -> Result:
    label = "drift-triggered" if mode == "drift" else f"schedule, every {every:g}s"
    home = RUNS / mode
    shutil.rmtree(home, ignore_errors=True)
    (home / "logs").mkdir(parents=True)
    kafka = KafkaSettings(bootstrap_servers=bootstrap,
                          topic_prefix=f"loop{mode[:5]}{uuid.uuid4().hex[:6]}.")
    clock = progress(began)

    def say(text: str) -> None:
        clock(f"{mode:8} {text}")

    procs = Processes(home / "logs")
    retrain_args = ["--every", f"{every:g}"] if mode == "schedule" else []
    try:
        say(f"retrainer: driftline retrain {' '.join(retrain_args)}".rstrip())
        loop = start_loop(plan, kafka, home, procs, say, retrain_args=retrain_args)
        result = _follow(mode, label, plan, kafka, procs, loop, say)
    except RuntimeError as exc:  # a service exited or never got ready: the next mode runs
        failure = str(exc).splitlines()[0]
        say(f"FAILED: {failure} (its log is in {home / 'logs'})")
        return Result(mode, label, *[None] * 12, failure=failure)
    finally:
        procs.stop_all()
        say(f"stopped its processes; logs in {home / 'logs'}")
    retrains, ticks = _retrains(home, result.onset_wall)
    return replace(result, retrains=retrains, ticks=ticks)


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def _auc(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _ratio(base: float | None, drift: float | None) -> str:
    return "-" if base is None or not drift else f"{base / drift:.1f}x"


def _goal(value: float | None, goal: float) -> str:
    return "met" if value is not None and value <= goal else "NOT met"


def report(results: list[Result], plan: DemoPlan) -> None:
    by = {r.mode: r for r in results}
    drift, base = by.get("drift"), by.get("schedule")
    print(f"\nclosed loop at {plan.rate:,.0f} applications/s, simulated time "
          f"x{plan.time_scale:g} (windows of {plan.window:g}s simulated, "
          f"{plan.window / plan.time_scale:g}s wall); stable {plan.stable:g}s then drifted "
          f"(simulated); seconds are wall seconds after the onset")
    rows = [
        ("predictions scored per second", lambda r: "-" if r.rate is None else f"{r.rate:,.0f}",
         None),
        ("onset -> first drift event (s)", lambda r: _seconds(r.detection), None),
        ("onset -> new champion serving (s)", lambda r: _seconds(r.serving), "serving"),
        ("  the new champion", lambda r: f"v{r.version}" if r.version else "none", None),
        ("onset -> recovering champion serving (s)", lambda r: _seconds(r.recovering_serving),
         "recovering_serving"),
        ("  the champion that brought the AUC back",
         lambda r: f"v{r.recovering_version}" if r.recovering_version else "none", None),
        ("AUC before the drift", lambda r: _auc(r.auc_before), None),
        ("AUC at its worst", lambda r: _auc(r.auc_worst), None),
        (f"onset -> AUC back to >= {SHARE:.0%} (s)", lambda r: _seconds(r.recovered),
         "recovered"),
        ("  reported by the monitor at (s)", lambda r: _seconds(r.reported), None),
        ("AUC of the new champion after the onset", lambda r: _auc(r.auc_after), None),
        ("challengers registered", lambda r: r.retrains, None),
        (f"goal: serving <= {SERVING_GOAL:g} s", lambda r: _goal(r.serving, SERVING_GOAL),
         None),
        (f"goal: AUC back <= {RECOVERY_GOAL:g} s",
         lambda r: _goal(r.recovered, RECOVERY_GOAL), None),
    ]
    head = f"{'measure':44}" + "".join(f"{r.label:>24}" for r in results)
    print(head + (f"{'schedule / drift':>18}" if drift and base else ""))
    for name, cell, ratio in rows:
        line = f"{name:44}" + "".join(f"{cell(r):>24}" for r in results)
        if drift and base and ratio:
            line += f"{_ratio(getattr(base, ratio), getattr(drift, ratio)):>18}"
        print(line)
    if base is not None and base.ticks:
        print(f"scheduled retrains, due relative to the onset: {base.ticks}")
    for r in results:
        if r.failure:
            print(f"{r.label}: FAILED, not measured: {r.failure}")


def main() -> None:
    parser = argparse.ArgumentParser(description=" ".join(__doc__.split("\n\n")[0].split()))
    parser.add_argument("--rate", type=float, default=1000.0,
                        help="applications per wall second (1000)")
    parser.add_argument("--time-scale", type=float, default=10.0,
                        help="simulated seconds per wall second (10)")
    parser.add_argument("--stable", type=float, default=600.0,
                        help="simulated seconds of stable traffic before the onset (600)")
    parser.add_argument("--drifted", type=float, default=1800.0,
                        help="simulated seconds of drifted traffic at most (1800); a mode "
                        "stops early once measured")
    parser.add_argument("--every", type=float, default=120.0,
                        help="the baseline's retrain interval, wall seconds (120)")
    parser.add_argument("--window", type=float, default=120.0,
                        help="the monitor's window, simulated seconds (120)")
    parser.add_argument("--modes", default=",".join(MODES),
                        help="which modes, in order (drift,schedule)")
    args = parser.parse_args()
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    if not modes or set(modes) - set(MODES):
        parser.error(f"--modes: choose from {', '.join(MODES)}")
    plan = DemoPlan(rate=args.rate, time_scale=args.time_scale, stable=args.stable,
                    drifted=args.drifted, window=args.window)
    # SIGTERM runs the same clean-up as Ctrl-C: every process started here is stopped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    # Each mode needs a registry of its own: the embedded one under its home, not a server.
    os.environ.pop("MLFLOW_TRACKING_URI", None)
    began = time.monotonic()
    try:
        bootstrap, local = bench_broker("loop", PORT)
        try:
            results = [run_mode(mode, plan, args.every, bootstrap, began) for mode in modes]
        finally:
            if local is not None:
                local.stop()
    except KeyboardInterrupt:
        raise SystemExit("interrupted; every process started here has been stopped") from None
    report(results, plan)
    print(f"total {time.monotonic() - began:.0f}s")
    failed = [f"{r.mode}: {r.failure}" for r in results if r.failure]
    if failed:
        raise SystemExit("not measured: " + "; ".join(failed))


if __name__ == "__main__":
    main()
