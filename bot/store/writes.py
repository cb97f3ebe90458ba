"""SQL of the lead write path: leads of sessions, events, answers, contact details, scores.

The lead service runs these inside the one transaction of a write (or of a
rescore batch); nothing here opens a transaction, scores or decides anything.
What is written is described by plain values: an event or an answer is
anything with the fields of :class:`~bot.store.records.EventRecord` or :class:`AnswerRecord`
(the chat's and storefront's commands have them), a score is a :class:`NewScore`.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import Text, bindparam, func, insert, select, type_coerce, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection

from bot.store.ids import new_lead_id
from bot.store.models import Answer, Lead, LeadEvent, ScoreSnapshot, StageTransition
from bot.store.records import EventRecord
from bot.store.types import dumps

# Contact columns a shopper's contact details write (``None``: unchanged).
CONTACT_COLUMNS = ("first_name", "last_name", "email", "phone", "consent_text", "consent_at")
# Chat events that also set a timestamp column on the lead, so list filters and
# the lead page need not scan events.
LEAD_FLAG_EVENTS = {"opt_out": "opted_out_at", "human_requested": "human_requested_at"}

# Statements of the write path, built once: constructing a statement and its cache
# key costs more than running it on SQLite, and this path runs on every chat turn
# and storefront batch.
_LEADS = Lead.__table__
_LEADS_OF_SESSIONS = select(_LEADS.c.id, _LEADS.c.merged_into, _LEADS.c.session_id).where(
    _LEADS.c.session_id.in_(bindparam("sessions", expanding=True))
)
KNOWN_EVENT_IDS = select(LeadEvent.__table__.c.event_id).where(
    LeadEvent.__table__.c.event_id.in_(bindparam("ids", expanding=True))
)
KNOWN_ANSWER_IDS = select(Answer.__table__.c.answer_id).where(
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


class AnswerRecord(Protocol):
    """An answer as the store keeps it."""

    @property
    def answer_id(self) -> str:
        """Its idempotency key."""

    @property
    def key(self) -> str:
        """The question answered."""

    @property
    def raw(self) -> str:
        """What the shopper wrote."""

    @property
    def value(self) -> Any:
        """The parsed answer."""

    @property
    def status(self) -> str:
        """``answered`` or ``unknown``."""

    @property
    def answered_at(self) -> datetime:
        """When it was answered (aware UTC)."""


# -- leads, events, answers, contact details ---------------------------------------------


def lead_ids(
    connection: Connection, sources: Mapping[str, str], now: datetime
) -> tuple[dict[str, str], set[str]]:
    """Lead id of each session (merges followed), creating missing leads in bulk.

    ``sources`` maps each session to where a new lead of it comes from
    (chat or storefront). Returns the mapping and the ids of leads created now.
    """
    session_ids = list(sources)
    found = {
        row.session_id: str(row.merged_into or row.id)
        for row in connection.execute(_LEADS_OF_SESSIONS, {"sessions": session_ids})
    }
    missing = {session_id: new_lead_id() for session_id in session_ids if session_id not in found}
    if not missing:
        return found, set()
    # ON CONFLICT DO NOTHING rather than a savepoint: a concurrent writer may have
    # created some of these leads, and on SQLite a savepoint opening the
    # transaction would commit the new leads even if this write later failed.
    insert_leads = (
        pg_insert(_LEADS) if connection.dialect.name == "postgresql" else sqlite_insert(_LEADS)
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


def known_ids(connection: Connection, lookup: Any, ids: list[str]) -> set[str]:
    """Which of ``ids`` are stored already (``lookup``: :data:`KNOWN_EVENT_IDS` or answers')."""
    if not ids:
        return set()
    return set(connection.execute(lookup, {"ids": ids}).scalars())


def event_row(lead_id: str, event: EventRecord, now: datetime) -> dict[str, Any]:
    """The row of ``event`` on lead ``lead_id``, for :func:`insert_events`."""
    return {
        "event_id": event.event_id,
        "lead_id": lead_id,
        "type": event.type,
        "source": event.source,
        "ts": event.ts,
        "product_id": event.product_id,
        "variant_id": event.variant_id,
        "value": event.value,
        "properties": event.properties,
        "created_at": now,
    }


def insert_events(connection: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Insert event rows (one multi-row statement)."""
    if rows:
        connection.execute(_INSERT_EVENTS, list(rows))


def record_answer(connection: Connection, lead_id: str, answer: AnswerRecord) -> None:
    """Store ``answer``; it becomes the current answer to its question unless a newer one is."""
    answers = Answer.__table__
    current = answers.c.lead_id == lead_id, answers.c.key == answer.key
    newer = connection.execute(
        select(func.max(answers.c.answered_at)).where(
            *current,
            answers.c.superseded_at.is_(None),
            answers.c.answered_at > answer.answered_at,
        )
    ).scalar_one_or_none()
    if newer is None:
        connection.execute(
            update(answers)
            .where(*current, answers.c.superseded_at.is_(None))
            .values(superseded_at=answer.answered_at)
        )
    # An answer older than the current one (e.g. replayed late from a spool)
    # joins the history as already superseded; the newer answer stays current.
    connection.execute(
        insert(answers).values(
            lead_id=lead_id,
            answer_id=answer.answer_id,
            key=answer.key,
            raw=answer.raw,
            value=answer.value,
            status=answer.status,
            answered_at=answer.answered_at,
            superseded_at=newer,
        )
    )


def flag_change(kind: str, ts: datetime) -> dict[str, Any]:
    """The lead column an event of ``kind`` sets (first time only), if it sets one."""
    flag = LEAD_FLAG_EVENTS.get(kind)
    if flag is None:
        return {}
    return {flag: func.coalesce(_LEADS.c[flag], ts)}


def chat_change(source: str, ts: datetime) -> dict[str, Any]:
    """The lead column a chat event sets: when the shopper first chatted."""
    if source != "chat":
        return {}
    return {"chatted_at": func.coalesce(_LEADS.c.chatted_at, ts)}


def update_leads(
    connection: Connection,
    changes: Mapping[str, Mapping[str, Any]],
    now: datetime,
    *,
    unchanged_too: bool,
) -> None:
    """Apply each lead's column ``changes`` (``unchanged_too``: touch the others' updated_at)."""
    for lead_id, values in changes.items():
        if values or unchanged_too:
            connection.execute(
                update(_LEADS).where(_LEADS.c.id == lead_id).values(**values, updated_at=now)
            )


# -- scores ---------------------------------------------------------------------------


@dataclass(frozen=True)
class NewScore:
    """A lead's score as the scorer gave it, in the store's terms."""

    score: int
    intent_score: int
    fit_score: int
    stage: str
    reasons: list[dict[str, Any]]
    # Whether time alone can still change it (a decay rescore reads only such leads).
    decaying: bool


@dataclass(frozen=True)
class StageChange:
    """A stage transition a flush wrote."""

    lead_id: str
    from_stage: str
    to_stage: str


@dataclass(frozen=True)
class Flushed:
    """What :meth:`ScoreWrites.flush` wrote: rescored leads and stage changes."""

    rescored: int
    stage_changes: list[StageChange]


def scoring_state(connection: Connection, lead_ids: Sequence[str]) -> list[Any]:
    """The score, stage, reasons and facts of the leads ``lead_ids`` (rows)."""
    return list(connection.execute(_SCORING_STATE, {"ids": list(lead_ids)}).all())


def rescore_batch(
    connection: Connection,
    after_id: str,
    high: str | None,
    limit: int,
    *,
    everything: bool,
) -> list[Any]:
    """The next ``limit`` leads to rescore after ``after_id`` (before ``high``), locked.

    Merged leads are included (and to be skipped by the caller) so the query walks
    the id index in order instead of sorting every lead. Without ``everything``,
    only leads whose score can still change with time are read.
    """
    query = (
        select(
            _LEADS.c.id,
            _LEADS.c.score_facts,
            _LEADS.c.facts_version,
            _LEADS.c.stage,
            _LEADS.c.score,
            _LEADS.c.intent_score,
            _LEADS.c.fit_score,
            # Compared as stored text: decoding every lead's reasons costs more.
            type_coerce(_LEADS.c.reasons, Text).label("reasons_text"),
            _LEADS.c.decaying,
            _LEADS.c.merged_into,
        )
        .where(_LEADS.c.id > after_id)
        .order_by(_LEADS.c.id)
        .limit(limit)
        .with_for_update()
    )
    if not everything:
        # Matches the (decaying, id) index: dormant leads are never read.
        query = query.where(_LEADS.c.decaying.is_(True))
    if high is not None:
        query = query.where(_LEADS.c.id < high)
    return list(connection.execute(query).all())


class ScoreWrites:
    """Score updates of one transaction, and the history they leave, written together.

    History is snapshots, stage transitions and ``stage_changed`` events. Rows
    are those of :func:`scoring_state` (a write) or :func:`rescore_batch` (a
    rescore).
    """

    def __init__(self) -> None:
        self.snapshots: list[dict[str, Any]] = []
        self.transitions: list[dict[str, Any]] = []
        self.events: list[dict[str, Any]] = []
        self._folded: list[dict[str, Any]] = []
        self._rescored: list[dict[str, Any]] = []
        self._rebuilt: list[dict[str, Any]] = []

    def folded(self, row: Any, new: NewScore, facts: str, cause: str, now: datetime) -> None:
        """A write folded new ``facts`` (JSON) into ``row``'s lead, which now scores ``new``."""
        update_row = self._changes(row, new, cause, now) or _unchanged(row)
        update_row.update(b_facts=facts, b_decaying=new.decaying)
        self._folded.append(update_row)

    def rescored(self, row: Any, new: NewScore, cause: str, now: datetime) -> None:
        """``row``'s unchanged facts now score ``new`` (unless a writer moves them meanwhile).

        A full rescore (decay) moves almost every score a little: it keeps a
        snapshot only when the stage changes, so history grows with events,
        not with the number of rescore runs.
        """
        update_row = self._changes(row, new, cause, now, snapshot_on_stage_change_only=True)
        if update_row is None and new.decaying != row.decaying:
            update_row = _unchanged(row)
        if update_row is not None:
            update_row.update(b_version=row.facts_version, b_decaying=new.decaying)
            self._rescored.append(update_row)

    def rebuilt(self, row: Any, facts: str) -> None:
        """``row``'s lead had no facts: keep ``facts`` rebuilt from its history."""
        self._rebuilt.append({"b_id": row.id, "b_version": row.facts_version, "b_facts": facts})

    def _changes(
        self,
        row: Any,
        new: NewScore,
        cause: str,
        now: datetime,
        *,
        snapshot_on_stage_change_only: bool = False,
    ) -> dict[str, Any] | None:
        """Record what changed between ``row`` and ``new``; the lead update, if any."""
        changed = (
            new.score != row.score
            or new.intent_score != row.intent_score
            or new.fit_score != row.fit_score
            or new.stage != row.stage
            or not _same_reasons(row, new.reasons)
        )
        if not changed:
            return None
        if new.stage != row.stage or not snapshot_on_stage_change_only:
            self.snapshots.append(
                {
                    "lead_id": row.id,
                    "score": new.score,
                    "intent_score": new.intent_score,
                    "fit_score": new.fit_score,
                    "stage": new.stage,
                    "reasons": new.reasons,
                    "cause": cause,
                    "created_at": now,
                }
            )
        stage_at = None
        if new.stage != row.stage:
            stage_at = now
            self.transitions.append(
                {
                    "lead_id": row.id,
                    "from_stage": row.stage,
                    "to_stage": new.stage,
                    "score": new.score,
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
                        "to": new.stage,
                        "score": new.score,
                        "cause": cause,
                    },
                    "created_at": now,
                }
            )
        return {
            "b_id": row.id,
            "b_score": new.score,
            "b_intent": new.intent_score,
            "b_fit": new.fit_score,
            "b_stage": new.stage,
            "b_reasons": new.reasons,
            "b_stage_at": stage_at,
        }

    def _drop(self, lead_ids: set[str]) -> None:
        """Forget the history collected for ``lead_ids`` (their update did not happen)."""
        self.snapshots = [row for row in self.snapshots if row["lead_id"] not in lead_ids]
        self.transitions = [row for row in self.transitions if row["lead_id"] not in lead_ids]
        self.events = [row for row in self.events if row["lead_id"] not in lead_ids]

    def flush(self, connection: Connection, now: datetime) -> Flushed:
        """Write everything collected; what was rescored and which stages changed."""
        if self._rebuilt:
            connection.execute(_STORE_REBUILT_FACTS, self._rebuilt)
        for item in (*self._folded, *self._rescored):
            item["b_now"] = now
        if self._folded:
            connection.execute(_STORE_SCORE, self._folded)
        rescored = self._rescored
        if rescored:
            updated = connection.execute(_RESCORE, rescored)
            # This transaction now holds the write lock: any lead whose version moved
            # since the read was rescored by its writer, so its history rows are stale.
            if updated.rowcount != len(rescored):
                read = {item["b_id"]: item["b_version"] for item in rescored}
                moved = {
                    found.id
                    for found in connection.execute(
                        select(_LEADS.c.id, _LEADS.c.facts_version).where(
                            _LEADS.c.id.in_(list(read))
                        )
                    )
                    if found.facts_version != read[found.id]
                }
                self._drop(moved)
                rescored = [item for item in rescored if item["b_id"] not in moved]
        changes = [
            StageChange(t["lead_id"], t["from_stage"], t["to_stage"]) for t in self.transitions
        ]
        if self.snapshots:
            connection.execute(_INSERT_SNAPSHOTS, self.snapshots)
        if self.transitions:
            connection.execute(_INSERT_TRANSITIONS, self.transitions)
            hot = [t["lead_id"] for t in self.transitions if t["to_stage"] == "hot"]
            if hot:
                # Once hot, a qualified lead for good: cooling down later does not undo it.
                connection.execute(
                    update(_LEADS)
                    .where(_LEADS.c.id.in_(hot), _LEADS.c.lifecycle_stage.in_(("visitor", "lead")))
                    .values(lifecycle_stage="qualified_lead")
                )
        if self.events:
            connection.execute(_INSERT_EVENTS, self.events)
        self.snapshots, self.transitions, self.events = [], [], []
        self._folded, self._rescored, self._rebuilt = [], [], []
        return Flushed(rescored=len(rescored), stage_changes=changes)


def _unchanged(row: Any) -> dict[str, Any]:
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
