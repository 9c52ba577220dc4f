"""Settings for a long-running driftline service process (``serve``, ``monitor``)."""

from __future__ import annotations

import gc

__all__ = ["tune_gc"]


def tune_gc() -> None:
    """Garbage-collector settings for a long-running service process.

    Each batch allocates short-lived dicts, events and messages; with the default thresholds
    the cyclic collector runs every 700 allocations and regularly walks every object pandas,
    scikit-learn, MLflow and faust created at import. Freezing what exists after start-up and
    collecting the young generation less often removes most of that cost. It changes the
    whole process: call it only in a process of its own.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 20)
