"""driftline monitor."""
