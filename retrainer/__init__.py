"""driftline retrainer."""
