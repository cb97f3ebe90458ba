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

Here each attempt has a time limit; an attempt that fails or runs out is tried
again on the same exchange after a back-off (0.2 s doubling to 10 s) until it is
confirmed, in the same task. An attempt that timed out may still have reached
RabbitMQ, so an event can arrive twice: events carry no id, and the consumer
(``python -m bot events consume``) stores each once by a key computed from the
event. Events waiting to be sent live in this process's memory, as in Rasa; one
killed in the meantime loses them, and ``python -m bot events reconcile`` fills
them from the tracker store.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from rasa.core.brokers.pika import PikaEventBroker

logger = logging.getLogger(__name__)

DEFAULT_PUBLISH_TIMEOUT_SECONDS = 10.0
FIRST_RETRY_SECONDS = 0.2
LONGEST_RETRY_SECONDS = 10.0


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
            await asyncio.sleep(delay)
            delay = min(delay * 2, LONGEST_RETRY_SECONDS)
