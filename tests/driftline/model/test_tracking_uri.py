"""Which registry a process talks to: the user's MLFLOW_TRACKING_URI, however often the
process configures its client, else the embedded sqlite file under its home."""

from __future__ import annotations

from pathlib import Path

import pytest

from driftline.model import registry


@pytest.fixture
def fresh_registry_state(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(registry, "_configured", None)
    monkeypatch.setattr(registry, "_user", None)


def test_a_second_configure_keeps_the_users_tracking_uri(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh_registry_state: None
) -> None:
    import mlflow

    given = f"sqlite:///{tmp_path / 'server.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", given)
    registry.configure(tmp_path / "home")
    registry.configure(tmp_path / "home")  # the scorer's CLI, then its service, configure
    assert mlflow.get_tracking_uri() == given
    assert registry.tracking_uri(tmp_path / "home") == given
    assert not (tmp_path / "home" / "mlflow").exists()


def test_without_a_tracking_uri_the_embedded_registry_stays_embedded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh_registry_state: None
) -> None:
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    registry.configure(tmp_path / "a")
    # configure() exported the embedded URI; a second home is not its user's choice
    assert registry.tracking_uri(tmp_path / "b").endswith(str(tmp_path / "b" / "mlflow" /
                                                              "mlflow.db"))


def test_a_sandbox_never_writes_into_the_users_registry_and_the_users_choice_survives_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh_registry_state: None
) -> None:
    import mlflow

    given = f"sqlite:///{tmp_path / 'server.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", given)
    registry.configure(tmp_path / "live")
    registry.configure(tmp_path / "sandbox", embedded=True)  # a backtest's sandbox registry
    sandbox = f"sqlite:///{(tmp_path / 'sandbox' / 'mlflow' / 'mlflow.db').resolve()}"
    assert mlflow.get_tracking_uri() == sandbox
    registry.configure(tmp_path / "live")  # back to the live registry: the user's
    assert mlflow.get_tracking_uri() == given
