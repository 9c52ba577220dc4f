"""Comparing two versions' scores: calibration, windows, JSON and the verdict line."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from retrainer.calibration import expected_calibration_error, reliability
from retrainer.comparison import compare, render, to_dict
from retrainer.evaluate import parse_time
from retrainer.gate import Gate


def test_scores_equal_to_the_positive_rate_of_their_bin_have_no_calibration_error():
    labels = [1] * 2 + [0] * 8 + [1] * 7 + [0] * 3
    scores = [0.2] * 10 + [0.7] * 10
    table = reliability(labels, scores)
    assert [(b.rows, b.positive_rate) for b in table] == [(10, 0.2), (10, 0.7)]
    assert math.isclose(expected_calibration_error(table), 0.0, abs_tol=1e-12)


def test_scores_of_0_and_1_fall_in_the_first_and_last_bins():
    table = reliability([0, 1], [0.0, 1.0], bins=4)
    assert [(b.low, b.high) for b in table] == [(0.0, 0.25), (0.75, 1.0)]


def _rows(n: int, seed: int):
    rng = np.random.default_rng(seed)
    labels = (rng.random(n) < 0.3).astype(int)
    good = np.clip(labels * 0.5 + rng.random(n) * 0.5, 0, 1)
    poor = rng.random(n)
    return labels.tolist(), good.tolist(), poor.tolist()


def test_windows_are_counted_from_the_start_and_a_one_class_window_has_no_auc():
    labels, good, poor = _rows(6, 1)
    labels = [0, 0, 1, 0, 1, 1]
    times = [100.0, 110.0, 130.0, 200.0, 210.0, 400.0]
    result = compare(labels, times, good, poor, gate=Gate(), window=60.0, start=90.0)
    assert [(w.start, w.rows, w.positives) for w in result.windows] == [
        (90.0, 3, 1), (150.0, 1, 0), (210.0, 1, 1), (390.0, 1, 1)]
    assert math.isnan(result.windows[1].candidate["roc_auc"])
    document = json.loads(json.dumps(to_dict(result), allow_nan=False))
    assert document["windows"][1]["candidate"]["roc_auc"] is None


def test_the_rendered_comparison_ends_with_the_verdict():
    labels, good, poor = _rows(400, 2)
    times = [float(i) for i in range(400)]
    passed = render(compare(labels, times, good, poor, gate=Gate()), "v2", "champion v1")
    assert passed.splitlines()[-1].startswith("PASS: passed: roc_auc ")
    assert "roc_auc" in passed and "ece" in passed and "reliability" in passed
    failed = compare(labels, times, poor, good, gate=Gate())
    assert not failed.passed
    assert render(failed).splitlines()[-1].startswith("FAIL: worse: roc_auc ")
    strict = compare(labels, times, good, good, gate=Gate(margin=0.01), rule="promotion")
    assert not strict.passed and strict.verdict.reason.startswith("rejected: roc_auc")


def test_times_are_read_as_iso_8601_in_utc_or_epoch_seconds():
    assert parse_time("2023-11-14T22:13:20+00:00") == 1_700_000_000.0
    assert parse_time("2023-11-14 22:13:20") == 1_700_000_000.0
    assert parse_time(" 1700000000.5 ") == 1_700_000_000.5
    with pytest.raises(ValueError, match="cannot read 'yesterday' as a time"):
        parse_time("yesterday")
