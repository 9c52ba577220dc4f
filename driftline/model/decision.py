"""Decision policies: what a served model's score is called and which tier each score gets.

A version carries its policy as the model-version tag ``driftline.decision_policy`` (JSON),
written at registration (``driftline models register --score-name ... --tier NAME=THRESHOLD``,
or :func:`driftline.model.registry.register_version` with ``decision=``). A score strictly
above a tier's threshold reaches that tier; the highest tier reached wins; a score above no
threshold gets the ``otherwise`` tier.

>>> p = DecisionPolicy.parse(["HIGH=0.5", "MEDIUM=0.2"], score_name="fraud_probability")
>>> p.decide(np.array([0.1, 0.2, 0.3, 0.9])).tolist()
['LOW', 'LOW', 'MEDIUM', 'HIGH']
>>> DecisionPolicy.from_json(p.to_json()) == p
True
>>> DecisionPolicy().decide(np.array([0.5, 0.51])).tolist()
['negative', 'positive']
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from driftline.errors import DriftlineError

__all__ = [
    "CREDIT_RISK_POLICY",
    "DECISION_TAG",
    "DecisionPolicy",
    "DecisionPolicyError",
    "credit_risk_policy",
]

DECISION_TAG = "driftline.decision_policy"


class DecisionPolicyError(DriftlineError):
    """A decision policy is malformed: a bad tier, threshold or field name."""


def _check_name(what: str, value: str) -> str:
    if not value or not value.replace("_", "").isalnum() or value[0].isdigit():
        raise DecisionPolicyError(
            f"{what} {value!r} is not a usable field name: use letters, digits and underscores"
        )
    return value


@dataclass(frozen=True)
class DecisionPolicy:
    """The score's name, the decision's name and the tiers (name, threshold), ascending.

    ``tiers`` is sorted by threshold; thresholds lie in [0, 1) and are distinct.
    """

    score_name: str = "score"
    decision_name: str = "decision"
    tiers: tuple[tuple[str, float], ...] = (("positive", 0.5),)
    otherwise: str = "negative"

    def __post_init__(self) -> None:
        _check_name("score name", self.score_name)
        _check_name("decision name", self.decision_name)
        if self.score_name in (self.decision_name, "decision") or self.decision_name == "score":
            raise DecisionPolicyError(
                "the score and the decision need different names (and not each other's "
                "generic name: the answer carries `score` and `decision` too)"
            )
        if not self.tiers:
            raise DecisionPolicyError("a decision policy needs at least one tier NAME=THRESHOLD")
        tiers = tuple(sorted(((str(n), float(t)) for n, t in self.tiers), key=lambda x: x[1]))
        names = [self.otherwise, *(n for n, _ in tiers)]
        if any(not n for n in names) or len(set(names)) != len(names):
            raise DecisionPolicyError(f"tier names must be distinct and non-empty: {names}")
        thresholds = [t for _, t in tiers]
        if any(not (0.0 <= t < 1.0) or math.isnan(t) for t in thresholds):
            raise DecisionPolicyError(f"tier thresholds must lie in [0, 1): {thresholds}")
        if len(set(thresholds)) != len(thresholds):
            raise DecisionPolicyError(f"two tiers share a threshold: {thresholds}")
        object.__setattr__(self, "tiers", tiers)

    @classmethod
    def parse(
        cls,
        tiers: Sequence[str] = (),
        *,
        score_name: str = "score",
        decision_name: str = "decision",
        otherwise: str | None = None,
    ) -> DecisionPolicy:
        """A policy from ``NAME=THRESHOLD`` strings (none: positive above 0.5, else
        negative). ``otherwise`` defaults to ``LOW`` when tiers are given.

        >>> DecisionPolicy.parse(["HIGH"])
        Traceback (most recent call last):
        ...
        driftline.model.decision.DecisionPolicyError: tier 'HIGH' is not NAME=THRESHOLD \
(e.g. HIGH=0.5)
        """
        if not tiers:
            return cls(score_name=score_name, decision_name=decision_name,
                       otherwise=otherwise or "negative")
        parsed = []
        for spec in tiers:
            name, sep, value = spec.partition("=")
            try:
                threshold = float(value)
            except ValueError:
                threshold = None
            if not sep or not name.strip() or threshold is None:
                raise DecisionPolicyError(f"tier {spec!r} is not NAME=THRESHOLD (e.g. HIGH=0.5)")
            parsed.append((name.strip(), threshold))
        return cls(score_name=score_name, decision_name=decision_name, tiers=tuple(parsed),
                   otherwise=otherwise or "LOW")

    @property
    def names(self) -> tuple[str, ...]:
        """Tier names by position: ``otherwise`` first, then ascending thresholds."""
        return (self.otherwise, *(n for n, _ in self.tiers))

    def tier_index(self, scores: np.ndarray) -> np.ndarray:
        """Each score's position in :attr:`names` (count of thresholds strictly below it)."""
        cuts = np.asarray([t for _, t in self.tiers])
        return np.searchsorted(cuts, np.asarray(scores, dtype=float), side="left").astype(np.int8)

    def decide(self, scores: np.ndarray) -> np.ndarray:
        """Tier names for an array of scores."""
        return np.asarray(self.names, dtype=object)[self.tier_index(scores)]

    def to_json(self) -> str:
        """The tag value stored on a model version."""
        return json.dumps(
            {
                "score": self.score_name,
                "decision": self.decision_name,
                "tiers": dict(self.tiers),
                "otherwise": self.otherwise,
            },
            sort_keys=True,
        )

    @classmethod
    def from_json(cls, text: str) -> DecisionPolicy:
        """Read a tag value written by :meth:`to_json`; DecisionPolicyError when malformed."""
        try:
            spec = json.loads(text)
            return cls(
                score_name=spec.get("score", "score"),
                decision_name=spec.get("decision", "decision"),
                tiers=tuple((str(k), float(v)) for k, v in spec["tiers"].items()),
                otherwise=str(spec.get("otherwise", "negative")),
            )
        except DecisionPolicyError:
            raise
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            raise DecisionPolicyError(
                f"the {DECISION_TAG} tag is not a decision policy ({exc}): {text[:200]!r}"
            ) from None

    @classmethod
    def from_tags(cls, tags: Mapping[str, str]) -> DecisionPolicy | None:
        """The policy a version's tags record, or None when it records none."""
        text = tags.get(DECISION_TAG)
        return None if text is None else cls.from_json(text)


def credit_risk_policy(high: float = 0.35, medium: float = 0.15) -> DecisionPolicy:
    """The default credit-risk model's answer: ``default_probability`` and ``risk_tier``
    (HIGH above ``high``, MEDIUM above ``medium``, else LOW)."""
    return DecisionPolicy(
        score_name="default_probability",
        decision_name="risk_tier",
        tiers=(("MEDIUM", medium), ("HIGH", high)),
        otherwise="LOW",
    )


CREDIT_RISK_POLICY = credit_risk_policy()
