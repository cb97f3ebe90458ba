"""A started cluster profile on its own scratch databases, RabbitMQ queue and Redis keys.

Shared by the cluster tests (``tests/cluster``) and the load benchmark
(``python -m bench load``): each run gets its own PostgreSQL databases (lead store
and tracker store), a queue and Redis prefixes of its own, all removed afterwards.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from bench.databases import scratch_database
from bot.devstack import ClusterStack
from bot.settings import PROJECT_ROOT

RABBITMQ_URL = "amqp://guest:guest@127.0.0.1:5672/"
REDIS_HOST = "127.0.0.1"
REDIS_PORT = 6379
# endpoints-cluster.yml's lock store database, as the cluster profile sets it.
REDIS_LOCK_DB = 1


@contextlib.contextmanager
def scratch_cluster(
    base: Path,
    admin_url: str,
    model: Path,
    name: str,
    *,
    environ: Mapping[str, str] | None = None,
    **options: Any,
) -> Iterator[ClusterStack]:
    """A started :class:`ClusterStack` named ``name``; ``options`` go to its constructor."""
    tag = uuid.uuid4().hex[:10]
    queue = f"{name}_{tag}"
    # The lock store wants letters and digits only.
    lock_prefix = "".join(char for char in f"{name}{tag}" if char.isalnum())
    settings = {
        "RABBITMQ_QUEUE": queue,
        "REDIS_LOCK_PREFIX": lock_prefix,
        "RATE_LIMIT_PREFIX": f"{name}:{tag}:",
        **(environ or {}),
    }
    with (
        scratch_database("postgres", admin_url, f"{name}_leads") as leads_url,
        scratch_database("postgres", admin_url, f"{name}_tracker") as tracker_url,
    ):
        stack = ClusterStack(
            PROJECT_ROOT,
            base,
            model=model,
            database_url=leads_url,
            tracker_store_url=tracker_url,
            environ=settings,
            **options,
        )
        try:
            with stack:
                yield stack
        finally:
            delete_queue(queue)
            delete_keys(lock_prefix)


def delete_queue(name: str) -> None:
    """Delete RabbitMQ queue ``name`` if it exists (cleanup: errors are ignored)."""
    import aio_pika

    async def delete() -> None:
        connection = await aio_pika.connect(RABBITMQ_URL, timeout=5)
        async with connection:
            channel = await connection.channel()
            await channel.queue_delete(name)

    with contextlib.suppress(Exception):
        asyncio.run(delete())


def delete_keys(prefix: str) -> None:
    """Delete the lock store's Redis keys starting with ``prefix``."""
    import redis

    client = redis.Redis(host=REDIS_HOST, port=REDIS_PORT, db=REDIS_LOCK_DB, socket_timeout=5)
    try:
        for key in client.scan_iter(f"{prefix}*", count=500):
            client.delete(key)
    finally:
        client.close()
