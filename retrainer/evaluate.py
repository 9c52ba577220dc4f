"""``driftline models evaluate``: a candidate version against the champion (or any alias or
version) on the realized labels of an event-time range, for a CI step.

:func:`evaluate` resolves both versions, loads each through the registry and the scorer's own
serving path (:func:`retrainer.train.score_rows`; the types accepted for a version's skops
file are respected), reads the joined rows of ``labeled`` whose prediction's event time is in
``[start, end)`` (:meth:`retrainer.source.LabeledSource.read_range`, one row per prediction
id), checks them as the retrainer checks training data (:mod:`retrainer.data_checks`, against
each version's inputs and ranges and the other version's reference profile), scores both on
the same usable rows and compares them (:func:`retrainer.comparison.compare`) by the
retrainer's gate settings.

Exit codes of the command: :data:`EXIT_PASS` (0) the candidate passes, :data:`EXIT_WORSE` (1)
it is worse than the other by more than the gate's margin (or, with ``--must-beat``, does not
beat it by the margin), :data:`EXIT_BAD_INPUT` (2) bad input or usage: no rows in range, rows
that fail the data checks, an unknown version or alias, a version that cannot be loaded, an
unreachable broker or registry.

>>> parse_time("2023-11-14T22:13:20Z"), parse_time("1700000000"), parse_time("2023-11-14")
(1700000000.0, 1700000000.0, 1699920000.0)
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from driftline.errors import DriftlineError
from driftline.instants import parse_instant as parse_time
from driftline.model.registry import LoadedModel, RegistryError, get_alias, load_model, load_profile
from driftline.model.signature import columns_from_signature
from driftline.profile import ReferenceProfile
from retrainer.comparison import Comparison, Rule, compare
from retrainer.data_checks import DataReport, check_rows
from retrainer.dataset import latest_rows
from retrainer.settings import RetrainerSettings
from retrainer.source import LabeledSource
from retrainer.train import score_rows

__all__ = [
    "EXIT_BAD_INPUT",
    "EXIT_PASS",
    "EXIT_WORSE",
    "EvaluationError",
    "EvaluationRequest",
    "evaluate",
    "parse_time",
]

log = logging.getLogger(__name__)

EXIT_PASS = 0
EXIT_WORSE = 1
EXIT_BAD_INPUT = 2


class EvaluationError(DriftlineError):
    """The evaluation cannot be run as asked: no rows, rows that fail their checks, an
    unknown version."""


@dataclass(frozen=True)
class EvaluationRequest:
    """What to compare, on which rows, by which rule."""

    candidate: str
    against: str
    start: float
    end: float
    window: float | None = None
    rule: Rule = "no-regression"
    bins: int = 10


def _resolve(name: str, ref: str) -> tuple[str, str]:
    """``(version, label)`` of a version number or an alias."""
    if ref.isdigit():
        return ref, f"v{ref}"
    version = get_alias(name, ref.removeprefix("@"))
    if version is None:
        raise EvaluationError(f"{name} has no alias {ref!r}; give a version number or an alias")
    return version, f"{ref.removeprefix('@')} v{version}"


def _profile(name: str, version: str) -> ReferenceProfile | None:
    try:
        return load_profile(name, version)
    except RegistryError as exc:
        log.warning("rows not compared with a reference profile: %s", exc)
        return None


def _check(rows: list[dict], labels: list[int], model: LoadedModel,
           profile: ReferenceProfile | None, settings: RetrainerSettings) -> DataReport:
    columns = [(c.name, c.kind) for c in columns_from_signature(model.signature)]
    return check_rows(rows, labels, columns, features=model.features, profile=profile,
                      thresholds=settings.data_thresholds())


def evaluate(settings: RetrainerSettings, request: EvaluationRequest) -> Comparison:
    """Compare the candidate with the other version on the range's labeled rows; raises
    :class:`EvaluationError` (and the registry's and broker's errors) for bad input."""
    name = settings.model_name
    if request.end <= request.start:
        raise EvaluationError("--to must be after --from")
    (ours, our_label), (theirs, their_label) = (_resolve(name, request.candidate),
                                                _resolve(name, request.against))
    trusted = settings.retrain_trusted_types
    candidate = load_model(name, ours, trusted_types=trusted)
    against = load_model(name, theirs, trusted_types=trusted)
    source = LabeledSource(settings.kafka, settings.topic("labeled"),
                           margin=settings.retrain_read_margin, times=settings.time_range())
    read = source.read_range(request.start, request.end)
    rows, duplicates = latest_rows(read.rows, name)
    span = (f"{datetime.fromtimestamp(request.start, UTC):%Y-%m-%d %H:%M:%S} to "
            f"{datetime.fromtimestamp(request.end, UTC):%Y-%m-%d %H:%M:%S} UTC")
    if not rows:
        raise EvaluationError(
            f"no labeled rows of {name} with an event time from {span} on {source.topic}")
    features = [r.event.prediction.features for r in rows]
    labels = [r.event.label for r in rows]
    reports = [_check(features, labels, candidate, None, settings),
               _check(features, labels, against, _profile(name, theirs), settings)]
    reasons = list(dict.fromkeys(reason for report in reports for reason in report.reasons))
    if reasons:
        raise EvaluationError(
            f"the {len(rows)} labeled rows from {span} fail their checks: " + "; ".join(reasons))
    usable = [r for r, a, b in zip(rows, reports[0].usable, reports[1].usable, strict=True)
              if a and b]
    result = compare(
        [r.event.label for r in usable], [r.event.event_time for r in usable],
        score_rows(candidate, usable), score_rows(against, usable),
        gate=settings.gate(), rule=request.rule, window=request.window, start=request.start,
        bins=request.bins,
    )
    return replace(result, context={
        "model": name,
        "candidate_version": ours,
        "candidate_label": f"candidate {our_label}",
        "against_version": theirs,
        "against_label": their_label,
        "from": request.start,
        "to": request.end,
        "span": span,
        "topic": source.topic,
        "rows_read": len(read.rows),
        "duplicates": duplicates,
        "unusable_rows": len(rows) - len(usable),
    })
