"""A backtest's sandbox registry gets a copy of the live champion, and everything the copy
writes stays under the sandbox's home: nothing in the live registry, nothing in ./mlruns of
the directory the process runs in. Embedded MLflow registries, no broker."""

from __future__ import annotations

from pathlib import Path

import mlflow
import pytest

from driftline.model.registry import configure, get_alias
from retrainer.sandbox import seed_sandbox
from tests.scorer.support import register_model


def test_the_sandbox_copy_writes_only_under_the_sandbox_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    live, sandbox, cwd = tmp_path / "live", tmp_path / "sandbox", tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    register_model(live, "credit-risk", rows=1000)

    version = seed_sandbox(live, sandbox, "credit-risk", "1")

    assert not (cwd / "mlruns").exists()
    assert list((sandbox / "mlflow" / "artifacts").rglob("reference_profile.json"))
    configure(sandbox, embedded=True)
    assert get_alias("credit-risk", "champion") == version
    configure(live)
    assert [str(v.version) for v in mlflow.MlflowClient().search_model_versions(
        "name = 'credit-risk'")] == ["1"]
