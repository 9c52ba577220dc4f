"""Event contracts: the one place where driftline's Kafka messages are defined.

Every event carries ``schema_version`` and an ``event_time`` (seconds since the Unix epoch,
UTC) and knows its Kafka key. Serialization is JSON through msgspec: it validates while
decoding, in one pass (``bench/bench_contracts.py`` compares it with pydantic v2 + orjson on
the same contracts).

>>> p = PredictionEvent(prediction_id="p-1", event_time=1700000000.0, model_name="credit-risk",
...                     model_version="1", features={"loan_amount": 250000.0, "channel": "web"},
...                     score=0.12, decision="LOW")
>>> p.key
b'p-1'
>>> decode(PredictionEvent, encode(p)) == p
True
>>> decode(LabelEvent, b'{"prediction_id": "p-1", "label": "yes", "event_time": 1.0}')
Traceback (most recent call last):
...
driftline.errors.ContractError: invalid LabelEvent at field 'label': Expected `int`, got `str`
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterable, Sequence
from itertools import repeat
from typing import Annotated, Any, ClassVar, Literal, TypeVar

import msgspec

from driftline.errors import ContractError

__all__ = [
    "DEAD_LETTER_PREFIX",
    "DEAD_LETTER_SCHEMA_VERSION",
    "EVENT_TYPES",
    "SCHEMA_VERSION",
    "DataCheck",
    "DataValidationEvent",
    "DeadLetter",
    "DriftEvent",
    "DriftKind",
    "Driver",
    "Event",
    "FeatureStatistic",
    "FeatureValue",
    "LabelEvent",
    "LabeledEvent",
    "ModelUpdateEvent",
    "OffsetRange",
    "PredictionEvent",
    "RetrainInFlight",
    "RetrainerState",
    "Severity",
    "TransactionEvent",
    "decode",
    "decode_many",
    "encode",
    "encode_labeled",
    "encode_predictions",
    "from_mapping",
    "new_id",
    "now",
]

SCHEMA_VERSION = 1
DEAD_LETTER_SCHEMA_VERSION = 2
DEAD_LETTER_PREFIX = 16_384
"""The most bytes of a message's value (and key) a dead letter keeps."""

EventTime = Annotated[float, msgspec.Meta(ge=0, description="seconds since the Unix epoch, UTC")]
Probability = Annotated[float, msgspec.Meta(ge=0.0, le=1.0)]
NonEmpty = Annotated[str, msgspec.Meta(min_length=1, max_length=256)]
FeatureValue = float | str | None
Features = dict[str, FeatureValue]
DriftKind = Literal[
    "covariate", "prediction", "performance", "performance-estimate", "concept", "dataset"
]
Severity = Literal["low", "medium", "high"]


def now() -> float:
    """The current event time (seconds since the epoch, UTC)."""
    return time.time()


def new_id() -> str:
    """A new random identifier (UUID4 hex), used for prediction and event ids."""
    return uuid.uuid4().hex


class Event(msgspec.Struct, kw_only=True, frozen=True, gc=False):
    """Base of every event: a schema version and an event time.

    Events are immutable trees of values, so they can take no part in a reference cycle:
    ``gc=False`` keeps them out of the cyclic garbage collector, whose passes over the
    monitor's join state (an event or two per waiting prediction) would otherwise cost a good
    share of its time."""

    topic: ClassVar[str] = ""
    schema_version: int = SCHEMA_VERSION
    event_time: EventTime

    @property
    def key(self) -> bytes:  # pragma: no cover - every concrete event overrides it
        raise NotImplementedError


class TransactionEvent(Event, kw_only=True, frozen=True):
    """A raw application or transaction to score, as a stream (topic ``transactions``).

    ``request_id``, when set, is the id the scorer gives the prediction it makes of this event,
    so whoever sent it can key the label by it before the prediction exists."""

    topic: ClassVar[str] = "transactions"
    entity_id: NonEmpty
    features: Features
    model_name: str | None = None
    request_id: str | None = None

    @property
    def key(self) -> bytes:
        return self.entity_id.encode()


class PredictionEvent(Event, kw_only=True, frozen=True):
    """One prediction with the features exactly as scored (topic ``predictions``)."""

    topic: ClassVar[str] = "predictions"
    prediction_id: NonEmpty
    model_name: NonEmpty
    model_version: NonEmpty
    features: Features
    score: Probability
    decision: str
    entity_id: str | None = None

    @property
    def key(self) -> bytes:
        return self.prediction_id.encode()


class LabelEvent(Event, kw_only=True, frozen=True):
    """Ground truth for one prediction; ``event_time`` is when the label became known."""

    topic: ClassVar[str] = "labels"
    prediction_id: NonEmpty
    label: int

    @property
    def key(self) -> bytes:
        return self.prediction_id.encode()

    @property
    def label_time(self) -> float:
        return self.event_time


class LabeledEvent(Event, kw_only=True, frozen=True):
    """A prediction joined with its label (topic ``labeled``); ``event_time`` is the
    prediction's, so windows over labeled events line up with windows over predictions."""

    topic: ClassVar[str] = "labeled"
    prediction: PredictionEvent
    label: int
    label_time: EventTime
    delay_seconds: float

    @property
    def key(self) -> bytes:
        return self.prediction.key

    @classmethod
    def join(cls, prediction: PredictionEvent, label: LabelEvent) -> LabeledEvent:
        return cls(
            event_time=prediction.event_time,
            prediction=prediction,
            label=label.label,
            label_time=label.event_time,
            delay_seconds=label.event_time - prediction.event_time,
        )


class FeatureStatistic(msgspec.Struct, kw_only=True, frozen=True):
    """One statistic of one feature in one window, with its threshold and verdict."""

    feature: str
    statistic: str
    value: float
    threshold: float
    drifted: bool
    feature_type: Literal["numeric", "categorical", "score", "metric"] = "numeric"


class OffsetRange(msgspec.Struct, kw_only=True, frozen=True):
    """An inclusive range of offsets on one topic partition: the evidence of a finding."""

    topic: str
    partition: int
    first_offset: int
    last_offset: int


class Driver(msgspec.Struct, kw_only=True, frozen=True):
    """A feature that drove a drift event: ``effect``, how far past its threshold its effect
    size is (PSI / threshold for numbers, Jensen-Shannon or unseen share / threshold for
    categories); ``importance``, its share of the model's permutation importance (None when
    the model version has none); ``severity``, its effect's severity capped by that share.

    >>> Driver(feature="loan_amount", effect=5.24, importance=0.117, severity="high").describe()
    'loan_amount (importance 11.7%, effect 5.24x threshold, high)'
    """

    feature: str
    effect: float
    importance: float | None = None
    severity: Severity

    def describe(self) -> str:
        """One line for a person: the feature, its importance, effect and severity."""
        share = "importance unknown" if self.importance is None else (
            f"importance {self.importance:.1%}")
        return f"{self.feature} ({share}, effect {self.effect:.3g}x threshold, {self.severity})"


class DriftEvent(Event, kw_only=True, frozen=True):
    """One drift finding with its evidence (topic ``drift-events``, keyed by model name).

    ``drivers`` (covariate and dataset events) are the drifted features, most
    importance-weighted effect first; empty for other kinds and in events written before
    they existed.
    """

    topic: ClassVar[str] = "drift-events"
    event_id: NonEmpty
    model_name: NonEmpty
    model_version: NonEmpty
    kind: DriftKind
    severity: Severity
    window_start: EventTime
    window_end: EventTime
    statistics: list[FeatureStatistic] = []
    evidence: list[OffsetRange] = []
    share_drifted: float | None = None
    summary: str = ""
    drivers: list[Driver] = []

    @property
    def key(self) -> bytes:
        return self.model_name.encode()


class ModelUpdateEvent(Event, kw_only=True, frozen=True):
    """An alias moved in the registry (topic ``model-updates``, compacted by model name)."""

    topic: ClassVar[str] = "model-updates"
    model_name: NonEmpty
    version: NonEmpty
    alias: NonEmpty = "champion"
    previous_version: str | None = None
    reason: str = ""
    run_id: str | None = None

    @property
    def key(self) -> bytes:
        return self.model_name.encode()


class DataCheck(msgspec.Struct, kw_only=True, frozen=True):
    """One check of a training or evaluation set: the column (empty for a set-wide check),
    the check, the value measured, its bound (None: reported, not enforced) and whether it
    held."""

    column: str
    check: str
    value: float
    threshold: float | None = None
    passed: bool


class DataValidationEvent(Event, kw_only=True, frozen=True):
    """The verdict on a set of labeled rows checked before a retrain (topic
    ``data-validation``, keyed by model name): ``passed`` False means nothing was trained on
    it, and ``reasons`` say why. ``model_version`` is the version whose signature, ranges and
    reference profile the rows were checked against (None: no champion yet); ``evidence``
    the offset ranges of the rows."""

    topic: ClassVar[str] = "data-validation"
    event_id: NonEmpty
    model_name: NonEmpty
    model_version: str | None = None
    passed: bool
    rows: int
    usable_rows: int
    window_start: EventTime
    window_end: EventTime
    reasons: list[str] = []
    checks: list[DataCheck] = []
    evidence: list[OffsetRange] = []
    trigger_event_id: str | None = None
    run_id: str | None = None

    @property
    def key(self) -> bytes:
        return self.model_name.encode()


class RetrainInFlight(msgspec.Struct, kw_only=True, frozen=True):
    """The drift event a retrain runs (or waits to be tried again) for, and how many tries
    of it have started."""

    event_id: NonEmpty
    event_time: EventTime
    tries: int = 1


class RetrainerState(Event, kw_only=True, frozen=True):
    """What the retrainer of one model remembers across restarts (topic ``retrainer-state``,
    compacted by model name): the ids of the drift events it has decided about (the most
    recent last), the retrain in flight, and the event time its last retrain ended (the
    cooldown runs from there; None: none yet). ``event_time`` is when it was written."""

    topic: ClassVar[str] = "retrainer-state"
    model_name: NonEmpty
    handled: list[str] = []
    in_flight: RetrainInFlight | None = None
    finished_at: float | None = None

    @property
    def key(self) -> bytes:
        return self.model_name.encode()


class DeadLetter(Event, kw_only=True, frozen=True):
    """A message that could not be processed, with why and where it came from
    (topic ``dead-letter``, keyed by source topic).

    ``value`` and ``raw_key`` hold at most the first :data:`DEAD_LETTER_PREFIX` bytes of the
    raw bytes as read (base64 in JSON), so a dead letter is never too large to send;
    ``value_size`` and ``value_sha256`` are the whole value's length and SHA-256 (hex), None
    for a null value, and ``value_truncated`` says whether ``value`` is a prefix. Schema
    version 2 (version 1 held the whole value and no size or hash)."""

    topic: ClassVar[str] = "dead-letter"
    schema_version: int = DEAD_LETTER_SCHEMA_VERSION
    source_topic: str
    source_partition: int | None = None
    source_offset: int | None = None
    raw_key: bytes | None = None
    value: bytes | None = None
    value_size: int | None = None
    value_sha256: str | None = None
    value_truncated: bool = False
    error: str
    error_field: str = ""
    service: str = ""

    @property
    def key(self) -> bytes:
        return self.source_topic[:DEAD_LETTER_PREFIX].encode()


EVENT_TYPES: dict[str, type[Event]] = {
    cls.topic: cls
    for cls in (
        TransactionEvent,
        PredictionEvent,
        LabelEvent,
        LabeledEvent,
        DriftEvent,
        ModelUpdateEvent,
        DataValidationEvent,
        RetrainerState,
        DeadLetter,
    )
}

E = TypeVar("E", bound=Event)

_encoder = msgspec.json.Encoder()
_decoders: dict[type, msgspec.json.Decoder[Any]] = {}
_PATH = re.compile(r" - at `\$(?P<path>[^`]*)`$")


def encode(event: Event) -> bytes:
    """Serialize an event to JSON bytes."""
    return _encoder.encode(event)


_MISSING = re.compile(r"missing required field `(?P<name>[^`]+)`")


def _locate_map_entry(data: Any, path: str) -> str:
    """Name the key behind msgspec's ``[...]`` placeholder for a dict entry.

    msgspec reports a bad mapping value as ``$.features[...]``; re-read the payload generically
    and return the first key whose value is not a :data:`FeatureValue`.
    """
    head = path.split("[...]", 1)[0].strip(".")
    try:
        node = msgspec.json.decode(data) if not isinstance(data, dict) else data
        for part in filter(None, head.split(".")):
            node = node[part]
        for name, value in node.items():
            try:
                msgspec.convert(value, FeatureValue)
            except msgspec.ValidationError:
                return f"{head}.{name}"
    except Exception:  # the payload is not navigable; keep msgspec's own path
        pass
    return path


def _contract_error(
    cls: type, exc: msgspec.DecodeError | msgspec.ValidationError, data: Any = None
) -> ContractError:
    message = str(exc)
    match = _PATH.search(message)
    reason = message[: match.start()] if match else message
    path = match.group("path").lstrip(".") if match else ""
    # "$.statistics[0].value" -> "statistics[0].value"; "$.features[...]" -> "features.<key>"
    if "[...]" in path and data is not None:
        path = _locate_map_entry(data, path)
    missing = _MISSING.search(reason)
    if missing:
        path = f"{path}.{missing.group('name')}" if path else missing.group("name")
    return ContractError(cls.__name__, path, reason)


def decode(cls: type[E], data: bytes | bytearray | memoryview | str) -> E:
    """Parse and validate JSON bytes into ``cls``.

    Raises :class:`~driftline.errors.ContractError` naming the field and the reason.
    """
    decoder = _decoders.get(cls)
    if decoder is None:
        decoder = _decoders[cls] = msgspec.json.Decoder(cls)
    try:
        return decoder.decode(data)
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        raise _contract_error(cls, exc, data) from None


def decode_many(cls: type[E], data: bytes) -> list[E]:
    """Parse a JSON array of ``cls`` events in one call."""
    decoder = _decoders.get(list[cls])  # type: ignore[valid-type]
    if decoder is None:
        decoder = _decoders[list[cls]] = msgspec.json.Decoder(list[cls])  # type: ignore[valid-type]
    try:
        return decoder.decode(data)
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        raise _contract_error(cls, exc) from None


def from_mapping(cls: type[E], mapping: dict[str, Any]) -> E:
    """Build and validate an event from a plain mapping (same errors as :func:`decode`)."""
    try:
        return msgspec.convert(mapping, cls)
    except msgspec.ValidationError as exc:
        raise _contract_error(cls, exc, mapping) from None


def _encode_column(values: Sequence[Any]) -> list[bytes]:
    """Each value's JSON, from one encoder call per value."""
    return list(map(_encoder.encode, values))


def _encode_numbers(values: Sequence[float]) -> list[bytes]:
    """Each number's JSON, from one encoder call for the whole column: a JSON number holds no
    comma, so splitting the encoded array yields exactly the numbers' own encodings."""
    return _encoder.encode(values)[1:-1].split(b",") if len(values) else []


def encode_predictions(
    *,
    model_name: str,
    model_version: str,
    prediction_ids: Sequence[str],
    event_times: float | Sequence[float],
    features: Sequence[Features],
    scores: Sequence[float],
    decisions: Sequence[str],
    entity_ids: Sequence[str | None],
) -> tuple[list[bytes], list[bytes]]:
    """The Kafka keys and values of a batch of predictions, given by column (row order; one
    ``event_times`` value is shared by every row).

    Row ``i`` gets exactly ``PredictionEvent(...).key`` and ``encode(PredictionEvent(...))``
    of its values, byte for byte, at a fraction of the cost: no struct per row, and each row's
    JSON is joined in C from per-column encodings around the constant parts of the envelope.
    Like the struct constructor, it does not validate the values.
    """
    columns: list[Sequence[Any]] = [features, scores, decisions, entity_ids]
    # The constant parts, in PredictionEvent's field order (the encoder writes fields in
    # declaration order, base class first); tests/driftline/test_events.py holds it to encode().
    # Fewer, longer pieces join faster: the event time goes into the head when it is shared,
    # and each distinct decision gets one piece with the keys around it.
    head = b'{"schema_version":%d,"event_time":%%s,"prediction_id":' % SCHEMA_VERSION
    heads: Iterable[bytes]
    if isinstance(event_times, int | float):
        heads = repeat(head % _encoder.encode(event_times))
    else:
        columns.append(event_times)
        heads = map(head.__mod__, _encode_numbers(event_times))
    if any(len(column) != len(prediction_ids) for column in columns):
        raise ValueError("every column of a prediction batch needs one value per row")
    model = b',"model_name":%s,"model_version":%s,"features":' % (
        _encoder.encode(model_name),
        _encoder.encode(model_version),
    )
    decided = {d: b',"decision":%s,"entity_id":' % _encoder.encode(d) for d in set(decisions)}
    values = list(
        map(
            b"".join,
            zip(
                heads,
                _encode_column(prediction_ids),
                repeat(model),
                _encode_column(features),
                repeat(b',"score":'),
                _encode_numbers(scores),
                map(decided.__getitem__, decisions),
                _encode_column(entity_ids),
                repeat(b"}"),
            ),
        )
    )
    return list(map(str.encode, prediction_ids)), values


class _LabeledRecord(msgspec.Struct, kw_only=True, frozen=True):
    """LabeledEvent's JSON with the prediction embedded as given (same fields, same order)."""

    schema_version: int
    event_time: float
    prediction: msgspec.Raw
    label: int
    label_time: float
    delay_seconds: float


def encode_labeled(labeled: LabeledEvent, prediction_raw: bytes | None = None) -> bytes:
    """``encode(labeled)``, embedding ``prediction_raw`` (the prediction's JSON as it was
    read, which must be that prediction) instead of encoding the prediction again: the
    joiner's hot path has those bytes already.

    >>> p = PredictionEvent(prediction_id="p1", event_time=1.0, model_name="m",
    ...                     model_version="1", features={"x": 2.0}, score=0.5, decision="LOW")
    >>> labeled = LabeledEvent.join(p, LabelEvent(prediction_id="p1", event_time=3.0, label=1))
    >>> encode_labeled(labeled, encode(p)) == encode(labeled)
    True
    """
    if prediction_raw is None:
        return _encoder.encode(labeled)
    return _encoder.encode(_LabeledRecord(
        schema_version=labeled.schema_version, event_time=labeled.event_time,
        prediction=msgspec.Raw(prediction_raw), label=labeled.label,
        label_time=labeled.label_time, delay_seconds=labeled.delay_seconds,
    ))
