"""The local RabbitMQ for tests: availability, a unique queue and exchange, cleanup."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import aio_pika
import pytest

RABBITMQ_HOST = "127.0.0.1"
RABBITMQ_PORT = 5672
RABBITMQ_URL = f"amqp://guest:guest@{RABBITMQ_HOST}:{RABBITMQ_PORT}/"


def require_rabbitmq() -> None:
    """Skip (fail under CI=true) unless RabbitMQ listens on 127.0.0.1:5672."""
    try:
        socket.create_connection((RABBITMQ_HOST, RABBITMQ_PORT), timeout=2).close()
    except OSError as error:
        message = f"RabbitMQ is not reachable at {RABBITMQ_HOST}:{RABBITMQ_PORT}: {error}"
        if os.environ.get("CI"):
            pytest.fail(f"{message} (required in CI)")
        pytest.skip(message)


@dataclass(frozen=True)
class Names:
    queue: str
    exchange: str


@asynccontextmanager
async def unique_queue() -> AsyncIterator[Names]:
    """A queue and exchange name of this test alone, both deleted afterwards."""
    token = uuid.uuid4().hex
    names = Names(queue=f"test_events_{token}", exchange=f"test_exchange_{token}")
    try:
        yield names
    finally:
        connection = await aio_pika.connect(RABBITMQ_URL, timeout=10)
        async with connection:
            channel = await connection.channel()
            await channel.queue_delete(names.queue)
            await channel.exchange_delete(names.exchange)


async def delete_queue(queue: str) -> None:
    """Delete ``queue`` (and the messages it still holds)."""
    connection = await aio_pika.connect(RABBITMQ_URL, timeout=10)
    async with connection:
        channel = await connection.channel()
        await channel.queue_delete(queue)


async def publish_raw(queue: str, bodies: list[bytes]) -> None:
    """Put ``bodies`` straight into ``queue`` (the default exchange), persistent.

    The queue is declared first: the default exchange drops a message to a queue
    that does not exist yet.
    """
    connection = await aio_pika.connect(RABBITMQ_URL, timeout=10)
    async with connection:
        channel = await connection.channel()
        await channel.declare_queue(queue, durable=True)
        for body in bodies:
            await channel.default_exchange.publish(
                aio_pika.Message(body, delivery_mode=aio_pika.DeliveryMode.PERSISTENT), queue
            )


async def queue_depth(queue: str) -> int:
    """Messages ready in ``queue`` (not counting unacknowledged ones)."""
    connection = await aio_pika.connect(RABBITMQ_URL, timeout=10)
    async with connection:
        channel = await connection.channel()
        declared = await channel.declare_queue(queue, durable=True, passive=True)
        return int(declared.declaration_result.message_count or 0)
