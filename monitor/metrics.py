"""Prometheus metrics of the monitor worker (``driftline_monitor_*``)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

__all__ = ["MonitorMetrics"]


class MonitorMetrics:
    """One instance per process (prometheus_client's default registry)."""

    def __init__(self) -> None:
        self.events = Counter("driftline_monitor_events_total",
                              "Events processed, by source topic and outcome",
                              ["topic", "outcome"])
        self.dead_letters = Counter("driftline_monitor_dead_letters_total",
                                    "Messages sent to the dead-letter topic", ["topic"])
        self.labeled = Counter("driftline_monitor_labeled_total",
                               "Joined predictions written to labeled")
        self.expired = Counter("driftline_monitor_expired_predictions_total",
                               "Predictions that expired without a label")
        self.join_state = Gauge("driftline_monitor_join_state_size",
                                "Slots in the join table on this worker")
        self.lag = Gauge("driftline_monitor_consumer_lag",
                         "Messages behind the end of each source partition",
                         ["topic", "partition"])
        self.windows = Counter("driftline_monitor_windows_judged_total",
                               "Windows judged", ["model", "version", "kind"])
        self.window_rows = Gauge("driftline_monitor_window_rows",
                                 "Predictions in the last judged window", ["model", "version"])
        self.statistic = Gauge("driftline_monitor_drift_statistic",
                               "Last judged value of each drift statistic per feature",
                               ["model", "version", "feature", "statistic"])
        self.share_drifted = Gauge("driftline_monitor_share_drifted",
                                   "Share of features drifted in the last window",
                                   ["model", "version"])
        self.performance = Gauge("driftline_monitor_performance",
                                 "Last judged performance window metric",
                                 ["model", "version", "metric"])
        self.drift_events = Counter("driftline_monitor_drift_events_total",
                                    "Drift events raised", ["model", "version", "kind",
                                                            "severity"])
        self.held = Counter("driftline_monitor_source_held_total",
                            "Times a source topic partition was held back for running ahead "
                            "of the other in event time", ["topic"])
        self.partials_read_back = Counter(
            "driftline_monitor_partials_read_back_total",
            "Partials the judge's stream stepped over in a rebalance, read from Kafka")
        self.late = Gauge("driftline_monitor_late_events",
                          "Events later than the grace period, dropped from windows",
                          ["partition"])
