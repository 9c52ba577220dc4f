"""/ready tells the truth about the background threads and the producer: a dead thread makes
it fail (saying which) until the supervisor has started the thread again; a fatal producer
error fails /health too, since only a restart of the process mends it."""

from __future__ import annotations

from fastapi.testclient import TestClient

from driftline.settings import KafkaSettings
from scorer.app import create_app
from scorer.service import Scorer
from scorer.settings import ScorerSettings
from tests.scorer.test_api_fuzz import _served


class FakeThread:
    """A background service whose thread can die and be started again."""

    def __init__(self) -> None:
        self.running = True
        self.started = True
        self.restarts = 0

    def alive(self) -> bool:
        return self.running

    def restart(self) -> None:
        self.restarts += 1
        self.running = True


def _scorer(tmp_path) -> tuple[Scorer, FakeThread, FakeThread]:
    scorer = Scorer(ScorerSettings(home=tmp_path,
                                   kafka=KafkaSettings(bootstrap_servers="127.0.0.1:1")))
    follower, stream = FakeThread(), FakeThread()
    scorer.follower = follower  # type: ignore[assignment]
    scorer.stream = stream  # type: ignore[assignment]
    scorer.store._current = _served(scorer.settings.max_batch_rows)
    scorer.publisher._reachable = True  # the probe would say so with a broker

    async def start() -> None:  # no broker, no registry; the supervisor is driven by hand
        pass

    async def stop() -> None:
        pass

    scorer.start, scorer.stop = start, stop  # type: ignore[method-assign]
    return scorer, follower, stream


def test_a_dead_background_thread_fails_ready_until_it_is_started_again(tmp_path):
    scorer, follower, stream = _scorer(tmp_path)
    with TestClient(create_app(scorer=scorer)) as client:
        assert client.get("/ready").status_code == 200
        stream.running = False
        answer = client.get("/ready")
        assert answer.status_code == 503
        assert answer.json()["problems"] == ["the transactions scorer stopped (restarting it)"]
        assert client.get("/health").status_code == 200  # a restart of the thread mends it
        scorer.supervise_once()
        assert stream.restarts == 1 and follower.restarts == 0
        assert client.get("/ready").status_code == 200
        follower.running = False
        assert "model-updates follower" in client.get("/ready").json()["problems"][0]
        scorer.supervise_once()
        assert client.get("/ready").json()["problems"] == []
    restarts = {s.labels["thread"]: s.value for m in scorer.metrics.thread_restarts.collect()
                for s in m.samples if s.name.endswith("_total")}
    assert restarts == {"model-updates": 1.0, "stream": 1.0}


def test_a_fatal_producer_error_fails_ready_and_health(tmp_path):
    scorer, _, _ = _scorer(tmp_path)
    with TestClient(create_app(scorer=scorer)) as client:
        scorer.publisher.fatal_error = "Broker: Out of order sequence number"
        ready, health = client.get("/ready"), client.get("/health")
    assert ready.status_code == 503 and health.status_code == 503
    assert "must be restarted" in ready.json()["problems"][0]
    assert health.json()["status"] == "restart"
