"""``driftline models list``: which version serves, since when, trained on what, and why.

:func:`collect` reads the registry (one query for the versions, one for the aliases, and the
training run of versions that carry no retrainer tags, such as bootstrap's);
:func:`render` turns the result into one screen of text and is pure.

>>> rows = [VersionFacts(version="2", aliases=("champion",), created=0.0, run_id="a1b2c3d4e5f6",
...                      decision="promoted", reason="promoted: roc_auc 0.80 vs 0.41",
...                      champion_since=60.0, champion_reason="promoted: roc_auc 0.80 vs 0.41",
...                      auc="0.8000", champion_auc="0.4100",
...                      champion_version="1", train_rows="300", holdout_rows="100",
...                      fingerprint="9f8e7d6c5b4a3f2e", trigger_event="d-1",
...                      trigger="concept drift (high) on v1"),
...         VersionFacts(version="1", aliases=("previous",), created=0.0, run_id="0f0e0d0c0b0a",
...                      reason="trained by bootstrap", auc="0.7900")]
>>> print(render("credit-risk", rows))  # doctest: +NORMALIZE_WHITESPACE
credit-risk: v2 serves as @champion since 1970-01-01 00:01:00 UTC; @previous is v1
  chosen because: promoted: roc_auc 0.80 vs 0.41
<BLANKLINE>
v2  @champion  PROMOTED  created 1970-01-01 00:00:00 UTC  run a1b2c3d4e5f6
    why      promoted: roc_auc 0.80 vs 0.41
    trigger  drift event d-1: concept drift (high) on v1
    data     300 train + 100 holdout rows, fingerprint 9f8e7d6c5b4a
    holdout  AUC 0.8000 vs 0.4100 (champion v1)
v1  @previous  REGISTERED  created 1970-01-01 00:00:00 UTC  run 0f0e0d0c0b0a
    why      trained by bootstrap
    holdout  AUC 0.7900
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

from retrainer.lineage import TAGS
from retrainer.promotion import CHAMPION, PREVIOUS
from retrainer.schedule import SCHEDULED_PREFIX

__all__ = ["VersionFacts", "collect", "render"]


@dataclass(frozen=True)
class VersionFacts:
    """What ``models list`` shows about one version (strings as stored in tags)."""

    version: str
    aliases: tuple[str, ...] = ()
    created: float | None = None
    run_id: str | None = None
    decision: str = ""
    reason: str = ""
    champion_since: float | None = None
    champion_reason: str = ""
    rolled_back: str = ""
    trigger_event: str = ""
    trigger: str = ""
    train_rows: str = ""
    holdout_rows: str = ""
    fingerprint: str = ""
    train_ranges: str = ""
    holdout_ranges: str = ""
    data_window: str = ""
    auc: str = ""
    brier: str = ""
    champion_auc: str = ""
    champion_brier: str = ""
    champion_version: str = ""


def _when(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(seconds))


def _window(text: str) -> str:
    try:
        start, end = (float(x) for x in text.split("-"))
    except ValueError:
        return ""
    return f", event time {_when(start)} .. {_when(end)[11:]}"


def _holdout(v: VersionFacts) -> str:
    parts = []
    for label, ours, theirs in (("AUC", v.auc, v.champion_auc), ("Brier", v.brier,
                                                                  v.champion_brier)):
        if ours:
            versus = f" vs {theirs}" if theirs else ""
            parts.append(f"{label} {ours}{versus}")
    if not parts:
        return ""
    against = f" (champion v{v.champion_version})" if v.champion_auc else ""
    return ", ".join(parts) + against


def _block(v: VersionFacts) -> list[str]:
    aliases = "".join(f"  @{a}" for a in v.aliases)
    run = f"  run {v.run_id[:12]}" if v.run_id else ""
    lines = [f"v{v.version}{aliases}  {(v.decision or 'registered').upper()}  "
             f"created {_when(v.created)}{run}"]

    def add(label: str, text: str) -> None:
        if text:
            lines.append(f"    {label:8} {text}")

    add("why", v.reason)
    if v.champion_since is not None and CHAMPION not in v.aliases:  # the head says it
        add("served", f"was made champion {_when(v.champion_since)}: {v.champion_reason}")
    add("rolled", f"back {v.rolled_back}" if v.rolled_back else "")
    if v.trigger_event.startswith(SCHEDULED_PREFIX):
        add("trigger", f"{v.trigger} ({v.trigger_event})")
    elif v.trigger_event:
        add("trigger", f"drift event {v.trigger_event}: {v.trigger}")
    if v.train_rows:
        fingerprint = f", fingerprint {v.fingerprint[:12]}" if v.fingerprint else ""
        add("data", f"{v.train_rows} train + {v.holdout_rows} holdout rows"
            f"{_window(v.data_window)}{fingerprint}")
        add("", f"train {v.train_ranges}" if v.train_ranges else "")
        add("", f"holdout {v.holdout_ranges}" if v.holdout_ranges else "")
    add("holdout", _holdout(v))
    return lines


def render(name: str, versions: Sequence[VersionFacts]) -> str:
    """One screen: the serving version and why, then a block per version (newest first)."""
    if not versions:
        return f"{name}: no versions registered; run `driftline bootstrap`"
    by_alias = {a: v for v in versions for a in v.aliases}
    champion, previous = by_alias.get(CHAMPION), by_alias.get(PREVIOUS)
    if champion is None:
        head = [f"{name}: no version has the alias @champion (nothing serves)"]
    else:
        since = champion.champion_since if champion.champion_since is not None else (
            champion.created)
        note = "" if champion.champion_since is not None else " (its registration)"
        tail = f"; @previous is v{previous.version}" if previous else "; no @previous"
        head = [
            f"{name}: v{champion.version} serves as @champion since {_when(since)}{note}{tail}",
            f"  chosen because: {champion.champion_reason or champion.reason or '?'}",
        ]
    body = [line for v in versions for line in _block(v)]
    return "\n".join([*head, "", *body])


def _float(text: str | None) -> float | None:
    try:
        return float(text) if text else None
    except ValueError:
        return None


def collect(name: str, limit: int | None = None) -> list[VersionFacts]:
    """The versions of ``name``, newest first (at most ``limit``), with their facts."""
    import mlflow
    from mlflow.exceptions import MlflowException

    client = mlflow.MlflowClient()
    try:
        aliases = dict(client.get_registered_model(name).aliases or {})
    except MlflowException:
        return []
    versions = sorted(client.search_model_versions(f"name='{name}'"),
                      key=lambda mv: int(mv.version), reverse=True)
    out = []
    for mv in versions[:limit]:
        tags = dict(mv.tags or {})
        auc, brier = tags.get(TAGS.holdout_auc, ""), tags.get(TAGS.holdout_brier, "")
        if not auc and mv.run_id:  # a version the retrainer did not make: its run's metrics
            try:
                metrics = client.get_run(mv.run_id).data.metrics
            except MlflowException:
                metrics = {}
            auc = f"{metrics['holdout_auc']:.4f}" if "holdout_auc" in metrics else ""
            brier = f"{metrics['holdout_brier']:.4f}" if "holdout_brier" in metrics else ""
        out.append(VersionFacts(
            version=str(mv.version),
            aliases=tuple(sorted(a for a, v in aliases.items() if str(v) == str(mv.version))),
            created=mv.creation_timestamp / 1000.0 if mv.creation_timestamp else None,
            run_id=mv.run_id,
            decision=tags.get(TAGS.decision, ""),
            reason=tags.get(TAGS.reason) or (mv.description or ""),
            champion_since=_float(tags.get(TAGS.champion_since)),
            champion_reason=tags.get(TAGS.champion_reason, ""),
            rolled_back=tags.get(TAGS.rolled_back, ""),
            trigger_event=tags.get(TAGS.trigger_event, ""),
            trigger=tags.get(TAGS.trigger, ""),
            train_rows=tags.get(TAGS.train_rows, ""),
            holdout_rows=tags.get(TAGS.holdout_rows, ""),
            fingerprint=tags.get(TAGS.fingerprint, ""),
            train_ranges=tags.get(TAGS.train_ranges, ""),
            holdout_ranges=tags.get(TAGS.holdout_ranges, ""),
            data_window=tags.get(TAGS.data_window, ""),
            auc=auc,
            brier=brier,
            champion_auc=tags.get(TAGS.champion_auc, ""),
            champion_brier=tags.get(TAGS.champion_brier, ""),
            champion_version=tags.get(TAGS.champion_version, ""),
        ))
    return out
