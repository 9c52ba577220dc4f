"""The default credit-risk pipeline: what ``driftline bootstrap`` fits and the retrainer
fits again (``DRIFTLINE_RETRAIN_PIPELINE=default``).
"""

from __future__ import annotations

from typing import Any

from driftline.features import CREDIT_RISK, FeatureSchema

__all__ = ["default_pipeline"]


def default_pipeline(schema: FeatureSchema = CREDIT_RISK) -> Any:
    """An unfitted Pipeline: scaling + one-hot encoding + logistic regression over a 2-D array
    whose columns are ``schema.names`` in order (numeric first).

    Fitted on an array rather than a DataFrame, it is served arrays too
    (:meth:`driftline.model.served.ServedModel.frame`), which skips pandas indexing inside
    scikit-learn. An unseen category scores as the baseline category instead of failing.

    >>> [name for name, _ in default_pipeline().steps]
    ['prepare', 'classify']
    """
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    numeric = list(range(len(schema.numeric)))
    categorical = list(range(len(schema.numeric), len(schema.names)))
    prepare = ColumnTransformer(
        [
            ("numeric", StandardScaler(), numeric),
            # unseen categories score as the baseline category instead of failing the request
            (
                "categorical",
                OneHotEncoder(handle_unknown="ignore", sparse_output=False),
                categorical,
            ),
        ]
    )
    return Pipeline([("prepare", prepare), ("classify", LogisticRegression(max_iter=1000))])
