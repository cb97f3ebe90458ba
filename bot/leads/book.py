"""Lead management: leads entered by people and other systems, conversion, and privacy.

The chat and the storefront create leads through the lead service's commands
(:class:`bot.leads.service.LeadService`); this module serves everything else a
lead-management system does: manual entry and edits (API, web forms),
conversion to a customer, a person's data export, erasure and the purge of old
anonymous leads. Every method is one transaction, written with the store's
lead-management SQL (:mod:`bot.store.entries`); a web form's contact details on
a chat session's lead and merges go through the lead service, so they are
scored and linked like the chat's. Field rules live in :mod:`bot.store.contacts`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.engine import Connection, Engine

from bot import clock
from bot.leads.commands import UpdateContact
from bot.leads.service import LeadService
from bot.store import entries
from bot.store.contacts import clean_lead_fields
from bot.store.db import write_transaction
from bot.store.duplicates import link_duplicates, without_details
from bot.store.entries import CONTACT_COLUMNS
from bot.store.orders import lead_purchases
from bot.store.sales import actor_name, record_status_change, surviving_lead
from bot.store.tracker import ConversationStore

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
        """The lead's JSON view with its ``purchases``; ``LookupError`` otherwise.

        :class:`LeadGone` for an erased lead. ``purchases``
        (:func:`bot.store.orders.lead_purchases`) is read for one lead at a time:
        lists of leads leave it out.
        """
        lead = self.repository.get_lead(lead_id)
        if lead is None:
            self._raise_missing(lead_id)
        assert lead is not None
        with self._engine.connect() as connection:
            lead["purchases"] = lead_purchases(connection, lead["id"])
        return lead

    def _raise_missing(self, lead_id: str) -> None:
        with self._engine.connect() as connection:
            erased_at = entries.erased_at(connection, lead_id)
        if erased_at is not None:
            raise LeadGone(lead_id, erased_at)
        raise LookupError(f"no lead with id {lead_id!r}")

    def export_data(self, lead_id: str) -> dict[str, Any]:
        """Everything held about the person: the answer to a data-access request."""
        lead = self.get(lead_id)
        # A likely duplicate may be someone else: the person gets its id, not its details.
        lead["possible_duplicates"] = without_details(lead["possible_duplicates"])
        with self._engine.connect() as connection:
            owners = entries.owner_rows(connection, lead["id"])
            recorded = entries.person_data(connection, owners)
        sessions = [row.session_id for row in owners]
        conversation = self.conversations.conversation(sessions) if self.conversations else []
        return {
            "lead": lead,
            "sessions": sessions,
            **recorded,
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
        actor = actor_name(by)
        now = now or clock.now()
        with write_transaction(self._engine) as connection:
            existing = entries.lead_with_email(connection, fields.get("email"))
            if existing is not None:
                if not merge:
                    raise DuplicateLead(existing, fields["email"])
                self._write(connection, existing, fields, actor, now, replace=False)
                self._tell_handoffs(connection, existing, now)
                lead_id, created = existing, False
            else:
                values = entries.new_lead_values(fields, source=source, now=now)
                entries.insert_leads(connection, [values])
                lead_id, created = values["id"], True
                if values["status"] != "New":
                    # A lead entered mid-sale starts its history with that status.
                    entries.record_first_status(
                        connection,
                        lead_id,
                        values["status"],
                        actor,
                        fields.get("status_reason"),
                        now,
                    )
                if fields.get("notes"):
                    entries.add_note(connection, lead_id, fields["notes"], actor, now)
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
                known = entries.session_lead(connection, session_id) is not None
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
                found = entries.session_lead(connection, session_id)
                assert found is not None  # the write above made it
                # A session sales merged into another lead stands for that lead.
                lead = surviving_lead(connection, found)
                # The form's other details and consent land on the session's lead;
                # a lead the form created comes from the form, not the chat.
                changes = (
                    {**fields} if known else {**fields, "source": fields.get("source") or source}
                )
                self._write(connection, lead.id, changes, FORM_ACTOR, now, replace=False)
                entries.set_consent(connection, lead.id, consent_text, now)
            return Saved(self.get(lead.id), created=not known)
        with write_transaction(self._engine) as connection:
            values = entries.new_lead_values(fields, source=source, now=now)
            values.update(consent_at=now, consent_text=consent_text)
            entries.insert_leads(connection, [values])
            lead_id = values["id"]
            if fields.get("notes"):
                entries.add_note(connection, lead_id, fields["notes"], FORM_ACTOR, now)
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
        actor = actor_name(by)
        now = now or clock.now()
        with write_transaction(self._engine) as connection:
            lead = surviving_lead(connection, lead_id)
            if lead is None:
                self._raise_missing(lead_id)
            email = fields.get("email")
            current = entries.email_of(connection, lead.id)
            # Keeping its own address is no conflict, even when a likely duplicate shares it.
            if email and email.lower() != (current or "").lower():
                other = entries.lead_with_email(connection, email)
                if other is not None and other != lead.id:
                    raise DuplicateLead(other, email)
            self._write(connection, lead.id, fields, actor, now, replace=replace)
            self._tell_handoffs(connection, lead.id, now)
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
        entries.write_contact(connection, lead_id, columns, now)
        if fields.get("status"):
            lead = surviving_lead(connection, lead_id)
            record_status_change(
                connection, lead, fields["status"], actor, fields.get("status_reason"), now
            )
        if fields.get("notes"):
            entries.add_note(connection, lead_id, fields["notes"], actor, now)

    def _tell_handoffs(self, connection: Connection, lead_id: str, now: datetime) -> None:
        """Sales hear of an edit to a handed-off lead as of details the chat brought."""
        if self.repository.handoffs is not None:
            self.repository.handoffs.after_edit(connection, [lead_id], now)

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
        it lacks. Answers, events, handoffs, notes, histories, orders and
        follow-ups move over (its revenue becomes the sum of both leads' orders),
        the latest answer to each question becomes the current one, and the lead
        is rescored; the duplicate's id and session then stand for ``lead_id``.
        Merging again what is already merged changes nothing.

        Raises ``LookupError`` (:class:`LeadGone` for an erased ``lead_id``)
        and :class:`SameLead` when both ids are the same lead.
        """
        actor = actor_name(by)
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
        actor = actor_name(by)
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
            entries.convert(connection, lead.id, cleaned.get("customer_group"), now)
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
        actor = actor_name(by)
        # The conversations go first: if the tracker store cannot be reached,
        # nothing is erased yet and the request can be repeated. (Erasing the
        # lead first would leave the conversation behind for good: a repeated
        # request finds only the tombstone, 410, and no session ids.)
        with self._engine.connect() as connection:
            found = surviving_lead(connection, lead_id, lock=False)
            if found is None:
                self._raise_missing(lead_id)
            if only_if is not None and not entries.matches(connection, lead_id, only_if):
                return None
            sessions = [row.session_id for row in entries.owner_rows(connection, found.id)]
        conversation_events = self.conversations.erase(sessions) if self.conversations else None
        with write_transaction(self._engine) as connection:
            lead = surviving_lead(connection, lead_id)
            if lead is None:
                self._raise_missing(lead_id)
            if only_if is not None and not entries.matches(connection, lead_id, only_if):
                return None
            owners = entries.owner_rows(connection, lead.id)
            # Sessions merged into the lead meanwhile.
            late = [row.session_id for row in owners if row.session_id not in sessions]
            removed = entries.erase_rows(connection, [row.id for row in owners])
            if conversation_events is not None:
                removed["conversation_events"] = conversation_events
            entries.insert_tombstones(
                connection, lead.id, owners, removed, reason=reason, by=actor, now=now
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
        anonymous = entries.anonymous(now - older_than)
        if dry_run:
            with self._engine.connect() as connection:
                return entries.count_matching(connection, anonymous)
        purged = 0
        while True:
            with self._engine.connect() as connection:
                ids = entries.matching_ids(connection, anonymous, PURGE_BATCH)
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
