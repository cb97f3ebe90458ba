"""The lead repository: the only code that reads or writes lead tables."""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from bot.store.commands import Command, RecordAnswer, RecordEvent, UpdateContact, restore_decimals
from bot.store.models import Answer, Lead, LeadEvent, utcnow

# Chat events that also set a timestamp column on the lead, so list filters and
# the lead page need not scan events.
_LEAD_FLAG_EVENTS = {"opt_out": "opted_out_at", "human_requested": "human_requested_at"}


def new_lead_id() -> str:
    """A stable, URL-safe lead id."""
    return uuid.uuid4().hex


@dataclass(frozen=True)
class LeadFilters:
    """Filters of the lead list."""

    session_id: str | None = None
    stage: str | None = None
    status: str | None = None
    min_score: int | None = None


@dataclass(frozen=True)
class LeadPage:
    """One page of leads and the cursor of the next page (``None`` on the last)."""

    items: list[dict[str, Any]]
    next_cursor: str | None


class InvalidCursor(ValueError):
    """A pagination cursor that this server did not issue."""


def encode_cursor(created_at: datetime, lead_id: str) -> str:
    """Opaque keyset cursor: the last item's (created_at, id)."""
    raw = json.dumps([created_at.isoformat(), lead_id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    """Inverse of :func:`encode_cursor`; raises :class:`InvalidCursor`."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        created_at, lead_id = json.loads(base64.urlsafe_b64decode(padded))
        return datetime.fromisoformat(created_at), str(lead_id)
    except (ValueError, TypeError, binascii.Error) as exc:
        raise InvalidCursor("cursor is not one returned by this API") from exc


class LeadRepository:
    """Applies commands and serves lead views. Each call is one transaction."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._sessions = sessionmaker(engine, future=True, expire_on_commit=False)

    def apply(self, commands: Sequence[Command]) -> None:
        """Apply ``commands`` atomically; already-applied ones are skipped (idempotent).

        Written with Core statements (one multi-row insert for events): this runs
        on every chat turn, where ORM unit-of-work bookkeeping would dominate.
        """
        if not commands:
            return
        now = utcnow()
        with self._engine.begin() as connection:
            lead_ids = {
                session_id: self._lead_id(connection, session_id, now)
                for session_id in dict.fromkeys(command.session_id for command in commands)
            }
            seen_events = self._existing(
                connection,
                LeadEvent.__table__.c.event_id,
                [c.event_id for c in commands if isinstance(c, RecordEvent)],
            )
            seen_answers = self._existing(
                connection,
                Answer.__table__.c.answer_id,
                [c.answer_id for c in commands if isinstance(c, RecordAnswer)],
            )
            event_rows: list[dict[str, Any]] = []
            lead_changes: dict[str, dict[str, Any]] = {lead_id: {} for lead_id in lead_ids.values()}
            for command in commands:
                lead_id = lead_ids[command.session_id]
                if isinstance(command, RecordAnswer):
                    if command.answer_id not in seen_answers:
                        seen_answers.add(command.answer_id)
                        self._record_answer(connection, lead_id, command)
                elif isinstance(command, RecordEvent):
                    if command.event_id not in seen_events:
                        seen_events.add(command.event_id)
                        event_rows.append(_event_row(lead_id, command, now))
                        flag = _LEAD_FLAG_EVENTS.get(command.type)
                        if flag:
                            column = Lead.__table__.c[flag]
                            lead_changes[lead_id][flag] = func.coalesce(column, command.ts)
                else:
                    lead_changes[lead_id].update(_contact_changes(command))
            if event_rows:
                connection.execute(insert(LeadEvent.__table__), event_rows)
            leads = Lead.__table__
            for lead_id, changes in lead_changes.items():
                connection.execute(
                    update(leads).where(leads.c.id == lead_id).values(**changes, updated_at=now)
                )

    @staticmethod
    def _existing(connection: Connection, column: Any, ids: list[str]) -> set[str]:
        if not ids:
            return set()
        return set(connection.execute(select(column).where(column.in_(ids))).scalars())

    @staticmethod
    def _lead_id(connection: Connection, session_id: str, now: datetime) -> str:
        leads = Lead.__table__
        found = connection.execute(
            select(leads.c.id).where(leads.c.session_id == session_id)
        ).scalar_one_or_none()
        if found is not None:
            return str(found)
        lead_id = new_lead_id()
        # A concurrent writer may create the same session's lead: a savepoint lets
        # us fall back to its row instead of failing the whole batch.
        try:
            with connection.begin_nested():
                connection.execute(
                    insert(leads).values(
                        id=lead_id,
                        session_id=session_id,
                        reasons=[],
                        created_at=now,
                        updated_at=now,
                    )
                )
        except IntegrityError:
            return str(
                connection.execute(
                    select(leads.c.id).where(leads.c.session_id == session_id)
                ).scalar_one()
            )
        return lead_id

    @staticmethod
    def _record_answer(connection: Connection, lead_id: str, command: RecordAnswer) -> None:
        answers = Answer.__table__
        connection.execute(
            update(answers)
            .where(
                answers.c.lead_id == lead_id,
                answers.c.key == command.key,
                answers.c.superseded_at.is_(None),
            )
            .values(superseded_at=command.answered_at)
        )
        connection.execute(
            insert(answers).values(
                lead_id=lead_id,
                answer_id=command.answer_id,
                key=command.key,
                raw=command.raw,
                value=command.value,
                status=command.status,
                answered_at=command.answered_at,
            )
        )

    def get_lead(self, lead_id: str) -> dict[str, Any] | None:
        """The lead's JSON view, or ``None``."""
        with self._sessions() as session:
            lead = session.get(Lead, lead_id)
            if lead is None:
                return None
            return lead_view(lead, self._current_answers(session, [lead.id]).get(lead.id, []))

    def get_lead_by_session(self, session_id: str) -> dict[str, Any] | None:
        """The lead of a chat/storefront session, or ``None``."""
        with self._sessions() as session:
            lead = session.execute(
                select(Lead).where(Lead.session_id == session_id)
            ).scalar_one_or_none()
            if lead is None:
                return None
            return lead_view(lead, self._current_answers(session, [lead.id]).get(lead.id, []))

    def list_leads(
        self, filters: LeadFilters, *, limit: int = 50, cursor: str | None = None
    ) -> LeadPage:
        """Leads, oldest first, keyset-paginated by (created_at, id)."""
        query = select(Lead).order_by(Lead.created_at, Lead.id).limit(limit + 1)
        if filters.session_id is not None:
            query = query.where(Lead.session_id == filters.session_id)
        if filters.stage is not None:
            query = query.where(Lead.stage == filters.stage)
        if filters.status is not None:
            query = query.where(Lead.status == filters.status)
        if filters.min_score is not None:
            query = query.where(Lead.score >= filters.min_score)
        if cursor is not None:
            created_at, lead_id = decode_cursor(cursor)
            query = query.where(
                (Lead.created_at > created_at)
                | ((Lead.created_at == created_at) & (Lead.id > lead_id))
            )
        with self._sessions() as session:
            leads = list(session.execute(query).scalars())
            page, more = leads[:limit], len(leads) > limit
            answers = self._current_answers(session, [lead.id for lead in page])
            items = [lead_view(lead, answers.get(lead.id, [])) for lead in page]
        next_cursor = encode_cursor(page[-1].created_at, page[-1].id) if more else None
        return LeadPage(items=items, next_cursor=next_cursor)

    def answer_history(self, lead_id: str, key: str) -> list[dict[str, Any]]:
        """Every answer given to ``key``, oldest first."""
        with self._sessions() as session:
            rows = session.execute(
                select(Answer)
                .where(Answer.lead_id == lead_id, Answer.key == key)
                .order_by(Answer.answered_at, Answer.id)
            ).scalars()
            return [answer_view(row) for row in rows]

    def events(self, lead_id: str, types: Iterable[str] | None = None) -> list[dict[str, Any]]:
        """The lead's events in time order, optionally only some types."""
        query = select(LeadEvent).where(LeadEvent.lead_id == lead_id)
        if types is not None:
            query = query.where(LeadEvent.type.in_(list(types)))
        with self._sessions() as session:
            rows = session.execute(query.order_by(LeadEvent.ts, LeadEvent.id)).scalars()
            return [event_view(row) for row in rows]

    @staticmethod
    def _current_answers(session: Session, lead_ids: list[str]) -> dict[str, list[Answer]]:
        if not lead_ids:
            return {}
        rows = session.execute(
            select(Answer)
            .where(Answer.lead_id.in_(lead_ids), Answer.superseded_at.is_(None))
            .order_by(Answer.answered_at, Answer.id)
        ).scalars()
        grouped: dict[str, list[Answer]] = {}
        for row in rows:
            grouped.setdefault(row.lead_id, []).append(row)
        return grouped


def _event_row(lead_id: str, command: RecordEvent, now: datetime) -> dict[str, Any]:
    return {
        "event_id": command.event_id,
        "lead_id": lead_id,
        "type": command.type,
        "source": command.source,
        "ts": command.ts,
        "product_id": command.product_id,
        "variant_id": command.variant_id,
        "value": command.value,
        "properties": command.properties,
        "created_at": now,
    }


_CONTACT_FIELDS = ("first_name", "last_name", "email", "phone", "consent_text", "consent_at")


def _contact_changes(command: UpdateContact) -> dict[str, Any]:
    return {
        name: getattr(command, name)
        for name in _CONTACT_FIELDS
        if getattr(command, name) is not None
    }


def answer_view(answer: Answer) -> dict[str, Any]:
    """One answer as JSON-ready data (money as Decimal)."""
    return {
        "raw": answer.raw,
        "value": restore_decimals(answer.value),
        "status": answer.status,
        "answered_at": answer.answered_at.isoformat(),
    }


def event_view(event: LeadEvent) -> dict[str, Any]:
    """One event as JSON-ready data."""
    return {
        "event_id": event.event_id,
        "type": event.type,
        "source": event.source,
        "ts": event.ts.isoformat(),
        "product_id": event.product_id,
        "variant_id": event.variant_id,
        "value": event.value,
        "properties": event.properties,
    }


def lead_view(lead: Lead, answers: list[Answer]) -> dict[str, Any]:
    """The public lead JSON (see ARCHITECTURE.md, "Leads")."""
    return {
        "id": lead.id,
        "session_id": lead.session_id,
        "first_name": lead.first_name,
        "last_name": lead.last_name,
        "email": lead.email,
        "phone": lead.phone,
        "company": lead.company,
        "source": lead.source,
        "status": lead.status,
        "stage": lead.stage,
        "score": lead.score,
        "intent_score": lead.intent_score,
        "fit_score": lead.fit_score,
        "reasons": lead.reasons or [],
        "answers": {answer.key: answer_view(answer) for answer in answers},
        "consent": {
            "given_at": lead.consent_at.isoformat() if lead.consent_at else None,
            "text": lead.consent_text,
        },
        "opted_out_at": lead.opted_out_at.isoformat() if lead.opted_out_at else None,
        "human_requested_at": (
            lead.human_requested_at.isoformat() if lead.human_requested_at else None
        ),
        "created_at": lead.created_at.isoformat(),
        "updated_at": lead.updated_at.isoformat(),
    }
