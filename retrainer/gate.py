"""Champion against challenger on the same holdout: promote only a clear improvement.

:meth:`Gate.judge` is the retrainer's promotion rule (beat the champion by the margin);
:meth:`Gate.judge_regression` is the rule ``driftline models evaluate`` applies by default
(not worse than the champion by more than the margin), on the same metric, margin and Brier
tolerance, so a CI step and the retrainer read the same settings the same way.

>>> gate = Gate(margin=0.01, brier_tolerance=0.005)
>>> labels = [0, 0, 1, 1, 0, 1, 0, 1]
>>> champion = [0.6, 0.4, 0.3, 0.7, 0.5, 0.4, 0.6, 0.5]
>>> challenger = [0.1, 0.2, 0.8, 0.9, 0.3, 0.7, 0.2, 0.6]
>>> verdict = gate.judge(labels, champion, challenger)
>>> verdict.promote, round(verdict.champion["roc_auc"], 3), verdict.challenger["roc_auc"]
(True, 0.375, 1.0)
>>> gate.judge(labels, challenger, champion).reason
'rejected: roc_auc 0.3750 does not beat the champion 1.0000 by 0.0100'
>>> gate.judge_regression(labels, challenger, challenger).reason
'passed: roc_auc 1.0000 vs 1.0000, Brier 0.0600 vs 0.0600'
>>> gate.judge_regression(labels, challenger, champion).reason
'worse: roc_auc 0.3750 is below the champion 1.0000 by more than 0.0100'
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["Gate", "Verdict", "holdout_metrics"]

_LOWER_IS_BETTER = {"brier", "log_loss"}


def holdout_metrics(labels: Sequence[int], scores: Sequence[float], threshold: float = 0.5
                    ) -> dict[str, float]:
    """ROC AUC, Brier, log loss and accuracy of ``scores`` against ``labels``."""
    from sklearn.metrics import brier_score_loss, log_loss, roc_auc_score

    y = np.asarray(labels, dtype=int)
    p = np.clip(np.asarray(scores, dtype=float), 1e-7, 1 - 1e-7)
    return {
        "roc_auc": float(roc_auc_score(y, p)) if len(set(y.tolist())) == 2 else float("nan"),
        "brier": float(brier_score_loss(y, p)),
        "log_loss": float(log_loss(y, p, labels=[0, 1])),
        "accuracy": float(np.mean((p >= threshold) == y)),
    }


@dataclass(frozen=True)
class Verdict:
    promote: bool
    reason: str
    champion: dict[str, float]
    challenger: dict[str, float]


@dataclass(frozen=True)
class Gate:
    """Promote iff the challenger beats the champion on ``metric`` by ``margin`` and is not
    worse on Brier by more than ``brier_tolerance``."""

    metric: str = "roc_auc"
    margin: float = 0.01
    brier_tolerance: float = 0.005

    def judge(self, labels: Sequence[int], champion_scores: Sequence[float] | None,
              challenger_scores: Sequence[float]) -> Verdict:
        """Promote iff the challenger beats the champion by ``margin`` (Brier within
        tolerance); ``promote`` is the verdict."""
        return self._compare(labels, champion_scores, challenger_scores, promoting=True)

    def judge_regression(self, labels: Sequence[int], champion_scores: Sequence[float] | None,
                         challenger_scores: Sequence[float]) -> Verdict:
        """Pass iff the challenger is not worse than the champion by more than ``margin``
        (Brier within tolerance); ``promote`` is the verdict."""
        return self._compare(labels, champion_scores, challenger_scores, promoting=False)

    def _compare(self, labels: Sequence[int], champion_scores: Sequence[float] | None,
                 challenger_scores: Sequence[float], *, promoting: bool) -> Verdict:
        """The challenger must reach the champion's metric plus the margin (promoting) or
        minus it (not promoting), and keep Brier within the tolerance."""
        gain = self.margin if promoting else -self.margin
        yes, no = ("promoted", "rejected") if promoting else ("passed", "worse")
        challenger = holdout_metrics(labels, challenger_scores)
        if champion_scores is None:
            return Verdict(True, f"{yes}: no champion to beat", {}, challenger)
        champion = holdout_metrics(labels, champion_scores)
        ours, theirs = challenger[self.metric], champion[self.metric]
        lower = self.metric in _LOWER_IS_BETTER
        good = ours <= theirs - gain if lower else ours >= theirs + gain
        if not good:
            why = (f"does not beat the champion {theirs:.4f} by {self.margin:.4f}"
                   if promoting else
                   f"is {'above' if lower else 'below'} the "
                   f"champion {theirs:.4f} by more than {self.margin:.4f}")
            return Verdict(False, f"{no}: {self.metric} {ours:.4f} {why}", champion,
                           challenger)
        if challenger["brier"] > champion["brier"] + self.brier_tolerance:
            return Verdict(
                False,
                f"{no}: Brier {challenger['brier']:.4f} is worse than the champion's "
                f"{champion['brier']:.4f} beyond {self.brier_tolerance:.4f}",
                champion, challenger,
            )
        return Verdict(
            True,
            f"{yes}: {self.metric} {ours:.4f} vs {theirs:.4f}, Brier "
            f"{challenger['brier']:.4f} vs {champion['brier']:.4f}",
            champion, challenger,
        )
