"""``driftline backtest`` against the history a live monitor judged: with the live policy it
raises exactly the live run's events; with two policies side by side it shows which raised
what, beside the periodic baseline; nothing is written to Kafka."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import msgspec
import pytest
from confluent_kafka.admin import AdminClient

from driftline.events import DriftEvent
from driftline.kafka.admin import describe_topics
from monitor.backtest.judging import event_signature
from monitor.backtest.run import BacktestRequest, run_backtest, write_results
from monitor.settings import MonitorSettings
from tests.integration.test_monitor import (  # noqa: F401 (fixtures)
    GRACE,
    LABEL_WAIT,
    ONSET,
    T0,
    WINDOW,
    Run,
    _env,
    _essence,
    _reports,
    registry_home,
    shifted_run,
)
from tests.integration.test_monitor_policy import POLICY


def _settings(run: Run, home: Path) -> MonitorSettings:
    return MonitorSettings(home=home, kafka=run.kafka, window_size=WINDOW, grace=GRACE,
                           label_wait=LABEL_WAIT, min_labeled=50)


def _topics(run: Run) -> tuple[set[str], dict[str, int]]:
    """The topics of the run's prefix, and the messages in each of driftline's."""
    names = set(AdminClient({"bootstrap.servers": run.kafka.bootstrap}).list_topics(
        timeout=10).topics)
    return ({n for n in names if n.startswith(run.kafka.topic_prefix)},
            {t.name: t.messages for t in describe_topics(run.kafka, run.kafka.topic_prefix)})


def _range(run: Run) -> tuple[float, float]:
    """From the first prediction to the end of the last full window the live run judged."""
    last = max(p.event_time for pid, p in run.fed.predictions.items()
               if not pid.startswith("tail"))
    return T0, (last // WINDOW + 1) * WINDOW


def test_a_backtest_with_the_live_policy_raises_exactly_the_live_events(
    shifted_run: Run, registry_home: Path  # noqa: F811
):
    start, end = _range(shifted_run)
    before = _topics(shifted_run)
    result = run_backtest(_settings(shifted_run, registry_home),
                          BacktestRequest(start=start, end=end, model_name="credit-risk"))
    assert result.live is not None and result.live.events, "the live run raised nothing"
    run = result.runs[0]
    assert result.matches_live(run), (
        [e.summary for e in run.events], [e.summary for e in result.live.events])
    assert [e.kind for e in run.events if e.kind == "covariate"] == ["covariate"]
    # every window of the range judged, drift and performance, and every prediction joined
    windows = {(j.kind, j.window_start) for j in run.windows}
    starts = {s for s in range(int(start), int(end), int(WINDOW))}
    assert {s for k, s in windows if k == "drift"} == starts
    assert {s for k, s in windows if k == "performance"} == starts
    assert result.counts["joined"] >= 6000
    # each window's estimate at its end holds what the live one held: its labels are those
    # that came by the window's end, whatever the live monitor had read by then
    live = {s: r["estimate"] for (k, s), r in _reports(shifted_run.kafka,
                                                        shifted_run.app_id).items()
            if k == "estimate"}
    replayed = {j.window_start: j.estimate for j in run.windows if j.kind == "estimate"}
    assert set(live) == set(replayed) == starts
    assert any(live[s]["labeled"] for s in starts)
    for s in starts:
        est = replayed[s]
        assert est is not None
        assert (live[s]["predictions"], live[s]["labeled"]) == (est.predictions, est.labeled)
        assert live[s]["roc_auc"] == pytest.approx(est.roc_auc, abs=1e-12)
    assert _topics(shifted_run) == before  # no topic created, nothing written


def test_two_policies_side_by_side_show_which_raised_what_beside_the_periodic_baseline(
    shifted_run: Run, registry_home: Path, tmp_path: Path  # noqa: F811
):
    start, end = _range(shifted_run)
    quiet = tmp_path / "silenced.toml"
    quiet.write_text(POLICY)
    default = tmp_path / "default.toml"
    default.write_text("")
    out = tmp_path / "results"
    env = {**_env(registry_home, shifted_run.kafka, "unused"), "COLUMNS": "200"}
    done = subprocess.run(
        [sys.executable, "-m", "driftline.cli", "backtest", "--from", str(start), "--to",
         str(end), "--model", "credit-risk", "--policy", str(default), "--policy", str(quiet),
         "--onset", str(ONSET), "--out", str(out), "--json"],
        env=env, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    summary = {row["run"]: row for row in json.loads(done.stdout)["summary"]}
    assert set(summary) == {"default", "silenced", "live"}
    assert summary["default"]["features"] == ["loan_amount"]
    assert summary["default"]["false_alarms"] == 0
    assert summary["default"]["beats_periodic"] is True
    assert summary["default"]["matches_live"] is True
    # the silenced policy never names loan_amount, and raises on annual_income before onset
    assert "loan_amount" not in summary["silenced"]["features"]
    assert summary["silenced"]["false_alarms"] >= 1
    assert summary["silenced"]["matches_live"] is False
    written = json.loads((out / "backtest.json").read_text())
    assert written["summary"] == json.loads(done.stdout)["summary"]
    for run in ("default", "silenced"):
        assert (out / run / "windows.jsonl").read_text().splitlines()
    assert os.path.exists(out / "live" / "events.jsonl")

    # each run's drift report, from the results folder
    from driftline.report import SECTIONS

    for run in ("default", "silenced"):
        page = tmp_path / f"{run}.html"
        made = subprocess.run(
            [sys.executable, "-m", "driftline.cli", "report", "--backtest", str(out),
             "--run", run, "--out", str(page)],
            env=env, capture_output=True, text=True, timeout=300, check=False)
        assert made.returncode == 0, made.stderr[-3000:]
        html = page.read_text()
        assert all(f'id="{section}"' in html for section in SECTIONS), run
        assert f"Backtest: {run}" in html
    assert "loan_amount" in (tmp_path / "default.html").read_text()


def test_results_are_written_per_run(shifted_run: Run, registry_home: Path,  # noqa: F811
                                     tmp_path: Path):
    start, end = _range(shifted_run)
    result = run_backtest(_settings(shifted_run, registry_home),
                          BacktestRequest(start=start, end=end))
    folder = write_results(result, tmp_path / "r")
    events = (folder / "live-policy" / "events.jsonl").read_text().splitlines()
    assert len(events) == len(result.runs[0].events)


def test_retrain_runs_the_retrainer_on_the_events_in_a_sandbox_registry(
    shifted_run: Run, registry_home: Path, tmp_path: Path  # noqa: F811
):
    from mlflow import MlflowClient

    from driftline.model.registry import configure

    def live_versions() -> list[str]:
        configure(registry_home)
        return sorted(v.version for v in MlflowClient().search_model_versions(
            "name='credit-risk'"))

    before = live_versions()
    start, end = _range(shifted_run)
    out = tmp_path / "results"
    env = {**_env(registry_home, shifted_run.kafka, "unused")}
    done = subprocess.run(
        [sys.executable, "-m", "driftline.cli", "backtest", "--from", str(start), "--to",
         str(end), "--model", "credit-risk", "--version", "champion", "--retrain",
         "--out", str(out), "--json"],
        env=env, capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    retrains = json.loads(done.stdout)["retrains"]["live policy"]
    assert retrains["triggered"] == 1  # one covariate event, one retrain
    records = [json.loads(line) for line in
               (out / "live-policy" / "retrains.jsonl").read_text().splitlines()]
    triggered = [r for r in records if r["decision"].startswith("triggered")]
    assert [r["kind"] for r in triggered] == ["covariate"]
    assert triggered[0]["result"] in ("promoted", "rejected"), triggered[0]["reason"]
    assert triggered[0]["version"] == "2"  # registered in the sandbox, after the copy of v1
    assert triggered[0]["challenger"] and triggered[0]["champion"]
    if triggered[0]["result"] == "promoted":
        after = triggered[0]["after"]
        assert after["rows"] > 0 and 0.0 <= after["new_auc"] <= 1.0
    assert (out / "live-policy" / "sandbox").is_dir()
    assert live_versions() == before  # the live registry got nothing


def test_a_backtest_rerun_from_a_replay_manifest_raises_the_events_of_the_live_topics(
    shifted_run: Run, registry_home: Path, tmp_path: Path  # noqa: F811
):
    start, end = _range(shifted_run)
    start += 2 * WINDOW  # a range in the middle of the history: both start fresh there
    prefix = f"bt{uuid.uuid4().hex[:8]}."  # outside the run's prefix, which others count
    env = _env(registry_home, shifted_run.kafka, "unused")
    manifest = tmp_path / "replay.json"
    replayed = subprocess.run(
        [sys.executable, "-m", "driftline.cli", "replay", "--topics", "predictions,labels",
         "--to-prefix", prefix, "--from", str(start), "--to", str(end), "--manifest",
         str(manifest), "--no-progress"],
        env=env, capture_output=True, text=True, timeout=300, check=False)
    assert replayed.returncode == 0, replayed.stderr[-3000:]
    copied = json.loads(manifest.read_text())
    assert [t["target_topic"] for t in copied["topics"]] == [f"{prefix}predictions",
                                                            f"{prefix}labels"]
    assert copied["topics"][0]["count"] < sum(
        1 for pid in shifted_run.fed.predictions if not pid.startswith("tail"))
    out = tmp_path / "from-manifest"
    rerun = subprocess.run(
        [sys.executable, "-m", "driftline.cli", "backtest", "--manifest", str(manifest),
         "--model", "credit-risk", "--out", str(out), "--json"],
        env=env, capture_output=True, text=True, timeout=300, check=False)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    request = json.loads((out / "backtest.json").read_text())["request"]
    assert (request["prefix"], request["start"], request["end"]) == (prefix, start, end)
    events = [msgspec.json.decode(line, type=DriftEvent) for line in
              (out / "live-policy" / "events.jsonl").read_text().splitlines()]
    live = run_backtest(_settings(shifted_run, registry_home),
                        BacktestRequest(start=start, end=end, model_name="credit-risk"))
    assert events, "the backtest of the replay raised nothing"
    assert sorted(map(event_signature, events)) == sorted(
        map(event_signature, live.runs[0].events))
    # every window judged on the same rows and labels: no label of a copied prediction lost
    windows = [json.loads(line) for line in
               (out / "live-policy" / "windows.jsonl").read_text().splitlines()]
    assert _by_window(windows) == _by_window(msgspec.to_builtins(live.runs[0].windows))


def _by_window(records: list[dict]) -> dict[tuple[str, float], tuple]:
    return {(r["kind"], r["window_start"]): _essence(r) for r in records}
