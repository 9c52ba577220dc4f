"""The retrainer against the real broker and an embedded MLflow registry, on an accelerated
scenario: labeled rows of a drifted population written straight to ``labeled``, a drift event
on ``drift-events``, the retrainer in-process on its thread, and a real scorer (TestClient)
following ``model-updates``."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import mlflow
import msgspec
import pytest
from confluent_kafka import Consumer, TopicPartition
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from driftline.cli import app as cli
from driftline.events import DeadLetter, ModelUpdateEvent, decode, encode
from driftline.kafka import Producer, read_topic
from driftline.model.registry import get_alias, load_profile
from driftline.settings import KafkaSettings
from retrainer.job import RetrainResult
from retrainer.lineage import TAGS
from retrainer.promotion import ModelsError
from retrainer.service import Retrainer
from retrainer.settings import RetrainerSettings
from scorer.app import create_app
from tests.driftline.model.support import APPLICATION, hostile_pipeline
from tests.hostile import hostile_values, produce_between
from tests.retrainer.support import DRIFTED, drift_event, labeled_events, produce_labeled
from tests.scorer.support import register_model, register_unchecked, scorer_settings

NAME = "credit-risk"


def _wait(what: str, condition: Callable[[], Any], timeout: float) -> Any:
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(0.1)
    return value


def _updates(kafka: KafkaSettings) -> list[ModelUpdateEvent]:
    msgs = read_topic(kafka, f"{kafka.topic_prefix}model-updates", idle_timeout=10)
    return [decode(ModelUpdateEvent, m.value()) for m in msgs]


def _send_drift(kafka: KafkaSettings, *events) -> None:
    with Producer(kafka) as producer:
        for event in events:
            producer.send(f"{kafka.topic_prefix}drift-events", event)


@pytest.fixture
def start_retrainer(
    kafka: KafkaSettings, tmp_path: Path, group_id: str
) -> Iterator[Callable[..., Retrainer]]:
    """Start a Retrainer on the test's topics and registry; stopped at teardown."""
    started: list[Retrainer] = []

    def start(**overrides: Any) -> Retrainer:
        values: dict[str, Any] = {
            "home": tmp_path, "kafka": kafka, "retrain_group": group_id,
            "retrain_metrics_port": 0, "retrain_min_rows": 1000, "retrain_window": 3600.0,
            "retrain_data_wait": 30.0, "retrain_data_poll": 1.0, "gate_margin": 0.02,
        }
        values.update(overrides)
        retrainer = Retrainer(RetrainerSettings(**values))
        retrainer.start()
        started.append(retrainer)
        return retrainer

    yield start
    for retrainer in started:
        retrainer.stop()


def _cli(kafka: KafkaSettings, home: Path, *args: str):
    env = {"DRIFTLINE_HOME": str(home), "DRIFTLINE_KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap,
           "DRIFTLINE_KAFKA_TOPIC_PREFIX": kafka.topic_prefix, "DRIFTLINE_LOG_LEVEL": "WARNING"}
    return CliRunner().invoke(cli, list(args), env=env)


def _served_version(client: TestClient) -> str:
    return client.get("/model").json()["version"]


def test_drift_promotes_a_better_model_that_the_scorer_then_serves(
    kafka, driftline_topics, tmp_path, start_retrainer
):
    register_model(tmp_path, NAME, seed=1)
    rows = labeled_events(2400, DRIFTED)
    hostile_rows = hostile_values(encode(rows[0]))
    produce_between(kafka, driftline_topics["labeled"], [(e.key, encode(e)) for e in rows],
                    hostile_rows)
    produce_labeled(kafka, [], junk=[b"\xff not json"])
    drift = drift_event("drift-1")
    hostile_drift = hostile_values(encode(drift))
    hostile_drift["milliseconds"] = encode(drift_event("drift-ms", at=drift.event_time * 1000))
    with TestClient(create_app(scorer_settings(tmp_path, kafka))) as client:
        assert _served_version(client) == "1"
        retrainer = start_retrainer()
        # the hostile values first, each after a copy of a drift event for another model
        other = drift_event("drift-other")
        other = msgspec.structs.replace(other, model_name="another-model")
        produce_between(kafka, driftline_topics["drift-events"],
                        [(other.key, encode(other))] * len(hostile_drift), hostile_drift)
        _send_drift(kafka, drift)
        result: RetrainResult = _wait("the retrain", lambda: retrainer.results, 90)[0]
        assert result.promoted, result.reason
        assert result.version == "2" and result.champion_before == "1" and result.announced
        assert result.challenger["roc_auc"] > result.champion["roc_auc"] + 0.02
        _wait("the scorer to serve v2", lambda: _served_version(client) == "2", 5)
        answer = client.post("/predict", json=APPLICATION).json()
        assert answer["model_version"] == "2"

    assert (get_alias(NAME, "champion"), get_alias(NAME, "previous")) == ("2", "1")
    [update] = _updates(kafka)
    assert (update.model_name, update.version, update.alias, update.previous_version) == (
        NAME, "2", "champion", "1")
    assert update.run_id == result.run_id and update.reason.startswith("promoted: roc_auc")

    # one MLflow run holds the lineage, the version its facts and its own reference profile
    client = mlflow.MlflowClient()
    run = client.get_run(result.run_id)
    assert run.data.tags[TAGS.trigger_event] == "drift-1"
    assert {"holdout_auc", "holdout_brier", "champion_holdout_auc",
            "champion_holdout_brier"} <= run.data.metrics.keys()
    assert run.data.params["train_rows"] == "1800" and run.data.params["holdout_rows"] == "600"
    lineage = mlflow.artifacts.load_dict(f"runs:/{result.run_id}/lineage.json")
    assert lineage["trigger"]["event_id"] == "drift-1"
    assert lineage["data"]["train_ranges"][0]["topic"] == driftline_topics["labeled"]
    version = client.get_model_version(NAME, "2")
    assert version.tags[TAGS.fingerprint] == run.data.params["data_fingerprint"]
    # the drift report of the trigger, logged with the run and linked from the version
    assert version.tags[TAGS.drift_report] == f"runs:/{result.run_id}/drift_report.html"
    report = mlflow.artifacts.load_text(version.tags[TAGS.drift_report])
    assert 'id="e-drift-1"' in report and "Drift report: credit-risk, retrained as v2" in report
    assert load_profile(NAME, "2").rows == 1800

    # every undecodable record went to dead-letter once, with the reason, and was skipped
    letters = [decode(DeadLetter, m.value()) for m in
               read_topic(kafka, driftline_topics["dead-letter"], idle_timeout=10)]
    assert all(letter.service == "retrainer" and letter.error for letter in letters)
    from_labeled = [x for x in letters if x.source_topic == driftline_topics["labeled"]]
    from_drift = [x for x in letters if x.source_topic == driftline_topics["drift-events"]]
    assert len(from_labeled) == len(hostile_rows) + 1
    assert len(from_drift) == len(hostile_drift)
    assert any("looks like milliseconds" in x.error for x in from_drift)
    assert retrainer.alive()

    # `driftline models list` answers which version serves, since when, on what, and why
    listing = _cli(kafka, tmp_path, "models", "list")
    assert listing.exit_code == 0, listing.output
    out = listing.output
    assert "credit-risk: v2 serves as @champion since" in out and "@previous is v1" in out
    assert "chosen because: promoted: roc_auc" in out
    assert "drift event drift-1: concept drift (high) on v1" in out
    assert "1800 train + 600 holdout rows" in out
    assert version.tags[TAGS.fingerprint][:12] in out and result.run_id[:12] in out
    assert f"train {driftline_topics['labeled']} 0:" in out
    assert "v1  @previous" in out


def test_a_challenger_that_cannot_win_is_registered_with_the_reason_and_not_promoted(
    kafka, driftline_topics, tmp_path, start_retrainer
):
    register_model(tmp_path, NAME, seed=1)
    produce_labeled(kafka, labeled_events(1600, DRIFTED))
    retrainer = start_retrainer(gate_margin=0.9)
    _send_drift(kafka, drift_event("drift-r"))
    result = _wait("the retrain", lambda: retrainer.results, 90)[0]

    assert result.result == "rejected" and result.version == "2"
    assert result.reason.startswith("rejected: roc_auc") and "by 0.9000" in result.reason
    assert get_alias(NAME, "champion") == "1" and get_alias(NAME, "previous") is None
    version = mlflow.MlflowClient().get_model_version(NAME, "2")
    assert version.tags[TAGS.decision] == "rejected"
    assert version.tags[TAGS.reason] == result.reason and result.reason in version.description
    assert _updates(kafka) == []
    listing = _cli(kafka, tmp_path, "models", "list").output
    assert "v2  REJECTED" in listing and "by 0.9000" in listing


def test_duplicate_drift_events_cause_exactly_one_retrain_and_offsets_are_committed_after(
    kafka, driftline_topics, tmp_path, start_retrainer, group_id
):
    register_model(tmp_path, NAME, seed=1)
    produce_labeled(kafka, labeled_events(1200, DRIFTED))
    event = drift_event("drift-dup")
    # at-least-once upstream: the same finding thrice, then another one during the retrain
    _send_drift(kafka, event, event, event, drift_event("drift-during", at=event.event_time + 5))
    retrainer = start_retrainer(gate_margin=0.9)  # rejected: the champion stays v1
    _wait("the retrain", lambda: retrainer.results, 90)
    # after it: a re-delivered duplicate, and a new finding inside the cooldown
    _send_drift(kafka, event, drift_event("drift-after", at=event.event_time + 60))
    _wait("every decision", lambda: len(retrainer.decisions) == 6, 30)
    time.sleep(1.0)  # room for a second retrain that must not come
    retrainer.stop()

    assert len(retrainer.results) == 1
    assert [d.outcome for d in retrainer.decisions] == [
        "triggered", "duplicate", "duplicate", "in_flight", "duplicate", "cooldown"]
    assert retrainer.metrics.decisions.labels("duplicate")._value.get() == 3
    assert retrainer.metrics.retrains.labels("rejected")._value.get() == 1
    versions = mlflow.MlflowClient().search_model_versions(f"name='{NAME}'")
    assert len(versions) == 2
    consumer = Consumer({**kafka.confluent_config(), "group.id": group_id})
    try:
        [committed] = consumer.committed([TopicPartition(driftline_topics["drift-events"], 0)],
                                         timeout=10)
    finally:
        consumer.close()
    assert committed.offset == 6


def test_the_policy_file_decides_which_drift_kinds_retrain_its_model(
    kafka, driftline_topics, tmp_path, start_retrainer
):
    register_model(tmp_path, NAME, seed=1)
    produce_labeled(kafka, labeled_events(1200, DRIFTED))
    policy = tmp_path / "policy.toml"
    policy.write_text(f'[defaults.retrain]\nkinds = ["covariate"]\n'
                      f'[models.{NAME}.retrain]\nkinds = ["performance"]\n')
    covariate = drift_event("drift-covariate", kind="covariate")
    performance = drift_event("drift-performance", kind="performance",
                              at=covariate.event_time + 10)
    # covariate drift triggers by the setting and by the file's defaults, but not for NAME
    _send_drift(kafka, covariate, performance)
    retrainer = start_retrainer(policy_file=policy, retrain_kinds="covariate,performance",
                                gate_margin=0.9)
    _wait("the retrain", lambda: retrainer.results, 90)
    retrainer.stop()

    [first, second] = retrainer.decisions
    assert (first.event_id, first.outcome) == ("drift-covariate", "kind")
    assert first.reason == "skipped: kind covariate does not trigger (performance)"
    assert (second.event_id, second.trigger) == ("drift-performance", True)
    [result] = retrainer.results
    assert result.event_id == "drift-performance" and result.result == "rejected"
    assert len(mlflow.MlflowClient().search_model_versions(f"name='{NAME}'")) == 2


def test_rollback_moves_champion_back_and_the_scorer_follows_within_5_seconds(
    kafka, driftline_topics, tmp_path
):
    register_model(tmp_path, NAME, seed=1)
    register_model(tmp_path, NAME, seed=2, alias=None)
    with TestClient(create_app(scorer_settings(tmp_path, kafka))) as client:
        assert _served_version(client) == "1"
        promoted = _cli(kafka, tmp_path, "models", "promote", "2")
        assert promoted.exit_code == 0, promoted.output
        _wait("the scorer to serve v2", lambda: _served_version(client) == "2", 5)
        assert (get_alias(NAME, "champion"), get_alias(NAME, "previous")) == ("2", "1")

        rolled = _cli(kafka, tmp_path, "models", "rollback")
        assert rolled.exit_code == 0, rolled.output
        began = time.monotonic()
        _wait("the scorer to serve v1 again", lambda: _served_version(client) == "1", 5)
        assert time.monotonic() - began < 5
    assert (get_alias(NAME, "champion"), get_alias(NAME, "previous")) == ("1", None)
    assert [(u.version, u.previous_version, u.reason) for u in _updates(kafka)] == [
        ("2", "1", "manual promote"), ("1", "2", "manual rollback")]
    tags = mlflow.MlflowClient().get_model_version(NAME, "2").tags
    assert tags[TAGS.rolled_back].startswith("to v1 at ")

    again = _cli(kafka, tmp_path, "models", "rollback")
    assert isinstance(again.exception, ModelsError) and "no @previous" in str(again.exception)
    unknown = _cli(kafka, tmp_path, "models", "promote", "9")
    assert isinstance(unknown.exception, ModelsError) and "no version 9" in str(unknown.exception)
    same = _cli(kafka, tmp_path, "models", "promote", "1")
    assert isinstance(same.exception, ModelsError) and "already the champion" in str(
        same.exception)


def test_a_retrain_waits_for_enough_labeled_rows_then_trains_on_them(
    kafka, driftline_topics, tmp_path, start_retrainer
):
    register_model(tmp_path, NAME, seed=1)
    events = labeled_events(2000, DRIFTED)
    produce_labeled(kafka, events[:500])  # labels are late: too few rows yet
    # It needs all 2,000, so it cannot start on a share of the second write still in flight.
    retrainer = start_retrainer(retrain_min_rows=2000)
    _send_drift(kafka, drift_event("drift-early"))
    _wait("the retrain to start", lambda: retrainer.busy, 10)
    time.sleep(2.0)
    assert not retrainer.results  # still waiting for labeled rows, not given up
    produce_labeled(kafka, events[500:])
    result = _wait("the retrain", lambda: retrainer.results, 60)[0]
    assert result.promoted, result.reason
    assert result.seconds > 2.0
    run = mlflow.MlflowClient().get_run(result.run_id)
    assert run.data.params["train_rows"] == "1500"


def test_a_fixed_schedule_retrains_without_drift_events_and_promotes_through_the_same_gate(
    kafka, driftline_topics, tmp_path, start_retrainer
):
    register_model(tmp_path, NAME, seed=1)
    produce_labeled(kafka, labeled_events(2400, DRIFTED))
    _send_drift(kafka, drift_event("drift-ignored"))  # not read on a schedule
    retrainer = start_retrainer(retrain_every=2.0, gate_margin=0.02)
    first = _wait("the first scheduled retrain", lambda: retrainer.results, 60)[0]
    assert first.promoted, first.reason
    assert first.event_id.startswith("schedule-") and first.announced
    # the next ticks retrain again on the same rows: the new champion cannot be beaten by 0.02
    second = _wait("a second scheduled retrain", lambda: retrainer.results[1:], 60)[0]
    retrainer.stop()

    assert second.result == "rejected" and second.champion_before == "2"
    assert {d.outcome for d in retrainer.decisions} <= {"scheduled", "in_flight"}
    assert retrainer.metrics.decisions.labels("scheduled")._value.get() >= 2
    assert get_alias(NAME, "champion") == "2"
    [update] = _updates(kafka)
    assert (update.version, update.previous_version) == ("2", "1")
    run = mlflow.MlflowClient().get_run(first.run_id)
    assert run.data.tags[TAGS.trigger] == "fixed schedule, every 2s"
    assert run.data.params["train_rows"] == "1800"  # not cut at a drift window
    listing = _cli(kafka, tmp_path, "models", "list").output
    assert f"fixed schedule, every 2s ({first.event_id})" in listing


def test_a_champion_of_untrusted_types_is_refused_by_the_retrainer_and_never_runs(
    kafka, driftline_topics, tmp_path, start_retrainer
):
    marker = tmp_path / "payload-ran"
    version = register_unchecked(tmp_path, NAME,
                                 lambda model: hostile_pipeline(str(marker), model))
    assert get_alias(NAME, "champion") == version
    produce_labeled(kafka, labeled_events(1200, DRIFTED))
    retrainer = start_retrainer()
    _send_drift(kafka, drift_event("drift-h"))
    result = _wait("the retrain", lambda: retrainer.results, 90)[0]

    assert result.result == "failed" and result.version is None
    assert "UntrustedTypesError" in result.reason and "runstring" in result.reason
    assert "FunctionTransformer" in result.reason
    assert get_alias(NAME, "champion") == version and _updates(kafka) == []
    assert retrainer.alive()
    assert not marker.exists()
