"""The monitor's per-partition pure path, without Kafka: prediction events per second (each
with its label) through decoding, the join, the window and performance counts, the error
buckets of the concept detector, closing windows and checkpoints, against msgspec's decode
of the same bytes.

The path is what the source loop and a backtest run per topic partition: runs of message
values decoded by :func:`driftline.intake.decode_run`, applied by
:meth:`~monitor.state.partition.PartitionState.on_predictions` and
:meth:`~monitor.state.partition.PartitionState.on_labels`, joined pairs counted in the
error buckets (:meth:`~monitor.state.partition.PartitionState.error_shares`), windows closed
after each batch, and a
checkpoint (expiry, changelog writes, snapshot) every ``--checkpoint-every`` batches.
Predictions come at 50 per second of event time with their labels 60 s later, as in
``bench_monitor.py``, in runs of ``--run`` messages of each topic in turn; the garbage
collector is tuned as in the source process (:func:`driftline.process.tune_gc`).

**Anchor**: one msgspec ``Decoder.decode`` per message of the same bytes into the same event
types, the least any reader of the topics pays; the ratio is the path's time over the
anchor's. Both run in this process, one after the other, best of ``--rounds``.

    .venv/bin/python bench/bench_source_path.py [--events 200000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import time
from collections import Counter

import msgspec

from driftline.events import LabelEvent, PredictionEvent
from driftline.features import CREDIT_RISK
from driftline.intake import TimeRange, decode_run
from driftline.process import tune_gc
from driftline.profile import build_profile
from monitor.drift.windows import EventTimeWindows
from monitor.state.changelog import ChangelogStore
from monitor.state.join import encode_slot
from monitor.state.partition import PartitionConfig, PartitionState
from producers.generator import LoanGenerator, default_probability

STAGES = ("decode", "predictions", "labels", "buckets", "close", "checkpoint")


def topics(n: int) -> tuple[list[bytes], list[bytes]]:
    """The message values of ``n`` predictions and their labels (one partition)."""
    encoder = msgspec.json.Encoder()
    batch = LoanGenerator(3).sample(n)
    predictions, labels = [], []
    for i, (row, label, p) in enumerate(zip(batch.rows(), batch.labels.tolist(),
                                            batch.probabilities.tolist(), strict=True)):
        t = 1_700_000_000.0 + i / 50.0
        pid = f"b{i:08d}"
        predictions.append(encoder.encode(PredictionEvent(
            prediction_id=pid, event_time=t, model_name="credit-risk", model_version="1",
            features=row, score=p, decision="LOW")))
        labels.append(encoder.encode(LabelEvent(prediction_id=pid, event_time=t + 60.0,
                                                label=label)))
    return predictions, labels


def run_path(values: dict[str, list[bytes]], profile, run: int,
             checkpoint_every: int) -> tuple[float, Counter[str], int]:
    """Seconds of CPU for the whole path, per stage, and the pairs joined."""
    state = PartitionState(0, PartitionConfig(EventTimeWindows(size=60, grace=30)),
                           ChangelogStore(encode_slot), lambda n, v: profile)
    times = TimeRange(floor=0.0, max_lead=1e10)
    spent: Counter[str] = Counter()
    clock = time.process_time
    began = clock()
    n = len(values["predictions"])
    for b, start in enumerate(range(0, n, run)):
        for topic, cls in (("predictions", PredictionEvent), ("labels", LabelEvent)):
            raws = values[topic][start:start + run]
            offsets = list(range(start, start + len(raws)))
            t0 = clock()
            events = decode_run(cls, raws, times).items
            t1 = clock()
            apply = state.on_predictions if topic == "predictions" else state.on_labels
            step = apply(topic, offsets, events, raws)
            t2 = clock()
            state.error_shares(topic, step)
            t3 = clock()
            spent["decode"] += t1 - t0
            spent[topic] += t2 - t1
            spent["buckets"] += t3 - t2
        t0 = clock()
        state.close()
        t1 = clock()
        spent["close"] += t1 - t0
        if b % checkpoint_every == checkpoint_every - 1:
            state.expire()
            writes = state.join.store.take_writes()  # type: ignore[attr-defined]
            state.snapshot()
            state.join.forget_halves(writes.keys)
            spent["checkpoint"] += clock() - t1
    return clock() - began, spent, state.join.counts.joined


def anchor(values: dict[str, list[bytes]]) -> float:
    """Seconds of CPU for one msgspec decode per message of both topics."""
    predictions = msgspec.json.Decoder(PredictionEvent).decode
    labels = msgspec.json.Decoder(LabelEvent).decode
    began = time.process_time()
    for raw in values["predictions"]:
        predictions(raw)
    for raw in values["labels"]:
        labels(raw)
    return time.process_time() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000, help="predictions (and labels)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds; the best is shown")
    parser.add_argument("--run", type=int, default=1000, help="messages per run")
    parser.add_argument("--checkpoint-every", type=int, default=40, metavar="BATCHES",
                        help="batches (a run of each topic) between checkpoints")
    args = parser.parse_args()
    reference = LoanGenerator(11).sample(20_000)
    profile = build_profile(reference.columns, default_probability(reference.columns),
                            numeric=CREDIT_RISK.numeric_names,
                            categorical=CREDIT_RISK.categorical_names, labels=reference.labels,
                            model_name="credit-risk", model_version="1")
    predictions, labels = topics(args.events)
    values = {"predictions": predictions, "labels": labels}
    tune_gc()  # as the source process does
    best: tuple[float, Counter[str], int] | None = None
    raw = float("inf")
    for _ in range(args.rounds):
        result = run_path(values, profile, args.run, args.checkpoint_every)
        if best is None or result[0] < best[0]:
            best = result
        raw = min(raw, anchor(values))
    assert best is not None
    took, spent, joined = best
    if joined != args.events:
        raise SystemExit(f"only {joined} of {args.events} pairs joined")
    print(f"{args.events:,} predictions + {args.events:,} labels, one partition, runs of "
          f"{args.run}, best of {args.rounds} (CPU time)")
    print(f"{'measure':44} {'events/s':>12}")
    print(f"{'msgspec decode, both topics (anchor)':44} {2 * args.events / raw:12,.0f}")
    print(f"{'pure path: predictions + labels':44} {2 * args.events / took:12,.0f}")
    print(f"{'pure path: prediction events':44} {args.events / took:12,.0f}")
    print("per pair: " + ", ".join(f"{stage} {spent[stage] / args.events * 1e6:.2f} us"
                                   for stage in STAGES)
          + f"; total {took / args.events * 1e6:.2f} us")
    print(f"path time / anchor time = {took / raw:.1f}")


if __name__ == "__main__":
    main()
