"""The lead book: create, merge, edit, status history, lifecycle, convert, export, erase, purge.

What reaches the database runs on SQLite and PostgreSQL; checks that fail before
any SQL run on SQLite only. Conversations live in a real Rasa SQL tracker store
(``rasa.core.tracker_store.SQLTrackerStore``) on the lead store's kind of database:
an SQLite file as ``make run`` keeps them, PostgreSQL as the cluster profile does.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError

from bot.handoff import planner_for
from bot.leads import LeadService
from bot.leads import book as leadbook
from bot.leads.book import DuplicateLead, LeadBook, LeadGone
from bot.leads.commands import Command, RecordAnswer, RecordEvent, UpdateContact
from bot.scoring import Scorer, scorer_for
from bot.store.contacts import LeadInputError
from bot.store.models import (
    Answer,
    ConversationEvent,
    ConversationRollup,
    DeliveryAttempt,
    Erasure,
    Handoff,
    HandoffTrigger,
    Lead,
    LeadEvent,
    LeadMerge,
    LeadNote,
    LeadStatusChange,
    OutboxMessage,
    ScoreSnapshot,
    metadata,
)
from bot.store.tracker import ConversationStore
from bot.store.types import dumps
from tests.store.test_sales_desk import handoff_settings, tell_story

# A Monday, 11:00 in Paris: the sales team is at work.
NOW = datetime(2026, 3, 2, 10, 0, tzinfo=timezone.utc)
ADA = {"first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.com"}


# --- fixtures and helpers -----------------------------------------------------------------------


@pytest.fixture
def tracker_url(tracker_store_url: str) -> str:
    return tracker_store_url


# For checks that never reach what differs between databases.
sqlite_only = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@pytest.fixture(scope="module")
def scorer() -> Scorer:
    return scorer_for(handoff_settings())


@pytest.fixture
def book(engine: Engine, tracker_url: str, scorer: Scorer) -> Iterator[LeadBook]:
    repository = LeadService(engine, scorer, planner_for(handoff_settings()))
    conversations = ConversationStore(tracker_url)
    yield LeadBook(repository, conversations, region="FR")
    conversations.dispose()


def converse(tracker_url: str, sender_id: str, *turns: tuple[str, str], start: float) -> int:
    """Store a Rasa conversation (``("user" | "bot", text)`` turns); how many events it has."""
    return asyncio.run(record_conversation(tracker_url, sender_id, *turns, start=start))


async def record_conversation(
    tracker_url: str, sender_id: str, *turns: tuple[str, str], start: float
) -> int:
    """:func:`converse` from a running event loop."""
    # Imported here: Rasa takes a second to import, and only these tests need it.
    from rasa.core.tracker_store import SQLTrackerStore
    from rasa.shared.core.domain import Domain
    from rasa.shared.core.events import ActionExecuted, BotUttered, Event, UserUttered
    from rasa.shared.core.trackers import DialogueStateTracker

    events: list[Event] = [ActionExecuted("action_listen", timestamp=start)]
    for n, (speaker, text) in enumerate(turns, start=1):
        at = start + n
        events.append(
            UserUttered(text, timestamp=at) if speaker == "user" else BotUttered(text, timestamp=at)
        )
    store = SQLTrackerStore(Domain.empty(), host=tracker_url)
    try:
        await store.save(DialogueStateTracker.from_events(sender_id, events))
    finally:
        store.engine.dispose()
    return len(events)


def chat(book: LeadBook, *commands: Command, now: datetime = NOW) -> str:
    """Apply chat commands; the (surviving) lead id of the first command's session."""
    book.repository.apply(list(commands), now=now)
    lead = book.repository.get_lead_by_session(commands[0].session_id)
    assert lead is not None
    return str(lead["id"])


def answer(session: str, key: str, raw: str, value: Any, at: datetime, n: int = 1) -> RecordAnswer:
    return RecordAnswer(
        session_id=session,
        answer_id=f"{session}:{key}:{n}",
        key=key,
        raw=raw,
        value=value,
        status="answered",
        answered_at=at,
    )


def rows(engine: Engine, model: Any, **where: Any) -> list[Any]:
    table = model.__table__
    query = select(table).where(*(table.c[name] == value for name, value in where.items()))
    with engine.connect() as connection:
        return list(
            connection.execute(query.order_by(table.c[table.primary_key.columns.keys()[0]]))
        )


def lead_row(engine: Engine, lead_id: str) -> Any:
    (row,) = rows(engine, Lead, id=lead_id)
    return row


def database_text(engine: Engine) -> str:
    """Every row of every table as one text, to search for personal data."""
    parts = []
    with engine.connect() as connection:
        for table in metadata.sorted_tables:
            for row in connection.execute(select(table)):
                parts.append(f"{table.name}: {dumps(dict(row._mapping))}")
    return "\n".join(parts)


# --- create -------------------------------------------------------------------------------------


def test_create_adds_a_lead_entered_by_a_person(book: LeadBook, engine: Engine) -> None:
    saved = book.create(
        {
            **ADA,
            "email": " Ada@Example.COM ",
            "phone": "06 12 34 56 78",
            "company": "Analytical Engines",
            "position": "Countess",
            "address": "12 St James's Square, London",
            "notes": "met at the fair",
        },
        by=" token:crm ",
        now=NOW,
    )
    assert saved.created
    lead = saved.lead
    assert (lead["email"], lead["phone"], lead["company"], lead["position"]) == (
        "ada@example.com",
        "+33612345678",
        "Analytical Engines",
        "Countess",
    )
    assert (lead["source"], lead["status"], lead["stage"], lead["lifecycle"]) == (
        "api",
        "New",
        "cold",
        "lead",
    )
    assert lead["session_id"] == f"lead-{lead['id']}"
    assert lead["created_at"] == lead["updated_at"] == NOW.isoformat()
    assert lead["consent"] == {"given_at": None, "text": None}
    (note,) = rows(engine, LeadNote, lead_id=lead["id"])
    assert (note.author, note.text, note.created_at) == ("token:crm", "met at the fair", NOW)
    assert book.get(lead["id"]) == lead


@sqlite_only
def test_create_takes_the_source_given(book: LeadBook) -> None:
    lead = book.create({**ADA, "source": "Trade-Show"}, by="alice", source="csv").lead
    assert lead["source"] == "Trade-Show"  # as written
    other = book.create({**ADA, "email": "grace@example.com"}, by="alice", source="csv").lead
    assert other["source"] == "csv"


@sqlite_only
@pytest.mark.parametrize(
    "email",
    [
        "ada@example.com",  # the same address
        "ADA@example.COM",  # the same address in other case
        " ada@example.com ",  # with blanks around
    ],
)
def test_create_refuses_an_email_a_lead_has(book: LeadBook, engine: Engine, email: str) -> None:
    first = book.create(ADA, by="alice").lead
    with pytest.raises(DuplicateLead) as caught:
        book.create({**ADA, "email": email, "first_name": "Someone"}, by="bob")
    assert caught.value.existing_id == first["id"]
    assert first["id"] in str(caught.value)
    assert [row.id for row in rows(engine, Lead)] == [first["id"]]
    assert book.get(first["id"])["first_name"] == "Ada"


def test_create_refuses_the_email_of_a_chat_lead(book: LeadBook) -> None:
    lead_id = chat(
        book, UpdateContact(session_id="s-chat", first_name="Ada", email="ada@example.com")
    )
    with pytest.raises(DuplicateLead) as caught:
        book.create(ADA, by="alice")
    assert caught.value.existing_id == lead_id


def test_create_with_merge_updates_the_known_lead(book: LeadBook, engine: Engine) -> None:
    first = book.create({**ADA, "phone": "0612345678", "company": "Old Co"}, by="alice", now=NOW)
    later = NOW + timedelta(hours=1)
    merged = book.create(
        {
            "first_name": "Augusta Ada",
            "last_name": "King",
            "email": "ADA@example.com",
            "company": "New Co",
            "status": "Contacted",
            "status_reason": "called back",
            "notes": "second contact",
        },
        by="bob",
        merge=True,
        now=later,
    )
    assert not merged.created
    lead = merged.lead
    assert lead["id"] == first.lead["id"]
    # Given fields overwrite, the others stay.
    assert (lead["first_name"], lead["last_name"], lead["company"], lead["phone"]) == (
        "Augusta Ada",
        "King",
        "New Co",
        "+33612345678",
    )
    assert lead["status"] == "Contacted" and lead["updated_at"] == later.isoformat()
    (change,) = rows(engine, LeadStatusChange, lead_id=lead["id"])
    assert (change.from_status, change.to_status, change.changed_by, change.reason) == (
        "New",
        "Contacted",
        "bob",
        "called back",
    )
    assert [note.text for note in rows(engine, LeadNote, lead_id=lead["id"])] == ["second contact"]
    assert len(rows(engine, Lead)) == 1


@sqlite_only
def test_create_with_merge_and_a_new_email_creates(book: LeadBook) -> None:
    saved = book.create(ADA, by="alice", merge=True)
    assert saved.created


@sqlite_only
@pytest.mark.parametrize(
    ("data", "fields"),
    [
        ({"first_name": "Ada", "email": "ada@example.com"}, {"last_name"}),  # a name missing
        ({"first_name": "Ada", "last_name": "L"}, {"email"}),  # no way to reach them
        ({**ADA, "email": "ada@"}, {"email"}),  # invalid e-mail
        ({**ADA, "lifecycle": "customer"}, {"lifecycle"}),  # not a field a person sets
        ({**ADA, "customer_group": "vip"}, {"customer_group"}),  # only conversion sets it
    ],
)
def test_create_refuses_invalid_records(
    book: LeadBook, engine: Engine, data: dict[str, Any], fields: set[str]
) -> None:
    with pytest.raises(LeadInputError) as caught:
        book.create(data, by="alice")
    assert {error.field for error in caught.value.errors} == fields
    assert rows(engine, Lead) == []


# --- PUT and PATCH ------------------------------------------------------------------------------

FULL = {
    **ADA,
    "phone": "+33 6 12 34 56 78",
    "company": "Analytical Engines",
    "position": "Countess",
    "address": "London",
}
CONTACT = ("first_name", "last_name", "email", "phone", "company", "position", "address")


@sqlite_only
@pytest.mark.parametrize(
    ("replace", "body", "expected"),
    [
        # PUT: the contact fields not given are cleared
        (
            True,
            {"first_name": "Grace", "last_name": "Hopper", "email": "grace@example.com"},
            ("Grace", "Hopper", "grace@example.com", None, None, None, None),
        ),
        (
            True,
            {"first_name": "Ada", "last_name": "King", "phone": "0699999999"},
            ("Ada", "King", None, "+33699999999", None, None, None),
        ),
        # PATCH: only the given fields change
        (
            False,
            {"company": "Babbage & Co"},
            (
                "Ada",
                "Lovelace",
                "ada@example.com",
                "+33612345678",
                "Babbage & Co",
                "Countess",
                "London",
            ),
        ),
        # PATCH: null and "" clear an optional field
        (
            False,
            {"phone": None, "position": ""},
            ("Ada", "Lovelace", "ada@example.com", None, "Analytical Engines", None, "London"),
        ),
        # PATCH: nothing given, nothing changes
        (
            False,
            {},
            (
                "Ada",
                "Lovelace",
                "ada@example.com",
                "+33612345678",
                "Analytical Engines",
                "Countess",
                "London",
            ),
        ),
    ],
)
def test_put_replaces_and_patch_edits(
    book: LeadBook, engine: Engine, replace: bool, body: dict[str, Any], expected: tuple
) -> None:
    lead_id = book.create({**FULL, "source": "fair"}, by="alice", now=NOW).lead["id"]
    book.update(lead_id, {"status": "Contacted"}, by="alice", replace=False, now=NOW)
    later = NOW + timedelta(minutes=5)
    lead = book.update(lead_id, body, by="bob", replace=replace, now=later)
    assert tuple(lead[name] for name in CONTACT) == expected
    stored = lead_row(engine, lead_id)
    assert tuple(getattr(stored, name) for name in CONTACT) == expected
    # What is not a contact field stays, on PUT too.
    assert (lead["source"], lead["status"]) == ("fair", "Contacted")
    assert lead["updated_at"] == (later if body else NOW).isoformat()


@sqlite_only
def test_put_needs_a_whole_record(book: LeadBook) -> None:
    lead_id = book.create(FULL, by="alice").lead["id"]
    with pytest.raises(LeadInputError) as caught:
        book.update(lead_id, {"company": "Acme"}, by="bob", replace=True)
    assert {error.field for error in caught.value.errors} == {"first_name", "last_name", "email"}
    assert book.get(lead_id)["company"] == "Analytical Engines"


@sqlite_only
def test_patch_cannot_clear_a_name(book: LeadBook) -> None:
    lead_id = book.create(FULL, by="alice").lead["id"]
    with pytest.raises(LeadInputError):
        book.update(lead_id, {"first_name": None}, by="bob", replace=False)
    assert book.get(lead_id)["first_name"] == "Ada"


@sqlite_only
@pytest.mark.parametrize("replace", [True, False])
def test_update_to_another_leads_email_is_a_duplicate(book: LeadBook, replace: bool) -> None:
    ada = book.create(ADA, by="alice").lead["id"]
    grace = book.create({**ADA, "email": "grace@example.com"}, by="alice").lead["id"]
    with pytest.raises(DuplicateLead) as caught:
        book.update(grace, {**ADA, "email": "Ada@Example.com"}, by="bob", replace=replace)
    assert caught.value.existing_id == ada
    assert book.get(grace)["email"] == "grace@example.com"
    # A lead keeps its own address (in any case) without a conflict.
    assert book.update(ada, {"email": "ADA@example.com"}, by="bob", replace=False)["id"] == ada


def test_update_through_an_absorbed_id_edits_the_survivor(book: LeadBook) -> None:
    survivor = chat(book, UpdateContact(session_id="s1", first_name="Ada", email="ada@example.com"))
    absorbed = chat(
        book,
        UpdateContact(session_id="s2", email="ada@example.com"),
        now=NOW + timedelta(minutes=1),
    )
    # The chat only links the two; sales merge them.
    book.merge(survivor, absorbed, by="bob", now=NOW + timedelta(minutes=2))
    lead = book.update(absorbed, {"company": "Acme"}, by="bob", replace=False)
    assert lead["id"] == survivor and lead["company"] == "Acme"


# --- status history -----------------------------------------------------------------------------


def test_status_changes_are_recorded_with_who_when_and_why(book: LeadBook, engine: Engine) -> None:
    lead_id = book.create(ADA, by="alice", now=NOW).lead["id"]
    steps = [
        # (by, body, replace)
        ("alice", {"status": "Contacted", "status_reason": "left a voicemail"}, False),
        ("bob", {"status": "Contacted", "status_reason": "again"}, False),  # unchanged: no row
        ("bob", {**ADA, "status": "Qualified"}, True),  # PUT changes the status too
        ("carol", {"company": "Acme"}, False),  # no status given: no row
        ("carol", {"status": "Lost", "status_reason": "  "}, False),  # blank reason: none
    ]
    for minute, (by, body, replace) in enumerate(steps, start=1):
        book.update(lead_id, body, by=by, replace=replace, now=NOW + timedelta(minutes=minute))
    history = [
        (row.from_status, row.to_status, row.changed_by, row.reason, row.at)
        for row in rows(engine, LeadStatusChange, lead_id=lead_id)
    ]
    assert history == [
        ("New", "Contacted", "alice", "left a voicemail", NOW + timedelta(minutes=1)),
        ("Contacted", "Qualified", "bob", None, NOW + timedelta(minutes=3)),
        ("Qualified", "Lost", "carol", None, NOW + timedelta(minutes=5)),
    ]
    assert book.get(lead_id)["status"] == "Lost"


@sqlite_only
@pytest.mark.parametrize("by", ["", "   ", "x" * 121])
def test_an_actor_is_required(book: LeadBook, by: str) -> None:
    with pytest.raises(ValueError, match="by: expected a name"):
        book.create(ADA, by=by)


# --- lifecycle ----------------------------------------------------------------------------------


def test_lifecycle_moves_forward_and_never_back(book: LeadBook, engine: Engine) -> None:
    session = "s-life"
    lead_id = chat(book, answer(session, "timeline", "next month", {"days": 30}, NOW))
    assert book.get(lead_id)["lifecycle"] == "visitor"
    steps: list[tuple[str, Any, str]] = [
        # (what happens, how, lifecycle afterwards)
        (
            "contact details",
            UpdateContact(session_id=session, first_name="Ada", email="ada@example.com"),
            "lead",
        ),
        ("status Contacted", {"status": "Contacted"}, "lead"),
        ("status Qualified", {"status": "Qualified"}, "qualified_lead"),
        ("status In Progress", {"status": "In Progress"}, "qualified_lead"),
        ("status Proposal Sent", {"status": "Proposal Sent"}, "opportunity"),
        ("status Negotiation", {"status": "Negotiation"}, "opportunity"),
        ("status Lost", {"status": "Lost"}, "opportunity"),  # lost: where it had got to
        ("status New", {"status": "New"}, "opportunity"),
        ("contact details removed", {"email": None}, "opportunity"),
        ("converted", "convert", "customer"),
        ("status Lost after Won", {"status": "Lost"}, "customer"),
        ("status Qualified again", {"status": "Qualified"}, "customer"),
    ]
    for minute, (what, how, expected) in enumerate(steps, start=1):
        at = NOW + timedelta(minutes=minute)
        if isinstance(how, UpdateContact):
            book.repository.apply([how], now=at)
        elif how == "convert":
            book.convert(lead_id, customer_group=None, by="alice", now=at)
        else:
            book.update(lead_id, how, by="alice", replace=False, now=at)
        assert book.get(lead_id)["lifecycle"] == expected, what


@sqlite_only
@pytest.mark.parametrize(
    ("status", "reached"),
    [
        ("New", "lead"),
        ("Contacted", "lead"),
        ("Qualified", "qualified_lead"),
        ("Proposal Sent", "opportunity"),
        ("Negotiation", "opportunity"),
        ("Lost", "lead"),
    ],
)
def test_lifecycle_of_a_lead_created_with_a_status_stays_after_lost(
    book: LeadBook, engine: Engine, status: str, reached: str
) -> None:
    lead_id = book.create({**ADA, "status": status}, by="alice").lead["id"]
    assert book.get(lead_id)["lifecycle"] == reached
    assert lead_row(engine, lead_id).lifecycle_stage == reached
    book.update(lead_id, {"status": "Lost"}, by="alice", replace=False)
    book.update(lead_id, {"status": "New"}, by="alice", replace=False)
    assert book.get(lead_id)["lifecycle"] == reached


@sqlite_only
def test_lifecycle_of_a_chat_lead_stays_when_its_contact_is_removed(
    book: LeadBook, engine: Engine
) -> None:
    lead_id = chat(book, UpdateContact(session_id="s1", first_name="Ada", email="ada@example.com"))
    assert book.get(lead_id)["lifecycle"] == "lead"
    book.update(lead_id, {"email": None}, by="alice", replace=False)
    assert book.get(lead_id)["email"] is None
    assert book.get(lead_id)["lifecycle"] == "lead"


# --- conversion ---------------------------------------------------------------------------------


def test_convert_makes_a_customer_and_keeps_the_history(book: LeadBook, engine: Engine) -> None:
    story = tell_story(engine, handoff_settings(), NOW)
    book.update(
        story.lead_id,
        {"status": "Contacted", "notes": "called"},
        by="alice",
        replace=False,
        now=NOW,
    )
    before = book.export_data(story.lead_id)
    first = NOW + timedelta(hours=1)
    lead = book.convert(
        story.lead_id, customer_group=" wholesale ", by="bob", reason="signed the order", now=first
    )
    assert (lead["status"], lead["lifecycle"], lead["customer_group"], lead["converted_at"]) == (
        "Won",
        "customer",
        "wholesale",
        first.isoformat(),
    )
    # Everything recorded about the lead stays: answers, events, notes, score.
    after = book.export_data(story.lead_id)
    for kept in ("answers", "events", "notes", "score_history", "stage_history", "merges"):
        assert after[kept] == before[kept], kept
    assert lead["answers"] == before["lead"]["answers"]
    assert lead["score"] == before["lead"]["score"]
    assert [
        (c["from_status"], c["to_status"], c["changed_by"], c["reason"])
        for c in after["status_history"]
    ] == [
        ("New", "Contacted", "alice", None),
        ("Contacted", "Won", "bob", "signed the order"),
    ]
    # Won ends the sale: the lead's handoff is closed.
    (handoff,) = rows(engine, Handoff, lead_id=story.lead_id)
    assert (handoff.status, handoff.closed_at) == ("closed", first)

    # Converting again: the first conversion time stays, the group may change.
    again = book.convert(
        story.lead_id, customer_group="retail", by="carol", now=first + timedelta(days=1)
    )
    assert (again["converted_at"], again["customer_group"]) == (first.isoformat(), "retail")
    assert len(rows(engine, LeadStatusChange, lead_id=story.lead_id)) == 2
    # Without a group the group stays.
    unchanged = book.convert(story.lead_id, customer_group=None, by="carol")
    assert unchanged["customer_group"] == "retail"


def test_convert_records_a_default_reason(book: LeadBook, engine: Engine) -> None:
    lead_id = book.create(ADA, by="alice").lead["id"]
    book.convert(lead_id, customer_group=None, by="bob")
    (change,) = rows(engine, LeadStatusChange, lead_id=lead_id)
    assert (change.to_status, change.reason) == ("Won", "converted to customer")


@sqlite_only
@pytest.mark.parametrize(
    ("group", "reason", "field"),
    [
        ("x" * 65, None, "customer_group"),
        ("vip", "x" * 1001, "status_reason"),
        (42, None, "customer_group"),
    ],
)
def test_convert_validates_its_fields(
    book: LeadBook, group: Any, reason: str | None, field: str
) -> None:
    lead_id = book.create(ADA, by="alice").lead["id"]
    with pytest.raises(LeadInputError) as caught:
        book.convert(lead_id, customer_group=group, reason=reason, by="bob")
    assert [error.field for error in caught.value.errors] == [field]
    assert book.get(lead_id)["status"] == "New"


# --- web form capture ---------------------------------------------------------------------------


@pytest.mark.parametrize("scored", [True, False], ids=["scored", "unscored"])
def test_capture_joins_the_session_of_the_chat(
    engine: Engine, tracker_url: str, scored: bool
) -> None:
    settings = handoff_settings()
    repository = LeadService(engine, scorer_for(settings) if scored else None)
    book = LeadBook(repository, ConversationStore(tracker_url), region="FR")
    lead_id = chat(
        book,
        answer("s-form", "budget", "300 euros", {"amount": Decimal("300"), "currency": "EUR"}, NOW),
    )
    saved = book.capture(
        {**ADA, "phone": "06 12 34 56 78", "company": "Acme", "notes": "call after 5pm"},
        consent_text="You may call me",
        session_id="s-form",
        now=NOW + timedelta(minutes=1),
    )
    assert not saved.created
    lead = saved.lead
    assert lead["id"] == lead_id
    assert (lead["email"], lead["phone"], lead["company"]) == (
        "ada@example.com",
        "+33612345678",
        "Acme",
    )
    assert lead["consent"] == {
        "given_at": (NOW + timedelta(minutes=1)).isoformat(),
        "text": "You may call me",
    }
    assert lead["answers"]["budget"]["raw"] == "300 euros"
    assert [note.author for note in rows(engine, LeadNote, lead_id=lead_id)] == ["web form"]


def test_capture_without_a_session_creates_a_linked_lead_each_time(
    book: LeadBook, engine: Engine
) -> None:
    first = book.capture(ADA, consent_text="v1", now=NOW)
    assert first.created and first.lead["source"] == "web_form"
    # The public form cannot tell Ada from someone typing her address: a lead of its own.
    second = book.capture(
        {**ADA, "email": "ADA@example.com", "company": "Acme"},
        consent_text="v2",
        now=NOW + timedelta(days=1),
    )
    assert second.created and second.lead["id"] != first.lead["id"]
    assert second.lead["company"] == "Acme"
    assert second.lead["consent"] == {
        "given_at": (NOW + timedelta(days=1)).isoformat(),
        "text": "v2",
    }
    assert [link["id"] for link in second.lead["possible_duplicates"]] == [first.lead["id"]]
    assert book.get(first.lead["id"])["company"] is None
    assert len(rows(engine, Lead)) == 2


# --- the person's data --------------------------------------------------------------------------


@pytest.fixture
def person(book: LeadBook, engine: Engine, tracker_url: str) -> dict[str, Any]:
    """Ada: a chat with a handoff, a second session merged into it, notes, a status change.

    Grace, another person, has a lead and a conversation too.
    """
    story = tell_story(
        engine,
        handoff_settings(),
        NOW,
        chat_text="Does the hoodie run small?",
        budget_raw="eight hundred euros",
    )
    later = NOW + timedelta(hours=1)
    chat(
        book,
        answer("s-again", "timeline", "in two weeks", {"days": 14}, later),
        RecordEvent(
            session_id="s-again",
            event_id="s-again-view",
            type="product_view",
            ts=later,
            source="storefront",
            product_id="hoodie-classic",
        ),
        UpdateContact(session_id="s-again", email="ada@example.com"),
        now=later,
    )
    again = book.repository.get_lead_by_session("s-again")
    assert again is not None
    book.merge(story.lead_id, again["id"], by="alice", now=later)
    book.update(
        story.lead_id,
        {
            "status": "Contacted",
            "status_reason": "Ada asked for a call",
            "notes": "Ada prefers calls",
        },
        by="alice",
        replace=False,
        now=later + timedelta(minutes=1),
    )
    grace = tell_story(
        engine,
        handoff_settings(),
        NOW,
        session="s-grace",
        first_name="Grace",
        email="grace@example.com",
        chat_text="Is it waterproof?",
        budget_raw="900 EUR",
        deliver=False,
    )
    start = NOW.timestamp()
    events = {
        "s-story": converse(
            tracker_url,
            "s-story",
            ("user", "Does the hoodie run small?"),
            ("bot", "It runs true to size."),
            start=start,
        ),
        "s-again": converse(
            tracker_url, "s-again", ("user", "I'm back, ada@example.com"), start=start + 3600
        ),
        "s-grace": converse(tracker_url, "s-grace", ("user", "Is it waterproof?"), start=start),
    }
    absorbed = rows(engine, Lead, session_id="s-again")[0].id
    return {
        "lead_id": story.lead_id,
        "absorbed_id": absorbed,
        "grace_id": grace.lead_id,
        "events": events,
    }


def test_export_holds_everything_about_the_person(book: LeadBook, person: dict[str, Any]) -> None:
    data = book.export_data(person["absorbed_id"])  # the absorbed id stands for the person
    assert data["lead"]["id"] == person["lead_id"]
    assert data["sessions"] == ["s-story", "s-again"]
    answers = [(a["key"], a["raw"], a["superseded_at"] is not None) for a in data["answers"]]
    assert answers == [
        ("budget", "about 500 euros", True),  # the history of an answer
        ("budget", "eight hundred euros", False),
        ("location", "Lyon, France", False),
        ("timeline", "in two weeks", False),  # answered in the merged session
    ]
    types = [event["type"] for event in data["events"]]
    for expected in ("product_view", "chat_message", "human_requested", "lead_merged"):
        assert expected in types
    assert [e["event_id"] for e in data["events"] if e["event_id"].startswith("s-again")] == [
        "s-again-view"
    ]
    assert [(n["author"], n["text"]) for n in data["notes"]] == [("alice", "Ada prefers calls")]
    assert [
        (c["from_status"], c["to_status"], c["changed_by"], c["reason"])
        for c in data["status_history"]
    ] == [("New", "Contacted", "alice", "Ada asked for a call")]
    assert data["score_history"] and data["handoffs"]
    assert [(m["absorbed_id"], m["absorbed_session_id"]) for m in data["merges"]] == [
        (person["absorbed_id"], "s-again")
    ]
    assert [(t["session_id"], t["speaker"], t["text"]) for t in data["conversation"]] == [
        ("s-story", "shopper", "Does the hoodie run small?"),
        ("s-story", "bot", "It runs true to size."),
        ("s-again", "shopper", "I'm back, ada@example.com"),
    ]
    # Nothing of the other person.
    text = dumps(data)
    assert "grace" not in text.lower() and "waterproof" not in text
    assert json.loads(text)["lead"]["email"] == "ada@example.com"


@sqlite_only
def test_export_without_a_tracker_store_table(book: LeadBook) -> None:
    # Rasa has not created its table yet: the export has no conversation, no error.
    lead_id = book.create(ADA, by="alice").lead["id"]
    assert book.export_data(lead_id)["conversation"] == []


PERSONAL = (
    "ada@example.com",
    "Ada",
    "Does the hoodie run small?",
    "eight hundred euros",
    "in two weeks",
    "Ada prefers calls",
    "s-story",
    "s-again",
)
# Tables whose rows hang on a lead, and how to find the person's rows in them.
HANGING: dict[str, Any] = {
    "answers": Answer,
    "lead_events": LeadEvent,
    "lead_notes": LeadNote,
    "lead_status_changes": LeadStatusChange,
    "score_snapshots": ScoreSnapshot,
    "handoffs": Handoff,
    "handoff_triggers": HandoffTrigger,
}


def _person_counts(engine: Engine, lead_ids: list[str]) -> dict[str, int]:
    with engine.connect() as connection:
        counts = {
            name: int(
                connection.execute(
                    select(func.count())
                    .select_from(model.__table__)
                    .where(model.__table__.c.lead_id.in_(lead_ids))
                ).scalar_one()
            )
            for name, model in HANGING.items()
        }
        handoffs = select(Handoff.__table__.c.id).where(Handoff.__table__.c.lead_id.in_(lead_ids))
        outbox = OutboxMessage.__table__
        counts["outbox"] = int(
            connection.execute(
                select(func.count()).select_from(outbox).where(outbox.c.handoff_id.in_(handoffs))
            ).scalar_one()
        )
        attempts = DeliveryAttempt.__table__
        counts["delivery_attempts"] = int(
            connection.execute(
                select(func.count())
                .select_from(attempts)
                .where(
                    attempts.c.outbox_id.in_(
                        select(outbox.c.id).where(outbox.c.handoff_id.in_(handoffs))
                    )
                )
            ).scalar_one()
        )
        merges = LeadMerge.__table__
        counts["lead_merges"] = int(
            connection.execute(
                select(func.count())
                .select_from(merges)
                .where(merges.c.survivor_id.in_(lead_ids) | merges.c.absorbed_id.in_(lead_ids))
            ).scalar_one()
        )
        counts["leads"] = int(
            connection.execute(
                select(func.count())
                .select_from(Lead.__table__)
                .where(Lead.__table__.c.id.in_(lead_ids))
            ).scalar_one()
        )
    return counts


# What each session said, in the event consumer's copies.
WORDS = {"s-story": "Does the hoodie run small?", "s-grace": "Is it waterproof?"}


def _conversation_copies(
    engine: Engine, events: dict[str, int]
) -> Callable[[], dict[str, tuple[int, int]]]:
    """Store ``events[sender]`` consumed events (with the sender's words) and a rollup each.

    Returns how to count them again: sender -> (events, rollups).
    """
    copies, rollups = ConversationEvent.__table__, ConversationRollup.__table__
    with engine.begin() as connection:
        for sender, count in events.items():
            for number in range(count):
                connection.execute(
                    copies.insert().values(
                        dedup_key=f"{sender}-{number}",
                        sender_id=sender,
                        type_name="user",
                        timestamp=1.0 + number,
                        data=json.dumps({"event": "user", "text": WORDS.get(sender, "hello")}),
                        source="broker",
                        received_at=NOW,
                    )
                )
            connection.execute(
                rollups.insert().values(
                    sender_id=sender,
                    events=count,
                    user_messages=count,
                    bot_messages=0,
                    fallbacks=0,
                    updated_at=NOW,
                )
            )

    def count() -> dict[str, tuple[int, int]]:
        with engine.connect() as connection:
            found = dict(
                connection.execute(
                    select(copies.c.sender_id, func.count()).group_by(copies.c.sender_id)
                ).all()
            )
            kept = set(connection.execute(select(rollups.c.sender_id)).scalars())
        return {
            sender: (int(found.get(sender, 0)), int(sender in kept))
            for sender in sorted(set(found) | kept)
        }

    return count


def test_erase_removes_the_person_everywhere(
    book: LeadBook, engine: Engine, tracker_url: str, person: dict[str, Any]
) -> None:
    ids = [person["lead_id"], person["absorbed_id"]]
    before = _person_counts(engine, ids)
    # The story puts rows in every table (else this test would prove nothing).
    assert all(before.values()), before
    grace_before = _person_counts(engine, [person["grace_id"]])
    copies = _conversation_copies(engine, {"s-story": 2, "s-again": 1, "s-grace": 1})
    conversations = ConversationStore(tracker_url)
    try:
        result = book.erase(person["lead_id"], by="dpo@shop", now=NOW + timedelta(days=1))
        assert conversations.conversation(["s-story", "s-again"]) == []
        assert len(conversations.conversation(["s-grace"])) == 1
    finally:
        conversations.dispose()
    assert result["lead_id"] == person["lead_id"]
    assert result["reason"] == "request"
    assert result["removed"] == {
        "answers": before["answers"],
        "events": before["lead_events"],
        "notes": before["lead_notes"],
        "handoffs": before["handoffs"],
        "orders": 0,
        "leads": 2,
        "conversation_events": person["events"]["s-story"] + person["events"]["s-again"],
        "conversation_copies": 3,
    }
    # The event consumer's copies go too; the other person's stay.
    assert copies() == {"s-grace": (1, 1)}
    assert _person_counts(engine, ids) == dict.fromkeys(before, 0)
    # The other person keeps everything.
    assert _person_counts(engine, [person["grace_id"]]) == grace_before
    text = database_text(engine)
    for fragment in PERSONAL:
        assert fragment not in text, fragment
    assert "grace@example.com" in text and "Is it waterproof?" in text


def test_erase_leaves_a_tombstone_without_personal_data(
    book: LeadBook, engine: Engine, person: dict[str, Any]
) -> None:
    erased_at = NOW + timedelta(days=1)
    book.erase(person["absorbed_id"], by="dpo@shop", now=erased_at)
    tombstones = {row.lead_id: row for row in rows(engine, Erasure)}
    # One per id the person had: the lead and the lead merged into it.
    assert set(tombstones) == {person["lead_id"], person["absorbed_id"]}
    main = tombstones[person["lead_id"]]
    assert (main.lead_created_at, main.erased_at, main.reason, main.requested_by) == (
        NOW,
        erased_at,
        "request",
        "dpo@shop",
    )
    assert main.removed["leads"] == 2
    assert main.removed["conversation_events"] == sum(
        person["events"][session] for session in ("s-story", "s-again")
    )
    absorbed = tombstones[person["absorbed_id"]]
    assert (absorbed.erased_at, absorbed.removed) == (erased_at, {})
    text = dumps([dict(row._mapping) for row in tombstones.values()])
    for fragment in PERSONAL:
        assert fragment not in text, fragment
    # Both ids of the person answer "gone", with the time.
    for lead_id in (person["lead_id"], person["absorbed_id"]):
        with pytest.raises(LeadGone) as caught:
            book.get(lead_id)
        assert caught.value.erased_at == erased_at
    with pytest.raises(LeadGone):
        book.erase(person["lead_id"], by="dpo@shop")
    with pytest.raises(LeadGone):
        book.export_data(person["lead_id"])
    with pytest.raises(LeadGone):
        book.update(person["lead_id"], {"company": "x"}, by="bob", replace=False)
    with pytest.raises(LeadGone):
        book.convert(person["lead_id"], customer_group=None, by="bob")
    assert book.get(person["grace_id"])["first_name"] == "Grace"


def test_erase_waits_for_the_tracker_store(
    book: LeadBook, engine: Engine, tracker_url: str, person: dict[str, Any]
) -> None:
    # The conversation store cannot be reached (nothing listens on port 9): nothing is
    # erased, so the request can be repeated once it is back.
    book.conversations = ConversationStore("postgresql+psycopg2://nobody@127.0.0.1:9/tracker")
    with pytest.raises(OperationalError):
        book.erase(person["lead_id"], by="dpo@shop")
    book.conversations.dispose()
    assert book.get(person["lead_id"])["email"] == "ada@example.com"
    assert rows(engine, Erasure) == []
    book.conversations = ConversationStore(tracker_url)
    result = book.erase(person["lead_id"], by="dpo@shop")
    assert result["removed"]["conversation_events"] == sum(
        person["events"][session] for session in ("s-story", "s-again")
    )
    assert book.conversations.conversation(["s-story", "s-again"]) == []


@sqlite_only
def test_erase_without_conversations_store(engine: Engine) -> None:
    book = LeadBook(LeadService(engine), None)
    lead_id = book.create(ADA, by="alice").lead["id"]
    result = book.erase(lead_id, by="dpo", reason="delete")
    assert "conversation_events" not in result["removed"]
    assert rows(engine, Erasure)[0].reason == "delete"


# --- purge --------------------------------------------------------------------------------------


def test_purge_erases_only_old_anonymous_leads(
    book: LeadBook, engine: Engine, tracker_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    year = timedelta(days=365)
    old = NOW - year - timedelta(days=30)

    def view(session: str, at: datetime) -> RecordEvent:
        return RecordEvent(
            session_id=session,
            event_id=f"{session}:{at.isoformat()}",
            type="product_view",
            ts=at,
            source="storefront",
            product_id="hoodie-classic",
        )

    cases: dict[str, tuple[list[Command], datetime, bool]] = {
        # session: (how, when, purged?)
        "old-anonymous": ([view("old-anonymous", old)], old, True),
        "old-answered": ([answer("old-answered", "timeline", "soon", {"days": 7}, old)], old, True),
        "old-consented": (
            [
                UpdateContact(
                    session_id="old-consented", first_name="Ann", consent_text="ok", consent_at=old
                )
            ],
            old,
            True,
        ),
        "at-cutoff": ([view("at-cutoff", NOW - year)], NOW - year, False),  # not older than
        "recent": ([view("recent", NOW - timedelta(days=3))], NOW - timedelta(days=3), False),
        "old-email": ([UpdateContact(session_id="old-email", email="old@example.com")], old, False),
        "old-phone": ([UpdateContact(session_id="old-phone", phone="+33612345678")], old, False),
    }
    for commands, at, _ in cases.values():
        book.repository.apply(commands, now=at)
    # Old, then touched again recently.
    book.repository.apply([view("touched", old)], now=old)
    book.repository.apply([view("touched", NOW - timedelta(days=1))], now=NOW - timedelta(days=1))
    # Anonymous and old, but merged into a lead with contact details: that lead decides.
    book.repository.apply([view("old-absorbed", old)], now=old)
    book.repository.apply(
        [UpdateContact(session_id="old-absorbed", email="old@example.com")], now=old
    )
    conversation = converse(
        tracker_url, "old-anonymous", ("user", "just looking"), start=old.timestamp()
    )
    converse(tracker_url, "recent", ("user", "hello"), start=NOW.timestamp())
    ids = {row.session_id: row.id for row in rows(engine, Lead)}

    assert book.purge_anonymous(year, now=NOW, dry_run=True) == 3
    assert len(rows(engine, Lead)) == len(ids) and rows(engine, Erasure) == []

    monkeypatch.setattr(leadbook, "PURGE_BATCH", 2)  # several batches
    assert book.purge_anonymous(year, now=NOW) == 3
    purged = {session for session, (_, _, gone) in cases.items() if gone}
    left = {row.session_id for row in rows(engine, Lead)}
    assert left == set(ids) - purged
    tombstones = {row.lead_id: row for row in rows(engine, Erasure)}
    assert set(tombstones) == {ids[session] for session in purged}
    assert {(row.reason, row.requested_by, row.erased_at) for row in tombstones.values()} == {
        ("purge", "purge", NOW)
    }
    conversations = ConversationStore(tracker_url)
    try:
        assert conversations.conversation(["old-anonymous"]) == []
        assert len(conversations.conversation(["recent"])) == 1
    finally:
        conversations.dispose()
    assert tombstones[ids["old-anonymous"]].removed["conversation_events"] == conversation
    # Nothing left to purge.
    assert book.purge_anonymous(year, now=NOW, dry_run=True) == 0
    assert book.purge_anonymous(year, now=NOW) == 0


@sqlite_only
@pytest.mark.parametrize(
    "call",
    [
        lambda book: book.get("nope"),
        lambda book: book.update("nope", {"company": "x"}, by="bob", replace=False),
        lambda book: book.update("nope", ADA, by="bob", replace=True),
        lambda book: book.convert("nope", customer_group=None, by="bob"),
        lambda book: book.export_data("nope"),
        lambda book: book.erase("nope", by="dpo"),
    ],
    ids=["get", "patch", "put", "convert", "export", "erase"],
)
def test_unknown_lead_is_a_lookup_error(book: LeadBook, engine: Engine, call: Any) -> None:
    with pytest.raises(LookupError) as caught:
        call(book)
    assert not isinstance(caught.value, LeadGone)
    assert "no lead with id 'nope'" in str(caught.value)
    assert rows(engine, Erasure) == []


@sqlite_only
def test_purge_on_an_empty_store(book: LeadBook) -> None:
    assert book.purge_anonymous(timedelta(days=1), now=NOW, dry_run=True) == 0
    assert book.purge_anonymous(timedelta(days=1), now=NOW) == 0


def test_a_lead_created_with_a_status_starts_its_history_with_it(engine: Engine) -> None:
    book = LeadBook(LeadService(engine), region="FR")
    saved = book.create(
        {
            "first_name": "Ines",
            "last_name": "Roy",
            "email": "ines@example.com",
            "status": "Negotiation",
            "status_reason": "met at the fair",
        },
        by="token:crm",
    )
    with engine.connect() as connection:
        rows = connection.execute(
            select(LeadStatusChange.__table__).where(LeadStatusChange.lead_id == saved.lead["id"])
        ).all()
    assert [(r.from_status, r.to_status, r.changed_by, r.reason) for r in rows] == [
        ("New", "Negotiation", "token:crm", "met at the fair")
    ]
    assert saved.lead["lifecycle"] == "opportunity"


@pytest.mark.parametrize("replace", [False, True])
def test_won_through_an_edit_converts_like_convert(book: LeadBook, replace: bool) -> None:
    lead_id = book.create(ADA, by="alice", now=NOW).lead["id"]
    won_at = NOW + timedelta(hours=2)
    lead = book.update(lead_id, {**ADA, "status": "Won"}, by="bob", replace=replace, now=won_at)
    assert (lead["status"], lead["lifecycle"], lead["converted_at"]) == (
        "Won",
        "customer",
        won_at.isoformat(),
    )
    # A later conversion keeps the first time.
    again = book.convert(lead_id, customer_group="retail", by="bob", now=won_at + timedelta(1))
    assert (again["converted_at"], again["customer_group"]) == (won_at.isoformat(), "retail")
