"""One router per resource: predictions, the served model, operations."""

from scorer.routes import model, ops, predict

__all__ = ["model", "ops", "predict"]
