"""The model registry: MLflow helpers shared by the scorer and the retrainer.

driftline keeps every model version in MLflow's model registry: the estimator in skops format
(never pickle) with a model signature, the reference profile of its training data as the run
artifact ``reference_profile.json``, and the loan feature ranges in the model's metadata.
Aliases (``champion``) say which version serves.

The embedded default is a sqlite file and an artifact folder under the settings ``home``
(``<home>/mlflow/mlflow.db`` and ``<home>/mlflow/artifacts``); ``MLFLOW_TRACKING_URI`` points
driftline at an MLflow server instead. Call :func:`configure` once per process, then::

    with mlflow.start_run(experiment_id=experiment_id):
        ref = register_version("credit-risk", pipeline, signature=sig, profile=profile,
                               features=CREDIT_RISK, alias="champion")
    loaded = load_model("credit-risk", get_alias("credit-risk", "champion"))
    profile = load_profile("credit-risk", loaded.version)

Loading trusts only exact type names (:mod:`driftline.model.trust`): a built-in list, the
ones accepted when the version was registered (``register_version(trusted_types=...)``
writes them to the version tag ``driftline.trusted_types``) and the ones a caller names. A
file referencing any other type is refused before anything in it is built or called; a skops
file's own list of trusted types is not honoured, since whoever wrote the file also wrote
that list.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import tempfile
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from driftline.errors import DriftlineError
from driftline.features import CategoricalFeature, FeatureSchema, NumericFeature
from driftline.model.decision import DECISION_TAG, DecisionPolicy
from driftline.model.trust import TRUSTED_TYPES_TAG, check_types, file_types, tagged_types
from driftline.profile import PROFILE_ARTIFACT, ReferenceProfile

__all__ = [
    "DEFAULT_EXPERIMENT",
    "PROFILE_TAG",
    "LoadedModel",
    "ModelVersionRef",
    "RegistryError",
    "configure",
    "feature_schema_from_metadata",
    "get_alias",
    "load_model",
    "load_profile",
    "register_version",
    "set_alias",
    "tracking_uri",
    "wait_for_registry",
]

log = logging.getLogger(__name__)

DEFAULT_EXPERIMENT = "driftline"
PROFILE_TAG = "driftline.reference_profile"


class RegistryError(DriftlineError):
    """The model registry is unreachable, or a model version cannot be registered or loaded."""


# mlflow.set_tracking_uri also exports MLFLOW_TRACKING_URI (for child processes), so the
# variable is the user's choice when it differs from what configure() last set; that choice
# is remembered, so a process that configures more than once (the scorer: its CLI, then its
# service; a backtest: the live registry, then its sandbox, then the live one again) keeps it.
_configured: str | None = None
_user: str | None = None


def _user_uri() -> str | None:
    global _user
    given = os.environ.get("MLFLOW_TRACKING_URI", "").strip()
    if given and given != _configured:
        _user = given
    return _user


def tracking_uri(home: Path) -> str:
    """``MLFLOW_TRACKING_URI`` if set, else the embedded sqlite file under ``home``."""
    return _user_uri() or f"sqlite:///{(Path(home) / 'mlflow' / 'mlflow.db').resolve()}"


def configure(home: Path, experiment: str = DEFAULT_EXPERIMENT, *,
              embedded: bool = False) -> str:
    """Point this process's MLflow client at driftline's registry; return the experiment id.

    With the embedded default the experiment stores its artifacts in ``<home>/mlflow/artifacts``;
    against a server the server decides where artifacts go. ``embedded``: the sqlite file
    under ``home`` whatever ``MLFLOW_TRACKING_URI`` says (a sandbox, which must never write
    into the registry the user configured).
    """
    import mlflow

    global _configured
    # Artifact downloads draw progress bars on stderr; a service log has no use for them.
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    user = _user_uri()
    embedded = embedded or user is None
    uri = f"sqlite:///{(Path(home) / 'mlflow' / 'mlflow.db').resolve()}" if embedded else user
    if embedded:
        (Path(home) / "mlflow").mkdir(parents=True, exist_ok=True)
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    _configured = uri
    client = mlflow.MlflowClient()
    found = client.get_experiment_by_name(experiment)
    if found is not None:
        return found.experiment_id
    location = (Path(home) / "mlflow" / "artifacts").resolve().as_uri() if embedded else None
    try:
        return client.create_experiment(experiment, artifact_location=location)
    except Exception:  # a concurrent process created it first
        found = client.get_experiment_by_name(experiment)
        if found is None:
            raise
        return found.experiment_id


def wait_for_registry(timeout: float = 30.0) -> None:
    """Block until the configured registry answers, or raise RegistryError saying where."""
    import mlflow

    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while True:
        try:
            mlflow.MlflowClient().search_registered_models(max_results=1)
            return
        except Exception as exc:  # any transport or store error means "not yet"
            last = exc
        if time.monotonic() >= deadline:
            raise RegistryError(
                f"the MLflow registry at {mlflow.get_tracking_uri()} did not answer within "
                f"{timeout:.0f}s ({last}); check MLFLOW_TRACKING_URI or unset it to use the "
                "embedded registry under DRIFTLINE_HOME"
            )
        time.sleep(0.5)


@dataclass(frozen=True)
class ModelVersionRef:
    """A registered model version and where it came from."""

    name: str
    version: str
    run_id: str
    model_uri: str


@dataclass(frozen=True)
class LoadedModel:
    """A model version loaded for serving: the estimator, its signature and metadata."""

    name: str
    version: str
    estimator: Any
    signature: Any  # mlflow.models.ModelSignature
    run_id: str | None
    metadata: dict[str, Any] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    description: str = ""
    created_at: float | None = None  # seconds since the epoch
    source: str = ""

    @property
    def features(self) -> FeatureSchema | None:
        """The feature ranges recorded at registration, if the version has them."""
        return feature_schema_from_metadata(self.metadata)


def _features_metadata(schema: FeatureSchema) -> dict[str, Any]:
    return {
        "numeric": [
            {
                "name": f.name,
                "minimum": f.minimum,
                "maximum": f.maximum,
                "description": f.description,
                "unit": f.unit,
            }
            for f in schema.numeric
        ],
        "categorical": [
            {"name": f.name, "categories": list(f.categories), "description": f.description}
            for f in schema.categorical
        ],
        "target": schema.target,
    }


def feature_schema_from_metadata(metadata: Mapping[str, Any] | None) -> FeatureSchema | None:
    """Rebuild the FeatureSchema stored by :func:`register_version` (None when absent).

    >>> from driftline.features import CREDIT_RISK
    >>> meta = {"driftline": {"features": _features_metadata(CREDIT_RISK)}}
    >>> feature_schema_from_metadata(meta).numeric == CREDIT_RISK.numeric
    True
    """
    spec = ((metadata or {}).get("driftline") or {}).get("features")
    if not spec:
        return None
    return FeatureSchema(
        numeric=tuple(
            NumericFeature(
                n["name"],
                float(n["minimum"]),
                float(n["maximum"]),
                description=n.get("description", ""),
                unit=n.get("unit", ""),
            )
            for n in spec.get("numeric", ())
        ),
        categorical=tuple(
            CategoricalFeature(
                c["name"], tuple(c["categories"]), description=c.get("description", "")
            )
            for c in spec.get("categorical", ())
        ),
        target=spec.get("target", "default"),
    )


@contextlib.contextmanager
def _run() -> Iterator[Any]:
    """The active MLflow run, or a new one for the duration of the block."""
    import mlflow

    active = mlflow.active_run()
    if active is not None:
        yield active
        return
    with mlflow.start_run() as run:
        yield run


def register_version(
    name: str,
    model: Any,
    *,
    signature: Any,
    profile: ReferenceProfile,
    features: FeatureSchema | None = None,
    alias: str | None = None,
    description: str = "",
    tags: Mapping[str, str] | None = None,
    trusted_types: Iterable[str] | None = None,
    decision: DecisionPolicy | None = None,
) -> ModelVersionRef:
    """Log ``model`` (skops) with its signature in the active run, register it as a new version
    of ``name``, store its reference profile and, with ``alias``, point the alias at it.

    One version per run: the profile is the run's ``reference_profile.json``. ``features``
    records ranges and categories in the model metadata so the scorer validates requests with
    them; without it requests are checked against the signature's types only.
    ``trusted_types``: exact type names beyond the built-in list that a person accepted for
    this version, written to the version tag ``driftline.trusted_types`` (JSON list) that
    :func:`load_model` honours; a model holding any other type is refused here with
    :class:`~driftline.model.trust.UntrustedTypesError` naming them. ``decision`` (the
    score's name and tiers the scorer answers with) is stored as the version tag
    ``driftline.decision_policy``.
    """
    import mlflow
    import sklearn
    import skops
    import skops.io

    if signature is None:
        raise RegistryError(
            f"registering {name!r} needs a model signature: "
            "mlflow.models.infer_signature(training_frame, model.predict_proba(training_frame))"
        )
    metadata = {"driftline": {"features": _features_metadata(features)}} if features else None
    # refuse at once what no process would load, naming the types to accept
    accepted = sorted(set(trusted_types or ()))
    dumped = skops.io.dumps(model)
    with tempfile.TemporaryDirectory(prefix="driftline-register-") as tmp:
        path = Path(tmp) / "model.skops"
        path.write_bytes(dumped)
        check_types(file_types(path), accepted)
    with _run() as run:
        info = mlflow.sklearn.log_model(
            model,
            name="model",
            signature=signature,
            serialization_format="skops",
            registered_model_name=name,
            metadata=metadata,
            # MLflow loads the file back to check it: it may build what was accepted
            skops_trusted_types=skops.io.get_untrusted_types(data=dumped),
            # Stating the requirements skips MLflow's inference, which would load the model
            # in a subprocess just to list its imports.
            pip_requirements=[
                f"scikit-learn=={sklearn.__version__}",
                f"skops=={skops.__version__}",
            ],
        )
        version = str(info.registered_model_version)
        run_id = run.info.run_id
        stamped = profile.for_version(name, version)
        mlflow.log_text(stamped.to_json().decode(), PROFILE_ARTIFACT)
    client = mlflow.MlflowClient()
    client.set_model_version_tag(name, version, PROFILE_TAG, f"runs:/{run_id}/{PROFILE_ARTIFACT}")
    for key, value in (tags or {}).items():
        client.set_model_version_tag(name, version, key, value)
    if accepted:
        client.set_model_version_tag(name, version, TRUSTED_TYPES_TAG, json.dumps(accepted))
    if decision is not None:
        client.set_model_version_tag(name, version, DECISION_TAG, decision.to_json())
    if description:
        client.update_model_version(name, version, description=description)
    if alias:
        client.set_registered_model_alias(name, alias, version)
    log.info(
        "registered %s version %s (run %s)%s",
        name,
        version,
        run_id,
        f" as @{alias}" if alias else "",
    )
    return ModelVersionRef(name=name, version=version, run_id=run_id, model_uri=info.model_uri)


def get_alias(name: str, alias: str) -> str | None:
    """The version ``alias`` points at, or None when the model or the alias does not exist."""
    import mlflow
    from mlflow.exceptions import MlflowException

    try:
        return str(mlflow.MlflowClient().get_model_version_by_alias(name, alias).version)
    except MlflowException as exc:
        if exc.error_code in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"):
            return None
        raise


def set_alias(name: str, alias: str, version: str | int) -> str | None:
    """Point ``alias`` at ``version``; return the version it pointed at before (or None)."""
    import mlflow

    previous = get_alias(name, alias)
    mlflow.MlflowClient().set_registered_model_alias(name, alias, str(version))
    return previous


def load_model(name: str, version: str | int, *, trusted_types: Iterable[str] = ()) -> LoadedModel:
    """Download and load one version: a scikit-learn estimator stored in skops format with a
    signature. Raises RegistryError saying what is missing, and
    :class:`~driftline.model.trust.UntrustedTypesError` naming the types when the file
    references any beyond the built-in list, the version's ``driftline.trusted_types`` tag and
    ``trusted_types`` (nothing in the file is built then)."""
    import mlflow
    import skops.io
    from mlflow.exceptions import MlflowException
    from mlflow.models import Model

    client = mlflow.MlflowClient()
    version = str(version)
    try:
        mv = client.get_model_version(name, version)
    except MlflowException as exc:
        raise RegistryError(f"model {name!r} has no version {version}: {exc.message}") from None
    with tempfile.TemporaryDirectory(prefix="driftline-model-") as tmp:
        local = Path(
            mlflow.artifacts.download_artifacts(
                artifact_uri=f"models:/{name}/{version}", dst_path=tmp
            )
        )
        mlmodel = Model.load(str(local))
        flavor = mlmodel.flavors.get("sklearn")
        if flavor is None:
            raise RegistryError(
                f"{name} version {version} is not a scikit-learn model (flavors: "
                f"{', '.join(mlmodel.flavors)}); log it with mlflow.sklearn.log_model"
            )
        if flavor.get("serialization_format") != "skops":
            raise RegistryError(
                f"{name} version {version} is stored as {flavor.get('serialization_format')}; "
                "driftline loads skops only: log it with serialization_format='skops'"
            )
        if mlmodel.signature is None or mlmodel.signature.inputs is None:
            raise RegistryError(
                f"{name} version {version} has no input signature; log it with "
                "signature=mlflow.models.infer_signature(X, model.predict_proba(X))"
            )
        path = local / flavor["pickled_model"]
        accepted = [*tagged_types(mv.tags or {}), *trusted_types]
        # every name in the schema, and whatever skops itself would not trust by default
        names = sorted({*file_types(path), *skops.io.get_untrusted_types(file=path)})
        check_types(names, accepted)
        estimator = skops.io.load(path, trusted=names)
    metrics: dict[str, float] = {}
    if mv.run_id:
        with contextlib.suppress(MlflowException):
            metrics = dict(client.get_run(mv.run_id).data.metrics)
    return LoadedModel(
        name=name,
        version=version,
        estimator=estimator,
        signature=mlmodel.signature,
        run_id=mv.run_id,
        metadata=dict(mlmodel.metadata or {}),
        tags=dict(mv.tags or {}),
        metrics=metrics,
        description=mv.description or "",
        created_at=(mv.creation_timestamp / 1000.0) if mv.creation_timestamp else None,
        source=mv.source or "",
    )


def load_profile(name: str, version: str | int) -> ReferenceProfile:
    """The reference profile stored with a version (the monitor judges drift against it)."""
    import mlflow
    from mlflow.exceptions import MlflowException

    client = mlflow.MlflowClient()
    try:
        mv = client.get_model_version(name, str(version))
    except MlflowException as exc:
        raise RegistryError(f"model {name!r} has no version {version}: {exc.message}") from None
    uri = (mv.tags or {}).get(PROFILE_TAG) or f"runs:/{mv.run_id}/{PROFILE_ARTIFACT}"
    with tempfile.TemporaryDirectory(prefix="driftline-profile-") as tmp:
        try:
            path = mlflow.artifacts.download_artifacts(artifact_uri=uri, dst_path=tmp)
        except (MlflowException, OSError) as exc:
            raise RegistryError(
                f"{name} version {version} has no reference profile at {uri} ({exc}); register "
                "versions with driftline.model.registry.register_version"
            ) from None
        return ReferenceProfile.from_json(Path(path).read_bytes())
