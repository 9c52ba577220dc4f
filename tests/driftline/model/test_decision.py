"""Decision policies: tier boundaries, names and the stored tag."""

from __future__ import annotations

import numpy as np
import pytest

from driftline.model.decision import (
    CREDIT_RISK_POLICY,
    DECISION_TAG,
    DecisionPolicy,
    DecisionPolicyError,
)


def test_a_score_reaches_a_tier_only_strictly_above_its_threshold():
    policy = DecisionPolicy.parse(["MEDIUM=0.2", "HIGH=0.5"])
    scores = np.array([0.0, 0.2, 0.2000001, 0.5, 0.50001, 1.0])
    assert policy.decide(scores).tolist() == ["LOW", "LOW", "MEDIUM", "MEDIUM", "HIGH", "HIGH"]


def test_tiers_given_in_any_order_sort_by_threshold():
    assert DecisionPolicy.parse(["HIGH=0.5", "MEDIUM=0.2"]) == DecisionPolicy.parse(
        ["MEDIUM=0.2", "HIGH=0.5"]
    )


def test_the_default_policy_is_positive_above_one_half():
    policy = DecisionPolicy.parse()
    assert (policy.score_name, policy.decision_name) == ("score", "decision")
    assert policy.decide(np.array([0.5, 0.6])).tolist() == ["negative", "positive"]


def test_the_credit_risk_policy_keeps_its_names_and_thresholds():
    policy = DecisionPolicy.from_tags({DECISION_TAG: CREDIT_RISK_POLICY.to_json()})
    assert policy == CREDIT_RISK_POLICY
    assert (policy.score_name, policy.decision_name) == ("default_probability", "risk_tier")
    assert policy.decide(np.array([0.15, 0.16, 0.36])).tolist() == ["LOW", "MEDIUM", "HIGH"]


@pytest.mark.parametrize(
    ("tiers", "kwargs", "message"),
    [
        (["HIGH=1.5"], {}, r"thresholds must lie in \[0, 1\)"),
        (["HIGH=0.5", "MEDIUM=0.5"], {}, "two tiers share a threshold"),
        (["LOW=0.5"], {}, "tier names must be distinct"),
        (["HIGH=x"], {}, "is not NAME=THRESHOLD"),
        ([], {"score_name": "fraud probability"}, "is not a usable field name"),
        ([], {"score_name": "decision"}, "need different names"),
    ],
)
def test_a_malformed_policy_is_refused_saying_why(tiers, kwargs, message):
    with pytest.raises(DecisionPolicyError, match=message):
        DecisionPolicy.parse(tiers, **kwargs)


def test_a_malformed_tag_is_refused_naming_the_tag():
    with pytest.raises(DecisionPolicyError, match=f"the {DECISION_TAG} tag is not a decision"):
        DecisionPolicy.from_json('{"tiers": 3}')
    assert DecisionPolicy.from_tags({}) is None
