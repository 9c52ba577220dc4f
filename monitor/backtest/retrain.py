"""``driftline backtest --retrain``: each policy run's drift events through the retrainer, in
a sandbox registry under the run's results folder.

The retrainer is a service of its own (the monitor imports none), so it runs as a
subprocess (``driftline retrain-sandbox``, :mod:`retrainer.sandbox`) per policy run: it
reads the run's ``events.jsonl`` and the backtest's joined pairs (``labeled.jsonl``),
copies the backtested version from the live registry into a sandbox registry, and writes
``retrains.jsonl`` beside the events: per drift event, the trigger decision, the retrain's
ending, and for each promotion, the new and the replaced version's AUC on the pairs that
followed. A run judged with a policy file retrains with that file's drift kinds.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from monitor.backtest.run import BacktestResult, run_folder

__all__ = ["sandbox_retrains", "summarize_retrains"]


def sandbox_retrains(result: BacktestResult, folder: Path, live_home: Path,
                     timeout: float = 3600.0) -> dict[str, list[dict[str, Any]]]:
    """Run the sandboxed retrainer for every policy run; its records per run label."""
    req = result.request
    if req.model_name is None or req.model_version is None:
        raise ValueError("--retrain needs --model and --version (the version that scored "
                         "the history: the sandbox starts from a copy of it)")
    out: dict[str, list[dict[str, Any]]] = {}
    for run in result.runs:
        run_dir = run_folder(folder, run)
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        if Path(run.source).is_file():  # its [models.<name>.retrain] kinds apply
            env["DRIFTLINE_POLICY_FILE"] = run.source
        done = subprocess.run(
            [sys.executable, "-m", "driftline.cli", "retrain-sandbox", "--run", str(run_dir),
             "--labeled", str(folder / "labeled.jsonl"), "--live-home", str(live_home),
             "--model", req.model_name, "--version", req.model_version,
             "--end", repr(req.end)],
            env=env, capture_output=True, text=True, timeout=timeout, check=False)
        (run_dir / "retrainer.log").write_text(done.stdout + done.stderr)
        if done.returncode != 0:
            raise RuntimeError(f"the sandboxed retrainer of run {run.label!r} failed "
                               f"(exit {done.returncode}); see {run_dir / 'retrainer.log'}")
        records = [json.loads(line) for line in
                   (run_dir / "retrains.jsonl").read_text().splitlines() if line]
        out[run.label] = records
    return out


def summarize_retrains(records: list[dict[str, Any]]) -> dict[str, Any]:
    """Per run: retrains triggered, promoted, and the promotions' AUC after them.

    >>> summarize_retrains([{"decision": "skipped: x", "result": None},
    ...     {"decision": "triggered: y", "result": "promoted", "trained_at": 10.0,
    ...      "version": "2", "after": {"new_auc": 0.8, "replaced_auc": 0.6, "rows": 50}}])
    {'triggered': 1, 'promoted': 1, 'first_promotion': 10.0, 'promotions': [{'version': '2', \
'at': 10.0, 'rows_after': 50, 'new_auc': 0.8, 'replaced_auc': 0.6}]}
    """
    triggered = [r for r in records if r.get("decision", "").startswith("triggered")]
    promoted = [r for r in triggered if r.get("result") == "promoted"]
    return {
        "triggered": len(triggered),
        "promoted": len(promoted),
        "first_promotion": promoted[0]["trained_at"] if promoted else None,
        "promotions": [{"version": r["version"], "at": r["trained_at"],
                        "rows_after": r.get("after", {}).get("rows"),
                        "new_auc": r.get("after", {}).get("new_auc"),
                        "replaced_auc": r.get("after", {}).get("replaced_auc")}
                       for r in promoted],
    }
