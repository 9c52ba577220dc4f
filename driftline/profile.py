"""Reference profiles: the training data of a model version, summarised for drift judgement.

A profile holds, per numeric feature, fixed bin cut points taken from the training quantiles
with the counts in each bin, a few quantiles and moments; per categorical feature, the category
counts; and the same for the model's score (its cut points are the quantiles of the scores on
the training rows too, so that each bin holds an equal share of them however concentrated
the scores are: the binned tests see a shift of the score wherever its mass lies). It is
stored as JSON beside the model version in MLflow (artifact ``reference_profile.json``) and
read by the monitor, which judges each prediction against the profile of the version that
made it. Fixed cut points make window
statistics mergeable counts: a window costs O(bins) to judge and never rescans rows.

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> prof = build_profile({"x": rng.normal(size=1000), "c": np.array(["a", "b"] * 500)},
...                      rng.random(1000), numeric=["x"], categorical=["c"], bins=4)
>>> prof.numeric_by_name["x"].counts
[250, 250, 250, 250]
>>> prof.categorical_by_name["c"].counts
{'a': 500, 'b': 500}
>>> ReferenceProfile.from_json(prof.to_json()) == prof
True

Format 2 adds ``calibration``: the model's score calibration on its holdout rows
(:mod:`driftline.calibration`), set by :func:`with_calibration`; a profile of format 1 (or
one without holdout labels) has none, and the monitor then estimates no performance for
unlabeled predictions.

Format 3 adds ``importance``: each feature's share of the model's permutation importance on
the same holdout rows (:mod:`driftline.model.importance`), set by :func:`with_importance`; None in
older profiles or without holdout labels, and the monitor then weighs no severity by it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import msgspec
import numpy as np

from driftline.calibration import CalibrationMap, fit_calibration

__all__ = [
    "PROFILE_ARTIFACT",
    "PROFILE_FORMAT",
    "QUANTILES",
    "CategoricalProfile",
    "NumericProfile",
    "ReferenceProfile",
    "bin_counts",
    "build_profile",
    "with_calibration",
    "with_importance",
]

PROFILE_ARTIFACT = "reference_profile.json"
PROFILE_FORMAT = 3  # the schema_version build_profile writes
QUANTILES = (0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99)


class NumericProfile(msgspec.Struct, kw_only=True, frozen=True):
    """``cuts`` are the inner bin edges: bin i holds values in [cuts[i-1], cuts[i]), the first
    bin everything below cuts[0] and the last everything at or above cuts[-1]."""

    name: str
    cuts: list[float]
    counts: list[int]
    quantiles: dict[str, float]
    mean: float
    std: float
    minimum: float
    maximum: float
    count: int
    missing: int = 0
    # Mean of the training values in each bin (len(cuts) + 1), for binned Wasserstein distances;
    # None in profiles written before it existed. An empty bin holds its nearest edge.
    bin_means: list[float] | None = None

    @property
    def proportions(self) -> np.ndarray:
        counts = np.asarray(self.counts, dtype=float)
        return counts / max(counts.sum(), 1.0)


class CategoricalProfile(msgspec.Struct, kw_only=True, frozen=True):
    name: str
    counts: dict[str, int]
    count: int
    missing: int = 0


class ReferenceProfile(msgspec.Struct, kw_only=True, frozen=True):
    """The summary of a model version's training data (``schema_version``: its format)."""

    schema_version: int = 1
    model_name: str = ""
    model_version: str = ""
    rows: int
    numeric: list[NumericProfile]
    categorical: list[CategoricalProfile]
    score: NumericProfile | None = None
    label_rate: float | None = None
    # format 2: score -> P(label = 1) on the holdout rows; None without holdout labels
    calibration: CalibrationMap | None = None
    # format 3: feature -> share of the model's permutation importance on the holdout rows
    # (the shares sum to 1); None without holdout labels
    importance: dict[str, float] | None = None

    @property
    def numeric_by_name(self) -> dict[str, NumericProfile]:
        return {p.name: p for p in self.numeric}

    @property
    def categorical_by_name(self) -> dict[str, CategoricalProfile]:
        return {p.name: p for p in self.categorical}

    def to_json(self) -> bytes:
        return msgspec.json.encode(self)

    @classmethod
    def from_json(cls, data: bytes | str) -> ReferenceProfile:
        return msgspec.json.decode(data, type=cls)

    def for_version(self, model_name: str, model_version: str) -> ReferenceProfile:
        return msgspec.structs.replace(self, model_name=model_name, model_version=model_version)


def bin_counts(values: np.ndarray, cuts: Sequence[float]) -> np.ndarray:
    """Counts of ``values`` in the bins defined by inner edges ``cuts`` (len(cuts) + 1 bins).

    >>> bin_counts(np.array([0.0, 1.0, 1.5, 2.0, 9.0]), [1.0, 2.0]).tolist()
    [1, 2, 2]
    """
    idx = np.searchsorted(np.asarray(cuts, dtype=float), values, side="right")
    return np.bincount(idx, minlength=len(cuts) + 1)


def _numeric(name: str, raw: Any, cuts: Sequence[float] | None, bins: int) -> NumericProfile:
    values = np.asarray(raw, dtype=float)
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        raise ValueError(f"feature {name!r} has no finite values to profile")
    if cuts is None:
        qs = np.quantile(finite, np.linspace(0, 1, bins + 1)[1:-1])
        cuts = sorted({float(q) for q in qs})
    counts = bin_counts(finite, cuts)
    quantiles = np.quantile(finite, QUANTILES)
    means = _bin_means(finite, cuts, counts)
    return NumericProfile(
        name=name,
        cuts=[float(c) for c in cuts],
        counts=[int(c) for c in counts],
        quantiles={f"{q:g}": float(v) for q, v in zip(QUANTILES, quantiles, strict=True)},
        mean=float(finite.mean()),
        std=float(finite.std()),
        minimum=float(finite.min()),
        maximum=float(finite.max()),
        count=int(finite.size),
        missing=int(values.size - finite.size),
        bin_means=means,
    )


def _bin_means(values: np.ndarray, cuts: Sequence[float], counts: np.ndarray) -> list[float]:
    """Mean value per bin; an empty bin holds its nearest edge (or the middle of its edges)."""
    edges = np.asarray(cuts, dtype=float)
    idx = np.searchsorted(edges, values, side="right")
    sums = np.bincount(idx, weights=values, minlength=len(edges) + 1)
    lower = np.concatenate([[edges[0]], edges])
    upper = np.concatenate([edges, [edges[-1]]])
    fallback = (lower + upper) / 2.0
    means = np.where(counts > 0, sums / np.maximum(counts, 1), fallback)
    return [float(m) for m in means]


def _categorical(name: str, raw: Any) -> CategoricalProfile:
    values = [v for v in raw if v is not None and v == v]
    cats, counts = np.unique(np.asarray(values, dtype=str), return_counts=True)
    return CategoricalProfile(
        name=name,
        counts={str(c): int(n) for c, n in zip(cats, counts, strict=True)},
        count=len(values),
        missing=len(raw) - len(values),
    )


def build_profile(
    columns: Mapping[str, Any],
    scores: Any | None,
    *,
    numeric: Sequence[str],
    categorical: Sequence[str],
    labels: Any | None = None,
    bins: int = 20,
    model_name: str = "",
    model_version: str = "",
) -> ReferenceProfile:
    """Summarise training columns (and the model's scores on them) into a profile."""
    if bins < 2:
        raise ValueError("bins must be at least 2")
    rows = len(next(iter(columns.values()))) if columns else 0
    return ReferenceProfile(
        schema_version=PROFILE_FORMAT,
        model_name=model_name,
        model_version=model_version,
        rows=rows,
        numeric=[_numeric(n, columns[n], None, bins) for n in numeric],
        categorical=[_categorical(n, columns[n]) for n in categorical],
        score=None if scores is None else _numeric("score", scores, None, bins),
        label_rate=None if labels is None else float(np.mean(labels)),
    )


def with_calibration(profile: ReferenceProfile, holdout_scores: Any,
                     holdout_labels: Any) -> ReferenceProfile:
    """``profile`` with the calibration of the model's scores on its labeled holdout rows
    (unchanged, without one, when they are too few or of one class).

    >>> rng = np.random.default_rng(1)
    >>> prof = build_profile({"x": rng.normal(size=300)}, rng.random(300), numeric=["x"],
    ...                      categorical=[])
    >>> s = rng.random(1000)
    >>> cal = with_calibration(prof, s, rng.random(1000) < s).calibration
    >>> cal.rows, round(float(cal.apply([0.5])[0]), 1)
    (1000, 0.5)
    """
    calibration = fit_calibration(holdout_scores, holdout_labels)
    if calibration is None:
        return profile
    return msgspec.structs.replace(profile, calibration=calibration,
                                   schema_version=max(profile.schema_version, PROFILE_FORMAT))


def with_importance(profile: ReferenceProfile,
                    shares: Mapping[str, float] | None) -> ReferenceProfile:
    """``profile`` with the model's feature-importance ``shares``
    (:func:`driftline.model.importance.importance_shares`; unchanged when None).

    >>> prof = build_profile({"x": np.arange(10.0)}, None, numeric=["x"], categorical=[])
    >>> with_importance(prof, {"x": 1.0}).importance, with_importance(prof, None) is prof
    ({'x': 1.0}, True)
    """
    if shares is None:
        return profile
    return msgspec.structs.replace(profile, importance={str(k): float(v)
                                                        for k, v in shares.items()},
                                   schema_version=max(profile.schema_version, PROFILE_FORMAT))
