"""A window judged with the evidence over windows: its own tests, then the pooled windows'
(:mod:`monitor.drift.pooled`), then the e-CUSUMs (:mod:`monitor.drift.sequential`).

>>> from driftline.profile import build_profile
>>> import numpy as np
>>> profile = build_profile({"x": np.arange(100.0)}, None, numeric=["x"], categorical=[],
...                         model_name="m", model_version="1")
>>> evidence = WindowEvidence()
>>> report = evidence.judge(WindowAccumulator(profile), DriftConfig(look_every=300.0))
>>> report.judged  # no rows: nothing judged, no evidence kept
False
"""

from __future__ import annotations

from collections.abc import MutableMapping

from monitor.drift.accumulator import WindowAccumulator
from monitor.drift.judge import DriftConfig, WindowReport
from monitor.drift.pooled import PooledEvidence
from monitor.drift.sequential import SequentialEvidence

__all__ = ["WindowEvidence"]


class WindowEvidence:
    """Judge windows of any model version in order of their end, keeping the pooled windows'
    and the e-CUSUMs' state in ``pooled`` and ``sequential`` (default: dicts)."""

    def __init__(self, sequential: MutableMapping[str, bytes] | None = None,
                 pooled: MutableMapping[str, bytes] | None = None) -> None:
        self.sequential = SequentialEvidence(sequential)
        self.pooled = PooledEvidence(pooled)

    def judge(self, window: WindowAccumulator, config: DriftConfig) -> WindowReport:
        """``window``'s report under ``config`` with the evidence over windows folded in."""
        report = self.pooled.observe(window.evaluate(config), window, config)
        return self.sequential.observe(report, config)
