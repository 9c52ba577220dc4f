"""Training data checks: schema and ranges, missing share, labels, distribution."""

from __future__ import annotations

import pytest

from driftline.features import CREDIT_RISK
from driftline.profile import build_profile
from producers.generator import LoanGenerator
from retrainer.data_checks import DataThresholds, check_rows
from retrainer.train import feature_columns
from tests.retrainer.support import DRIFTED

COLUMNS = feature_columns(CREDIT_RISK)


@pytest.fixture(scope="module")
def reference():
    batch = LoanGenerator(5).sample(3000)
    return build_profile(batch.columns, None, numeric=CREDIT_RISK.numeric_names,
                         categorical=CREDIT_RISK.categorical_names)


def _set(n: int = 1000, params=None, seed: int = 11):
    batch = LoanGenerator(seed, params).sample(n)
    return batch.rows(), batch.labels.tolist()


def _check(rows, labels, **kw):
    return check_rows(rows, labels, COLUMNS, features=CREDIT_RISK, **kw)


def test_a_clean_set_passes_every_check_and_every_row_is_usable(reference):
    rows, labels = _set()
    report = _check(rows, labels, profile=reference)
    assert report.passed, report.reasons
    assert report.usable_rows == report.rows == 1000
    assert {c.check for c in report.checks} >= {
        "missing_share", "invalid_share", "rows_per_class", "minority_share", "psi",
        "jensen_shannon", "distinct_values"}


def test_a_feature_all_missing_is_refused_naming_it():
    rows, labels = _set()
    for row in rows:
        del row["annual_income"]
    report = _check(rows, labels)
    assert not report.passed
    assert report.reasons == [
        "annual_income: 100.0% of values missing, more than the 5.0% allowed"]
    assert report.usable_rows == 0


def test_strings_in_a_numeric_column_are_refused_naming_the_expected_kind():
    rows, labels = _set()
    for row in rows[::10]:
        row["loan_amount"] = "250000"
    report = _check(rows, labels)
    assert report.reasons == [
        "loan_amount: 10.0% of values invalid (not a finite number in [1,000, 100,000,000]), more "
        "than the 1.0% allowed"]
    assert report.usable_rows == 900


def test_numbers_outside_the_recorded_ranges_and_numbers_in_a_text_column_are_invalid():
    rows, labels = _set(100)
    rows[0]["existing_debt_ratio"] = 7.5
    rows[1]["channel"] = 3.0
    report = _check(rows, labels, thresholds=DataThresholds(min_rows_per_class=5,
                                                            max_invalid_share=0.0))
    failed = {(c.column, c.check) for c in report.checks if not c.passed}
    assert failed == {("existing_debt_ratio", "invalid_share"), ("channel", "invalid_share")}
    assert report.usable == [False, False] + [True] * 98


def test_a_few_missing_values_pass_but_those_rows_are_not_usable():
    rows, labels = _set()
    for row in rows[:30]:
        row["employment_years"] = None
    report = _check(rows, labels)
    assert report.passed, report.reasons
    assert report.usable_rows == 970


def test_too_few_rows_of_a_class_or_a_tiny_minority_is_refused():
    rows, labels = _set(1000)
    ones = [i for i, y in enumerate(labels) if y == 1]
    for i in ones[5:]:
        labels[i] = 0
    report = _check(rows, labels)
    assert {c.check for c in report.checks if not c.passed} == {"rows_per_class",
                                                                "minority_share"}
    assert report.reasons[0] == (
        "label: 995 rows of class 0 and 5 of class 1, fewer than the 20 needed of each")


def test_labels_other_than_0_and_1_are_invalid():
    rows, labels = _set(200)
    labels[:5] = [2, -1, 1.0, True, None]
    report = _check(rows, labels)
    assert report.reasons == ["label: 2.5% of labels not 0 or 1, more than the 1.0% allowed"]
    assert report.usable_rows == 195


def test_a_shifted_distribution_is_reported_but_refused_only_with_a_psi_bound(reference):
    rows, labels = _set(1000, DRIFTED)
    report = _check(rows, labels, profile=reference)
    assert report.passed, report.reasons
    shift = next(c for c in report.checks if (c.column, c.check) == ("loan_amount", "psi"))
    assert shift.value > 2.0 and shift.threshold is None
    bounded = _check(rows, labels, profile=reference, thresholds=DataThresholds(max_psi=1.0))
    assert [c.column for c in bounded.checks if not c.passed] == ["loan_amount"]
    assert bounded.reasons[0].startswith("loan_amount: PSI ")


def test_a_numeric_column_collapsed_to_one_value_is_refused(reference):
    rows, labels = _set()
    for row in rows:
        row["credit_history_months"] = 0.0
    report = _check(rows, labels, profile=reference)
    assert [(c.column, c.check) for c in report.checks if not c.passed] == [
        ("credit_history_months", "distinct_values")]
    assert report.reasons[0].startswith("credit_history_months: every value is 0, where the "
                                        "reference spreads from ")


def test_a_category_mix_far_from_the_reference_is_refused_with_a_jensen_shannon_bound(
    reference,
):
    rows, labels = _set()
    for row in rows:
        row["channel"] = "kiosk"
    report = _check(rows, labels, profile=reference,
                    thresholds=DataThresholds(max_jensen_shannon=0.3))
    assert [(c.column, c.check) for c in report.checks if not c.passed] == [
        ("channel", "jensen_shannon")]


def test_an_empty_set_is_refused():
    report = _check([], [])
    assert not report.passed and report.reasons == ["no rows to check"]
