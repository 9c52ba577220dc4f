"""Adopting a model driftline did not train: check it against reference data and register it.

``driftline models register`` calls :func:`register_adopted`. From a scikit-learn binary
classifier (an MLflow model URI such as ``runs:/<run>/model`` or ``models:/<name>/<version>``
logged in skops format, or a ``.skops`` file) and a reference dataset (CSV or Parquet: the
model's features, and the label column when known), it builds what driftline needs of a
version: the signature, the reference profile the monitor judges drift against, holdout
metrics under the names the monitor and retrainer read (``holdout_auc``...) when labels are
given, the decision policy the scorer answers with, and the skops types a person accepted.

The checks are pure and run before anything is written:

>>> import pandas as pd
>>> frame = pd.DataFrame({"x": [0.1, 0.9], "y": [0, 2]})
>>> try:
...     split_reference(frame, label="y")
... except AdoptionError as exc:
...     print(exc)
label column 'y' holds values other than 0 and 1 (2); map it to 0/1 (1 = the positive class)
"""

from __future__ import annotations

import contextlib
import logging
import math
import tempfile
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from driftline.errors import DriftlineError
from driftline.feature_file import draft, load_feature_file
from driftline.features import FeatureSchema
from driftline.model.decision import DecisionPolicy
from driftline.model.importance import importance_shares
from driftline.model.registry import ModelVersionRef
from driftline.model.serving import positive_column
from driftline.model.trust import DEFAULT_TRUSTED_TYPES, file_types
from driftline.profile import ReferenceProfile, build_profile, with_calibration, with_importance

__all__ = [
    "Adopted",
    "AdoptionError",
    "LoadedSource",
    "Reference",
    "UntrustedTypesError",
    "check_reference_fits",
    "check_trust",
    "draft_feature_file",
    "holdout_metrics",
    "load_source",
    "read_reference",
    "reference_profile",
    "register_adopted",
    "score_reference",
    "split_reference",
]

log = logging.getLogger(__name__)

_URI_SCHEMES = ("runs:/", "models:/", "file:", "mlflow-artifacts:", "s3:", "gs:", "wasbs:")


class AdoptionError(DriftlineError):
    """A model or its reference data cannot be registered; the message names the fix."""


class UntrustedTypesError(AdoptionError):
    """The model file references types nobody accepted yet (``--trust TYPE``)."""

    def __init__(self, needed: Sequence[str], recorded: Sequence[str] | None = None) -> None:
        self.needed = list(needed)
        self.recorded = None if recorded is None else list(recorded)
        listed = " ".join(f"--trust {t}" for t in self.needed)
        message = (
            "the model file references types beyond driftline's built-in list: "
            f"{', '.join(self.needed)}; if you trust them, pass {listed} "
            "(or --trust-listed after reading them)"
        )
        if self.recorded:
            covered = set(self.recorded) >= set(self.needed)
            message += (
                f". Whoever logged the model recorded these types as trusted: "
                f"{', '.join(self.recorded)}"
                + ("; --trust-recorded accepts exactly those" if covered else
                   "; they do not cover all the types above")
            )
        super().__init__(message)


@dataclass(frozen=True)
class Reference:
    """Reference data split into the model's features (a DataFrame) and optional labels."""

    features: Any  # pandas DataFrame
    labels: np.ndarray | None = None
    label: str | None = None

    @property
    def numeric(self) -> list[str]:
        return [c for c in self.features.columns if self.features[c].dtype.kind in "biuf"]

    @property
    def categorical(self) -> list[str]:
        return [c for c in self.features.columns if self.features[c].dtype.kind == "O"]


@dataclass(frozen=True)
class Adopted:
    """A registered version: the alias set on it (or None), its holdout metrics (empty
    without labels) and the types beyond the built-in list that were accepted for it."""

    ref: ModelVersionRef
    alias: str | None
    metrics: dict[str, float]
    trusted_types: list[str]
    recorded: list[str] | None = None  # the trusted types its logger recorded in MLflow
    features: FeatureSchema | None = None  # the declared inputs (--features), if any


@dataclass(frozen=True)
class LoadedSource:
    """An estimator loaded from a file or an MLflow URI, with the types beyond the built-in
    list that were accepted for it."""

    estimator: Any
    accepted: list[str]
    source: str
    signature: Any = None  # mlflow ModelSignature when the source had one
    notes: list[str] = field(default_factory=list)
    recorded: list[str] | None = None  # the trusted types its logger recorded in MLmodel


def read_reference(path: Path | str) -> Any:
    """A CSV or Parquet file as a DataFrame; AdoptionError when it is neither or empty."""
    import pandas as pd

    path = Path(path)
    if not path.is_file():
        raise AdoptionError(f"reference data {path} does not exist; pass a CSV or Parquet file")
    suffixes = "".join(path.suffixes).lower()
    try:
        if ".parquet" in suffixes or suffixes.endswith(".pq"):
            frame = pd.read_parquet(path)
        elif ".csv" in suffixes:
            frame = pd.read_csv(path)
        else:
            raise AdoptionError(
                f"reference data {path} is neither .csv nor .parquet; save it as one of those"
            )
    except AdoptionError:
        raise
    except Exception as exc:  # a parser error: say which file and why
        raise AdoptionError(f"reference data {path} cannot be read: {exc}") from None
    if frame.empty:
        raise AdoptionError(f"reference data {path} has no rows; it needs the model's features")
    return frame


def split_reference(
    frame: Any, *, label: str | None = None, columns: Sequence[str] | None = None
) -> Reference:
    """Check reference data and split it into features and labels.

    ``columns`` are the features the model was fitted with (``feature_names_in_``), in
    order; without them every column but the label is a feature, in file order. Numeric and
    boolean columns become numeric features, text columns categorical ones.
    """
    import pandas as pd

    labels = None
    if label is not None:
        if label not in frame.columns:
            raise AdoptionError(
                f"label column {label!r} is not in the reference data (columns: "
                f"{', '.join(map(str, frame.columns[:12]))}); pass --label with its name, or "
                "leave --label out to register without holdout metrics"
            )
        raw = frame[label]
        if raw.isna().any():
            raise AdoptionError(
                f"label column {label!r} has {int(raw.isna().sum())} missing values; drop "
                "those rows or fill them with 0/1"
            )
        values = raw.to_numpy()
        if values.dtype.kind == "b":
            values = values.astype(np.int64)
        bad = [v for v in pd.unique(values) if not _is_binary(v)]
        if bad:
            shown = ", ".join(map(str, bad[:5]))
            raise AdoptionError(
                f"label column {label!r} holds values other than 0 and 1 ({shown}); map it "
                "to 0/1 (1 = the positive class)"
            )
        labels = values.astype(np.int64)
    wanted = list(columns) if columns is not None else [c for c in frame.columns if c != label]
    missing = [c for c in wanted if c not in frame.columns]
    if missing:
        raise AdoptionError(
            f"the reference data lacks the model's input column(s) {', '.join(missing)}; add "
            "them (the model was fitted with: " + ", ".join(map(str, wanted)) + ")"
        )
    if not wanted:
        raise AdoptionError("the reference data has no feature columns besides the label")
    features = frame[wanted].copy()
    for name in wanted:
        features[name] = _feature_column(name, features[name])
    return Reference(features=features, labels=labels, label=label)


def _is_binary(value: Any) -> bool:
    try:
        return float(value) in (0.0, 1.0)
    except (TypeError, ValueError):
        return False


def _feature_column(name: Any, column: Any) -> Any:
    """A column as scored: numeric stays, bool becomes 0/1 ints, text stays text."""
    if not isinstance(name, str) or not name:
        raise AdoptionError(f"column {name!r} has no text name; give every column a header")
    kind = column.dtype.kind
    if kind in "iuf":
        return column
    if kind == "b":
        return column.astype(np.int64)
    if kind in "OSU" or str(column.dtype) in ("string", "str", "category"):
        values = column.dropna()
        odd = [v for v in values.iloc[:1000] if not isinstance(v, str)]
        if odd:
            raise AdoptionError(
                f"column {name!r} mixes text with {type(odd[0]).__name__} values; make it all "
                "numbers or all text"
            )
        if column.isna().any():
            raise AdoptionError(
                f"text column {name!r} has missing values; fill them with a category"
            )
        return column.astype(object)
    raise AdoptionError(
        f"column {name!r} has type {column.dtype}, which the scorer cannot take from JSON; "
        "convert it to numbers or text"
    )


def check_trust(
    types: Sequence[str], accepted: Sequence[str], *, all_listed: bool
) -> list[str]:
    """The types to record as accepted: those of ``types`` (every type and function the model
    file references) beyond driftline's built-in list, once each is in ``accepted`` (or
    ``all_listed``); UntrustedTypesError naming the ones that are not.

    >>> check_trust(["sklearn.pipeline.Pipeline"], [], all_listed=False)
    []
    >>> check_trust(["sklearn.pipeline.Pipeline", "mylib.Model"], ["mylib.Model"],
    ...             all_listed=False)
    ['mylib.Model']
    """
    needed = sorted({t for t in types if t not in DEFAULT_TRUSTED_TYPES})
    if not all_listed:
        refused = [t for t in needed if t not in set(accepted)]
        if refused:
            raise UntrustedTypesError(refused)
    return needed


def _skops_types(path: Path) -> list[str]:
    import skops.io

    if not zipfile.is_zipfile(path):
        raise AdoptionError(
            f"{path} is not a skops model file; save the model with skops.io.dump(model, "
            "'model.skops') or log it with mlflow.sklearn.log_model(..., "
            "serialization_format='skops')"
        )
    try:
        skops.io.get_untrusted_types(file=path)  # a skops file at all?
        return file_types(path)
    except Exception as exc:  # a zip that is not a skops file
        raise AdoptionError(f"{path} is not a skops model file ({exc})") from None


@contextlib.contextmanager
def _local_model(source: str) -> Iterator[tuple[Path, Any, list[str] | None]]:
    """The skops file of ``source`` (a path or an MLflow URI), its signature, and the types
    whoever logged it recorded as trusted (MLflow's ``skops_trusted_types``), if any."""
    if not source.startswith(_URI_SCHEMES):
        path = Path(source)
        if not path.is_file():
            raise AdoptionError(
                f"{source} is neither a file nor an MLflow model URI (runs:/<run>/model, "
                "models:/<name>/<version>)"
            )
        yield path, None, None
        return
    import mlflow
    from mlflow.models import Model

    with tempfile.TemporaryDirectory(prefix="driftline-adopt-") as tmp:
        try:
            local = Path(mlflow.artifacts.download_artifacts(artifact_uri=source, dst_path=tmp))
            mlmodel = Model.load(str(local))
        except Exception as exc:  # unknown run, model or artifact
            raise AdoptionError(f"cannot read the MLflow model {source}: {exc}") from None
        flavor = mlmodel.flavors.get("sklearn")
        if flavor is None:
            raise AdoptionError(
                f"{source} is not a scikit-learn model (flavors: {', '.join(mlmodel.flavors)});"
                " driftline adopts models logged with mlflow.sklearn.log_model"
            )
        if flavor.get("serialization_format") != "skops":
            raise AdoptionError(
                f"{source} is stored as {flavor.get('serialization_format')}, which runs code "
                "when loaded; log it again with serialization_format='skops'"
            )
        recorded = flavor.get("skops_trusted_types")
        yield (local / flavor["pickled_model"], mlmodel.signature,
               None if recorded is None else [str(t) for t in recorded])


def load_source(
    source: str, *, trust: Sequence[str] = (), trust_listed: bool = False,
    trust_recorded: bool = False,
) -> LoadedSource:
    """Load the estimator at ``source`` once its untrusted types are accepted: each named
    in ``trust``, all the file lists (``trust_listed``), or those its logger recorded as
    trusted in MLflow (``trust_recorded``)."""
    import skops.io

    with _local_model(source) as (path, signature, recorded):
        if trust_recorded and not recorded:
            raise AdoptionError(
                f"{source} records no trusted types (it was not logged with "
                "skops_trusted_types); name each type with --trust instead"
            )
        given = [*trust, *(recorded or [] if trust_recorded else [])]
        try:
            accepted = check_trust(_skops_types(path), given, all_listed=trust_listed)
        except UntrustedTypesError as exc:
            raise UntrustedTypesError(exc.needed, recorded) from None
        try:
            # every type in the file is now built-in or accepted: skops may build them all
            estimator = skops.io.load(path, trusted=skops.io.get_untrusted_types(file=path))
        except Exception as exc:
            raise AdoptionError(f"{source} cannot be loaded by skops: {exc}") from None
    if not hasattr(estimator, "predict_proba"):
        raise AdoptionError(
            f"{type(estimator).__name__} from {source} has no predict_proba; driftline serves "
            "binary classifiers that return class probabilities"
        )
    return LoadedSource(estimator, accepted, source, signature, recorded=recorded)


def score_reference(estimator: Any, reference: Reference) -> np.ndarray:
    """The model's positive-class probability on each reference row, as the scorer computes
    it (a DataFrame for a model fitted with names, else an array in column order)."""
    frame = reference.features
    data = frame if hasattr(estimator, "feature_names_in_") else frame.to_numpy()
    try:
        proba = np.asarray(estimator.predict_proba(data))
    except Exception as exc:
        raise AdoptionError(
            f"the model fails on the reference data ({type(exc).__name__}: {exc}); check the "
            "columns are the ones it was fitted with, in that order"
        ) from None
    classes = list(getattr(estimator, "classes_", []))
    if proba.ndim != 2 or proba.shape[1] != 2 or (classes and len(classes) != 2):
        raise AdoptionError(
            f"the model returns {proba.shape[-1] if proba.ndim == 2 else proba.ndim} class "
            "probabilities per row; driftline serves binary classifiers (two classes)"
        )
    return proba[:, positive_column(estimator)].astype(float)


def holdout_metrics(labels: np.ndarray, scores: np.ndarray, threshold: float) -> dict[str, float]:
    """AUC, precision, recall (positive above ``threshold``), accuracy, Brier score and log
    loss under the run-metric names the monitor and the retrainer read.

    >>> m = holdout_metrics(np.array([0, 0, 1, 1]), np.array([0.1, 0.6, 0.4, 0.9]), 0.5)
    >>> m["holdout_auc"], m["holdout_precision"], m["holdout_recall"]
    (0.75, 0.5, 0.5)
    """
    from sklearn.metrics import (
        accuracy_score,
        brier_score_loss,
        f1_score,
        log_loss,
        precision_score,
        recall_score,
        roc_auc_score,
    )

    if len(set(labels.tolist())) < 2:
        raise AdoptionError(
            f"the label column holds only {int(labels[0])}s; holdout metrics need both classes "
            "(add rows of the other class, or leave --label out)"
        )
    decided = (scores > threshold).astype(int)
    metrics = {
        "holdout_auc": roc_auc_score(labels, scores),
        "holdout_precision": precision_score(labels, decided, zero_division=0),
        "holdout_recall": recall_score(labels, decided, zero_division=0),
        "holdout_accuracy": accuracy_score(labels, decided),
        "holdout_f1": f1_score(labels, decided, zero_division=0),
        "holdout_brier": brier_score_loss(labels, scores),
        "holdout_log_loss": log_loss(labels, np.clip(scores, 1e-15, 1 - 1e-15), labels=[0, 1]),
        "label_rate": float(np.mean(labels)),
    }
    return {k: float(v) for k, v in metrics.items() if not math.isnan(float(v))}


def reference_profile(reference: Reference, scores: np.ndarray,
                      estimator: Any | None = None) -> ReferenceProfile:
    """The reference profile of the data: numeric and categorical features, the scores, the
    label rate and, with labels, the calibration of the scores and (given the ``estimator``)
    its features' permutation importance (the reference data is the model's holdout: it was
    not fitted on it)."""
    frame = reference.features
    profile = build_profile(
        {c: frame[c].to_numpy() for c in frame.columns},
        scores,
        numeric=reference.numeric,
        categorical=reference.categorical,
        labels=reference.labels,
    )
    if reference.labels is None:
        return profile
    profile = with_calibration(profile, scores, reference.labels)
    if estimator is None:
        return profile
    shares = importance_shares(
        estimator, frame, reference.labels, [str(c) for c in frame.columns],
        score=lambda rows: score_reference(estimator, Reference(features=rows)),
    )
    return with_importance(profile, shares)


def check_reference_fits(schema: FeatureSchema, reference: Reference) -> None:
    """AdoptionError naming each declared input the reference data does not fit: numbers
    outside their range (the scorer would refuse such requests, so the range is wrong, or
    the data), and categories the file does not list."""
    frame = reference.features
    problems = []
    for f in schema.numeric:
        values = frame[f.name].to_numpy(dtype=float)
        values = values[~np.isnan(values)]
        outside = (values < f.minimum) | (values > f.maximum)
        if outside.any():
            problems.append(
                f"{f.name}: {int(outside.sum())} of {len(values)} values outside "
                f"[{f.minimum:g}, {f.maximum:g}] (they span {values.min():g} to "
                f"{values.max():g}); requests like them would be refused")
    for f in schema.categorical:
        seen = frame[f.name].dropna().astype(str)
        unknown = sorted(set(seen) - set(f.categories))
        if unknown:
            shown = ", ".join(map(repr, unknown[:10])) + (" ..." if len(unknown) > 10 else "")
            problems.append(f"{f.name}: {len(unknown)} categories not in the feature file's "
                            f"list: {shown}")
    if problems:
        raise AdoptionError("the reference data does not fit the feature file; correct the "
                            "file (or the data):\n  " + "\n  ".join(problems))


def draft_feature_file(reference: Reference) -> str:
    """A first feature file for the reference's inputs (:func:`driftline.feature_file.draft`):
    each number's range and each text input's categories as the data holds them, the most
    frequent first."""
    frame = reference.features
    numeric = []
    for name in reference.numeric:
        values = frame[name].to_numpy(dtype=float)
        present = values[~np.isnan(values)]
        numeric.append((str(name), *((float(present.min()), float(present.max()))
                                     if len(present) else (math.nan, math.nan))))
    categorical = [(str(name), list(frame[name].dropna().astype(str).value_counts().index))
                   for name in reference.categorical]
    return draft(numeric, categorical)


def register_adopted(
    home: Path,
    source: str,
    reference_path: Path | str,
    *,
    name: str,
    label: str | None = None,
    alias: str | None = None,
    trust: Sequence[str] = (),
    trust_listed: bool = False,
    trust_recorded: bool = False,
    decision: DecisionPolicy | None = None,
    description: str = "",
    features: Path | str | None = None,
) -> Adopted:
    """Check and register ``source`` as a new version of ``name``.

    ``alias`` None points ``champion`` at the version when the model has no champion yet.
    ``features``: a feature file (:mod:`driftline.feature_file`) declaring every input's
    valid range or known categories, recorded with the version. Everything is checked before
    anything is written to the registry.
    """
    import mlflow
    from mlflow.models import infer_signature

    from driftline.model.registry import configure, get_alias, register_version
    from driftline.model.signature import columns_from_signature

    decision = decision or DecisionPolicy()
    declared = None if features is None else load_feature_file(features)
    experiment_id = configure(home)  # an MLflow URI is resolved against this registry
    loaded = load_source(source, trust=trust, trust_listed=trust_listed,
                         trust_recorded=trust_recorded)
    fitted = getattr(loaded.estimator, "feature_names_in_", None)
    reference = split_reference(
        read_reference(reference_path),
        label=label,
        columns=None if fitted is None else [str(c) for c in fitted],
    )
    schema = None
    if declared is not None:  # (fitted before the scoring and the importance, which take long)
        inputs = columns_from_signature(infer_signature(reference.features.head(100)))
        schema = declared.schema([(c.name, c.kind) for c in inputs], target=label or "label")
        check_reference_fits(schema, reference)
    scores = score_reference(loaded.estimator, reference)
    metrics = {}
    if reference.labels is not None:
        metrics = holdout_metrics(reference.labels, scores, decision.tiers[-1][1])
    profile = reference_profile(reference, scores, loaded.estimator)
    signature = infer_signature(reference.features.head(100), scores[:100])
    if alias is None and get_alias(name, "champion") is None:
        alias = "champion"
    with mlflow.start_run(experiment_id=experiment_id, run_name=f"register-{name}"):
        mlflow.log_params(
            {
                "source": source[:500],
                "reference": str(reference_path)[:500],
                "reference_rows": len(reference.features),
                "label": label or "",
                "estimator": type(loaded.estimator).__name__,
                "features": str(features or "")[:500],
            }
        )
        if metrics:
            mlflow.log_metrics(metrics)
        ref = register_version(
            name,
            loaded.estimator,
            signature=signature,
            profile=profile,
            alias=alias,
            description=description or f"registered from {source} with `driftline models "
            f"register` ({len(reference.features)} reference rows)",
            tags={"driftline.source": source[:5000]},
            trusted_types=loaded.accepted,
            decision=decision,
            features=schema,
        )
    return Adopted(ref, alias, metrics, loaded.accepted, loaded.recorded, schema)
