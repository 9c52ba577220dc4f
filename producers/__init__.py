"""driftline producers."""
