"""``driftline backtest``'s work: parse, run with a progress bar, print, write results."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import typer

from driftline.instants import format_instant, parse_instant
from monitor.backtest.run import BacktestRequest, run_backtest, summary_rows, write_results
from monitor.settings import MonitorSettings

__all__ = ["run_command"]


def _instant(text: str | None, option: str) -> float | None:
    if text is None:
        return None
    try:
        return parse_instant(text)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint=option) from None


def _version(name: str | None, version: str | None, settings: MonitorSettings) -> str | None:
    """A version number as given, or the version an alias points at now."""
    if version is None or version.isdigit():
        return version
    if name is None:
        raise typer.BadParameter("an alias needs --model", param_hint="--version")
    from driftline.model.registry import configure, get_alias

    configure(settings.home)
    found = get_alias(name, version)
    if found is None:
        raise typer.BadParameter(f"model {name!r} has no alias {version!r}",
                                 param_hint="--version")
    return found


def _from_manifest(path: Path) -> tuple[str, float, float]:
    """``(prefix, start, end)`` of a replay of several topics, from its manifest."""
    from driftline.replay_manifest import ManifestError, ReplayManifest, read_manifest

    try:
        manifest = read_manifest(path)
        if isinstance(manifest, ReplayManifest):
            raise ManifestError(
                f"{path} is the manifest of one topic ({manifest.target_topic}); a backtest "
                "reads predictions and labels: replay them together with --topics "
                "predictions,labels --to-prefix")
        return manifest.backtest_range()
    except ManifestError as exc:
        raise typer.BadParameter(str(exc), param_hint="--manifest") from None


def run_command(*, start: str | None, end: str | None, model: str | None,
                version: str | None, policies: list[Path], prefix: str | None,
                onset: str | None, out: Path | None, retrain: bool, as_json: bool,
                manifest: Path | None = None) -> None:
    settings = MonitorSettings()
    begin, finish = _instant(start, "--from"), _instant(end, "--to")
    if manifest is not None:
        replayed, replay_start, replay_end = _from_manifest(manifest)
        prefix = replayed if prefix is None else prefix
        begin = replay_start if begin is None else begin
        finish = replay_end if finish is None else finish
    if begin is None or finish is None:
        raise typer.BadParameter("give --from and --to, or --manifest",
                                 param_hint="--from" if begin is None else "--to")
    if finish <= begin:
        raise typer.BadParameter("must be after --from", param_hint="--to")
    if retrain and (model is None or version is None):
        raise typer.BadParameter("--retrain needs --model and --version (the version that "
                                 "scored the history)", param_hint="--retrain")
    for path in policies:
        if not path.is_file():
            raise typer.BadParameter(f"no such file: {path}", param_hint="--policy")
    request = BacktestRequest(
        start=begin, end=finish, model_name=model,
        model_version=_version(model, version, settings), policies=list(policies),
        prefix=prefix, onset=_instant(onset, "--onset"), keep_labeled=retrain,
    )
    from driftline.process import tune_gc

    tune_gc()  # a process of its own, holding millions of join slots and events
    with _Progress(enabled=not as_json and sys.stderr.isatty()) as bar:
        result = run_backtest(settings, request, progress=bar.update)
    folder = out or settings.home / "backtests" / time.strftime("%Y%m%dT%H%M%S")
    write_results(result, folder)
    rows = summary_rows(result)
    retrains: dict[str, Any] = {}
    if retrain:
        from monitor.backtest.retrain import sandbox_retrains, summarize_retrains

        records = sandbox_retrains(result, folder, settings.home)
        retrains = {label: summarize_retrains(r) for label, r in records.items()}
        written = json.loads((folder / "backtest.json").read_text())
        written["retrains"] = retrains
        (folder / "backtest.json").write_text(json.dumps(written, indent=2))
    if as_json:
        typer.echo(json.dumps({"results": str(folder), "counts": result.counts,
                               "summary": rows, "retrains": retrains}, indent=2))
        return
    _print_table(rows, result.counts, folder, request)
    for label, summary in retrains.items():
        promotions = "; ".join(
            f"v{p['version']} at {format_instant(p['at'])}: AUC after "
            f"{_auc(p['new_auc'])} (replaced {_auc(p['replaced_auc'])}, {p['rows_after']} rows)"
            for p in summary["promotions"]) or "none"
        typer.echo(f"{label}: {summary['triggered']} retrains triggered, "
                   f"{summary['promoted']} promoted; {promotions}")


def _auc(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


class _Progress:
    """A progress bar of messages read over messages in range (rich, on a terminal)."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self._bar: Any = None
        self._task: Any = None

    def __enter__(self) -> _Progress:
        if self.enabled:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

            self._bar = Progress("[progress.description]{task.description}", BarColumn(),
                                 MofNCompleteColumn(), TimeElapsedColumn(),
                                 console=None, transient=True)
            self._bar.__enter__()
            self._task = self._bar.add_task("reading", total=None)
        return self

    def update(self, read: int, planned: int) -> None:
        if self._bar is not None:
            self._bar.update(self._task, completed=read, total=planned)

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.__exit__(*exc)


def _print_table(rows: list[dict[str, Any]], counts: dict[str, int], folder: Path,
                 request: BacktestRequest) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    table = Table(title=f"backtest {format_instant(request.start)} .. "
                        f"{format_instant(request.end)}")
    for column in ("run", "windows", "events", "by kind", "first", "covariate features",
                   "false alarms", "delay", "periodic delay", "vs live"):
        table.add_column(column)

    def cell(value: Any) -> str:
        if value is None:
            return "-"
        if isinstance(value, float):
            return f"{value:,.0f} s"
        if isinstance(value, dict):
            return ", ".join(f"{k} {v}" for k, v in value.items()) or "-"
        if isinstance(value, list):
            return ", ".join(value) or "-"
        if isinstance(value, bool):
            return "same" if value else "differs"
        return str(value)

    for row in rows:
        table.add_row(row["run"], cell(row["windows"]), cell(row["events"]),
                      cell(row["by_kind"]), cell(row["first"]), cell(row["features"]),
                      cell(row["false_alarms"]), cell(row["delay_s"]),
                      cell(row["periodic_delay_s"]), cell(row["matches_live"]))
    console.print(table)
    console.print(f"read {counts['read']:,} messages ({counts['outside']:,} outside the range "
                  f"or model), joined {counts['joined']:,} pairs, "
                  f"{counts['dead_letters']:,} dead letters; results in {folder}")
