"""Decisions: the tier each prediction carries next to its score, and the answer's shape.

A version registered with a decision policy (``driftline models register --tier ...``, or
``driftline bootstrap`` for the credit-risk model) is answered with it; a version without one
gets the credit-risk tiers from ``DRIFTLINE_HIGH_RISK_THRESHOLD`` and
``DRIFTLINE_MEDIUM_RISK_THRESHOLD``.

>>> t = RiskThresholds(high=0.35, medium=0.15)
>>> t.tiers(np.array([0.05, 0.15, 0.2, 0.35, 0.9])).tolist()
['LOW', 'LOW', 'MEDIUM', 'MEDIUM', 'HIGH']
>>> Answer = answer_type(t.policy)
>>> msgspec.json.encode(Answer("p1", 0.4, "HIGH", 0.4, "HIGH", "3"))
b'{"prediction_id":"p1","default_probability":0.4,"risk_tier":"HIGH","score":0.4,\
"decision":"HIGH","model_version":"3"}'
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from itertools import repeat

import msgspec
import numpy as np

from driftline.model.decision import DecisionPolicy, credit_risk_policy

__all__ = ["TIERS", "RiskThresholds", "answer_type", "answers", "tier_names"]

TIERS = ("LOW", "MEDIUM", "HIGH")


@lru_cache(maxsize=64)
def _names(policy: DecisionPolicy) -> np.ndarray:
    return np.asarray(policy.names, dtype=object)


def tier_names(policy: DecisionPolicy, tier_index: np.ndarray) -> list[str]:
    """The names of the tier positions :meth:`DecisionPolicy.tier_index` gives."""
    return _names(policy)[tier_index].tolist()


@lru_cache(maxsize=64)
def answer_type(policy: DecisionPolicy) -> type[msgspec.Struct]:
    """The msgspec Struct one prediction is answered with under ``policy``: prediction_id,
    the score and the tier under the policy's names (left out where those are the generic
    names), the generic ``score`` and ``decision``, and model_version."""
    named = [(policy.score_name, float), (policy.decision_name, str)]
    generic = [("score", float), ("decision", str)]
    fields = [f for f in named if f not in generic]
    return msgspec.defstruct(
        "Prediction", [("prediction_id", str), *fields, *generic, ("model_version", str)]
    )


def answers(
    policy: DecisionPolicy,
    prediction_ids: Sequence[str],
    scores: Sequence[float],
    tiers: Sequence[str],
    model_version: str,
) -> list[msgspec.Struct]:
    """One :func:`answer_type` Struct per prediction, in order."""
    columns: list[Iterable[object]] = [prediction_ids]
    if policy.score_name != "score":
        columns.append(scores)
    if policy.decision_name != "decision":
        columns.append(tiers)
    columns += [scores, tiers, repeat(model_version)]
    return list(map(answer_type(policy), *columns))


@dataclass(frozen=True)
class RiskThresholds:
    """The credit-risk tiers from the scorer settings: HIGH above ``high``, MEDIUM above
    ``medium``, else LOW."""

    high: float
    medium: float

    @property
    def policy(self) -> DecisionPolicy:
        """These thresholds as a decision policy (``default_probability``, ``risk_tier``)."""
        return credit_risk_policy(self.high, self.medium)

    def tiers(self, probabilities: np.ndarray) -> np.ndarray:
        """Tier names for an array of probabilities (strictly above a threshold moves up)."""
        return self.policy.decide(probabilities)
