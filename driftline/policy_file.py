r"""The monitoring policy file's schema and parsing: TOML in, a validated :class:`PolicyFile`
out, nothing else (no settings, no defaults merged).

A TOML file (``DRIFTLINE_POLICY_FILE``) holds a ``[defaults]`` table and one
``[models.<name>]`` table per model, each with the same keys, all optional. The monitor reads
how windows are judged and when they raise (:mod:`monitor.merging.policy_file` merges them
over its settings); the retrainer reads which drift kinds trigger a retrain of its model
(``[models.<name>.retrain]``, over ``DRIFTLINE_RETRAIN_KINDS``):

.. code-block:: toml

    [defaults]
    false_alarms = 1             # expected false drift events per 30 days of stable traffic
    cooldown = 1800              # event-time seconds between two events of one kind

    [models.credit-risk]
    ignore = ["channel"]         # neither judged nor counted in the dataset share
    [models.credit-risk.features.loan_amount]
    method = "psi"               # psi, ks, wasserstein, chi_square, jensen_shannon
    threshold = 0.1              # for ks and chi_square: the p-value's alpha (then outside
                                 # the false-alarm contract)
    [models.credit-risk.retrain]
    kinds = ["performance", "concept"]   # drift kinds that trigger a retrain of this model

A file is validated whole when it is loaded: an unknown key or a bad value raises
ConfigurationError naming its path in the file.

>>> file = parse_policy_file('''
... [defaults.retrain]
... kinds = ["concept"]
... [models.credit-risk.retrain]
... kinds = ["covariate", "performance"]
... ''')
>>> file.retrain_kinds("credit-risk"), file.retrain_kinds("another")
(('covariate', 'performance'), ('concept',))
>>> parse_policy_file("").retrain_kinds("credit-risk") is None
True
>>> try:
...     parse_policy_file('[models.m.retrain]\nkinds = ["weather"]', source="policy.toml")
... except ConfigurationError as exc:
...     print(exc)  # doctest: +ELLIPSIS
policy.toml: models.m.retrain.kinds.0: Input should be 'covariate', ... (got 'weather')
>>> try:
...     parse_policy_file('[models.m.features.x]\nthreshhold = 1', source="policy.toml")
... except ConfigurationError as exc:
...     print(exc)
policy.toml: models.m.features.x.threshhold: unknown key; did you mean threshold?
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal, get_args

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from driftline.errors import ConfigurationError  # noqa: F401  (its doctests catch it)
from driftline.events import DriftKind
from driftline.toml_file import load_toml, parse_toml

__all__ = [
    "DEFAULT_RETRAIN_KINDS",
    "DRIFT_KINDS",
    "METHODS",
    "METRICS",
    "FeaturePolicy",
    "ModelPolicy",
    "PolicyFile",
    "RetrainPolicy",
    "Thresholds",
    "load_policy_file",
    "parse_kinds",
    "parse_policy_file",
]

Method = Literal["psi", "ks", "wasserstein", "chi_square", "jensen_shannon"]
# The performance metrics the monitor judges (monitor.drift.performance.DEFAULT_TOLERANCES;
# a test keeps the two equal).
Metric = Literal["accuracy", "roc_auc", "f1", "log_loss", "brier"]
Positive = Annotated[float, Field(gt=0, allow_inf_nan=False)]
Alpha = Annotated[float, Field(gt=0, lt=1)]
Share = Annotated[float, Field(gt=0, le=1)]
Fraction = Annotated[float, Field(ge=0, le=1)]

METHODS: tuple[str, ...] = get_args(Method)
METRICS: tuple[str, ...] = get_args(Metric)
DRIFT_KINDS: tuple[str, ...] = get_args(DriftKind)
DEFAULT_RETRAIN_KINDS: tuple[DriftKind, ...] = ("covariate", "performance", "concept")
_P_VALUE_METHODS = ("ks", "chi_square")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FeaturePolicy(_Strict):
    """One feature's own test and threshold."""

    method: Method | None = Field(None, description="The test that decides this feature.")
    threshold: Positive | None = Field(
        None, description="The method's threshold (an alpha in (0, 1) for ks, chi_square).")

    @model_validator(mode="after")
    def _threshold_fits_method(self) -> FeaturePolicy:
        if self.threshold is not None and self.method is None:
            raise ValueError("a threshold needs a method: its meaning depends on the test")
        if self.method in _P_VALUE_METHODS and self.threshold is not None and self.threshold >= 1:
            raise ValueError(f"the threshold of {self.method} is a p-value's alpha, in (0, 1)")
        return self


class Thresholds(_Strict):
    """Default thresholds of every test (see :mod:`monitor.drift.judge`)."""

    psi: Positive | None = None
    ks_p_value: Alpha | None = None
    wasserstein: Positive | None = None
    chi_square_p_value: Alpha | None = None
    jensen_shannon: Positive | None = None
    unseen_share: Share | None = None
    missing_tolerance: Share | None = None


class RetrainPolicy(_Strict):
    """What the retrainer of a model reads: the drift kinds that trigger a retrain."""

    kinds: list[DriftKind] | None = Field(
        None, description="Drift kinds that trigger a retrain (unset: DRIFTLINE_RETRAIN_KINDS).")

    @field_validator("kinds")
    @classmethod
    def _some_kinds_once_each(cls, kinds: list[DriftKind] | None) -> list[DriftKind] | None:
        if kinds is not None:
            if not kinds:
                raise ValueError("empty: nothing would ever trigger a retrain; list some of "
                                 f"{', '.join(DRIFT_KINDS)}")
            repeated = sorted({k for k in kinds if kinds.count(k) > 1})
            if repeated:
                raise ValueError(f"lists {', '.join(repeated)} more than once")
        return kinds


class ModelPolicy(_Strict):
    """The keys of ``[defaults]`` and of each ``[models.<name>]`` table."""

    false_alarms: Positive | None = Field(
        None, description="The false-alarm contract: expected false covariate, prediction "
        "and dataset drift events per 30 days of stable traffic (unset: "
        "DRIFTLINE_FALSE_ALARMS).")
    sequential_share: Annotated[float, Field(ge=0, lt=1, allow_inf_nan=False)] | None = Field(
        None, description="The share of the distribution tests' budget spent by the evidence "
        "over windows (pooled windows and e-CUSUMs), the rest by each window's own tests; 0 "
        "turns the evidence over windows off (unset: 0.5).")
    pooled_share: Fraction | None = Field(
        None, description="The share of the evidence over windows' budget spent by the tests "
        "of pooled windows (the last 2, 4 and 6 windows' rows together at every window, 12 "
        "and 24 at one window in 3 and 6), the rest by the "
        "e-CUSUMs (unset: 0.5).")
    sequential_kappa: Annotated[float, Field(gt=0, lt=1, allow_inf_nan=False)] | None = Field(
        None, description="The calibrator kappa turning a window's p-value into an e-value "
        "(e = kappa * p ** (kappa - 1)): larger gathers more from p-values near 0.05 and "
        "leaves less margin on stable traffic (unset: 0.1).")
    numeric_method: Literal["psi", "ks", "wasserstein"] | None = None
    categorical_method: Literal["chi_square", "jensen_shannon"] | None = None
    thresholds: Thresholds = Thresholds()
    features: dict[str, FeaturePolicy] = {}
    ignore: list[str] = []
    dataset_share: Share | None = None
    min_rows: Annotated[int, Field(ge=1)] | None = None
    raise_after: Annotated[int, Field(ge=1)] | None = None
    clear_after: Annotated[int, Field(ge=1)] | None = None
    clear_ratio: Share | None = None
    cooldown: Annotated[float, Field(ge=0, allow_inf_nan=False)] | None = None
    immediate: Literal["low", "medium", "high", "never"] | None = None
    importance_tiers: tuple[Fraction, Fraction] | None = Field(
        None, description="The feature-importance shares below which a covariate or dataset "
        "finding is at most low, and at most medium (unset: 0.02 and 0.10; [0, 0]: no cap).")
    performance: dict[Metric, Positive] = {}
    retrain: RetrainPolicy = RetrainPolicy()


    @field_validator("importance_tiers")
    @classmethod
    def _tiers_ascend(cls, tiers: tuple[float, float] | None) -> tuple[float, float] | None:
        if tiers is not None and tiers[0] > tiers[1]:
            raise ValueError("the low tier's share must not exceed the medium tier's")
        return tiers


class PolicyFile(_Strict):
    """A whole policy file."""

    defaults: ModelPolicy = ModelPolicy()
    models: dict[str, ModelPolicy] = {}

    def layers(self, model_name: str) -> list[ModelPolicy]:
        """The tables that apply to ``model_name``, the last one winning: ``[defaults]``,
        then its own table if the file has one."""
        own = self.models.get(model_name)
        return [self.defaults] if own is None else [self.defaults, own]

    def retrain_kinds(self, model_name: str) -> tuple[DriftKind, ...] | None:
        """The drift kinds that trigger a retrain of ``model_name`` by the file (its own
        table, else ``[defaults]``); None when the file does not say."""
        kinds = None
        for layer in self.layers(model_name):
            if layer.retrain.kinds is not None:
                kinds = tuple(layer.retrain.kinds)
        return kinds


def parse_kinds(value: str, *, source: str = "DRIFTLINE_RETRAIN_KINDS") -> tuple[DriftKind, ...]:
    """Comma-separated drift kinds (``"covariate,concept"``; a JSON-looking list is read too)
    as a tuple; ValueError naming ``source`` on an unknown kind or an empty list.

    >>> parse_kinds(' covariate, concept ')
    ('covariate', 'concept')
    """
    kinds = [k.strip() for k in value.strip("[] ").replace('"', "").split(",") if k.strip()]
    for kind in kinds:
        if kind not in DRIFT_KINDS:
            raise ValueError(
                f"{source}: unknown drift kind {kind!r}; choose from {', '.join(DRIFT_KINDS)}")
    if not kinds:
        raise ValueError(f"{source} is empty: nothing would ever trigger")
    return tuple(kinds)  # type: ignore[return-value]


def parse_policy_file(text: str, *, source: str = "policy file") -> PolicyFile:
    """Parse and validate a policy file's text; ConfigurationError names each key at fault
    as ``<source>: <dotted path>: <what is wrong>``."""
    return parse_toml(text, PolicyFile, source=source)


def load_policy_file(path: Path | str) -> PolicyFile:
    """Read, parse and validate the policy file at ``path`` (ConfigurationError when it
    cannot be read or is invalid)."""
    return load_toml(path, PolicyFile, what="policy file")
