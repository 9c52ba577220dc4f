"""Which versions of each model are still in service, judged by event time.

The monitor never hears that a version left service: the scorer simply stops sending its
predictions. :class:`LiveVersions` sees event times per model version and retires a version
once its model's newest event is more than ``horizon`` seconds past the version's own newest;
the caller then removes the version's metric series, so their number stays bounded by the
versions in service (see docs/metrics.md). An event of a version that is not live, older
than that horizon, is *stale*: it counts in no version-labelled series. A version that comes
back (a rollback) with fresh events is live again.

>>> live = LiveVersions(horizon=100.0)
>>> live.see("m", "1", 0.0)
Seen(live=True, new=True, retired=[])
>>> live.see("m", "2", 50.0).new, live.see("m", "1", 60.0).new
(True, False)
>>> live.see("m", "2", 200.0)  # v1's newest (60) is more than 100 s behind
Seen(live=True, new=False, retired=[('m', '1')])
>>> live.see("m", "1", 70.0)  # a late event of the retired v1
Seen(live=False, new=False, retired=[])
>>> live.see("m", "1", 190.0).new  # v1 serves again
True
"""

from __future__ import annotations

from typing import NamedTuple

__all__ = ["LiveVersions", "Seen"]


class Seen(NamedTuple):
    """What one event time told: whether its version is live (count it), whether it just
    became so (start its counters at 0), and the versions that retired now."""

    live: bool
    new: bool
    retired: list[tuple[str, str]]


class LiveVersions:
    """The live versions of each model and the newest event time of each (not thread-safe:
    one caller at a time)."""

    def __init__(self, horizon: float) -> None:
        self.horizon = horizon
        self._newest: dict[str, float] = {}  # model -> newest event time of any version
        self._last: dict[str, dict[str, float]] = {}  # model -> live version -> newest

    def see(self, model: str, version: str, event_time: float) -> Seen:
        """Record an event time of ``model`` ``version``."""
        newest = max(self._newest.get(model, event_time), event_time)
        self._newest[model] = newest
        versions = self._last.setdefault(model, {})
        cutoff = newest - self.horizon
        last = versions.get(version)
        new = last is None and event_time >= cutoff
        if new or last is not None:
            versions[version] = event_time if last is None else max(last, event_time)
        retired = [(model, v) for v, t in versions.items() if t < cutoff]
        for _, v in retired:
            del versions[v]
        return Seen(version in versions, new, retired)

    def live(self) -> list[tuple[str, str]]:
        """Every live (model, version), sorted."""
        return sorted((m, v) for m, versions in self._last.items() for v in versions)
