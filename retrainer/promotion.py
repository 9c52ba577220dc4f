"""Moving the ``champion`` alias: promote, roll back, and announce it on ``model-updates``.

Aliases in the MLflow registry are the truth about what serves; the ``model-updates`` event
only tells scorers to re-read them now rather than at their next periodic check.

- **promote** ``v``: ``previous`` moves to the current champion, then ``champion`` to ``v``.
- **rollback**: ``champion`` moves to ``previous`` and ``previous`` is *cleared*, not pointed at
  the version rolled back from: that version was rolled back because it misbehaved, and a
  second ``rollback`` must not quietly serve it again. A second rollback therefore refuses;
  any version can still be served on purpose with ``promote``. The version rolled back from
  gets a ``driftline.rolled_back`` tag saying when and to what.

The version that becomes champion gets ``driftline.champion_since`` (seconds since the epoch,
since MLflow does not record when an alias moved) and ``driftline.champion_reason`` tags.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from types import EllipsisType

from driftline.errors import DriftlineError
from driftline.events import ModelUpdateEvent, now
from driftline.kafka import Producer
from driftline.logs import fields
from driftline.model.registry import get_alias, set_alias
from retrainer.lineage import TAGS

__all__ = [
    "CHAMPION",
    "PREVIOUS",
    "AliasMove",
    "ModelsError",
    "announce",
    "promote",
    "rollback",
]

log = logging.getLogger(__name__)

CHAMPION = "champion"
PREVIOUS = "previous"


class ModelsError(DriftlineError):
    """A promotion or rollback cannot be done as asked (unknown version, no previous...)."""


@dataclass(frozen=True)
class AliasMove:
    """``champion`` now points at ``version``; it pointed at ``previous`` before."""

    model_name: str
    version: str
    previous: str | None
    reason: str
    run_id: str | None

    def event(self) -> ModelUpdateEvent:
        """The ModelUpdateEvent that tells scorers about this move."""
        return ModelUpdateEvent(
            event_time=now(),
            model_name=self.model_name,
            version=self.version,
            alias=CHAMPION,
            previous_version=self.previous,
            reason=self.reason,
            run_id=self.run_id,
        )


def _version(name: str, version: str):  # -> mlflow ModelVersion
    import mlflow
    from mlflow.exceptions import MlflowException

    try:
        return mlflow.MlflowClient().get_model_version(name, str(version))
    except MlflowException:
        raise ModelsError(
            f"model {name!r} has no version {version}; `driftline models list` shows them"
        ) from None


def _crown(client, name: str, version: str, reason: str) -> None:
    """Record when and why ``version`` became champion; an old rollback no longer applies."""
    client.set_model_version_tag(name, version, TAGS.champion_since, f"{time.time():.3f}")
    client.set_model_version_tag(name, version, TAGS.champion_reason, reason[:5000])
    if TAGS.rolled_back in (client.get_model_version(name, version).tags or {}):
        client.delete_model_version_tag(name, version, TAGS.rolled_back)


def promote(
    name: str, version: str, *, reason: str, expect_champion: str | EllipsisType | None = ...
) -> AliasMove:
    """Make ``version`` the champion and the former champion ``previous``.

    ``expect_champion``, when given (None: "there was no champion"), is the champion the
    caller judged against: if the alias moved meanwhile (someone promoted or rolled back),
    nothing changes and ModelsError says so, since the verdict no longer applies.
    """
    import mlflow

    mv = _version(name, version)
    current = get_alias(name, CHAMPION)
    if expect_champion is not ... and current != expect_champion:
        raise ModelsError(
            f"the champion of {name} moved to v{current} while v{version} was judged against "
            f"v{expect_champion}; not promoting"
        )
    if current == str(version):
        raise ModelsError(f"{name} v{version} is already the champion")
    if current is not None:
        set_alias(name, PREVIOUS, current)
    set_alias(name, CHAMPION, version)
    _crown(mlflow.MlflowClient(), name, str(version), reason)
    log.info("%s: @champion v%s (was v%s): %s", name, version, current, reason,
             extra=fields(model=name, version=version, previous_version=current))
    return AliasMove(name, str(version), current, reason, mv.run_id)


def rollback(name: str, *, reason: str = "rollback") -> AliasMove:
    """Point ``champion`` back at ``previous`` and clear ``previous`` (see the module text)."""
    import mlflow

    target = get_alias(name, PREVIOUS)
    if target is None:
        raise ModelsError(
            f"{name} has no @previous version to roll back to (a rollback clears it); serve a "
            "version on purpose with `driftline models promote VERSION`"
        )
    mv = _version(name, target)
    current = get_alias(name, CHAMPION)
    client = mlflow.MlflowClient()
    set_alias(name, CHAMPION, target)
    client.delete_registered_model_alias(name, PREVIOUS)
    _crown(client, name, target, f"{reason} (from v{current})")
    if current is not None and current != target:
        when = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())
        client.set_model_version_tag(
            name, current, TAGS.rolled_back, f"to v{target} at {when}: {reason}"
        )
    log.info("%s: rolled @champion back to v%s from v%s", name, target, current,
             extra=fields(model=name, version=target, previous_version=current))
    return AliasMove(name, target, current, reason, mv.run_id)


def announce(producer: Producer, topic: str, move: AliasMove, timeout: float = 10.0) -> bool:
    """Publish the move on ``model-updates`` and wait for the broker's acknowledgement.
    Returns False (and logs why) when it was not acknowledged in time; the alias has moved
    anyway and scorers find it at their next periodic check."""
    failed_before = producer.failed
    producer.send(topic, move.event())
    left = producer.flush(timeout)
    if left or producer.failed > failed_before:
        log.error(
            "model-updates: the move of %s to v%s was not acknowledged (%s); scorers will "
            "follow at their next alias check",
            move.model_name, move.version, producer.last_error or f"{left} queued",
        )
        return False
    return True
