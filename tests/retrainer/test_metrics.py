"""The retrainer's counters start at 0 for every decision outcome, retrain result and topic
read, so increase() sees the first of each."""

from __future__ import annotations

from retrainer.metrics import DECISION_OUTCOMES, RETRAIN_RESULTS, RetrainerMetrics


def test_decisions_results_and_dead_letters_start_at_zero() -> None:
    metrics = RetrainerMetrics()
    metrics.start_topics(["t.drift-events", "t.labeled"])
    get = metrics.registry.get_sample_value
    assert all(get("driftline_retrainer_decisions_total", {"outcome": o}) == 0
               for o in DECISION_OUTCOMES)
    assert all(get("driftline_retrainer_retrains_total", {"result": r}) == 0
               for r in RETRAIN_RESULTS)
    assert get("driftline_retrainer_dead_lettered_total", {"topic": "t.labeled"}) == 0
    metrics.decisions.labels("cooldown").inc()
    assert get("driftline_retrainer_decisions_total", {"outcome": "cooldown"}) == 1
