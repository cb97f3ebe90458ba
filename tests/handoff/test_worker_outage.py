"""The outbox worker keeps delivery results it could not record, so nothing is sent twice.

A delivered message whose result is lost would stay leased, then be claimed again
(by this web app's worker or another's) once its lease ran out: the receiver would
hear it twice. The worker runs for real here (``OutboxWorker.run``) against a
loopback receiver, on SQLite and PostgreSQL, with an injected clock that jumps past
the lease; the store fails once when asked to record.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from aiohttp import web
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, OperationalError

from bot.handoff.config import Channel, Delivery, HandoffConfig, load_handoff_config
from bot.handoff.outbox import Attempted, Claimed
from bot.handoff.planner import HandoffPlanner
from bot.handoff.worker import OutboxWorker
from bot.leads import LeadService
from bot.leads.commands import RecordEvent
from bot.scoring import scorer_for
from bot.settings import Settings
from tests.handoff import HANDOFF_CONFIG
from tests.scoring import SCORING_CONFIG

SECRET = "whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYX"
WAIT_SECONDS = 20.0


class Clock:
    """Starts now and moves only when told."""

    def __init__(self) -> None:
        self.now = datetime.now(timezone.utc).replace(microsecond=0)

    def __call__(self) -> datetime:
        return self.now


class Receiver:
    """A loopback webhook endpoint counting the ``webhook-id`` of every request."""

    def __init__(self) -> None:
        self.ids: list[str] = []
        self.runner: web.AppRunner | None = None
        self.port = 0

    async def handle(self, request: web.Request) -> web.Response:
        self.ids.append(request.headers["webhook-id"])
        return web.Response(text="ok")

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/hooks", self.handle)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", 0).start()
        self.port = self.runner.addresses[0][1]


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    receiver = Receiver()
    await receiver.start()
    yield receiver
    assert receiver.runner is not None
    await receiver.runner.cleanup()


def config_for(receiver: Receiver) -> HandoffConfig:
    config = load_handoff_config(HANDOFF_CONFIG, environ={}).with_channel(
        Channel("hook", "webhook", url=f"http://127.0.0.1:{receiver.port}/hooks", secrets=(SECRET,))
    )
    return replace(
        config,
        delivery=Delivery(timeout_seconds=2, retry_schedule=(0, 5), jitter=0, concurrency=4),
    )


def queue(engine: Engine, config: HandoffConfig, clock: Clock) -> None:
    """One shopper asking for a person: one handoff, one message to the hook."""
    planner = HandoffPlanner(config, public_url="http://shop.test", signing_key=b"k" * 32)
    service = LeadService(engine, scorer_for(Settings(scoring_config_path=SCORING_CONFIG)), planner)
    session = f"shopper-{uuid.uuid4().hex[:8]}"
    service.apply(
        [
            RecordEvent(
                session_id=session, event_id=f"{session}-h", type="human_requested", ts=clock.now
            )
        ],
        now=clock.now,
    )


async def until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


class FailingOnce:
    """Wraps ``record_and_claim``: raises ``error`` the first time it has results to record."""

    def __init__(self, worker: OutboxWorker, error: Exception) -> None:
        self.original = worker.store.record_and_claim
        self.error: Exception | None = error
        self.rounds_at: list[datetime] = []
        worker.store.record_and_claim = self  # type: ignore[method-assign]

    def __call__(self, results: list[Attempted], limit: int, now: datetime) -> list[Claimed]:
        self.rounds_at.append(now)
        if results and self.error is not None:
            error, self.error = self.error, None
            raise error
        return self.original(results, limit, now)


def statuses(worker: OutboxWorker) -> list[tuple[str, list[Any]]]:
    return [
        (m["status"], [(e["attempt"], e["outcome"]) for e in m["log"]])
        for m in worker.store.messages()
    ]


async def test_results_the_store_could_not_take_are_recorded_next_round(
    engine: Engine, receiver: Receiver
) -> None:
    clock = Clock()
    config = config_for(receiver)
    queue(engine, config, clock)
    worker = OutboxWorker(engine, config, clock=clock)
    store = FailingOnce(worker, OperationalError("UPDATE outbox", {}, Exception("server closed")))
    task = asyncio.create_task(worker.run())
    try:
        await until(lambda: worker.delivered == 1, "the delivery to be recorded")
        # Long past the lease: a message still pending would be claimed and sent again.
        clock.now += timedelta(hours=1)
        later = clock.now
        worker.wake()
        await until(lambda: any(at >= later for at in store.rounds_at), "a round after the lease")
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert store.error is None  # it did fail once
    assert len(receiver.ids) == 1
    assert statuses(worker) == [("delivered", [(1, "delivered")])]


async def test_results_the_store_refuses_are_dropped_and_the_worker_goes_on(
    engine: Engine, receiver: Receiver
) -> None:
    clock = Clock()
    config = config_for(receiver)
    queue(engine, config, clock)
    worker = OutboxWorker(engine, config, clock=clock)
    refused = IntegrityError("INSERT INTO delivery_attempts", {}, Exception("foreign key"))
    store = FailingOnce(worker, refused)
    task = asyncio.create_task(worker.run())
    try:
        await until(lambda: store.error is None, "the refused recording")
        queue(engine, config, clock)
        worker.wake()
        await until(lambda: worker.delivered == 1, "the next message's delivery to be recorded")
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert len(set(receiver.ids)) == 2
    # The refused result is lost: its message waits for its lease, then goes again.
    assert sorted(status for status, _ in statuses(worker)) == ["delivered", "pending"]
