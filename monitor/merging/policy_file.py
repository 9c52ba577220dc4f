r"""Each model's effective monitoring policy: the policy file over the monitor's settings.

The file's schema and parsing live in :mod:`driftline.policy_file` (the retrainer reads the
same file for which drift kinds trigger a retrain); here its tables are merged over the
built-in defaults (or the settings they come from) into the :class:`Rules` the monitor judges
and raises by. A model's effective policy is the base, then the file's ``[defaults]``, then
its own ``[models.<name>]`` table: the last one that sets a key wins; ``ignore`` lists add
up and ``features`` merge feature by feature. Without a file every model gets the built-in
defaults.

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
>>> from driftline.errors import ConfigurationError
>>> try:
...     parse_policy('[models.m.features.x]\nthreshhold = 1', source="policy.toml")
... except ConfigurationError as exc:
...     print(exc)
policy.toml: models.m.features.x.threshhold: unknown key; did you mean threshold?
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import msgspec

from driftline.events import DriftKind
from driftline.policy_file import PolicyFile, load_policy_file, parse_policy_file
from monitor.drift.attribution import IMPORTANCE_TIERS
from monitor.drift.contract import SHARES, family_budget, window_alpha
from monitor.drift.judge import DriftConfig, FeatureRule
from monitor.drift.performance import DEFAULT_TOLERANCES

__all__ = [
    "MonitoringPolicy",
    "Rules",
    "load_policy",
    "parse_policy",
]


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
    importance_tiers: tuple[float, float] = IMPORTANCE_TIERS
    tolerances: dict[str, float] = {}

    def hysteresis(self) -> dict[str, Any]:
        """Keyword arguments of :class:`~monitor.merging.policy.DriftPolicy`."""
        return {"raise_after": self.raise_after, "clear_after": self.clear_after,
                "clear_ratio": self.clear_ratio, "cooldown": self.cooldown,
                "immediate": self.immediate, "importance_tiers": self.importance_tiers}


_THRESHOLD_KEYS = {
    "psi": "psi_threshold", "ks_p_value": "ks_p_value",
    "wasserstein": "wasserstein_threshold", "chi_square_p_value": "chi_square_p_value",
    "jensen_shannon": "jensen_shannon_threshold", "unseen_share": "unseen_threshold",
    "missing_tolerance": "missing_tolerance",
}
_CONFIG_KEYS = ("false_alarms", "sequential_share", "pooled_share", "sequential_kappa",
                "numeric_method", "categorical_method", "dataset_share", "min_rows")
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
        for layer in self.file.layers(model_name):
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
            if layer.importance_tiers is not None:
                values["importance_tiers"] = tuple(layer.importance_tiers)
            tolerances.update(layer.performance)
            ignored.update(layer.ignore)
            for name, rule in layer.features.items():
                features[name] = FeatureRule(method=rule.method, threshold=rule.threshold)
        values["config"] = msgspec.structs.replace(
            config, **changes, features=features, ignored=frozenset(ignored))
        values["tolerances"] = tolerances
        return Rules(**values)

    def describe(
        self, model_name: str, retrain_default: tuple[DriftKind, ...] | None = None
    ) -> dict[str, Any]:
        """The effective rules of ``model_name`` as plain data (what ``driftline policy
        show`` prints): its false-alarm contract (with each window's level when the window
        step is known), its rules, and the drift kinds that trigger its retrain: the file's, else
        ``retrain_default`` (the retrainer's DRIFTLINE_RETRAIN_KINDS)."""
        rules = self.resolve(model_name)
        config = msgspec.to_builtins(rules.config)
        config["ignored"] = sorted(rules.config.ignored)
        described = msgspec.to_builtins(rules)
        described["config"] = config
        kinds = self.file.retrain_kinds(model_name)
        retrain: dict[str, Any] = {
            "kinds": list(kinds if kinds is not None else retrain_default or ()),
            "from": "policy file" if kinds is not None else "DRIFTLINE_RETRAIN_KINDS",
        }
        budget = rules.config.false_alarms
        contract: dict[str, Any] = {
            "false_alarms_per_30_days": budget,
            "budgets": {family: family_budget(budget, family) for family in SHARES},
            # the distribution budget split between the window tests, the pooled windows'
            # tests and the e-CUSUMs
            "distribution": {"windows": rules.config.window_budget,
                             "pooled": rules.config.pooled_budget,
                             "cusum": rules.config.cusum_budget,
                             "sequential_kappa": rules.config.sequential_kappa},
        }
        if rules.config.look_every is not None:
            contract["look_every"] = rules.config.look_every
            # the level of one window's distribution tests together
            contract["window_alpha"] = window_alpha(rules.config.window_budget,
                                                    rules.config.look_every)
        return {"model": model_name, "contract": contract, **described, "retrain": retrain}


def parse_policy(text: str, *, source: str = "policy file",
                 base: Rules | None = None) -> MonitoringPolicy:
    """Parse and validate a policy file's text (see :func:`driftline.policy_file.
    parse_policy_file`) over ``base``; ConfigurationError names each key at fault."""
    return MonitoringPolicy(parse_policy_file(text, source=source), base)


def load_policy(path: Path | str, *, base: Rules | None = None) -> MonitoringPolicy:
    """Read, parse and validate the policy file at ``path`` over ``base``
    (ConfigurationError when it cannot be read or is invalid)."""
    return MonitoringPolicy(load_policy_file(path), base)
