"""Proof: Rasa's stock RedisLockStore loses messages where the project's lock store does not.

The same drive as ``test_cluster_turns`` (two Rasa servers serving each
conversation at once), against a cluster whose endpoints name Rasa's own
``type: redis`` lock store.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bot.devstack import ClusterStack
from bot.settings import PROJECT_ROOT
from tests.cluster.conftest import cluster_stack
from tests.cluster.turns import drive, tracker_problems

CONVERSATIONS = 50
MESSAGES = 20
CONTROL = ("Hi! I'm interested in your products", "next week", "the black hoodie in XL")


@pytest.fixture(scope="module")
def stock_lock_cluster(
    tmp_path_factory: pytest.TempPathFactory, postgres_admin_url: str
) -> Iterator[ClusterStack]:
    """Two Rasa servers and an action server whose lock store is Rasa's own RedisLockStore."""
    base = tmp_path_factory.mktemp("stock")
    endpoints = (PROJECT_ROOT / "endpoints-cluster.yml").read_text(encoding="utf-8")
    assert "type: rasa_ext.lock_store.AtomicRedisLockStore" in endpoints
    stock = base / "endpoints-stock.yml"
    # Rasa's store takes no lease (its tickets live TICKET_LOCK_LIFETIME).
    lines = [line for line in endpoints.splitlines() if "lease_seconds" not in line]
    stock.write_text(
        "\n".join(lines).replace("type: rasa_ext.lock_store.AtomicRedisLockStore", "type: redis"),
        encoding="utf-8",
    )
    # No HAProxy, web app or consumer: the Rasa servers call the action server straight.
    yield from cluster_stack(
        base,
        postgres_admin_url,
        "stock",
        rasa_replicas=2,
        roles="rasa,actions",
        environ={"CLUSTER_ENDPOINTS": str(stock)},
    )


def test_the_same_drive_goes_wrong_with_rasas_stock_lock_store(
    stock_lock_cluster: ClusterStack,
) -> None:
    # One message at a time, the same servers work: what goes wrong below is the lock.
    control = {"stock-control": list(CONTROL)}
    for message in CONTROL:
        assert stock_lock_cluster.chat("stock-control", message, replica=1)
    tracker_url = stock_lock_cluster.env["TRACKER_STORE_URL"]
    assert tracker_problems(tracker_url, control) == []
    urls = [stock_lock_cluster.replica_url(1), stock_lock_cluster.replica_url(2)]

    outcome = drive(
        urls, CONVERSATIONS, MESSAGES, prefix="stock", timeout=15.0, stop_on_problem=True
    )
    stored = tracker_problems(tracker_url, outcome.sent)

    # Messages dropped (answered 200 with no reply), turns stalled, or stored wrong.
    assert outcome.problems or stored
    assert not [problem for problem in outcome.problems if "HTTP" in problem]
