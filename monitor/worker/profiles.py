"""Reference profiles and baseline metrics per model version, read from the MLflow registry
once and cached."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from driftline.logs import fields
from driftline.profile import ReferenceProfile

__all__ = ["RegistryLookups"]

log = logging.getLogger(__name__)

# run metric logged at training -> the monitor's metric name
_BASELINE_METRICS = {
    "holdout_auc": "roc_auc",
    "holdout_brier": "brier",
    "holdout_log_loss": "log_loss",
    "holdout_accuracy": "accuracy",
    "holdout_f1": "f1",
}


class RegistryLookups:
    """``profile(name, version)`` and ``baseline(name, version)`` backed by MLflow.

    A version without a profile is remembered as missing (its predictions are joined but not
    judged for drift, and counted as unprofiled) and retried after ``retry_s`` seconds.
    """

    def __init__(self, retry_s: float = 60.0) -> None:
        self._profiles: dict[tuple[str, str], tuple[ReferenceProfile | None, float]] = {}
        self._baselines: dict[tuple[str, str], dict[str, float]] = {}
        self._retry_s = retry_s

    def profile(self, name: str, version: str) -> ReferenceProfile | None:
        import time

        key = (name, version)
        cached = self._profiles.get(key)
        if cached is not None and (cached[0] is not None or time.monotonic() < cached[1]):
            return cached[0]
        from driftline.model.registry import load_profile

        try:
            profile = load_profile(name, version).for_version(name, version)
        except Exception as exc:  # the registry is down or the version has no profile
            log.warning("no reference profile for %s v%s (%s); not judging drift for it",
                        name, version, exc, extra=fields(model=name, version=version))
            profile = None
        self._profiles[key] = (profile, time.monotonic() + self._retry_s)
        return profile

    def baseline(self, name: str, version: str) -> Mapping[str, float]:
        key = (name, version)
        if key not in self._baselines:
            self._baselines[key] = self._read_baseline(name, version)
        return self._baselines[key]

    @staticmethod
    def _read_baseline(name: str, version: str) -> dict[str, float]:
        try:
            from mlflow import MlflowClient

            client = MlflowClient()
            run_id = client.get_model_version(name, version).run_id
            metrics = client.get_run(run_id).data.metrics if run_id else {}
        except Exception as exc:
            log.warning("no baseline metrics for %s v%s (%s)", name, version, exc,
                        extra=fields(model=name, version=version))
            return {}
        return {ours: metrics[theirs] for theirs, ours in _BASELINE_METRICS.items()
                if theirs in metrics}
