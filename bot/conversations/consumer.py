"""The consumer: Rasa's events from the RabbitMQ queue into ``conversation_events``, once each.

Messages are taken with manual acknowledgements and a bounded prefetch, parsed,
and written in batches (up to ``batch_size`` messages, or what arrived within
``batch_seconds`` of a batch's first message) in one transaction; the batch is
acknowledged only after that commit. Whatever happens before the
acknowledgement (a lost broker connection, a database outage, the process
killed), RabbitMQ still holds the messages and delivers them again, and the
deduplication key makes the second delivery a no-op.

A message that is not a Rasa event is written to ``conversation_dead_letters``
in the same transaction and acknowledged with its batch: it is never retried.
A lost broker connection or an unavailable database is retried after a bounded,
growing pause (``Backoff``) until the process is told to stop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aio_pika
from aio_pika.abc import AbstractIncomingMessage
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from bot import clock
from bot.conversations.config import BrokerSettings
from bot.conversations.keys import ConversationEvent, NotAnEvent, from_body
from bot.conversations.repository import ConversationEvents, DeadLetter, WriteResult

log = logging.getLogger(__name__)

# Whatever says the database is unreachable or busy (retried), as opposed to a row it refuses.
DATABASE_OUTAGES: tuple[type[Exception], ...] = (OperationalError, PoolTimeoutError)


class BrokerLost(ConnectionError):
    """The broker connection or channel closed under the consumer."""


# aio-pika's own list of what a lost connection raises (aio_pika.exceptions), with
# asyncio's timeout (not the built-in TimeoutError before Python 3.11).
BROKER_FAILURES: tuple[type[BaseException], ...] = (
    BrokerLost,
    *aio_pika.exceptions.CONNECTION_EXCEPTIONS,
    asyncio.TimeoutError,
)
# Seconds to wait for the broker to answer a connect, a declare or a QoS call.
BROKER_TIMEOUT = 10.0
STATS_EVERY_SECONDS = 10.0


@dataclass(frozen=True)
class Backoff:
    """Pauses between attempts: ``first`` seconds, doubling, at most ``longest``."""

    first: float = 0.2
    longest: float = 30.0

    def delay(self, attempt: int) -> float:
        """The pause before retry number ``attempt`` (0 for the first retry)."""
        return min(self.longest, self.first * (2 ** min(attempt, 30)))


@dataclass
class ConsumerStats:
    """Counts since the consumer started."""

    received: int = 0
    redelivered: int = 0
    stored: int = 0
    duplicates: int = 0
    parked: int = 0
    batches: int = 0
    broker_reconnects: int = 0
    database_retries: int = 0

    def line(self) -> str:
        """The counts as one log line."""
        return (
            f"received {self.received} (redelivered {self.redelivered}), stored {self.stored}, "
            f"duplicates {self.duplicates}, parked {self.parked}, batches {self.batches}, "
            f"broker reconnects {self.broker_reconnects}, database retries "
            f"{self.database_retries}"
        )


def parse(message: AbstractIncomingMessage) -> ConversationEvent | DeadLetter:
    """The event a message carries, or the dead letter it becomes."""
    try:
        return from_body(message.body)
    except NotAnEvent as exc:
        return DeadLetter(reason=str(exc), body=message.body)


class Consumer:
    """Consume ``settings.queue`` into ``store`` until :meth:`run`'s ``stop`` is set."""

    def __init__(
        self,
        settings: BrokerSettings,
        store: ConversationEvents,
        *,
        batch_size: int = 200,
        batch_seconds: float = 0.1,
        prefetch: int | None = None,
        backoff: Backoff | None = None,
        url: Callable[[], str] | None = None,
    ) -> None:
        if batch_size < 1 or batch_seconds <= 0:
            raise ValueError("batch_size must be at least 1 and batch_seconds above 0")
        self.settings = settings
        self.store = store
        self.batch_size = batch_size
        self.batch_seconds = batch_seconds
        # Two batches in flight keep the next batch arriving while one is written.
        self.prefetch = prefetch or 2 * batch_size
        if self.prefetch < batch_size:
            raise ValueError("prefetch must be at least batch_size")
        self.backoff = backoff or Backoff()
        self._url = url or settings.url
        self.stats = ConsumerStats()

    async def run(self, stop: asyncio.Event) -> ConsumerStats:
        """Consume until ``stop`` is set; reconnect after every broker or database failure."""
        attempt = 0
        reporter = asyncio.create_task(self._report(stop))
        try:
            while not stop.is_set():
                try:
                    await self._session(stop)
                    attempt = 0
                except BROKER_FAILURES as exc:
                    self.stats.broker_reconnects += 1
                    delay = self.backoff.delay(attempt)
                    attempt += 1
                    log.warning(
                        "event broker unavailable (%s: %s); reconnecting in %.1f s",
                        type(exc).__name__,
                        exc,
                        delay,
                    )
                    await _sleep_unless(stop, delay)
        finally:
            reporter.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reporter
            log.info("conversation events consumer stopped: %s", self.stats.line())
        return self.stats

    async def _report(self, stop: asyncio.Event) -> None:
        last = ""
        while not stop.is_set():
            await _sleep_unless(stop, STATS_EVERY_SECONDS)
            line = self.stats.line()
            if line != last:
                log.info("conversation events: %s", line)
                last = line

    async def _session(self, stop: asyncio.Event) -> None:
        """One broker connection: consume until ``stop``, or raise :class:`BrokerLost`."""
        connection = await aio_pika.connect(self._url(), timeout=BROKER_TIMEOUT)
        lost = asyncio.Event()
        try:
            connection.close_callbacks.add(lambda *_: lost.set())
            channel = await asyncio.wait_for(connection.channel(), BROKER_TIMEOUT)
            channel.close_callbacks.add(lambda *_: lost.set())
            await asyncio.wait_for(channel.set_qos(prefetch_count=self.prefetch), BROKER_TIMEOUT)
            # Declared as Rasa's PikaEventBroker._bind_queue declares it (durable, no
            # arguments): a declare with other options fails with PRECONDITION_FAILED.
            queue = await asyncio.wait_for(
                channel.declare_queue(self.settings.queue, durable=True), BROKER_TIMEOUT
            )
            inbox: asyncio.Queue[AbstractIncomingMessage] = asyncio.Queue()
            await asyncio.wait_for(queue.consume(inbox.put, no_ack=False), BROKER_TIMEOUT)
            log.info("consuming %r (prefetch %d)", self.settings.queue, self.prefetch)
            acks = _Acks()
            while not stop.is_set():
                batch = await self._collect(inbox, stop, lost)
                if lost.is_set():
                    raise BrokerLost("connection closed")
                if batch:
                    await self._handle(batch, acks, stop, lost)
        finally:
            # Unacknowledged messages (prefetched or mid-write) go back to the queue.
            with contextlib.suppress(Exception):
                await asyncio.wait_for(connection.close(), BROKER_TIMEOUT)

    async def _collect(
        self,
        inbox: asyncio.Queue[AbstractIncomingMessage],
        stop: asyncio.Event,
        lost: asyncio.Event,
    ) -> list[AbstractIncomingMessage]:
        """The next batch: wait for a first message, then take more for ``batch_seconds``."""
        first = await _first_of(inbox.get(), stop, lost)
        if first is None:
            return []
        batch = [first]
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.batch_seconds
        while len(batch) < self.batch_size and not (stop.is_set() or lost.is_set()):
            try:
                batch.append(inbox.get_nowait())
                continue
            except asyncio.QueueEmpty:
                pass
            left = deadline - loop.time()
            if left <= 0:
                break
            try:
                batch.append(await asyncio.wait_for(inbox.get(), left))
            except asyncio.TimeoutError:
                break
        return batch

    async def _handle(
        self,
        batch: list[AbstractIncomingMessage],
        acks: _Acks,
        stop: asyncio.Event,
        lost: asyncio.Event,
    ) -> None:
        """Write ``batch`` (retrying a database outage), then acknowledge it."""
        self.stats.received += len(batch)
        self.stats.redelivered += sum(1 for message in batch if message.redelivered)
        parsed = [parse(message) for message in batch]
        attempt = 0
        while True:
            try:
                result = await asyncio.to_thread(self._write, parsed)
                break
            except DATABASE_OUTAGES as exc:
                self.stats.database_retries += 1
                delay = self.backoff.delay(attempt)
                attempt += 1
                log.warning(
                    "lead store unavailable (%s); %d messages unacknowledged, retrying in %.1f s",
                    type(exc).__name__,
                    len(batch),
                    delay,
                )
                await _sleep_unless(stop, delay)
                if stop.is_set() or lost.is_set():
                    # Not acknowledged: RabbitMQ delivers them again.
                    raise BrokerLost("stopped while the lead store was unavailable") from exc
        self.stats.batches += 1
        self.stats.stored += result.stored
        self.stats.duplicates += result.duplicates
        self.stats.parked += result.parked
        await acks.ack(batch)

    def _write(self, parsed: list[ConversationEvent | DeadLetter]) -> WriteResult:
        events = [item for item in parsed if isinstance(item, ConversationEvent)]
        dead = [item for item in parsed if isinstance(item, DeadLetter)]
        try:
            return self.store.write(events, dead, now=clock.now())
        except DATABASE_OUTAGES:
            raise
        except DBAPIError:
            # A row the database refuses (not an outage): write one event at a time and
            # park the ones refused again, so one bad event never blocks the queue.
            log.exception("a batch was refused; writing its events one at a time")
        total = WriteResult(parked=len(dead))
        if dead:
            self.store.write([], dead, now=clock.now())
        for event in events:
            try:
                one = self.store.write([event], now=clock.now())
            except DATABASE_OUTAGES:
                raise
            except DBAPIError as exc:
                body = event.data.encode()
                reason = f"refused by the lead store: {type(exc.orig).__name__}: {exc.orig}"
                self.store.write([], [DeadLetter(reason=reason, body=body)], now=clock.now())
                total.parked += 1
                continue
            total.stored += one.stored
            total.duplicates += one.duplicates
        return total


class _Acks:
    """Acknowledgements of one channel.

    ``through`` is the highest delivery tag up to which every message is
    acknowledged; a batch whose tags continue it exactly is acknowledged with one
    ``multiple`` ack, any other message on its own (a ``multiple`` ack would also
    take messages still being written).
    """

    def __init__(self) -> None:
        self.through = 0
        self._above: set[int] = set()

    async def ack(self, batch: list[AbstractIncomingMessage]) -> None:
        tags = sorted(message.delivery_tag or 0 for message in batch)
        try:
            if tags == list(range(self.through + 1, self.through + 1 + len(tags))):
                await max(batch, key=lambda m: m.delivery_tag or 0).ack(multiple=True)
            else:
                for message in batch:
                    await message.ack()
        except Exception as exc:
            # Stored but not acknowledged: the redelivery will be a duplicate.
            raise BrokerLost(f"acknowledgement failed: {exc}") from exc
        self._above.update(tags)
        while self.through + 1 in self._above:
            self.through += 1
            self._above.discard(self.through)


async def _first_of(
    getter: Any, stop: asyncio.Event, lost: asyncio.Event
) -> AbstractIncomingMessage | None:
    """What ``getter`` returns, or ``None`` if ``stop`` or ``lost`` is set first."""
    get = asyncio.ensure_future(getter)
    stopped = asyncio.ensure_future(stop.wait())
    broken = asyncio.ensure_future(lost.wait())
    try:
        await asyncio.wait({get, stopped, broken}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (stopped, broken):
            task.cancel()
        if not get.done():
            get.cancel()
    if get.done() and not get.cancelled():
        result: AbstractIncomingMessage = get.result()
        return result
    return None


async def _sleep_unless(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(asyncio.TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
