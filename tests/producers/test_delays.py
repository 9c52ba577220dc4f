"""Label delays follow the configured distribution; a share never arrives."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from producers.delays import (
    Exponential,
    Fixed,
    LabelDelays,
    LogNormal,
    Pareto,
    parse_delay,
)
from producers.scenarios import parse_scenario
from producers.traffic import Traffic

# The same distributions as scipy defines them: the reference the samples are tested against.
CASES = [
    ("exponential:30m", stats.expon(scale=1800.0)),
    ("lognormal:1h:sigma=0.8", stats.lognorm(s=0.8, scale=3600.0)),
    ("pareto:10m:alpha=1.5", stats.pareto(b=1.5, scale=600.0)),
    ("pareto:2m:alpha=3", stats.pareto(b=3.0, scale=120.0)),
]


@pytest.mark.parametrize(("spec", "reference"), CASES)
def test_samples_pass_a_ks_test_against_the_reference_distribution(spec, reference):
    dist = parse_delay(spec)
    sample = dist.sample(np.random.default_rng(20), 5_000)
    assert stats.kstest(sample, reference.cdf).pvalue > 0.01


@pytest.mark.parametrize(("spec", "reference"), CASES)
def test_cdf_matches_the_reference(spec, reference):
    x = np.array([0.0, 30.0, 600.0, 1800.0, 3600.0, 36_000.0, 1e6])
    np.testing.assert_allclose(parse_delay(spec).cdf(x), reference.cdf(x), atol=1e-12)


def test_fixed_delay_is_exact():
    assert set(Fixed(300.0).sample(np.random.default_rng(0), 100)) == {300.0}


def test_a_share_of_labels_never_arrives():
    delays = LabelDelays(Exponential(60.0), never=0.15)
    sample = delays.sample(np.random.default_rng(2), 20_000)
    assert np.isnan(sample).mean() == pytest.approx(0.15, abs=0.01)
    arrived = sample[~np.isnan(sample)]
    assert stats.kstest(arrived, stats.expon(scale=60.0).cdf).pvalue > 0.01


def test_traffic_carries_the_delays_and_losses():
    traffic = Traffic(
        parse_scenario("stable"),
        LabelDelays(LogNormal(600.0, sigma=1.2), never=0.1),
        seed=3,
        per_second=5.0,
    )
    apps = traffic.take(8_000)
    lost = [a for a in apps if a.label_delay is None]
    assert len(lost) / len(apps) == pytest.approx(0.1, abs=0.01)
    delays = np.array([a.label_delay for a in apps if a.label_delay is not None])
    assert stats.kstest(delays, stats.lognorm(s=1.2, scale=600.0).cdf).pvalue > 0.01
    for app in apps[:50]:
        if app.label_delay is not None:
            assert app.label_due == app.sim_time + app.label_delay


def test_heavy_tails_are_heavy():
    """Pareto with alpha 1.5 puts far more mass beyond 100x its minimum than an exponential
    of the same median."""
    rng = np.random.default_rng(9)
    pareto = Pareto(60.0, alpha=1.5).sample(rng, 50_000)
    expo = Exponential(np.median(pareto) / np.log(2)).sample(rng, 50_000)
    assert np.mean(pareto > 6_000) > 0.0005
    assert np.mean(expo > 6_000) == 0.0


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("weibull:1h", "unknown label delay"),
        ("exponential", "give the delay's scale"),
        ("exponential:soon", "not a duration"),
        ("lognormal:1h:mu=2", "unexpected 'mu=2'"),
        ("pareto:10m:alpha=-1", "alpha must be a positive number"),
        ("exponential:0s", "must be positive"),
    ],
)
def test_bad_delay_specs_say_what_is_wrong(spec, message):
    with pytest.raises(ValueError, match=message):
        parse_delay(spec)


def test_loss_share_is_checked():
    with pytest.raises(ValueError, match=r"never arrive must be within 0\.\.1"):
        LabelDelays(Fixed(1.0), never=1.5)
