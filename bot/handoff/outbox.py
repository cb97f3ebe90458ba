"""The outbox tables: claiming due messages, recording attempts, dead letters, retries.

A claimed message is leased (``locked_until``) for longer than one attempt can
take; a worker killed mid-delivery leaves its lease to run out, after which any
worker picks the message up again with the same ``webhook-id``.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, delete, func, insert, or_, select, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError

from bot.handoff.channels import Outcome
from bot.handoff.config import Delivery
from bot.store.db import write_transaction
from bot.store.models import ChannelState, DeliveryAttempt, Handoff, Lead, OutboxMessage

_OUTBOX = OutboxMessage.__table__
_ATTEMPTS = DeliveryAttempt.__table__
_CHANNELS = ChannelState.__table__
_HANDOFFS = Handoff.__table__
# A Retry-After beyond this is treated as this: a receiver cannot park a handoff for weeks.
MAX_RETRY_AFTER_SECONDS = 24 * 3600.0
OUTBOX_STATUSES = ("pending", "delivered", "dead")
# Only while pending: an attempt that outlived its lease must not overwrite what a
# later attempt by another worker recorded.
_STILL_PENDING = update(_OUTBOX).where(
    _OUTBOX.c.id == bindparam("b_id"), _OUTBOX.c.status == "pending"
)


@dataclass(frozen=True)
class Claimed:
    """A message leased to this worker for one attempt."""

    id: int
    message_id: str
    channel: str
    kind: str
    payload: dict[str, Any]
    attempts: int
    created_at: datetime


@dataclass(frozen=True)
class Attempted:
    """The result of one attempt, to record."""

    message: Claimed
    outcome: Outcome
    started_at: datetime
    duration_ms: int


def next_delay(
    delivery: Delivery, attempts_made: int, retry_after: float | None, rng: random.Random
) -> float | None:
    """Seconds until the next attempt after ``attempts_made`` tries; ``None`` when none is left.

    The schedule's first entry is the first attempt (immediately); entry *n* is
    the wait after the *n*-th failure. Jitter spreads retries of many messages
    that failed together; a ``Retry-After`` longer than the schedule wins.
    """
    if attempts_made >= len(delivery.retry_schedule):
        return None
    delay = delivery.retry_schedule[attempts_made]
    delay *= 1 + rng.uniform(-delivery.jitter, delivery.jitter)
    if retry_after is not None:
        delay = max(delay, min(retry_after, MAX_RETRY_AFTER_SECONDS))
    return delay


class OutboxStore:
    """Reads and writes of the outbox and delivery log."""

    def __init__(
        self, engine: Engine, delivery: Delivery, rng: random.Random | None = None
    ) -> None:
        self.engine = engine
        self.delivery = delivery
        self.rng = rng or random.Random()
        # An attempt can take the whole timeout; the lease outlives it comfortably.
        self.lease = timedelta(seconds=delivery.timeout_seconds + 5)

    def claim(self, limit: int, now: datetime) -> list[Claimed]:
        """Lease up to ``limit`` due messages, most urgent first."""
        return self.record_and_claim([], limit, now)

    def record(self, results: list[Attempted], now: datetime) -> None:
        """Store attempts: delivered, rescheduled or dead-lettered; 410 disables the channel."""
        if results:
            self.record_and_claim(results, 0, now)

    def record_and_claim(
        self, results: list[Attempted], limit: int, now: datetime
    ) -> list[Claimed]:
        """Record finished attempts and lease the next due messages, in one transaction.

        One short write per worker round keeps the worker's share of SQLite's
        single writer small while storefront writes keep coming.
        """
        with write_transaction(self.engine) as connection:
            if results:
                self._record(connection, results, now)
            return self._claim(connection, limit, now) if limit > 0 else []

    def _claim(self, connection: Connection, limit: int, now: datetime) -> list[Claimed]:
        due = (
            select(_OUTBOX.c.id)
            .where(
                _OUTBOX.c.status == "pending",
                _OUTBOX.c.next_attempt_at <= now,
                or_(_OUTBOX.c.locked_until.is_(None), _OUTBOX.c.locked_until < now),
            )
            .order_by(_OUTBOX.c.priority, _OUTBOX.c.next_attempt_at, _OUTBOX.c.id)
            .limit(limit)
        )
        if connection.dialect.name == "postgresql":
            due = due.with_for_update(skip_locked=True)
        ids = list(connection.execute(due).scalars())
        if not ids:
            return []
        connection.execute(
            update(_OUTBOX).where(_OUTBOX.c.id.in_(ids)).values(locked_until=now + self.lease)
        )
        rows = connection.execute(
            select(
                _OUTBOX.c.id,
                _OUTBOX.c.message_id,
                _OUTBOX.c.channel,
                _OUTBOX.c.kind,
                _OUTBOX.c.payload,
                _OUTBOX.c.attempts,
                _OUTBOX.c.created_at,
            )
            .where(_OUTBOX.c.id.in_(ids))
            .order_by(_OUTBOX.c.priority, _OUTBOX.c.next_attempt_at, _OUTBOX.c.id)
        ).all()
        return [
            Claimed(r.id, r.message_id, r.channel, r.kind, r.payload, r.attempts, r.created_at)
            for r in rows
        ]

    def _record(self, connection: Connection, results: list[Attempted], now: datetime) -> None:
        delivered: list[dict[str, Any]] = []
        log: list[dict[str, Any]] = []
        for result in results:
            message, outcome = result.message, result.outcome
            attempts = message.attempts + 1
            if outcome.delivered:
                label = "delivered"
                delivered.append(
                    {"b_id": message.id, "b_attempts": attempts, "b_code": outcome.status_code}
                )
            else:
                values: dict[str, Any] = {
                    "attempts": attempts,
                    "locked_until": None,
                    "last_status_code": outcome.status_code,
                    "last_error": outcome.error,
                }
                if outcome.gone:
                    values.update(status="dead", dead_at=now)
                    label = "disabled"
                    self._disable(connection, message.channel, outcome.error or "410 Gone", now)
                else:
                    delay = next_delay(self.delivery, attempts, outcome.retry_after, self.rng)
                    if delay is None:
                        values.update(status="dead", dead_at=now)
                        label = "dead"
                    else:
                        values.update(next_attempt_at=now + timedelta(seconds=delay))
                        label = "retry"
                connection.execute(_STILL_PENDING.values(**values), {"b_id": message.id})
            log.append(
                {
                    "outbox_id": message.id,
                    "attempt": attempts,
                    "started_at": result.started_at,
                    "duration_ms": result.duration_ms,
                    "status_code": outcome.status_code,
                    "error": outcome.error,
                    "outcome": label,
                }
            )
        if delivered:
            connection.execute(
                _STILL_PENDING.values(
                    status="delivered",
                    delivered_at=now,
                    locked_until=None,
                    last_error=None,
                    attempts=bindparam("b_attempts"),
                    last_status_code=bindparam("b_code"),
                ),
                delivered,
            )
        connection.execute(insert(_ATTEMPTS), log)

    def dead_letter(self, message: Claimed, reason: str, now: datetime) -> None:
        """Give up on a message without trying (its channel is disabled or gone from the config)."""
        with write_transaction(self.engine) as connection:
            connection.execute(
                update(_OUTBOX)
                .where(_OUTBOX.c.id == message.id)
                .values(status="dead", dead_at=now, locked_until=None, last_error=reason)
            )

    @staticmethod
    def _disable(connection: Connection, channel: str, reason: str, now: datetime) -> None:
        exists = connection.execute(
            select(_CHANNELS.c.channel).where(_CHANNELS.c.channel == channel)
        ).first()
        if exists is not None:
            return
        try:
            with connection.begin_nested():
                connection.execute(
                    insert(_CHANNELS).values(
                        channel=channel,
                        disabled_at=now,
                        reason=f"endpoint answered 410 Gone ({reason[:200]})",
                    )
                )
        except IntegrityError:
            pass  # another worker heard the same 410 and disabled it first

    def disabled_channels(self) -> dict[str, str]:
        """Channels switched off by a 410, with why."""
        with self.engine.connect() as connection:
            return {
                row.channel: row.reason
                for row in connection.execute(select(_CHANNELS.c.channel, _CHANNELS.c.reason))
            }

    def enable_channel(self, channel: str) -> bool:
        """Switch a disabled channel back on; whether it was disabled."""
        with write_transaction(self.engine) as connection:
            deleted = connection.execute(delete(_CHANNELS).where(_CHANNELS.c.channel == channel))
        return bool(deleted.rowcount)

    def retry(self, message_id: str | None, now: datetime, *, all_dead: bool = False) -> int:
        """Queue dead letters again (one by ``webhook-id``, or all); returns how many."""
        query = update(_OUTBOX).where(_OUTBOX.c.status == "dead")
        if not all_dead:
            query = query.where(_OUTBOX.c.message_id == message_id)
        with write_transaction(self.engine) as connection:
            updated = connection.execute(
                query.values(
                    status="pending",
                    attempts=0,
                    next_attempt_at=now,
                    dead_at=None,
                    locked_until=None,
                )
            )
        return int(updated.rowcount)

    def messages(
        self,
        *,
        status: str | None = None,
        handoff_id: str | None = None,
        limit: int = 100,
    ) -> list[dict[str, Any]]:
        """Outbox messages with their delivery log, newest first."""
        query = (
            select(_OUTBOX).order_by(_OUTBOX.c.created_at.desc(), _OUTBOX.c.id.desc()).limit(limit)
        )
        if status is not None:
            query = query.where(_OUTBOX.c.status == status)
        if handoff_id is not None:
            query = query.where(_OUTBOX.c.handoff_id == handoff_id)
        with self.engine.connect() as connection:
            rows = connection.execute(query).all()
            attempts: dict[int, list[dict[str, Any]]] = {}
            if rows:
                for attempt in connection.execute(
                    select(_ATTEMPTS)
                    .where(_ATTEMPTS.c.outbox_id.in_([row.id for row in rows]))
                    .order_by(_ATTEMPTS.c.outbox_id, _ATTEMPTS.c.id)
                ):
                    attempts.setdefault(attempt.outbox_id, []).append(
                        {
                            "attempt": attempt.attempt,
                            "at": attempt.started_at.isoformat(),
                            "duration_ms": attempt.duration_ms,
                            "status_code": attempt.status_code,
                            "error": attempt.error,
                            "outcome": attempt.outcome,
                        }
                    )
        return [
            {
                "message_id": row.message_id,
                "handoff_id": row.handoff_id,
                "lead_id": (row.payload.get("lead") or {}).get("id"),
                "channel": row.channel,
                "kind": row.kind,
                "status": row.status,
                "attempts": row.attempts,
                "next_attempt_at": row.next_attempt_at.isoformat()
                if row.status == "pending"
                else None,
                "last_status_code": row.last_status_code,
                "last_error": row.last_error,
                "created_at": row.created_at.isoformat(),
                "delivered_at": row.delivered_at.isoformat() if row.delivered_at else None,
                "dead_at": row.dead_at.isoformat() if row.dead_at else None,
                "log": attempts.get(row.id, []),
            }
            for row in rows
        ]

    def counts(self) -> dict[str, int]:
        """Number of messages per status."""
        with self.engine.connect() as connection:
            found = dict(
                connection.execute(
                    select(_OUTBOX.c.status, func.count()).group_by(_OUTBOX.c.status)
                ).all()
            )
        return {status: int(found.get(status, 0)) for status in OUTBOX_STATUSES}


def list_handoffs(
    engine: Engine,
    *,
    status: str | None = None,
    overdue_at: datetime | None = None,
    lead_id: str | None = None,
    handoff_id: str | None = None,
    limit: int = 100,
) -> list[dict[str, Any]]:
    """Handoffs, newest first, with their lead's name and their messages' delivery states."""
    leads = Lead.__table__
    query = (
        select(_HANDOFFS, leads.c.first_name, leads.c.last_name, leads.c.email, leads.c.score)
        .join(leads, leads.c.id == _HANDOFFS.c.lead_id)
        .order_by(_HANDOFFS.c.created_at.desc(), _HANDOFFS.c.id)
        .limit(limit)
    )
    if status is not None:
        query = query.where(_HANDOFFS.c.status == status)
    if overdue_at is not None:
        query = query.where(_HANDOFFS.c.status == "open", _HANDOFFS.c.due_at < overdue_at)
    if lead_id is not None:
        # A merged lead's id stands for the lead it was merged into, which holds its handoffs.
        surviving = (
            select(func.coalesce(leads.c.merged_into, leads.c.id))
            .where(leads.c.id == lead_id)
            .scalar_subquery()
        )
        query = query.where(_HANDOFFS.c.lead_id == surviving)
    if handoff_id is not None:
        query = query.where(_HANDOFFS.c.id == handoff_id)
    with engine.connect() as connection:
        rows = connection.execute(query).all()
        states: dict[str, dict[str, int]] = {}
        if rows:
            for found in connection.execute(
                select(_OUTBOX.c.handoff_id, _OUTBOX.c.status, func.count())
                .where(_OUTBOX.c.handoff_id.in_([row.id for row in rows]))
                .group_by(_OUTBOX.c.handoff_id, _OUTBOX.c.status)
            ):
                states.setdefault(found[0], {})[found[1]] = int(found[2])
    return [handoff_view(row, states.get(row.id, {})) for row in rows]


def handoff_view(row: Any, deliveries: dict[str, int]) -> dict[str, Any]:
    """One handoff as JSON-ready data."""

    def iso(value: datetime | None) -> str | None:
        return value.isoformat() if value is not None else None

    name = " ".join(p for p in (row.first_name, row.last_name) if p) or None
    return {
        "id": row.id,
        "lead_id": row.lead_id,
        "lead_name": name,
        "lead_email": row.email,
        "lead_score": row.score,
        "trigger": row.trigger,
        "team": row.team,
        "assigned_to": row.assigned_to,
        "sla": row.sla,
        "status": row.status,
        "contact_by": iso(row.contact_by),
        "due_at": iso(row.due_at),
        "created_at": iso(row.created_at),
        "upgraded_at": iso(row.upgraded_at),
        "acknowledged_at": iso(row.acknowledged_at),
        "acknowledged_by": row.acknowledged_by,
        "escalated_at": iso(row.escalated_at),
        "closed_at": iso(row.closed_at),
        "deliveries": {status: deliveries.get(status, 0) for status in OUTBOX_STATUSES},
    }
