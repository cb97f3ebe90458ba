"""Reads of leads: the lead list (filters, sorts, keyset cursors), a lead, its history.

Every read follows merges: a merged lead's id or session stands for the lead it
was merged into. Views are JSON-ready dicts (:mod:`bot.store.views`).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import String, any_, func, literal_column, or_, select
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session, sessionmaker

from bot.store.duplicates import duplicate_links
from bot.store.models import (
    LEAD_STAGES,
    OPEN_STATUSES,
    Answer,
    Handoff,
    Lead,
    LeadCount,
    LeadEvent,
    ScoreSnapshot,
    StageTransition,
)
from bot.store.search import matches, search_words
from bot.store.views import answer_view, event_view, lead_view

# Sort orders of the lead list: name → (column, descending).
LEAD_SORTS = {
    "created_at": ("created_at", False),
    "-created_at": ("created_at", True),
    "updated_at": ("updated_at", False),
    "-updated_at": ("updated_at", True),
    "score": ("score", False),
    "-score": ("score", True),
}


@dataclass(frozen=True)
class LeadFilters:
    """Filters of the lead list (and of its CSV export)."""

    session_id: str | None = None
    stage: str | None = None
    status: str | None = None
    min_score: int | None = None
    # A source label, any case.
    source: str | None = None
    # Full-text search (:mod:`bot.store.search`): every word starts a word of the names,
    # e-mail, phone, company or current answers. Without a letter or digit: a substring
    # of the names, e-mail or company.
    q: str | None = None
    updated_since: datetime | None = None
    updated_until: datetime | None = None
    created_since: datetime | None = None
    created_until: datetime | None = None
    # Leads handed to this team, or assigned to this rep, at any time.
    team: str | None = None
    rep: str | None = None

    @property
    def tallied(self) -> bool:
        """Whether ``lead_counts`` holds the counts: only stage, status and source are set."""
        return all(
            getattr(self, name) is None
            for name in self.__dataclass_fields__
            if name not in {"stage", "status", "source"}
        )

    def apply(self, query: Any, dialect: str = "sqlite", *, drive: bool = True) -> Any:
        """``query`` (selecting from leads) narrowed to the leads these filters keep.

        ``drive=False``: on SQLite the team, rep and search terms are kept out of
        the planner's choice of index (``+leads.id``), for a query that another
        index narrows more (the few leads with an open handoff); SQLite would
        otherwise start from the team's or the search's thousands of leads.
        """
        lead_id = Lead.id if drive or dialect != "sqlite" else literal_column("+leads.id", String)
        query = query.where(Lead.merged_into.is_(None))
        if self.session_id is not None:
            # Every session a lead ever had finds it: a merged lead's row keeps its
            # session and points at the lead it was merged into.
            owner = (
                select(func.coalesce(Lead.merged_into, Lead.id))
                .where(Lead.session_id == self.session_id)
                .scalar_subquery()
            )
            query = query.where(Lead.id == owner)
        for column, value in ((Lead.stage, self.stage), (Lead.status, self.status)):
            if value is not None:
                query = query.where(column == value)
        if self.source is not None:
            # Sources are stored as people wrote them: "Trade show" finds "trade show"
            # too. The database lowers both sides alike (SQLite only ASCII letters).
            query = query.where(func.lower(Lead.source) == func.lower(self.source))
        if self.min_score is not None:
            query = query.where(Lead.score >= self.min_score)
        for column, since, until in (
            (Lead.updated_at, self.updated_since, self.updated_until),
            (Lead.created_at, self.created_since, self.created_until),
        ):
            if since is not None:
                query = query.where(column >= since)
            if until is not None:
                query = query.where(column < until)
        for handoff_column, value in ((Handoff.team, self.team), (Handoff.assigned_to, self.rep)):
            if value is not None:
                # Driven by the handoffs' index: few leads have handoffs.
                handed = select(Handoff.lead_id).where(handoff_column == value)
                if drive and dialect == "postgresql":
                    # Probed lead by lead through the id index: as a semi-join, the
                    # planner hashes the team's leads and reads every lead's index.
                    query = query.where(Lead.id == any_(func.array(handed.scalar_subquery())))
                else:
                    query = query.where(lead_id.in_(handed))
        words = search_words(self.q or "")
        if words:
            query = query.where(matches(dialect, words, drive=drive))
        elif self.q:
            pattern = "%" + re.sub(r"([\\%_])", r"\\\1", self.q.lower()) + "%"
            query = query.where(
                or_(
                    *(
                        func.lower(column).like(pattern, escape="\\")
                        for column in (Lead.first_name, Lead.last_name, Lead.email, Lead.company)
                    )
                )
            )
        return query


@dataclass(frozen=True)
class LeadPage:
    """One page of leads and the cursor of the next page (``None`` on the last)."""

    items: list[dict[str, Any]]
    next_cursor: str | None


# The sales inbox's own order (see LeadQueries.inbox).
INBOX_SORT = "urgency"


@dataclass(frozen=True)
class InboxPage:
    """One page of the sales inbox, the leads per stage and in all that the filters keep."""

    items: list[dict[str, Any]]
    counts: dict[str, int]
    total: int


class InvalidCursor(ValueError):
    """A pagination cursor that this server did not issue."""


def encode_cursor(sort: str, value: Any, lead_id: str) -> str:
    """Opaque keyset cursor: the sort order and the last item's (sort value, id)."""
    shown = value.isoformat() if isinstance(value, datetime) else value
    raw = json.dumps([sort, shown, lead_id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, sort: str) -> tuple[Any, str]:
    """Inverse of :func:`encode_cursor` for ``sort``; raises :class:`InvalidCursor`."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        issued_for, value, lead_id = json.loads(base64.urlsafe_b64decode(padded))
        column, _ = LEAD_SORTS[sort]
        if issued_for != sort:
            raise InvalidCursor(f"this cursor belongs to sort={issued_for}, not sort={sort}")
        if not isinstance(lead_id, str):
            raise TypeError(lead_id)
        if column == "score":
            # Within the column's range: a bigger number makes the driver fail.
            if not isinstance(value, int) or isinstance(value, bool) or abs(value) >= 2**31:
                raise TypeError(value)
            return value, lead_id
        moment = datetime.fromisoformat(value)
        # The store compares aware UTC times only (and refuses naive ones).
        if moment.tzinfo is None or moment.utcoffset() is None:
            raise TypeError(value)
        return moment.astimezone(timezone.utc), lead_id
    except InvalidCursor:
        raise
    except (ValueError, TypeError, KeyError, OverflowError, binascii.Error) as exc:
        raise InvalidCursor("cursor is not one returned by this API") from exc


class LeadQueries:
    """Lead views, each read in its own session.

    ``qualification`` names a stage as marketing and sales tools do (SQL, MQL):
    every lead view carries it as ``qualification``.
    """

    def __init__(
        self, engine: Engine, qualification: Callable[[str], str | None] | None = None
    ) -> None:
        self._engine = engine
        self._sessions = sessionmaker(engine, future=True, expire_on_commit=False)
        self._qualification = qualification
        self._dialect = engine.dialect.name

    def get_lead(self, lead_id: str) -> dict[str, Any] | None:
        """The lead's JSON view, or ``None``."""
        with self._sessions() as session:
            lead = session.get(Lead, lead_id)
            if lead is not None and lead.merged_into is not None:
                lead = session.get(Lead, lead.merged_into)
            if lead is None:
                return None
            return self._views(session, [lead])[0]

    def get_lead_by_session(self, session_id: str) -> dict[str, Any] | None:
        """The lead of a chat/storefront session, or ``None``."""
        with self._sessions() as session:
            lead = session.execute(
                select(Lead).where(Lead.session_id == session_id)
            ).scalar_one_or_none()
            if lead is not None and lead.merged_into is not None:
                lead = session.get(Lead, lead.merged_into)
            if lead is None:
                return None
            return self._views(session, [lead])[0]

    def list_leads(
        self,
        filters: LeadFilters,
        *,
        limit: int = 50,
        cursor: str | None = None,
        sort: str = "created_at",
    ) -> LeadPage:
        """Leads in ``sort`` order (see :data:`LEAD_SORTS`), keyset-paginated with the id."""
        name, descending = LEAD_SORTS[sort]
        column = getattr(Lead, name)
        order = (column.desc(), Lead.id.desc()) if descending else (column, Lead.id)
        query = filters.apply(select(Lead), self._dialect).order_by(*order).limit(limit + 1)
        if cursor is not None:
            value, lead_id = decode_cursor(cursor, sort)
            after = (
                (column < value) | ((column == value) & (Lead.id < lead_id))
                if descending
                else (column > value) | ((column == value) & (Lead.id > lead_id))
            )
            query = query.where(after)
        with self._sessions() as session:
            leads = list(session.execute(query).scalars())
            page, more = leads[:limit], len(leads) > limit
            items = self._views(session, page)
        last = page[-1] if page else None
        next_cursor = (
            encode_cursor(sort, getattr(last, name), last.id) if more and last is not None else None
        )
        return LeadPage(items=items, next_cursor=next_cursor)

    def stage_counts(self, filters: LeadFilters) -> dict[str, int]:
        """How many leads of each stage these filters keep (every stage named).

        Filters of stage, status and source only are read from ``lead_counts``
        (kept by triggers, migration 0008) instead of counting the leads.
        """
        if filters.tallied:
            counts = LeadCount.__table__
            query = select(counts.c.stage, func.sum(counts.c.leads)).group_by(counts.c.stage)
            for column, value in (
                (counts.c.stage, filters.stage),
                (counts.c.status, filters.status),
            ):
                if value is not None:
                    query = query.where(column == value)
            if filters.source is not None:
                query = query.where(counts.c.source == func.lower(filters.source))
        else:
            query = filters.apply(select(Lead.stage, func.count()), self._dialect).group_by(
                self._stage_key(filters)
            )
        with self._engine.connect() as connection:
            counted = {stage: int(count) for stage, count in connection.execute(query)}
        return {stage: counted.get(stage, 0) for stage in LEAD_STAGES}

    def _stage_key(self, filters: LeadFilters) -> Any:
        """``leads.stage``, hidden from SQLite's planner when another filter narrows more.

        Given a range, a search or a handoff filter, SQLite would still walk the
        (stage, score) index of every lead to group or order by stage, although
        the filter's own index finds the few leads at once; ``+stage`` (the same
        value, no longer an indexed column) makes it take the filter's index.
        """
        narrowing = (
            filters.session_id,
            filters.source,
            filters.min_score,
            filters.q,
            filters.updated_since,
            filters.updated_until,
            filters.created_since,
            filters.created_until,
            filters.team,
            filters.rep,
        )
        if self._dialect == "sqlite" and any(value is not None for value in narrowing):
            return literal_column("+leads.stage", String)
        return Lead.stage

    def inbox(
        self, filters: LeadFilters, *, offset: int = 0, limit: int = 50, sort: str = INBOX_SORT
    ) -> InboxPage:
        """A page of the sales inbox: who to call now first (see :data:`INBOX_SORT`).

        In the inbox order, leads with an open (unacknowledged) handoff come
        first, soonest SLA due time first; then hot, warm and cold leads, each
        by score, highest first. Any :data:`LEAD_SORTS` order can be asked too.
        Each item carries ``handoff``: the lead's newest open or acknowledged
        handoff (``id, status, team, assigned_to, due_at, acknowledged_by``) or ``None``.
        """
        counts = self.stage_counts(filters)
        with self._sessions() as session:
            if sort == INBOX_SORT:
                leads = self._inbox_leads(session, filters, counts, offset, limit)
            else:
                name, descending = LEAD_SORTS[sort]
                column = getattr(Lead, name)
                order = (column.desc(), Lead.id.desc()) if descending else (column, Lead.id)
                query = filters.apply(select(Lead), self._dialect).order_by(*order)
                leads = list(session.execute(query.offset(offset).limit(limit)).scalars())
            items = self._views(session, leads)
            handoffs = _active_handoffs(session, [lead.id for lead in leads])
        for item in items:
            item["handoff"] = handoffs.get(item["id"])
        return InboxPage(items=items, counts=counts, total=sum(counts.values()))

    def _inbox_leads(
        self,
        session: Session,
        filters: LeadFilters,
        counts: dict[str, int],
        offset: int,
        limit: int,
    ) -> list[Lead]:
        """The inbox order read segment by segment, each through its own index.

        Leads with an open handoff (``open_due_at``, kept by triggers) come
        first, then each stage by score. A segment the filters keep only a
        sliver of is read from the filters' own index and sorted, instead of
        walking the stage's index past the many leads they drop (a search for
        a phone number would otherwise read every cold lead).
        """
        waiting = Lead.open_due_at.is_not(None)
        handed_by_stage = {
            stage: count
            for stage, count in session.execute(
                filters.apply(select(Lead.stage, func.count()), self._dialect, drive=False)
                .where(waiting)
                .group_by(Lead.stage)
            )
        }
        segments: list[tuple[int, Any]] = [
            (
                sum(handed_by_stage.values()),
                filters.apply(select(Lead), self._dialect, drive=False)
                .where(waiting)
                .order_by(Lead.open_due_at, Lead.id),
            )
        ]
        total = self._stage_totals()
        for stage in ("hot", "warm", "cold"):
            size = counts[stage] - handed_by_stage.get(stage, 0)
            # Walking the stage's index reads about (offset + limit) x total / size
            # leads to find a page; reading the segment's own leads reads size.
            sliver = size * size < (offset + limit) * max(total.get(stage, 0), 1)
            score = Lead.score + 0 if sliver else Lead.score
            segments.append(
                (
                    size,
                    filters.apply(select(Lead), self._dialect)
                    .where(self._stage_key(filters) == stage, Lead.open_due_at.is_(None))
                    .order_by(score.desc(), Lead.id.desc()),
                )
            )
        leads: list[Lead] = []
        for size, query in segments:
            if offset >= size:
                offset -= size
                continue
            wanted = limit - len(leads)
            leads.extend(session.execute(query.offset(offset).limit(wanted)).scalars())
            offset = 0
            if len(leads) >= limit:
                break
        return leads

    def _stage_totals(self) -> dict[str, int]:
        """Every unmerged lead per stage (from ``lead_counts``)."""
        return self.stage_counts(LeadFilters())

    def _views(self, session: Session, leads: list[Lead]) -> list[dict[str, Any]]:
        """The JSON views of ``leads``: their answers and duplicates read in one query each."""
        ids = [lead.id for lead in leads]
        answers = _current_answers(session, ids)
        duplicates = duplicate_links(session.connection(), ids)
        views = []
        for lead in leads:
            view = lead_view(lead, answers.get(lead.id, []), duplicates=duplicates[lead.id])
            view["qualification"] = (
                self._qualification(lead.stage) if self._qualification is not None else None
            )
            views.append(view)
        return views

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

    def score_history(self, lead_id: str) -> dict[str, Any]:
        """Score snapshots and stage transitions of a lead, oldest first."""
        snapshots = ScoreSnapshot.__table__
        transitions = StageTransition.__table__
        with self._engine.connect() as connection:
            snapshot_rows = connection.execute(
                select(snapshots)
                .where(snapshots.c.lead_id == lead_id)
                .order_by(snapshots.c.created_at, snapshots.c.id)
            ).all()
            transition_rows = connection.execute(
                select(transitions)
                .where(transitions.c.lead_id == lead_id)
                .order_by(transitions.c.at, transitions.c.id)
            ).all()
        return {
            "snapshots": [
                {
                    "score": row.score,
                    "intent_score": row.intent_score,
                    "fit_score": row.fit_score,
                    "stage": row.stage,
                    "reasons": row.reasons,
                    "cause": row.cause,
                    "at": row.created_at.isoformat(),
                }
                for row in snapshot_rows
            ],
            "stage_transitions": [
                {
                    "from": row.from_stage,
                    "to": row.to_stage,
                    "score": row.score,
                    "cause": row.cause,
                    "at": row.at.isoformat(),
                }
                for row in transition_rows
            ],
        }


def session_lead(connection: Connection, session_id: str) -> Any | None:
    """The surviving lead of a session (id, stage, score, facts, contact), or ``None``."""
    leads = Lead.__table__
    row = connection.execute(
        select(leads.c.id, leads.c.merged_into).where(leads.c.session_id == session_id)
    ).one_or_none()
    if row is None:
        return None
    return connection.execute(
        select(
            leads.c.id,
            leads.c.stage,
            leads.c.score,
            leads.c.score_facts,
            leads.c.first_name,
            leads.c.last_name,
            leads.c.email,
            leads.c.phone,
        ).where(leads.c.id == (row.merged_into or row.id))
    ).one()


def _active_handoffs(session: Session, lead_ids: list[str]) -> dict[str, dict[str, Any]]:
    """Each lead's newest open or acknowledged handoff."""
    if not lead_ids:
        return {}
    rows = session.execute(
        select(
            Handoff.id,
            Handoff.lead_id,
            Handoff.status,
            Handoff.team,
            Handoff.assigned_to,
            Handoff.due_at,
            Handoff.acknowledged_by,
        )
        .where(Handoff.lead_id.in_(lead_ids), Handoff.status.in_(OPEN_STATUSES))
        .order_by(Handoff.created_at, Handoff.id)
    )
    # Oldest first, so the newest handoff of each lead wins.
    return {row.lead_id: dict(row._mapping) for row in rows}


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
