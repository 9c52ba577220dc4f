"""Synthetic loan applications with ground truth.

Marginals are realistic for Indian retail lending (amounts in rupees): annual income lognormal
around 6 lakh, loan amount lognormal with a mean of 2.5 lakh and tied to income; employment
years, existing debt ratio and credit-history length correlated through a Gaussian copula.
The label (default within the horizon) comes from a known logistic function with noise, so a
model trained on it reaches an AUC around 0.8 and no model can reach 1.0.

Everything is a pure function of ``(params, seed)``: the same seed gives the same stream.

>>> gen = LoanGenerator(seed=7)
>>> batch = gen.sample(5)
>>> sorted(batch.columns)[:3]
['annual_income', 'channel', 'city_tier']
>>> batch.labels.tolist() == LoanGenerator(seed=7).sample(5).labels.tolist()
True
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from driftline.features import CREDIT_RISK

__all__ = ["Batch", "GeneratorParams", "LoanGenerator", "default_probability"]

LAKH = 100_000.0
CHANNELS = CREDIT_RISK.categorical[0].categories
TIERS = CREDIT_RISK.categorical[1].categories

# Correlation of the latent normals behind (income, loan, employment, debt ratio, history).
_CORR = np.array(
    [
        [1.00, 0.55, 0.45, -0.20, 0.40],
        [0.55, 1.00, 0.20, 0.15, 0.20],
        [0.45, 0.20, 1.00, -0.10, 0.55],
        [-0.20, 0.15, -0.10, 1.00, -0.05],
        [0.40, 0.20, 0.55, -0.05, 1.00],
    ]
)
_CHOL = np.linalg.cholesky(_CORR)


@dataclass(frozen=True)
class GeneratorParams:
    """The knobs scenarios turn. Defaults are the stable, pre-drift population."""

    income_median: float = 6.0 * LAKH
    income_sigma: float = 0.55
    loan_mean: float = 2.5 * LAKH
    loan_sigma: float = 0.45
    channel_probs: dict[str, float] = field(
        default_factory=lambda: {"web": 0.40, "mobile": 0.30, "branch": 0.20, "partner": 0.10}
    )
    tier_probs: dict[str, float] = field(
        default_factory=lambda: {"tier1": 0.45, "tier2": 0.35, "tier3": 0.20}
    )
    # concept: 0.0 is the training-time relationship, 1.0 the flipped one (debt ratio and
    # loan-to-income that meant risk now mean recovery); values between blend the two.
    concept: float = 0.0
    label_noise: float = 0.30

    def with_(self, **changes: Any) -> GeneratorParams:
        return replace(self, **changes)


@dataclass
class Batch:
    """Columns of ``n`` applications, their labels and true default probabilities."""

    columns: dict[str, np.ndarray]
    labels: np.ndarray
    probabilities: np.ndarray

    def __len__(self) -> int:
        return len(self.labels)

    def rows(self) -> list[dict[str, float | str]]:
        """Row dicts in feature-schema order (numbers as float, categories as str)."""
        names = CREDIT_RISK.names
        cols = [self.columns[n].tolist() for n in names]
        return [dict(zip(names, values, strict=True)) for values in zip(*cols, strict=True)]


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def default_probability(
    columns: dict[str, np.ndarray], concept: float | np.ndarray = 0.0
) -> np.ndarray:
    """The true probability of default: a known logistic function of the features."""
    income = np.maximum(columns["annual_income"], 1.0)
    lti = columns["loan_amount"] / income
    debt = columns["existing_debt_ratio"]
    emp = columns["employment_years"]
    hist = columns["credit_history_months"]
    channel = columns["channel"]
    tier = columns["city_tier"]
    # The risk direction of loan-to-income and debt ratio blends from +1 to -1 as concept
    # moves from 0 to 1.
    direction = 1.0 - 2.0 * np.asarray(concept, dtype=float)
    logit = (
        -2.0
        + direction * (2.6 * (np.log1p(lti * 2.0) - 0.55) + 4.0 * (debt - 0.32))
        - 0.10 * (np.minimum(emp, 25.0) - 6.0)
        - 0.008 * (np.minimum(hist, 240.0) - 80.0)
        + np.where(channel == "partner", 0.7, 0.0)
        + np.where(channel == "branch", -0.3, 0.0)
        + np.where(tier == "tier3", 0.4, 0.0)
    )
    return _sigmoid(logit)


class LoanGenerator:
    """Seeded source of loan applications; ``sample`` draws the next ``n`` rows."""

    def __init__(self, seed: int = 0, params: GeneratorParams | None = None) -> None:
        self.seed = seed
        self.params = params or GeneratorParams()
        self._rng = np.random.default_rng(seed)

    def sample(self, n: int, params: GeneratorParams | None = None) -> Batch:
        """Draw ``n`` applications under ``params`` (default: the generator's own)."""
        p = params or self.params
        rng = self._rng
        z = rng.standard_normal((n, 5)) @ _CHOL.T
        u = _norm_cdf(z)
        income = p.income_median * np.exp(p.income_sigma * z[:, 0])
        # lognormal with the requested mean: median = mean / exp(sigma^2 / 2)
        loan_median = p.loan_mean / np.exp(p.loan_sigma**2 / 2)
        loan = loan_median * np.exp(p.loan_sigma * z[:, 1])
        employment = np.clip(_gamma_ppf_approx(u[:, 2], shape=2.0, scale=3.5), 0.0, 45.0)
        debt = np.clip(0.32 + 0.16 * z[:, 3], 0.0, 1.8)
        history = np.clip(18.0 + 70.0 * u[:, 4] + 40.0 * u[:, 2], 0.0, 600.0)
        channel = rng.choice(
            np.array(list(p.channel_probs), dtype=object), size=n,
            p=_normalised(p.channel_probs),
        )
        tier = rng.choice(
            np.array(list(p.tier_probs), dtype=object), size=n, p=_normalised(p.tier_probs)
        )
        columns = {
            "annual_income": np.round(income, 0),
            "loan_amount": np.round(np.clip(loan, 1_000.0, 1e8), 0),
            "employment_years": np.round(employment, 1),
            "existing_debt_ratio": np.round(debt, 3),
            "credit_history_months": np.round(history, 0),
            "channel": channel,
            "city_tier": tier,
        }
        prob = default_probability(columns, p.concept)
        # Label noise: an unobserved shock moves each applicant's log-odds.
        noisy = _sigmoid(np.log(prob / (1 - prob)) + p.label_noise * rng.standard_normal(n))
        labels = (rng.random(n) < noisy).astype(np.int64)
        return Batch(columns=columns, labels=labels, probabilities=prob)


def _normalised(probs: dict[str, float]) -> np.ndarray:
    values = np.array(list(probs.values()), dtype=float)
    if (values < 0).any() or values.sum() <= 0:
        raise ValueError(f"category probabilities must be >= 0 with a positive sum: {probs}")
    return values / values.sum()


def _norm_cdf(z: np.ndarray) -> np.ndarray:
    from scipy.special import ndtr

    return ndtr(z)


def _gamma_ppf_approx(u: np.ndarray, shape: float, scale: float) -> np.ndarray:
    from scipy.special import gammaincinv

    return gammaincinv(shape, np.clip(u, 1e-9, 1 - 1e-9)) * scale
