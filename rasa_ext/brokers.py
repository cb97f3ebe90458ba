"""Rasa's RabbitMQ event broker, with publishes that end: sent, or tried again until sent.

For the cluster profile (``endpoints-cluster.yml``)::

    event_broker:
      type: rasa_ext.brokers.ReliablePikaEventBroker
      url: ${RABBITMQ_HOST}
      publish_timeout_seconds: 10

What this relies on in Rasa 3.6.21 (``rasa/core/brokers/pika.py``) and the pinned
aio-pika 8.2.3 / aiormq 6.4.2:

- ``PikaEventBroker.publish`` starts ``_publish`` as a task per event. ``_publish``
  awaits ``exchange.publish`` (publisher confirms on: aio-pika's channel default) and,
  if that raises, keeps the event in ``_unpublished_events``, which is sent again
  only from the robust connection's reconnect callback.
- A publish in flight when the TCP connection is reset, or started while the
  connection is being restored, waits for the lock of the channel that died, and
  that wait never ends: the event reaches neither RabbitMQ nor
  ``_unpublished_events``. With connections cut mid-stream about half of the
  events were lost that way.
- ``from_endpoint_config`` builds ``cls(url, **kwargs)`` from the endpoint's keys,
  so a ``type:`` naming this class gets ``publish_timeout_seconds`` as a keyword.
- The robust connection restores its channels and the exchange object, so a
  publish on the same exchange after the reconnect goes through.
- aio-pika's robust reconnect can give up for good: ``RobustConnection.connect``
  retries only ``CONNECTION_EXCEPTIONS``, and when restoring a channel fails with
  anything else (seen: a bare ``Exception`` from ``queue_bind`` while publishes were
  in flight, logged as "Failed to reopen channel") the error ends the reconnect
  task. The connection then stays open but not connected, no reconnect is
  scheduled, and every publish fails with ``ChannelInvalidStateError`` forever.

Here each attempt has a time limit; an attempt that fails or runs out is tried
again on the same exchange after a back-off (0.2 s doubling to 10 s) until it is
confirmed, in the same task. A failed attempt that finds the connection down with
no reconnect under way for longer than aio-pika's own wait before reconnecting
starts the reconnect again (one at a time). An attempt that timed out may still have reached
RabbitMQ, so an event can arrive twice: events carry no id, and the consumer
(``python -m bot events consume``) stores each once by a key computed from the
event. Events waiting to be sent live in this process's memory, as in Rasa; one
killed in the meantime loses them, and ``python -m bot events reconcile`` fills
them from the tracker store.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from rasa.core.brokers.pika import PikaEventBroker

logger = logging.getLogger(__name__)

DEFAULT_PUBLISH_TIMEOUT_SECONDS = 10.0
FIRST_RETRY_SECONDS = 0.2
LONGEST_RETRY_SECONDS = 10.0
# How much longer than the connection's reconnect_interval it may stay down with no
# reconnect under way before it counts as given up (aio-pika sleeps reconnect_interval
# after a close before it takes its reconnect lock).
GIVEN_UP_MARGIN_SECONDS = 1.0


class ReliablePikaEventBroker(PikaEventBroker):
    """``PikaEventBroker`` whose every publish is confirmed by RabbitMQ in the end."""

    def __init__(
        self,
        *args: Any,
        publish_timeout_seconds: float | str = DEFAULT_PUBLISH_TIMEOUT_SECONDS,
        **kwargs: Any,
    ) -> None:
        """Rasa's arguments, plus how long one attempt to publish may take (seconds)."""
        timeout = float(publish_timeout_seconds)
        if timeout <= 0:
            raise ValueError(f"event_broker publish_timeout_seconds must be above 0: {timeout}")
        super().__init__(*args, **kwargs)
        self.publish_timeout_seconds = timeout
        self.retried = 0
        self.revived = 0
        self._down_since: float | None = None
        self._reviving: asyncio.Task[None] | None = None

    async def _publish(self, event: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        if self._exchange is None:
            # As Rasa's: no exchange before connect() has run.
            return
        delay = FIRST_RETRY_SECONDS
        while True:
            try:
                await asyncio.wait_for(
                    self._exchange.publish(self._message(event, headers), ""),
                    self.publish_timeout_seconds,
                )
                return
            except asyncio.CancelledError:
                raise
            except Exception as error:
                self.retried += 1
                logger.warning(
                    "event not confirmed by RabbitMQ (%s); sending it again in %.1f s",
                    type(error).__name__,
                    delay,
                )
                self._revive_if_given_up()
            await asyncio.sleep(delay)
            delay = min(delay * 2, LONGEST_RETRY_SECONDS)

    def _revive_if_given_up(self) -> None:
        """Start the robust connection's reconnect again when aio-pika has given up on it."""
        connection = self._connection
        if connection is None or connection.is_closed:
            return
        if connection.connected.is_set() or connection.reconnecting:
            self._down_since = None
            return
        if self._reviving is not None and not self._reviving.done():
            return
        now = time.monotonic()
        if self._down_since is None:
            self._down_since = now
            return
        waited = float(getattr(connection, "reconnect_interval", 5.0)) + GIVEN_UP_MARGIN_SECONDS
        if now - self._down_since < waited:
            return
        self._down_since = None
        self.revived += 1
        logger.warning("RabbitMQ connection down with no reconnect under way; reconnecting")
        self._reviving = asyncio.create_task(self._revive(connection))

    async def _revive(self, connection: Any) -> None:
        try:
            # RobustConnection.reconnect: connect (restoring channels, the exchange and
            # its queue bindings), then the reconnect callbacks (Rasa re-sends its
            # _unpublished_events there).
            await connection.reconnect()
        except Exception as error:  # the next failed publish tries again
            logger.warning("reconnecting to RabbitMQ failed (%s: %s)", type(error).__name__, error)
