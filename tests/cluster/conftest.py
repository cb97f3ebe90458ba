"""A cluster (``python -m bot cluster``) on free ports, with its own databases, queue and keys.

The cluster tests need PostgreSQL, Redis, RabbitMQ, HAProxy and the trained model;
they carry the ``e2e``, ``postgres``, ``redis`` and ``rabbitmq`` markers.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bench.clusters import scratch_cluster
from bot.devstack import ClusterStack
from bot.settings import PROJECT_ROOT

MODEL = PROJECT_ROOT / "models" / "current.tar.gz"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/cluster/" in str(item.fspath).replace("\\", "/"):
            for marker in ("e2e", "postgres", "redis", "rabbitmq"):
                item.add_marker(getattr(pytest.mark, marker))


def cluster_stack(base: Path, admin_url: str, name: str, **options: Any) -> Iterator[ClusterStack]:
    """A started cluster whose databases, Redis keys and queue are this test's, removed after."""
    if not MODEL.exists():
        pytest.fail(f"no trained model at {MODEL}: run `make train` first")
    with scratch_cluster(base, admin_url, MODEL, f"test_{name}", **options) as stack:
        yield stack


@pytest.fixture(scope="module")
def cluster(
    tmp_path_factory: pytest.TempPathFactory, postgres_admin_url: str
) -> Iterator[ClusterStack]:
    """Two Rasa servers, one action server, one web app, the consumer, behind HAProxy.

    Started as the README says, ``make run-cluster``, with nothing in the environment
    but ``PATH``, ``HOME`` and the documented variables (ports, PostgreSQL URLs, the
    queue and key prefixes).
    """
    yield from cluster_stack(
        tmp_path_factory.mktemp("cluster"),
        postgres_admin_url,
        "main",
        rasa_replicas=2,
        command=["make", "--no-print-directory", "run-cluster"],
    )
