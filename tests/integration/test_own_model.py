"""Models driftline never trained, against the real broker and an embedded MLflow registry.

Two classifiers fitted on scikit-learn's breast-cancer data set are registered with
``driftline models register`` from a CSV (the README's quickstart), served side by side by
two scorers (one per DRIFTLINE_MODEL_NAME, both publishing to the same ``predictions``
topic), and watched by one ``driftline monitor``: traffic in which one feature of one model's
requests is shifted raises one covariate drift event naming that feature, for that model
only, while a retrainer for the other model leaves the event alone. Labels sent for the
drifted model (flipped on the shifted rows: its meaning changed too) reach ``labeled``
through the monitor's join, and a retrainer cloning that model (DRIFTLINE_RETRAIN_PIPELINE=
champion) answers the drift event with a promoted version 2 that keeps the decision policy
and the trusted types.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mlflow
import msgspec
import pandas as pd
import pytest
import skops.io
from fastapi.testclient import TestClient
from sklearn.datasets import load_breast_cancer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from typer.testing import CliRunner

from driftline.cli import app as cli
from driftline.events import DriftEvent, LabeledEvent, PredictionEvent, decode
from driftline.kafka import create_topics, delete_topics, read_topic
from driftline.model.decision import DECISION_TAG
from driftline.model.registry import get_alias
from driftline.model.trust import TRUSTED_TYPES_TAG
from driftline.settings import KafkaSettings
from driftline.topics import topic_names
from retrainer.job import RetrainResult
from retrainer.service import Retrainer
from retrainer.settings import RetrainerSettings
from scorer.app import create_app
from tests.scorer.support import scorer_settings

WINDOW, GRACE = 8.0, 1.0  # event-time seconds; the scorer stamps predictions with wall time
SHIFTED = "mean_radius"
APP_ID = "monitor-own"


@dataclass
class Setup:
    kafka: KafkaSettings
    home: Path
    reference: pd.DataFrame  # features only
    labels: list[int]
    registered: dict[str, str]  # model name -> CLI output
    log: Path


def _wait(what: str, condition: Callable[[], Any], timeout: float, log: Path) -> Any:
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        if time.monotonic() > deadline:
            tail = log.read_text(errors="replace")[-3000:] if log.exists() else ""
            raise AssertionError(f"timed out waiting for {what}; monitor log tail:\n{tail}")
        time.sleep(0.5)
    return value


def _register(home: Path, *args: str) -> str:
    result = CliRunner().invoke(
        cli, ["models", "register", *args],
        env={"DRIFTLINE_HOME": str(home), "DRIFTLINE_LOG_LEVEL": "WARNING"},
    )
    assert result.exit_code == 0, f"{result.output}\n{result.exception!r}"
    return result.output


@pytest.fixture(scope="module")
def setup(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    """Fit two models on the breast-cancer data, save them as skops files and the data as a
    CSV, and register both from the CLI; topics of their own."""
    root = tmp_path_factory.mktemp("own-model")
    home = root / "home"
    frame = load_breast_cancer(as_frame=True).frame.rename(columns=lambda c: c.replace(" ", "_"))
    features, target = frame.drop(columns="target"), frame["target"]
    csv = root / "cancer.csv"
    frame.to_csv(csv, index=False)
    hgb = HistGradientBoostingClassifier(max_iter=40, random_state=0).fit(features, target)
    linear = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(
        features, target)
    skops.io.dump(hgb, root / "cancer.skops")
    skops.io.dump(linear, root / "linear.skops")
    registered = {
        "cancer": _register(home, str(root / "cancer.skops"), "--reference", str(csv),
                            "--label", "target", "--name", "cancer",
                            "--score-name", "benign_probability",
                            "--tier", "HIGH=0.5", "--tier", "MEDIUM=0.2"),
        "cancer-linear": _register(home, str(root / "linear.skops"), "--reference", str(csv),
                                   "--label", "target", "--name", "cancer-linear"),
    }
    kafka = KafkaSettings(bootstrap_servers=kafka_bootstrap,
                          topic_prefix=f"t{uuid.uuid4().hex[:10]}.")
    create_topics(kafka)
    yield Setup(kafka, home, features, target.tolist(), registered, root / "monitor.log")
    delete_topics(kafka, topic_names(kafka.topic_prefix).values())


def _start_monitor(s: Setup) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DRIFTLINE_")}
    env.update({
        "DRIFTLINE_HOME": str(s.home),
        "DRIFTLINE_KAFKA_BOOTSTRAP_SERVERS": s.kafka.bootstrap,
        "DRIFTLINE_KAFKA_TOPIC_PREFIX": s.kafka.topic_prefix,
        "DRIFTLINE_MONITOR_APP_ID": APP_ID,
        "DRIFTLINE_WINDOW_SIZE": str(WINDOW),
        "DRIFTLINE_GRACE": str(GRACE),
        "DRIFTLINE_LABEL_WAIT": "1",
        # Traffic comes in bursts a window apart: a partition quiet between bursts must not
        # count as idle, or a window is judged before every partition's share is in.
        "DRIFTLINE_IDLE_TIMEOUT": "120",
        "DRIFTLINE_CHECKPOINT_INTERVAL": "0.5",
        "DRIFTLINE_METRICS_PORT": "0",
        "DRIFTLINE_MIN_ROWS": "150",
        "DRIFTLINE_RAISE_AFTER": "1",
    })
    return subprocess.Popen(
        [sys.executable, "-m", "driftline.cli", "monitor"], env=env,
        stdout=s.log.open("ab"), stderr=subprocess.STDOUT, start_new_session=True,
    )


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)


def _into_next_window(after: float = 0.3) -> None:
    """Sleep until ``after`` seconds into the next event-time window (wall clock)."""
    now = time.time()
    time.sleep((now // WINDOW + 1) * WINDOW + after - now)


def _send(client: TestClient, rows: list[dict[str, float]]) -> list[dict[str, Any]]:
    answers = []
    for i in range(0, len(rows), 200):
        response = client.post("/predict/batch", json={"rows": rows[i:i + 200]})
        assert response.status_code == 200, response.text
        answers.extend(response.json()["predictions"])
    return answers


@dataclass
class Outcome:
    answers: dict[str, list[dict[str, Any]]]
    drift: list[DriftEvent]
    reports: list[dict[str, Any]]
    shifted_window: float
    other_model_decisions: list[Any]
    performance: dict[float, dict[str, Any]]  # cancer's judged windows, by start
    retrain: RetrainResult
    version_tags: dict[str, dict[str, str]]
    served: dict[str, dict[str, Any]]  # GET /model of each scorer


@pytest.fixture(scope="module")
def outcome(setup: Setup) -> Iterator[Outcome]:
    """Stable traffic to both models in one window, then traffic with SHIFTED moved up for
    `cancer` only in the next, then a tail that closes both windows."""
    s = setup
    stable = s.reference.to_dict("records")
    shifted = s.reference.assign(**{SHIFTED: s.reference[SHIFTED] + 8.0}).to_dict("records")
    monitor = _start_monitor(s)
    retrainer = Retrainer(RetrainerSettings(
        home=s.home, kafka=s.kafka, model_name="cancer-linear", retrain_metrics_port=0,
        retrain_group=f"retrain-{uuid.uuid4().hex[:8]}", retrain_data_wait=1.0,
    ))
    answers: dict[str, list[dict[str, Any]]] = {"cancer": [], "cancer-linear": []}
    try:
        retrainer.start()
        apps = {name: create_app(scorer_settings(s.home, s.kafka, model_name=name))
                for name in answers}
        with TestClient(apps["cancer"]) as cancer, TestClient(apps["cancer-linear"]) as linear:
            served = {"cancer": cancer.get("/model").json(),
                      "cancer-linear": linear.get("/model").json()}
            _into_next_window()
            answers["cancer"] += _send(cancer, stable)
            answers["cancer-linear"] += _send(linear, stable)
            _post_labels(cancer, answers["cancer"], s.labels)
            _into_next_window()
            shifted_window = (time.time() // WINDOW) * WINDOW
            shifted_answers = _send(cancer, shifted)
            answers["cancer"] += shifted_answers
            answers["cancer-linear"] += _send(linear, stable)
            # the drifted feature's meaning changed too: its labels are flipped
            _post_labels(cancer, shifted_answers, [1 - y for y in s.labels])
            _into_next_window(GRACE + 0.5)
            tail = _send(cancer, stable[:60])
            _send(linear, stable[:60])
            # stamped a little ahead: the labels' watermark passes the shifted window's end
            # plus DRIFTLINE_LABEL_WAIT, which closes both windows' performance
            _post_labels(cancer, tail, s.labels[:60], at=time.time() + 2 * GRACE + 2)
        reports_topic = f"{s.kafka.topic_prefix}{APP_ID}-reports"

        def judged() -> list[dict[str, Any]] | None:
            reports = [msgspec.json.decode(m.value()) for m in read_topic(s.kafka, reports_topic)]
            done = {(r["model_name"], r["window_start"]) for r in reports if r["kind"] == "drift"}
            wanted = {(m, shifted_window) for m in answers}
            return reports if wanted <= done else None

        reports = _wait("both models' shifted window judged", judged, 180, s.log)
        drift_topic = f"{s.kafka.topic_prefix}drift-events"
        drift = _wait(
            "a covariate drift event",
            lambda: [e for e in (decode(DriftEvent, m.value())
                                 for m in read_topic(s.kafka, drift_topic))
                     if e.kind == "covariate"] or None,
            60, s.log)
        decisions = _wait(
            "the other model's retrainer to see the drift event",
            lambda: [d for d in retrainer.decisions if d.model_name == "cancer"] or None,
            60, s.log)
        performance = _wait(
            "both of cancer's windows judged on their labels",
            lambda: _performance(s, {shifted_window - WINDOW, shifted_window}), 120, s.log)
        retrain = _retrain(s, len(answers["cancer"]))
        client = mlflow.MlflowClient()
        tags = {v: dict(client.get_model_version("cancer", v).tags) for v in ("1", "2")}
    finally:
        retrainer.stop()
        _stop(monitor)
    yield Outcome(answers, drift, reports, shifted_window, decisions, performance, retrain, tags,
                  served)


def _post_labels(client: TestClient, answers: list[dict[str, Any]], labels: list[int],
                 at: float | None = None) -> None:
    """Ground truth over HTTP, stamped ``at`` (default: when received, which is within the
    window of the predictions it labels)."""
    stamp = {} if at is None else {"event_time": at}
    body = {"labels": [{"prediction_id": a["prediction_id"], "label": y, **stamp}
                       for a, y in zip(answers, labels, strict=True)]}
    response = client.post("/labels/batch", json=body)
    assert response.status_code == 200, response.text
    assert response.json()["count"] == len(answers)


def _performance(s: Setup, starts: set[float]) -> dict[float, dict[str, Any]] | None:
    """cancer's performance reports of the windows starting at ``starts``, once all are in."""
    found = {}
    for msg in read_topic(s.kafka, f"{s.kafka.topic_prefix}{APP_ID}-reports"):
        report = msgspec.json.decode(msg.value())
        if (report["kind"] == "performance" and report["model_name"] == "cancer"
                and report["window_start"] in starts):
            found[report["window_start"]] = report["performance"]
    return found if set(found) == starts else None


def _retrain(s: Setup, predictions: int) -> RetrainResult:
    """Wait for the monitor to join every label posted for `cancer`, then let a retrainer
    cloning the champion answer the drift event."""
    labeled_topic = f"{s.kafka.topic_prefix}labeled"

    def joined() -> bool:
        events = [decode(LabeledEvent, m.value()) for m in read_topic(s.kafka, labeled_topic)]
        return sum(e.prediction.model_name == "cancer" for e in events) >= predictions + 60

    _wait("the labels joined", joined, 120, s.log)
    retrainer = Retrainer(RetrainerSettings(
        home=s.home, kafka=s.kafka, model_name="cancer", retrain_pipeline="champion",
        retrain_metrics_port=0, retrain_group=f"retrain-{uuid.uuid4().hex[:8]}",
        retrain_min_rows=500, retrain_data_wait=30.0, gate_margin=0.02,
    ))
    retrainer.start()
    try:
        return _wait("the retrain", lambda: retrainer.results, 180, s.log)[0]
    finally:
        retrainer.stop()


def test_register_prints_the_version_alias_metrics_and_tiers(setup: Setup):
    out = setup.registered["cancer"]
    assert "registered cancer version 1 as @champion" in out
    assert "holdout auc" in out
    assert "answers benign_probability and decision (HIGH > 0.5, MEDIUM > 0.2, else LOW)" in out
    assert "registered cancer-linear version 1 as @champion" in setup.registered[
        "cancer-linear"]


def test_each_scorer_answers_with_its_models_names_and_tiers(outcome: Outcome):
    assert outcome.served["cancer"]["decision"] == {
        "score": "benign_probability", "decision": "decision",
        "tiers": {"MEDIUM": 0.2, "HIGH": 0.5}, "otherwise": "LOW"}
    assert outcome.served["cancer-linear"]["name"] == "cancer-linear"
    assert outcome.served["cancer-linear"]["decision"]["tiers"] == {"positive": 0.5}
    for answer in outcome.answers["cancer"]:
        assert answer["benign_probability"] == answer["score"]
        assert answer["decision"] == (
            "HIGH" if answer["score"] > 0.5 else "MEDIUM" if answer["score"] > 0.2 else "LOW")
    for answer in outcome.answers["cancer-linear"]:
        assert set(answer) == {"prediction_id", "score", "decision", "model_version"}
        assert answer["decision"] == ("positive" if answer["score"] > 0.5 else "negative")


def test_both_scorers_publish_to_one_topic_with_their_decisions(setup: Setup, outcome: Outcome):
    events = {}
    for msg in read_topic(setup.kafka, f"{setup.kafka.topic_prefix}predictions"):
        event = decode(PredictionEvent, msg.value())
        events[event.prediction_id] = event
    for name, answers in outcome.answers.items():
        for answer in answers:
            event = events[answer["prediction_id"]]
            assert (event.model_name, event.decision) == (name, answer["decision"])


def test_the_shifted_feature_raises_one_covariate_event_for_its_model_only(outcome: Outcome):
    [event] = outcome.drift
    assert (event.model_name, event.model_version) == ("cancer", "1")
    assert event.window_start == outcome.shifted_window
    drifted = {s.feature for s in event.statistics if s.drifted and s.feature_type == "numeric"}
    assert drifted == {SHIFTED}


def test_the_monitor_judges_each_models_windows_apart(outcome: Outcome):
    drift = {(r["model_name"], r["window_start"]): r["drift"] for r in outcome.reports
             if r["kind"] == "drift"}
    shifted = outcome.shifted_window
    assert drift[("cancer", shifted)]["rows"] == len(outcome.answers["cancer"]) // 2
    assert drift[("cancer-linear", shifted)]["rows"] == len(outcome.answers["cancer-linear"]) // 2
    assert SHIFTED in drift[("cancer", shifted)]["drifted_features"]
    assert drift[("cancer-linear", shifted)]["drifted_features"] == []
    assert drift[("cancer", shifted - WINDOW)]["drifted_features"] == []


def test_labels_posted_over_http_give_each_window_its_auc(outcome: Outcome):
    stable = outcome.performance[outcome.shifted_window - WINDOW]
    shifted = outcome.performance[outcome.shifted_window]
    n = len(outcome.answers["cancer"]) // 2
    assert stable["labeled"] == n and shifted["labeled"] == n
    assert stable["roc_auc"] > 0.9  # the model on data like its training data
    assert shifted["roc_auc"] < stable["roc_auc"] - 0.3  # flipped labels: a ranking upside down


def test_a_retrainer_for_another_model_leaves_the_drift_event_alone(outcome: Outcome):
    decisions = outcome.other_model_decisions
    assert decisions and {d.outcome for d in decisions} == {"other_model"}
    assert not any(d.trigger for d in decisions)


def test_the_drifted_model_is_retrained_from_a_clone_and_keeps_its_answer(outcome: Outcome):
    result = outcome.retrain
    assert result.promoted, result.reason
    assert (result.version, result.champion_before) == ("2", "1")
    assert get_alias("cancer", "champion") == "2"
    v1, v2 = outcome.version_tags["1"], outcome.version_tags["2"]
    assert v2[DECISION_TAG] == v1[DECISION_TAG]
    assert v2.get(TRUSTED_TYPES_TAG) == v1.get(TRUSTED_TYPES_TAG)
