"""Rasa's SQL tracker store, with each conversation's latest session kept in the process.

Rasa 3.6.21's ``SQLTrackerStore`` rebuilds the tracker on every turn:
``retrieve`` reads every event of the latest session (``_event_query``: rows of
the sender with ``timestamp >= max(timestamp of its session_started rows)``, or
all its rows if it has none, ordered by id), ``json.loads`` each and replays them
all through ``DialogueStateTracker.from_dict``; ``save`` counts those rows again
and inserts ``tracker.events[count:]``. Both grow with the conversation.

Here the tracker that ``retrieve`` would build is kept per conversation, together
with a *stamp* of the sender's rows: their count, lowest and highest id. Each
``retrieve`` and ``save`` first reads the stamp (one indexed aggregate query); only
when it equals the one kept is the kept state used:

- ``retrieve`` hands out a copy of the kept tracker;
- ``save`` inserts ``tracker.events[n:]`` where ``n`` is the kept session's row
  count (what Rasa's count query returns while the rows are unchanged), then
  replays those rows, as stored (``json.loads`` of the saved JSON), onto the kept
  tracker, as ``from_dict`` would have.

Anything else (another process wrote or erased rows of the conversation, a session
start that leaves earlier rows of the session in place, a different domain after
a model reload) takes Rasa's own code path and forgets the conversation, which is
read again from the database on its next turn. So several Rasa servers may share
one tracker store: a shopper who moves to another replica and back is read afresh.
Rows are only ever inserted by Rasa and deleted by erasure (``bot.store.tracker``),
and both change the stamp; ids are never reused while the sender has rows.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import logging
from collections import OrderedDict, deque
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    from rasa.core.tracker_store import SQLTrackerStore
    from rasa.shared.core.domain import Domain
    from rasa.shared.core.trackers import DialogueStateTracker
    from sqlalchemy.orm import Session

logger = logging.getLogger(__name__)

# Kept events across all conversations (a few kB each); the least recently used
# conversations are forgotten beyond it.
MAX_CACHED_EVENTS = 200_000
_SESSION_STARTED = "session_started"
_CACHE_ATTRIBUTE = "_rasa_ext_conversations"


class Stamp(NamedTuple):
    """Count, lowest and highest id of one sender's rows in the ``events`` table."""

    events: int
    first_id: int | None
    last_id: int | None


@dataclass
class Conversation:
    """A conversation's latest session as ``SQLTrackerStore.retrieve`` would read it."""

    stamp: Stamp
    # Rows of the latest session (what Rasa's save counts) and their latest timestamp.
    rows: int
    latest_timestamp: float | None
    # max(timestamp) of the sender's session_started rows; None if it has none.
    session_start: float | None
    # None when the sender has no rows (retrieve returns None).
    tracker: DialogueStateTracker | None


class ConversationCache:
    """Conversations of one tracker store, least recently used first, bounded by events."""

    def __init__(self, max_events: int = MAX_CACHED_EVENTS) -> None:
        self.max_events = max_events
        self.domain: Domain | None = None
        self._conversations: OrderedDict[str, Conversation] = OrderedDict()
        self._events = 0

    def __len__(self) -> int:
        return len(self._conversations)

    def get(self, sender_id: str) -> Conversation | None:
        """The kept conversation, now the most recently used."""
        conversation = self._conversations.get(sender_id)
        if conversation is not None:
            self._conversations.move_to_end(sender_id)
        return conversation

    def put(self, sender_id: str, conversation: Conversation) -> None:
        """Keep ``conversation``, forgetting the least recently used beyond the bound."""
        self.forget(sender_id)
        self._conversations[sender_id] = conversation
        self._events += conversation.rows
        while self._events > self.max_events and len(self._conversations) > 1:
            _, oldest = self._conversations.popitem(last=False)
            self._events -= oldest.rows

    def forget(self, sender_id: str) -> None:
        """Drop the conversation (it is read from the database next time)."""
        conversation = self._conversations.pop(sender_id, None)
        if conversation is not None:
            self._events -= conversation.rows

    def clear(self) -> None:
        """Drop every conversation."""
        self._conversations.clear()
        self._events = 0


def cache_of(store: SQLTrackerStore) -> ConversationCache:
    """The store's cache, emptied when the store's domain is not the one it was built with.

    Trackers are built with the domain's slots, and Rasa sets a new domain on the
    tracker store when it loads another model.
    """
    cache: ConversationCache | None = store.__dict__.get(_CACHE_ATTRIBUTE)
    if cache is None:
        cache = ConversationCache()
        store.__dict__[_CACHE_ATTRIBUTE] = cache
    if cache.domain is not store.domain:
        cache.clear()
        cache.domain = store.domain
    return cache


@cache
def _stamp_query(event: type) -> Any:
    import sqlalchemy as sa

    table = event.__table__  # type: ignore[attr-defined]
    return sa.select(
        sa.func.count(table.c.id), sa.func.min(table.c.id), sa.func.max(table.c.id)
    ).where(table.c.sender_id == sa.bindparam("sender_id"))


@cache
def _insert_statement(event: type) -> Any:
    table = event.__table__  # type: ignore[attr-defined]
    return table.insert()


def read_stamp(store: SQLTrackerStore, session: Session, sender_id: str) -> Stamp:
    """The stamp of ``sender_id``'s rows, from the index on ``events.sender_id``.

    One statement built once (SQLAlchemy caches its compiled form): the ORM query
    it replaces cost more to build than the database spent answering it.
    """
    count, first_id, last_id = session.execute(
        _stamp_query(store.SQLEvent), {"sender_id": sender_id}
    ).one()
    return Stamp(int(count), first_id, last_id)


# What DialogueStateTracker.__init__ (Rasa 3.6.21) sets; a tracker with anything
# else is not copied attribute by attribute but replayed (see copy_tracker).
_TRACKER_ATTRIBUTES = frozenset(
    {
        "_max_event_history",
        "events",
        "sender_id",
        "slots",
        "sender_source",
        "is_rule_tracker",
        "_paused",
        "followup_action",
        "latest_action",
        "latest_message",
        "latest_bot_utterance",
        "active_loop",
        "model_id",
        "assistant_id",
    }
)


# Values copy.deepcopy returns as they are (immutable).
_ATOMIC = frozenset({type(None), bool, int, float, str})


def _deep(value: Any) -> Any:
    return value if type(value) in _ATOMIC else copy.deepcopy(value)


@cache
def _plain(cls: type) -> bool:
    """Whether copy.copy of a ``cls`` is a new instance with the same ``__dict__``.

    True for Rasa 3.6.21's slot classes: no ``__copy__``, ``__reduce__``,
    ``__reduce_ex__``, ``__getstate__`` or ``__setstate__``, and no slot names
    (``abc.ABC`` declares empty ``__slots__``).
    """
    return (
        cls.__reduce_ex__ is object.__reduce_ex__
        and cls.__reduce__ is object.__reduce__
        and not any(hasattr(cls, name) for name in ("__copy__", "__getstate__", "__setstate__"))
        and not any(vars(klass).get("__slots__") for klass in cls.__mro__)
    )


def _shallow(slot: Any) -> Any:
    """``copy.copy(slot)``, without copyreg for the plain classes slots are."""
    kind: type = type(slot)
    if not _plain(kind):
        return copy.copy(slot)
    twin: Any = object.__new__(kind)
    twin.__dict__.update(slot.__dict__)
    return twin


def _copy_slot(slot: Any) -> Any:
    # DialogueStateTracker.__init__ copies the domain's slots with copy.copy; only
    # the value changes at run time (Slot.value's setter assigns it).
    twin = _shallow(slot)
    twin._value = _deep(slot._value)
    return twin


def copy_tracker(
    tracker: DialogueStateTracker, *, copy_values: bool = True
) -> DialogueStateTracker:
    """An independent tracker in the same state, without replaying its events.

    Events are shared, as ``DialogueStateTracker.copy`` shares them (Rasa treats
    logged events as immutable; new ones are appended). What the tracker's own
    methods change in place is copied: the event deque, the slots (``Slot.value``
    is assigned; values are deep-copied all the same), ``latest_action`` and the
    ``TrackerActiveLoop`` (``change_loop_to``/``interrupt_loop``/``reject_action``
    set its fields). ``copy_values=False`` shares slot values (for a tracker only
    read and updated through events).
    """
    from rasa.shared.core.trackers import DialogueStateTracker

    state = vars(tracker)
    if type(tracker) is not DialogueStateTracker or set(state) != _TRACKER_ATTRIBUTES:
        replayed: DialogueStateTracker = DialogueStateTracker.from_events(
            tracker.sender_id, list(tracker.events), tracker.slots.values()
        )
        return replayed
    twin: DialogueStateTracker = object.__new__(DialogueStateTracker)
    twin.__dict__.update(state)
    twin.events = deque(tracker.events, tracker.events.maxlen)
    if copy_values:
        twin.slots = {name: _copy_slot(slot) for name, slot in tracker.slots.items()}
    else:
        twin.slots = {name: _shallow(slot) for name, slot in tracker.slots.items()}
    twin.latest_action = _deep(tracker.latest_action)
    if tracker.active_loop is not None:
        twin.active_loop = dataclasses.replace(
            tracker.active_loop,
            trigger_message=copy.deepcopy(tracker.active_loop.trigger_message),
        )
    return twin


def _retrieve_and_keep(
    store: SQLTrackerStore, cache: ConversationCache, session: Session, sender_id: str
) -> DialogueStateTracker | None:
    """Rasa's ``_retrieve`` for the latest session, keeping what it read."""
    from rasa.shared.core.trackers import DialogueStateTracker

    # Read before the rows: a row written in between makes the stamp stale (the
    # next turn reads again), never the rows.
    stamp = read_stamp(store, session, sender_id)
    rows = store._event_query(session, sender_id, fetch_events_from_all_sessions=False).all()
    events = [json.loads(row.data) for row in rows]
    tracker: DialogueStateTracker | None = None
    if store.domain and len(events) > 0:
        tracker = DialogueStateTracker.from_dict(sender_id, events, store.domain.slots)
    cache.forget(sender_id)
    timestamps = [row.timestamp for row in rows]
    if all(timestamp is not None for timestamp in timestamps):
        starts = [row.timestamp for row in rows if row.type_name == _SESSION_STARTED]
        cache.put(
            sender_id,
            Conversation(
                stamp=stamp,
                rows=len(rows),
                latest_timestamp=max(timestamps, default=None),
                session_start=max(starts, default=None),
                tracker=None if tracker is None else copy_tracker(tracker),
            ),
        )
    return tracker


async def retrieve(store: SQLTrackerStore, sender_id: str) -> DialogueStateTracker | None:
    """``SQLTrackerStore.retrieve``: the kept tracker when the sender's rows are unchanged."""
    cache = cache_of(store)
    with store.session_scope() as session:
        kept = cache.get(sender_id)
        if kept is not None and read_stamp(store, session, sender_id) == kept.stamp:
            return None if kept.tracker is None else copy_tracker(kept.tracker)
        return _retrieve_and_keep(store, cache, session, sender_id)


class Row(NamedTuple):
    """A row just inserted: its id, type, timestamp and data as stored (``json.loads``)."""

    id: int
    type_name: str
    timestamp: float | None
    data: dict[str, Any]


def _extended(
    store: SQLTrackerStore, sender_id: str, kept: Conversation, stamp: Stamp, added: list[Row]
) -> Conversation | None:
    """``kept`` after ``added`` were inserted, or None when that needs a fresh read.

    The session's rows are those of ``timestamp >= session start`` (Rasa's query).
    Rows before the kept session are older than its start, so they stay out; the
    kept rows stay in unless a later session start leaves them out, and then the
    new session is known without reading it only if all of them are left out.
    """
    from rasa.shared.core.events import deserialise_events
    from rasa.shared.core.trackers import DialogueStateTracker

    if not added:
        return kept
    timestamps: list[float] = []
    for row in added:
        if row.timestamp is None:
            return None
        timestamps.append(row.timestamp)
    starts = [
        timestamp
        for timestamp, row in zip(timestamps, added, strict=True)
        if row.type_name == _SESSION_STARTED
    ]
    session_start = kept.session_start
    if starts:
        session_start = max(starts if session_start is None else [*starts, session_start])
    ids = [row.id for row in added]
    new_stamp = Stamp(
        events=stamp.events + len(added),
        first_id=min(ids) if stamp.first_id is None else min(stamp.first_id, *ids),
        last_id=max(ids) if stamp.last_id is None else max(stamp.last_id, *ids),
    )
    if session_start == kept.session_start:
        if session_start is not None and min(timestamps) < session_start:
            return None
        tracker = kept.tracker
        events = [row.data for row in added]
        if tracker is None:
            tracker = DialogueStateTracker.from_dict(sender_id, events, store.domain.slots)
        else:
            # DialogueStateTracker.from_events: tracker.update(event) for each event.
            for event in deserialise_events(events):
                tracker.update(event)
        latest = max(timestamps)
        return Conversation(
            stamp=new_stamp,
            rows=kept.rows + len(added),
            latest_timestamp=latest
            if kept.latest_timestamp is None
            else max(latest, kept.latest_timestamp),
            session_start=session_start,
            tracker=tracker,
        )
    assert session_start is not None
    if kept.latest_timestamp is not None and kept.latest_timestamp >= session_start:
        return None
    in_session = [
        (timestamp, row.data)
        for timestamp, row in zip(timestamps, added, strict=True)
        if timestamp >= session_start
    ]
    return Conversation(
        stamp=new_stamp,
        rows=len(in_session),
        latest_timestamp=max(timestamp for timestamp, _ in in_session),
        session_start=session_start,
        tracker=DialogueStateTracker.from_dict(
            sender_id, [data for _, data in in_session], store.domain.slots
        ),
    )


async def save(store: SQLTrackerStore, tracker: DialogueStateTracker) -> None:
    """``SQLTrackerStore.save``, counting the session's rows from the kept state when it holds."""
    from rasa.shared.nlu.constants import INTENT_NAME_KEY

    await store.stream_events(tracker)
    cache = cache_of(store)
    sender_id = tracker.sender_id
    with store.session_scope() as session:
        kept = cache.get(sender_id)
        stamp = read_stamp(store, session, sender_id)
        if kept is not None and stamp == kept.stamp:
            stored = kept.rows
        else:
            kept = None
            cache.forget(sender_id)
            stored = store._event_query(
                session, sender_id, fetch_events_from_all_sessions=False
            ).count()
        insert = _insert_statement(store.SQLEvent)
        added = []
        for event in list(tracker.events)[stored:]:
            # The row Rasa 3.6.21's SQLTrackerStore.save writes (one ORM object per
            # event, flushed in order), inserted here without the ORM's unit of work.
            data = event.as_dict()
            intent = data.get("parse_data", {}).get("intent", {}).get(INTENT_NAME_KEY)
            text = json.dumps(data)
            timestamp = data.get("timestamp")
            result = session.execute(
                insert,
                {
                    "sender_id": sender_id,
                    "type_name": event.type_name,
                    "timestamp": timestamp,
                    "intent_name": intent,
                    "action_name": data.get("name"),
                    "data": text,
                },
            )
            (row_id,) = result.inserted_primary_key
            added.append(Row(row_id, event.type_name, timestamp, json.loads(text)))
        session.commit()
    if kept is None:
        return
    cache.forget(sender_id)
    try:
        extended = _extended(store, sender_id, kept, stamp, added)
    except Exception:  # the rows are stored; the next turn reads them again
        logger.exception("could not keep conversation %s in the tracker cache", sender_id)
        return
    if extended is not None:
        cache.put(sender_id, extended)


# Rasa's own methods, kept when they are replaced (the tests compare against them).
RASA_METHODS: dict[str, Any] = {}


def _install_sqlite_connection_reuse() -> None:
    """Keep the SQL tracker store's SQLite connection open between turns.

    Rasa 3.6.21 creates the engine with ``create_engine_kwargs(url)``, which is
    empty for SQLite, and SQLAlchemy 1.4 then gives a file database a
    ``NullPool``: every ``session_scope`` connected anew (and ran the WAL pragmas)
    and closing the last connection checkpointed the WAL to the database file, a
    few milliseconds of each turn. A ``SingletonThreadPool`` keeps one connection
    per thread (Rasa uses the store from its event loop's thread only).
    """
    from rasa.core import tracker_store
    from sqlalchemy.engine import make_url
    from sqlalchemy.pool import SingletonThreadPool

    rasa_kwargs = tracker_store.create_engine_kwargs
    RASA_METHODS["create_engine_kwargs"] = rasa_kwargs

    def create_engine_kwargs(url: Any) -> dict[str, Any]:
        kwargs: dict[str, Any] = rasa_kwargs(url)
        if make_url(url).get_backend_name() == "sqlite":
            kwargs.setdefault("poolclass", SingletonThreadPool)
        return kwargs

    create_engine_kwargs.__doc__ = rasa_kwargs.__doc__
    tracker_store.create_engine_kwargs = create_engine_kwargs


# The stamp query reads count, min(id) and max(id) of one sender's rows. SQLite's
# index on sender_id already holds each row's id (its rowid), so the query never
# reads the table; PostgreSQL's holds only sender_id and must visit every row.
STAMP_INDEX = "ix_events_sender_id_id"


def add_stamp_index(store: SQLTrackerStore) -> None:
    """Index ``events(sender_id, id)`` on PostgreSQL, so the stamp is an index-only scan.

    ``IF NOT EXISTS`` covers a database indexed before; two servers starting at
    once may still race on the catalogue, and the loser finds the index there.
    """
    import sqlalchemy as sa

    if store.engine.dialect.name != "postgresql":
        return
    statement = sa.text(f"CREATE INDEX IF NOT EXISTS {STAMP_INDEX} ON events (sender_id, id)")
    try:
        with store.engine.begin() as connection:
            connection.execute(statement)
    except sa.exc.DBAPIError:
        with store.engine.connect() as connection:
            found = connection.execute(
                sa.text("SELECT 1 FROM pg_indexes WHERE indexname = :name"),
                {"name": STAMP_INDEX},
            ).first()
        if found is None:
            raise


def install() -> None:
    """Route ``SQLTrackerStore.retrieve`` and ``save`` through the cache (once)."""
    from rasa.core.tracker_store import SQLTrackerStore

    if RASA_METHODS:
        return
    RASA_METHODS.update(
        retrieve=SQLTrackerStore.retrieve, save=SQLTrackerStore.save, init=SQLTrackerStore.__init__
    )
    _install_sqlite_connection_reuse()
    rasa_init = SQLTrackerStore.__init__

    def __init__(self: SQLTrackerStore, *args: Any, **kwargs: Any) -> None:
        rasa_init(self, *args, **kwargs)
        add_stamp_index(self)

    __init__.__doc__ = rasa_init.__doc__
    SQLTrackerStore.__init__ = __init__

    async def cached_retrieve(self: SQLTrackerStore, sender_id: str) -> DialogueStateTracker | None:
        return await retrieve(self, sender_id)

    async def cached_save(self: SQLTrackerStore, tracker: DialogueStateTracker) -> None:
        await save(self, tracker)

    cached_retrieve.__doc__ = SQLTrackerStore.retrieve.__doc__
    cached_save.__doc__ = SQLTrackerStore.save.__doc__
    SQLTrackerStore.retrieve = cached_retrieve
    SQLTrackerStore.save = cached_save
