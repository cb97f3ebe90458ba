"""The consumer against the local RabbitMQ, with Rasa's own PikaEventBroker publishing.

Both the publisher's and the consumer's connections go through loopback proxies the
test cuts mid-stream, several times; every event must still be stored exactly once.
Each test uses its own queue and exchange and deletes them. Without RabbitMQ at
127.0.0.1:5672 the tests skip (under CI=true they fail).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from rasa.core.brokers.pika import PikaEventBroker
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, SlotSet, UserUttered
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError

from bot import clock
from bot.conversations.config import BrokerSettings
from bot.conversations.consumer import Backoff, Consumer
from bot.conversations.keys import from_dict
from bot.conversations.reconcile import reconcile
from bot.conversations.repository import EVENTS, ConversationEvents
from bot.settings import PROJECT_ROOT
from bot.store.db import create_db_engine
from bot.store.tracker import ConversationStore, TrackerEvent
from rasa_ext.brokers import ReliablePikaEventBroker
from tests.conversations.proxy import CuttableProxy
from tests.conversations.rabbit import (
    RABBITMQ_PORT,
    publish_raw,
    queue_depth,
    require_rabbitmq,
    unique_queue,
)
from tests.conversations.rabbit import (
    delete_queue as _delete_queue,
)

pytestmark = [pytest.mark.rabbitmq]

CONVERSATIONS = 40
# Saves per conversation, each adding a turn of five events (user, action, bot, action,
# action_listen): 40 x 10 x 5 = 2,000 events, plus each tracker's first action_listen.
SAVES = 10
# After how many saves each proxy is cut.
PUBLISHER_CUTS = {70, 180, 300}
CONSUMER_CUTS = {120, 240, 360}
# Polls of 0.1 s before giving up on the consumer catching up: 3 minutes, as a
# loaded 2-core machine (another test suite beside it) needed more than one.
MAX_POLLS = 1800
STILL_POLLS = 30


@pytest.fixture(autouse=True)
def _rabbitmq() -> None:
    require_rabbitmq()


@pytest.fixture
def engine(migrated_sqlite_url: str) -> Iterator[Engine]:
    engine = create_db_engine(migrated_sqlite_url)
    yield engine
    engine.dispose()


def turn(number: int) -> list[Any]:
    """One shopper turn's events, as a Rasa server adds them to the tracker."""
    return [
        UserUttered(
            f"message {number}",
            {"name": "ask_price", "confidence": 0.91},
            parse_data={
                "text": f"message {number}",
                "intent": {"name": "ask_price", "confidence": 0.91},
                "entities": [],
            },
        ),
        ActionExecuted("utter_price", policy="RulePolicy", confidence=1.0),
        BotUttered(f"reply {number}", {"elements": None}, {"utter_action": "utter_price"}),
        ActionExecuted("action_listen"),
        SlotSet("requested_slot", None),
    ]


def stored(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(EVENTS)).scalar_one())


def consumer_for(port: int, queue: str, engine: Engine) -> Consumer:
    return Consumer(
        BrokerSettings(port=port, queue=queue),
        ConversationEvents(engine),
        batch_size=100,
        batch_seconds=0.05,
        backoff=Backoff(first=0.05, longest=0.5),
    )


@pytest.mark.parametrize("broker_class", [ReliablePikaEventBroker, PikaEventBroker])
async def test_connections_cut_mid_stream_lose_and_repeat_nothing(
    engine: Engine, tmp_path: Path, broker_class: type[PikaEventBroker]
) -> None:
    """The project's broker (endpoints-cluster.yml) loses nothing; Rasa's needs reconcile."""
    reliable = broker_class is ReliablePikaEventBroker
    async with (
        unique_queue() as names,
        CuttableProxy(RABBITMQ_PORT) as publisher_proxy,
        CuttableProxy(RABBITMQ_PORT) as consumer_proxy,
    ):
        # A URL host keeps its query (PikaEventBroker._configure_url): aio-pika's robust
        # connection reconnects 0.2 s after a cut instead of its default 5 s.
        broker = broker_class(
            f"amqp://127.0.0.1:{publisher_proxy.port}/?reconnect_interval=0.2",
            "guest",
            "guest",
            port=publisher_proxy.port,
            queues=[names.queue],
            exchange_name=names.exchange,
            event_loop=asyncio.get_running_loop(),
            connection_attempts=10,
            retry_delay_in_seconds=0.2,
        )
        await broker.connect()
        tracker_url = f"sqlite:///{tmp_path / 'tracker.db'}"
        tracker_store = SQLTrackerStore(
            Domain.empty(), db=str(tmp_path / "tracker.db"), event_broker=broker
        )
        consumer = consumer_for(consumer_proxy.port, names.queue, engine)
        stop = asyncio.Event()
        running = asyncio.create_task(consumer.run(stop))
        saves = 0
        try:
            for number in range(SAVES):
                for conversation in range(CONVERSATIONS):
                    # What a Rasa server does per turn: new events, then save(), which
                    # publishes them (stream_events) and then commits them.
                    tracker = await tracker_store.get_or_create_tracker(f"shopper-{conversation}")
                    for event in turn(number):
                        tracker.update(event)
                    await tracker_store.save(tracker)
                    # SQLTrackerStore's calls never wait (sqlite3 is synchronous): let the
                    # broker's publish tasks and the consumer run between turns.
                    await asyncio.sleep(0.002)
                    saves += 1
                    if saves in PUBLISHER_CUTS:
                        publisher_proxy.cut()
                    if saves in CONSUMER_CUTS:
                        consumer_proxy.cut()
            expected = _tracker_events(tracker_url)
            # Publishes aio-pika never finishes after a cut stay in _background_tasks
            # (their task waits for the lock of the channel the cut closed); the wait
            # ends when everything else is stored and nothing moved for STILL_POLLS.
            progress, still = (-1, -1), 0
            for _ in range(MAX_POLLS):
                await asyncio.sleep(0.1)
                now_at = (stored(engine), len(broker._background_tasks))
                still = still + 1 if now_at == progress else 0
                progress = now_at
                if reliable:
                    # Every publish ends confirmed: wait for all of them.
                    if now_at == (len(expected), 0):
                        break
                    continue
                settled = not broker._unpublished_events and sum(now_at) >= len(expected)
                if settled and (now_at[1] == 0 or still >= STILL_POLLS):
                    break
        finally:
            stop.set()
            stats = await running
            hung = _held_events(broker)
            for task in list(broker._background_tasks):
                task.cancel()
            await broker.close()
        left_in_queue = await queue_depth(names.queue)
        store = ConversationEvents(engine)
        in_tracker = {_key(row.sender_id, json.loads(row.data)) for row in expected}
        consumed = set(store.keys_between(0, time.time() + 60))
        # What reached RabbitMQ is stored once (the key is unique); nothing is left in the
        # queue or unacknowledged; every event missing is one Rasa's publish still holds.
        assert consumed <= in_tracker
        if reliable:
            # Through the broker alone: every event stored, none held.
            assert consumed == in_tracker
            assert hung == set()
            assert broker.retried >= 1
        assert in_tracker - consumed <= hung
        assert left_in_queue == 0
        assert stats.stored == len(consumed)
        assert stats.received == stats.stored + stats.duplicates
        assert stats.broker_reconnects >= len(CONSUMER_CUTS)

        # Publishes Rasa holds forever are in the tracker store: reconcile fills them.
        store = ConversationEvents(engine)
        filled = reconcile(
            ConversationStore(tracker_url),
            store,
            0,
            time.time() + 60,
            now=clock.now(),
            settle_seconds=0,
        )
    assert (filled.filled, filled.orphaned) == (len(in_tracker - consumed), 0)
    assert stored(engine) == len(expected) == CONVERSATIONS * (SAVES * 5 + 1)
    for conversation in range(CONVERSATIONS):
        sender = f"shopper-{conversation}"
        in_tracker = [json.loads(row.data) for row in expected if row.sender_id == sender]
        got = [json.loads(row["data"]) for row in store.conversation(sender)]
        assert got == in_tracker, sender
        rollup = store.rollup(sender)
        assert rollup is not None
        assert (rollup["events"], rollup["user_messages"], rollup["bot_messages"]) == (
            SAVES * 5 + 1,
            SAVES,
            SAVES,
        )


def _key(sender_id: str, event: dict[str, Any]) -> str:
    return from_dict(event, sender_id=sender_id).dedup_key


def _held_events(broker: PikaEventBroker) -> set[str]:
    """Keys of the events whose publish task has not finished.

    aio-pika 8.2.3 / aiormq 6.4.2: a publish in flight or started while the connection
    is lost waits for the lock of the channel the loss closed, and that wait never ends;
    the event neither reaches RabbitMQ nor goes to _unpublished_events to be re-sent.
    """
    keys = set()
    for task in broker._background_tasks:
        frame = task.get_coro().cr_frame
        if frame is not None:
            event = frame.f_locals["event"]
            keys.add(_key(event["sender_id"], event))
    return keys


def _tracker_events(url: str) -> list[TrackerEvent]:
    tracker = ConversationStore(url)
    try:
        return list(tracker.events_between(0, time.time() + 60))
    finally:
        tracker.dispose()


async def test_a_poison_message_is_parked_and_the_consumer_goes_on(engine: Engine) -> None:
    good = {"sender_id": "shopper-1", **UserUttered("hello", timestamp=time.time()).as_dict()}
    poison = [
        b"\xff\xfe not even text",
        b"[1, 2, 3]",
        json.dumps({"event": "user", "timestamp": 1.0}).encode(),
        json.dumps({"sender_id": "s", "event": "user", "timestamp": "yesterday"}).encode(),
    ]
    async with unique_queue() as names:
        consumer = consumer_for(RABBITMQ_PORT, names.queue, engine)
        stop = asyncio.Event()
        running = asyncio.create_task(consumer.run(stop))
        try:
            await publish_raw(names.queue, [*poison, json.dumps(good).encode()])
            for _ in range(MAX_POLLS):
                if consumer.stats.received >= len(poison) + 1:
                    break
                await asyncio.sleep(0.1)
            still_running = not running.done()
            # A second good event after the poison is stored too.
            later = {**good, "timestamp": good["timestamp"] + 1}
            await publish_raw(names.queue, [json.dumps(later).encode()])
            for _ in range(MAX_POLLS):
                if consumer.stats.received >= len(poison) + 2:
                    break
                await asyncio.sleep(0.1)
        finally:
            stop.set()
            stats = await running
        left_in_queue = await queue_depth(names.queue)

    counts = ConversationEvents(engine).counts()
    assert still_running
    assert (counts["events"], counts["dead_letters"]) == (2, len(poison))
    assert (stats.parked, stats.stored) == (len(poison), 2)
    assert left_in_queue == 0
    with engine.connect() as connection:
        reasons = connection.execute(
            select(func.count()).where(EVENTS.c.sender_id == "shopper-1")
        ).scalar_one()
    assert reasons == 2


class _Unavailable:
    """A lead store that is down: every write fails as an unreachable database does."""

    def __init__(self) -> None:
        self.attempts = 0

    def write(self, *_: Any, **__: Any) -> Any:
        self.attempts += 1
        raise OperationalError("INSERT", {}, ConnectionError("could not connect to server"))


async def test_a_database_outage_acknowledges_nothing_and_a_restart_stores_everything(
    engine: Engine,
) -> None:
    bodies = [
        json.dumps({"sender_id": "shopper-1", **UserUttered(f"m{n}").as_dict()}).encode()
        for n in range(30)
    ]
    async with unique_queue() as names:
        await publish_raw(names.queue, bodies)
        down = _Unavailable()
        consumer = Consumer(
            BrokerSettings(queue=names.queue),
            down,  # type: ignore[arg-type]
            batch_size=100,
            batch_seconds=0.05,
            backoff=Backoff(first=0.01, longest=0.05),
        )
        stop = asyncio.Event()
        running = asyncio.create_task(consumer.run(stop))
        for _ in range(MAX_POLLS):
            if down.attempts >= 3:
                break
            await asyncio.sleep(0.05)
        stop.set()
        await running
        # Stopped during the outage: every message is back in the queue.
        back_in_queue = await queue_depth(names.queue)

        consumer = consumer_for(RABBITMQ_PORT, names.queue, engine)
        stop = asyncio.Event()
        running = asyncio.create_task(consumer.run(stop))
        for _ in range(MAX_POLLS):
            if consumer.stats.received >= len(bodies):
                break
            await asyncio.sleep(0.05)
        stop.set()
        stats = await running
        left = await queue_depth(names.queue)

    assert down.attempts >= 3
    assert back_in_queue == len(bodies)
    assert (stats.stored, left) == (len(bodies), 0)
    assert stored(engine) == len(bodies)


def test_the_command_consumes_until_sigterm_and_exits_0(migrated_sqlite_url: str) -> None:
    engine = create_db_engine(migrated_sqlite_url)
    queue = f"test_events_{uuid.uuid4().hex}"
    bodies = [
        json.dumps({"sender_id": "shopper-9", **BotUttered(f"reply {n}").as_dict()}).encode()
        for n in range(20)
    ]
    environment = {
        **os.environ,
        "DATABASE_URL": migrated_sqlite_url,
        "RABBITMQ_QUEUE": queue,
        "RABBITMQ_HOST": "127.0.0.1",
        "RABBITMQ_PORT": str(RABBITMQ_PORT),
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", "events", "consume", "--batch-ms", "20"],
        cwd=PROJECT_ROOT,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        asyncio.run(publish_raw(queue, bodies))
        for _ in range(MAX_POLLS):
            if stored(engine) >= len(bodies) or process.poll() is not None:
                break
            time.sleep(0.1)
        process.send_signal(signal.SIGTERM)
        _, errors = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        asyncio.run(_delete_queue(queue))
        count = stored(engine)
        engine.dispose()

    assert process.returncode == 0, errors
    assert count == len(bodies)
    assert "stopped: received 20" in errors
    assert "stored 20" in errors
