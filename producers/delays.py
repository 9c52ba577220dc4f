"""How late ground truth arrives: label delay distributions and the share that never arrives.

A delay spec is ``KIND:SCALE[:key=value]`` in simulated time:

- ``fixed:5m``: every label exactly 5 minutes after its prediction;
- ``exponential:30m`` (or ``exp:30m``): memoryless, mean 30 minutes;
- ``lognormal:1h:sigma=1.0``: median 1 hour, heavy right tail;
- ``pareto:10m:alpha=1.5``: at least 10 minutes, power-law tail (infinite variance below
  ``alpha=2``).

>>> delays = LabelDelays(parse_delay("exponential:30m"), never=0.1)
>>> sample = delays.sample(np.random.default_rng(1), 6)
>>> [None if np.isnan(d) else round(float(d)) for d in sample]
[1931, 555, None, 660, 208, 3240]
>>> print(delays.describe())
exponential, mean 30m; 10% never arrive
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np
from scipy.special import ndtr

from producers.durations import format_duration, parse_duration

__all__ = [
    "DelayDistribution",
    "Exponential",
    "Fixed",
    "LabelDelays",
    "LogNormal",
    "Pareto",
    "parse_delay",
]


class DelayDistribution(ABC):
    """A distribution of label delays in seconds: draw from it and evaluate its CDF."""

    @abstractmethod
    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """``n`` delays in seconds."""

    @abstractmethod
    def cdf(self, x: np.ndarray) -> np.ndarray:
        """P(delay <= x) for each ``x`` in seconds."""

    @abstractmethod
    def describe(self) -> str: ...


@dataclass(frozen=True)
class Fixed(DelayDistribution):
    seconds: float

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return np.full(n, float(self.seconds))

    def cdf(self, x: np.ndarray) -> np.ndarray:
        return (np.asarray(x, dtype=float) >= self.seconds).astype(float)

    def describe(self) -> str:
        return f"fixed {format_duration(self.seconds)}"


@dataclass(frozen=True)
class Exponential(DelayDistribution):
    mean: float

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return rng.exponential(self.mean, n)

    def cdf(self, x: np.ndarray) -> np.ndarray:
        return 1.0 - np.exp(-np.maximum(np.asarray(x, dtype=float), 0.0) / self.mean)

    def describe(self) -> str:
        return f"exponential, mean {format_duration(self.mean)}"


@dataclass(frozen=True)
class LogNormal(DelayDistribution):
    median: float
    sigma: float = 1.0

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return self.median * np.exp(self.sigma * rng.standard_normal(n))

    def cdf(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=float)
        with np.errstate(divide="ignore"):
            z = np.log(np.maximum(x, 0.0) / self.median) / self.sigma
        return ndtr(z)

    def describe(self) -> str:
        return f"lognormal, median {format_duration(self.median)}, sigma {self.sigma:g}"


@dataclass(frozen=True)
class Pareto(DelayDistribution):
    minimum: float
    alpha: float = 1.5

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        # inverse CDF: x = minimum * U^(-1/alpha), U uniform on (0, 1]
        return self.minimum * (1.0 - rng.random(n)) ** (-1.0 / self.alpha)

    def cdf(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=float)
        safe = np.maximum(x, self.minimum)
        return np.where(x < self.minimum, 0.0, 1.0 - (self.minimum / safe) ** self.alpha)

    def describe(self) -> str:
        return f"pareto, minimum {format_duration(self.minimum)}, alpha {self.alpha:g}"


@dataclass(frozen=True)
class LabelDelays:
    """A delay distribution and the share ``never`` of labels that never arrive."""

    distribution: DelayDistribution
    never: float = 0.0

    def __post_init__(self) -> None:
        if not 0.0 <= self.never <= 1.0:
            raise ValueError(f"the share of labels that never arrive must be within 0..1, "
                             f"got {self.never:g}")

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """``n`` delays in seconds; NaN where the label never arrives. Draws the delays and
        the losses from ``rng`` in a fixed order, so a seed fixes both."""
        delays = self.distribution.sample(rng, n)
        lost = rng.random(n) < self.never
        return np.where(lost, np.nan, delays)

    def describe(self) -> str:
        tail = f"; {self.never:.0%} never arrive" if self.never else ""
        return self.distribution.describe() + tail


_KINDS = {
    "fixed": (Fixed, {}),
    "exponential": (Exponential, {}),
    "exp": (Exponential, {}),
    "lognormal": (LogNormal, {"sigma"}),
    "pareto": (Pareto, {"alpha"}),
}


def parse_delay(text: str) -> DelayDistribution:
    """Read a delay spec (see the module docstring).

    >>> parse_delay("lognormal:1h:sigma=0.8")
    LogNormal(median=3600.0, sigma=0.8)
    >>> parse_delay("pareto:10m")
    Pareto(minimum=600.0, alpha=1.5)
    >>> parse_delay("weibull:1h")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: unknown label delay 'weibull'; choose fixed:5m, exponential:30m, ...
    """
    kind, _, rest = text.strip().partition(":")
    if kind not in _KINDS:
        raise ValueError(
            f"unknown label delay {kind!r}; choose fixed:5m, exponential:30m, "
            "lognormal:1h[:sigma=1.0] or pareto:10m[:alpha=1.5]"
        )
    cls, allowed = _KINDS[kind]
    scale_text, *tokens = rest.split(":") if rest else [""]
    if not scale_text:
        raise ValueError(f"{text!r}: give the delay's scale, e.g. {kind}:30m")
    scale = parse_duration(scale_text)
    options: dict[str, float] = {}
    for token in tokens:
        key, sep, value = token.partition("=")
        if not sep or key not in allowed:
            raise ValueError(
                f"{text!r}: unexpected {token!r}; {kind} takes "
                + (", ".join(f"{a}=<number>" for a in sorted(allowed)) or "no options")
            )
        options[key] = float(value)
    if kind != "fixed" and scale <= 0:
        raise ValueError(f"{text!r}: the scale must be positive")
    for key, value in options.items():
        if not (value > 0 and math.isfinite(value)):
            raise ValueError(f"{text!r}: {key} must be a positive number")
    return cls(scale, **options)
