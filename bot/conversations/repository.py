"""The consumer's tables: conversation events stored once, rollups, dead letters.

Every write is one transaction: the events (insert-or-ignore on ``dedup_key``),
the parked messages and the rollups of the conversations touched, recomputed from
their stored events. Recomputing (rather than adding to counters) keeps a rollup
right whatever was a duplicate, whatever order events arrived in and after
reconcile marks orphans. On PostgreSQL the rollup rows of a batch are locked
first, in sender order, so two consumers storing the same conversation take
turns and each recomputes from the other's committed events.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, bindparam, case, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine

from bot.conversations.keys import FALLBACK_INTENT, LOW_CONFIDENCE, ConversationEvent
from bot.store import models
from bot.store.db import write_transaction

EVENTS = models.ConversationEvent.__table__
ROLLUPS = models.ConversationRollup.__table__
DEAD_LETTERS = models.ConversationDeadLetter.__table__
_LEADS = models.Lead.__table__
# Keys per IN list: far under SQLite's and psycopg2's limits.
_CHUNK = 500
MAX_DEAD_BODY = 65536


@dataclass(frozen=True)
class DeadLetter:
    """A message that is not an event, and why."""

    reason: str
    body: bytes


@dataclass
class WriteResult:
    """What one write did."""

    stored: int = 0
    duplicates: int = 0
    parked: int = 0


def _chunks(items: Sequence[Any]) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]


def _insert(connection: Connection, table: Any) -> Any:
    """``INSERT … ON CONFLICT DO NOTHING`` of the connection's backend."""
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    return dialect.insert(table).on_conflict_do_nothing()


class ConversationEvents:
    """Store, read and reconcile the consumer's conversation events."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def write(
        self,
        events: Sequence[ConversationEvent],
        dead_letters: Sequence[DeadLetter] = (),
        *,
        now: datetime,
        source: str = "broker",
    ) -> WriteResult:
        """Store ``events`` once each and park ``dead_letters``, in one transaction."""
        unique: dict[str, ConversationEvent] = {}
        for event in events:
            unique.setdefault(event.dedup_key, event)
        result = WriteResult(duplicates=len(events) - len(unique), parked=len(dead_letters))
        senders = sorted({event.sender_id for event in unique.values()})
        with write_transaction(self.engine) as connection:
            self._lock_rollups(connection, senders, now)
            existing: set[str] = set()
            for chunk in _chunks(list(unique)):
                existing.update(
                    connection.execute(
                        select(EVENTS.c.dedup_key).where(EVENTS.c.dedup_key.in_(chunk))
                    ).scalars()
                )
            new = [event for key, event in unique.items() if key not in existing]
            result.duplicates += len(unique) - len(new)
            result.stored = len(new)
            if new:
                connection.execute(
                    _insert(connection, EVENTS),
                    [
                        {
                            "dedup_key": event.dedup_key,
                            "sender_id": event.sender_id,
                            "type_name": event.type_name,
                            "timestamp": event.timestamp,
                            "intent_name": event.intent_name,
                            "intent_confidence": event.intent_confidence,
                            "action_name": event.action_name,
                            "data": event.data,
                            "source": source,
                            "received_at": now,
                        }
                        for event in new
                    ],
                )
            if dead_letters:
                connection.execute(
                    insert(DEAD_LETTERS),
                    [
                        {
                            "reason": letter.reason[:2000],
                            "body": letter.body[:MAX_DEAD_BODY]
                            .decode("utf-8", errors="replace")
                            .replace("\x00", "\ufffd"),
                            "received_at": now,
                        }
                        for letter in dead_letters
                    ],
                )
            if new:
                recompute_rollups(connection, sorted({event.sender_id for event in new}), now)
        return result

    def _lock_rollups(self, connection: Connection, senders: list[str], now: datetime) -> None:
        if not senders:
            return
        connection.execute(
            _insert(connection, ROLLUPS),
            [_empty_rollup(sender, now) for sender in senders],
        )
        if connection.dialect.name == "postgresql":
            for chunk in _chunks(senders):
                connection.execute(
                    select(ROLLUPS.c.sender_id)
                    .where(ROLLUPS.c.sender_id.in_(chunk))
                    .order_by(ROLLUPS.c.sender_id)
                    .with_for_update()
                ).all()

    def keys_between(self, since: float, until: float) -> dict[str, tuple[bool, float]]:
        """Key → (orphaned, timestamp) of the stored events with ``since <= timestamp < until``."""
        query = select(
            EVENTS.c.dedup_key, EVENTS.c.orphaned_at.is_not(None), EVENTS.c.timestamp
        ).where(EVENTS.c.timestamp >= since, EVENTS.c.timestamp < until)
        with self.engine.connect() as connection:
            return {
                key: (bool(orphaned), float(timestamp))
                for key, orphaned, timestamp in connection.execute(query)
            }

    def first_timestamp(self, since: float, until: float) -> float | None:
        """The earliest stored event's timestamp with ``since <= timestamp < until``."""
        query = select(func.min(EVENTS.c.timestamp)).where(
            EVENTS.c.timestamp >= since, EVENTS.c.timestamp < until
        )
        with self.engine.connect() as connection:
            first = connection.execute(query).scalar_one()
        return None if first is None else float(first)

    def mark_orphans(self, keys: Sequence[str], *, now: datetime, orphaned: bool = True) -> int:
        """Mark (or, ``orphaned=False``, unmark) these events; their rollups are recomputed."""
        if not keys:
            return 0
        changed = 0
        senders: set[str] = set()
        with write_transaction(self.engine) as connection:
            for chunk in _chunks(list(keys)):
                senders.update(
                    connection.execute(
                        select(EVENTS.c.sender_id).where(EVENTS.c.dedup_key.in_(chunk))
                    ).scalars()
                )
            self._lock_rollups(connection, sorted(senders), now)
            for chunk in _chunks(list(keys)):
                result = connection.execute(
                    update(EVENTS)
                    .where(
                        EVENTS.c.dedup_key.in_(chunk),
                        EVENTS.c.orphaned_at.is_(None)
                        if orphaned
                        else EVENTS.c.orphaned_at.is_not(None),
                    )
                    .values(orphaned_at=now if orphaned else None)
                )
                changed += int(result.rowcount or 0)
            recompute_rollups(connection, sorted(senders), now)
        return changed

    def conversation(self, sender_id: str) -> list[dict[str, Any]]:
        """A conversation's stored events, oldest first (orphans included, flagged)."""
        query = (
            select(
                EVENTS.c.id,
                EVENTS.c.type_name,
                EVENTS.c.timestamp,
                EVENTS.c.data,
                EVENTS.c.source,
                EVENTS.c.orphaned_at,
            )
            .where(EVENTS.c.sender_id == sender_id)
            .order_by(EVENTS.c.timestamp, EVENTS.c.id)
        )
        with self.engine.connect() as connection:
            return [dict(row._mapping) for row in connection.execute(query)]

    def rollup(self, sender_id: str) -> dict[str, Any] | None:
        """A conversation's rollup row."""
        with self.engine.connect() as connection:
            row = connection.execute(
                select(ROLLUPS).where(ROLLUPS.c.sender_id == sender_id)
            ).first()
        return dict(row._mapping) if row is not None else None

    def intent_counts(self, since: float, until: float) -> dict[str, int]:
        """Shopper messages per intent with ``since <= timestamp < until``, orphans left out."""
        query = (
            select(EVENTS.c.intent_name, func.count())
            .where(
                EVENTS.c.type_name == "user",
                EVENTS.c.orphaned_at.is_(None),
                EVENTS.c.intent_name.is_not(None),
                EVENTS.c.timestamp >= since,
                EVENTS.c.timestamp < until,
            )
            .group_by(EVENTS.c.intent_name)
        )
        with self.engine.connect() as connection:
            return {name: int(count) for name, count in connection.execute(query)}

    def counts(self) -> dict[str, int]:
        """Stored events, orphans among them, conversations and dead letters."""
        with self.engine.connect() as connection:
            return {
                "events": connection.execute(select(func.count()).select_from(EVENTS)).scalar_one(),
                "orphaned": connection.execute(
                    select(func.count()).where(EVENTS.c.orphaned_at.is_not(None))
                ).scalar_one(),
                "conversations": connection.execute(
                    select(func.count()).select_from(ROLLUPS)
                ).scalar_one(),
                "dead_letters": connection.execute(
                    select(func.count()).select_from(DEAD_LETTERS)
                ).scalar_one(),
            }


def _empty_rollup(sender_id: str, now: datetime) -> dict[str, Any]:
    return {
        "sender_id": sender_id,
        "lead_id": None,
        "events": 0,
        "first_timestamp": None,
        "last_timestamp": None,
        "user_messages": 0,
        "bot_messages": 0,
        "fallbacks": 0,
        "last_intent": None,
        "updated_at": now,
    }


def recompute_rollups(connection: Connection, senders: Sequence[str], now: datetime) -> None:
    """Set the rollups of ``senders`` from their stored, unorphaned events and their leads."""
    if not senders:
        return
    counted = EVENTS.c.orphaned_at.is_(None)
    user = EVENTS.c.type_name == "user"
    fallback = and_(
        user,
        (EVENTS.c.intent_name == FALLBACK_INTENT) | (EVENTS.c.intent_confidence < LOW_CONFIDENCE),
    )
    rows = {sender: _empty_rollup(sender, now) for sender in senders}
    for chunk in _chunks(list(senders)):
        aggregates = connection.execute(
            select(
                EVENTS.c.sender_id,
                func.count(),
                func.min(EVENTS.c.timestamp),
                func.max(EVENTS.c.timestamp),
                func.sum(case((user, 1), else_=0)),
                func.sum(case((EVENTS.c.type_name == "bot", 1), else_=0)),
                func.sum(case((fallback, 1), else_=0)),
            )
            .where(EVENTS.c.sender_id.in_(chunk), counted)
            .group_by(EVENTS.c.sender_id)
        )
        for sender, events, first, last, users, bots, fallbacks in aggregates:
            rows[sender].update(
                events=events,
                first_timestamp=first,
                last_timestamp=last,
                user_messages=users,
                bot_messages=bots,
                fallbacks=fallbacks,
            )
        newest = (
            select(
                EVENTS.c.sender_id,
                EVENTS.c.intent_name,
                func.row_number()
                .over(
                    partition_by=EVENTS.c.sender_id,
                    order_by=(EVENTS.c.timestamp.desc(), EVENTS.c.id.desc()),
                )
                .label("rank"),
            )
            .where(
                EVENTS.c.sender_id.in_(chunk),
                counted,
                user,
                EVENTS.c.intent_name.is_not(None),
            )
            .subquery()
        )
        for sender, intent in connection.execute(
            select(newest.c.sender_id, newest.c.intent_name).where(newest.c.rank == 1)
        ):
            rows[sender]["last_intent"] = intent
        # A merged lead's session resolves to the surviving lead.
        for session_id, lead_id in connection.execute(
            select(_LEADS.c.session_id, func.coalesce(_LEADS.c.merged_into, _LEADS.c.id)).where(
                _LEADS.c.session_id.in_(chunk)
            )
        ):
            rows[session_id]["lead_id"] = lead_id
    columns = [name for name in _empty_rollup("", now) if name != "sender_id"]
    # Bound names differ from the column names: SQLAlchemy reserves those for SET.
    connection.execute(
        update(ROLLUPS)
        .where(ROLLUPS.c.sender_id == bindparam("key"))
        .values({name: bindparam(f"new_{name}") for name in columns}),
        [
            {"key": sender, **{f"new_{name}": row[name] for name in columns}}
            for sender, row in rows.items()
        ],
    )
