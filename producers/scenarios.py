"""Named drift scenarios and the schedule that says which applies when.

A scenario string is a sequence of segments separated by commas. Each segment names one drift
(or several joined by ``+``), then colon-separated tokens: its length in simulated time, its
shape, and options of the drift::

    stable:10m,loan-amount-shift                    # 10 minutes as trained, then the shift
    stable:5m,loan-amount-shift:gradual=10m         # a mixture ramping in over 10 minutes
    stable:5m,concept-flip:incremental=20m          # the relationship bends over 20 minutes
    stable:10m,channel-mix:recurring=30m:duty=0.5   # on for 15 of every 30 minutes
    stable:10m,data-quality:share=0.2,stable        # 20% malformed requests, then clean again
    stable:10m,loan-amount-shift+channel-mix        # two drifts at once

Each segment starts (its onset) when the previous one ends; the last one lasts until the end of
the run. A segment's drifts apply to the as-trained population (they do not pile up on earlier
segments) and its shape says how traffic moves from the previous segment to it:

- ``sudden`` (default): at the onset;
- ``gradual=W``: a mixture, each request drawn from the new regime with a probability that
  rises linearly from 0 to 1 over ``W`` (gradual drift in the sense of Gama et al.);
- ``incremental=W``: the parameters themselves move linearly over ``W``;
- ``recurring=P[:duty=D]``: the new regime for the first ``D`` share of every period ``P``, the
  previous one for the rest.

Everything here is pure: the schedule is a function of simulated time.

>>> schedule = parse_scenario("stable:10m,loan-amount-shift:gradual=10m")
>>> [schedule.at(t).expected().params.loan_mean for t in (0, 600, 900, 1200, 3600)]
[250000.0, 250000.0, 550000.0, 850000.0, 850000.0]
>>> schedule.at(900).weight, schedule.at(900).how
(0.5, 'mixture')
>>> schedule.at(3600.0).new.params.loan_mean
850000.0
>>> print(schedule.describe())
0s-10m stable
10m-end loan-amount-shift (gradual over 10m)
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Literal

from producers.durations import format_duration, is_duration, parse_duration
from producers.generator import LAKH, GeneratorParams

__all__ = [
    "DRIFTS",
    "Conditions",
    "Drift",
    "Mix",
    "Schedule",
    "Segment",
    "Shape",
    "blend",
    "parse_scenario",
]

OptionValue = float | str


@dataclass(frozen=True)
class Conditions:
    """What traffic looks like at one instant: the generator's parameters and the share of
    requests sent malformed (missing fields, out-of-range values)."""

    params: GeneratorParams = field(default_factory=GeneratorParams)
    malformed_share: float = 0.0


def _blend_probs(a: Mapping[str, float], b: Mapping[str, float], w: float) -> dict[str, float]:
    keys = list(a) + [k for k in b if k not in a]
    return {k: (1 - w) * a.get(k, 0.0) + w * b.get(k, 0.0) for k in keys}


def blend(a: Conditions, b: Conditions, w: float) -> Conditions:
    """Conditions a share ``w`` of the way from ``a`` to ``b`` (numbers and category
    probabilities move linearly).

    >>> mid = blend(Conditions(), Conditions(GeneratorParams(loan_mean=8.5e5)), 0.5)
    >>> mid.params.loan_mean
    550000.0
    """
    if w <= 0.0:
        return a
    if w >= 1.0:
        return b
    changes: dict[str, object] = {}
    for f in fields(GeneratorParams):
        x, y = getattr(a.params, f.name), getattr(b.params, f.name)
        if x == y:
            continue
        changes[f.name] = _blend_probs(x, y, w) if isinstance(x, dict) else (1 - w) * x + w * y
    return Conditions(
        params=replace(a.params, **changes),
        malformed_share=(1 - w) * a.malformed_share + w * b.malformed_share,
    )


@dataclass(frozen=True)
class Drift:
    """One named scenario: how it changes the as-trained conditions, and its options."""

    name: str
    description: str
    apply: Callable[[Conditions, Mapping[str, OptionValue]], Conditions]
    options: Mapping[str, OptionValue] = field(default_factory=dict)
    loans_only: bool = False

    def resolve(self, given: Mapping[str, str]) -> dict[str, OptionValue]:
        """The drift's options with ``given`` (strings from the command line) applied."""
        resolved = dict(self.options)
        for key, text in given.items():
            default = self.options[key]
            if isinstance(default, str):
                resolved[key] = text
                continue
            try:
                resolved[key] = float(text)
            except ValueError:
                raise ValueError(
                    f"{self.name}: option {key}={text!r} must be a number"
                ) from None
        return resolved


def _stable(c: Conditions, _: Mapping[str, OptionValue]) -> Conditions:
    return c


def _loan_amount_shift(c: Conditions, o: Mapping[str, OptionValue]) -> Conditions:
    mean = float(o["mean"])
    if mean <= 0:
        raise ValueError(f"loan-amount-shift: mean must be positive, got {mean:g}")
    return replace(c, params=c.params.with_(loan_mean=mean))


def _concept_flip(c: Conditions, o: Mapping[str, OptionValue]) -> Conditions:
    strength = float(o["strength"])
    if not 0.0 <= strength <= 1.0:
        raise ValueError(f"concept-flip: strength must be within 0..1, got {strength:g}")
    return replace(c, params=c.params.with_(concept=strength))


# After the shift: mobile grows, branches shrink, and a channel the model never saw appears.
_SHIFTED_CHANNELS = {"web": 0.25, "mobile": 0.45, "branch": 0.05, "partner": 0.10}


def _channel_mix(c: Conditions, o: Mapping[str, OptionValue]) -> Conditions:
    unseen, share = str(o["unseen"]), float(o["unseen_share"])
    if not 0.0 <= share < 1.0:
        raise ValueError(f"channel-mix: unseen_share must be within 0..1, got {share:g}")
    if unseen in _SHIFTED_CHANNELS:
        raise ValueError(f"channel-mix: {unseen!r} is a known channel; name an unseen one")
    known = sum(_SHIFTED_CHANNELS.values())
    probs = {k: v * (1.0 - share) / known for k, v in _SHIFTED_CHANNELS.items()}
    if share > 0:
        probs[unseen] = share
    return replace(c, params=c.params.with_(channel_probs=probs))


def _data_quality(c: Conditions, o: Mapping[str, OptionValue]) -> Conditions:
    share = float(o["share"])
    if not 0.0 <= share <= 1.0:
        raise ValueError(f"data-quality: share must be within 0..1, got {share:g}")
    return replace(c, malformed_share=share)


DRIFTS: dict[str, Drift] = {
    d.name: d
    for d in (
        Drift("stable", "traffic as the model was trained on", _stable),
        Drift(
            "loan-amount-shift",
            "covariate shift: mean loan 2.5 -> 8.5 lakh (a new product tier); labels follow "
            "the same function",
            _loan_amount_shift,
            {"mean": 8.5 * LAKH},
            loans_only=True,
        ),
        Drift(
            "concept-flip",
            "concept drift: features unchanged, debt and loan-to-income that meant risk now "
            "mean recovery (river sources: switch the classification function)",
            _concept_flip,
            {"strength": 1.0},
        ),
        Drift(
            "channel-mix",
            "channel shares move (mobile up, branch down) and an unseen channel appears",
            _channel_mix,
            {"unseen": "agent", "unseen_share": 0.15},
            loans_only=True,
        ),
        Drift(
            "data-quality",
            "a share of requests with missing fields or out-of-range values",
            _data_quality,
            {"share": 0.10},
        ),
    )
}

ShapeKind = Literal["sudden", "gradual", "incremental", "recurring"]


@dataclass(frozen=True)
class Shape:
    """How traffic moves into a segment: see the module docstring."""

    kind: ShapeKind = "sudden"
    width: float = 0.0  # gradual / incremental: seconds of the transition
    period: float = 0.0  # recurring: seconds of one on/off cycle
    duty: float = 0.5  # recurring: share of the period spent in the new regime

    def weight(self, since_onset: float) -> float:
        """Share of the new regime ``since_onset`` seconds after the onset."""
        if since_onset < 0:
            return 0.0
        if self.kind in ("gradual", "incremental"):
            return 1.0 if self.width <= 0 else min(1.0, since_onset / self.width)
        if self.kind == "recurring":
            phase = math.fmod(since_onset, self.period) / self.period
            return 1.0 if phase < self.duty else 0.0
        return 1.0

    def describe(self) -> str:
        if self.kind in ("gradual", "incremental"):
            return f" ({self.kind} over {format_duration(self.width)})"
        if self.kind == "recurring":
            return f" (recurring every {format_duration(self.period)}, duty {self.duty:g})"
        return ""


@dataclass(frozen=True)
class Segment:
    """One stretch of the schedule: the drifts in force, their options, length and shape."""

    drifts: tuple[str, ...]
    options: Mapping[str, Mapping[str, OptionValue]]
    duration: float | None
    shape: Shape = Shape()

    def conditions(self, baseline: Conditions) -> Conditions:
        c = baseline
        for name in self.drifts:
            c = DRIFTS[name].apply(c, self.options[name])
        return c

    @property
    def label(self) -> str:
        return "+".join(self.drifts)


@dataclass(frozen=True)
class Mix:
    """Traffic at one instant: a share ``weight`` of the way from ``old`` to ``new``.
    ``how`` says whether requests are drawn from either regime (``mixture``) or from
    conditions between them (``blend``)."""

    old: Conditions
    new: Conditions
    weight: float
    how: Literal["mixture", "blend"] = "mixture"

    def expected(self) -> Conditions:
        """The conditions on average (what the blend would be)."""
        return blend(self.old, self.new, self.weight)


class Schedule:
    """Segments in sequence, each starting where the previous one ends."""

    def __init__(self, segments: list[Segment], baseline: Conditions | None = None) -> None:
        if not segments:
            raise ValueError("a scenario needs at least one segment, e.g. 'stable'")
        for seg in segments[:-1]:
            if seg.duration is None:
                raise ValueError(
                    f"segment {seg.label!r} needs a length (e.g. {seg.label}:10m): only the "
                    "last segment may run until the end"
                )
        self.segments = list(segments)
        self.baseline = baseline or Conditions()
        self._conditions = [s.conditions(self.baseline) for s in self.segments]
        self.onsets: list[float] = []
        t = 0.0
        for seg in self.segments:
            self.onsets.append(t)
            t += seg.duration or 0.0

    @property
    def drift_names(self) -> set[str]:
        return {name for seg in self.segments for name in seg.drifts}

    def _index(self, t: float) -> int:
        k = 0
        for i, onset in enumerate(self.onsets):
            if t >= onset:
                k = i
        return k

    def at(self, t: float) -> Mix:
        """The traffic mix ``t`` simulated seconds after the start."""
        k = self._index(t)
        seg = self.segments[k]
        old = self._conditions[k - 1] if k > 0 else self.baseline
        new = self._conditions[k]
        how: Literal["mixture", "blend"] = "blend" if seg.shape.kind == "incremental" else "mixture"
        return Mix(old, new, seg.shape.weight(t - self.onsets[k]), how)

    def describe(self) -> str:
        """One line per segment: its span in simulated time, drifts and shape."""
        lines = []
        for seg, onset in zip(self.segments, self.onsets, strict=True):
            last = seg is self.segments[-1]
            end = "end" if last else format_duration(onset + (seg.duration or 0.0))
            opts = [
                f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}"
                for name in seg.drifts
                for k, v in seg.options[name].items()
                if v != DRIFTS[name].options[k]
            ]
            extra = f" [{', '.join(opts)}]" if opts else ""
            lines.append(
                f"{format_duration(onset)}-{end} {seg.label}{extra}{seg.shape.describe()}"
            )
        return "\n".join(lines)


def _parse_segment(text: str) -> Segment:
    head, *tokens = [t.strip() for t in text.split(":")]
    names = [n.strip() for n in head.split("+")]
    for name in names:
        if name not in DRIFTS:
            raise ValueError(
                f"unknown scenario {name!r}; choose from: {', '.join(DRIFTS)}"
            )
    duration: float | None = None
    shape: dict[str, object] = {}
    given: dict[str, dict[str, str]] = {n: {} for n in names}
    for token in tokens:
        key, sep, value = token.partition("=")
        if not sep:
            if is_duration(token):
                duration = parse_duration(token)
            elif token == "sudden":
                shape["kind"] = "sudden"
            else:
                raise ValueError(
                    f"{text!r}: cannot read {token!r}; expected a length (10m), a shape "
                    "(sudden, gradual=W, incremental=W, recurring=P) or an option key=value"
                )
        elif key in ("gradual", "incremental"):
            shape.update(kind=key, width=parse_duration(value))
        elif key == "recurring":
            shape.update(kind="recurring", period=parse_duration(value))
        elif key == "duty":
            shape["duty"] = float(value)
        else:
            owners = [n for n in names if key in DRIFTS[n].options]
            if len(owners) != 1:
                known = sorted({k for n in names for k in DRIFTS[n].options})
                reason = "is ambiguous" if owners else "is not an option"
                raise ValueError(
                    f"{text!r}: {key!r} {reason} of {'+'.join(names)}; options: "
                    f"{', '.join(known) or 'none'}"
                )
            given[owners[0]][key] = value
    seg_shape = Shape(**shape)  # type: ignore[arg-type]
    if seg_shape.kind == "recurring" and seg_shape.period <= 0:
        raise ValueError(f"{text!r}: recurring needs a positive period, e.g. recurring=30m")
    if not 0.0 < seg_shape.duty <= 1.0:
        raise ValueError(f"{text!r}: duty must be within (0, 1], got {seg_shape.duty:g}")
    width = seg_shape.width
    if duration is not None and width > duration:
        raise ValueError(
            f"{text!r}: the {seg_shape.kind} transition ({format_duration(width)}) is longer "
            f"than the segment ({format_duration(duration)})"
        )
    options = {n: DRIFTS[n].resolve(given[n]) for n in names}
    segment = Segment(tuple(names), options, duration, seg_shape)
    segment.conditions(Conditions())  # check option values now, with a clear message
    return segment


def parse_scenario(text: str) -> Schedule:
    """Read a scenario string (see the module docstring) into a :class:`Schedule`.

    >>> parse_scenario("stable:10m,loan-amount-shift:mean=900000:incremental=5m").at(900).new
    ... # doctest: +ELLIPSIS
    Conditions(params=GeneratorParams(..., loan_mean=900000.0, ...), malformed_share=0.0)
    >>> parse_scenario("stable,loan-amount-shift")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: segment 'stable' needs a length (e.g. stable:10m): only the last segment ...
    >>> parse_scenario("stable:1m,price-shift")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: unknown scenario 'price-shift'; choose from: stable, loan-amount-shift, ...
    """
    parts = [p for p in (s.strip() for s in text.split(",")) if p]
    if not parts:
        raise ValueError("empty scenario: name at least one, e.g. 'stable'")
    return Schedule([_parse_segment(p) for p in parts])
