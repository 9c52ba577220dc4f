"""Severity weighed by feature importance, and the drivers a drift event names.

A model version's profile may carry its features' importance shares
(:mod:`driftline.model.importance`: permutation importance on the holdout, summing to 1). A drifted
feature's severity is then its effect-based severity (:meth:`~monitor.drift.judge.
FeatureJudgement.level`) capped by its importance tier (:data:`IMPORTANCE_TIERS` by default;
a policy file's ``importance_tiers`` sets them per model):

======================  ====================
importance share        severity at most
======================  ====================
below 0.02              low
below 0.10              medium
0.10 and more           high (no cap)
======================  ====================

so drift on a feature the model ignores is at most ``low``, whatever its PSI. Without
importance (an older profile, or one registered without labels) nothing is capped. A
feature missing from the shares is not capped either (its importance is unknown).

The drivers of an event are its drifted features, ordered by importance-weighted effect
(effect x share; by effect alone without importance), each with its effect, its share and its
weighted severity.

>>> from monitor.drift.judge import FeatureJudgement
>>> def drifted(name, effect):
...     return FeatureJudgement(feature=name, feature_type="numeric", method="psi",
...         value=0.2 * effect, threshold=0.2, ratio=effect, drifted=True, rows=5000,
...         statistics=[], effect=effect)
>>> importance = {"income": 0.6, "zip_digit": 0.001}
>>> weighted_level(drifted("zip_digit", 30.0), importance)
'low'
>>> [(d.feature, d.severity) for d in drivers(
...     [drifted("zip_digit", 30.0), drifted("income", 2.5)], importance)]
[('income', 'medium'), ('zip_digit', 'low')]
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from driftline.events import Driver, Severity
from monitor.drift.judge import FeatureJudgement

__all__ = [
    "IMPORTANCE_TIERS",
    "capped",
    "drivers",
    "highest",
    "importance_cap",
    "share_of",
    "weighted_level",
]

# the importance shares below which a finding is at most low, and at most medium (a policy
# file's ``importance_tiers`` changes them per model)
IMPORTANCE_TIERS: tuple[float, float] = (0.02, 0.10)
_RANK: dict[str | None, int] = {None: 0, "low": 1, "medium": 2, "high": 3}


def highest(levels: Sequence[Severity | None]) -> Severity | None:
    """The most severe of ``levels`` (None when all are None or there are none).

    >>> highest(["low", None, "medium"]), highest([])
    ('medium', None)
    """
    return max(levels, key=lambda s: _RANK[s], default=None)


def importance_cap(share: float | None,
                   tiers: tuple[float, float] = IMPORTANCE_TIERS) -> Severity:
    """The highest severity a finding on features with this importance ``share`` may have
    (None: unknown, no cap), by ``tiers`` (the shares below which it is at most low, at most
    medium).

    >>> importance_cap(0.0), importance_cap(0.05), importance_cap(0.3), importance_cap(None)
    ('low', 'medium', 'high', 'high')
    >>> importance_cap(0.05, tiers=(0.1, 0.2))
    'low'
    """
    if share is None:
        return "high"
    low, medium = tiers
    if share < low:
        return "low"
    return "medium" if share < medium else "high"


def capped(level: Severity | None, cap: Severity) -> Severity | None:
    """``level`` lowered to ``cap`` when it is above it.

    >>> capped("high", "low"), capped("low", "medium"), capped(None, "low")
    ('low', 'low', None)
    """
    if level is None or _RANK[level] <= _RANK[cap]:
        return level
    return cap


def share_of(features: Sequence[str], importance: Mapping[str, float] | None) -> float | None:
    """The summed importance share of ``features`` (None when any is unknown).

    >>> share_of(["a", "b"], {"a": 0.25, "b": 0.5}), share_of(["a", "c"], {"a": 0.25})
    (0.75, None)
    """
    if importance is None or any(f not in importance for f in features):
        return None
    return float(sum(importance[f] for f in features))


def weighted_level(judgement: FeatureJudgement, importance: Mapping[str, float] | None,
                   tiers: tuple[float, float] = IMPORTANCE_TIERS) -> Severity | None:
    """The feature's severity capped by its importance tier (uncapped without importance)."""
    return capped(judgement.level(),
                  importance_cap(share_of([judgement.feature], importance), tiers))


def drivers(judgements: Sequence[FeatureJudgement], importance: Mapping[str, float] | None,
            tiers: tuple[float, float] = IMPORTANCE_TIERS) -> list[Driver]:
    """The drifted features among ``judgements``, most importance-weighted effect first."""
    out = []
    for j in judgements:
        level = weighted_level(j, importance, tiers)
        if level is None:
            continue
        share = None if importance is None else importance.get(j.feature)
        effect = j.ratio if j.effect is None else j.effect
        out.append(Driver(feature=j.feature, effect=float(effect), importance=share,
                          severity=level))
    return sorted(out, key=lambda d: (-(d.effect * (1.0 if d.importance is None
                                                    else d.importance)), d.feature))
