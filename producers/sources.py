"""Where applications come from: the credit-risk loan generator, or river's synthetic drift
benchmarks with their own feature schemas.

A source draws ``n`` feature rows with labels under the :class:`~producers.scenarios.Conditions`
of the moment. The river sources read one knob of the conditions, ``params.concept``: at 0
they draw from the first concept (Agrawal's classification function, SEA's variant), at 1 from
the second, in between from a mixture. So ``stable:10m,concept-flip`` is the classic "switch of
classification function at a position" (position = onset x requests per simulated second),
and ``concept-flip:gradual=W`` the gradual version, as in published drift detection results.

Source specs: ``loans`` (default), ``agrawal[:function=0][:to=4][:perturbation=0.0]``,
``sea[:variant=0][:to=3][:noise=0.0]``.

>>> source = parse_source("sea:variant=0:to=3", seed=1)
>>> rows, labels = source.sample(2, Conditions())
>>> [{k: round(v, 2) for k, v in row.items()} for row in rows], labels.tolist()
([{'x0': 1.34, 'x1': 8.47, 'x2': 7.64}, {'x0': 2.55, 'x1': 4.95, 'x2': 4.49}], [1, 0])
>>> source.schema.names, source.model_name
(['x0', 'x1', 'x2'], 'sea')
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from typing import Any, ClassVar

import numpy as np

from driftline.events import FeatureValue
from driftline.features import CREDIT_RISK, CategoricalFeature, FeatureSchema, NumericFeature
from producers.generator import LoanGenerator
from producers.scenarios import DRIFTS, Conditions

__all__ = [
    "AGRAWAL",
    "SEA",
    "AgrawalSource",
    "LoanSource",
    "SeaSource",
    "Source",
    "parse_source",
]

Row = dict[str, FeatureValue]

AGRAWAL = FeatureSchema(
    numeric=(
        NumericFeature("salary", 20_000.0, 150_000.0),
        NumericFeature("commission", 0.0, 85_000.0),
        NumericFeature("age", 20.0, 80.0, unit="years"),
        NumericFeature("hvalue", 0.0, 1_200_000.0, "house value"),
        NumericFeature("hyears", 1.0, 30.0, "years the house is owned", "years"),
        NumericFeature("loan", 0.0, 500_000.0),
    ),
    categorical=(
        CategoricalFeature("elevel", tuple(str(i) for i in range(5)), "education level"),
        CategoricalFeature("car", tuple(str(i) for i in range(1, 21)), "car make"),
        CategoricalFeature("zipcode", tuple(str(i) for i in range(9))),
    ),
    target="class",
)

SEA = FeatureSchema(
    numeric=tuple(NumericFeature(f"x{i}", 0.0, 10.0) for i in range(3)),
    categorical=(),
    target="class",
)


class Source(ABC):
    """Draws feature rows and labels under given conditions; seeded at construction."""

    name: ClassVar[str]
    schema: FeatureSchema
    model_name: str | None = None  # written into TransactionEvent.model_name
    drifts: ClassVar[frozenset[str]]  # the scenarios this source understands

    @abstractmethod
    def sample(self, n: int, conditions: Conditions) -> tuple[list[Row], np.ndarray]:
        """``n`` rows (feature name -> value) and their labels (0 or 1)."""

    def describe(self) -> str:
        return self.name


class LoanSource(Source):
    """Credit-risk loan applications from :class:`~producers.generator.LoanGenerator`."""

    name = "loans"
    drifts = frozenset(DRIFTS)

    def __init__(self, seed: int = 0) -> None:
        self.schema = CREDIT_RISK
        self._generator = LoanGenerator(seed=seed)

    def sample(self, n: int, conditions: Conditions) -> tuple[list[Row], np.ndarray]:
        batch = self._generator.sample(n, conditions.params)
        return batch.rows(), batch.labels  # type: ignore[return-value]


class _RiverSource(Source):
    """Two river streams, one per concept, mixed by ``conditions.params.concept``."""

    drifts = frozenset({"stable", "concept-flip", "data-quality"})

    def __init__(self, before: Any, after: Any, seed: int, label: str) -> None:
        self._before: Iterator[tuple[dict[Any, Any], Any]] = iter(before)
        self._after: Iterator[tuple[dict[Any, Any], Any]] = iter(after)
        self._rng = np.random.default_rng(seed)
        self._label = label

    def _row(self, x: dict[Any, Any]) -> Row:
        raise NotImplementedError

    def sample(self, n: int, conditions: Conditions) -> tuple[list[Row], np.ndarray]:
        concept = conditions.params.concept
        if concept <= 0.0:
            picks = np.zeros(n, dtype=bool)
        elif concept >= 1.0:
            picks = np.ones(n, dtype=bool)
        else:
            picks = self._rng.random(n) < concept
        rows: list[Row] = []
        labels = np.empty(n, dtype=np.int64)
        for i, after in enumerate(picks):
            x, y = next(self._after if after else self._before)
            rows.append(self._row(x))
            labels[i] = int(y)
        return rows, labels

    def describe(self) -> str:
        return f"{self.name} ({self._label})"


class AgrawalSource(_RiverSource):
    """river's Agrawal stream: classification ``function`` first, ``to`` after concept-flip."""

    name = "agrawal"
    model_name = "agrawal"

    def __init__(
        self, seed: int = 0, function: int = 0, to: int = 4, perturbation: float = 0.0
    ) -> None:
        from river.datasets.synth import Agrawal

        for f in (function, to):
            if not 0 <= f <= 9:
                raise ValueError(f"agrawal: classification functions are 0..9, got {f}")
        self.schema = AGRAWAL
        super().__init__(
            Agrawal(classification_function=function, seed=seed, perturbation=perturbation),
            Agrawal(classification_function=to, seed=seed + 1, perturbation=perturbation),
            seed,
            f"function {function} -> {to}",
        )

    def _row(self, x: dict[Any, Any]) -> Row:
        return {
            "salary": float(x["salary"]),
            "commission": float(x["commission"]),
            "age": float(x["age"]),
            "hvalue": float(x["hvalue"]),
            "hyears": float(x["hyears"]),
            "loan": float(x["loan"]),
            "elevel": str(x["elevel"]),
            "car": str(x["car"]),
            "zipcode": str(x["zipcode"]),
        }


class SeaSource(_RiverSource):
    """river's SEA stream: threshold ``variant`` first, ``to`` after concept-flip."""

    name = "sea"
    model_name = "sea"

    def __init__(self, seed: int = 0, variant: int = 0, to: int = 3, noise: float = 0.0) -> None:
        from river.datasets.synth import SEA as RiverSEA

        for v in (variant, to):
            if not 0 <= v <= 3:
                raise ValueError(f"sea: variants are 0..3, got {v}")
        self.schema = SEA
        super().__init__(
            RiverSEA(variant=variant, noise=noise, seed=seed),
            RiverSEA(variant=to, noise=noise, seed=seed + 1),
            seed,
            f"variant {variant} -> {to}",
        )

    def _row(self, x: dict[Any, Any]) -> Row:
        return {f"x{k}": float(v) for k, v in x.items()}


_OPTIONS: dict[str, tuple[type[Source], dict[str, type]]] = {
    "loans": (LoanSource, {}),
    "agrawal": (AgrawalSource, {"function": int, "to": int, "perturbation": float}),
    "sea": (SeaSource, {"variant": int, "to": int, "noise": float}),
}


def parse_source(text: str, seed: int = 0) -> Source:
    """Build the source named by ``text`` (see the module docstring), seeded with ``seed``.

    >>> parse_source("agrawal:function=2:to=7").describe()
    'agrawal (function 2 -> 7)'
    >>> parse_source("hyperplane")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: unknown source 'hyperplane'; choose loans, agrawal[...] or sea[...]
    """
    name, *tokens = text.strip().split(":")
    if name not in _OPTIONS:
        raise ValueError(
            f"unknown source {name!r}; choose loans, "
            "agrawal[:function=0:to=4:perturbation=0.0] or sea[:variant=0:to=3:noise=0.0]"
        )
    cls, allowed = _OPTIONS[name]
    kwargs: dict[str, Any] = {}
    for token in tokens:
        key, sep, value = token.partition("=")
        if not sep or key not in allowed:
            options = ", ".join(allowed) or "no options"
            raise ValueError(f"{text!r}: unexpected {token!r}; {name} takes {options}")
        try:
            kwargs[key] = allowed[key](value)
        except ValueError:
            raise ValueError(f"{text!r}: {key} must be a number, got {value!r}") from None
    return cls(seed=seed, **kwargs)
