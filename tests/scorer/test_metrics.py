"""The scorer's metrics: counters of known label sets start at 0, a served version's
prediction counters start at 0 per tier and source, and swaps remove the series of versions
no longer served (the one just replaced keeps its counters one swap longer)."""

from __future__ import annotations

import numpy as np

from scorer.metrics import REJECT_REASONS, SOURCES, ScorerMetrics

TIERS = ("LOW", "MEDIUM", "HIGH")


def _value(metrics: ScorerMetrics, name: str, **labels: str) -> float | None:
    return metrics.registry.get_sample_value(name, labels)


def _versions(metrics: ScorerMetrics, name: str) -> set[str]:
    return {s.labels["version"] for m in metrics.registry.collect() for s in m.samples
            if s.name == name}


def test_counters_of_known_label_sets_start_at_zero() -> None:
    metrics = ScorerMetrics()
    metrics.start_topics(["t.predictions", "t.labels"])
    for reason in REJECT_REASONS:
        assert _value(metrics, "driftline_scorer_rejected_total", reason=reason) == 0
    assert _value(metrics, "driftline_scorer_dead_lettered_total", topic="t.labels") == 0
    assert _value(metrics, "driftline_scorer_stream_messages_total", outcome="skipped") == 0
    assert _value(metrics, "driftline_scorer_request_duration_seconds_count",
                  route="/predict") == 0


def test_a_served_versions_prediction_counters_start_at_zero_per_tier_and_source() -> None:
    metrics = ScorerMetrics()
    metrics.served("m", "1", TIERS)
    for tier in TIERS:
        for source in SOURCES:
            assert _value(metrics, "driftline_scorer_predictions_total", model="m",
                          version="1", risk_tier=tier, source=source) == 0
    assert _value(metrics, "driftline_scorer_model_load_failures_total", model="m",
                  reason="warm_up") == 0
    metrics.count_predictions("m", "1", np.array([0, 2, 2]), "http", TIERS)
    assert _value(metrics, "driftline_scorer_predictions_total", model="m", version="1",
                  risk_tier="HIGH", source="http") == 2
    assert _value(metrics, "driftline_scorer_model_info", model="m", version="1") == 1


def test_swaps_remove_the_series_of_versions_no_longer_served() -> None:
    metrics = ScorerMetrics()
    metrics.served("m", "1", TIERS)
    metrics.served("m", "2", TIERS)
    assert _versions(metrics, "driftline_scorer_model_info") == {"2"}
    assert _versions(metrics, "driftline_scorer_predictions_total") == {"1", "2"}
    metrics.served("m", "3", TIERS)
    assert _versions(metrics, "driftline_scorer_model_info") == {"3"}
    assert _versions(metrics, "driftline_scorer_predictions_total") == {"2", "3"}
    assert _value(metrics, "driftline_scorer_model_swaps_total") == 2


def test_a_rollback_serves_the_old_version_again_with_its_series() -> None:
    metrics = ScorerMetrics()
    metrics.served("m", "1", TIERS)
    metrics.served("m", "2", TIERS)
    metrics.served("m", "1", TIERS)
    assert _versions(metrics, "driftline_scorer_model_info") == {"1"}
    assert _versions(metrics, "driftline_scorer_predictions_total") == {"1", "2"}
    metrics.served("m", "1", TIERS)  # the same version again: no swap
    assert _value(metrics, "driftline_scorer_model_swaps_total") == 2
