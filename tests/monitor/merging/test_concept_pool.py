"""One concept detector per model version over every partition's error buckets: the order
shares are fed in, shares sent or read again, the threshold, and how soon a stream split
over partitions is detected against one detector over the whole stream."""

from __future__ import annotations

import numpy as np
import pytest

from monitor.drift.concept import ConceptDriftDetector, glr_threshold
from monitor.merging.concept import ConceptParams, ConceptPool
from monitor.merging.merge import WindowMerger
from monitor.merging.policy import DriftPolicy
from monitor.state.error_buckets import BucketShare, ErrorBuckets
from monitor.state.partition import Partial

PARTITIONS = 6


def _shares(errors: np.ndarray, owner: np.ndarray, times: np.ndarray, width: float = 1.0
            ) -> list[tuple[int, BucketShare]]:
    """Every partition's shares of a stream: (partition, share), oldest bucket first."""
    out = []
    for p in range(PARTITIONS):
        mine = np.flatnonzero(owner == p)
        buckets = ErrorBuckets(width, p)
        buckets.add("m", "1", times[mine], errors[mine], "labels", mine.tolist())
        out += [(p, share) for _, _, share in buckets.flush()]
    return out


def _stream(seed: int, n: int = 6000, rate: float = 20.0):
    rng = np.random.default_rng(seed)
    errors = (rng.random(n) < 0.2).astype(np.uint8)
    owner = rng.integers(PARTITIONS, size=n)
    return errors, owner, np.arange(n) / rate


def test_shares_arriving_in_any_order_are_fed_in_bucket_order_then_by_partition():
    errors, owner, times = _stream(1)
    shares = _shares(errors, owner, times)
    states = []
    for order in (shares, shares[::-1], sorted(shares, key=lambda s: (s[0] * 7) % 5)):
        pool = ConceptPool(params=ConceptParams(warmup=0))
        for p, share in order:
            pool.add("m", "1", p, [share])
        assert pool.feed(1e9) == [] and pool.pending == 0
        states.append(pool.state("m", "1").detector)
    expected = ConceptDriftDetector(warmup=0)
    in_order = sorted(shares, key=lambda s: (s[1].start, s[0]))
    expected.update_errors(np.concatenate([share.bits() for _, share in in_order]))
    assert states == [expected.state()] * 3


def test_only_buckets_every_partition_has_passed_are_fed():
    errors, owner, times = _stream(2, n=400)
    pool = ConceptPool()
    for p, share in _shares(errors, owner, times):
        pool.add("m", "1", p, [share])
    pool.feed(10.0)
    assert pool.state("m", "1").detector.n == int((times < 10.0).sum())
    assert pool.state("m", "1").fed == {str(p): 10.0 for p in range(PARTITIONS)}


def test_shares_sent_or_read_again_after_a_restart_count_once():
    errors, owner, times = _stream(3, n=2000)
    shares = _shares(errors, owner, times)
    store: dict[str, bytes] = {}
    pool = ConceptPool(store)
    half = len(shares) // 2
    for p, share in shares[:half]:
        pool.add("m", "1", p, [share])
    pool.add("m", "1", shares[0][0], [shares[0][1]])  # the same share again while it waits
    pool.feed(40.0)
    restarted = ConceptPool(store)  # the publisher's table survives, its memory does not
    for p, share in shares:  # everything read again, then sent again by the sources
        restarted.add("m", "1", p, [share])
    restarted.feed(1e9)
    assert restarted.state("m", "1").detector.n == len(errors)
    assert pool.duplicates == 1 and restarted.duplicates > 0
    assert all(restarted.is_fed("m", "1", p, [share]) for p, share in shares)


def test_a_late_share_of_a_bucket_fed_already_is_fed_with_the_next_batch():
    errors, owner, times = _stream(4, n=400)
    shares = _shares(errors, owner, times)
    pool = ConceptPool()
    late = [(p, s) for p, s in shares if p == 5 and s.end <= 10.0]
    for p, share in shares:
        if (p, share) not in late:
            pool.add("m", "1", p, [share])
    pool.feed(10.0)
    for p, share in late:  # the partition was idle, and is back
        pool.add("m", "1", p, [share])
    assert not pool.is_fed("m", "1", 5, [late[0][1]])
    pool.feed(12.0)
    assert pool.is_fed("m", "1", 5, [s for _, s in late])
    assert pool.state("m", "1").detector.n == int((times < 12.0).sum())


@pytest.mark.parametrize(("contract", "rate"), [(1.0, 1.0), (0.1, 5.0), (4.0, 200.0)])
def test_the_pooled_threshold_is_the_single_stream_detectors(contract, rate):
    pool = ConceptPool(params=ConceptParams(label_rate=rate), false_alarms={"m": contract}.get)
    threshold = pool.detector("m", "1").glr_threshold
    assert threshold == glr_threshold(contract, rate)
    assert threshold == ConceptDriftDetector(false_alarms=contract, label_rate=rate).glr_threshold


def _merger(rate: float) -> WindowMerger:
    return WindowMerger(partitions=PARTITIONS, profiles=lambda _n, _v: None,
                        policy=DriftPolicy(cooldown=3600.0),
                        concept_params=ConceptParams(label_rate=rate),
                        idle_timeout=float("inf"), started=0.0, clock=lambda: 0.0)


@pytest.mark.parametrize("seed", range(5))
def test_a_stream_split_over_six_partitions_is_detected_within_40_labels_of_one_detector(
        seed):
    """20 labels a second in 1-s buckets, sent a run of 100 labels at a time: the pooled
    detection's label time is within two buckets (40 labels) of the label time of the pair at
    which one detector over the whole stream fires (a bucket's pairs are fed partition by
    partition, so the order differs within a bucket)."""
    rate, onset, n = 20.0, 20_000, 24_000
    rng = np.random.default_rng(seed)
    errors = (rng.random(n) < np.where(np.arange(n) < onset, 0.2, 0.4)).astype(np.uint8)
    owner = rng.integers(PARTITIONS, size=n)
    times = 1_000.0 + np.arange(n) / rate
    [single, *_] = ConceptDriftDetector(label_rate=rate).update_errors(errors)
    assert single.index >= onset

    merger, buckets = _merger(rate), [ErrorBuckets(1.0, p) for p in range(PARTITIONS)]
    found: list[float] = []
    for start in range(0, n, 100):
        for p in range(PARTITIONS):
            mine = start + np.flatnonzero(owner[start:start + 100] == p)
            buckets[p].add("m", "1", times[mine], errors[mine], "labels", mine.tolist())
            shares = [s for _, _, s in buckets[p].advance(float(times[mine[-1]]))]
            partial = Partial(kind="errors", partition=p, watermark=None, model_name="m",
                              model_version="1", buckets=shares,
                              concept_watermark=buckets[p].through)
            found += [e.event_time for j in merger.add(partial, now=0.0) for e in j.events]
    assert found
    assert abs(found[0] - times[single.index]) <= 2.0
