"""Risk tiers."""

from __future__ import annotations

import numpy as np

from scorer.scoring import RiskThresholds


def test_tiers_are_strictly_above_their_thresholds():
    tiers = RiskThresholds(high=0.35, medium=0.15).tiers(np.array([0.15, 0.1500001, 0.35, 0.36]))
    assert tiers.tolist() == ["LOW", "MEDIUM", "MEDIUM", "HIGH"]
