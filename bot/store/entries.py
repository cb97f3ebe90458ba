"""SQL of lead management: leads entered by people and other systems, and what happens to them.

New lead rows (API, web forms, CSV import), contact edits, notes, consent,
conversion to a customer, a person's data, erasure with its tombstones, and the
anonymous leads a purge removes. The lead book and the CSV import call these
inside the transactions they open; field rules live in :mod:`bot.store.contacts`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, bindparam, delete, func, insert, or_, select, update
from sqlalchemy.engine import Connection

from bot.store.ids import new_lead_id
from bot.store.lifecycle import STATUS_LIFECYCLE, furthest_lifecycle, lifecycle_of
from bot.store.models import (
    Answer,
    ConversationEvent,
    ConversationRollup,
    Erasure,
    Handoff,
    Lead,
    LeadEvent,
    LeadMerge,
    LeadNote,
    LeadStatusChange,
    Order,
    ScoreSnapshot,
    StageTransition,
)
from bot.store.views import answer_view, event_view, iso, row_view

_LEADS = Lead.__table__
_NOTES = LeadNote.__table__
_ERASURES = Erasure.__table__
# Lead columns a person or another system writes (the rest is the bot's and the scorer's).
CONTACT_COLUMNS = ("first_name", "last_name", "email", "phone", "company", "position", "address")
# Contact fields left empty (None) keep their value (COALESCE), so one statement
# fills every lead of a batch.
_FILL_CONTACTS = (
    update(_LEADS)
    .where(_LEADS.c.id == bindparam("b_id"))
    .values(
        **{
            name: func.coalesce(bindparam(f"b_{name}", type_=_LEADS.c[name].type), _LEADS.c[name])
            for name in (*CONTACT_COLUMNS, "source")
        },
        lifecycle_stage=bindparam("b_lifecycle"),
        updated_at=bindparam("b_now"),
    )
)
# What a person's data export lists besides answers and events: name → (model, order).
_PERSON_TABLES: dict[str, tuple[Any, Any]] = {
    "notes": (LeadNote, LeadNote.created_at),
    "status_history": (LeadStatusChange, LeadStatusChange.at),
    "score_history": (ScoreSnapshot, ScoreSnapshot.created_at),
    "stage_history": (StageTransition, StageTransition.at),
    "handoffs": (Handoff, Handoff.created_at),
    "merges": (LeadMerge, LeadMerge.merged_at),
}


def new_lead_values(fields: Mapping[str, Any], *, source: str, now: datetime) -> dict[str, Any]:
    """Column values of a lead entered by a person or imported (not met in the chat).

    Such a lead has no storefront session: its session id is derived from its
    id. A later chat by the same person is linked to it as a likely duplicate
    (same e-mail or phone), for sales to merge.
    """
    lead_id = new_lead_id()
    status = fields.get("status") or "New"
    values: dict[str, Any] = {name: fields.get(name) for name in CONTACT_COLUMNS}
    values.update(
        id=lead_id,
        session_id=f"lead-{lead_id}",
        source=fields.get("source") or source,
        status=status,
        stage="cold",
        score=0,
        intent_score=0,
        fit_score=0,
        reasons=[],
        facts_version=0,
        # Nothing happened yet that time could make worth less.
        decaying=False,
        # As far as its status says (a status set later only moves it forward from here).
        lifecycle_stage=furthest_lifecycle("lead", STATUS_LIFECYCLE.get(status, "lead")),
        created_at=now,
        updated_at=now,
    )
    return values


def insert_leads(connection: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert leads (values of :func:`new_lead_values`), in one statement.

    A lead entered with a status has reached it (see :func:`status_reached`).
    """
    if not rows:
        return
    connection.execute(insert(_LEADS), list(rows))
    reached: dict[tuple[str, datetime], list[str]] = {}
    for row in rows:
        reached.setdefault((row["status"], row["created_at"]), []).append(row["id"])
    for (status, at), lead_ids in reached.items():
        status_reached(connection, lead_ids, status, at)


def record_first_status(
    connection: Connection, lead_id: str, status: str, by: str, reason: str | None, now: datetime
) -> None:
    """Start a new lead's status history with ``status`` (a lead entered mid-sale)."""
    connection.execute(
        insert(LeadStatusChange.__table__).values(
            lead_id=lead_id,
            from_status="New",
            to_status=status,
            changed_by=by,
            reason=reason,
            at=now,
        )
    )


def note_row(lead_id: str, text: str, by: str, now: datetime) -> dict[str, Any]:
    """The row of a note, for :func:`insert_notes`."""
    return {"lead_id": lead_id, "author": by, "text": text, "created_at": now}


def insert_notes(connection: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert notes (rows of :func:`note_row`), in one statement."""
    if rows:
        connection.execute(insert(_NOTES), list(rows))


def add_note(connection: Connection, lead_id: str, text: str, by: str, now: datetime) -> None:
    """Add one note to the lead."""
    insert_notes(connection, [note_row(lead_id, text, by, now)])


def write_contact(
    connection: Connection, lead_id: str, columns: Mapping[str, Any], now: datetime
) -> None:
    """Set the lead's contact ``columns`` (and ``source``); its lifecycle moves forward only.

    Where the lead got to stays reached (clearing the e-mail address of a chat
    lead does not make it a visitor again); new contact details make a lead.
    """
    if not columns:
        return
    current = connection.execute(select(_LEADS).where(_LEADS.c.id == lead_id)).one()
    reached = lifecycle_of(current)
    if columns.get("email") or columns.get("phone"):
        reached = furthest_lifecycle(reached, "lead")
    connection.execute(
        update(_LEADS)
        .where(_LEADS.c.id == lead_id)
        .values(**columns, lifecycle_stage=reached, updated_at=now)
    )


def fill_contacts(
    connection: Connection,
    fills: Iterable[tuple[str, Mapping[str, Any], str]],
    now: datetime,
) -> None:
    """Fill leads' contact fields, one statement for all: ``(lead id, fields, lifecycle)``.

    Fields a lead is not given (absent or ``None``) keep their value.
    """
    rows = [
        {
            "b_id": lead_id,
            **{f"b_{name}": fields.get(name) for name in (*CONTACT_COLUMNS, "source")},
            "b_lifecycle": lifecycle,
            "b_now": now,
        }
        for lead_id, fields, lifecycle in fills
    ]
    if rows:
        connection.execute(_FILL_CONTACTS, rows)


def set_consent(connection: Connection, lead_id: str, text: str, now: datetime) -> None:
    """Record that the person consented, now, to ``text``."""
    connection.execute(
        update(_LEADS).where(_LEADS.c.id == lead_id).values(consent_at=now, consent_text=text)
    )


def convert(
    connection: Connection, lead_id: str, customer_group: str | None, now: datetime
) -> None:
    """Make the lead a customer; the first conversion time stays (the group may change)."""
    values: dict[str, Any] = {"lifecycle_stage": "customer", "updated_at": now}
    if customer_group is not None:
        values["customer_group"] = customer_group
    mark_converted(connection, [lead_id], now)
    connection.execute(update(_LEADS).where(_LEADS.c.id == lead_id).values(**values))


def status_reached(
    connection: Connection, lead_ids: Sequence[str], status: str, now: datetime
) -> None:
    """Record what the leads' reaching ``status`` now means besides the status itself.

    Every way a lead gets a status comes here: a new lead entered with one (API,
    CSV import) and a change of status (lead page, API, CSV update).
    Won is a conversion (:func:`mark_converted`).
    """
    if status == "Won":
        mark_converted(connection, lead_ids, now)


def mark_converted(connection: Connection, lead_ids: Sequence[str], now: datetime) -> None:
    """Record that the leads became customers now, unless they already had (the first time stays).

    Every way a lead is won comes here: the API's convert, and status Won
    (:func:`status_reached`).
    """
    connection.execute(
        update(_LEADS)
        .where(_LEADS.c.id.in_(lead_ids), _LEADS.c.converted_at.is_(None))
        .values(converted_at=now)
    )


# -- finding leads -----------------------------------------------------------------------


def erased_at(connection: Connection, lead_id: str) -> datetime | None:
    """When the lead was erased (``None`` if it never was)."""
    found: datetime | None = connection.execute(
        select(_ERASURES.c.erased_at).where(_ERASURES.c.lead_id == lead_id)
    ).scalar_one_or_none()
    return found


def session_lead(connection: Connection, session_id: str) -> str | None:
    """The id of the session's lead row (merged or not), or ``None``."""
    found: str | None = connection.execute(
        select(_LEADS.c.id).where(_LEADS.c.session_id == session_id)
    ).scalar_one_or_none()
    return found


def lead_with_email(connection: Connection, email: str | None) -> str | None:
    """The oldest surviving lead with this e-mail address."""
    if not email:
        return None
    found: str | None = connection.execute(
        select(_LEADS.c.id)
        .where(_LEADS.c.email == email, _LEADS.c.merged_into.is_(None))
        .order_by(_LEADS.c.created_at, _LEADS.c.id)
        .limit(1)
    ).scalar_one_or_none()
    return found


def email_of(connection: Connection, lead_id: str) -> str | None:
    """The lead's e-mail address."""
    found: str | None = connection.execute(
        select(_LEADS.c.email).where(_LEADS.c.id == lead_id)
    ).scalar_one()
    return found


def leads_with_contacts(
    connection: Connection, emails: set[str], phones: set[str], *, lock: bool
) -> list[Any]:
    """Surviving leads having one of ``emails`` or ``phones``, oldest first: one query.

    Rows have ``id``, ``email``, ``phone``, ``status`` and ``lifecycle_stage``;
    ``lock`` locks them for the transaction.
    """
    conditions = []
    if emails:
        conditions.append(_LEADS.c.email.in_(sorted(emails)))
    if phones:
        conditions.append(_LEADS.c.phone.in_(sorted(phones)))
    query = (
        select(
            _LEADS.c.id,
            _LEADS.c.email,
            _LEADS.c.phone,
            _LEADS.c.status,
            _LEADS.c.lifecycle_stage,
        )
        .where(_LEADS.c.merged_into.is_(None), or_(*conditions))
        .order_by(_LEADS.c.created_at, _LEADS.c.id)
    )
    if lock:
        query = query.with_for_update()
    return list(connection.execute(query))


def owner_rows(connection: Connection, lead_id: str) -> list[Any]:
    """The lead and the leads merged into it (``id``, ``session_id``, ``created_at``)."""
    return list(
        connection.execute(
            select(_LEADS.c.id, _LEADS.c.session_id, _LEADS.c.created_at)
            .where((_LEADS.c.id == lead_id) | (_LEADS.c.merged_into == lead_id))
            .order_by(_LEADS.c.created_at)
        )
    )


def anonymous(cutoff: datetime) -> Any:
    """Leads without contact details, not merged, not updated since ``cutoff``."""
    return and_(
        _LEADS.c.email.is_(None),
        _LEADS.c.phone.is_(None),
        _LEADS.c.merged_into.is_(None),
        _LEADS.c.updated_at < cutoff,
    )


def count_matching(connection: Connection, condition: Any) -> int:
    """How many leads match ``condition``."""
    return int(connection.execute(select(func.count()).where(condition)).scalar_one())


def matching_ids(connection: Connection, condition: Any, limit: int) -> list[str]:
    """Up to ``limit`` ids of leads matching ``condition``."""
    return list(connection.execute(select(_LEADS.c.id).where(condition).limit(limit)).scalars())


def matches(connection: Connection, lead_id: str, condition: Any) -> bool:
    """Whether lead ``lead_id`` (its own row) matches ``condition``."""
    return (
        connection.execute(
            select(_LEADS.c.id).where(_LEADS.c.id == lead_id, condition)
        ).one_or_none()
        is not None
    )


# -- a person's data ---------------------------------------------------------------------


def person_data(connection: Connection, owners: Sequence[Any]) -> dict[str, Any]:
    """Everything recorded on the leads ``owners`` (rows of :func:`owner_rows`) as JSON.

    Answers (superseded ones too, with when), events, notes, status, score and
    stage histories, handoffs and merges, oldest first.
    """
    ids = [row.id for row in owners]
    # Core rows (a connection returns columns, not ORM objects): the views
    # read them by attribute like the models.
    answers = connection.execute(
        select(Answer.__table__)
        .where(Answer.lead_id.in_(ids))
        .order_by(Answer.answered_at, Answer.id)
    ).all()
    events = connection.execute(
        select(LeadEvent.__table__)
        .where(LeadEvent.lead_id.in_(ids))
        .order_by(LeadEvent.ts, LeadEvent.id)
    ).all()
    related = {
        name: [
            row_view(row)
            for row in connection.execute(
                select(model.__table__)
                .where(model.survivor_id.in_(ids) if model is LeadMerge else model.lead_id.in_(ids))
                .order_by(order)
            )
        ]
        for name, (model, order) in _PERSON_TABLES.items()
    }
    return {
        "answers": [
            {"key": row.key, **answer_view(row), "superseded_at": iso(row.superseded_at)}
            for row in answers
        ],
        "events": [event_view(row) for row in events],
        **related,
    }


def insert_tombstones(
    connection: Connection,
    lead_id: str,
    owners: Sequence[Any],
    removed: Mapping[str, int],
    *,
    reason: str,
    by: str,
    now: datetime,
) -> None:
    """Leave a tombstone (no personal data) for erased lead ``lead_id`` and each of its owners.

    ``owners`` are the rows of :func:`owner_rows`; ``removed`` counts what was erased.
    """
    tombstone = {"erased_at": now, "reason": reason, "requested_by": by}
    connection.execute(
        insert(_ERASURES),
        [
            {
                **tombstone,
                "lead_id": lead_id,
                "lead_created_at": min(row.created_at for row in owners),
                "removed": dict(removed),
            },
            # The ids of merged leads answer "gone" too.
            *(
                {**tombstone, "lead_id": row.id, "lead_created_at": row.created_at, "removed": {}}
                for row in owners
                if row.id != lead_id
            ),
        ],
    )


def erase_rows(connection: Connection, ids: list[str]) -> dict[str, int]:
    """Delete the leads ``ids`` and what hangs on them; counts per kind."""
    counted = {
        "answers": Answer.__table__,
        "events": LeadEvent.__table__,
        "notes": _NOTES,
        "handoffs": Handoff.__table__,
        # Orders go with the person (ON DELETE CASCADE); unattributed ones name nobody.
        "orders": Order.__table__,
    }
    removed = {
        name: int(
            connection.execute(
                select(func.count()).select_from(table).where(table.c.lead_id.in_(ids))
            ).scalar_one()
        )
        for name, table in counted.items()
    }
    # The event consumer's copies of the person's conversations (cluster profile).
    sessions = select(_LEADS.c.session_id).where(
        _LEADS.c.id.in_(ids) | _LEADS.c.merged_into.in_(ids)
    )
    copies = ConversationEvent.__table__
    removed["conversation_copies"] = int(
        connection.execute(delete(copies).where(copies.c.sender_id.in_(sessions))).rowcount
    )
    rollups = ConversationRollup.__table__
    connection.execute(delete(rollups).where(rollups.c.sender_id.in_(sessions)))
    # Merge records name the absorbed session; they go with the person.
    merges = LeadMerge.__table__
    connection.execute(
        delete(merges).where(merges.c.survivor_id.in_(ids) | merges.c.absorbed_id.in_(ids))
    )
    # Absorbed leads point at the survivor: they go first. Everything else
    # hangs on the leads with ON DELETE CASCADE.
    connection.execute(delete(_LEADS).where(_LEADS.c.merged_into.in_(ids)))
    connection.execute(delete(_LEADS).where(_LEADS.c.id.in_(ids)))
    removed["leads"] = len(ids)
    return removed
