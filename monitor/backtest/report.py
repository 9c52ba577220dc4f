"""The drift report of one backtest run, from its results folder.

The windows a backtest judged (``<run>/windows.jsonl``) are the records the live monitor
writes to its reports topic, and its events are drift events, so the report of a run is the
same page as the report of a live range (:func:`driftline.report.build_report`), with the
registry's facts about the versions judged.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from driftline.errors import ContractError
from driftline.events import DriftEvent, decode
from driftline.report import ReportInput
from driftline.report.inputs import read_windows
from driftline.report.live import registry_facts

__all__ = ["backtest_input", "run_labels"]


def run_labels(folder: Path) -> list[str]:
    """The runs of a backtest's results folder, in its summary's order (not ``live``)."""
    summary = json.loads((folder / "backtest.json").read_text())["summary"]
    return [row["run"] for row in summary if row["run"] != "live"]


def backtest_input(folder: Path, run: str | None = None, *, registry: bool = True
                   ) -> ReportInput:
    """What the report of ``run`` (default: the first) of the backtest in ``folder`` shows."""
    manifest = json.loads((folder / "backtest.json").read_text())
    labels = run_labels(folder)
    label = labels[0] if run is None else run
    if label not in labels:
        raise ValueError(f"{folder} has no run {label!r} (runs: {', '.join(labels)})")
    where = folder / label.replace(" ", "-").replace("/", "-")
    windows, unreadable = read_windows(
        line for line in (where / "windows.jsonl").read_bytes().splitlines() if line)
    events = []
    for i, line in enumerate((where / "events.jsonl").read_bytes().splitlines()):
        try:
            events.append(decode(DriftEvent, line))
        except ContractError as exc:
            unreadable.append(f"event {i}: {exc}")
    request = manifest["request"]
    data = ReportInput(
        windows=windows, events=events, start=request["start"], end=request["end"],
        model=request.get("model_name"), unreadable=unreadable,
        title=f"Backtest: {label}", source=f"backtest {where}",
    )
    if registry:
        models = {w.model_name for w in windows} | {e.model_name for e in events}
        versions, profiles, notes = registry_facts(
            models, {(w.model_name, w.model_version) for w in windows if w.drift is not None})
        data = replace(data, versions=versions, profiles=profiles,
                       unreadable=data.unreadable + notes)
    return data
