"""A drift-triggered retrain that fails for a reason outside it is tried again with backoff,
its drift event kept (uncommitted, in flight, no cooldown) until it succeeds or the tries run
out or the drift is no longer worth a retrain; then, and only then, the event is done with."""

from __future__ import annotations

from retrainer.job import RetrainResult
from retrainer.service import Retrainer
from retrainer.settings import RetrainerSettings
from tests.retrainer.test_restart_idempotence import EVENT


class ScriptedJob:
    """Ends each retrain as the script says, in order."""

    def __init__(self, *results: str) -> None:
        self.results = list(results)
        self.runs = 0

    def run(self, event) -> RetrainResult:
        self.runs += 1
        return RetrainResult(event.event_id, event.model_name, self.results.pop(0), "test", 0.1,
                             version="2" if self.results == [] else None)


def _retrainer(tmp_path, job: ScriptedJob, attempts: int = 3,
               champion: str = "1") -> tuple[Retrainer, list[float]]:
    retrainer = Retrainer(RetrainerSettings(home=tmp_path, retrain_attempts=attempts,
                                            retrain_retry_s=30.0))
    retrainer._runner = job  # type: ignore[assignment]
    retrainer._champion = lambda: champion  # type: ignore[method-assign]
    now = [1000.0]
    retrainer._clock = lambda: now[0]
    decision = retrainer.policy.decide(EVENT)
    assert decision.trigger
    retrainer._tracker.seen(0, 7, final=False)
    retrainer._job = (retrainer._pool.submit(job.run, EVENT), EVENT, 0, 7)
    return retrainer, now


def _settle(retrainer: Retrainer) -> None:
    if retrainer._job is not None:
        retrainer._job[0].result(timeout=10)
    retrainer._reap()


def test_a_failed_retrain_is_tried_again_with_backoff_and_the_event_kept(tmp_path):
    job = ScriptedJob("failed", "insufficient_data", "promoted")
    retrainer, now = _retrainer(tmp_path, job)
    _settle(retrainer)
    assert retrainer._retry is not None and retrainer._retry[4] == 1030.0  # 30 s
    assert retrainer.policy.in_flight("credit-risk") and retrainer.busy
    assert retrainer._tracker.to_commit().get(0, 7) <= 7  # the event (offset 7) is kept
    retrainer._retry_if_due()
    assert job.runs == 1  # not due yet
    now[0] = 1030.0
    retrainer._retry_if_due()
    _settle(retrainer)
    assert job.runs == 2 and retrainer._retry[4] == 1090.0  # then 60 s
    now[0] = 1090.0
    retrainer._retry_if_due()
    _settle(retrainer)
    assert job.runs == 3 and retrainer._retry is None and not retrainer.busy
    assert not retrainer.policy.in_flight("credit-risk")
    assert retrainer._tracker.to_commit() == {0: 8}  # committed once it succeeded
    assert [r.result for r in retrainer.results] == ["failed", "insufficient_data", "promoted"]


def test_a_retrain_is_given_up_after_its_tries_and_the_event_then_committed(tmp_path):
    job = ScriptedJob("failed", "failed")
    retrainer, now = _retrainer(tmp_path, job, attempts=2)
    _settle(retrainer)
    now[0] = 1030.0
    retrainer._retry_if_due()
    _settle(retrainer)
    assert job.runs == 2 and retrainer._retry is None
    assert retrainer._tracker.to_commit() == {0: 8}
    assert not retrainer.policy.in_flight("credit-risk")


def test_a_rejected_retrain_is_not_tried_again(tmp_path):
    job = ScriptedJob("rejected")
    retrainer, _ = _retrainer(tmp_path, job)
    _settle(retrainer)
    assert retrainer._retry is None and job.runs == 1


def test_without_a_limit_a_failing_retrain_is_tried_until_it_succeeds(tmp_path):
    job = ScriptedJob(*["failed"] * 9, "promoted")
    retrainer, now = _retrainer(tmp_path, job, attempts=0)
    _settle(retrainer)
    while retrainer._retry is not None:
        assert retrainer.policy.in_flight_tries("credit-risk") == job.runs  # remembered
        now[0] = retrainer._retry[4]
        retrainer._retry_if_due()
        _settle(retrainer)
    assert job.runs == 10 and retrainer.results[-1].result == "promoted"
    assert now[0] - 1000.0 == 30 + 60 + 120 + 240 + 480 + 600 * 4  # doubling, at most 600 s
    assert retrainer._tracker.to_commit() == {0: 8}


def test_a_retry_is_given_up_once_the_drifted_version_no_longer_serves(tmp_path):
    job = ScriptedJob("failed", "promoted")
    retrainer, now = _retrainer(tmp_path, job, attempts=0, champion="3")
    _settle(retrainer)
    now[0] = 1030.0
    retrainer._retry_if_due()
    assert job.runs == 1 and retrainer._retry is None and not retrainer.busy
    assert not retrainer.policy.in_flight("credit-risk")
    assert retrainer._tracker.to_commit() == {0: 8}
