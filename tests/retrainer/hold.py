"""A retrain pipeline that holds training until a test lets it go: a seam to stop a retrainer
process in the middle of a retrain.

``DRIFTLINE_RETRAIN_PIPELINE=tests.retrainer.hold:pipeline`` with ``HOLD_TRAINING_DIR`` set:
each training writes ``started-<pid>`` into that directory, then waits until ``release``
exists there, then trains the default pipeline.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from driftline.model.pipeline import default_pipeline

__all__ = ["pipeline"]


def pipeline(features: Any) -> Any:
    """The default pipeline, once ``release`` exists in ``HOLD_TRAINING_DIR``."""
    gate = Path(os.environ["HOLD_TRAINING_DIR"])
    (gate / f"started-{os.getpid()}").touch()
    while not (gate / "release").exists():
        time.sleep(0.05)
    return default_pipeline(features)
