"""The fixed-schedule retrain (``driftline retrain --every``) without a broker: when a tick is
due, what a tick during a running retrain does, missed ticks, settings and the lineage a
scheduled retrain records. Times are wall-clock seconds; the schedule starts at 1000."""

from __future__ import annotations

import pytest

from retrainer.catalog import VersionFacts, render
from retrainer.dataset import Dataset
from retrainer.gate import Gate
from retrainer.lineage import TAGS, Lineage
from retrainer.schedule import RetrainSchedule, ScheduledRetrain
from retrainer.settings import RetrainerSettings


def _run(schedule: RetrainSchedule, times: list[float]) -> list[str]:
    """Poll the schedule at ``times`` and list what happened at each tick; every retrain
    triggered runs for 25 s."""
    out = []
    running_until = 0.0
    for now in times:
        due = schedule.decide(now, busy=now < running_until)
        if due is None:
            continue
        decision, run = due
        out.append(f"{now:g}: {decision.outcome} {run.event_id}")
        if decision.trigger:
            running_until = now + 25.0
    return out


def test_the_first_retrain_is_due_one_interval_after_the_start_then_every_interval():
    schedule = RetrainSchedule(every=60, start=1000.0, model_name="credit-risk")
    polled = [1000.0 + 0.5 * i for i in range(0, 401)]  # 1000 .. 1200, every half second
    assert _run(schedule, polled) == [
        "1060: scheduled schedule-1060",
        "1120: scheduled schedule-1120",
        "1180: scheduled schedule-1180",
    ]
    assert schedule.next_at == 1240.0


def test_a_tick_while_a_retrain_runs_is_skipped_not_queued():
    schedule = RetrainSchedule(every=20, start=1000.0, model_name="credit-risk")
    # Retrains take 25 s, longer than the interval: the tick at 1040 falls inside the retrain
    # started at 1020, is skipped, and the next retrain is at 1060 (not at 1045 when it ends).
    assert _run(schedule, [1000.0 + i for i in range(0, 81)]) == [
        "1020: scheduled schedule-1020",
        "1040: in_flight schedule-1040",
        "1060: scheduled schedule-1060",
        "1080: in_flight schedule-1080",
    ]


def test_a_worker_paused_past_several_ticks_retrains_once_for_the_latest():
    schedule = RetrainSchedule(every=60, start=1000.0, model_name="credit-risk")
    decision, run = schedule.decide(1250.0, busy=False)  # 1060, 1120, 1180 and 1240 passed
    assert decision.trigger and run.event_time == 1240.0
    assert decision.reason == ("triggered: fixed schedule, every 60s (due at 1240; 3 earlier "
                               "ticks missed)")
    assert schedule.next_at == 1300.0
    assert schedule.decide(1299.9, busy=False) is None


def test_a_tick_exactly_on_time_is_due_and_the_next_is_a_full_interval_later():
    schedule = RetrainSchedule(every=30, start=0.0, model_name="m")
    decision, run = schedule.decide(30.0, busy=False)
    assert (decision.trigger, run.event_id, run.every, run.model_name) == (
        True, "schedule-30", 30.0, "m")
    assert schedule.next_at == 60.0


@pytest.mark.parametrize("every", [0, 0.5, -60, float("nan")])
def test_an_interval_below_one_second_is_refused(every):
    with pytest.raises(ValueError, match="every >= 1 second"):
        RetrainSchedule(every=every, start=0.0, model_name="m")


def test_settings_schedule_is_off_by_default_and_counts_from_the_start_given():
    assert RetrainerSettings().schedule(start=1000.0) is None
    schedule = RetrainerSettings(retrain_every=120).schedule(start=1000.0)
    assert schedule is not None and (schedule.every, schedule.next_at) == (120.0, 1120.0)
    with pytest.raises(ValueError, match="retrain_every"):
        RetrainerSettings(retrain_every=0.5)


def test_retrain_every_is_read_from_the_environment(monkeypatch):
    monkeypatch.setenv("DRIFTLINE_RETRAIN_EVERY", "90")
    assert RetrainerSettings().retrain_every == 90.0


def test_a_scheduled_retrain_records_the_schedule_as_its_trigger_and_no_drift_window():
    run = ScheduledRetrain("schedule-1060", 1060.0, "credit-risk", 60.0)
    labels = [0, 1] * 5
    verdict = Gate().judge(labels, [0.5] * 10, [float(y) for y in labels])
    lineage = Lineage(model_name="credit-risk", event=run, dataset=Dataset(train=[], holdout=[]),
                      verdict=verdict, gate=Gate(), pipeline="default", champion_version="1")
    tags = lineage.run_tags()
    assert tags[TAGS.trigger_event] == "schedule-1060"
    assert tags[TAGS.trigger] == "fixed schedule, every 60s"
    assert "driftline.trigger_window" not in tags
    assert lineage.run_name == "retrain-credit-risk-schedule-1060"
    assert b'"trigger":{"event_id":"schedule-1060","event_time":1060.0' in lineage.to_json()
    text = render("credit-risk", [VersionFacts(version="2", decision="promoted",
                                               trigger_event=run.event_id,
                                               trigger=run.description)])
    assert "trigger  fixed schedule, every 60s (schedule-1060)" in text
