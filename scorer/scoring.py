"""Risk tiers: the decision each prediction carries next to its probability.

>>> t = RiskThresholds(high=0.35, medium=0.15)
>>> t.tiers(np.array([0.05, 0.15, 0.2, 0.35, 0.9])).tolist()
['LOW', 'LOW', 'MEDIUM', 'MEDIUM', 'HIGH']
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["TIERS", "RiskThresholds", "tier_names"]

TIERS = ("LOW", "MEDIUM", "HIGH")
_TIER_NAMES = np.asarray(TIERS, dtype=object)


def tier_names(tier_index: np.ndarray) -> list[str]:
    """The names of the tier positions :meth:`RiskThresholds.tier_index` gives."""
    return _TIER_NAMES[tier_index].tolist()


@dataclass(frozen=True)
class RiskThresholds:
    """HIGH above ``high``, MEDIUM above ``medium``, else LOW."""

    high: float
    medium: float

    def tier_index(self, probabilities: np.ndarray) -> np.ndarray:
        """The position in :data:`TIERS` of each probability's tier (strictly above a
        threshold moves up); small integers count far faster than the names."""
        return (probabilities > self.medium).astype(np.int8) + (probabilities > self.high)

    def tiers(self, probabilities: np.ndarray) -> np.ndarray:
        """Tier names for an array of probabilities (strictly above a threshold moves up)."""
        return _TIER_NAMES[self.tier_index(probabilities)]
