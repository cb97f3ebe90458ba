"""The outbox worker: delivers due notifications, fires timers, escalates overdue handoffs.

It runs inside the web app (one asyncio task). Up to ``concurrency`` deliveries
are in flight at once; as soon as one finishes, the most urgent due message
takes its place, so a new "immediate" handoff never waits behind a backlog of
"same day" ones. Results are recorded in batches, one transaction each.

Several web apps on one PostgreSQL lead store each run a worker: they lease
different messages, timers and overdue handoffs (``FOR UPDATE SKIP LOCKED``), so
each message is sent, each timer fired and each handoff escalated once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Protocol

import aiohttp
from sqlalchemy.engine import Engine
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

import bot.clock
from bot.handoff.channels import Outcome, deliver
from bot.handoff.config import HandoffConfig
from bot.handoff.outbox import Attempted, Claimed, OutboxStore
from bot.handoff.planner import HandoffPlanner
from bot.store.db import write_transaction

logger = logging.getLogger(__name__)

POLL_SECONDS = 0.2
# The database is down, unreachable or busy (a deadlock or lock timeout included).
UNAVAILABLE_ERRORS = (OperationalError, InterfaceError, PoolTimeoutError)
DUTIES_SECONDS = 1.0


class OutboxExtension(Protocol):
    """Another kind of outbox message (follow-ups to shoppers): its periodic duties and sender.

    ``duties`` runs off the event loop, in the worker's duty round, and says
    whether it queued messages; ``deliver`` makes one attempt at a message of a
    kind ``handles`` accepts (the outbox records it, retries and dead-letters as
    for notifications).
    """

    def handles(self, kind: str) -> bool:
        """Whether messages of ``kind`` are this extension's."""

    def duties(self, now: datetime) -> bool:
        """Periodic work (queueing due messages); whether anything was queued."""

    async def deliver(
        self, message: Claimed, session: aiohttp.ClientSession, timeout: float, now: datetime
    ) -> Outcome:
        """One attempt at delivering ``message``."""

    async def close(self) -> None:
        """Release what the sender holds open (connections), when the worker stops."""


class OutboxWorker:
    """Delivers the outbox until stopped."""

    def __init__(
        self,
        engine: Engine,
        config: HandoffConfig,
        planner: HandoffPlanner | None = None,
        *,
        clock: Callable[[], datetime] = bot.clock.now,
        extensions: Sequence[OutboxExtension] = (),
    ) -> None:
        self.engine = engine
        self.config = config
        self.planner = planner
        self.extensions = tuple(extensions)
        self.store = OutboxStore(engine, config.delivery)
        self.clock = clock
        self._wake = asyncio.Event()
        self._results: list[Attempted] = []
        self.delivered = 0

    def wake(self) -> None:
        """Look for due messages now (a handoff was just committed in this process)."""
        self._wake.set()

    async def run(self) -> None:
        """Deliver until cancelled (in-flight attempts are then left to their lease)."""
        inflight: set[asyncio.Task[None]] = set()
        last_duties = 0.0
        # Duties run beside the deliveries: claiming and sending go on meanwhile.
        duties: asyncio.Task[None] | None = None
        async with aiohttp.ClientSession() as session:
            try:
                while True:
                    # Cleared before the work: a delivery finishing meanwhile sets it again.
                    self._wake.clear()
                    if (
                        time.monotonic() - last_duties >= DUTIES_SECONDS
                        and self._has_duties
                        and (duties is None or duties.done())
                    ):
                        last_duties = time.monotonic()
                        duties = asyncio.create_task(self._guarded(self._duties))
                    free = max(0, self.config.delivery.concurrency - len(inflight))
                    results = self._take_results()
                    if free or results:
                        claimed = await self._record_or_keep(results, free)
                        disabled = (
                            await self._guarded(self.store.disabled_channels) if claimed else {}
                        ) or {}
                        for message in claimed:
                            task = asyncio.create_task(self._attempt(session, message, disabled))
                            inflight.add(task)
                            task.add_done_callback(inflight.discard)
                    await self._sleep_until_woken()
            finally:
                for task in inflight:
                    task.cancel()
                if duties is not None:
                    # Its thread cannot be stopped: let it end before the store is closed.
                    with contextlib.suppress(Exception, asyncio.CancelledError):
                        await duties
                with contextlib.suppress(Exception):
                    await asyncio.to_thread(self._record, self._take_results())
                await self._close_extensions()

    async def _sleep_until_woken(self) -> None:
        """Wait for :meth:`wake` or the poll interval.

        Not ``asyncio.wait_for``: on Python 3.10 it can swallow a cancellation that
        arrives as the event fires, and the worker would then never stop.
        """
        waiter = asyncio.ensure_future(self._wake.wait())
        try:
            await asyncio.wait({waiter}, timeout=POLL_SECONDS)
        finally:
            waiter.cancel()

    async def run_until_idle(self, timeout: float = 30.0) -> int:
        """Deliver until nothing is due (tests, CLI); returns deliveries made."""
        deadline = time.monotonic() + timeout
        before = self.delivered
        async with aiohttp.ClientSession() as session:
            try:
                while time.monotonic() < deadline:
                    if self._has_duties:
                        await asyncio.to_thread(self._duties)
                    claimed = await asyncio.to_thread(
                        self.store.claim, self.config.delivery.concurrency, self.clock()
                    )
                    if not claimed:
                        break
                    disabled = await asyncio.to_thread(self.store.disabled_channels)
                    await asyncio.gather(*(self._attempt(session, m, disabled) for m in claimed))
                    await asyncio.to_thread(self._record, self._take_results())
            finally:
                await self._close_extensions()
        return self.delivered - before

    async def _close_extensions(self) -> None:
        for extension in self.extensions:
            try:
                await extension.close()
            except Exception:
                logger.exception("outbox worker: closing %r failed", extension)

    async def _guarded(self, func, *args):  # type: ignore[no-untyped-def]
        """Run a database call off the loop; an outage is logged and retried next round."""
        try:
            return await asyncio.to_thread(func, *args)
        except Exception:
            logger.exception("outbox worker: %s failed; retrying shortly", func.__name__)
            await asyncio.sleep(1.0)
            return None

    async def _record_or_keep(self, results: list[Attempted], limit: int) -> list[Claimed]:
        """Record ``results`` and claim up to ``limit`` messages; keep the results on an outage.

        Kept results are recorded next round: dropped, a delivered message would be
        claimed and sent again once its lease ran out. Results the database refuses
        (their message was erased meanwhile) are dropped, so they cannot block the
        worker.
        """
        try:
            return await asyncio.to_thread(self._record_and_claim, results, limit)
        except UNAVAILABLE_ERRORS:
            logger.warning(
                "outbox worker: the lead store is unavailable; %d result(s) kept for the "
                "next round",
                len(results),
                exc_info=True,
            )
            self._results[:0] = results
        except Exception:
            logger.exception("outbox worker: recording %d result(s) failed", len(results))
        await asyncio.sleep(1.0)
        return []

    def _take_results(self) -> list[Attempted]:
        results, self._results = self._results, []
        return results

    def _record(self, results: list[Attempted]) -> None:
        """Store attempt results (at shutdown; results lost then are retried after the lease)."""
        self._record_and_claim(results, 0)

    def _record_and_claim(self, results: list[Attempted], limit: int) -> list[Claimed]:
        """Store finished attempts and lease up to ``limit`` more, in one transaction."""
        claimed = self.store.record_and_claim(results, limit, self.clock())
        self._count(results)
        return claimed

    def _count(self, results: list[Attempted]) -> None:
        for result in results:
            if result.outcome.delivered:
                self.delivered += 1
            else:
                logger.warning(
                    "delivery %s to %s failed (attempt %d): %s",
                    result.message.message_id,
                    result.message.channel,
                    result.message.attempts + 1,
                    result.outcome.error,
                )

    @property
    def _has_duties(self) -> bool:
        return self.planner is not None or bool(self.extensions)

    def _duties(self) -> None:
        now = self.clock()
        if self.planner is not None:
            with write_transaction(self.engine) as connection:
                fired = self.planner.fire_due_timers(connection, now)
                escalated = self.planner.escalate_overdue(connection, now)
            if fired.handoffs or escalated.handoffs:
                self._wake.set()
        for extension in self.extensions:
            if extension.duties(now):
                self._wake.set()

    async def _attempt(
        self, session: aiohttp.ClientSession, message: Claimed, disabled: dict[str, str]
    ) -> None:
        now = self.clock()
        extension = next((e for e in self.extensions if e.handles(message.kind)), None)
        if extension is not None:
            await self._attempt_with(extension, session, message, now)
            return
        channel = self.config.channels.get(message.channel)
        if channel is None or message.channel in disabled:
            reason = (
                f"channel {message.channel!r} is disabled: {disabled[message.channel]}"
                if channel is not None
                else f"channel {message.channel!r} is no longer configured"
            )
            await self._guarded(self.store.dead_letter, message, reason, now)
            return
        started = time.monotonic()
        try:
            outcome = await deliver(
                channel,
                self.config.smtp,
                message.message_id,
                message.payload,
                session,
                self.config.delivery.timeout_seconds,
                now,
            )
        except Exception as exc:  # a bug in a sender must not stop the worker
            logger.exception("delivering %s failed unexpectedly", message.message_id)
            outcome = Outcome(False, error=f"{type(exc).__name__}: {exc}"[:500])
        self._results.append(
            Attempted(message, outcome, now, int((time.monotonic() - started) * 1000))
        )
        self._wake.set()

    async def _attempt_with(
        self,
        extension: OutboxExtension,
        session: aiohttp.ClientSession,
        message: Claimed,
        now: datetime,
    ) -> None:
        started = time.monotonic()
        try:
            outcome = await extension.deliver(
                message, session, self.config.delivery.timeout_seconds, now
            )
        except Exception as exc:  # a bug in a sender must not stop the worker
            logger.exception("delivering %s failed unexpectedly", message.message_id)
            outcome = Outcome(False, error=f"{type(exc).__name__}: {exc}"[:500])
        self._results.append(
            Attempted(message, outcome, now, int((time.monotonic() - started) * 1000))
        )
        self._wake.set()
