"""The tracker cache hands out what Rasa's SQL tracker store reads, and stores the same rows.

Every step of each scripted conversation is checked against Rasa's own
``SQLTrackerStore._retrieve`` (unchanged by the cache), and the rows against a
second database written by Rasa's own ``retrieve``/``save``.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import (
    ActionExecuted,
    ActionReverted,
    ActiveLoop,
    AllSlotsReset,
    BotUttered,
    ConversationPaused,
    ConversationResumed,
    Event,
    FollowupAction,
    Restarted,
    SessionStarted,
    SlotSet,
    UserUtteranceReverted,
    UserUttered,
)
from rasa.shared.core.trackers import DialogueStateTracker, EventVerbosity
from sqlalchemy import create_engine, text

from bot.settings import PROJECT_ROOT
from rasa_ext import tracker_cache

Step = Callable[[DialogueStateTracker], list[Event]]


@pytest.fixture(scope="module", autouse=True)
def installed() -> None:
    tracker_cache.install()


@pytest.fixture(scope="module")
def domain() -> Domain:
    return Domain.load(str(PROJECT_ROOT / "domain.yml"))


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def tracker_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'tracker.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


def new_store(domain: Domain, url: str) -> SQLTrackerStore:
    return SQLTrackerStore(domain, host=url)


class Clock:
    """Event timestamps a quarter of a second apart."""

    def __init__(self) -> None:
        self.now = 1_760_000_000.0

    def __call__(self) -> float:
        self.now += 0.25
        return self.now


def user(clock: Clock, message: str, intent: str, **extra: Any) -> UserUttered:
    ranking = [{"name": intent, "confidence": 0.91}, {"name": "out_of_scope", "confidence": 0.05}]
    return UserUttered(
        message,
        {"name": intent, "confidence": 0.91},
        parse_data={
            "intent": {"name": intent, "confidence": 0.91},
            "intent_ranking": ranking,
            "entities": [],
            "text": message,
            "metadata": extra,
        },
        timestamp=clock(),
        message_id=f"m{clock.now}",
        metadata=extra,
    )


def session_start(clock: Clock, tracker: DialogueStateTracker) -> list[Event]:
    # What Rasa's ActionSessionStart logs, carrying the slots over.
    carried = [
        SlotSet(name, slot.value, timestamp=clock())
        for name, slot in tracker.slots.items()
        if slot.has_been_set
    ]
    return [
        ActionExecuted("action_session_start", timestamp=clock()),
        SessionStarted(timestamp=clock()),
        *carried,
        ActionExecuted("action_listen", timestamp=clock()),
    ]


def answer_turn(clock: Clock, message: str, slot: str, value: Any) -> Step:
    def step(_: DialogueStateTracker) -> list[Event]:
        return [
            user(clock, message, "inform", product_id="hoodie"),
            ActionExecuted(
                "qualification_form", policy="RulePolicy", confidence=1.0, timestamp=clock()
            ),
            SlotSet(slot, value, timestamp=clock()),
            ActiveLoop("qualification_form", timestamp=clock()),
            BotUttered(
                "Next question?",
                {"buttons": [{"title": "a", "payload": "a"}]},
                timestamp=clock(),
            ),
            SlotSet("requested_slot", "budget", timestamp=clock()),
            ActionExecuted("action_listen", timestamp=clock()),
        ]

    return step


def bare_turn(clock: Clock) -> Step:
    def step(_: DialogueStateTracker) -> list[Event]:
        return [
            user(clock, "are you a bot?", "bot_challenge"),
            ActionExecuted("utter_iamabot", policy="RulePolicy", confidence=1.0, timestamp=clock()),
            BotUttered("I'm a virtual assistant.", timestamp=clock()),
            ActionExecuted("action_listen", timestamp=clock()),
        ]

    return step


def opening(clock: Clock) -> Step:
    def step(tracker: DialogueStateTracker) -> list[Event]:
        return [*session_start(clock, tracker), *bare_turn(clock)(tracker)]

    return step


def new_session(clock: Clock) -> Step:
    def step(tracker: DialogueStateTracker) -> list[Event]:
        clock.now += 3600
        return [*session_start(clock, tracker), *bare_turn(clock)(tracker)]

    return step


def fixed(*events: Callable[[Clock], Event], clock: Clock) -> Step:
    def step(_: DialogueStateTracker) -> list[Event]:
        return [make(clock) for make in events]

    return step


def conversation(clock: Clock) -> list[Step]:
    """A qualification with interruptions, rewinds, a restart and a new session."""
    return [
        opening(clock),
        answer_turn(clock, "next month", "timeline", {"raw": "next month", "value": {"days": 30}}),
        bare_turn(clock),
        fixed(
            lambda c: user(c, "uh", "nlu_fallback"),
            lambda c: ActionExecuted("action_default_fallback", timestamp=c()),
            lambda c: UserUtteranceReverted(timestamp=c()),
            clock=clock,
        ),
        answer_turn(clock, "Lyon", "location", {"raw": "Lyon", "value": {"country": "FR"}}),
        fixed(
            lambda c: user(c, "stop", "stop"),
            lambda c: ActionExecuted("action_opt_out", timestamp=c()),
            lambda c: ActionReverted(timestamp=c()),
            lambda c: FollowupAction("action_listen", timestamp=c()),
            lambda c: ActiveLoop(None, timestamp=c()),
            lambda c: ConversationPaused(timestamp=c()),
            lambda c: ConversationResumed(timestamp=c()),
            lambda c: ActionExecuted("action_listen", timestamp=c()),
            clock=clock,
        ),
        answer_turn(clock, "300 bucks", "budget", {"raw": "300", "value": {"amount": 300}}),
        new_session(clock),
        answer_turn(clock, "blue M", "variant", {"raw": "blue M", "value": "hoodie-blue-m"}),
        fixed(
            lambda c: user(c, "/restart", "restart"),
            lambda c: ActionExecuted("action_restart", timestamp=c()),
            lambda c: Restarted(timestamp=c()),
            lambda c: ActionExecuted("action_session_start", timestamp=c()),
            lambda c: SessionStarted(timestamp=c()),
            lambda c: ActionExecuted("action_listen", timestamp=c()),
            clock=clock,
        ),
        bare_turn(clock),
        fixed(
            lambda c: user(c, "reset", "deny"),
            lambda c: AllSlotsReset(timestamp=c()),
            lambda c: ActionExecuted("action_listen", timestamp=c()),
            clock=clock,
        ),
        answer_turn(clock, "soon", "timeline", {"raw": "soon", "value": {"days": 7}}),
    ]


def _latest(tracker: DialogueStateTracker, event: Event | None) -> dict[str, Any] | None:
    if event is None:
        return None
    data: dict[str, Any] = event.as_dict()
    if not any(logged is event for logged in tracker.events):
        # UserUttered.empty()/BotUttered.empty(), stamped with the time of the replay.
        data.pop("timestamp")
    return data


def snapshot(tracker: DialogueStateTracker | None) -> Any:
    """Everything a turn can read from a tracker, as plain data."""
    if tracker is None:
        return None
    return {
        "state": json.loads(json.dumps(tracker.current_state(EventVerbosity.ALL))),
        "events": [(type(event).__name__, event.as_dict()) for event in tracker.events],
        "slots": {
            name: (slot.value, slot.has_been_set) for name, slot in sorted(tracker.slots.items())
        },
        "followup_action": tracker.followup_action,
        "paused": tracker.is_paused(),
        "latest_action": tracker.latest_action,
        "active_loop": None
        if tracker.active_loop is None
        else dataclasses.asdict(tracker.active_loop),
        "latest_message": _latest(tracker, tracker.latest_message),
        "latest_bot_utterance": _latest(tracker, tracker.latest_bot_utterance),
        "model_id": tracker.model_id,
        "assistant_id": tracker.assistant_id,
    }


async def rasa_retrieve(store: SQLTrackerStore, sender_id: str) -> DialogueStateTracker | None:
    """Rasa 3.6.21's SQLTrackerStore.retrieve, reading the database."""
    tracker: DialogueStateTracker | None = await store._retrieve(
        sender_id, fetch_events_from_all_sessions=False
    )
    return tracker


async def play(
    store: SQLTrackerStore,
    sender_id: str,
    step: Step,
    *,
    retrieve: Callable[[SQLTrackerStore, str], Awaitable[DialogueStateTracker | None]],
    save: Callable[[SQLTrackerStore, DialogueStateTracker], Awaitable[None]],
) -> None:
    """One turn as Rasa's MessageProcessor does it: fetch (or create), update, save."""
    tracker = await retrieve(store, sender_id)
    if tracker is None:
        tracker = store.init_tracker(sender_id)
        await save(store, tracker)
    tracker.model_id = "model-1"
    tracker.assistant_id = tracker.assistant_id or "storefront-leads"
    for event in step(tracker):
        tracker.update(event)
    await save(store, tracker)


async def cached_play(store: SQLTrackerStore, sender_id: str, step: Step) -> None:
    await play(
        store,
        sender_id,
        step,
        retrieve=lambda s, i: s.retrieve(i),
        save=lambda s, t: s.save(t),
    )


async def rasa_play(store: SQLTrackerStore, sender_id: str, step: Step) -> None:
    await play(
        store,
        sender_id,
        step,
        retrieve=tracker_cache.RASA_METHODS["retrieve"],
        save=tracker_cache.RASA_METHODS["save"],
    )


def stored_rows(url: str) -> list[tuple[Any, ...]]:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return [
                tuple(row)
                for row in connection.execute(
                    text(
                        "SELECT sender_id, type_name, timestamp, intent_name, action_name, data "
                        "FROM events ORDER BY id"
                    )
                )
            ]
    finally:
        engine.dispose()


@pytest.fixture
def store(domain: Domain, tracker_url: str) -> Iterator[SQLTrackerStore]:
    store = new_store(domain, tracker_url)
    yield store
    store.engine.dispose()


async def test_every_turn_reads_what_rasa_reads_and_writes_what_rasa_writes(
    domain: Domain, store: SQLTrackerStore, tmp_path: Path
) -> None:
    reference = new_store(domain, f"sqlite:///{tmp_path / 'rasa.db'}")
    for step, twin in zip(conversation(Clock()), conversation(Clock()), strict=True):
        await cached_play(store, "shopper", step)
        await rasa_play(reference, "shopper", twin)
        expected = snapshot(await rasa_retrieve(store, "shopper"))
        assert snapshot(await store.retrieve("shopper")) == expected
        assert expected == snapshot(await rasa_retrieve(reference, "shopper"))
    # Served from the cache, not read again, for the turns after the first.
    assert tracker_cache.cache_of(store).get("shopper") is not None
    assert stored_rows(str(store.engine.url)) == stored_rows(str(reference.engine.url))
    reference.engine.dispose()


async def test_the_cache_serves_turns_without_rereading_the_session(
    store: SQLTrackerStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = Clock()
    await cached_play(store, "shopper", opening(clock))
    reads: list[str] = []
    original = SQLTrackerStore._event_query

    def counting(self: SQLTrackerStore, *args: Any, **kwargs: Any) -> Any:
        reads.append("events")
        return original(self, *args, **kwargs)

    monkeypatch.setattr(SQLTrackerStore, "_event_query", counting)
    for _ in range(5):
        await cached_play(store, "shopper", bare_turn(clock))
    assert reads == []
    monkeypatch.undo()
    assert snapshot(await store.retrieve("shopper")) == snapshot(
        await rasa_retrieve(store, "shopper")
    )


async def test_a_handed_out_tracker_changed_but_not_saved_leaves_the_cache_as_stored(
    store: SQLTrackerStore,
) -> None:
    clock = Clock()
    await cached_play(store, "shopper", opening(clock))
    tracker = await store.retrieve("shopper")
    assert tracker is not None
    for event in answer_turn(clock, "Paris", "location", {"raw": "Paris"})(tracker):
        tracker.update(event)
    tracker.slots["timeline"].value = {"raw": "changed in place"}
    assert tracker.active_loop is not None
    tracker.active_loop.is_interrupted = True
    assert snapshot(await store.retrieve("shopper")) == snapshot(
        await rasa_retrieve(store, "shopper")
    )


async def test_another_server_writing_the_conversation_is_read_afresh(
    domain: Domain, store: SQLTrackerStore, tracker_url: str
) -> None:
    # A shopper fails over to another replica, then comes back.
    other = new_store(domain, tracker_url)
    clock = Clock()
    await cached_play(store, "shopper", opening(clock))
    await cached_play(store, "shopper", bare_turn(clock))
    await cached_play(other, "shopper", answer_turn(clock, "Lyon", "location", {"raw": "Lyon"}))
    await cached_play(other, "shopper", bare_turn(clock))
    expected = snapshot(await rasa_retrieve(store, "shopper"))
    assert expected["slots"]["location"] == ({"raw": "Lyon"}, True)
    assert snapshot(await store.retrieve("shopper")) == expected
    await cached_play(store, "shopper", answer_turn(clock, "300", "budget", {"raw": "300"}))
    assert snapshot(await other.retrieve("shopper")) == snapshot(
        await rasa_retrieve(other, "shopper")
    )
    other.engine.dispose()


async def test_a_turn_saved_elsewhere_between_fetch_and_save_is_stored_as_rasa_stores_it(
    domain: Domain, store: SQLTrackerStore, tracker_url: str, tmp_path: Path
) -> None:
    # Without a shared lock both servers append; the rows must be Rasa's rows.
    reference = new_store(domain, f"sqlite:///{tmp_path / 'rasa.db'}")
    reference_other = new_store(domain, f"sqlite:///{tmp_path / 'rasa.db'}")
    other = new_store(domain, tracker_url)
    clock, twin_clock = Clock(), Clock()
    await cached_play(store, "shopper", opening(clock))
    await rasa_play(reference, "shopper", opening(twin_clock))
    mine = await store.retrieve("shopper")
    theirs = await tracker_cache.RASA_METHODS["retrieve"](reference, "shopper")
    assert mine is not None and theirs is not None
    await cached_play(other, "shopper", bare_turn(clock))
    await rasa_play(reference_other, "shopper", bare_turn(twin_clock))
    for tracker, events in (
        (mine, bare_turn(clock)(mine)),
        (theirs, bare_turn(twin_clock)(theirs)),
    ):
        for event in events:
            tracker.update(event)
    await store.save(mine)
    await tracker_cache.RASA_METHODS["save"](reference, theirs)
    assert stored_rows(tracker_url) == stored_rows(str(reference.engine.url))
    assert snapshot(await store.retrieve("shopper")) == snapshot(
        await rasa_retrieve(store, "shopper")
    )
    for each in (reference, reference_other, other):
        each.engine.dispose()


async def test_an_erased_conversation_starts_again_from_nothing(
    store: SQLTrackerStore, tracker_url: str
) -> None:
    clock = Clock()
    await cached_play(store, "shopper", opening(clock))
    await cached_play(store, "shopper", answer_turn(clock, "Lyon", "location", {"raw": "Lyon"}))
    engine = create_engine(tracker_url)
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM events WHERE sender_id = 'shopper'"))
    engine.dispose()
    assert await store.retrieve("shopper") is None
    await cached_play(store, "shopper", opening(clock))
    fresh = snapshot(await rasa_retrieve(store, "shopper"))
    assert fresh["slots"]["location"] == (None, False)
    assert snapshot(await store.retrieve("shopper")) == fresh


async def test_a_new_domain_forgets_every_conversation(
    domain: Domain, store: SQLTrackerStore
) -> None:
    # Rasa sets the tracker store's domain when it loads another model.
    clock = Clock()
    await cached_play(store, "shopper", opening(clock))
    assert len(tracker_cache.cache_of(store)) == 1
    store.domain = Domain.from_dict(domain.as_dict())
    assert len(tracker_cache.cache_of(store)) == 0
    assert snapshot(await store.retrieve("shopper")) == snapshot(
        await rasa_retrieve(store, "shopper")
    )


async def test_least_recently_used_conversations_are_forgotten_beyond_the_bound(
    store: SQLTrackerStore,
) -> None:
    cache = tracker_cache.cache_of(store)
    cache.max_events = 20  # three openings of 6 session rows fit, four do not
    clock = Clock()
    for sender in ("a", "b", "c"):
        await cached_play(store, sender, opening(clock))
    await store.retrieve("a")
    await cached_play(store, "d", opening(clock))
    kept = [sender for sender in "abcd" if cache.get(sender) is not None]
    assert "b" not in kept and "a" in kept and "d" in kept
    for sender in "abcd":
        assert snapshot(await store.retrieve(sender)) == snapshot(
            await rasa_retrieve(store, sender)
        )


@pytest.mark.parametrize(
    "shift",
    [
        # a row stored with a timestamp before the session start is not in the session
        -10.0,
        # nor is a session start whose timestamp is older than the current one
        -7200.0,
    ],
)
async def test_rows_with_out_of_order_timestamps_are_read_as_rasa_reads_them(
    store: SQLTrackerStore, shift: float
) -> None:
    clock = Clock()
    await cached_play(store, "shopper", opening(clock))

    def late(_: DialogueStateTracker) -> list[Event]:
        return [
            user(clock, "hi", "greet"),
            SessionStarted(timestamp=clock.now + shift),
            BotUttered("old", timestamp=clock.now + shift),
            ActionExecuted("action_listen", timestamp=clock()),
        ]

    await cached_play(store, "shopper", late)
    await cached_play(store, "shopper", bare_turn(clock))
    assert snapshot(await store.retrieve("shopper")) == snapshot(
        await rasa_retrieve(store, "shopper")
    )


def test_a_sqlite_tracker_store_keeps_its_connection_and_postgresql_keeps_rasas_pool(
    domain: Domain, tmp_path: Path
) -> None:
    from rasa.core import tracker_store
    from sqlalchemy.pool import SingletonThreadPool

    store = new_store(domain, f"sqlite:///{tmp_path / 'tracker.db'}")
    assert isinstance(store.engine.pool, SingletonThreadPool)
    store.engine.dispose()
    postgres = "postgresql://postgres@127.0.0.1:5432/test"
    assert tracker_store.create_engine_kwargs(postgres) == tracker_cache.RASA_METHODS[
        "create_engine_kwargs"
    ](postgres)
    assert "poolclass" not in tracker_store.create_engine_kwargs(postgres)


@pytest.mark.postgres
def test_postgresql_reads_the_stamp_from_the_index_alone(domain: Domain, postgres_url: str) -> None:
    import sqlalchemy as sa

    store = new_store(domain, postgres_url)
    # A second server on the same database finds the index there.
    again = new_store(domain, postgres_url)
    with store.engine.begin() as connection:
        connection.execute(
            sa.text(
                "INSERT INTO events (sender_id, type_name, timestamp, data) "
                "SELECT 'shopper-' || (n % 50), 'slot', n, '{}' FROM generate_series(1, 2000) n"
            )
        )
    with store.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(sa.text("VACUUM ANALYZE events"))
        connection.execute(sa.text("SET enable_seqscan = off"))
        plan = "\n".join(
            row[0]
            for row in connection.execute(
                sa.text(
                    "EXPLAIN SELECT count(id), min(id), max(id) FROM events "
                    "WHERE sender_id = 'shopper-7'"
                )
            )
        )
    assert f"Index Only Scan using {tracker_cache.STAMP_INDEX}" in plan, plan
    with store.session_scope() as session:
        assert tracker_cache.read_stamp(store, session, "shopper-7").events == 40
    store.engine.dispose()
    again.engine.dispose()


def test_slot_copies_are_copy_copy_s(domain: Domain) -> None:
    import copy

    for slot in domain.slots:
        twin = tracker_cache._shallow(slot)
        expected = copy.copy(slot)
        assert type(twin) is type(expected)
        assert twin is not slot
        assert vars(twin) == vars(expected)

    class Slotted:
        __slots__ = ("value",)

        def __init__(self) -> None:
            self.value = [1]

    assert not tracker_cache._plain(Slotted)
    assert tracker_cache._shallow(Slotted()).value == [1]
    assert tracker_cache._deep(None) is None
    nested = {"a": [1]}
    assert tracker_cache._deep(nested) == nested
    assert tracker_cache._deep(nested) is not nested
