"""Drift measured in one window: pure, no I/O.

Event-time windows, mergeable per-window counts, the drift statistics computed from them,
the verdicts against the reference profile, per-window model performance and the concept
drift detectors on the labeled stream. Plain Python, numpy, scipy and river; nothing here
reads or writes Kafka, HTTP or MLflow.
"""
