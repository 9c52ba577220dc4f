"""Bad command-line arguments fail early, naming the option and what is wrong."""

from __future__ import annotations

import re

import pytest
from typer.testing import CliRunner

from driftline.cli import app

runner = CliRunner()


def _flat(output: str) -> str:
    """The output without rich's box drawing and line wrapping."""
    return " ".join(re.sub(r"[│╭╮╰╯─]", " ", output).split())


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["produce", "--to", "ftp"], "choose http or kafka"),
        (["produce", "--scenario", "stable,loan-amount-shift"], "needs a length"),
        (["produce", "--scenario", "price-shock"], "unknown scenario 'price-shock'"),
        (["produce", "--label-delay", "weibull:1h"], "unknown label delay"),
        (["produce", "--duration", "ten minutes"], "not a duration"),
        (["produce", "--source", "hyperplane"], "unknown source"),
        (["produce", "--rate", "0"], "--rate must be positive"),
        (["produce", "--time-scale", "-1"], "--time-scale must be positive"),
        (["produce", "--label-loss", "2"], "never arrive must be within 0..1"),
        (["produce", "--source", "sea", "--to", "http"], "goes --to kafka"),
        (["produce", "--source", "sea", "--to", "kafka", "--scenario", "stable:1m,channel-mix"],
         "cannot play channel-mix"),
        (["produce", "--start", "tomorrow"], "not an ISO time"),
        (["replay", "--topic", "a", "--to-topic", "b", "--speed", "fast"], "cannot read speed"),
        (["replay", "--topic", "a", "--to-topic", "b", "--from", "yesterday"], "cannot read"),
        (["replay", "--topic", "a", "--to-topic", "b", "--partitions", "one"],
         "list partition numbers"),
        (["replay", "--topic", "a", "--to-topic", "b", "--time", "wall"], "choose event or kafka"),
        (["replay", "--topics", "predictions,labels"], "--topics needs --to-prefix"),
        (["replay", "--topic", "a", "--topics", "labels", "--to-prefix", "x."],
         "give --topic with --to-topic, or --topics"),
        (["replay", "--to-topic", "b"], "give --topic with --to-topic, or --topics"),
    ],
)
def test_bad_arguments_exit_2_with_a_clear_message(args, message):
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    assert message in _flat(result.output), result.output


def test_list_scenarios_describes_each_one():
    result = runner.invoke(app, ["produce", "--list-scenarios"])
    assert result.exit_code == 0
    for name in ("stable", "loan-amount-shift", "concept-flip", "channel-mix", "data-quality"):
        assert name in result.output


def test_replay_needs_both_topics():
    result = runner.invoke(app, ["replay", "--topic", "a"])
    assert result.exit_code == 2
    assert "--to-topic" in result.output
