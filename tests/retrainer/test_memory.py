"""What the trigger policy remembers survives a restart: it is plain data written before the
offsets are committed, and a policy given it back decides as the one before the restart."""

from __future__ import annotations

import msgspec

from driftline.events import RetrainerState, decode, encode
from retrainer.service import Retrainer
from retrainer.settings import RetrainerSettings
from retrainer.trigger import KEEP_HANDLED, TriggerPolicy
from tests.retrainer.test_restart_idempotence import EVENT


def _event(event_id: str, at: float = EVENT.event_time, version: str = "1"):
    return msgspec.structs.replace(EVENT, event_id=event_id, event_time=at,
                                   model_version=version)


def _restarted(policy: TriggerPolicy, now: float = 0.0) -> TriggerPolicy:
    """A new policy given back what ``policy`` remembered, through its JSON."""
    state = decode(RetrainerState, encode(policy.state("credit-risk", now=now)))
    again = TriggerPolicy(cooldown=900, debounce=60)
    again.restore(state)
    return again


def test_a_restarted_policy_still_skips_duplicates_and_the_cooldown():
    policy = TriggerPolicy(cooldown=900, debounce=60)
    assert policy.decide(EVENT).trigger
    policy.finished("credit-risk", at=EVENT.event_time + 100)
    again = _restarted(policy)
    assert again.decide(EVENT).outcome == "duplicate"
    assert again.decide(_event("later", EVENT.event_time + 500)).outcome == "cooldown"
    assert again.decide(_event("after", EVENT.event_time + 1100)).trigger


def test_a_retrain_in_flight_resumes_for_its_own_event_and_keeps_its_tries():
    policy = TriggerPolicy(cooldown=900, debounce=60)
    assert policy.decide(EVENT).trigger
    policy.tried("credit-risk", 3)
    assert policy.decide(_event("meanwhile", EVENT.event_time + 5)).outcome == "in_flight"
    again = _restarted(policy)
    assert again.in_flight("credit-risk") and again.in_flight_tries("credit-risk") == 3
    # events after it, delivered again before it would be (never, in order): still skipped
    assert again.decide(_event("other", EVENT.event_time + 7)).outcome == "in_flight"
    resumed = again.decide(EVENT)
    assert resumed.trigger and resumed.outcome == "resumed"
    assert again.decide(EVENT).outcome == "duplicate"  # resumed once
    assert again.decide(_event("meanwhile", EVENT.event_time + 5)).outcome == "duplicate"
    again.finished("credit-risk", at=EVENT.event_time + 100)
    assert again.state("credit-risk", now=1.0).in_flight is None


def test_a_state_keeps_the_most_recent_event_ids_only():
    policy = TriggerPolicy(kinds=("prediction",))
    for i in range(KEEP_HANDLED + 5):
        policy.decide(_event(f"e{i}"))
    handled = policy.state("credit-risk", now=0.0).handled
    assert len(handled) == KEEP_HANDLED and handled[-1] == f"e{KEEP_HANDLED + 4}"
    assert handled[0] == "e5"


class _Store:
    def __init__(self, acknowledge: bool) -> None:
        self.acknowledge = acknowledge
        self.written: list[RetrainerState] = []

    def write(self, state: RetrainerState) -> bool:
        if self.acknowledge:
            self.written.append(state)
        return self.acknowledge


class _Consumer:
    def __init__(self, store: _Store) -> None:
        self.store = store
        self.commits: list[tuple[list, int]] = []

    def commit(self, offsets) -> None:
        self.commits.append((list(offsets), len(self.store.written)))


def _retrainer(tmp_path, store: _Store) -> Retrainer:
    retrainer = Retrainer(RetrainerSettings(home=tmp_path))
    retrainer._store = store  # type: ignore[assignment]
    retrainer.policy.decide(_event("skipped", version="1"), champion_version="2")
    retrainer._tracker.seen(0, 4)
    return retrainer


def test_the_state_is_written_before_the_offsets_are_committed_and_only_when_it_changed(
    tmp_path,
):
    store = _Store(acknowledge=True)
    retrainer, consumer = _retrainer(tmp_path, store), _Consumer(store)
    retrainer._commit(consumer)  # type: ignore[arg-type]
    [(offsets, written_before)] = consumer.commits
    assert written_before == 1 and store.written[0].handled == ["skipped"]
    assert [(tp.partition, tp.offset) for tp in offsets] == [(0, 5)]
    retrainer._tracker.seen(0, 5)
    retrainer._commit(consumer)  # type: ignore[arg-type]
    assert len(store.written) == 1 and len(consumer.commits) == 2  # nothing new to remember


def test_nothing_is_committed_while_the_state_is_not_acknowledged(tmp_path):
    store = _Store(acknowledge=False)
    retrainer, consumer = _retrainer(tmp_path, store), _Consumer(store)
    retrainer._commit(consumer)  # type: ignore[arg-type]
    assert consumer.commits == []
    store.acknowledge = True
    retrainer._commit(consumer)  # type: ignore[arg-type]
    assert len(consumer.commits) == 1 and len(store.written) == 1
