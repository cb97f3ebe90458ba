"""Rasa's SQL tracker store on PostgreSQL, as the cluster runs it; what the lead store reads.

``rasa.core.tracker_store.SQLTrackerStore(dialect="postgresql", host=..., port=...,
db=..., username=...)`` on a scratch database (it creates its ``events`` table when
opened). What this relies on in Rasa 3.6.21's source (``rasa/core/tracker_store.py``):

- ``retrieve`` reads the sender's events from the latest ``SessionStarted`` on (by
  timestamp), ordered by row id; ``retrieve_full_tracker`` reads every session;
  without a domain, or without rows, both return ``None``.
- ``save`` appends the tracker's events past as many as the latest session holds in
  the table: two servers saving one conversation without a lock would each append
  what they made from the same old state. Rasa serialises a conversation's turns with
  its lock store (``LockStore.lock`` around every message in ``Agent.handle_message``);
  here each "server" holds its own :class:`rasa_ext.lock_store.AtomicRedisLockStore`
  on one Redis, as the cluster's Rasa servers do.

``bot.store.tracker.ConversationStore`` then reads (data exports) and erases (erasure)
what Rasa wrote, across sessions.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
import redis
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import (
    ActionExecuted,
    BotUttered,
    Event,
    SessionStarted,
    SlotSet,
    UserUttered,
)
from rasa.shared.core.trackers import DialogueStateTracker
from sqlalchemy.engine import make_url

from bot.store.tracker import ConversationStore
from rasa_ext.lock_store import AtomicRedisLockStore

START = 1_780_000_000.0  # a Unix time; every event one second after the one before
LONG = 200
TURNS = 20
DOMAIN = Domain.from_dict({"slots": {"email": {"type": "text", "mappings": [{"type": "custom"}]}}})


def tracker_store(url: str) -> SQLTrackerStore:
    """A tracker store on ``url`` configured as endpoints.yml configures one: by parts."""
    parts = make_url(url)
    return SQLTrackerStore(
        DOMAIN,
        dialect="postgresql",
        host=parts.host,
        port=parts.port,
        db=parts.database,
        username=parts.username,
        password=parts.password,
    )


@pytest.fixture
def stores(postgres_url: str) -> Iterator[list[SQLTrackerStore]]:
    """Two tracker stores on one scratch database, as two Rasa servers hold them."""
    opened = [tracker_store(postgres_url), tracker_store(postgres_url)]
    yield opened
    for store in opened:
        store.engine.dispose()


@pytest.fixture
def conversations(postgres_url: str) -> Iterator[ConversationStore]:
    store = ConversationStore(postgres_url)
    yield store
    store.dispose()


def session_start(at: float) -> list[Event]:
    return [
        ActionExecuted("action_session_start", timestamp=at),
        SessionStarted(timestamp=at + 1),
        ActionExecuted("action_listen", timestamp=at + 2),
    ]


def chat(count: int, at: float, label: str) -> list[Event]:
    """``count`` events: shopper message, bot answer, listen, and so on."""
    events: list[Event] = []
    for n in range(count):
        kind = n % 3
        if kind == 0:
            events.append(
                UserUttered(
                    f"{label} message {n}",
                    intent={"name": "inform", "confidence": 0.9},
                    timestamp=at + n,
                )
            )
        elif kind == 1:
            events.append(BotUttered(f"{label} answer {n}", timestamp=at + n))
        else:
            events.append(ActionExecuted("action_listen", timestamp=at + n))
    return events


def as_dicts(events: Any) -> list[dict[str, Any]]:
    return [event.as_dict() for event in events]


async def test_a_200_event_conversation_and_a_new_session_round_trip(
    stores: list[SQLTrackerStore], conversations: ConversationStore
) -> None:
    first, second = stores
    sender = f"shopper-{uuid.uuid4().hex[:8]}"
    opening = [*session_start(START), SlotSet("email", "ada@example.com", timestamp=START + 3)]
    events = [*opening, *chat(LONG - len(opening), START + 4, "first")]
    assert len(events) == LONG
    await first.save(DialogueStateTracker.from_events(sender, events, DOMAIN.slots))

    stored = await second.retrieve(sender)
    assert stored is not None
    assert as_dicts(stored.events) == as_dicts(events[1:])  # from SessionStarted on
    assert stored.get_slot("email") == "ada@example.com"
    full = await second.retrieve_full_tracker(sender)
    assert full is not None and as_dicts(full.events) == as_dicts(events)

    # The shopper comes back: a new session; Rasa reads only it, and appends to it.
    later = START + 10_000
    restart = [*session_start(later), *chat(6, later + 3, "second")]
    stored.update_with_events(restart, DOMAIN, override_timestamp=False)
    await second.save(stored)
    latest = await first.retrieve(sender)
    assert latest is not None
    assert as_dicts(latest.events) == as_dicts(restart[1:])
    assert latest.get_slot("email") is None  # a new session starts with empty slots
    full = await first.retrieve_full_tracker(sender)
    assert full is not None and len(full.events) == LONG + len(restart)
    # Saving the latest session again adds nothing.
    await first.save(latest)
    full = await first.retrieve_full_tracker(sender)
    assert full is not None and len(full.events) == LONG + len(restart)

    # The lead store reads both sessions' messages, oldest first, and erases them all.
    said = conversations.conversation([sender])
    spoken = [e for e in events + restart if isinstance(e, (UserUttered, BotUttered))]
    assert [turn["text"] for turn in said] == [e.text for e in spoken]
    assert [turn["speaker"] for turn in said] == [
        "shopper" if isinstance(e, UserUttered) else "bot" for e in spoken
    ]
    window = list(conversations.events_between(START, later + 100, page=50))
    assert len(window) == LONG + len(restart)
    assert [row.id for row in window] == sorted(row.id for row in window)
    assert conversations.erase([sender]) == LONG + len(restart)
    assert conversations.conversation([sender]) == []
    assert await first.retrieve_full_tracker(sender) is None


@pytest.fixture
def lock_prefix(redis_url: str) -> Iterator[str]:
    """An alphanumeric key prefix of this test's own (the lock store's rule)."""
    prefix = f"test{uuid.uuid4().hex}"
    yield prefix
    client = redis.Redis.from_url(redis_url)
    try:
        leftovers = list(client.scan_iter(match=f"{prefix}:*")) + list(
            client.scan_iter(match=f"{prefix}:atomiclock-counter")
        )
        if leftovers:
            client.delete(*leftovers)
    finally:
        client.close()


@pytest.fixture
async def locks(redis_url: str, lock_prefix: str) -> AsyncIterator[list[AtomicRedisLockStore]]:
    parts = make_url(redis_url)
    opened = [
        AtomicRedisLockStore(
            host=parts.host,
            port=parts.port,
            db=int(parts.database or 0),
            key_prefix=lock_prefix,
            poll_seconds=0.005,
        )
        for _ in range(2)
    ]
    yield opened
    for lock_store in opened:
        lock_store.red.close()


@pytest.mark.redis
async def test_two_servers_saving_one_conversation_take_turns_through_the_lock_store(
    stores: list[SQLTrackerStore],
    locks: list[AtomicRedisLockStore],
    conversations: ConversationStore,
) -> None:
    sender = f"shopper-{uuid.uuid4().hex[:8]}"
    await stores[0].save(
        DialogueStateTracker.from_events(sender, session_start(START), DOMAIN.slots)
    )
    clock = iter(range(1, 10 * TURNS))

    async def turn(n: int) -> None:
        server = n % 2
        async with locks[server].lock(sender):
            tracker = await stores[server].retrieve(sender)
            assert tracker is not None
            seen = sum(isinstance(event, UserUttered) for event in tracker.events)
            # The action server's call: the other server's turn would run meanwhile.
            await asyncio.sleep(0.01)
            at = START + 100 + next(clock)
            tracker.update(UserUttered(f"message {n}", timestamp=at))
            tracker.update(BotUttered(f"after {seen} messages", timestamp=at + 0.5))
            await stores[server].save(tracker)

    await asyncio.gather(*(turn(n) for n in range(TURNS)))

    full = await stores[1].retrieve_full_tracker(sender)
    assert full is not None
    answers = [event.text for event in full.events if isinstance(event, BotUttered)]
    # Each turn saw every turn before it: one after the other, none lost or doubled.
    assert answers == [f"after {n} messages" for n in range(TURNS)]
    messages = sorted(e.text for e in full.events if isinstance(e, UserUttered))
    assert messages == sorted(f"message {n}" for n in range(TURNS))
    assert len(conversations.conversation([sender])) == 2 * TURNS
