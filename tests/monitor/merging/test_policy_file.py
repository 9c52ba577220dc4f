"""The monitoring policy file: it changes verdicts and hysteresis exactly as it says, merges
defaults with each model's table, keeps today's defaults without a file, and stops on a typo
or a bad value naming the key."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from driftline.cli import app
from driftline.errors import ConfigurationError
from driftline.policy_file import METRICS
from monitor.drift.judge import DriftConfig
from monitor.drift.performance import DEFAULT_TOLERANCES
from monitor.merging.policy import DriftPolicy
from monitor.merging.policy_file import MonitoringPolicy, load_policy, parse_policy
from monitor.settings import MonitorSettings
from producers.generator import LAKH
from tests.monitor.drift.test_accumulator import fill, traffic
from tests.monitor.merging.test_policy import judgement


def test_silencing_one_feature_and_lowering_anothers_threshold_changes_the_verdicts(
    loan_profile,
):
    acc = fill(loan_profile, *traffic(2, 5000, loan_mean=8.5 * LAKH))
    default = acc.evaluate(DriftConfig())
    assert default.drifted_features == ["loan_amount"]
    income = default.feature("annual_income")
    assert income.method == "ks_p_value" and not income.drifted
    income_psi = next(s.value for s in income.statistics if s.statistic == "psi")
    lowered = income_psi / 2
    rules = parse_policy(f"""
        [models.credit-risk]
        ignore = ["loan_amount"]
        [models.credit-risk.features.annual_income]
        method = "psi"
        threshold = {lowered!r}
    """).resolve("credit-risk")
    report = acc.evaluate(rules.config)
    assert report.drifted_features == ["annual_income"]
    assert "loan_amount" not in [j.feature for j in report.features]
    judged = report.feature("annual_income")
    assert (judged.value, judged.threshold, judged.ratio) == (income_psi, lowered, 2.0)
    assert report.share_drifted == 1 / len(report.features) == 1 / 6
    others = {j.feature: (j.value, j.drifted) for j in report.features
              if j.feature != "annual_income"}
    assert others == {j.feature: (j.value, j.drifted) for j in default.features
                      if j.feature not in ("annual_income", "loan_amount")}


def test_a_p_value_method_per_feature_decides_with_its_alpha(loan_profile):
    acc = fill(loan_profile, *traffic(1, 5000))
    rules = parse_policy("""
        [defaults.features.channel]
        method = "chi_square"
        threshold = 0.999999
    """).resolve("any-model")
    channel = acc.evaluate(rules.config).feature("channel")
    assert (channel.method, channel.threshold) == ("chi_square_p_value", 0.999999)
    assert channel.drifted == (channel.value < 0.999999)


def test_without_a_file_every_model_gets_todays_defaults():
    settings = MonitorSettings()
    rules = settings.monitoring_policy().resolve("credit-risk")
    assert rules.config == DriftConfig(dataset_share=0.5, min_rows=30, look_every=300.0)
    assert rules.config == DriftConfig(look_every=settings.window_size)
    today = DriftPolicy()
    assert rules.hysteresis() == {
        "raise_after": today.raise_after, "clear_after": today.clear_after,
        "clear_ratio": today.clear_ratio, "cooldown": today.cooldown,
        "immediate": today.immediate, "importance_tiers": today.importance_tiers,
    }
    assert rules.tolerances == DEFAULT_TOLERANCES


def test_the_settings_are_the_base_the_file_overrides(tmp_path: Path):
    path = tmp_path / "policy.toml"
    path.write_text("[models.a]\ncooldown = 60\n")
    settings = MonitorSettings(policy_file=path, cooldown=900, raise_after=3, min_rows=10)
    policy = settings.monitoring_policy()
    assert (policy.resolve("a").cooldown, policy.resolve("a").raise_after) == (60.0, 3)
    assert (policy.resolve("b").cooldown, policy.resolve("b").config.min_rows) == (900.0, 10)


def test_a_models_table_overrides_the_defaults_and_lists_and_features_merge():
    policy = parse_policy("""
        [defaults]
        ignore = ["channel"]
        raise_after = 3
        immediate = "never"
        performance = { roc_auc = 0.02 }
        thresholds = { psi = 0.3 }
        [defaults.features.income]
        method = "ks"
        threshold = 0.01
        [models.fraud]
        ignore = ["city_tier"]
        raise_after = 1
        clear_after = 4
        clear_ratio = 0.25
        cooldown = 0
        dataset_share = 0.25
        numeric_method = "wasserstein"
        thresholds = { wasserstein = 0.2 }
        [models.fraud.features.amount]
        method = "jensen_shannon"
    """)
    fraud = policy.resolve("fraud")
    assert fraud.config.ignored == frozenset({"channel", "city_tier"})
    assert set(fraud.config.features) == {"income", "amount"}
    assert fraud.hysteresis() == {"raise_after": 1, "clear_after": 4, "clear_ratio": 0.25,
                                  "cooldown": 0.0, "immediate": None,
                                  "importance_tiers": (0.02, 0.10)}
    assert (fraud.config.dataset_share, fraud.config.numeric_method) == (0.25, "wasserstein")
    assert (fraud.config.psi_threshold, fraud.config.wasserstein_threshold) == (0.3, 0.2)
    assert fraud.tolerances == {**DEFAULT_TOLERANCES, "roc_auc": 0.02}
    other = policy.resolve("other")
    assert other.config.ignored == frozenset({"channel"})
    assert (other.raise_after, other.clear_after, other.immediate) == (3, 2, None)


def test_a_models_table_splits_its_contract_and_sets_the_e_values_calibrator():
    policy = parse_policy("""
        [defaults]
        sequential_kappa = 0.2
        [models.fraud]
        sequential_share = 0.75
        pooled_share = 1
        [models.plain]
        sequential_share = 0
    """)
    fraud, plain, other = (policy.resolve(m).config for m in ("fraud", "plain", "other"))
    assert (fraud.sequential_share, fraud.sequential_kappa) == (0.75, 0.2)
    assert (fraud.window_budget, fraud.sequential_budget) == (0.125, 0.375)
    assert (fraud.pooled_budget, fraud.cusum_budget) == (0.375, 0.0)  # no e-CUSUM
    assert (plain.sequential_share, plain.sequential_budget, plain.window_budget) == (0, 0, 0.5)
    assert (other.sequential_share, other.sequential_kappa) == (0.5, 0.2)


def test_the_hysteresis_of_the_file_decides_when_an_event_is_raised():
    rules = parse_policy("[models.m]\nraise_after = 3\ncooldown = 0\n").resolve("m")
    policy = DriftPolicy(**rules.hysteresis())
    raised = [policy.observe("covariate", "m", "1", 60.0 * i, 60.0 * (i + 1), [judgement("x", 1.5)])
              for i in range(3)]
    assert [e is not None for e in raised] == [False, False, True]


def test_the_files_importance_tiers_decide_how_far_importance_caps_severity():
    policy = parse_policy("[models.m]\nimportance_tiers = [0.3, 0.5]\n")
    assert policy.resolve("other").importance_tiers == (0.02, 0.10)
    severe = [judgement("x", 9.0)]  # high unweighed
    weights = {"x": 0.2}

    def raised(p: DriftPolicy) -> list[str | None]:
        events = [p.observe("covariate", "m", "1", 60.0 * i, 60.0 * (i + 1), severe,
                            importance=weights) for i in range(2)]
        return [e and e.severity for e in events]

    # default tiers: a 20% share is relied on, high at once; tiers 30%/50%: low, it waits
    assert raised(DriftPolicy()) == ["high", None]
    assert raised(DriftPolicy(**policy.resolve("m").hysteresis())) == [None, "low"]


def test_a_typo_stops_with_the_keys_path_and_the_key_meant(tmp_path: Path):
    path = tmp_path / "policy.toml"
    path.write_text("[models.credit-risk.features.loan_amount]\nthreshhold = 0.1\n")
    with pytest.raises(ConfigurationError) as caught:
        load_policy(path)
    assert str(caught.value) == (
        f"{path}: models.credit-risk.features.loan_amount.threshhold: unknown key; "
        "did you mean threshold?")
    with pytest.raises(ConfigurationError, match="threshhold: unknown key"):
        MonitorSettings(policy_file=path).monitoring_policy()


@pytest.mark.parametrize(("text", "message"), [
    ("[defaults]\ndataset_share = 2", "defaults.dataset_share: Input should be less than or "
     "equal to 1 (got 2)"),
    ("[models.m]\nraise_after = 0", "models.m.raise_after: Input should be greater than or "
     "equal to 1 (got 0)"),
    ("[models.m.features.x]\nthreshold = 0.1", "models.m.features.x: a threshold needs a "
     "method: its meaning depends on the test"),
    ("[models.m.features.x]\nmethod = \"ks\"\nthreshold = 2", "models.m.features.x: the "
     "threshold of ks is a p-value's alpha, in (0, 1)"),
    ("[models.m.performance]\nrocauc = 0.1", "models.m.performance.rocauc: Input should be "
     "'accuracy', 'roc_auc', 'f1', 'log_loss' or 'brier' (got 'rocauc')"),
    ("[models.m]\nfalse_alarms = 0", "models.m.false_alarms: Input should be greater than 0"),
    ("[models.m]\nimportance_tiers = [0.2, 0.1]", "models.m.importance_tiers: the "
     "low tier's share must not exceed the medium tier's"),
    ("[models.m]\nsequential_share = 1", "models.m.sequential_share: Input should be less "
     "than 1"),
    ("[models.m]\nsequential_kappa = 0", "models.m.sequential_kappa: Input should be greater "
     "than 0"),
    ("[modles.m]\ncooldown = 1", "modles: unknown key; did you mean models?"),
    ("[models.m\n", "not valid TOML"),
])
def test_a_bad_value_stops_naming_the_key(text: str, message: str):
    with pytest.raises(ConfigurationError) as caught:
        parse_policy(text, source="p.toml")
    assert str(caught.value).startswith("p.toml: ")
    assert message in str(caught.value)


def test_policy_show_prints_the_effective_policy_of_a_model(tmp_path: Path, monkeypatch):
    path = tmp_path / "policy.toml"
    path.write_text("[models.credit-risk]\nignore = [\"channel\"]\ncooldown = 60\n")
    monkeypatch.setenv("DRIFTLINE_POLICY_FILE", str(path))
    result = CliRunner().invoke(app, ["policy", "show", "--model", "credit-risk"])
    assert result.exit_code == 0, result.output
    (shown,) = json.loads(result.output)
    assert shown["model"] == "credit-risk" and shown["cooldown"] == 60.0
    assert shown["config"]["ignored"] == ["channel"]
    assert shown["config"]["psi_threshold"] == 0.2  # a default, merged in
    assert shown["tolerances"] == DEFAULT_TOLERANCES
    assert shown["retrain"] == {"kinds": ["covariate", "performance", "concept"],
                                "from": "DRIFTLINE_RETRAIN_KINDS"}


def test_policy_show_prints_each_models_false_alarm_contract_and_its_window_level(
    tmp_path: Path, monkeypatch
):
    path = tmp_path / "policy.toml"
    path.write_text("[defaults]\nfalse_alarms = 2\n[models.quiet]\nfalse_alarms = 0.5\n")
    monkeypatch.setenv("DRIFTLINE_POLICY_FILE", str(path))
    monkeypatch.setenv("DRIFTLINE_WINDOW_SIZE", "600")
    result = CliRunner().invoke(app, ["policy", "show"])
    assert result.exit_code == 0, result.output
    shown = {s["model"]: s["contract"] for s in json.loads(result.output)}
    assert shown["*"] == {
        "false_alarms_per_30_days": 2.0, "look_every": 600.0,
        "budgets": {"distribution": 1.0, "performance": 0.5, "concept": 0.5},
        "distribution": {"windows": 0.5, "pooled": 0.25, "cusum": 0.25,
                         "sequential_kappa": 0.1},
        # the window tests' half of the distribution budget, spread over a month of looks
        "window_alpha": pytest.approx(0.5 * 600 / (30 * 86_400)),
    }
    assert shown["quiet"]["window_alpha"] == pytest.approx(0.125 * 600 / (30 * 86_400))


def test_a_models_contract_sets_the_level_of_its_windows_tests(loan_profile):
    acc = fill(loan_profile, *traffic(1, 600))
    policy = parse_policy("[defaults]\nfalse_alarms = 8\n[models.strict]\nfalse_alarms = 0.1")
    loose = acc.evaluate(policy.resolve("any").config).feature("loan_amount").threshold
    strict = acc.evaluate(policy.resolve("strict").config).feature("loan_amount").threshold
    assert loose == pytest.approx(80 * strict)


def test_policy_show_prints_the_kinds_that_trigger_a_retrain_file_over_setting(
    tmp_path: Path, monkeypatch
):
    path = tmp_path / "policy.toml"
    path.write_text('[models.fraud.retrain]\nkinds = ["performance"]\n')
    monkeypatch.setenv("DRIFTLINE_POLICY_FILE", str(path))
    monkeypatch.setenv("DRIFTLINE_RETRAIN_KINDS", "concept")
    result = CliRunner().invoke(app, ["policy", "show", "--model", "fraud", "--model", "other"])
    assert result.exit_code == 0, result.output
    fraud, other = json.loads(result.output)
    assert fraud["retrain"] == {"kinds": ["performance"], "from": "policy file"}
    assert other["retrain"] == {"kinds": ["concept"], "from": "DRIFTLINE_RETRAIN_KINDS"}


def test_policy_show_of_an_invalid_file_fails_naming_the_key(tmp_path: Path, monkeypatch):
    path = tmp_path / "policy.toml"
    path.write_text("[defaults]\ncooldwn = 60\n")
    monkeypatch.setenv("DRIFTLINE_POLICY_FILE", str(path))
    result = CliRunner().invoke(app, ["policy", "show"])
    assert isinstance(result.exception, ConfigurationError)
    assert "defaults.cooldwn: unknown key; did you mean cooldown?" in str(result.exception)


def test_a_policy_of_no_file_is_the_built_in_defaults():
    assert MonitoringPolicy().resolve("x").config == DriftConfig()


def test_the_files_metrics_are_the_ones_the_monitor_judges():
    assert set(METRICS) == set(DEFAULT_TOLERANCES)
