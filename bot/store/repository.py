"""The lead repository: the only code that reads or writes lead tables."""

from __future__ import annotations

import base64
import binascii
import json
import re
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import (
    Text,
    bindparam,
    delete,
    func,
    insert,
    or_,
    select,
    type_coerce,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from bot.handoff.planner import HandoffNotice, HandoffPlanner, LeadWrite
from bot.scoring import AnswerFact, EventFact, LeadFacts, Scorer, ScoreResult, facts_from_history
from bot.store.commands import Command, RecordAnswer, RecordEvent, UpdateContact
from bot.store.db import write_transaction
from bot.store.duplicates import duplicate_links, link_duplicates, move_links
from bot.store.models import (
    Answer,
    Handoff,
    HandoffTimer,
    HandoffTrigger,
    Lead,
    LeadEvent,
    LeadMerge,
    LeadNote,
    LeadStatusChange,
    ScoreSnapshot,
    StageTransition,
    utcnow,
)
from bot.store.types import dumps
from bot.store.views import answer_view, event_view, lead_view

# Chat events that also set a timestamp column on the lead, so list filters and
# the lead page need not scan events.
_LEAD_FLAG_EVENTS = {"opt_out": "opted_out_at", "human_requested": "human_requested_at"}


# Statements of the write path, built once: constructing a statement and its cache
# key costs more than running it on SQLite, and this path runs on every chat turn
# and storefront batch.
_LEADS = Lead.__table__
_LEADS_OF_SESSIONS = select(_LEADS.c.id, _LEADS.c.merged_into, _LEADS.c.session_id).where(
    _LEADS.c.session_id.in_(bindparam("sessions", expanding=True))
)
# A write that raced another one with the same ids is retried this many times in all.
DUPLICATE_RETRIES = 3
# Why two leads were merged: only a person decides that (see LeadRepository.merge).
MERGE_REASON = "same person, confirmed"
_KNOWN_EVENT_IDS = select(LeadEvent.__table__.c.event_id).where(
    LeadEvent.__table__.c.event_id.in_(bindparam("ids", expanding=True))
)
_KNOWN_ANSWER_IDS = select(Answer.__table__.c.answer_id).where(
    Answer.__table__.c.answer_id.in_(bindparam("ids", expanding=True))
)
_INSERT_EVENTS = insert(LeadEvent.__table__)
_INSERT_SNAPSHOTS = insert(ScoreSnapshot.__table__)
_INSERT_TRANSITIONS = insert(StageTransition.__table__)
_SCORING_STATE = select(
    _LEADS.c.id,
    _LEADS.c.session_id,
    _LEADS.c.score_facts,
    _LEADS.c.stage,
    _LEADS.c.score,
    _LEADS.c.intent_score,
    _LEADS.c.fit_score,
    _LEADS.c.reasons,
).where(_LEADS.c.id.in_(bindparam("ids", expanding=True)))
_SCORE_VALUES = {
    "score": bindparam("b_score"),
    "intent_score": bindparam("b_intent"),
    "fit_score": bindparam("b_fit"),
    "stage": bindparam("b_stage"),
    "reasons": bindparam("b_reasons"),
    "decaying": bindparam("b_decaying"),
    "scored_at": bindparam("b_now"),
    "stage_changed_at": func.coalesce(bindparam("b_stage_at"), _LEADS.c.stage_changed_at),
}
# A write: new facts, a new score.
_STORE_SCORE = (
    update(_LEADS)
    .where(_LEADS.c.id == bindparam("b_id"))
    .values(
        **_SCORE_VALUES,
        score_facts=bindparam("b_facts"),
        facts_version=_LEADS.c.facts_version + 1,
        updated_at=bindparam("b_now"),
    )
)
# A rescore: the same facts scored later, unless a writer changed them meanwhile.
_UNLESS_MOVED = (
    update(_LEADS)
    .where(_LEADS.c.id == bindparam("b_id"))
    .where(_LEADS.c.facts_version == bindparam("b_version"))
)
_RESCORE = _UNLESS_MOVED.values(**_SCORE_VALUES)
_STORE_REBUILT_FACTS = _UNLESS_MOVED.values(score_facts=bindparam("b_facts"))


def new_lead_id() -> str:
    """A stable, URL-safe lead id."""
    return uuid.uuid4().hex


@dataclass(frozen=True)
class LeadFilters:
    """Filters of the lead list (and of its CSV export)."""

    session_id: str | None = None
    stage: str | None = None
    status: str | None = None
    min_score: int | None = None
    # A source label, any case.
    source: str | None = None
    # Case-insensitive substring of first or last name, e-mail or company.
    q: str | None = None
    updated_since: datetime | None = None

    def apply(self, query: Any) -> Any:
        """``query`` (selecting from leads) narrowed to the leads these filters keep."""
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
        if self.updated_since is not None:
            query = query.where(Lead.updated_at >= self.updated_since)
        if self.q:
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
class LeadPage:
    """One page of leads and the cursor of the next page (``None`` on the last)."""

    items: list[dict[str, Any]]
    next_cursor: str | None


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


@dataclass(frozen=True)
class LeadState:
    """A lead's scoring state right after a write (what the bot and handoff react to)."""

    lead_id: str
    session_id: str
    stage: str
    previous_stage: str
    score: int
    counts: dict[str, int]
    # The lead's open handoff to sales, if any (what the bot promises the shopper).
    handoff: HandoffNotice | None = None
    # Contact fields the lead already has (name, e-mail, phone), e.g. from a web form.
    contact: dict[str, str] = field(default_factory=dict)
    # The variant the shopper last picked on the storefront (selected, added to the cart…).
    picked_variant: str | None = None

    @property
    def became_hot(self) -> bool:
        """Whether this write made the lead hot."""
        return self.stage == "hot" and self.previous_stage != "hot"


@dataclass(frozen=True)
class ApplyResult:
    """What a write did: new vs already-recorded events, and each lead's state."""

    accepted_events: int = 0
    duplicate_events: int = 0
    leads: dict[str, LeadState] = field(default_factory=dict)


@dataclass
class RescoreSummary:
    """What a full rescore did."""

    leads: int = 0
    changed: int = 0
    stage_changes: int = 0


@dataclass
class _Touched:
    """New facts of one lead within a write, to fold into its score."""

    events: list[RecordEvent] = field(default_factory=list)
    answers: list[RecordAnswer] = field(default_factory=list)
    refold: bool = False
    new: bool = False
    causes: list[str] = field(default_factory=list)

    def cause(self) -> str:
        return ", ".join(dict.fromkeys(self.causes))[:120] or "update"


class LeadRepository:
    """Applies commands and serves lead views. Each call is one transaction.

    With a :class:`~bot.scoring.Scorer`, every write rescored the leads it
    touched in the same transaction: folding the new answers and events into
    the lead's facts, keeping a snapshot when the score changes and a stage
    transition (plus a ``stage_changed`` event) when the stage changes.
    """

    def __init__(
        self,
        engine: Engine,
        scorer: Scorer | None = None,
        handoffs: HandoffPlanner | None = None,
    ) -> None:
        self._engine = engine
        self._sessions = sessionmaker(engine, future=True, expire_on_commit=False)
        self.scorer = scorer
        self.handoffs = handoffs

    @property
    def engine(self) -> Engine:
        """The engine this repository writes to."""
        return self._engine

    def apply(self, commands: Sequence[Command], *, now: datetime | None = None) -> ApplyResult:
        """Apply ``commands`` atomically; already-applied ones are skipped (idempotent).

        Written with Core statements (one multi-row insert for events): this runs
        on every chat turn and storefront batch, where ORM unit-of-work
        bookkeeping would dominate.

        Two writers sending the same event or answer at once (a page's fetch and
        its beacon) both find it new; on PostgreSQL the second then hits the
        unique id. Its transaction is retried, and finds the first's rows as
        duplicates.
        """
        if not commands:
            return ApplyResult()
        now = now or utcnow()
        for attempt in range(1, DUPLICATE_RETRIES + 1):
            try:
                return self._apply(commands, now)
            except IntegrityError:
                if attempt == DUPLICATE_RETRIES:
                    raise
        raise AssertionError("unreachable")

    def _apply(self, commands: Sequence[Command], now: datetime) -> ApplyResult:
        with write_transaction(self._engine) as connection:
            sources: dict[str, str] = {}
            for command in commands:
                sources.setdefault(
                    command.session_id,
                    command.source if isinstance(command, RecordEvent) else "chat",
                )
            lead_ids, created = self._lead_ids(connection, sources, now)
            seen_events = self._existing(
                connection,
                _KNOWN_EVENT_IDS,
                [c.event_id for c in commands if isinstance(c, RecordEvent)],
            )
            seen_answers = self._existing(
                connection,
                _KNOWN_ANSWER_IDS,
                [c.answer_id for c in commands if isinstance(c, RecordAnswer)],
            )
            event_rows: list[dict[str, Any]] = []
            duplicates = 0
            touched: dict[str, _Touched] = {
                lead_id: _Touched(new=lead_id in created) for lead_id in lead_ids.values()
            }
            lead_changes: dict[str, dict[str, Any]] = {lead_id: {} for lead_id in lead_ids.values()}
            # E-mail addresses and phone numbers each lead was given in this write.
            identities: dict[str, dict[str, str]] = {}
            for command in commands:
                lead_id = lead_ids[command.session_id]
                if isinstance(command, RecordAnswer):
                    if command.answer_id not in seen_answers:
                        seen_answers.add(command.answer_id)
                        self._record_answer(connection, lead_id, command)
                        touched[lead_id].answers.append(command)
                        touched[lead_id].causes.append(f"answer {command.key}")
                elif isinstance(command, RecordEvent):
                    if command.event_id in seen_events:
                        duplicates += 1
                        continue
                    seen_events.add(command.event_id)
                    event_rows.append(_event_row(lead_id, command, now))
                    touched[lead_id].events.append(command)
                    if command.type != "chat_message":
                        touched[lead_id].causes.append(f"{command.source} {command.type}")
                    flag = _LEAD_FLAG_EVENTS.get(command.type)
                    if flag:
                        column = Lead.__table__.c[flag]
                        lead_changes[lead_id][flag] = func.coalesce(column, command.ts)
                else:
                    changes = _contact_changes(command)
                    lead_changes[lead_id].update(changes)
                    given = {
                        name: changes[name] for name in ("email", "phone") if changes.get(name)
                    }
                    if given:
                        identities.setdefault(lead_id, {}).update(given)
            if event_rows:
                connection.execute(_INSERT_EVENTS, event_rows)
            leads = Lead.__table__
            for lead_id, changes in lead_changes.items():
                # With scoring, the score update below sets updated_at of every lead.
                if changes or self.scorer is None:
                    connection.execute(
                        update(leads).where(leads.c.id == lead_id).values(**changes, updated_at=now)
                    )
            # A chat (or a form through it) cannot prove who is typing: a known
            # e-mail address or phone links the lead to the one that has it, and
            # changes nothing on that lead (see bot.store.duplicates).
            for lead_id, given in identities.items():
                link_duplicates(connection, lead_id, given, now)
            states: dict[str, LeadState] = {}
            if self.scorer is not None:
                states = self._rescore_touched(connection, touched, now)
        return ApplyResult(
            accepted_events=len(event_rows),
            duplicate_events=duplicates,
            leads={
                session: states[lead_id]
                for session, lead_id in lead_ids.items()
                if lead_id in states
            },
        )

    def _rescore_touched(
        self, connection: Connection, touched: dict[str, _Touched], now: datetime
    ) -> dict[str, LeadState]:
        assert self.scorer is not None
        rows = connection.execute(_SCORING_STATE, {"ids": list(touched)}).all()
        states: dict[str, LeadState] = {}
        updates: list[dict[str, Any]] = []
        writes = _ScoreWrites()
        lead_writes: list[LeadWrite] = []
        for row in rows:
            news = touched[row.id]
            if news.refold or (row.score_facts is None and not news.new):
                facts = self.load_facts(connection, row.id)
                last_seen = None
            else:
                facts = LeadFacts.from_json(row.score_facts)
                last_seen = facts.activity[-1] if facts.activity else None
                facts.fold(news.events, news.answers)
            result = self.scorer.score(facts, now)
            update_row = writes.add(row, result, news.cause(), now) or writes.unchanged(row)
            update_row["b_facts"] = facts.to_json()
            update_row["b_decaying"] = result.changes_with_time
            updates.append(update_row)
            states[row.id] = LeadState(
                lead_id=row.id,
                session_id=row.session_id,
                stage=result.stage,
                previous_stage=row.stage,
                score=result.score,
                counts=facts.counts,
                picked_variant=facts.variant[0] if facts.variant else None,
            )
            lead_writes.append(
                LeadWrite(
                    lead_id=row.id,
                    previous_stage=row.stage,
                    stage=result.stage,
                    events=news.events,
                    answers=news.answers,
                    last_seen_before=(
                        datetime.fromtimestamp(last_seen, timezone.utc)
                        if last_seen is not None
                        else None
                    ),
                )
            )
        if updates:
            for row in updates:
                row["b_now"] = now
            connection.execute(_STORE_SCORE, updates)
        writes.flush(connection)
        if self.handoffs is not None:
            notices = self.handoffs.after_write(connection, lead_writes, now)
            states = {
                lead_id: replace(state, handoff=notices.get(lead_id))
                for lead_id, state in states.items()
            }
        return states

    def rescore_all(
        self,
        now: datetime | None = None,
        *,
        batch_size: int = 2000,
        cause: str = "rescore",
        id_range: tuple[str, str | None] = ("", None),
        everything: bool = False,
        progress: Callable[[int], None] | None = None,
    ) -> RescoreSummary:
        """Rescore every lead (for decay or a new configuration), one batch per transaction.

        Streams leads in id order (``id_range`` = [low, high) lets several
        processes share the work), so memory stays flat however many there are.
        For decay, only leads whose score can still change with time are read;
        ``everything`` rescores every lead (after a configuration or catalogue
        change).
        Safe while the servers write: a lead whose facts changed between reading
        and writing keeps the newer score its writer gave it (PostgreSQL also
        locks the batch's rows).
        """
        if self.scorer is None:
            raise RuntimeError("rescoring needs a repository built with a scorer")
        now = now or utcnow()
        summary = RescoreSummary()
        last_id, high = id_range
        while True:
            with write_transaction(self._engine) as connection:
                fetched, seen, changed, stage_changes, last_id = self._rescore_batch(
                    connection, last_id, high, batch_size, cause, now, everything
                )
            if not fetched:
                return summary
            summary.leads += seen
            summary.changed += changed
            summary.stage_changes += stage_changes
            if progress is not None:
                progress(seen)

    def _rescore_batch(
        self,
        connection: Connection,
        after_id: str,
        high: str | None,
        limit: int,
        cause: str,
        now: datetime,
        everything: bool,
    ) -> tuple[int, int, int, int, str]:
        """Rescore one batch: (rows read, leads scored, changed, stage changes, last id)."""
        assert self.scorer is not None
        leads = Lead.__table__
        query = (
            select(
                leads.c.id,
                leads.c.score_facts,
                leads.c.facts_version,
                leads.c.stage,
                leads.c.score,
                leads.c.intent_score,
                leads.c.fit_score,
                # Compared as stored text: decoding every lead's reasons costs more.
                type_coerce(leads.c.reasons, Text).label("reasons_text"),
                leads.c.decaying,
                leads.c.merged_into,
            )
            # Merged leads are skipped below rather than filtered here, so the
            # query walks the id index in order instead of sorting every lead.
            .where(leads.c.id > after_id)
            .order_by(leads.c.id)
            .limit(limit)
            .with_for_update()
        )
        if not everything:
            # Matches the (decaying, id) index: dormant leads are never read.
            query = query.where(leads.c.decaying.is_(True))
        if high is not None:
            query = query.where(leads.c.id < high)
        rows = connection.execute(query).all()
        if not rows:
            return 0, 0, 0, 0, after_id
        writes = _ScoreWrites()
        scored = 0
        updates: list[dict[str, Any]] = []
        rebuilt: list[dict[str, Any]] = []
        for row in rows:
            if row.merged_into is not None:
                continue
            scored += 1
            if row.score_facts is None:
                facts = self.load_facts(connection, row.id)
                rebuilt.append(
                    {"b_id": row.id, "b_version": row.facts_version, "b_facts": facts.to_json()}
                )
            else:
                facts = LeadFacts.from_json(row.score_facts)
            result = self.scorer.score(facts, now)
            update_row = writes.add(row, result, cause, now, snapshot_on_stage_change_only=True)
            decaying = result.changes_with_time
            if update_row is None and decaying != row.decaying:
                update_row = writes.unchanged(row)
            if update_row is not None:
                update_row["b_version"] = row.facts_version
                update_row["b_decaying"] = decaying
                updates.append(update_row)
        if rebuilt:
            connection.execute(_STORE_REBUILT_FACTS, rebuilt)
        if updates:
            for item in updates:
                item["b_now"] = now
            updated = connection.execute(_RESCORE, updates)
            # This transaction now holds the write lock: any lead whose version moved
            # since the read was rescored by its writer, so its history rows are stale.
            if updated.rowcount != len(updates):
                read = {row.id: row.facts_version for row in rows}
                moved = {
                    found.id
                    for found in connection.execute(
                        select(leads.c.id, leads.c.facts_version).where(
                            leads.c.id.in_([item["b_id"] for item in updates])
                        )
                    )
                    if found.facts_version != read[found.id]
                }
                writes.drop(moved)
                updates = [item for item in updates if item["b_id"] not in moved]
        stage_changes = len(writes.transitions)
        # A lead can become hot with time alone (its purchase date comes closer) or
        # under a new configuration: the stage triggers hand it off like any write.
        became = [
            LeadWrite(lead_id=t["lead_id"], previous_stage=t["from_stage"], stage=t["to_stage"])
            for t in writes.transitions
        ]
        writes.flush(connection)
        if self.handoffs is not None and became:
            self.handoffs.after_write(connection, became, now)
        return len(rows), scored, len(updates), stage_changes, rows[-1].id

    @staticmethod
    def load_facts(connection: Connection, lead_id: str) -> LeadFacts:
        """Rebuild a lead's facts from its stored events and current answers."""
        events = LeadEvent.__table__
        answers = Answer.__table__
        event_rows = connection.execute(
            select(
                events.c.type,
                events.c.ts,
                events.c.product_id,
                events.c.variant_id,
                events.c.properties,
            ).where(events.c.lead_id == lead_id)
        )
        answer_rows = connection.execute(
            select(answers.c.key, answers.c.value, answers.c.status, answers.c.answered_at).where(
                answers.c.lead_id == lead_id, answers.c.superseded_at.is_(None)
            )
        )
        return facts_from_history(
            (EventFact(r.type, r.ts, r.product_id, r.variant_id, r.properties) for r in event_rows),
            (AnswerFact(r.key, r.value, r.status, r.answered_at) for r in answer_rows),
        )

    def merge(
        self,
        connection: Connection,
        survivor: str,
        lead_id: str,
        *,
        by: str,
        now: datetime,
    ) -> None:
        """Merge lead ``lead_id`` into ``survivor`` (both surviving, locked by the caller).

        A person's decision (see :meth:`bot.store.leadbook.LeadBook.merge`):
        answers, events, snapshots, stage history, handoffs, notes and status
        changes move to the survivor; the latest answer to each question is the
        current one; contact fields are only added where the survivor has none,
        never replaced; the survivor is rescored on everything it now holds.
        """
        self._merge_into(connection, survivor, lead_id, by, now)
        if self.scorer is not None:
            self._rescore_touched(
                connection, {survivor: _Touched(refold=True, causes=["merge"])}, now
            )

    @staticmethod
    def _merge_into(
        connection: Connection, survivor: str, lead_id: str, by: str, now: datetime
    ) -> None:
        leads = Lead.__table__
        absorbed = connection.execute(select(leads).where(leads.c.id == lead_id)).one()
        kept = connection.execute(select(leads).where(leads.c.id == survivor)).one()
        answers = Answer.__table__
        for table in (answers, LeadEvent.__table__, ScoreSnapshot.__table__):
            connection.execute(
                update(table).where(table.c.lead_id == lead_id).values(lead_id=survivor)
            )
        for table in (
            StageTransition.__table__,
            Handoff.__table__,
            LeadNote.__table__,
            LeadStatusChange.__table__,
        ):
            connection.execute(
                update(table).where(table.c.lead_id == lead_id).values(lead_id=survivor)
            )
        # A trigger fires once per person: the survivor's firing (and timer) wins.
        for table in (HandoffTrigger.__table__, HandoffTimer.__table__):
            kept_triggers = select(table.c.trigger).where(table.c.lead_id == survivor)
            connection.execute(
                delete(table).where(table.c.lead_id == lead_id, table.c.trigger.in_(kept_triggers))
            )
            connection.execute(
                update(table).where(table.c.lead_id == lead_id).values(lead_id=survivor)
            )
        _supersede_older_duplicates(connection, survivor)
        fill = {
            name: absorbed._mapping[name]
            for name in (
                "first_name",
                "last_name",
                "email",
                "phone",
                "company",
                "position",
                "address",
                "consent_at",
                "consent_text",
                "opted_out_at",
                "human_requested_at",
            )
            if kept._mapping[name] is None and absorbed._mapping[name] is not None
        }
        connection.execute(
            update(leads).where(leads.c.id == survivor).values(**fill, updated_at=now)
        )
        # Chains stay one hop: leads merged into the absorbed lead now point at the survivor.
        connection.execute(
            update(leads).where(leads.c.merged_into == lead_id).values(merged_into=survivor)
        )
        connection.execute(
            update(leads)
            .where(leads.c.id == lead_id)
            .values(
                merged_into=survivor,
                decaying=False,
                email=None,
                score=0,
                intent_score=0,
                fit_score=0,
                stage="cold",
                reasons=[],
                score_facts=None,
                updated_at=now,
            )
        )
        move_links(connection, lead_id, survivor)
        connection.execute(
            insert(LeadMerge.__table__).values(
                survivor_id=survivor,
                absorbed_id=lead_id,
                absorbed_session_id=absorbed.session_id,
                reason=MERGE_REASON,
                merged_at=now,
                merged_by=by,
            )
        )
        connection.execute(
            insert(LeadEvent.__table__).values(
                event_id=f"merge:{lead_id}",
                lead_id=survivor,
                type="lead_merged",
                source="system",
                ts=now,
                properties={"absorbed_id": lead_id, "reason": MERGE_REASON, "by": by},
                created_at=now,
            )
        )

    @staticmethod
    def _existing(connection: Connection, statement: Any, ids: list[str]) -> set[str]:
        if not ids:
            return set()
        return set(connection.execute(statement, {"ids": ids}).scalars())

    @classmethod
    def _lead_ids(
        cls, connection: Connection, sources: dict[str, str], now: datetime
    ) -> tuple[dict[str, str], set[str]]:
        """Lead id of each session (merges followed), creating missing leads in bulk.

        ``sources`` maps each session to where a new lead of it comes from
        (chat or storefront). Returns the mapping and the ids of leads created now.
        """
        session_ids = list(sources)
        leads = Lead.__table__
        found = {
            row.session_id: str(row.merged_into or row.id)
            for row in connection.execute(_LEADS_OF_SESSIONS, {"sessions": session_ids})
        }
        missing = {
            session_id: new_lead_id() for session_id in session_ids if session_id not in found
        }
        if not missing:
            return found, set()
        # ON CONFLICT DO NOTHING rather than a savepoint: a concurrent writer may have
        # created some of these leads, and on SQLite a savepoint opening the
        # transaction would commit the new leads even if this write later failed.
        insert_leads = (
            pg_insert(leads) if connection.dialect.name == "postgresql" else sqlite_insert(leads)
        ).on_conflict_do_nothing(index_elements=["session_id"])
        connection.execute(
            insert_leads,
            [
                {
                    "id": lead_id,
                    "session_id": session_id,
                    "source": sources[session_id],
                    "status": "New",
                    "stage": "cold",
                    "score": 0,
                    "intent_score": 0,
                    "fit_score": 0,
                    "facts_version": 0,
                    "reasons": [],
                    "created_at": now,
                    "updated_at": now,
                }
                for session_id, lead_id in missing.items()
            ],
        )
        stored = {
            row.session_id: row
            for row in connection.execute(_LEADS_OF_SESSIONS, {"sessions": list(missing)})
        }
        created = set()
        for session_id, lead_id in missing.items():
            row = stored[session_id]
            found[session_id] = str(row.merged_into or row.id)
            if row.id == lead_id:
                created.add(lead_id)
        return found, created

    @staticmethod
    def _record_answer(connection: Connection, lead_id: str, command: RecordAnswer) -> None:
        answers = Answer.__table__
        current = answers.c.lead_id == lead_id, answers.c.key == command.key
        newer = connection.execute(
            select(func.max(answers.c.answered_at)).where(
                *current,
                answers.c.superseded_at.is_(None),
                answers.c.answered_at > command.answered_at,
            )
        ).scalar_one_or_none()
        if newer is None:
            connection.execute(
                update(answers)
                .where(*current, answers.c.superseded_at.is_(None))
                .values(superseded_at=command.answered_at)
            )
        # An answer older than the current one (e.g. replayed late from a spool)
        # joins the history as already superseded; the newer answer stays current.
        connection.execute(
            insert(answers).values(
                lead_id=lead_id,
                answer_id=command.answer_id,
                key=command.key,
                raw=command.raw,
                value=command.value,
                status=command.status,
                answered_at=command.answered_at,
                superseded_at=newer,
            )
        )

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
        query = filters.apply(select(Lead)).order_by(*order).limit(limit + 1)
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

    def _views(self, session: Session, leads: list[Lead]) -> list[dict[str, Any]]:
        """The JSON views of ``leads``: their answers and duplicates read in one query each."""
        ids = [lead.id for lead in leads]
        answers = self._current_answers(session, ids)
        duplicates = duplicate_links(session.connection(), ids)
        views = []
        for lead in leads:
            view = lead_view(lead, answers.get(lead.id, []), duplicates=duplicates[lead.id])
            # The stage as marketing and sales tools name it (SQL, MQL), per the scoring config.
            view["qualification"] = (
                self.scorer.config.report_label(lead.stage) if self.scorer is not None else None
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

    def lead_state(self, session_id: str) -> LeadState | None:
        """The scoring state of a session's lead (``None`` before its first write)."""
        leads = Lead.__table__
        with self._engine.connect() as connection:
            row = connection.execute(
                select(leads.c.id, leads.c.merged_into).where(leads.c.session_id == session_id)
            ).one_or_none()
            if row is None:
                return None
            lead = connection.execute(
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
            handoff = (
                self.handoffs.open_handoffs(connection, [lead.id], utcnow()).get(lead.id)
                if self.handoffs is not None
                else None
            )
        facts = LeadFacts.from_json(lead.score_facts)
        return LeadState(
            lead_id=lead.id,
            session_id=session_id,
            stage=lead.stage,
            previous_stage=lead.stage,
            score=lead.score,
            counts=facts.counts,
            handoff=handoff,
            contact={
                name: value
                for name in ("first_name", "last_name", "email", "phone")
                if (value := getattr(lead, name))
            },
            picked_variant=facts.variant[0] if facts.variant else None,
        )

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


class _ScoreWrites:
    """Snapshots, stage transitions and ``stage_changed`` events of one write, inserted together."""

    def __init__(self) -> None:
        self.snapshots: list[dict[str, Any]] = []
        self.transitions: list[dict[str, Any]] = []
        self.events: list[dict[str, Any]] = []

    def add(
        self,
        row: Any,
        result: ScoreResult,
        cause: str,
        now: datetime,
        *,
        snapshot_on_stage_change_only: bool = False,
    ) -> dict[str, Any] | None:
        """Record what changed between ``row`` and ``result``; the lead update, if any.

        A full rescore (decay) moves almost every score a little: it keeps a
        snapshot only when the stage changes, so history grows with events,
        not with the number of rescore runs.
        """
        reasons = result.reasons_json()
        changed = (
            result.score != row.score
            or result.intent_score != row.intent_score
            or result.fit_score != row.fit_score
            or result.stage != row.stage
            or not _same_reasons(row, reasons)
        )
        if not changed:
            return None
        if result.stage != row.stage or not snapshot_on_stage_change_only:
            self.snapshots.append(
                {
                    "lead_id": row.id,
                    "score": result.score,
                    "intent_score": result.intent_score,
                    "fit_score": result.fit_score,
                    "stage": result.stage,
                    "reasons": reasons,
                    "cause": cause,
                    "created_at": now,
                }
            )
        stage_at = None
        if result.stage != row.stage:
            stage_at = now
            self.transitions.append(
                {
                    "lead_id": row.id,
                    "from_stage": row.stage,
                    "to_stage": result.stage,
                    "score": result.score,
                    "cause": cause,
                    "at": now,
                }
            )
            self.events.append(
                {
                    "event_id": f"stage:{row.id}:{uuid.uuid4().hex}",
                    "lead_id": row.id,
                    "type": "stage_changed",
                    "source": "system",
                    "ts": now,
                    "product_id": None,
                    "variant_id": None,
                    "value": None,
                    "properties": {
                        "from": row.stage,
                        "to": result.stage,
                        "score": result.score,
                        "cause": cause,
                    },
                    "created_at": now,
                }
            )
        return {
            "b_id": row.id,
            "b_score": result.score,
            "b_intent": result.intent_score,
            "b_fit": result.fit_score,
            "b_stage": result.stage,
            "b_reasons": reasons,
            "b_stage_at": stage_at,
        }

    @staticmethod
    def unchanged(row: Any) -> dict[str, Any]:
        """The lead update that keeps ``row``'s score as it is."""
        return {
            "b_id": row.id,
            "b_score": row.score,
            "b_intent": row.intent_score,
            "b_fit": row.fit_score,
            "b_stage": row.stage,
            "b_reasons": _stored_reasons(row),
            "b_stage_at": None,
        }

    def drop(self, lead_ids: set[str]) -> None:
        """Forget what was collected for ``lead_ids`` (their update did not happen)."""
        self.snapshots = [row for row in self.snapshots if row["lead_id"] not in lead_ids]
        self.transitions = [row for row in self.transitions if row["lead_id"] not in lead_ids]
        self.events = [row for row in self.events if row["lead_id"] not in lead_ids]

    def flush(self, connection: Connection) -> None:
        """Insert everything collected."""
        if self.snapshots:
            connection.execute(_INSERT_SNAPSHOTS, self.snapshots)
        if self.transitions:
            connection.execute(_INSERT_TRANSITIONS, self.transitions)
            hot = [t["lead_id"] for t in self.transitions if t["to_stage"] == "hot"]
            if hot:
                # Once hot, a qualified lead for good: cooling down later does not undo it.
                connection.execute(
                    update(Lead.__table__)
                    .where(
                        Lead.__table__.c.id.in_(hot),
                        Lead.__table__.c.lifecycle_stage.in_(("visitor", "lead")),
                    )
                    .values(lifecycle_stage="qualified_lead")
                )
        if self.events:
            connection.execute(_INSERT_EVENTS, self.events)
        self.snapshots, self.transitions, self.events = [], [], []


def _raw_reasons(row: Any) -> Any:
    # SQLite hands the reasons over as stored text; PostgreSQL's driver decodes JSONB.
    return row.reasons_text if "reasons_text" in row._fields else row.reasons


def _stored_reasons(row: Any) -> list[dict[str, Any]]:
    raw = _raw_reasons(row)
    reasons: list[dict[str, Any]] = json.loads(raw) if isinstance(raw, str) else list(raw or [])
    return reasons


def _same_reasons(row: Any, reasons: list[dict[str, Any]]) -> bool:
    """Whether ``row`` stores exactly ``reasons``."""
    raw = _raw_reasons(row)
    if isinstance(raw, str):
        return raw == dumps(reasons)
    return bool(reasons == (raw or []))


def _supersede_older_duplicates(connection: Connection, lead_id: str) -> None:
    """After a merge, keep only the latest current answer per question."""
    answers = Answer.__table__
    rows = connection.execute(
        select(answers.c.id, answers.c.key, answers.c.answered_at)
        .where(answers.c.lead_id == lead_id, answers.c.superseded_at.is_(None))
        .order_by(answers.c.answered_at.desc(), answers.c.id.desc())
    ).all()
    latest: dict[str, datetime] = {}
    for row in rows:
        if row.key in latest:
            connection.execute(
                update(answers).where(answers.c.id == row.id).values(superseded_at=latest[row.key])
            )
        else:
            latest[row.key] = row.answered_at


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
