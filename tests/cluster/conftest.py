"""A cluster (``python -m bot cluster``) on free ports, with its own databases, queue and keys.

The cluster tests need PostgreSQL, Redis, RabbitMQ, HAProxy and the trained model;
they carry the ``e2e``, ``postgres``, ``redis`` and ``rabbitmq`` markers.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from bench.databases import scratch_database
from bot.devstack import ClusterStack
from bot.settings import PROJECT_ROOT

MODEL = PROJECT_ROOT / "models" / "current.tar.gz"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/cluster/" in str(item.fspath).replace("\\", "/"):
            for marker in ("e2e", "postgres", "redis", "rabbitmq"):
                item.add_marker(getattr(pytest.mark, marker))


def cluster_stack(
    base: Path, admin_url: str, name: str, **options: object
) -> Iterator[ClusterStack]:
    """A started cluster whose databases, Redis keys and queue are this test's, removed after."""
    if not MODEL.exists():
        pytest.fail(f"no trained model at {MODEL}: run `make train` first")
    tag = uuid.uuid4().hex[:10]
    queue = f"test_{name}_{tag}"
    environ = {
        "RABBITMQ_QUEUE": queue,
        "REDIS_LOCK_PREFIX": f"test{name}{tag}".replace("_", ""),
        "RATE_LIMIT_PREFIX": f"test:{name}:{tag}:",
        **{key: str(value) for key, value in dict(options.pop("environ", {}) or {}).items()},
    }
    with (
        scratch_database("postgres", admin_url, f"cluster_{name}_leads") as leads_url,
        scratch_database("postgres", admin_url, f"cluster_{name}_tracker") as tracker_url,
    ):
        stack = ClusterStack(
            PROJECT_ROOT,
            base,
            model=MODEL,
            database_url=leads_url,
            tracker_store_url=tracker_url,
            environ=environ,
            **options,  # type: ignore[arg-type]
        )
        try:
            with stack:
                yield stack
        finally:
            _delete_queue(queue)
            _delete_keys(environ["REDIS_LOCK_PREFIX"])


def _delete_queue(name: str) -> None:
    import asyncio

    import aio_pika

    async def delete() -> None:
        connection = await aio_pika.connect("amqp://guest:guest@127.0.0.1:5672/", timeout=5)
        async with connection:
            channel = await connection.channel()
            await channel.queue_delete(name)

    # Cleanup only: the queue may never have been made.
    with contextlib.suppress(Exception):
        asyncio.run(delete())


def _delete_keys(prefix: str) -> None:
    client = redis.Redis(host="127.0.0.1", port=6379, db=1, socket_timeout=5)
    try:
        for key in client.scan_iter(f"{prefix}*", count=500):
            client.delete(key)
    finally:
        client.close()


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
