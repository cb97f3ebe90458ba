"""Lead management: leads entered by people and other systems, conversion, and privacy.

The chat and the storefront create leads through the lead service's commands
(:class:`bot.leads.service.LeadService`); this module serves everything else a
lead-management system does: manual entry and edits (API, web forms),
conversion to a customer, a person's data export, erasure and the purge of old
anonymous leads. Every method is one transaction; a web form's contact details
on a chat session's lead and merges go through the lead service, so they are
scored and linked like the chat's. Field rules live in :mod:`bot.store.contacts`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, func, insert, select, update
from sqlalchemy.engine import Connection, Engine

from bot import clock
from bot.leads.commands import UpdateContact
from bot.leads.service import LeadService
from bot.store.contacts import clean_lead_fields
from bot.store.db import write_transaction
from bot.store.duplicates import link_duplicates, without_details
from bot.store.ids import new_lead_id
from bot.store.lifecycle import STATUS_LIFECYCLE, furthest_lifecycle, lifecycle_of
from bot.store.models import (
    Answer,
    Erasure,
    Handoff,
    Lead,
    LeadEvent,
    LeadMerge,
    LeadNote,
    LeadStatusChange,
    ScoreSnapshot,
    StageTransition,
)
from bot.store.sales import _actor, _row_view, record_status_change, surviving_lead
from bot.store.tracker import ConversationStore
from bot.store.views import answer_view, event_view

_LEADS = Lead.__table__
_NOTES = LeadNote.__table__
_ERASURES = Erasure.__table__
# Lead columns a person or another system writes (the rest is the bot's and the scorer's).
CONTACT_COLUMNS = ("first_name", "last_name", "email", "phone", "company", "position", "address")
PURGE_BATCH = 500
FORM_ACTOR = "web form"


class DuplicateLead(Exception):
    """Another lead already has this e-mail address."""

    def __init__(self, existing_id: str, email: str) -> None:
        super().__init__(f"a lead with e-mail {email!r} already exists: {existing_id}")
        self.existing_id = existing_id


class SameLead(ValueError):
    """A lead cannot be merged into itself."""


class LeadGone(LookupError):
    """The lead was erased; only its tombstone is left."""

    def __init__(self, lead_id: str, erased_at: datetime) -> None:
        super().__init__(f"lead {lead_id!r} was erased at {erased_at.isoformat()}")
        self.erased_at = erased_at


@dataclass(frozen=True)
class Saved:
    """A created or updated lead (its JSON view) and whether it is new."""

    lead: dict[str, Any]
    created: bool


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


class LeadBook:
    """Create, edit, convert, export and erase leads (``repository``: the lead service)."""

    def __init__(
        self,
        repository: LeadService,
        conversations: ConversationStore | None = None,
        *,
        region: str | None = None,
    ) -> None:
        self.repository = repository
        self.conversations = conversations
        # How phone numbers without "+" are read (the shop's country).
        self.region = region

    @property
    def _engine(self) -> Engine:
        return self.repository.engine

    # -- reads -------------------------------------------------------------------------

    def get(self, lead_id: str) -> dict[str, Any]:
        """The lead's JSON view; ``LookupError`` (:class:`LeadGone` if erased) otherwise."""
        lead = self.repository.get_lead(lead_id)
        if lead is None:
            self._raise_missing(lead_id)
        assert lead is not None
        return lead

    def _raise_missing(self, lead_id: str) -> None:
        with self._engine.connect() as connection:
            erased_at = connection.execute(
                select(_ERASURES.c.erased_at).where(_ERASURES.c.lead_id == lead_id)
            ).scalar_one_or_none()
        if erased_at is not None:
            raise LeadGone(lead_id, erased_at)
        raise LookupError(f"no lead with id {lead_id!r}")

    def export_data(self, lead_id: str) -> dict[str, Any]:
        """Everything held about the person: the answer to a data-access request."""
        lead = self.get(lead_id)
        # A likely duplicate may be someone else: the person gets its id, not its details.
        lead["possible_duplicates"] = without_details(lead["possible_duplicates"])
        with self._engine.connect() as connection:
            owners = _owner_rows(connection, lead["id"])
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
            tables: dict[str, tuple[Any, Any]] = {
                "notes": (LeadNote, LeadNote.created_at),
                "status_history": (LeadStatusChange, LeadStatusChange.at),
                "score_history": (ScoreSnapshot, ScoreSnapshot.created_at),
                "stage_history": (StageTransition, StageTransition.at),
                "handoffs": (Handoff, Handoff.created_at),
                "merges": (LeadMerge, LeadMerge.merged_at),
            }
            related = {
                name: [
                    _row_view(row)
                    for row in connection.execute(
                        select(model.__table__)
                        .where(
                            model.survivor_id.in_(ids)
                            if model is LeadMerge
                            else model.lead_id.in_(ids)
                        )
                        .order_by(order)
                    )
                ]
                for name, (model, order) in tables.items()
            }
        sessions = [row.session_id for row in owners]
        conversation = self.conversations.conversation(sessions) if self.conversations else []
        return {
            "lead": lead,
            "sessions": sessions,
            "answers": [
                {"key": row.key, **answer_view(row), "superseded_at": _iso(row.superseded_at)}
                for row in answers
            ],
            "events": [event_view(row) for row in events],
            **related,
            "conversation": conversation,
            "exported_at": clock.now().isoformat(),
        }

    # -- writes ------------------------------------------------------------------------

    def create(
        self,
        data: Mapping[str, Any],
        *,
        by: str,
        merge: bool = False,
        source: str = "api",
        now: datetime | None = None,
    ) -> Saved:
        """Add a lead; raises :class:`LeadInputError` or :class:`DuplicateLead`.

        With ``merge``, a lead with the same e-mail address is updated instead
        (given fields overwrite, others stay) and returned with ``created`` false.
        """
        fields = clean_lead_fields(data, complete=True, region=self.region)
        actor = _actor(by)
        now = now or clock.now()
        with write_transaction(self._engine) as connection:
            existing = _lead_with_email(connection, fields.get("email"))
            if existing is not None:
                if not merge:
                    raise DuplicateLead(existing, fields["email"])
                self._write(connection, existing, fields, actor, now, replace=False)
                lead_id, created = existing, False
            else:
                values = new_lead_values(fields, source=source, now=now)
                connection.execute(insert(_LEADS).values(**values))
                lead_id, created = values["id"], True
                if values["status"] != "New":
                    # A lead entered mid-sale starts its history with that status.
                    connection.execute(
                        insert(LeadStatusChange.__table__).values(
                            lead_id=lead_id,
                            from_status="New",
                            to_status=values["status"],
                            changed_by=actor,
                            reason=fields.get("status_reason"),
                            at=now,
                        )
                    )
                if fields.get("notes"):
                    _add_note(connection, lead_id, fields["notes"], actor, now)
                # A new e-mail address with a known phone number (say).
                link_duplicates(connection, lead_id, fields, now)
        return Saved(self.get(lead_id), created)

    def capture(
        self,
        data: Mapping[str, Any],
        *,
        consent_text: str,
        session_id: str | None = None,
        source: str = "web_form",
        now: datetime | None = None,
    ) -> Saved:
        """A web form's lead, with the consent the person gave and its wording.

        With the storefront ``session_id`` the form's details land on that
        session's lead (the shopper's own chat and storefront lead); otherwise a
        new lead is created. The form is public, so it never changes another
        lead: when its e-mail address or phone number belongs to another lead,
        the form's lead is linked to that one as a likely duplicate (see
        :mod:`bot.store.duplicates`), as in the chat.
        """
        fields = clean_lead_fields(data, complete=True, region=self.region)
        now = now or clock.now()
        if session_id is not None:
            with self._engine.connect() as connection:
                known = _session_lead(connection, session_id) is not None
            # Through the lead service, as the chat writes contact details: the
            # session's lead is linked to another lead with the same e-mail or phone.
            self.repository.apply(
                [
                    UpdateContact(
                        session_id=session_id,
                        first_name=fields.get("first_name"),
                        last_name=fields.get("last_name"),
                        email=fields.get("email"),
                        phone=fields.get("phone"),
                        consent_text=consent_text,
                        consent_at=now,
                    )
                ],
                now=now,
            )
            with write_transaction(self._engine) as connection:
                found = _session_lead(connection, session_id)
                assert found is not None  # the write above made it
                # A session sales merged into another lead stands for that lead.
                lead = surviving_lead(connection, found)
                # The form's other details and consent land on the session's lead;
                # a lead the form created comes from the form, not the chat.
                changes = (
                    {**fields} if known else {**fields, "source": fields.get("source") or source}
                )
                self._write(connection, lead.id, changes, FORM_ACTOR, now, replace=False)
                connection.execute(
                    update(_LEADS)
                    .where(_LEADS.c.id == lead.id)
                    .values(consent_at=now, consent_text=consent_text)
                )
            return Saved(self.get(lead.id), created=not known)
        with write_transaction(self._engine) as connection:
            values = new_lead_values(fields, source=source, now=now)
            values.update(consent_at=now, consent_text=consent_text)
            connection.execute(insert(_LEADS).values(**values))
            lead_id = values["id"]
            if fields.get("notes"):
                _add_note(connection, lead_id, fields["notes"], FORM_ACTOR, now)
            link_duplicates(connection, lead_id, fields, now)
        return Saved(self.get(lead_id), created=True)

    def update(
        self,
        lead_id: str,
        data: Mapping[str, Any],
        *,
        by: str,
        replace: bool,
        now: datetime | None = None,
    ) -> dict[str, Any]:
        """Edit a lead: all contact fields (PUT) or only the given ones (PATCH).

        ``replace`` clears the contact fields not given.

        Raises :class:`LeadInputError`, :class:`DuplicateLead` (the new e-mail
        belongs to another lead) or ``LookupError``.
        """
        fields = clean_lead_fields(data, complete=replace, region=self.region)
        actor = _actor(by)
        now = now or clock.now()
        with write_transaction(self._engine) as connection:
            lead = surviving_lead(connection, lead_id)
            if lead is None:
                self._raise_missing(lead_id)
            email = fields.get("email")
            current = connection.execute(
                select(_LEADS.c.email).where(_LEADS.c.id == lead.id)
            ).scalar_one()
            # Keeping its own address is no conflict, even when a likely duplicate shares it.
            if email and email.lower() != (current or "").lower():
                other = _lead_with_email(connection, email)
                if other is not None and other != lead.id:
                    raise DuplicateLead(other, email)
            self._write(connection, lead.id, fields, actor, now, replace=replace)
        return self.get(lead.id)

    def _write(
        self,
        connection: Connection,
        lead_id: str,
        fields: Mapping[str, Any],
        actor: str,
        now: datetime,
        *,
        replace: bool,
    ) -> None:
        """Apply cleaned ``fields`` to the locked lead ``lead_id``."""
        columns = (
            {name: fields.get(name) for name in CONTACT_COLUMNS}
            if replace
            # A partial update clears a field only when asked with null or "".
            else {name: fields[name] for name in CONTACT_COLUMNS if name in fields}
        )
        if fields.get("source"):
            columns["source"] = fields["source"]
        if columns:
            # Where the lead got to stays reached (clearing the e-mail address of a
            # chat lead must not make it a visitor again); new contact details make a lead.
            current = connection.execute(select(_LEADS).where(_LEADS.c.id == lead_id)).one()
            reached = lifecycle_of(current)
            if columns.get("email") or columns.get("phone"):
                reached = furthest_lifecycle(reached, "lead")
            columns["lifecycle_stage"] = reached
            connection.execute(
                update(_LEADS).where(_LEADS.c.id == lead_id).values(**columns, updated_at=now)
            )
        if fields.get("status"):
            lead = surviving_lead(connection, lead_id)
            record_status_change(
                connection, lead, fields["status"], actor, fields.get("status_reason"), now
            )
        if fields.get("notes"):
            _add_note(connection, lead_id, fields["notes"], actor, now)

    def merge(
        self,
        lead_id: str,
        duplicate_id: str,
        *,
        by: str,
        now: datetime | None = None,
    ) -> dict[str, Any]:
        """Merge lead ``duplicate_id`` into ``lead_id``: a person decided they are one person.

        The only way two leads become one (the chat and the public form link
        likely duplicates, see :mod:`bot.store.duplicates`). ``lead_id`` keeps
        its contact fields, status and consent; the duplicate's fill only what
        it lacks. Answers, events, handoffs, notes and histories move over, the
        latest answer to each question becomes the current one, and the lead is
        rescored; the duplicate's id and session then stand for ``lead_id``.
        Merging again what is already merged changes nothing.

        Raises ``LookupError`` (:class:`LeadGone` for an erased ``lead_id``)
        and :class:`SameLead` when both ids are the same lead.
        """
        actor = _actor(by)
        now = now or clock.now()
        with write_transaction(self._engine) as connection:
            lead = surviving_lead(connection, lead_id)
            if lead is None:
                self._raise_missing(lead_id)
            duplicate = surviving_lead(connection, duplicate_id)
            if duplicate is None:
                raise LookupError(f"duplicate_id: no lead with id {duplicate_id!r}")
            if duplicate.id == lead.id:
                if duplicate_id == lead_id:
                    raise SameLead(f"duplicate_id: {duplicate_id!r} is the lead itself")
            else:
                self.repository.merge(connection, lead.id, duplicate.id, by=actor, now=now)
        return self.get(lead.id)

    def convert(
        self,
        lead_id: str,
        *,
        customer_group: str | None,
        by: str,
        reason: str | None = None,
        now: datetime | None = None,
    ) -> dict[str, Any]:
        """Make the lead a customer: status Won (in its history), lifecycle customer.

        Everything recorded about the lead stays. Converting twice keeps the
        first conversion time (the group may change).
        """
        cleaned = clean_lead_fields(
            {"customer_group": customer_group, "status_reason": reason},
            allowed=frozenset({"customer_group", "status_reason"}),
            complete=False,
            region=self.region,
        )
        actor = _actor(by)
        now = now or clock.now()
        with write_transaction(self._engine) as connection:
            lead = surviving_lead(connection, lead_id)
            if lead is None:
                self._raise_missing(lead_id)
            record_status_change(
                connection,
                lead,
                "Won",
                actor,
                cleaned.get("status_reason") or "converted to customer",
                now,
            )
            values: dict[str, Any] = {"lifecycle_stage": "customer", "updated_at": now}
            if cleaned.get("customer_group") is not None:
                values["customer_group"] = cleaned["customer_group"]
            connection.execute(
                update(_LEADS)
                .where(_LEADS.c.id == lead.id, _LEADS.c.converted_at.is_(None))
                .values(converted_at=now)
            )
            connection.execute(update(_LEADS).where(_LEADS.c.id == lead.id).values(**values))
        return self.get(lead.id)

    def erase(
        self, lead_id: str, *, by: str, reason: str = "request", now: datetime | None = None
    ) -> dict[str, Any]:
        """Remove the lead and everything about the person; the tombstone left.

        Deletes the lead and the leads merged into it, with their answers,
        events, notes, histories, handoffs and notifications, and their Rasa
        conversations. The tombstones (one per id the person had) keep no
        personal data.
        """
        erased = self._erase(lead_id, by=by, reason=reason, now=now or clock.now())
        assert erased is not None
        return erased

    def _erase(
        self,
        lead_id: str,
        *,
        by: str,
        reason: str,
        now: datetime,
        only_if: Any = None,
    ) -> dict[str, Any] | None:
        """:meth:`erase`, or ``None`` when ``only_if`` is given and the lead does not match.

        ``only_if`` is a condition on the lead row ``lead_id`` itself (not on the
        lead it may have been merged into), checked again under the lock.
        """
        actor = _actor(by)
        # The conversations go first: if the tracker store cannot be reached,
        # nothing is erased yet and the request can be repeated. (Erasing the
        # lead first would leave the conversation behind for good: a repeated
        # request finds only the tombstone, 410, and no session ids.)
        with self._engine.connect() as connection:
            found = surviving_lead(connection, lead_id, lock=False)
            if found is None:
                self._raise_missing(lead_id)
            if only_if is not None and not _matches(connection, lead_id, only_if):
                return None
            sessions = [row.session_id for row in _owner_rows(connection, found.id)]
        conversation_events = self.conversations.erase(sessions) if self.conversations else None
        with write_transaction(self._engine) as connection:
            lead = surviving_lead(connection, lead_id)
            if lead is None:
                self._raise_missing(lead_id)
            if only_if is not None and not _matches(connection, lead_id, only_if):
                return None
            owners = _owner_rows(connection, lead.id)
            # Sessions merged into the lead meanwhile.
            late = [row.session_id for row in owners if row.session_id not in sessions]
            removed = _erase_rows(connection, [row.id for row in owners])
            if conversation_events is not None:
                removed["conversation_events"] = conversation_events
            tombstone = {"erased_at": now, "reason": reason, "requested_by": actor}
            connection.execute(
                insert(_ERASURES),
                [
                    {
                        **tombstone,
                        "lead_id": lead.id,
                        "lead_created_at": min(row.created_at for row in owners),
                        "removed": removed,
                    },
                    # The ids of merged leads answer "gone" too.
                    *(
                        {
                            **tombstone,
                            "lead_id": row.id,
                            "lead_created_at": row.created_at,
                            "removed": {},
                        }
                        for row in owners
                        if row.id != lead.id
                    ),
                ],
            )
        if late and self.conversations is not None:
            removed["conversation_events"] += self.conversations.erase(late)
        return {
            "lead_id": lead.id,
            "erased_at": now.isoformat(),
            "reason": reason,
            "removed": removed,
        }

    def purge_anonymous(
        self, older_than: timedelta, *, now: datetime | None = None, dry_run: bool = False
    ) -> int:
        """Erase leads without contact details not touched for ``older_than``; how many."""
        now = now or clock.now()
        anonymous = _anonymous(now - older_than)
        if dry_run:
            with self._engine.connect() as connection:
                return int(connection.execute(select(func.count()).where(anonymous)).scalar_one())
        purged = 0
        while True:
            with self._engine.connect() as connection:
                ids = list(
                    connection.execute(
                        select(_LEADS.c.id).where(anonymous).limit(PURGE_BATCH)
                    ).scalars()
                )
            if not ids:
                return purged
            for lead_id in ids:
                # Checked again when erasing: a lead that got contact details or
                # was merged into another lead meanwhile is no longer anonymous
                # (erasing the id would erase the lead it was merged into).
                try:
                    erased = self._erase(
                        lead_id, by="purge", reason="purge", now=now, only_if=anonymous
                    )
                except LookupError:
                    continue  # erased meanwhile
                purged += erased is not None


def _anonymous(cutoff: datetime) -> Any:
    """Leads without contact details, not merged, not updated since ``cutoff``."""
    return and_(
        _LEADS.c.email.is_(None),
        _LEADS.c.phone.is_(None),
        _LEADS.c.merged_into.is_(None),
        _LEADS.c.updated_at < cutoff,
    )


def _matches(connection: Connection, lead_id: str, condition: Any) -> bool:
    return (
        connection.execute(
            select(_LEADS.c.id).where(_LEADS.c.id == lead_id, condition)
        ).one_or_none()
        is not None
    )


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _session_lead(connection: Connection, session_id: str) -> str | None:
    """The id of the session's lead row (merged or not), or ``None``."""
    found: str | None = connection.execute(
        select(_LEADS.c.id).where(_LEADS.c.session_id == session_id)
    ).scalar_one_or_none()
    return found


def _lead_with_email(connection: Connection, email: str | None) -> str | None:
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


def _owner_rows(connection: Connection, lead_id: str) -> list[Any]:
    """The lead and the leads merged into it (``id``, ``session_id``, ``created_at``)."""
    return list(
        connection.execute(
            select(_LEADS.c.id, _LEADS.c.session_id, _LEADS.c.created_at)
            .where((_LEADS.c.id == lead_id) | (_LEADS.c.merged_into == lead_id))
            .order_by(_LEADS.c.created_at)
        )
    )


def _add_note(connection: Connection, lead_id: str, text: str, by: str, now: datetime) -> None:
    connection.execute(insert(_NOTES).values(lead_id=lead_id, author=by, text=text, created_at=now))


def _erase_rows(connection: Connection, ids: list[str]) -> dict[str, int]:
    """Delete the leads ``ids`` and what hangs on them; counts per kind."""
    counted = {
        "answers": Answer.__table__,
        "events": LeadEvent.__table__,
        "notes": _NOTES,
        "handoffs": Handoff.__table__,
    }
    removed = {
        name: int(
            connection.execute(
                select(func.count()).select_from(table).where(table.c.lead_id.in_(ids))
            ).scalar_one()
        )
        for name, table in counted.items()
    }
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
