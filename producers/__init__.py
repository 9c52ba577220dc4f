"""driftline producers: synthetic credit-risk traffic with drift, delayed labels, topic replay,
the default model trained on that history (``bootstrap``) and the whole loop run on one
machine (``demo``, which starts every service as a process of its own)."""
