"""The retrainer's one settings object (``DRIFTLINE_*`` environment variables).

Everything specific to the retrainer is named ``retrain_*`` or ``gate_*``, so the retrainer can
share an environment (and a ``.env``) with the scorer and the monitor without collisions;
``DRIFTLINE_MODEL_NAME`` is shared on purpose: it names the model all three work on.

>>> s = RetrainerSettings(retrain_kinds="covariate,concept", retrain_window=600)
>>> s.kinds, s.range_policy().window, s.gate().metric
(('covariate', 'concept'), 600.0, 'roc_auc')
>>> try:
...     RetrainerSettings(retrain_kinds="covariate,weather")
... except ValueError as exc:
...     print(exc.errors()[0]["msg"].split(";")[0])
Value error, DRIFTLINE_RETRAIN_KINDS: unknown drift kind 'weather'
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from driftline.events import DriftKind, Severity
from driftline.policy_file import (
    DEFAULT_RETRAIN_KINDS,
    PolicyFile,
    load_policy_file,
    parse_kinds,
)
from driftline.settings import DriftlineSettings
from retrainer.data_checks import DataThresholds
from retrainer.dataset import RangePolicy
from retrainer.gate import Gate
from retrainer.schedule import RetrainSchedule
from retrainer.trigger import TriggerPolicy

__all__ = ["RetrainerSettings"]

GateMetric = Literal["roc_auc", "brier", "log_loss", "accuracy"]


class RetrainerSettings(DriftlineSettings):
    """Everything ``driftline retrain`` and ``driftline models`` read from the environment."""

    model_name: str = Field(
        default="credit-risk", min_length=1,
        description="Registered MLflow model to retrain (the same variable names the model "
        "the scorer serves).",
    )

    # trigger
    # A comma-separated string rather than a list: pydantic-settings would insist on JSON.
    retrain_kinds: str = Field(
        default=",".join(DEFAULT_RETRAIN_KINDS),
        description="Drift kinds that trigger a retrain, comma-separated; a model's "
        "`[models.<name>.retrain]` table in DRIFTLINE_POLICY_FILE overrides it for that model.",
    )
    retrain_min_severity: Severity = Field(
        default="medium", description="Lowest drift event severity that triggers a retrain."
    )
    retrain_debounce: float = Field(
        default=60.0, ge=0,
        description="Event-time seconds after a trigger during which further drift events of "
        "the model are answered by the retrain already started.",
    )
    retrain_cooldown: float = Field(
        default=900.0, ge=0,
        description="Event-time seconds after a retrain before the model may retrain again.",
    )
    retrain_every: float | None = Field(
        default=None, ge=1,
        description="Wall-clock seconds between retrains on a fixed schedule, instead of "
        "retraining on drift events (unset: on drift events).",
    )

    # the drift report logged with a drift-triggered version
    monitor_app_id: str = Field(
        default="driftline-monitor",
        description="faust app id of the monitor whose judged windows "
        "(<prefix><app id>-reports) the drift report of a drift-triggered retrain is built "
        "from (the monitor's own setting of the same name).",
    )
    retrain_report_span: float = Field(
        default=21_600.0, ge=0,
        description="Event-time seconds before the triggering drift window that the drift "
        "report logged with a drift-triggered version covers (0: no report).",
    )

    # training data from `labeled`
    retrain_window: float | None = Field(
        default=3600.0, gt=0,
        description="Event-time seconds back from the newest labeled row (unset: all).",
    )
    retrain_min_rows: int = Field(
        default=2000, ge=10, description="Fewest labeled rows to retrain on (train + holdout)."
    )
    retrain_max_rows: int = Field(
        default=100_000, ge=10, description="Most labeled rows read; the most recent are kept."
    )
    retrain_holdout_fraction: float = Field(
        default=0.25, gt=0, lt=1,
        description="Most recent share of the rows (by event time) held out for the gate.",
    )
    retrain_since_drift: bool = Field(
        default=False,
        description="Train only on rows from the triggering drift window's start onwards.",
    )
    retrain_read_margin: float = Field(
        default=300.0, ge=0,
        description="Extra seconds read before the window by Kafka timestamp, for label delays.",
    )
    retrain_data_wait: float = Field(
        default=300.0, ge=0,
        description="Seconds to wait for enough labeled rows before giving a retrain up.",
    )
    retrain_data_poll: float = Field(
        default=5.0, gt=0, description="Seconds between reads while waiting for labeled rows."
    )
    retrain_attempts: int = Field(
        default=0, ge=0, le=1000,
        description="Tries of a drift-triggered retrain that fails for a reason outside it "
        "(MLflow or Kafka away, too few labeled rows yet) before it is given up (0: no "
        "limit; it is given up once the drifted version no longer serves); its drift "
        "event stays uncommitted and the cooldown does not start until then.",
    )
    retrain_retry_s: float = Field(
        default=30.0, gt=0,
        description="Seconds before the first retry of a failed retrain; each next one waits "
        "twice as long, at most 10 minutes.",
    )
    retrain_pipeline: str = Field(
        default="default",
        description="'default' (the pipeline driftline bootstrap trains: scaling, one-hot "
        "encoding, logistic regression), 'champion' (a clone of the champion's estimator) or "
        "'package.module:factory', a function taking the FeatureSchema and returning an "
        "unfitted estimator.",
    )

    # training data checks
    retrain_max_missing_share: float = Field(
        default=0.05, ge=0, le=1,
        description="Largest share of rows without a value in any one model input; a set "
        "with more is not trained on.",
    )
    retrain_max_invalid_share: float = Field(
        default=0.01, ge=0, le=1,
        description="Largest share of values of any one input that are not of its kind or "
        "outside its recorded range (and of labels not 0 or 1); a set with more is not "
        "trained on. Rows with a missing or invalid value are left out of training.",
    )
    retrain_min_rows_per_class: int = Field(
        default=20, ge=1,
        description="Fewest rows of each label (0 and 1) a set needs to be trained on.",
    )
    retrain_min_minority_share: float = Field(
        default=0.01, ge=0, lt=0.5,
        description="Smallest share of the rarer label a set needs to be trained on.",
    )
    retrain_max_psi: float | None = Field(
        default=None, gt=0,
        description="Largest PSI of a numeric input against the champion's reference "
        "profile (unset: reported, not enforced; a retrain answers drift).",
    )
    retrain_max_jensen_shannon: float | None = Field(
        default=None, gt=0,
        description="Largest Jensen-Shannon distance of a categorical input against the "
        "champion's reference profile (unset: reported, not enforced).",
    )

    # gate
    gate_metric: GateMetric = Field(
        default="roc_auc", description="Holdout metric the challenger must win on."
    )
    gate_margin: float = Field(
        default=0.01, ge=0,
        description="How much better than the champion the challenger must be on the metric.",
    )
    gate_brier_tolerance: float = Field(
        default=0.005, ge=0,
        description="How much worse than the champion's Brier score the challenger's may be.",
    )

    # running
    retrain_group: str = Field(
        default="driftline-retrainer", min_length=1,
        description="Consumer group of the retrainer on drift-events.",
    )
    retrain_instance_id: str | None = Field(
        default=None,
        description="A stable id for this retrainer in its consumer group (static group "
        "membership): a restarted retrainer takes drift-events back at once instead of after "
        "the dead member's session timeout. Unset: dynamic membership.",
    )
    retrain_offset_reset: Literal["earliest", "latest"] = Field(
        default="earliest",
        description="Where a new consumer group starts on drift-events.",
    )
    retrain_metrics_port: int = Field(
        default=9103, ge=0, le=65535, description="Port of the retrainer's /metrics (0: none)."
    )
    retrain_metrics_host: str = Field(
        default="127.0.0.1", description="Bind address of /metrics (0.0.0.0 in a container)."
    )
    retrain_trusted_types: list[str] = Field(
        default_factory=list,
        description="Exact type names to trust when loading the champion, beyond the "
        "built-in list and what it was registered with (JSON list; no prefixes); recorded on "
        "the versions the retrainer registers.",
    )
    startup_timeout_s: float = Field(
        default=30.0, gt=0, description="Seconds to wait for Kafka and MLflow at start."
    )

    @field_validator("retrain_kinds", mode="before")
    @classmethod
    def _check_kinds(cls, value: object) -> object:
        if isinstance(value, list | tuple):
            value = ",".join(map(str, value))
        if not isinstance(value, str):
            return value
        return ",".join(parse_kinds(value))

    @field_validator("retrain_pipeline")
    @classmethod
    def _check_pipeline(cls, value: str) -> str:
        value = value.strip()
        if value in ("default", "champion"):
            return value
        module, _, name = value.partition(":")
        if not module or not name.isidentifier():
            raise ValueError(
                f"DRIFTLINE_RETRAIN_PIPELINE={value!r}: use 'default', 'champion' or "
                "'package.module:factory'"
            )
        return value

    @model_validator(mode="after")
    def _check_sizes(self) -> RetrainerSettings:
        if self.retrain_max_rows < self.retrain_min_rows:
            raise ValueError(
                f"DRIFTLINE_RETRAIN_MAX_ROWS ({self.retrain_max_rows}) is below "
                f"DRIFTLINE_RETRAIN_MIN_ROWS ({self.retrain_min_rows})"
            )
        holdout = round(self.retrain_min_rows * self.retrain_holdout_fraction)
        if holdout < 5 or self.retrain_min_rows - holdout < 5:
            raise ValueError(
                "DRIFTLINE_RETRAIN_MIN_ROWS x DRIFTLINE_RETRAIN_HOLDOUT_FRACTION leaves fewer "
                "than 5 rows for training or for the holdout; raise the minimum"
            )
        return self

    @property
    def kinds(self) -> tuple[DriftKind, ...]:
        """The drift kinds of DRIFTLINE_RETRAIN_KINDS, as a tuple."""
        return tuple(self.retrain_kinds.split(","))  # type: ignore[return-value]

    def policy(self) -> PolicyFile:
        """The policy file (DRIFTLINE_POLICY_FILE), validated: ConfigurationError naming the
        key at fault when it is invalid; an empty policy without a file."""
        return PolicyFile() if self.policy_file is None else load_policy_file(self.policy_file)

    def trigger_kinds(self) -> tuple[tuple[DriftKind, ...], str]:
        """The drift kinds that trigger a retrain of ``model_name`` and where they come from:
        the policy file's, else DRIFTLINE_RETRAIN_KINDS."""
        kinds = self.policy().retrain_kinds(self.model_name)
        if kinds is None:
            return self.kinds, "DRIFTLINE_RETRAIN_KINDS"
        return kinds, f"the policy file {self.policy_file}"

    def trigger_policy(self) -> TriggerPolicy:
        """The trigger of ``model_name``; reads and validates the policy file."""
        return TriggerPolicy(
            kinds=self.trigger_kinds()[0],
            min_severity=self.retrain_min_severity,
            debounce=self.retrain_debounce,
            cooldown=self.retrain_cooldown,
        )

    def schedule(self, start: float) -> RetrainSchedule | None:
        """The fixed schedule counted from ``start`` (wall clock); None when retraining on
        drift events."""
        if self.retrain_every is None:
            return None
        return RetrainSchedule(self.retrain_every, start, self.model_name)

    def range_policy(self, not_before: float | None = None) -> RangePolicy:
        """The range policy; ``not_before`` applies only with ``retrain_since_drift``."""
        return RangePolicy(
            window=self.retrain_window,
            min_rows=self.retrain_min_rows,
            holdout_fraction=self.retrain_holdout_fraction,
            model_name=self.model_name,
            max_rows=self.retrain_max_rows,
            not_before=not_before if self.retrain_since_drift else None,
        )

    def data_thresholds(self) -> DataThresholds:
        """The bounds training (and evaluation) data is checked against."""
        return DataThresholds(
            max_missing_share=self.retrain_max_missing_share,
            max_invalid_share=self.retrain_max_invalid_share,
            min_rows_per_class=self.retrain_min_rows_per_class,
            min_minority_share=self.retrain_min_minority_share,
            max_psi=self.retrain_max_psi,
            max_jensen_shannon=self.retrain_max_jensen_shannon,
        )

    def gate(self) -> Gate:
        return Gate(
            metric=self.gate_metric,
            margin=self.gate_margin,
            brier_tolerance=self.gate_brier_tolerance,
        )
