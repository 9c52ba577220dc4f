"""driftline scorer."""
