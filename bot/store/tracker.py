"""The Rasa conversation store (SQL tracker store), read and erased for privacy requests.

Rasa's ``SQLTrackerStore`` keeps every conversation event in one ``events``
table keyed by ``sender_id`` (the storefront session id). The lead store reads
a person's conversation from it for a data export and deletes it on erasure.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import Any, NamedTuple

from sqlalchemy import (
    Column,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    delete,
    func,
    select,
)
from sqlalchemy.engine import Engine

from bot.store.db import create_db_engine

_metadata = MetaData()
# The columns of rasa.core.tracker_store.SQLTrackerStore.SQLEvent that are read here.
_EVENTS = Table(
    "events",
    _metadata,
    Column("id", Integer, primary_key=True),
    Column("sender_id", String(255)),
    Column("type_name", String(255)),
    Column("timestamp", Float),
    Column("data", Text),
)
CONVERSATION_TYPES = ("user", "bot")


class TrackerEvent(NamedTuple):
    """A row of Rasa's ``events`` table: ``data`` is ``json.dumps(event.as_dict())``."""

    id: int
    sender_id: str
    type_name: str
    timestamp: float
    data: str


class ConversationStore:
    """Conversations of the Rasa SQL tracker store at ``url`` (nothing if it has none yet)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._engine: Engine | None = None

    @property
    def engine(self) -> Engine:
        """Opened on first use: a deployment may start before Rasa created its table."""
        if self._engine is None:
            self._engine = create_db_engine(self.url)
        return self._engine

    def _has_table(self) -> bool:
        with self.engine.connect() as connection:
            return bool(self.engine.dialect.has_table(connection, "events"))

    def conversation(self, sender_ids: Sequence[str]) -> list[dict[str, Any]]:
        """What the shopper and the bot said, oldest first."""
        if not sender_ids or not self._has_table():
            return []
        query = (
            select(_EVENTS.c.sender_id, _EVENTS.c.type_name, _EVENTS.c.timestamp, _EVENTS.c.data)
            .where(
                _EVENTS.c.sender_id.in_(list(sender_ids)),
                _EVENTS.c.type_name.in_(CONVERSATION_TYPES),
            )
            .order_by(_EVENTS.c.timestamp, _EVENTS.c.id)
        )
        with self.engine.connect() as connection:
            rows = connection.execute(query).all()
        turns = []
        for row in rows:
            try:
                data = json.loads(row.data or "{}")
            except ValueError:
                data = {}
            turns.append(
                {
                    "session_id": row.sender_id,
                    "speaker": "shopper" if row.type_name == "user" else "bot",
                    "text": data.get("text"),
                    "timestamp": row.timestamp,
                }
            )
        return turns

    def first_timestamp(self, since: float, until: float) -> float | None:
        """The earliest stored event's timestamp with ``since <= timestamp < until``."""
        if not self._has_table():
            return None
        query = select(func.min(_EVENTS.c.timestamp)).where(
            _EVENTS.c.timestamp >= since, _EVENTS.c.timestamp < until
        )
        with self.engine.connect() as connection:
            first = connection.execute(query).scalar_one()
        return None if first is None else float(first)

    def events_between(
        self, since: float, until: float, *, page: int = 5000
    ) -> Iterator[TrackerEvent]:
        """Every stored event with ``since <= timestamp < until`` (Unix seconds), in id order.

        Read ``page`` rows at a time, each page after the last id read, so a long
        range never holds the table's rows in memory at once.
        """
        if not self._has_table():
            return
        after = None
        while True:
            query = (
                select(
                    _EVENTS.c.id,
                    _EVENTS.c.sender_id,
                    _EVENTS.c.type_name,
                    _EVENTS.c.timestamp,
                    _EVENTS.c.data,
                )
                .where(_EVENTS.c.timestamp >= since, _EVENTS.c.timestamp < until)
                .order_by(_EVENTS.c.id)
                .limit(page)
            )
            if after is not None:
                query = query.where(_EVENTS.c.id > after)
            with self.engine.connect() as connection:
                rows = connection.execute(query).all()
            for row in rows:
                yield TrackerEvent(
                    row.id, row.sender_id, row.type_name, row.timestamp, row.data or "{}"
                )
            if len(rows) < page:
                return
            after = rows[-1].id

    def erase(self, sender_ids: Sequence[str]) -> int:
        """Delete every event of these conversations; how many were deleted."""
        if not sender_ids or not self._has_table():
            return 0
        with self.engine.begin() as connection:
            result = connection.execute(
                delete(_EVENTS).where(_EVENTS.c.sender_id.in_(list(sender_ids)))
            )
        return int(result.rowcount or 0)

    def dispose(self) -> None:
        """Close the connections."""
        if self._engine is not None:
            self._engine.dispose()
