r"""The monitoring policy file: how each model's windows are judged and when they raise.

A TOML file (``DRIFTLINE_POLICY_FILE``) holds a ``[defaults]`` table and one
``[models.<name>]`` table per model, each with the same keys, all optional:

.. code-block:: toml

    [defaults]
    cooldown = 1800              # event-time seconds between two events of one kind
    performance = { roc_auc = 0.03 }

    [models.credit-risk]
    ignore = ["channel"]         # neither judged nor counted in the dataset share
    dataset_share = 0.4
    [models.credit-risk.features.loan_amount]
    method = "psi"               # psi, ks, wasserstein, chi_square, jensen_shannon
    threshold = 0.1              # for ks and chi_square: the p-value's alpha

A model's effective policy is the built-in defaults (or the settings they come from), then
the file's ``[defaults]``, then its own table: the last one that sets a key wins; ``ignore``
lists add up and ``features`` merge feature by feature. Without a file every model gets the
built-in defaults, exactly as before there were files. A file is validated whole when it is
loaded: an unknown key or a bad value raises ConfigurationError naming its path in the file.

>>> policy = parse_policy('''
... [models.credit-risk]
... ignore = ["channel"]
... [models.credit-risk.features.loan_amount]
... method = "psi"
... threshold = 0.1
... ''')
>>> rules = policy.resolve("credit-risk")
>>> sorted(rules.config.ignored), rules.config.for_feature("loan_amount").psi_threshold
(['channel'], 0.1)
>>> policy.resolve("another").config == DriftConfig()
True
>>> try:
...     parse_policy('[models.m.features.x]\nthreshhold = 1', source="policy.toml")
... except ConfigurationError as exc:
...     print(exc)
policy.toml: models.m.features.x.threshhold: unknown key; did you mean threshold?
"""

from __future__ import annotations

import difflib
import tomllib
import types
import typing
from pathlib import Path
from typing import Annotated, Any, Literal

import msgspec
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from driftline.errors import ConfigurationError
from monitor.drift.judge import DriftConfig, FeatureRule
from monitor.drift.performance import DEFAULT_TOLERANCES

__all__ = [
    "FeaturePolicy",
    "ModelPolicy",
    "MonitoringPolicy",
    "PolicyFile",
    "Rules",
    "Thresholds",
    "load_policy",
    "parse_policy",
]

Method = Literal["psi", "ks", "wasserstein", "chi_square", "jensen_shannon"]
Metric = Literal[tuple(DEFAULT_TOLERANCES)]  # type: ignore[valid-type]
Positive = Annotated[float, Field(gt=0, allow_inf_nan=False)]
Alpha = Annotated[float, Field(gt=0, lt=1)]
Share = Annotated[float, Field(gt=0, le=1)]
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


class ModelPolicy(_Strict):
    """The keys of ``[defaults]`` and of each ``[models.<name>]`` table."""

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
    performance: dict[Metric, Positive] = {}  # type: ignore[valid-type]


class PolicyFile(_Strict):
    """A whole policy file."""

    defaults: ModelPolicy = ModelPolicy()
    models: dict[str, ModelPolicy] = {}


class Rules(msgspec.Struct, kw_only=True, frozen=True):
    """One model's effective policy: how windows are judged (``config``), hysteresis and
    cooldown (the arguments of :class:`~monitor.merging.policy.DriftPolicy`) and the
    performance tolerances."""

    config: DriftConfig
    raise_after: int = 2
    clear_after: int = 2
    clear_ratio: float = 0.5
    cooldown: float = 3600.0
    immediate: Literal["low", "medium", "high"] | None = "high"
    tolerances: dict[str, float] = {}

    def hysteresis(self) -> dict[str, Any]:
        """Keyword arguments of :class:`~monitor.merging.policy.DriftPolicy`."""
        return {"raise_after": self.raise_after, "clear_after": self.clear_after,
                "clear_ratio": self.clear_ratio, "cooldown": self.cooldown,
                "immediate": self.immediate}


_THRESHOLD_KEYS = {
    "psi": "psi_threshold", "ks_p_value": "ks_p_value",
    "wasserstein": "wasserstein_threshold", "chi_square_p_value": "chi_square_p_value",
    "jensen_shannon": "jensen_shannon_threshold", "unseen_share": "unseen_threshold",
    "missing_tolerance": "missing_tolerance",
}
_CONFIG_KEYS = ("numeric_method", "categorical_method", "dataset_share", "min_rows")
_HYSTERESIS_KEYS = ("raise_after", "clear_after", "clear_ratio", "cooldown")


class MonitoringPolicy:
    """A loaded policy file over base rules (the built-in defaults unless given), resolving
    each model's effective :class:`Rules`."""

    def __init__(self, file: PolicyFile | None = None, base: Rules | None = None) -> None:
        self.file = file or PolicyFile()
        self.base = base or Rules(config=DriftConfig(), tolerances=dict(DEFAULT_TOLERANCES))

    def resolve(self, model_name: str) -> Rules:
        """The effective rules of ``model_name``: base, then ``[defaults]``, then its table."""
        config = self.base.config
        values = msgspec.structs.asdict(self.base)
        tolerances = dict(self.base.tolerances)
        features = dict(config.features)
        ignored = set(config.ignored)
        changes: dict[str, Any] = {}
        layers = [self.file.defaults]
        if model_name in self.file.models:
            layers.append(self.file.models[model_name])
        for layer in layers:
            for key in _CONFIG_KEYS:
                if getattr(layer, key) is not None:
                    changes[key] = getattr(layer, key)
            for key, field in _THRESHOLD_KEYS.items():
                if getattr(layer.thresholds, key) is not None:
                    changes[field] = getattr(layer.thresholds, key)
            for key in _HYSTERESIS_KEYS:
                if getattr(layer, key) is not None:
                    values[key] = getattr(layer, key)
            if layer.immediate is not None:
                values["immediate"] = None if layer.immediate == "never" else layer.immediate
            tolerances.update(layer.performance)
            ignored.update(layer.ignore)
            for name, rule in layer.features.items():
                features[name] = FeatureRule(method=rule.method, threshold=rule.threshold)
        values["config"] = msgspec.structs.replace(
            config, **changes, features=features, ignored=frozenset(ignored))
        values["tolerances"] = tolerances
        return Rules(**values)

    def describe(self, model_name: str) -> dict[str, Any]:
        """The effective rules of ``model_name`` as plain data (what ``driftline policy
        show`` prints)."""
        rules = self.resolve(model_name)
        config = msgspec.to_builtins(rules.config)
        config["ignored"] = sorted(rules.config.ignored)
        described = msgspec.to_builtins(rules)
        described["config"] = config
        return {"model": model_name, **described}


def parse_policy(text: str, *, source: str = "policy file",
                 base: Rules | None = None) -> MonitoringPolicy:
    """Parse and validate a policy file's text; ConfigurationError names each key at fault
    as ``<source>: <dotted path>: <what is wrong>``."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigurationError(f"{source}: not valid TOML: {exc}") from None
    try:
        file = PolicyFile.model_validate(data)
    except ValidationError as exc:
        problems = [_problem(error) for error in exc.errors(include_url=False)]
        raise ConfigurationError("\n".join(f"{source}: {p}" for p in problems)) from None
    return MonitoringPolicy(file, base)


def load_policy(path: Path | str, *, base: Rules | None = None) -> MonitoringPolicy:
    """Read, parse and validate the policy file at ``path`` (ConfigurationError when it
    cannot be read or is invalid)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigurationError(f"{path}: cannot read the policy file: {exc}") from None
    return parse_policy(text, source=str(path), base=base)


def _problem(error: Any) -> str:
    """One validation error as ``dotted.path: message``, suggesting the key meant when the
    key is unknown."""
    loc = [str(part) for part in error["loc"] if not _is_validator_tag(part)]
    where = ".".join(loc) or "(top level)"
    if error["type"] == "extra_forbidden":
        known = _keys_at(loc[:-1])
        close = difflib.get_close_matches(loc[-1], known, n=1)
        hint = f"; did you mean {close[0]}?" if close else f"; known keys: {', '.join(known)}"
        return f"{where}: unknown key{hint}"
    message = error["msg"].removeprefix("Value error, ")
    if error["type"] != "missing" and "input" in error and not isinstance(error["input"], dict):
        message += f" (got {error['input']!r})"
    return f"{where}: {message}"


def _is_validator_tag(part: Any) -> bool:
    # pydantic adds the name of a union's branch or a constrained type to some locations
    return isinstance(part, str) and ("[" in part or part in ("constrained-float",))


def _keys_at(path: list[str]) -> list[str]:
    """The keys a table at ``path`` of the file may hold."""
    node: Any = PolicyFile
    for part in path:
        node = _child(node, part)
        if node is None:
            return []
    node = _unwrap(node)
    if isinstance(node, type) and issubclass(node, BaseModel):
        return list(node.model_fields)
    if typing.get_origin(node) is dict:
        key = typing.get_args(node)[0]
        if typing.get_origin(key) is Literal:
            return [str(k) for k in typing.get_args(key)]
    return []


def _child(node: Any, part: str) -> Any:
    node = _unwrap(node)
    if isinstance(node, type) and issubclass(node, BaseModel):
        field = node.model_fields.get(part)
        return None if field is None else field.annotation
    if typing.get_origin(node) is dict:
        return typing.get_args(node)[1]
    return None


def _unwrap(node: Any) -> Any:
    """``X | None`` and ``Annotated[X, ...]`` as ``X``."""
    while True:
        origin = typing.get_origin(node)
        if origin is Annotated:
            node = typing.get_args(node)[0]
        elif origin in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(node) if a is not type(None)]
            if len(args) != 1:
                return node
            node = args[0]
        else:
            return node


