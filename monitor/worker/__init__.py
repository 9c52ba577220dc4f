"""The monitor worker: everything that does I/O.

The faust app and its agent, the source loop reading Kafka in batches, the thread or
processes that host it, checkpoints to Kafka, Prometheus metrics, the webhook for alerts and
the MLflow registry lookups of profiles and baselines. The pure logic it drives lives in
:mod:`monitor.drift`, :mod:`monitor.state` and :mod:`monitor.merging`.
"""
