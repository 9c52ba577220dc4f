"""A retrainer killed after registering a version for a drift event and before committing
the event reads it again after a restart: the job finds the version that answered it and
registers no second one, promoting it now when it had passed its gate and the champion is
still the one it was judged against."""

from __future__ import annotations

from pathlib import Path

import mlflow

from driftline.events import DriftEvent
from driftline.model.registry import configure, get_alias
from retrainer.job import RetrainJob
from retrainer.lineage import TAGS
from retrainer.promotion import CHAMPION
from retrainer.sandbox import Announcements, HistorySource
from retrainer.settings import RetrainerSettings
from tests.scorer.support import register_model

EVENT = DriftEvent(event_id="drift-1", event_time=1_700_000_100.0, model_name="credit-risk",
                   model_version="1", kind="covariate", severity="high",
                   window_start=1_700_000_040.0, window_end=1_700_000_100.0)


def _registered_before_the_kill(home: Path, decision: str) -> None:
    """v1 @champion, and v2 registered for EVENT (judged against v1) but not promoted."""
    register_model(home, "credit-risk")
    register_model(home, "credit-risk", seed=8, alias=None)
    client = mlflow.MlflowClient()
    for key, value in ((TAGS.trigger_event, EVENT.event_id), (TAGS.decision, decision),
                       (TAGS.champion_version, "1"), (TAGS.reason, f"{decision}: test")):
        client.set_model_version_tag("credit-risk", "2", key, value)


def _job(home: Path) -> tuple[RetrainJob, Announcements]:
    experiment = configure(home)
    announcements = Announcements()
    job = RetrainJob(RetrainerSettings(home=home), producer=announcements,  # type: ignore[arg-type]
                     source=HistorySource([]), experiment_id=experiment)  # type: ignore[arg-type]
    return job, announcements


def _versions() -> list[str]:
    return sorted(str(v.version) for v in mlflow.MlflowClient().search_model_versions(
        "name = 'credit-risk'"))


def test_a_version_that_passed_its_gate_is_promoted_once_and_none_is_added(tmp_path):
    _registered_before_the_kill(tmp_path, "promoted")
    job, announcements = _job(tmp_path)
    result = job.run(EVENT)
    assert (result.result, result.version) == ("promoted", "2"), result.reason
    assert get_alias("credit-risk", CHAMPION) == "2" and result.announced
    assert len(announcements.sent) == 1
    again = job.run(EVENT)  # delivered once more: nothing changes
    assert (again.result, again.version) == ("promoted", "2")
    assert _versions() == ["1", "2"] and len(announcements.sent) == 1


def test_a_rejected_version_stays_rejected_and_none_is_added(tmp_path):
    _registered_before_the_kill(tmp_path, "rejected")
    job, announcements = _job(tmp_path)
    result = job.run(EVENT)
    assert (result.result, result.version) == ("rejected", "2")
    assert get_alias("credit-risk", CHAMPION) == "1" and not announcements.sent
    assert _versions() == ["1", "2"]


def test_a_version_judged_against_a_champion_since_replaced_is_not_promoted(tmp_path):
    _registered_before_the_kill(tmp_path, "promoted")
    register_model(tmp_path, "credit-risk", seed=9)  # v3 became the champion meanwhile
    job, _ = _job(tmp_path)
    result = job.run(EVENT)
    assert (result.result, result.version) == ("rejected", "2")
    assert "moved" in result.reason and get_alias("credit-risk", CHAMPION) == "3"
