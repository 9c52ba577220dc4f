"""A retrainer process killed (SIGKILL) in the middle of a retrain, against the real broker
and an embedded MLflow registry: the restarted one resumes the retrain, registers exactly one
version and moves the alias, and what it remembers (the drift event answered, the cooldown)
survives a further kill: the same drift event again and a new one inside the cooldown are not
retrained for."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import mlflow

from driftline.events import RetrainerState, decode
from driftline.kafka import Producer, read_topic
from driftline.model.registry import configure, get_alias
from driftline.settings import KafkaSettings
from retrainer.lineage import TAGS
from tests.retrainer.support import DRIFTED, drift_event, labeled_events, produce_labeled
from tests.scorer.support import register_model

NAME = "credit-risk"
ROOT = Path(__file__).resolve().parents[2]


def _start(home: Path, kafka: KafkaSettings, group: str, hold: Path,
           log: Path) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DRIFTLINE_")}
    env.update({
        "DRIFTLINE_HOME": str(home),
        "DRIFTLINE_KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap,
        "DRIFTLINE_KAFKA_TOPIC_PREFIX": kafka.topic_prefix,
        "DRIFTLINE_RETRAIN_GROUP": group,
        # static membership: a restart takes drift-events back without the session timeout
        "DRIFTLINE_RETRAIN_INSTANCE_ID": "retrainer-1",
        "DRIFTLINE_RETRAIN_METRICS_PORT": "0",
        "DRIFTLINE_RETRAIN_MIN_ROWS": "1000",
        "DRIFTLINE_RETRAIN_WINDOW": "3600",
        "DRIFTLINE_GATE_MARGIN": "0.02",
        "DRIFTLINE_RETRAIN_PIPELINE": "tests.retrainer.hold:pipeline",
        "DRIFTLINE_LOG_LEVEL": "INFO",
        "HOLD_TRAINING_DIR": str(hold),
        "PYTHONPATH": str(ROOT),
    })
    return subprocess.Popen([sys.executable, "-m", "driftline.cli", "retrain"], env=env,
                            cwd=ROOT, stdout=log.open("ab"), stderr=subprocess.STDOUT,
                            start_new_session=True)


def _kill(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(30)


def _wait(what: str, condition: Callable[[], Any], timeout: float, log: Path) -> Any:
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        if time.monotonic() > deadline:
            tail = log.read_text(errors="replace")[-3000:] if log.exists() else ""
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}\n{tail}")
        time.sleep(0.2)
    return value


def _state(kafka: KafkaSettings) -> RetrainerState | None:
    msgs = read_topic(kafka, f"{kafka.topic_prefix}retrainer-state", idle_timeout=2)
    states = [decode(RetrainerState, m.value()) for m in msgs if m.value() is not None]
    return states[-1] if states else None


def _answered(event_id: str) -> list[Any]:
    """The versions registered for ``event_id`` that carry their decision."""
    versions = mlflow.MlflowClient().search_model_versions(f"name = '{NAME}'")
    return [v for v in versions if (v.tags or {}).get(TAGS.trigger_event) == event_id]


def _decided(log: Path, event_id: str) -> str | None:
    """The logged decision about ``event_id`` (the last one), once there is one."""
    lines = [line for line in log.read_text(errors="replace").splitlines()
             if f"drift event {event_id} (" in line]
    return lines[-1] if lines else None


def test_a_retrainer_killed_mid_retrain_resumes_it_and_remembers_it_after_a_restart(
    kafka, driftline_topics, tmp_path, group_id
):
    register_model(tmp_path, NAME, seed=1)
    configure(tmp_path)
    produce_labeled(kafka, labeled_events(2400, DRIFTED))
    hold = tmp_path / "hold"
    hold.mkdir()
    drift = drift_event("drift-kill")
    with Producer(kafka) as producer:
        producer.send(driftline_topics["drift-events"], drift)

    # 1. killed once training has started, the retrain in flight written down
    first_log = tmp_path / "first.log"
    first = _start(tmp_path, kafka, group_id, hold, first_log)
    try:
        _wait("training to start", lambda: list(hold.glob("started-*")), 120, first_log)
        _wait("the retrain in flight to be remembered",
              lambda: (s := _state(kafka)) is not None and s.in_flight is not None,
              30, first_log)
    finally:
        _kill(first)
    assert _answered("drift-kill") == []
    state = _state(kafka)
    assert state.in_flight.event_id == "drift-kill" and state.in_flight.tries == 1

    # 2. restarted: the same retrain resumes (its second try) and ends with one version
    (hold / "release").touch()
    second_log = tmp_path / "second.log"
    second = _start(tmp_path, kafka, group_id, hold, second_log)
    try:
        _wait("the retrain to be remembered as done",
              lambda: (s := _state(kafka)) is not None and s.in_flight is None
              and s.finished_at is not None, 180, second_log)
    finally:
        _kill(second)
    assert "resumed: the retrain of credit-risk for drift event drift-kill" in (
        _decided(second_log, "drift-kill") or "")
    [version] = _answered("drift-kill")
    new = str(version.version)
    assert version.tags[TAGS.decision] == "promoted"
    assert (get_alias(NAME, "champion"), get_alias(NAME, "previous")) == (new, "1")
    assert len(list(hold.glob("started-*"))) == 2

    # 3. restarted again: the same event once more, and a new one inside the cooldown
    third_log = tmp_path / "third.log"
    third = _start(tmp_path, kafka, group_id, hold, third_log)
    try:
        soon = drift_event("drift-soon", version=new, at=drift.event_time + 30)
        with Producer(kafka) as producer:
            producer.send(driftline_topics["drift-events"], drift)
            producer.send(driftline_topics["drift-events"], soon)
        decided = _wait("the new event's decision", lambda: _decided(third_log, "drift-soon"),
                        60, third_log)
    finally:
        _kill(third)
    assert "skipped: cooldown until" in decided
    assert "skipped: duplicate of drift event drift-kill" in _decided(third_log, "drift-kill")
    assert len(list(hold.glob("started-*"))) == 2  # no third training
    versions = mlflow.MlflowClient().search_model_versions(f"name = '{NAME}'")
    assert sorted(int(v.version) for v in versions) == [1, 2]
    assert get_alias(NAME, "champion") == new
