"""The default model's feature schema: the credit-risk loan application.

One place that says which features exist, their types and the values a request may carry.
The scorer validates requests against it, the generator produces it, the profile summarises it.

>>> [f.name for f in CREDIT_RISK.numeric]
['annual_income', 'loan_amount', 'employment_years', 'existing_debt_ratio', 'credit_history_months']
>>> CREDIT_RISK.categorical[0].categories
('web', 'mobile', 'branch', 'partner')
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "CREDIT_RISK",
    "CategoricalFeature",
    "FeatureSchema",
    "NumericFeature",
]


@dataclass(frozen=True)
class NumericFeature:
    name: str
    minimum: float
    maximum: float
    description: str = ""
    unit: str = ""


@dataclass(frozen=True)
class CategoricalFeature:
    name: str
    categories: tuple[str, ...]
    description: str = ""


@dataclass(frozen=True)
class FeatureSchema:
    """Ordered features of one model: numeric first, then categorical."""

    numeric: tuple[NumericFeature, ...]
    categorical: tuple[CategoricalFeature, ...]
    target: str = "default"

    @property
    def names(self) -> list[str]:
        return [f.name for f in self.numeric] + [f.name for f in self.categorical]

    @property
    def numeric_names(self) -> list[str]:
        return [f.name for f in self.numeric]

    @property
    def categorical_names(self) -> list[str]:
        return [f.name for f in self.categorical]


CREDIT_RISK = FeatureSchema(
    numeric=(
        NumericFeature("annual_income", 0.0, 1e9, "gross annual income", "INR"),
        NumericFeature("loan_amount", 1_000.0, 1e8, "principal requested", "INR"),
        NumericFeature("employment_years", 0.0, 60.0, "years in current employment", "years"),
        NumericFeature("existing_debt_ratio", 0.0, 5.0, "existing debt service / income", ""),
        NumericFeature("credit_history_months", 0.0, 720.0, "age of credit file", "months"),
    ),
    categorical=(
        CategoricalFeature("channel", ("web", "mobile", "branch", "partner"), "where it came in"),
        CategoricalFeature("city_tier", ("tier1", "tier2", "tier3"), "city classification"),
    ),
)
