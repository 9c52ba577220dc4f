"""driftline retrainer: drift events in, gated model versions out."""
