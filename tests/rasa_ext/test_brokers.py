"""The event broker's publishes end confirmed: a hanging or failing attempt is sent again."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from rasa_ext.brokers import ReliablePikaEventBroker


class Exchange:
    """Hangs on the first publish (a dead channel's lock), fails the second, takes the third."""

    def __init__(self) -> None:
        self.attempts = 0
        self.published: list[Any] = []

    async def publish(self, message: Any, routing_key: str) -> None:
        self.attempts += 1
        if self.attempts == 1:
            await asyncio.Event().wait()
        if self.attempts == 2:
            raise ConnectionResetError("connection reset by peer")
        self.published.append(message)


async def test_a_hanging_then_failing_publish_is_sent_again_until_confirmed() -> None:
    broker = ReliablePikaEventBroker(
        "127.0.0.1", "guest", "guest", queues=["q"], publish_timeout_seconds=0.05
    )
    exchange = Exchange()
    broker._exchange = exchange  # type: ignore[assignment]

    await asyncio.wait_for(broker._publish({"event": "user", "sender_id": "s"}), timeout=10)

    assert exchange.attempts == 3
    assert len(exchange.published) == 1
    assert broker.retried == 2


@pytest.mark.parametrize("value", ["0", "-1", 0])
def test_a_timeout_that_is_not_above_zero_is_refused(value: Any) -> None:
    with pytest.raises(ValueError, match="publish_timeout_seconds"):
        ReliablePikaEventBroker("127.0.0.1", queues=["q"], publish_timeout_seconds=value)


@pytest.mark.rabbitmq
async def test_a_reconnect_aio_pika_gave_up_on_is_started_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """aio-pika 8.2.3 ends its reconnect when restoring a channel fails with a plain error.

    The connection then stays down for good and every publish fails; the broker
    notices that no reconnect is under way and starts one, and the event arrives.
    """
    import aio_pika
    from aio_pika.robust_channel import RobustChannel

    from tests.conversations.proxy import CuttableProxy
    from tests.conversations.rabbit import (
        RABBITMQ_PORT,
        RABBITMQ_URL,
        require_rabbitmq,
        unique_queue,
    )

    require_rabbitmq()
    restore = RobustChannel.restore
    failures = []

    async def restore_failing_once(self: RobustChannel, connection: Any) -> None:
        if not failures:
            failures.append(connection)
            raise Exception  # what aiormq raised from queue_bind in a cut-connection run
        await restore(self, connection)

    async with unique_queue() as names, CuttableProxy(RABBITMQ_PORT) as proxy:
        broker = ReliablePikaEventBroker(
            f"amqp://127.0.0.1:{proxy.port}/?reconnect_interval=0.2",
            "guest",
            "guest",
            port=proxy.port,
            queues=[names.queue],
            exchange_name=names.exchange,
            event_loop=asyncio.get_running_loop(),
            publish_timeout_seconds=1,
        )
        await broker.connect()
        try:
            monkeypatch.setattr(RobustChannel, "restore", restore_failing_once)
            proxy.cut()
            # aio-pika's own reconnect (0.2 s after the cut) fails on the channel and stops.
            for _ in range(100):
                if failures and not broker._connection.reconnecting:
                    break
                await asyncio.sleep(0.05)
            assert failures, "aio-pika did not try to restore the channel"
            broker.publish({"event": "user", "sender_id": "shopper", "text": "hello"})
            connection = await aio_pika.connect(RABBITMQ_URL, timeout=10)
            async with connection:
                channel = await connection.channel()
                queue = await channel.declare_queue(names.queue, durable=True)
                message = None
                for _ in range(300):  # 30 s at most
                    message = await queue.get(fail=False)
                    if message is not None:
                        break
                    await asyncio.sleep(0.1)
                assert message is not None, "the event never reached RabbitMQ"
                await message.ack()
            assert b'"shopper"' in message.body
            assert broker.revived >= 1
        finally:
            await broker.close()
