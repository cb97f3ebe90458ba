"""What sales do with a lead: read its whole story, set its status, write notes, acknowledge.

The lead page of the web app is built from :meth:`SalesDesk.lead_page`; the
forms on it call the other methods. Each method is one transaction. A lead id
that was merged into another lead stands for the surviving lead everywhere, and
the surviving lead's page also shows what was recorded on the leads it absorbed
(handoffs, notes and status changes stay on the row they were written for).

Statuses feed the scoring review, which counts a lead whose status is ``Won``
as converted.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session, sessionmaker

from bot.store.db import write_transaction
from bot.store.duplicates import duplicate_links
from bot.store.entries import status_reached
from bot.store.lifecycle import STATUS_LIFECYCLE, furthest_lifecycle, lifecycle_of
from bot.store.models import (
    LEAD_STATUSES,
    OPEN_STATUSES,
    Answer,
    DeliveryAttempt,
    Handoff,
    Lead,
    LeadEvent,
    LeadNote,
    LeadStatusChange,
    OutboxMessage,
    StageTransition,
)
from bot.store.views import answer_view, event_view, iso, lead_view, row_view

# The newest events (and chat messages) a page shows: a long-lived lead can have
# thousands, and sales act on the recent ones.
TIMELINE_LIMIT = 500
LEAD_LIST_LIMIT = 100
MAX_NOTE_CHARS = 5000
MAX_REASON_CHARS = 1000
MAX_ACTOR_CHARS = 120  # lead_notes.author, lead_status_changes.changed_by, handoffs.acknowledged_by
# A status that ends the sale closes the lead's handoffs: nobody needs to call any more.
FINAL_STATUSES = ("Won", "Lost")

_LEADS = Lead.__table__
_HANDOFFS = Handoff.__table__
_OUTBOX = OutboxMessage.__table__
_ATTEMPTS = DeliveryAttempt.__table__
_EVENTS = LeadEvent.__table__
_NOTES = LeadNote.__table__
_STATUS_CHANGES = LeadStatusChange.__table__
_TRANSITIONS = StageTransition.__table__


def actor_name(by: str) -> str:
    """Who did it, as stored (``ValueError`` for an empty or over-long name)."""
    name = by.strip()
    if not 1 <= len(name) <= MAX_ACTOR_CHARS:
        raise ValueError(f"by: expected a name of 1 to {MAX_ACTOR_CHARS} characters")
    return name


class SalesDesk:
    """Reads and writes of the lead page; each method is one transaction."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        # The page is read with many statements: on PostgreSQL one snapshot keeps
        # them consistent (a delivery recorded meanwhile shows up everywhere or
        # nowhere). SQLite serialises writers anyway.
        reader = (
            engine.execution_options(isolation_level="REPEATABLE READ")
            if engine.dialect.name == "postgresql"
            else engine
        )
        self._read = sessionmaker(reader, future=True)

    # -- reads -------------------------------------------------------------------------

    def lead_page(self, lead_id: str) -> dict[str, Any] | None:
        """Everything the lead page shows, or ``None`` for an unknown lead.

        ``lead`` is the lead JSON (of the surviving lead when ``lead_id`` was
        merged; ``requested_id`` keeps the id asked for); ``answers`` the current
        answers with raw text, normalised value and each answer's history;
        ``score`` the breakdown with reasons ranked by weight; ``stage_history``,
        ``events`` (without chat messages) and ``transcript`` oldest first (at
        most :data:`TIMELINE_LIMIT` each, ``truncated`` says when older ones were
        left out); ``handoffs`` newest first, each with its ``deliveries``
        (outbox messages and their attempt ``log``); ``notes`` and
        ``status_history`` newest first.
        """
        with self._read() as session, session.begin():
            lead = _surviving(session, lead_id)
            if lead is None:
                return None
            connection = session.connection()
            owners = _owners(connection, lead.id)
            answers = list(
                session.execute(
                    select(Answer)
                    .where(Answer.lead_id == lead.id)
                    .order_by(Answer.answered_at, Answer.id)
                ).scalars()
            )
            current = [answer for answer in answers if answer.superseded_at is None]
            events, events_truncated = _latest_events(connection, lead.id, chat=False)
            chat, chat_truncated = _latest_events(connection, lead.id, chat=True)
            return {
                "requested_id": lead_id,
                "lead": lead_view(
                    lead, current, duplicates=duplicate_links(connection, [lead.id])[lead.id]
                ),
                "absorbed_ids": owners[1:],
                "answers": _answers_with_history(current, answers),
                "score": {
                    "score": lead.score,
                    "intent_score": lead.intent_score,
                    "fit_score": lead.fit_score,
                    "stage": lead.stage,
                    "reasons": sorted(
                        lead.reasons or [], key=lambda reason: -abs(int(reason.get("points", 0)))
                    ),
                },
                "stage_history": _stage_history(connection, lead.id),
                "events": [event_view(event) for event in events],
                "transcript": [
                    {
                        "at": event.ts.isoformat(),
                        "sender": str((event.properties or {}).get("sender") or "unknown"),
                        "text": str((event.properties or {}).get("text") or ""),
                    }
                    for event in chat
                ],
                "truncated": {"events": events_truncated, "transcript": chat_truncated},
                "handoffs": _handoffs_with_deliveries(connection, owners),
                "notes": [
                    row_view(row)
                    for row in connection.execute(
                        select(_NOTES)
                        .where(_NOTES.c.lead_id.in_(owners))
                        .order_by(_NOTES.c.created_at.desc(), _NOTES.c.id.desc())
                    )
                ],
                "status_history": [
                    row_view(row)
                    for row in connection.execute(
                        select(_STATUS_CHANGES)
                        .where(_STATUS_CHANGES.c.lead_id.in_(owners))
                        .order_by(_STATUS_CHANGES.c.at.desc(), _STATUS_CHANGES.c.id.desc())
                    )
                ],
            }

    def list_leads(self, limit: int = LEAD_LIST_LIMIT) -> list[dict[str, Any]]:
        """The newest ``limit`` leads (merged ones left out), each with its active handoff.

        ``handoff`` is the lead's newest open or acknowledged handoff
        (``id``, ``status``, ``due_at``), or ``None``.
        """
        with self._read() as session, session.begin():
            connection = session.connection()
            rows = connection.execute(
                select(
                    _LEADS.c.id,
                    _LEADS.c.first_name,
                    _LEADS.c.last_name,
                    _LEADS.c.email,
                    _LEADS.c.stage,
                    _LEADS.c.score,
                    _LEADS.c.status,
                    _LEADS.c.created_at,
                )
                .where(_LEADS.c.merged_into.is_(None))
                .order_by(_LEADS.c.created_at.desc(), _LEADS.c.id.desc())
                .limit(limit)
            ).all()
            active: dict[str, dict[str, Any]] = {}
            if rows:
                for handoff in connection.execute(
                    select(
                        _HANDOFFS.c.id, _HANDOFFS.c.lead_id, _HANDOFFS.c.status, _HANDOFFS.c.due_at
                    )
                    .where(
                        _HANDOFFS.c.lead_id.in_([row.id for row in rows]),
                        _HANDOFFS.c.status.in_(OPEN_STATUSES),
                    )
                    .order_by(_HANDOFFS.c.created_at)
                ):
                    # Ordered oldest first, so the newest handoff of each lead wins.
                    active[handoff.lead_id] = {
                        "id": handoff.id,
                        "status": handoff.status,
                        "due_at": handoff.due_at.isoformat(),
                    }
        return [
            {
                "id": row.id,
                "first_name": row.first_name,
                "last_name": row.last_name,
                "email": row.email,
                "stage": row.stage,
                "score": row.score,
                "status": row.status,
                "created_at": row.created_at.isoformat(),
                "handoff": active.get(row.id),
            }
            for row in rows
        ]

    def handoff(self, handoff_id: str) -> dict[str, Any] | None:
        """A handoff (every column) with its lead's ``id``, name, stage and score; or ``None``."""
        with self._read() as session, session.begin():
            connection = session.connection()
            row = connection.execute(
                select(_HANDOFFS).where(_HANDOFFS.c.id == handoff_id)
            ).one_or_none()
            if row is None:
                return None
            lead = connection.execute(
                select(
                    _LEADS.c.id,
                    _LEADS.c.merged_into,
                    _LEADS.c.first_name,
                    _LEADS.c.last_name,
                    _LEADS.c.stage,
                    _LEADS.c.score,
                ).where(_LEADS.c.id == row.lead_id)
            ).one()
        view = row_view(row)
        view["lead"] = {
            # The page to open is the surviving lead's (the same page for an absorbed id).
            "id": lead.merged_into or lead.id,
            "first_name": lead.first_name,
            "last_name": lead.last_name,
            "stage": lead.stage,
            "score": lead.score,
        }
        return view

    # -- writes ------------------------------------------------------------------------

    def set_status(
        self, lead_id: str, status: str, *, by: str, reason: str | None, now: datetime
    ) -> dict[str, Any]:
        """Move the lead to sales status ``status``, recording who, when and why.

        Any status but ``New`` acknowledges the lead's open handoffs (someone
        is working on it); ``Won`` and ``Lost`` also close them. Setting the
        current status again changes nothing (``changed`` is false). Raises
        ``ValueError`` for an unknown status or an overlong reason, and
        ``LookupError`` for an unknown lead.
        """
        if status not in LEAD_STATUSES:
            raise ValueError(f"status: expected one of {', '.join(LEAD_STATUSES)}; got {status!r}")
        actor = actor_name(by)
        note = (reason or "").strip() or None
        if note is not None and len(note) > MAX_REASON_CHARS:
            raise ValueError(f"reason: expected at most {MAX_REASON_CHARS} characters")
        with write_transaction(self._engine) as connection:
            lead = _lock_surviving(connection, lead_id)
            return record_status_change(connection, lead, status, actor, note, now)

    def add_note(self, lead_id: str, text: str, *, by: str, now: datetime) -> dict[str, Any]:
        """Add a note to the lead; the stored note.

        Raises ``ValueError`` unless the text has 1 to :data:`MAX_NOTE_CHARS`
        characters (surrounding whitespace removed), ``LookupError`` for an
        unknown lead.
        """
        body = text.strip()
        if not 1 <= len(body) <= MAX_NOTE_CHARS:
            raise ValueError(
                f"text: expected a note of 1 to {MAX_NOTE_CHARS} characters; got {len(body)}"
            )
        actor = actor_name(by)
        with write_transaction(self._engine) as connection:
            lead = _lock_surviving(connection, lead_id)
            inserted = connection.execute(
                insert(_NOTES).values(lead_id=lead.id, author=actor, text=body, created_at=now)
            )
            note_id = inserted.inserted_primary_key[0]
            row = connection.execute(select(_NOTES).where(_NOTES.c.id == note_id)).one()
        return row_view(row)

    def acknowledge(self, handoff_id: str, *, by: str, now: datetime) -> dict[str, Any] | None:
        """Acknowledge an open handoff; the handoff afterwards, or ``None`` if unknown.

        Idempotent: an already acknowledged or closed handoff is returned unchanged.
        """
        actor = actor_name(by)
        with write_transaction(self._engine) as connection:
            _acknowledge(connection, _HANDOFFS.c.id == handoff_id, actor, now)
            row = connection.execute(
                select(_HANDOFFS).where(_HANDOFFS.c.id == handoff_id)
            ).one_or_none()
        return None if row is None else row_view(row)


# -- helpers of one transaction ----------------------------------------------------------


def record_status_change(
    connection: Connection, lead: Any, status: str, by: str, reason: str | None, now: datetime
) -> dict[str, Any]:
    """Move ``lead`` (a locked row with ``id`` and ``status``) to ``status``.

    Keeps the change in the status history and moves the lifecycle forward
    (``Won`` records the conversion time, see :func:`~bot.store.entries.status_reached`);
    acknowledges or closes the lead's handoffs as :meth:`SalesDesk.set_status` says.
    """
    result: dict[str, Any] = {
        "lead_id": lead.id,
        "from": lead.status,
        "status": status,
        "changed": lead.status != status,
        "acknowledged": [],
        "closed": [],
    }
    if lead.status == status:
        return result
    connection.execute(
        insert(_STATUS_CHANGES).values(
            lead_id=lead.id,
            from_status=lead.status,
            to_status=status,
            changed_by=by,
            reason=reason,
            at=now,
        )
    )
    # The lifecycle keeps what the lead reached before (a Lost lead that was an
    # opportunity, or hot, stays one) and moves forward with the new status.
    current = connection.execute(select(_LEADS).where(_LEADS.c.id == lead.id)).one()
    values: dict[str, Any] = {
        "status": status,
        "updated_at": now,
        "lifecycle_stage": furthest_lifecycle(
            lifecycle_of(current), STATUS_LIFECYCLE.get(status, "visitor")
        ),
    }
    connection.execute(update(_LEADS).where(_LEADS.c.id == lead.id).values(**values))
    status_reached(connection, [lead.id], status, now)
    owners = _owners(connection, lead.id)
    if status != "New":
        result["acknowledged"] = _acknowledge(connection, _HANDOFFS.c.lead_id.in_(owners), by, now)
    if status in FINAL_STATUSES:
        result["closed"] = _close(connection, owners, now)
    return result


def load_statuses(connection: Connection, statuses: Mapping[str, str]) -> None:
    """Set the status of the leads of these sessions (``{session_id: status}``) at once.

    For loading histories whose outcome is known (one statement for all): no
    status history, lifecycle or handoff change, as if sales set it long ago.
    """
    if statuses:
        connection.execute(
            update(_LEADS)
            .where(_LEADS.c.session_id == bindparam("b_session"))
            .values(status=bindparam("b_status")),
            [
                {"b_session": session_id, "b_status": status}
                for session_id, status in statuses.items()
            ],
        )


def _surviving(session: Session, lead_id: str) -> Lead | None:
    lead = session.get(Lead, lead_id)
    if lead is not None and lead.merged_into is not None:
        lead = session.get(Lead, lead.merged_into)
    return lead


def surviving_lead(connection: Connection, lead_id: str, *, lock: bool = True) -> Any:
    """The surviving lead (``id``, ``status``) of ``lead_id``, locked; ``None`` if unknown.

    A lead merged into another stands for that lead. Locked so two salespeople
    changing the status at once record two consecutive changes rather than two
    changes from the same old status.
    """
    found = connection.execute(
        select(_LEADS.c.merged_into).where(_LEADS.c.id == lead_id)
    ).one_or_none()
    if found is None:
        return None
    query = select(_LEADS.c.id, _LEADS.c.status).where(
        _LEADS.c.id == (found.merged_into or lead_id)
    )
    return connection.execute(query.with_for_update() if lock else query).one()


def _lock_surviving(connection: Connection, lead_id: str) -> Any:
    """:func:`surviving_lead`, or ``LookupError`` for an unknown lead."""
    lead = surviving_lead(connection, lead_id)
    if lead is None:
        raise LookupError(f"no lead with id {lead_id!r}")
    return lead


def _owners(connection: Connection, lead_id: str) -> list[str]:
    """The lead and the leads merged into it: the rows its handoffs may hang on."""
    absorbed = connection.execute(select(_LEADS.c.id).where(_LEADS.c.merged_into == lead_id))
    return [lead_id, *absorbed.scalars()]


def _acknowledge(connection: Connection, which: Any, by: str, now: datetime) -> list[str]:
    """Acknowledge the open handoffs matching ``which``; their ids."""
    ids = list(
        connection.execute(
            select(_HANDOFFS.c.id).where(which, _HANDOFFS.c.status == "open").with_for_update()
        ).scalars()
    )
    if ids:
        connection.execute(
            update(_HANDOFFS)
            .where(_HANDOFFS.c.id.in_(ids))
            .values(status="acknowledged", acknowledged_at=now, acknowledged_by=by)
        )
    return ids


def _close(connection: Connection, owners: Sequence[str], now: datetime) -> list[str]:
    """Close the open and acknowledged handoffs of ``owners``; their ids."""
    ids = list(
        connection.execute(
            select(_HANDOFFS.c.id)
            .where(_HANDOFFS.c.lead_id.in_(owners), _HANDOFFS.c.status.in_(OPEN_STATUSES))
            .with_for_update()
        ).scalars()
    )
    if ids:
        connection.execute(
            update(_HANDOFFS).where(_HANDOFFS.c.id.in_(ids)).values(status="closed", closed_at=now)
        )
    return ids


def _answers_with_history(current: list[Answer], answers: list[Answer]) -> list[dict[str, Any]]:
    """The current answers in answer order, each with every answer given to its question."""
    history: dict[str, list[dict[str, Any]]] = {}
    for answer in answers:
        view = answer_view(answer)
        view["superseded_at"] = iso(answer.superseded_at)
        history.setdefault(answer.key, []).append(view)
    return [
        {"key": answer.key, **answer_view(answer), "history": history[answer.key]}
        for answer in current
    ]


def _latest_events(connection: Connection, lead_id: str, *, chat: bool) -> tuple[list[Any], bool]:
    """The newest :data:`TIMELINE_LIMIT` (chat or other) events, oldest first; and if more exist."""
    kind = _EVENTS.c.type == "chat_message" if chat else _EVENTS.c.type != "chat_message"
    rows = connection.execute(
        select(_EVENTS)
        .where(_EVENTS.c.lead_id == lead_id, kind)
        .order_by(_EVENTS.c.ts.desc(), _EVENTS.c.id.desc())
        .limit(TIMELINE_LIMIT + 1)
    ).all()
    return list(reversed(rows[:TIMELINE_LIMIT])), len(rows) > TIMELINE_LIMIT


def _stage_history(connection: Connection, lead_id: str) -> list[dict[str, Any]]:
    return [
        {
            "from": row.from_stage,
            "to": row.to_stage,
            "score": row.score,
            "cause": row.cause,
            "at": row.at.isoformat(),
        }
        for row in connection.execute(
            select(_TRANSITIONS)
            .where(_TRANSITIONS.c.lead_id == lead_id)
            .order_by(_TRANSITIONS.c.at, _TRANSITIONS.c.id)
        )
    ]


def _handoffs_with_deliveries(connection: Connection, owners: list[str]) -> list[dict[str, Any]]:
    """Handoffs of ``owners``, newest first, with their outbox messages and delivery log."""
    handoffs = [
        row_view(row)
        for row in connection.execute(
            select(_HANDOFFS)
            .where(_HANDOFFS.c.lead_id.in_(owners))
            .order_by(_HANDOFFS.c.created_at.desc(), _HANDOFFS.c.id)
        )
    ]
    if not handoffs:
        return handoffs
    messages = connection.execute(
        select(
            _OUTBOX.c.id,
            _OUTBOX.c.message_id,
            _OUTBOX.c.handoff_id,
            _OUTBOX.c.channel,
            _OUTBOX.c.kind,
            _OUTBOX.c.status,
            _OUTBOX.c.attempts,
            _OUTBOX.c.next_attempt_at,
            _OUTBOX.c.last_status_code,
            _OUTBOX.c.last_error,
            _OUTBOX.c.created_at,
            _OUTBOX.c.delivered_at,
            _OUTBOX.c.dead_at,
        )
        .where(_OUTBOX.c.handoff_id.in_([handoff["id"] for handoff in handoffs]))
        .order_by(_OUTBOX.c.created_at, _OUTBOX.c.id)
    ).all()
    log: dict[int, list[dict[str, Any]]] = {}
    if messages:
        for attempt in connection.execute(
            select(_ATTEMPTS)
            .where(_ATTEMPTS.c.outbox_id.in_([message.id for message in messages]))
            .order_by(_ATTEMPTS.c.outbox_id, _ATTEMPTS.c.attempt, _ATTEMPTS.c.id)
        ):
            log.setdefault(attempt.outbox_id, []).append(
                {
                    "attempt": attempt.attempt,
                    "at": attempt.started_at.isoformat(),
                    "duration_ms": attempt.duration_ms,
                    "status_code": attempt.status_code,
                    "error": attempt.error,
                    "outcome": attempt.outcome,
                }
            )
    deliveries: dict[str, list[dict[str, Any]]] = {}
    for message in messages:
        view = row_view(message)
        del view["id"]
        # Only a pending message will be tried again.
        if message.status != "pending":
            view["next_attempt_at"] = None
        view["log"] = log.get(message.id, [])
        deliveries.setdefault(message.handoff_id, []).append(view)
    for handoff in handoffs:
        handoff["deliveries"] = deliveries.get(handoff["id"], [])
    return handoffs
