"""``driftline produce``: traffic to the scorer (HTTP) or to ``transactions`` (Kafka), and each
label to ``labels`` once its delay has passed.

The pure parts decide everything that can be decided ahead: :class:`~producers.traffic.Traffic`
the requests and their truth, :class:`~producers.ratelimit.Pacer` when each is sent and
:class:`~producers.labelqueue.LabelQueue` when each label is due. This module is the I/O
around them: one asyncio loop that sends on schedule, keeps at most ``concurrency`` requests
in flight and emits labels as simulated time passes them.

Time: the run covers ``duration`` seconds of simulated time in ``duration / time_scale``
seconds of wall time; ``rate`` is requests per wall-clock second (what the scorer sees), so
``rate / time_scale`` per simulated second. Kafka mode stamps transactions and labels with
simulated event times (``start + simulated offset``). Over HTTP the scorer stamps each
prediction with its own clock, so labels are stamped with the wall clock when they are emitted,
which keeps prediction-to-label delays as the monitor sees them equal to the configured ones
divided by ``time_scale``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
import time
from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

import httpx

from driftline.events import LabelEvent, TransactionEvent
from driftline.kafka.producer import Producer
from producers.labelqueue import LabelQueue
from producers.ratelimit import Pacer
from producers.settings import ProducerSettings
from producers.traffic import Application, Traffic

__all__ = [
    "HttpSender",
    "KafkaLabels",
    "KafkaSender",
    "Outcome",
    "ProduceOptions",
    "ProduceSummary",
    "Sender",
    "produce",
    "run_produce",
]

log = logging.getLogger(__name__)

Status = Literal["accepted", "rejected", "failed"]


@dataclass(frozen=True)
class Outcome:
    """What the target made of one request. ``prediction_id`` is the id to key the label by,
    or None when no prediction will exist (no label is emitted then)."""

    status: Status
    prediction_id: str | None = None
    reason: str = ""


@dataclass
class ProduceSummary:
    """Counts of one run; filled in while it runs, so an interrupted run still reports."""

    target: str
    planned: int
    target_rate: float
    sent: int = 0
    accepted: int = 0
    rejected: int = 0
    failed: int = 0
    malformed_sent: int = 0
    labels_emitted: int = 0
    labels_pending: int = 0
    labels_never: int = 0
    label_failures: int = 0
    send_seconds: float = 0.0
    slipped_seconds: float = 0.0
    interrupted: bool = False
    reasons: Counter[str] = field(default_factory=Counter)

    @property
    def achieved_rate(self) -> float:
        """Requests sent per wall-clock second while sending."""
        return self.sent / self.send_seconds if self.send_seconds > 0 else 0.0

    @property
    def in_flight(self) -> int:
        return self.sent - self.accepted - self.rejected - self.failed

    def lines(self) -> list[str]:
        """The end-of-run summary, one line per count."""
        kafka = self.target == "kafka"
        reasons = ", ".join(f"{r}: {n}" for r, n in self.reasons.most_common(5))
        out = [
            f"sent            {self.sent:>9}  of {self.planned} planned; "
            f"{self.achieved_rate:,.1f}/s achieved, {self.target_rate:,.1f}/s target",
            f"accepted        {self.accepted:>9}  "
            + ("acknowledged by Kafka" if kafka else "scored by the scorer"),
            f"rejected        {self.rejected:>9}  "
            + ("(the scorer judges transactions downstream)" if kafka else reasons),
            f"failed          {self.failed:>9}  "
            + (reasons if kafka else "transport errors and 5xx"),
            f"malformed sent  {self.malformed_sent:>9}  damaged on purpose (data-quality)",
            f"labels emitted  {self.labels_emitted:>9}",
            f"labels pending  {self.labels_pending:>9}  due after the run ended",
            f"labels never    {self.labels_never:>9}  never arrive, by the delay spec",
        ]
        if self.label_failures:
            out.append(f"label failures  {self.label_failures:>9}  not acknowledged by Kafka")
        if self.slipped_seconds > 0.5:
            out.append(
                f"behind schedule {self.slipped_seconds:>8.1f}s  the target or this process could "
                "not keep up: lower --rate, or raise --concurrency if the target has headroom"
            )
        if self.interrupted:
            out.append("interrupted before the end")
        return [line.rstrip() for line in out]


class Sender(ABC):
    """Sends one application and reports what the target made of it."""

    target: str

    @abstractmethod
    async def send(self, app: Application, event_time: float) -> Outcome: ...

    async def aclose(self) -> None:  # noqa: B027 - optional hook
        """Release connections; the default has none."""


class KafkaSender(Sender):
    """Writes each application to ``transactions`` as a TransactionEvent whose ``request_id``
    the scorer reuses as the prediction id. ``send`` returns once Kafka acknowledged it.
    Malformed applications are sent but get no label: the scorer will refuse them."""

    target = "kafka"

    def __init__(self, producer: Producer, topic: str, model_name: str | None = None) -> None:
        self._producer = producer
        self._topic = topic
        self._model_name = model_name

    async def send(self, app: Application, event_time: float) -> Outcome:
        loop = asyncio.get_running_loop()
        acked: asyncio.Future[str | None] = loop.create_future()

        def report(err: object, _msg: object) -> None:  # on the producer's poll thread
            with contextlib.suppress(RuntimeError):  # the loop closed: nobody is waiting
                loop.call_soon_threadsafe(_resolve, acked, None if err is None else str(err))

        event = TransactionEvent(
            event_time=event_time,
            entity_id=app.request_id,
            request_id=app.request_id,
            features=app.features,
            model_name=self._model_name,
        )
        self._producer.send(self._topic, event, on_delivery=report)
        error = await acked
        if error is not None:
            return Outcome("failed", reason=error)
        return Outcome("accepted", None if app.malformed else app.request_id)


def _resolve(future: asyncio.Future[str | None], value: str | None) -> None:
    if not future.done():
        future.set_result(value)


class HttpSender(Sender):
    """Posts each application's features (with ``request_id`` and ``entity_id``) to the
    scorer's ``/predict``; the label is keyed by the ``prediction_id`` it answers with. 4xx
    counts as rejected, 5xx and transport errors as failed. The scorer stamps the prediction
    with its own clock (``event_time`` is not sent).

    Each request borrows one of ``clients`` and gives it back: :meth:`open` makes one client
    per request in flight, each with a single keep-alive connection, because one shared
    httpx pool spends more CPU matching requests to connections than on the requests once
    dozens are in flight.
    """

    target = "http"

    def __init__(
        self, clients: httpx.AsyncClient | list[httpx.AsyncClient], path: str = "/predict"
    ) -> None:
        self._clients = clients if isinstance(clients, list) else [clients]
        self._free: asyncio.LifoQueue[httpx.AsyncClient] = asyncio.LifoQueue()
        for client in self._clients:
            self._free.put_nowait(client)
        self._path = path

    @classmethod
    def open(
        cls, base_url: str, concurrency: int, *, timeout: float = 10.0,
        headers: dict[str, str] | None = None,
    ) -> HttpSender:
        """``concurrency`` clients of one connection each to the scorer at ``base_url``."""
        limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
        tls = ssl.create_default_context()  # loading CA files once, not once per client
        return cls([
            httpx.AsyncClient(
                base_url=base_url, timeout=timeout, headers=headers, limits=limits, verify=tls
            )
            for _ in range(concurrency)
        ])

    async def send(self, app: Application, event_time: float) -> Outcome:
        # The scorer uses request_id as the prediction_id; entity_id travels to the prediction.
        body = {**app.features, "entity_id": app.request_id, "request_id": app.request_id}
        client = await self._free.get()
        try:
            response = await client.post(self._path, json=body)
        except httpx.HTTPError as exc:
            return Outcome("failed", reason=type(exc).__name__)
        finally:
            self._free.put_nowait(client)
        status = response.status_code
        if status == 200:
            try:
                return Outcome("accepted", str(response.json()["prediction_id"]))
            except (ValueError, KeyError, TypeError):
                return Outcome("failed", reason="200 without a prediction_id")
        return Outcome("rejected" if 400 <= status < 500 else "failed", reason=f"HTTP {status}")

    async def aclose(self) -> None:
        for client in self._clients:
            await client.aclose()


class KafkaLabels:
    """Writes labels to the ``labels`` topic, keyed by prediction_id, counting failures."""

    def __init__(self, producer: Producer, topic: str) -> None:
        self._producer = producer
        self._topic = topic
        self.failed = 0

    def _report(self, err: object, _msg: object) -> None:
        if err is not None:
            self.failed += 1

    def __call__(self, label: LabelEvent) -> None:
        self._producer.send(self._topic, label, on_delivery=self._report)


async def run_produce(
    traffic: Traffic,
    sender: Sender,
    write_label: Callable[[LabelEvent], None],
    summary: ProduceSummary,
    *,
    rate: float,
    time_scale: float = 1.0,
    start_time: float | None = None,
    concurrency: int = 64,
    drain: bool = False,
    label_time: Literal["simulated", "wall"] = "simulated",
    on_progress: Callable[[ProduceSummary], None] | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> ProduceSummary:
    """Send ``summary.planned`` applications of ``traffic`` at ``rate`` per second and emit
    their labels as they fall due; with ``drain``, keep going after the last request until
    every label that will ever arrive has been emitted. ``summary`` is updated in place."""
    if time_scale <= 0:
        raise ValueError(f"time_scale must be positive, got {time_scale}")
    if start_time is None:
        # Faster than real time, the simulated period ends when the run starts: its events are
        # history, never ahead of the consumers' clocks (DRIFTLINE_EVENT_TIME_MAX_LEAD).
        ahead = summary.planned / rate * time_scale if time_scale > 1 else 0.0
        start_time = time.time() - ahead
    queue: LabelQueue[tuple[str, int, float]] = LabelQueue()
    in_flight = asyncio.Semaphore(concurrency)
    tasks: set[asyncio.Task[None]] = set()
    pacer = Pacer(rate, start=clock(), limit=summary.planned, max_lag=1.0)
    wall0 = pacer.next_at
    last_progress = 0.0

    def sim_now() -> float:
        return (clock() - wall0) * time_scale

    def emit_due() -> None:
        for prediction_id, label, due in queue.pop_due(sim_now()):
            event_time = start_time + due if label_time == "simulated" else time.time()
            write_label(LabelEvent(prediction_id=prediction_id, label=label, event_time=event_time))
            summary.labels_emitted += 1

    def progress(force: bool = False) -> None:
        nonlocal last_progress
        if on_progress is not None and (force or clock() - last_progress >= 0.2):
            last_progress = clock()
            summary.labels_pending = len(queue)
            on_progress(summary)

    async def one(app: Application) -> None:
        try:
            outcome = await sender.send(app, start_time + app.sim_time)
        except Exception as exc:  # a broken target must not take the run down uncounted
            log.warning("sending %s failed: %r", app.request_id, exc)
            outcome = Outcome("failed", reason=type(exc).__name__)
        finally:
            in_flight.release()
        if outcome.status == "accepted":
            summary.accepted += 1
        elif outcome.status == "rejected":
            summary.rejected += 1
        else:
            summary.failed += 1
        if outcome.reason:
            summary.reasons[outcome.reason] += 1
        if outcome.status != "accepted" or outcome.prediction_id is None:
            return
        due = app.label_due
        if due is None:
            summary.labels_never += 1
        else:
            queue.push(due, (outcome.prediction_id, app.label, due))

    apps = iter(traffic)
    try:
        while not pacer.done:
            for _ in range(pacer.take(clock())):
                await in_flight.acquire()
                app = next(apps)
                summary.sent += 1
                summary.malformed_sent += int(app.malformed is not None)
                task = asyncio.create_task(one(app))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
            emit_due()
            progress()
            await asyncio.sleep(max(0.0, min(pacer.next_at - clock(), 0.05)))
        summary.slipped_seconds = pacer.slipped
        if tasks:
            await asyncio.gather(*tasks)
        summary.send_seconds = clock() - wall0
        emit_due()
        while drain and len(queue):
            next_due = queue.next_due or 0.0
            await asyncio.sleep(min(max(0.0, (next_due - sim_now()) / time_scale), 0.2))
            emit_due()
            progress()
    except asyncio.CancelledError:
        summary.interrupted = True
        for task in tasks:
            task.cancel()
        raise
    finally:
        if not summary.send_seconds:
            summary.send_seconds = clock() - wall0
        summary.labels_pending = len(queue)
        with contextlib.suppress(Exception):
            progress(force=True)
    return summary


@dataclass(frozen=True)
class ProduceOptions:
    """One ``driftline produce`` run, as given on the command line."""

    to: Literal["http", "kafka"]
    scenario: str = "stable"
    source: str = "loans"
    rate: float = 50.0
    duration: float = 60.0  # simulated seconds
    count: int | None = None  # overrides duration when set
    time_scale: float = 1.0
    seed: int = 0
    run_id: str | None = None
    # simulated start, seconds since the epoch (default: now; faster than real time, the
    # moment that makes the simulated period end now)
    start_time: float | None = None
    label_delay: str = "exponential:5m"
    label_loss: float = 0.05
    drain: bool = False
    concurrency: int | None = None
    scorer_url: str | None = None

    @property
    def planned(self) -> int:
        if self.count is not None:
            return self.count
        return max(1, round(self.duration / self.time_scale * self.rate))

    def check(self) -> None:
        """Raise ValueError naming the first option that cannot work."""
        if not self.rate > 0:
            raise ValueError(f"--rate must be positive, got {self.rate:g}")
        if not self.time_scale > 0:
            raise ValueError(f"--time-scale must be positive, got {self.time_scale:g}")
        if self.count is not None and self.count < 1:
            raise ValueError(f"--count must be at least 1, got {self.count}")
        if not self.duration > 0:
            raise ValueError(f"--duration must be positive, got {self.duration:g}s")
        if self.concurrency is not None and self.concurrency < 1:
            raise ValueError(f"--concurrency must be at least 1, got {self.concurrency}")

    def traffic(self, run_id: str) -> Traffic:
        """The run's traffic (parses and checks the scenario, delays and source)."""
        from producers.delays import LabelDelays, parse_delay
        from producers.scenarios import parse_scenario

        self.check()
        traffic = Traffic(
            parse_scenario(self.scenario),
            LabelDelays(parse_delay(self.label_delay), never=self.label_loss),
            seed=self.seed,
            per_second=self.rate / self.time_scale,
            source=self.source,
            run_id=run_id,
        )
        if self.to == "http" and traffic.source.name != "loans":
            raise ValueError(
                f"the scorer serves the credit-risk model: the {traffic.source.name} source "
                "goes --to kafka"
            )
        return traffic

    def new_summary(self) -> ProduceSummary:
        return ProduceSummary(target=self.to, planned=self.planned, target_rate=self.rate)


async def produce(
    settings: ProducerSettings,
    options: ProduceOptions,
    *,
    summary: ProduceSummary | None = None,
    on_progress: Callable[[ProduceSummary], None] | None = None,
) -> ProduceSummary:
    """Run ``options`` against the configured Kafka cluster (and scorer, over HTTP)."""
    from driftline.events import new_id
    from driftline.kafka.admin import wait_for_broker
    from driftline.topics import topic_names

    traffic = options.traffic(options.run_id or new_id()[:8])
    summary = summary or options.new_summary()
    wait_for_broker(settings.kafka, timeout=15)
    topics = topic_names(settings.kafka.topic_prefix)
    producer = Producer(settings.kafka, background_poll=True)
    sender: Sender
    if options.to == "kafka":
        sender = KafkaSender(producer, topics["transactions"], traffic.source.model_name)
        concurrency = options.concurrency or 100_000
    else:
        headers = {}
        if settings.api_key is not None:
            headers["X-API-Key"] = settings.api_key.get_secret_value()
        concurrency = options.concurrency or settings.produce_concurrency
        sender = HttpSender.open(
            options.scorer_url or settings.scorer_url, concurrency,
            timeout=settings.produce_timeout_s, headers=headers,
        )
    labels = KafkaLabels(producer, topics["labels"])
    try:
        await run_produce(
            traffic,
            sender,
            labels,
            summary,
            rate=options.rate,
            time_scale=options.time_scale,
            start_time=options.start_time,
            concurrency=concurrency,
            drain=options.drain,
            label_time="simulated" if options.to == "kafka" else "wall",
            on_progress=on_progress,
        )
    finally:
        await sender.aclose()
        await asyncio.to_thread(producer.close, 30.0)
        summary.label_failures = labels.failed
    return summary
