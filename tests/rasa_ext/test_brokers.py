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
