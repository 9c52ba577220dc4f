"""Feature importance of a model version: how much its score relies on each feature.

:func:`importance_shares` measures permutation importance on labeled holdout rows: each
feature's column is shuffled (a few seeded repeats) and the drop in the score's ROC AUC is
that feature's importance (:func:`sklearn.inspection.permutation_importance`). Drops are
clipped at 0 and normalised into shares that sum to 1, which the reference profile stores
(:func:`driftline.profile.with_importance`) and the monitor uses to weigh drift severity and
name an event's drivers.

What the shares mean: the reliance of *this* model on each feature over *these* rows. A
feature the model ignores gets about 0, whatever it holds; correlated features share their
importance (shuffling one leaves the other to carry the signal), so each may look less
important than the pair is. At most ``max_rows`` rows (a seeded sample) are used, so the cost
is ``repeats`` x features scorings of at most ``max_rows`` rows.

>>> import numpy as np
>>> from sklearn.linear_model import LogisticRegression
>>> rng = np.random.default_rng(0)
>>> x = rng.normal(size=(2000, 2))
>>> y = (x[:, 0] + 0.1 * rng.normal(size=2000) > 0).astype(int)
>>> shares = importance_shares(LogisticRegression().fit(x, y), x, y, ["signal", "noise"])
>>> round(shares["signal"], 2), round(shares["noise"], 2)
(1.0, 0.0)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from driftline.model.serving import positive_column

__all__ = ["IMPORTANCE_MAX_ROWS", "IMPORTANCE_REPEATS", "IMPORTANCE_SEED", "importance_shares"]

IMPORTANCE_MAX_ROWS = 5_000
IMPORTANCE_REPEATS = 5
IMPORTANCE_SEED = 0


def importance_shares(
    estimator: Any,
    features: Any,
    labels: Any,
    names: Sequence[str],
    *,
    score: Callable[[Any], np.ndarray] | None = None,
    max_rows: int = IMPORTANCE_MAX_ROWS,
    repeats: int = IMPORTANCE_REPEATS,
    seed: int = IMPORTANCE_SEED,
) -> dict[str, float] | None:
    """Permutation-importance shares of ``names`` (the columns of ``features``, in order: a
    DataFrame or a 2-D array, in the form the estimator is served) for the ROC AUC of the
    model's score on ``labels``. ``score`` maps rows to the positive-class probability
    (default: the estimator's ``predict_proba`` column the scorer serves,
    :func:`~driftline.model.serving.positive_column`).

    None when the labels hold one class only, or when no feature moves the AUC (every drop
    is 0 or less): then there is nothing to weigh by.
    """
    from sklearn.inspection import permutation_importance
    from sklearn.metrics import roc_auc_score

    y = np.asarray(labels).astype(int)
    if len(names) == 0 or len(y) == 0 or len(np.unique(y)) < 2:
        return None
    if len(y) > max_rows:
        keep = np.sort(np.random.default_rng(seed).choice(len(y), max_rows, replace=False))
        features = features.iloc[keep] if hasattr(features, "iloc") else features[keep]
        y = y[keep]
        if len(np.unique(y)) < 2:
            return None

    def auc(model: Any, rows: Any, truth: Any) -> float:
        scores = (score(rows) if score is not None
                  else model.predict_proba(rows)[:, positive_column(model)])
        return float(roc_auc_score(truth, scores))

    result = permutation_importance(estimator, features, y, scoring=auc, n_repeats=repeats,
                                    random_state=seed)
    drops = np.clip(np.asarray(result.importances_mean, dtype=float), 0.0, None)
    if len(drops) != len(names):
        raise ValueError(f"{len(names)} feature names for {len(drops)} columns")
    total = float(drops.sum())
    if not total > 0.0:
        return None
    return {str(n): float(d / total) for n, d in zip(names, drops, strict=True)}
