"""The traffic stream is a pure function of its seed and configuration."""

from __future__ import annotations

import pytest

from producers.delays import Exponential, LabelDelays, LogNormal
from producers.scenarios import parse_scenario
from producers.traffic import Traffic

SCENARIO = "stable:2m,loan-amount-shift:gradual=1m:2m,data-quality:share=0.2"


def _traffic(seed: int = 1, delays: LabelDelays | None = None, **kwargs) -> Traffic:
    return Traffic(
        parse_scenario(SCENARIO),
        delays or LabelDelays(Exponential(300.0), never=0.1),
        seed=seed,
        per_second=4.0,
        run_id="det",
        **kwargs,
    )


def test_the_same_seed_gives_the_same_stream():
    assert _traffic(seed=1).take(2_000) == _traffic(seed=1).take(2_000)


def test_another_seed_gives_another_stream():
    a, b = _traffic(seed=1).take(200), _traffic(seed=2).take(200)
    assert [x.features for x in a] != [x.features for x in b]


def test_the_stream_does_not_depend_on_how_it_is_read():
    whole = _traffic().take(1_000)
    stream = iter(_traffic())
    pieces = [next(stream) for _ in range(1_000)]
    assert pieces == whole


def test_changing_label_delays_leaves_the_applications_alone():
    a = _traffic(delays=LabelDelays(Exponential(300.0), never=0.1)).take(500)
    b = _traffic(delays=LabelDelays(LogNormal(60.0), never=0.5)).take(500)
    assert [(x.features, x.label, x.malformed) for x in a] == [
        (x.features, x.label, x.malformed) for x in b
    ]
    assert [x.label_delay for x in a] != [x.label_delay for x in b]


def test_requests_are_evenly_spaced_in_simulated_time_with_stable_ids():
    apps = _traffic().take(5)
    assert [a.sim_time for a in apps] == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert [a.request_id for a in apps][:2] == ["det-00000000", "det-00000001"]


def test_a_river_source_refuses_loan_scenarios():
    with pytest.raises(ValueError, match=r"cannot play loan-amount-shift \(loans only\)"):
        Traffic(
            parse_scenario("stable:1m,loan-amount-shift"),
            LabelDelays(Exponential(1.0)),
            source="sea",
        )
