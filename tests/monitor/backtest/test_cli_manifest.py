"""``driftline backtest`` takes its range from a replay manifest, or refuses clearly: no range
at all, a manifest of one topic, a file that is no manifest."""

from __future__ import annotations

import re

import pytest
from typer.testing import CliRunner

from driftline.cli import app
from driftline.replay_manifest import PartitionRange, ReplayManifest

runner = CliRunner()


def _flat(output: str) -> str:
    return " ".join(re.sub(r"[│╭╮╰╯─]", " ", output).split())


def _one_topic(path):
    return ReplayManifest(
        replay_id="r", created_at="2026-11-27T18:00:00+00:00", source_topic="predictions",
        target_topic="bt1.predictions", requested_from="1.0", requested_to="2.0", speed="max",
        partitioning="same-partition",
        ranges=[PartitionRange(partition=0, start_offset=0, end_offset=1, count=1)],
    ).write(path)


@pytest.mark.parametrize(("args", "message"), [
    ([], "give --from and --to, or --manifest"),
    (["--from", "2026-11-27T10:00:00Z"], "give --from and --to, or --manifest"),
    (["--manifest", "MISSING"], "cannot read manifest"),
    (["--manifest", "ONE"], "is the manifest of one topic (bt1.predictions)"),
])
def test_a_backtest_without_a_usable_range_stops_naming_the_option(args, message, tmp_path,
                                                                  monkeypatch):
    monkeypatch.setenv("DRIFTLINE_HOME", str(tmp_path))
    one = _one_topic(tmp_path / "one.json")
    args = [{"MISSING": str(tmp_path / "missing.json"), "ONE": str(one)}.get(a, a)
            for a in args]
    result = runner.invoke(app, ["backtest", *args])
    assert result.exit_code == 2, result.output
    assert message in _flat(result.output), result.output
