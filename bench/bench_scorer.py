"""Scorer throughput and latency against the tutorial scorer, measured in the same run.

Anchor (a): ``bench/_baseline_scorer.py``, the usual FastAPI + scikit-learn scorer (pydantic
model, sync endpoint, ``predict_proba`` on one row, no Kafka) serving the same fitted pipeline.
Candidate (b): ``driftline serve``, validating against the model signature, micro-batching
concurrent requests into one model call and publishing every prediction to the real broker.
Both run as one uvicorn process (uvloop + httptools) and get the same wrk load: 16 connections,
the same duration, a POST of one loan application; so does ``driftline serve`` with
``DRIFTLINE_PUBLISH=ack`` (each answer waits for Kafka's acknowledgement). Then
``/predict/batch`` is loaded with 10,000-row batches, and the rows/s counts only predictions
Kafka has acknowledged; the benchmark checks that every one of them is on the topic. Its
anchor (c), measured last in the same run: the scorer's own publisher alone (no HTTP, no
validation, no model) enqueuing the same rows, already encoded, for the same duration into a
topic of its own, counted the same way: what this broker on this machine acknowledges at
most.

The broker: ``DRIFTLINE_KAFKA_BOOTSTRAP_SERVERS`` if set, else a local broker of its own under
``.driftline/bench/scorer`` on 127.0.0.1:29292 (``DRIFTLINE_BENCH_SCORER_KAFKA_PORT``; started
here if not running, stopped at the end if started here). The registry: an embedded MLflow
under ``.driftline/bench/scorer``.

    .venv/bin/python bench/bench_scorer.py                  # 20 s per load
    .venv/bin/python bench/bench_scorer.py --duration 10
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
HOME = REPO / ".driftline" / "bench" / "scorer"
BENCH_PORT = int(os.environ.get("DRIFTLINE_BENCH_SCORER_KAFKA_PORT", "29292"))
BASELINE_PORT, DRIFTLINE_PORT = 18100, 18101
APPLICATION = {
    "annual_income": 850000.0, "loan_amount": 250000.0, "employment_years": 4.5,
    "existing_debt_ratio": 0.3, "credit_history_months": 60.0, "channel": "web",
    "city_tier": "tier1",
}
GOALS = {"ratio": 3.0, "p99_ms": 25.0, "batch_rows_s": 100_000}


def _broker():
    from _broker import bench_broker

    return bench_broker("scorer", BENCH_PORT)


def _champion_file() -> Path:
    """Register the default model in the bench registry if needed; export its skops file."""
    import skops.io

    from driftline.model.registry import configure, get_alias, load_model
    from producers.bootstrap import bootstrap

    configure(HOME)
    if get_alias("credit-risk", "champion") is None:
        print("training and registering the default model (once)")
        bootstrap(HOME)
    loaded = load_model("credit-risk", get_alias("credit-risk", "champion"))
    path = HOME / "baseline-model.skops"
    skops.io.dump(loaded.estimator, path)
    return path


def _wait_http(url: str, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.25)
    raise RuntimeError(f"{url} did not answer 200 within {timeout:.0f}s")


def _start(cmd: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    return subprocess.Popen(
        cmd, cwd=REPO, env={**os.environ, **env}, stdout=log.open("wb"),
        stderr=subprocess.STDOUT, start_new_session=True,
    )


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def _lua(body: bytes, folder: Path, name: str) -> Path:
    script = folder / f"{name}.lua"
    script.write_text(
        'wrk.method = "POST"\n'
        'wrk.headers["Content-Type"] = "application/json"\n'
        f"wrk.body = [==[{body.decode()}]==]\n"
    )
    return script


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0}


def _wrk(url: str, script: Path, connections: int, duration: float, threads: int = 2) -> dict:
    out = subprocess.run(
        ["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration:.0f}s", "--latency",
         "-s", str(script), url],
        capture_output=True, text=True, check=True,
    ).stdout

    def latency(pct: str) -> float:
        value, unit = re.search(rf"^\s+{pct}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M).groups()
        return float(value) * _UNITS[unit]

    requests = int(re.search(r"(\d+) requests in", out).group(1))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket_errors = re.search(r"Socket errors: (.*)", out)
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        "p50": latency("50"), "p99": latency("99"), "requests": requests,
        "errors": int(errors.group(1)) if errors else 0,
        "socket_errors": socket_errors.group(1) if socket_errors else "",
    }


def _buffered(base: str) -> int:
    with urllib.request.urlopen(f"{base}/ready", timeout=5) as response:
        return json.loads(response.read())["buffered"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=float, default=20.0, help="seconds per wrk load")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--batch-rows", type=int, default=10_000)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is needed: apt-get install -y wrk")

    from driftline.kafka import create_topics, delete_topics, read_topic
    from driftline.settings import KafkaSettings
    from driftline.topics import topic_names
    from producers.generator import LoanGenerator

    HOME.mkdir(parents=True, exist_ok=True)
    load_before = os.getloadavg()[0]
    bootstrap, local = _broker()
    prefix = f"bench{uuid.uuid4().hex[:8]}."
    kafka = KafkaSettings(bootstrap_servers=bootstrap, topic_prefix=prefix)
    create_topics(kafka)
    predictions = kafka.topic("predictions")
    model_file = _champion_file()
    work = Path(tempfile.mkdtemp(prefix="driftline-bench-"))
    single = _lua(json.dumps(APPLICATION).encode(), work, "single")
    rows = LoanGenerator(seed=11).sample(args.batch_rows).rows()
    batch = _lua(json.dumps({"rows": rows}).encode(), work, "batch")
    results: dict[str, dict] = {}
    try:
        print(f"baseline: tutorial scorer on :{BASELINE_PORT}")
        proc = _start(
            [sys.executable, "-m", "uvicorn", "bench._baseline_scorer:app", "--port",
             str(BASELINE_PORT), "--no-access-log", "--log-level", "warning"],
            {"BASELINE_MODEL": str(model_file)}, work / "baseline.log",
        )
        try:
            url = f"http://127.0.0.1:{BASELINE_PORT}/predict"
            _wait_http(f"http://127.0.0.1:{BASELINE_PORT}/docs")
            _wrk(url, single, args.connections, 5)  # warm-up
            results["baseline"] = _wrk(url, single, args.connections, args.duration)
        finally:
            _stop(proc)

        print(f"driftline: driftline serve on :{DRIFTLINE_PORT}, publishing to {predictions}")
        env = {
            "DRIFTLINE_HOME": str(HOME), "DRIFTLINE_KAFKA_BOOTSTRAP_SERVERS": bootstrap,
            "DRIFTLINE_KAFKA_TOPIC_PREFIX": prefix, "DRIFTLINE_PORT": str(DRIFTLINE_PORT),
            "DRIFTLINE_LOG_LEVEL": "WARNING", "DRIFTLINE_MAX_BATCH_ROWS": str(args.batch_rows),
        }
        proc = _start([sys.executable, "-m", "driftline.cli", "serve"], env,
                      work / "driftline.log")
        base = f"http://127.0.0.1:{DRIFTLINE_PORT}"
        try:
            _wait_http(f"{base}/ready")
            # warm-up, also of the broker's JIT on the produce path
            warm = _wrk(f"{base}/predict", single, args.connections, 5)
            results["driftline"] = _wrk(f"{base}/predict", single, args.connections,
                                        args.duration)
            time.sleep(1.0)  # let requests still in the server when wrk stopped finish
            while _buffered(base):
                time.sleep(0.1)
            began = time.monotonic()
            load = _wrk(f"{base}/predict/batch", batch, 2, args.duration, threads=1)
            while _buffered(base):  # rows count once Kafka acknowledged them
                time.sleep(0.05)
            elapsed = time.monotonic() - began
            answered = (load["requests"] - load["errors"]) * args.batch_rows
            results["batch"] = {
                "answered": answered,
                "rows_s": answered / elapsed, "p50": load["p50"], "p99": load["p99"],
                "errors": load["errors"],
            }
        finally:
            _stop(proc)  # flushes what is still queued
        print("driftline with DRIFTLINE_PUBLISH=ack: an answer once Kafka acknowledged")
        proc = _start([sys.executable, "-m", "driftline.cli", "serve"],
                      {**env, "DRIFTLINE_PUBLISH": "ack"}, work / "driftline-ack.log")
        try:
            _wait_http(f"{base}/ready")
            warm_ack = _wrk(f"{base}/predict", single, args.connections, 5)
            results["ack"] = _wrk(f"{base}/predict", single, args.connections, args.duration)
        finally:
            _stop(proc)
        single_ok = sum(r["requests"] - r["errors"]
                        for r in (warm, results["driftline"], warm_ack, results["ack"]))
        print("anchor: the scorer's publisher alone, pre-encoded rows")
        results["anchor"] = _publish_only(kafka, rows, args.duration)
        results["check"] = {
            "answered": single_ok + answered,
            "on_topic": sum(1 for _ in read_topic(kafka, predictions)),
            # requests in flight when a wrk run stopped (four single-request runs, two of
            # batches) are answered (and published) after it
            "slack": 4 * args.connections + 2 * args.batch_rows,
        }
    finally:
        delete_topics(kafka, [*topic_names(prefix).values(), f"{prefix}publish-anchor"])
        shutil.rmtree(work, ignore_errors=True)
        if local is not None:
            local.stop()

    _report(results, args, load_before)
    return 0


def _publish_only(kafka, rows: list[dict], duration: float) -> dict:
    """Anchor (c): acknowledged predictions/s of the scorer's publisher fed pre-encoded rows."""
    from driftline.events import encode_predictions
    from driftline.kafka.admin import create_internal_topics
    from scorer.metrics import ScorerMetrics
    from scorer.publisher import BufferFullError, PredictionPublisher

    topic = f"{kafka.topic_prefix}publish-anchor"
    create_internal_topics(kafka, {topic: (kafka.partitions, {})})
    ids = [uuid.uuid4().hex for _ in rows]
    keys, values = encode_predictions(
        model_name="credit-risk", model_version="1", prediction_ids=ids, event_times=time.time(),
        features=rows, scores=[0.2] * len(rows), decisions=["MEDIUM"] * len(rows),
        entity_ids=[None] * len(rows),
    )
    publisher = PredictionPublisher(kafka, topic=topic, dead_letter_topic=f"{topic}-dlq",
                                    capacity=100_000, metrics=ScorerMetrics())
    publisher.start()
    sent, began = 0, time.monotonic()
    try:
        while time.monotonic() - began < duration:
            try:
                publisher.publish(keys, values)
                sent += len(keys)
            except BufferFullError:
                time.sleep(0.005)
    finally:
        left = publisher.close(60.0)
    return {"rows_s": (sent - left) / (time.monotonic() - began), "topic": topic}


def _report(
    results: dict[str, dict], args: argparse.Namespace, load_before: float
) -> None:
    base, ours, batch = results["baseline"], results["driftline"], results["batch"]
    ratio = ours["rps"] / base["rps"]
    print()
    print(f"POST /predict, wrk {args.connections} connections, {args.duration:.0f} s each, "
          f"{os.cpu_count()} CPUs shared by server, wrk and broker; load average "
          f"{load_before:.1f} before, {os.getloadavg()[0]:.1f} after")
    print(f"{'':34} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'non-2xx':>8}")
    for name, r in (("baseline (tutorial, no Kafka)", base),
                    ("driftline (publishing to Kafka)", ours),
                    ("driftline, DRIFTLINE_PUBLISH=ack", results["ack"])):
        print(f"{name:34} {r['rps']:>9.0f} {r['p50']:>8.2f} {r['p99']:>8.2f} {r['errors']:>8}")
    print(f"ratio driftline/baseline: {ratio:.2f}x req/s (goal >= {GOALS['ratio']:.0f}x: "
          f"{'met' if ratio >= GOALS['ratio'] else 'NOT met'}); driftline p99 "
          f"{ours['p99']:.2f} ms (goal <= {GOALS['p99_ms']:.0f} ms: "
          f"{'met' if ours['p99'] <= GOALS['p99_ms'] else 'NOT met'})")
    ack = results["ack"]
    print(f"publish=ack (answers only what Kafka acknowledged): {ack['rps'] / base['rps']:.2f}x "
          f"the baseline's req/s, {ack['rps'] / ours['rps']:.2f} of the default's; p99 "
          f"{ack['p99']:.2f} ms against {ours['p99']:.2f} ms")
    check = results["check"]
    late = check["on_topic"] - check["answered"]
    ok = 0 <= late <= check["slack"]
    met = "met" if batch["rows_s"] >= GOALS["batch_rows_s"] else "NOT met"
    print(f"POST /predict/batch, {args.batch_rows:,}-row batches, 2 in flight: "
          f"{batch['rows_s']:,.0f} rows/s acknowledged by Kafka (goal >= "
          f"{GOALS['batch_rows_s']:,}: {met}); request p50 {batch['p50']:.0f} ms, "
          f"p99 {batch['p99']:.0f} ms, {batch['errors']} non-2xx (503: buffer full)")
    anchor = results["anchor"]["rows_s"]
    print(f"anchor (c), the scorer's publisher alone, pre-encoded rows: {anchor:,.0f} "
          f"predictions/s acknowledged; /predict/batch reaches {batch['rows_s'] / anchor:.2f} "
          "of it")
    print(f"read back from the topic: {check['on_topic']:,} predictions for {check['answered']:,} "
          f"answered 200 to wrk ({'none missing' if ok else 'MISMATCH'}; {late:,} more were in "
          f"flight when a wrk run stopped, at most {check['slack']:,} possible)")


if __name__ == "__main__":
    sys.exit(main())
