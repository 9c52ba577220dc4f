"""A partition's error buckets: which bucket a pair counts in, when buckets close, and their
state across a checkpoint."""

from __future__ import annotations

import msgspec
import pytest

from monitor.state.changelog import ChangelogStore
from monitor.state.error_buckets import ErrorBuckets, ErrorBucketsState
from monitor.state.join import encode_slot
from monitor.state.partition import PartitionState
from tests.monitor.state.test_concept_restart import CONFIG, _events, _no_profile


def test_buckets_close_in_order_once_the_labels_pass_their_end():
    buckets = ErrorBuckets(width=2.0, partition=3)
    buckets.add("m", "1", [0.5, 2.5, 3.9, 1.0], [1, 0, 1, 0], "labels", [10, 11, 12, 13])
    buckets.add("n", "2", [2.2], [1], "labels", [14])
    first = buckets.advance(3.9)
    assert [(name, s.start, s.end, s.bits().tolist()) for name, _, s in first] == [
        ("m", 0.0, 2.0, [1, 0])]
    assert buckets.through == 2.0
    assert buckets.advance(3.9) == []  # no further
    closed = buckets.advance(4.0)
    assert [(name, s.start, s.end, s.bits().tolist()) for name, _, s in closed] == [
        ("m", 2.0, 4.0, [0, 1]), ("n", 2.0, 4.0, [1])]
    assert buckets.through == 4.0
    assert all(r.partition == 3 for _, _, s in closed for r in s.evidence)


def test_pairs_of_interleaved_buckets_keep_their_join_order_offsets_and_latest_label():
    buckets = ErrorBuckets(width=1.0, partition=0)
    buckets.add("m", "1", [4.2, 5.1, 4.9, 5.0, 4.1], [1, 0, 0, 1, 1], "labels",
                [30, 31, 32, 33, 34])
    shares = [s for _, _, s in buckets.flush()]
    assert [(s.start, s.bits().tolist(), s.label_time) for s in shares] == [
        (4.0, [1, 0, 1], 4.9), (5.0, [0, 1], 5.1)]
    assert [[(r.first_offset, r.last_offset) for r in s.evidence] for s in shares] == [
        [(30, 34)], [(31, 33)]]


def test_a_pair_of_a_closed_bucket_counts_in_the_oldest_open_one():
    buckets = ErrorBuckets(width=1.0, partition=0)
    buckets.add("m", "1", [5.5], [0], "labels", [1])
    [(_, _, first)] = buckets.advance(6.1)
    buckets.add("m", "1", [3.0, 6.5], [1, 1], "predictions", [7, 8])
    [(_, _, second)] = buckets.flush()
    assert (first.start, first.count) == (5.0, 1)
    assert (second.start, second.count, second.label_time) == (6.0, 2, 6.5)
    assert buckets.through == 7.0


def test_open_buckets_survive_a_checkpoint():
    buckets = ErrorBuckets(width=1.0, partition=0)
    buckets.add("m", "1", [1.1, 1.2, 2.5], [1, 0, 1], "labels", [4, 5, 6])
    buckets.advance(2.5)
    state = msgspec.json.decode(msgspec.json.encode(buckets.state()), type=ErrorBucketsState)
    restored = ErrorBuckets(1.0, 0, state)
    for b in (buckets, restored):
        b.add("m", "1", [2.7], [0], "labels", [7])
    assert restored.flush() == buckets.flush()
    assert restored.through == buckets.through == 3.0


def test_a_bucket_width_must_be_positive():
    with pytest.raises(ValueError, match="width"):
        ErrorBuckets(width=0.0, partition=0)


def test_pairs_whose_labels_were_read_first_fill_their_buckets_as_predictions_come():
    """A backlog: the labels read before their predictions. The buckets close as the
    predictions' clock passes them, each with the pairs of its label times."""
    events = _events(600, 600, 2)  # 10 predictions a second, each label 30 s later
    state = PartitionState(0, CONFIG, ChangelogStore(encode_slot), _no_profile)
    labels = [(o, e) for topic, o, e in events if topic == "labels"]
    step = state.on_labels("labels", [o for o, _ in labels], [e for _, e in labels])
    assert state.error_shares("labels", step) == []  # no pair yet
    predictions = [(o, e) for topic, o, e in events if topic == "predictions"]
    shares = []
    for i in range(0, len(predictions), 50):
        run = predictions[i:i + 50]
        step = state.on_predictions("predictions", [o for o, _ in run], [e for _, e in run])
        shares += [s for p in state.error_shares("predictions", step) for s in p.buckets]
    # every pair is in the bucket of its label time (10 a second) up to the predictions' clock
    assert [s.count for s in shares] == [10] * len(shares)
    assert shares[-1].end == 1_700_000_040.0 + 59.0 and len(shares) == 29
    assert all(r.topic == "predictions" for s in shares for r in s.evidence)
