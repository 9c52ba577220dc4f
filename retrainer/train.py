"""Train the challenger and score it and the champion on the same holdout.

The challenger is fitted exactly the way the scorer will call it: on a 2-D array whose columns
are the feature schema's names in order (numeric first), the same layout
:func:`driftline.model.pipeline.default_pipeline` expects and bootstrap uses; its signature is
inferred from the same frame (``infer_signature(frame.head(100), scores[:100])``, as bootstrap
does), so the scorer, which builds its input array in signature order, feeds it identically.

Both models are scored through :func:`driftline.model.serving.serve_loaded`, the scorer's own
path from a registry version to predictions: the gate compares what would really be served.
The champion is re-scored (loaded from the registry), not judged by the scores stored in
``labeled``, which may come from several versions.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from driftline.errors import DriftlineError
from driftline.features import CREDIT_RISK, FeatureSchema
from driftline.model.importance import importance_shares
from driftline.model.registry import LoadedModel
from driftline.profile import ReferenceProfile, build_profile, with_calibration, with_importance
from retrainer.dataset import Dataset, SourcedRow

__all__ = [
    "Challenger",
    "Evaluation",
    "TrainingError",
    "feature_columns",
    "feature_schema",
    "pipeline_factory",
    "score_rows",
    "train_and_evaluate",
    "training_columns",
]

log = logging.getLogger(__name__)

PipelineFactory = Callable[[FeatureSchema], Any]


class TrainingError(DriftlineError):
    """The challenger cannot be built: unknown pipeline, no champion to clone, bad data."""


@dataclass(frozen=True)
class Challenger:
    """A fitted challenger with what registering it needs."""

    model: Any
    signature: Any  # mlflow.models.ModelSignature
    profile: ReferenceProfile
    features: FeatureSchema | None  # None for a model registered without a feature file
    columns: tuple[str, ...]
    pipeline: str


@dataclass(frozen=True)
class Evaluation:
    """The challenger and both models' scores on the holdout (``champion_scores`` is None
    when there is no champion)."""

    challenger: Challenger
    labels: list[int]
    challenger_scores: np.ndarray
    champion_scores: np.ndarray | None


def pipeline_factory(spec: str, champion: LoadedModel | None) -> PipelineFactory:
    """The unfitted estimator builder named by ``DRIFTLINE_RETRAIN_PIPELINE``: ``default``,
    ``champion`` (a clone of the champion's estimator: same steps and hyper-parameters) or
    ``package.module:factory``."""
    if spec == "default":
        from driftline.model.pipeline import default_pipeline

        return default_pipeline
    if spec == "champion":
        if champion is None:
            raise TrainingError(
                "DRIFTLINE_RETRAIN_PIPELINE=champion needs a champion to clone; run "
                "`driftline bootstrap` or use the default pipeline"
            )
        from sklearn.base import clone

        return lambda _schema: clone(champion.estimator)
    module, _, name = spec.partition(":")
    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError) as exc:
        raise TrainingError(
            f"DRIFTLINE_RETRAIN_PIPELINE={spec!r} cannot be loaded: {exc}"
        ) from None


def feature_columns(features: FeatureSchema) -> tuple[tuple[str, str], ...]:
    """``(name, kind)`` of each model input in the order the model is fitted on.

    >>> feature_columns(CREDIT_RISK)[0], feature_columns(CREDIT_RISK)[-1]
    (('annual_income', 'float'), ('city_tier', 'str'))
    """
    return tuple((n, "float") for n in features.numeric_names) + tuple(
        (n, "str") for n in features.categorical_names
    )


def _signature_columns(champion: LoadedModel) -> tuple[tuple[str, str], ...]:
    from driftline.model.signature import columns_from_signature

    return tuple((c.name, c.kind) for c in columns_from_signature(champion.signature))


def feature_schema(champion: LoadedModel | None) -> FeatureSchema | None:
    """The schema a challenger is trained and validated with: the champion's recorded one;
    the credit-risk schema without a champion, or for a champion without one whose inputs
    are the credit-risk inputs; None for any other champion without one (a model
    registered with ``driftline models register``: it is trained on its signature)."""
    if champion is None:
        return CREDIT_RISK
    if champion.features is not None:
        return champion.features
    if champion.signature is None or {n for n, _ in _signature_columns(champion)} <= set(
        CREDIT_RISK.names
    ):
        return CREDIT_RISK
    return None


def training_columns(
    champion: LoadedModel | None, pipeline: str = "default"
) -> tuple[tuple[str, str], ...]:
    """``(name, kind)`` of each input the challenger is fitted on: the champion's signature
    when the challenger clones it or :func:`feature_schema` has none, else the schema's."""
    schema = feature_schema(champion)
    if champion is not None and (pipeline == "champion" or schema is None):
        return _signature_columns(champion)
    return feature_columns(schema or CREDIT_RISK)


def _frame(rows: Sequence[SourcedRow], columns: Sequence[tuple[str, str]]) -> Any:
    import pandas as pd

    dtypes = {"float": float, "int": np.int64, "bool": bool}
    data = {}
    for name, kind in columns:
        values = [r.event.prediction.features[name] for r in rows]
        if kind == "str":
            data[name] = np.array([str(v) for v in values], dtype=object)
        else:
            data[name] = np.asarray(values, dtype=dtypes[kind])
    return pd.DataFrame(data)


def score_rows(model: LoadedModel, rows: Sequence[SourcedRow]) -> np.ndarray:
    """Scores of ``model`` on ``rows`` through the scorer's own serving path."""
    from driftline.model.serving import serve_loaded

    served = serve_loaded(model, "retrainer", max_rows=max(len(rows), 1))
    return served.score([r.event.prediction.features for r in rows])


def train_and_evaluate(
    dataset: Dataset,
    champion: LoadedModel | None,
    *,
    name: str,
    pipeline: str = "default",
) -> Evaluation:
    """Fit the challenger on the training split and score both models on the holdout."""
    from mlflow.models import infer_signature

    features = feature_schema(champion)
    if features is None and pipeline != "champion":
        raise TrainingError(
            f"{name} was registered without a feature file (driftline models register "
            "without --features), so only a clone of it can be retrained: set "
            "DRIFTLINE_RETRAIN_PIPELINE=champion, or register a version with --features"
        )
    factory = pipeline_factory(pipeline, champion)
    # a clone expects the champion's own input layout, which its signature records
    columns = training_columns(champion, pipeline)
    names = [n for n, _ in columns]
    frame = _frame(dataset.train, columns)
    labels = np.asarray([r.event.label for r in dataset.train], dtype=np.int64)
    estimator = factory(features)
    # An estimator that knows feature names (fitted on a DataFrame) is served a DataFrame;
    # the default pipeline is fitted and served on an object array, like bootstrap.
    by_name = champion is not None and pipeline == "champion" and hasattr(
        champion.estimator, "feature_names_in_"
    )
    try:
        estimator.fit(frame if by_name else frame.to_numpy(dtype=object), labels)
    except ValueError as exc:
        raise TrainingError(f"fitting the challenger failed: {exc}") from None
    fit_scores = estimator.predict_proba(frame.head(100) if by_name
                                         else frame.head(100).to_numpy(dtype=object))
    signature = infer_signature(frame.head(100), fit_scores[:, -1])
    candidate = LoadedModel(name=name, version="challenger", estimator=estimator,
                            signature=signature, run_id=None)
    train_scores = score_rows(candidate, dataset.train)
    profile = build_profile(
        {n: frame[n].to_numpy() for n in names},
        train_scores,
        numeric=[n for n, k in columns if k != "str"] if features is None
        else [n for n in features.numeric_names if n in names],
        categorical=[n for n, k in columns if k == "str"] if features is None
        else [n for n in features.categorical_names if n in names],
        labels=labels,
    )
    holdout_labels = [r.event.label for r in dataset.holdout]
    challenger_scores = score_rows(candidate, dataset.holdout)
    profile = with_calibration(profile, challenger_scores, holdout_labels)
    holdout = _frame(dataset.holdout, columns)
    profile = with_importance(profile, importance_shares(
        estimator, holdout if by_name else holdout.to_numpy(dtype=object), holdout_labels,
        names))
    challenger = Challenger(
        model=estimator,
        signature=signature,
        profile=profile,
        features=features,
        columns=tuple(names),
        pipeline=pipeline,
    )
    champion_scores = score_rows(champion, dataset.holdout) if champion is not None else None
    log.info("fitted the challenger of %s on %d rows (%s pipeline)", name, len(dataset.train),
             pipeline)
    return Evaluation(challenger, holdout_labels, challenger_scores, champion_scores)
