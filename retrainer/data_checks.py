"""Checks of a set of labeled rows before anything is trained or evaluated on it.

:func:`check_rows` takes the rows' features and labels, the model's inputs (``(name, kind)``
from its signature), its feature ranges and reference profile when it has them, and
:class:`DataThresholds`. It answers a :class:`DataReport`: one :class:`Check` per column and
per set-wide test, whether the set passes, why not, and which rows are usable.

- **Schema and ranges**: a value must have its column's kind (a finite number for ``float``
  and ``int``, a non-empty string for ``str``, a boolean for ``bool``) and, for a numeric
  input with recorded ranges, lie within them. The share of invalid values per column must
  not exceed ``max_invalid_share``.
- **Missing share**: the share of rows without a value per column must not exceed
  ``max_missing_share``.
- **Labels**: every label is 0 or 1 (the others count as invalid), each class has at least
  ``min_rows_per_class`` rows and the minority class at least ``min_minority_share``.
- **Distribution**: against the reference profile, PSI on the profile's bins for a numeric
  input and Jensen-Shannon distance on the categories for a categorical one
  (:mod:`driftline.drift_statistics`, as the monitor), enforced only when ``max_psi`` and
  ``max_jensen_shannon`` are set: a retrain answers drift, and on quantile bins the PSI of a
  broken feed is no higher than that of a strong real shift. What is always refused is a
  numeric input collapsed to one value where the reference had a spread (a feed writing a
  constant).

A usable row has a valid value for every input and a valid label; a passing set is trained
(or scored) on its usable rows only.

>>> columns = [("income", "float"), ("channel", "str")]
>>> rows = [{"income": 1000.0 + i, "channel": "web"} for i in range(40)]
>>> labels = [i % 2 for i in range(40)]
>>> report = check_rows(rows, labels, columns, thresholds=DataThresholds(min_rows_per_class=5))
>>> report.passed, report.usable_rows
(True, 40)
>>> rows[0] = {"income": "n/a", "channel": "web"}
>>> rows[1] = {"channel": "web"}
>>> report = check_rows(rows, labels, columns, thresholds=DataThresholds(min_rows_per_class=5))
>>> report.passed, report.usable_rows
(False, 38)
>>> report.reasons
['income: 2.5% of values invalid (not a finite number), more than the 1.0% allowed']
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from driftline.drift_statistics import jensen_shannon, psi
from driftline.features import FeatureSchema
from driftline.profile import ReferenceProfile, bin_counts

__all__ = ["Check", "DataReport", "DataThresholds", "check_rows"]

_EXPECTED = {
    "float": "a finite number",
    "int": "a whole number",
    "bool": "true or false",
    "str": "a non-empty string",
}


@dataclass(frozen=True)
class DataThresholds:
    """Bounds a set of labeled rows must keep (``None``: the check is reported, not
    enforced)."""

    max_missing_share: float = 0.05
    max_invalid_share: float = 0.01
    min_rows_per_class: int = 20
    min_minority_share: float = 0.01
    max_psi: float | None = None
    max_jensen_shannon: float | None = None


@dataclass(frozen=True)
class Check:
    """One check of one column (``column`` is ``""`` for a set-wide check): the value
    measured, its bound, whether it held, and the reason when not."""

    column: str
    check: str
    value: float
    threshold: float | None
    passed: bool
    reason: str = ""


@dataclass(frozen=True)
class DataReport:
    """What :func:`check_rows` found; ``usable`` marks the rows fit to train or score on."""

    rows: int
    checks: list[Check] = field(default_factory=list)
    usable: list[bool] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.checks)

    @property
    def reasons(self) -> list[str]:
        return [c.reason for c in self.checks if not c.passed]

    @property
    def usable_rows(self) -> int:
        return sum(self.usable)

    def summary(self) -> str:
        """One line: passed, or the reasons joined."""
        if self.passed:
            return f"{self.rows} rows passed {len(self.checks)} checks"
        return "; ".join(self.reasons)


def _valid(value: Any, kind: str, low: float | None, high: float | None) -> bool:
    if kind == "str":
        return isinstance(value, str) and value != ""
    if kind == "bool":
        return isinstance(value, bool)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    number = float(value)
    if not math.isfinite(number):
        return False
    if kind == "int" and not number.is_integer():
        return False
    return (low is None or number >= low) and (high is None or number <= high)


def _num(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:g}"


def _pct(share: float) -> str:
    return f"{share:.1%}"


def _bounded(column: str, check: str, value: float, limit: float | None, *, most: bool,
             reason: str) -> Check:
    """A check that holds when ``value`` is at most (``most``) or at least ``limit``."""
    if limit is None:
        return Check(column, check, value, None, True)
    passed = value <= limit if most else value >= limit
    return Check(column, check, value, limit, passed, "" if passed else reason)


def _column_checks(
    name: str, kind: str, values: list[Any], features: FeatureSchema | None,
    limits: DataThresholds, usable: list[bool],
) -> list[Check]:
    low = high = None
    if features is not None and kind in ("float", "int"):
        ranges = {f.name: f for f in features.numeric}.get(name)
        if ranges is not None:
            low, high = ranges.minimum, ranges.maximum
    n = len(values)
    missing = invalid = 0
    for i, value in enumerate(values):
        if value is None:
            missing += 1
            usable[i] = False
        elif not _valid(value, kind, low, high):
            invalid += 1
            usable[i] = False
    expected = _EXPECTED.get(kind, kind)
    if low is not None:
        expected += f" in [{_num(low)}, {_num(high)}]"
    missing_share, invalid_share = missing / max(n, 1), invalid / max(n, 1)
    return [
        _bounded(name, "missing_share", missing_share, limits.max_missing_share, most=True,
                 reason=f"{name}: {_pct(missing_share)} of values missing, more than the "
                 f"{_pct(limits.max_missing_share)} allowed"),
        _bounded(name, "invalid_share", invalid_share, limits.max_invalid_share, most=True,
                 reason=f"{name}: {_pct(invalid_share)} of values invalid (not {expected}), "
                 f"more than the {_pct(limits.max_invalid_share)} allowed"),
    ]


def _label_checks(labels: Sequence[Any], limits: DataThresholds,
                  usable: list[bool]) -> list[Check]:
    counts: Counter[int] = Counter()
    invalid = 0
    for i, label in enumerate(labels):
        if label in (0, 1) and not isinstance(label, bool | float):
            counts[int(label)] += 1
        else:
            invalid += 1
            usable[i] = False
    n = len(labels)
    invalid_share = invalid / max(n, 1)
    fewest = min(counts[0], counts[1])
    minority = fewest / max(counts[0] + counts[1], 1)
    return [
        _bounded("label", "invalid_share", invalid_share, limits.max_invalid_share, most=True,
                 reason=f"label: {_pct(invalid_share)} of labels not 0 or 1, more than the "
                 f"{_pct(limits.max_invalid_share)} allowed"),
        _bounded("label", "rows_per_class", float(fewest), float(limits.min_rows_per_class),
                 most=False, reason=f"label: {counts[0]} rows of class 0 and {counts[1]} of "
                 f"class 1, fewer than the {limits.min_rows_per_class} needed of each"),
        _bounded("label", "minority_share", minority, limits.min_minority_share, most=False,
                 reason=f"label: the minority class is {_pct(minority)} of the rows, less than "
                 f"the {_pct(limits.min_minority_share)} needed"),
    ]


def _distribution_checks(
    columns: Mapping[str, list[Any]], kinds: Mapping[str, str], profile: ReferenceProfile,
    usable: Sequence[bool], limits: DataThresholds,
) -> list[Check]:
    checks = []
    for ref in profile.numeric:
        if ref.name not in columns or kinds.get(ref.name) not in ("float", "int") or not ref.cuts:
            continue
        values = np.asarray([v for v, ok in zip(columns[ref.name], usable, strict=True) if ok],
                            dtype=float)
        if values.size == 0:
            continue
        distinct = float(np.unique(values).size)
        if ref.std > 0:
            checks.append(_bounded(
                ref.name, "distinct_values", distinct, 2.0, most=False,
                reason=f"{ref.name}: every value is {_num(values[0])}, where the reference "
                f"spreads from {_num(ref.minimum)} to {_num(ref.maximum)}"))
        value = psi(ref.counts, bin_counts(values, ref.cuts))
        checks.append(_bounded(
            ref.name, "psi", value, limits.max_psi, most=True,
            reason=f"{ref.name}: PSI {value:.2f} against the reference, above "
            f"{limits.max_psi:g}: a broken feed, not drift?" if limits.max_psi else ""))
    for cat in profile.categorical:
        if cat.name not in columns or kinds.get(cat.name) != "str":
            continue
        current = Counter(v for v, ok in zip(columns[cat.name], usable, strict=True) if ok)
        if not current:
            continue
        value = jensen_shannon(cat.counts, current)
        checks.append(_bounded(
            cat.name, "jensen_shannon", value, limits.max_jensen_shannon, most=True,
            reason=f"{cat.name}: Jensen-Shannon distance {value:.3f} against the reference, "
            f"above {limits.max_jensen_shannon:g}" if limits.max_jensen_shannon else ""))
    return checks


def check_rows(
    rows: Sequence[Mapping[str, Any]],
    labels: Sequence[Any],
    columns: Sequence[tuple[str, str]],
    *,
    features: FeatureSchema | None = None,
    profile: ReferenceProfile | None = None,
    thresholds: DataThresholds | None = None,
) -> DataReport:
    """Check ``rows`` (feature mappings) and their ``labels`` against the model's inputs
    ``columns`` (``(name, kind)``), its ranges ``features`` and reference ``profile``."""
    if len(rows) != len(labels):
        raise ValueError(f"{len(rows)} rows but {len(labels)} labels")
    limits = thresholds or DataThresholds()
    usable = [True] * len(rows)
    if not rows:
        return DataReport(0, [Check("", "rows", 0.0, 1.0, False, "no rows to check")], usable)
    checks: list[Check] = []
    values = {name: [r.get(name) for r in rows] for name, _ in columns}
    for name, kind in columns:
        checks += _column_checks(name, kind, values[name], features, limits, usable)
    checks += _label_checks(labels, limits, usable)
    if profile is not None:
        checks += _distribution_checks(values, dict(columns), profile, usable, limits)
    return DataReport(len(rows), checks, usable)
