"""The monitor's one settings object (``DRIFTLINE_*`` environment variables).

>>> s = MonitorSettings(window_size=60, grace=5)
>>> s.windows().size, s.windows().step, s.windows().grace
(60.0, 60.0, 5.0)
"""

from __future__ import annotations

from pydantic import Field, model_validator

from driftline.settings import DriftlineSettings
from monitor.drift.judge import DriftConfig
from monitor.drift.performance import DEFAULT_TOLERANCES
from monitor.drift.windows import EventTimeWindows
from monitor.merging.concept import ConceptParams
from monitor.merging.policy_file import MonitoringPolicy, Rules, load_policy
from monitor.state.changelog import SEGMENT_BYTES

__all__ = ["MonitorSettings"]


class MonitorSettings(DriftlineSettings):
    """Everything ``driftline monitor`` reads from the environment."""

    monitor_app_id: str = Field(
        default="driftline-monitor",
        description="faust app id: the publisher's consumer group, the prefix of the source "
        "loop's group (the id and -source) and of the monitor's own topics.",
    )
    # windows (event time, seconds)
    window_size: float = Field(
        default=300.0, gt=0, description="Window length in event-time seconds."
    )
    window_step: float | None = Field(
        default=None, gt=0,
        description="Event-time seconds between window starts: hopping windows (unset: "
        "tumbling, the step is the size).",
    )
    grace: float = Field(
        default=30.0, ge=0,
        description="Event-time seconds the watermark stays behind the largest event time seen.",
    )
    label_wait: float = Field(
        default=600.0, ge=0,
        description="Event-time seconds a performance window waits for labels: it closes "
        "when the labels' watermark passes its end plus this.",
    )
    join_ttl: float = Field(
        default=86_400.0, gt=0,
        description="Event-time seconds after which an unlabeled prediction expires.",
    )
    join_retention: float | None = Field(
        default=3_600.0, gt=0,
        description="Event-time seconds a joined or expired prediction's tombstone is kept to "
        "recognise duplicates and late labels (unset: as long as the join TTL); bounds the join "
        "state's memory.",
    )
    positive_threshold: float = Field(
        default=0.5, gt=0, lt=1,
        description="Score at or above which a prediction counts as positive (accuracy, "
        "precision, recall, F1, the concept detectors' error stream).",
    )

    monitor_instance_id: str | None = Field(
        default=None,
        description="A stable, distinct id per worker (static group membership): a restarted "
        "worker takes its partitions back at once instead of after the session timeout.",
    )
    monitor_session_timeout: float = Field(
        default=45.0, ge=6, le=90,
        description="Seconds without a heartbeat after which the brokers drop a worker from "
        "its groups (the source loop's and the publisher's) and hand its partitions to the "
        "others: how long a worker that died without leaving stalls its partitions. Shorter "
        "detects a crash sooner; too short for a loaded worker means needless rebalances. "
        "At least the brokers' group.min.session.timeout.ms (6 s by default) and at most "
        "faust's 90 s request timeout; below the default, see docs/limits.md.",
    )

    # judging
    false_alarms: float = Field(
        default=1.0, gt=0,
        description="The false-alarm contract of every model without its own in the policy "
        "file: the expected number of false drift events of every kind per 30 days of stable "
        "traffic; half goes to the distribution tests, a quarter each to the performance "
        "judge and the concept detector.",
    )
    concept_label_rate: float = Field(
        default=1.0, gt=0,
        description="Expected labeled events per second of one model version (all "
        "partitions together). With the model's false-alarm contract it sets the concept "
        "detector's threshold: its share of the contract spread over the labels of 30 days "
        "(a higher real rate raises more false concept events, in proportion).",
    )
    concept_bucket: float = Field(
        default=1.0, gt=0,
        description="Seconds of label time per bucket in which each source partition sends "
        "the errors of the pairs it joins to the one concept detector of the model version; "
        "the detector reads a bucket once every partition has read its labels and "
        "predictions past its end.",
    )
    concept_cuts: int = Field(
        default=8, ge=2, multiple_of=2,
        description="Cuts per level of the concept detector's GLR scan (even): more cuts "
        "place one closer to any change, at more work per labeled event.",
    )
    concept_warmup: int = Field(
        default=1000, ge=0,
        description="Labeled events of a model version before its concept detector may "
        "raise a detection.",
    )
    dataset_share: float = Field(
        default=0.5, gt=0, le=1,
        description="Share of drifted features at which the window's dataset drifts.",
    )
    min_rows: int = Field(
        default=30, ge=1, description="Fewest predictions in a window to judge its drift."
    )
    min_labeled: int = Field(
        default=200, ge=1, description="Fewest labels in a window to judge its performance."
    )
    raise_after: int = Field(
        default=2, ge=1,
        description="Consecutive drifted windows before a signal raises (a severe one raises "
        "at once).",
    )
    clear_after: int = Field(
        default=2, ge=1,
        description="Consecutive windows with every signal below half its threshold before "
        "an active drift clears.",
    )
    cooldown: float = Field(
        default=3600.0, ge=0,
        description="Event-time seconds between two drift events of one kind.",
    )
    idle_timeout: float = Field(
        default=30.0, gt=0,
        description="Wall seconds after which a quiet partition (caught up, its watermarks "
        "still) no longer holds windows open.",
    )

    # running
    checkpoint_interval: float = Field(
        default=2.0, gt=0,
        description="Wall seconds between checkpoints (join changelog, partition state, "
        "committed offsets).",
    )
    source_batch: int = Field(default=5000, ge=1, le=100_000,
                              description="Most messages the source loop applies per batch.")
    source_processes: int = Field(
        default=1, ge=0, le=64,
        description="Processes the worker runs its source loop in (the join and window "
        "counts, pure Python per event): each takes a share of the partitions and a core; "
        "0: a thread of the worker process, sharing its one core of Python with the publisher.")
    source_align: float = Field(
        default=300.0, ge=0,
        description="Event-time seconds one source topic of a partition may run ahead of the "
        "other while the other has a backlog; what is further ahead waits, parked (0: never).")
    source_park_bytes: int = Field(
        default=16_000_000, ge=1_000,
        description="Bytes of events one source topic partition may have parked before its "
        "fetches pause (until half of them are applied).")
    changelog_segment_bytes: int = Field(
        default=SEGMENT_BYTES, ge=1_000,
        description="Largest join changelog record: the slot writes of a checkpoint go out "
        "in segments of about this size (keep it below the topic's max.message.bytes).")
    metrics_port: int = Field(default=9102, ge=0, le=65535,
                              description="Port of the monitor's /metrics and /report "
                              "(0: none).")
    metrics_host: str = Field(default="127.0.0.1",
                              description="Bind address of /metrics and /report (0.0.0.0 in "
                              "a container).")
    report_base_url: str | None = Field(
        default=None,
        description="The monitor's public base URL as a person's browser reaches its metrics "
        "port (e.g. http://monitor.example:9102): webhook messages link each drift event to "
        "its report at <this>/report/<model>; unset: messages carry no link.",
    )
    report_span: float = Field(
        default=86_400.0, gt=0,
        description="Event-time seconds that /report shows, ending at the newest judged "
        "window.",
    )
    report_refresh: float = Field(
        default=60.0, ge=0,
        description="Seconds /report keeps a built page before reading the topics again.",
    )
    webhook_url: str | None = Field(
        default=None, description="Slack-compatible incoming webhook for drift events."
    )
    webhook_timeout: float = Field(
        default=5.0, gt=0, description="Seconds per webhook request."
    )
    webhook_retries: int = Field(
        default=3, ge=0, description="Retries of a failed webhook request, with backoff."
    )

    @model_validator(mode="after")
    def _check_windows(self) -> MonitorSettings:
        self.windows()  # raises with a clear message on a bad size/step/grace
        return self

    def monitoring_policy(self) -> MonitoringPolicy:
        """The policy file over the judging settings (raises ConfigurationError naming the
        key at fault when the file is invalid); without a file, the settings alone."""
        base = Rules(
            config=DriftConfig(dataset_share=self.dataset_share, min_rows=self.min_rows,
                               false_alarms=self.false_alarms,
                               look_every=self.window_step or self.window_size),
            raise_after=self.raise_after, clear_after=self.clear_after,
            cooldown=self.cooldown, tolerances=dict(DEFAULT_TOLERANCES),
        )
        if self.policy_file is None:
            return MonitoringPolicy(base=base)
        return load_policy(self.policy_file, base=base)

    def windows(self) -> EventTimeWindows:
        return EventTimeWindows(size=self.window_size, step=self.window_step, grace=self.grace)

    def concept_params(self) -> ConceptParams:
        """The concept detectors' label rate, cuts and warm-up."""
        return ConceptParams(label_rate=self.concept_label_rate, cuts=self.concept_cuts,
                             warmup=self.concept_warmup)

    def version_horizon(self) -> float:
        """Event-time seconds a model version keeps its metric series after its model's
        newest event passed the version's own (two windows, the grace and the label wait:
        long enough for the version's last performance window to be judged).

        >>> MonitorSettings(window_size=300, grace=30, label_wait=600).version_horizon()
        1230.0
        """
        return 2 * self.window_size + self.grace + self.label_wait
