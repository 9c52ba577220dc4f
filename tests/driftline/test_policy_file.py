"""The policy file's schema and parsing: the retrain table per model, validated like every
other key, with the key's path in each error."""

from __future__ import annotations

from pathlib import Path

import pytest

from driftline.errors import ConfigurationError
from driftline.policy_file import (
    DRIFT_KINDS,
    PolicyFile,
    load_policy_file,
    parse_kinds,
    parse_policy_file,
)


def test_a_models_retrain_kinds_override_the_files_defaults_for_that_model_only():
    file = parse_policy_file("""
        [defaults.retrain]
        kinds = ["performance"]
        [models.fraud.retrain]
        kinds = ["covariate", "concept"]
        [models.churn]
        cooldown = 60
    """)
    assert file.retrain_kinds("fraud") == ("covariate", "concept")
    assert file.retrain_kinds("churn") == ("performance",)
    assert file.retrain_kinds("unnamed") == ("performance",)


def test_a_file_that_says_nothing_of_retraining_leaves_the_kinds_to_the_setting():
    file = parse_policy_file("[models.fraud]\nignore = [\"channel\"]\n")
    assert file.retrain_kinds("fraud") is None
    assert PolicyFile().retrain_kinds("fraud") is None


@pytest.mark.parametrize(("text", "message"), [
    ('[models.m.retrain]\nkinds = ["weather"]',
     "models.m.retrain.kinds.0: Input should be 'covariate', 'prediction', 'performance', "
     "'performance-estimate', 'concept' or 'dataset' (got 'weather')"),
    ('[models.m.retrain]\nkinds = ["covariate", "covariat"]', "models.m.retrain.kinds.1: "),
    ("[models.m.retrain]\nkinds = []", "models.m.retrain.kinds: empty: nothing would ever "
     "trigger a retrain"),
    ('[models.m.retrain]\nkinds = ["concept", "concept"]',
     "models.m.retrain.kinds: lists concept more than once"),
    ('[models.m.retrain]\nkinds = "concept"', "models.m.retrain.kinds: Input should be a "
     "valid list (got 'concept')"),
    ('[models.m.retrain]\nkind = ["concept"]',
     "models.m.retrain.kind: unknown key; did you mean kinds?"),
    ('[defaults.retrian]\nkinds = ["concept"]',
     "defaults.retrian: unknown key; did you mean retrain?"),
])
def test_a_bad_retrain_table_stops_naming_the_key(text: str, message: str):
    with pytest.raises(ConfigurationError) as caught:
        parse_policy_file(text, source="p.toml")
    assert str(caught.value).startswith("p.toml: ")
    assert message in str(caught.value)


def test_every_problem_of_a_file_is_named_at_once(tmp_path: Path):
    path = tmp_path / "policy.toml"
    path.write_text('[models.m]\nraise_after = 0\n[models.m.retrain]\nkinds = ["x"]\n')
    with pytest.raises(ConfigurationError) as caught:
        load_policy_file(path)
    lines = str(caught.value).splitlines()
    assert [line.split(": ")[1] for line in lines] == [
        "models.m.raise_after", "models.m.retrain.kinds.0"]
    assert all(line.startswith(f"{path}: ") for line in lines)


def test_an_unreadable_file_stops_naming_it(tmp_path: Path):
    with pytest.raises(ConfigurationError, match="cannot read the policy file"):
        load_policy_file(tmp_path / "missing.toml")


def test_kinds_from_the_setting_are_checked_against_the_known_kinds():
    assert parse_kinds("covariate, concept") == ("covariate", "concept")
    assert parse_kinds('["performance"]') == ("performance",)
    with pytest.raises(ValueError, match="unknown drift kind 'weather'; choose from "
                       + ", ".join(DRIFT_KINDS)):
        parse_kinds("covariate,weather")
    with pytest.raises(ValueError, match="is empty"):
        parse_kinds(" , ")
