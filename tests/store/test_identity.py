"""Identity without takeover: a known e-mail or phone links leads, only sales merge them.

A chat or a public web form that names another lead's e-mail address or phone
number never changes that lead; the new lead keeps what it was told and is
linked as a likely duplicate. Sales merge two leads deliberately, and every
session a lead ever had finds it. Runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.engine import Engine

from bot.catalog import DEMO_CATALOG, load_catalog
from bot.leads import LeadService
from bot.leads.book import DuplicateLead, LeadBook, SameLead
from bot.leads.commands import Command, RecordAnswer, RecordEvent, UpdateContact
from bot.scoring import Scorer, load_scoring_config
from bot.store.models import LeadDuplicate, LeadMerge
from bot.store.queries import LeadFilters
from bot.store.tracker import ConversationStore
from tests.scoring import SCORING_CONFIG

T0 = datetime(2026, 11, 23, 10, 0, tzinfo=timezone.utc)
ADA_EMAIL = "ada@example.com"
ADA_PHONE = "+33612345678"
EVE_PHONE = "+4915112345678"


@pytest.fixture(scope="module")
def scorer() -> Scorer:
    return Scorer(load_scoring_config(SCORING_CONFIG), load_catalog(DEMO_CATALOG))


@pytest.fixture
def repo(engine: Engine, scorer: Scorer) -> LeadService:
    return LeadService(engine, scorer)


@pytest.fixture
def book(repo: LeadService, tmp_path: Path) -> Iterator[LeadBook]:
    conversations = ConversationStore(f"sqlite:///{tmp_path / 'tracker.db'}")
    yield LeadBook(repo, conversations, region="FR")
    conversations.dispose()


def budget(session: str, amount: str, at: datetime) -> RecordAnswer:
    return RecordAnswer(
        session_id=session,
        answer_id=f"{session}-budget-{amount}",
        key="budget",
        raw=f"{amount} EUR",
        value={"amount": Decimal(amount), "currency": "EUR"},
        status="answered",
        answered_at=at,
    )


def cart(session: str, at: datetime) -> RecordEvent:
    return RecordEvent(
        session_id=session,
        event_id=f"{session}-cart",
        type="add_to_cart",
        ts=at,
        source="storefront",
        product_id="hoodie-classic",
        variant_id="hoodie-classic-blue-m",
    )


def customer(repo: LeadService) -> dict[str, Any]:
    """Ada: a chat with consent, a budget that covers the hoodie, a cart add."""
    commands: list[Command] = [
        UpdateContact(
            session_id="ada",
            first_name="Ada",
            last_name="Lovelace",
            email=ADA_EMAIL,
            phone=ADA_PHONE,
            consent_text="You may contact me",
            consent_at=T0,
        ),
        budget("ada", "800", T0),
        cart("ada", T0),
    ]
    repo.apply(commands, now=T0)
    lead = repo.get_lead_by_session("ada")
    assert lead is not None
    return lead


def unchanged(before: dict[str, Any], after: dict[str, Any] | None) -> None:
    """Everything the customer's lead held is as it was (links aside)."""
    assert after is not None
    kept = {name: value for name, value in after.items() if name != "possible_duplicates"}
    assert kept == {name: value for name, value in before.items() if name != "possible_duplicates"}


def test_stranger_in_chat_with_a_customers_email_overwrites_nothing(repo: LeadService) -> None:
    ada = customer(repo)
    t1 = T0 + timedelta(hours=1)
    state = repo.apply(
        [
            budget("eve", "20", t1),
            UpdateContact(session_id="eve", first_name="Eve", email="ADA@Example.com"),
            UpdateContact(session_id="eve", phone=EVE_PHONE, consent_at=t1, consent_text="ok"),
        ],
        now=t1,
    ).leads["eve"]

    # The stranger's conversation is a lead of its own, scored on its own facts.
    assert state.lead_id != ada["id"]
    assert state.counts == {}
    unchanged(ada, repo.get_lead(ada["id"]))
    eve = repo.get_lead_by_session("eve")
    assert eve is not None and eve["id"] == state.lead_id
    assert (eve["first_name"], eve["email"], eve["phone"]) == ("Eve", "ADA@Example.com", EVE_PHONE)
    assert eve["answers"]["budget"]["value"]["amount"] == Decimal("20")

    # Linked both ways, with what differs for sales to see.
    (link,) = eve["possible_duplicates"]
    assert (link["id"], link["matched_on"], link["differs"]) == (
        ada["id"],
        ["email"],
        ["first_name", "phone"],
    )
    assert (link["first_name"], link["phone"], link["found_at"]) == (
        "Ada",
        ADA_PHONE,
        t1.isoformat(),
    )
    (back,) = repo.get_lead(ada["id"])["possible_duplicates"]  # type: ignore[index]
    assert (back["id"], back["first_name"], back["phone"]) == (eve["id"], "Eve", EVE_PHONE)
    listed = repo.list_leads(LeadFilters()).items
    assert {lead["id"] for lead in listed} == {ada["id"], eve["id"]}


def test_a_known_phone_links_too_and_a_repeat_links_once(repo: LeadService) -> None:
    ada = customer(repo)
    t1 = T0 + timedelta(minutes=5)
    repo.apply([UpdateContact(session_id="eve", first_name="Eve", phone=ADA_PHONE)], now=t1)
    # The same again, and the customer repeating her own details, add no second link.
    repo.apply([UpdateContact(session_id="eve", phone=ADA_PHONE)], now=t1)
    unchanged(ada, repo.get_lead(ada["id"]))
    repo.apply([UpdateContact(session_id="ada", phone=ADA_PHONE, email=ADA_EMAIL)], now=t1)
    eve = repo.get_lead_by_session("eve")
    assert eve is not None
    assert [(link["id"], link["matched_on"]) for link in eve["possible_duplicates"]] == [
        (ada["id"], ["phone"])
    ]
    with repo.engine.connect() as connection:
        assert len(connection.execute(select(LeadDuplicate.__table__)).all()) == 1


def test_the_linked_lead_scores_and_hands_off_on_its_own_facts(repo: LeadService) -> None:
    ada = customer(repo)
    t1 = T0 + timedelta(minutes=5)
    state = repo.apply(
        [UpdateContact(session_id="eve", email=ADA_EMAIL), cart("eve", t1)], now=t1
    ).leads["eve"]
    assert state.counts == {"add_to_cart": 1}
    after = repo.get_lead(ada["id"])
    assert after is not None
    assert (after["score"], after["stage"], after["reasons"]) == (
        ada["score"],
        ada["stage"],
        ada["reasons"],
    )
    ada_state = repo.lead_state("ada")
    assert ada_state is not None and ada_state.counts == {"add_to_cart": 1}


def test_public_form_with_a_customers_email_makes_a_linked_lead(
    repo: LeadService, book: LeadBook
) -> None:
    ada = customer(repo)
    later = T0 + timedelta(days=1)
    saved = book.capture(
        {
            "first_name": "Eve",
            "last_name": "Mallory",
            "email": ADA_EMAIL.upper(),
            "phone": "+33 7 81 23 45 67",
            "company": "Evil Corp",
        },
        consent_text="form wording",
        now=later,
    )
    assert saved.created and saved.lead["id"] != ada["id"]
    unchanged(ada, repo.get_lead(ada["id"]))
    new = saved.lead
    # The form's values are not lost: they are the new lead's.
    assert (new["first_name"], new["last_name"], new["phone"], new["company"]) == (
        "Eve",
        "Mallory",
        "+33781234567",
        "Evil Corp",
    )
    assert (new["source"], new["consent"]["text"]) == ("web_form", "form wording")
    (link,) = new["possible_duplicates"]
    assert (link["id"], link["matched_on"]) == (ada["id"], ["email"])
    assert link["differs"] == ["first_name", "last_name", "phone"]


def test_public_form_with_a_session_links_that_sessions_lead(
    repo: LeadService, book: LeadBook
) -> None:
    ada = customer(repo)
    repo.apply([cart("eve-shop", T0)], now=T0)
    saved = book.capture(
        {"first_name": "Eve", "last_name": "Mallory", "email": ADA_EMAIL, "phone": EVE_PHONE},
        consent_text="form wording",
        session_id="eve-shop",
        now=T0 + timedelta(hours=2),
    )
    unchanged(ada, repo.get_lead(ada["id"]))
    lead = saved.lead
    assert lead["session_id"] == "eve-shop" and lead["id"] != ada["id"]
    assert (lead["first_name"], lead["phone"]) == ("Eve", EVE_PHONE)
    assert [link["id"] for link in lead["possible_duplicates"]] == [ada["id"]]


def test_the_duplicate_keeps_its_own_email_when_edited(repo: LeadService, book: LeadBook) -> None:
    ada = customer(repo)
    repo.apply([UpdateContact(session_id="eve", email=ADA_EMAIL)], now=T0 + timedelta(minutes=1))
    eve = repo.get_lead_by_session("eve")
    assert eve is not None
    edited = book.update(
        eve["id"],
        {"first_name": "Eve", "last_name": "M", "email": ADA_EMAIL},
        by="hugo",
        replace=True,
    )
    assert edited["first_name"] == "Eve"
    # Taking another lead's address is still refused.
    repo.apply([UpdateContact(session_id="bob", email="bob@example.com")], now=T0)
    bob = repo.get_lead_by_session("bob")
    assert bob is not None
    with pytest.raises(DuplicateLead) as refused:
        book.update(bob["id"], {"email": ADA_EMAIL}, by="hugo", replace=False)
    assert refused.value.existing_id == ada["id"]


# --- merges are a person's decision -------------------------------------------------------------


def test_sales_merge_keeps_the_customers_fields_and_every_session_finds_the_lead(
    repo: LeadService, book: LeadBook
) -> None:
    ada = customer(repo)
    t1 = T0 + timedelta(hours=1)
    repo.apply(
        [
            budget("ada-2", "900", t1),
            UpdateContact(
                session_id="ada-2", first_name="Ada L.", email=ADA_EMAIL, phone="+33699999999"
            ),
        ],
        now=t1,
    )
    second = repo.get_lead_by_session("ada-2")
    assert second is not None
    book.update(second["id"], {"company": "Analytical Engines"}, by="hugo", replace=False)

    t2 = t1 + timedelta(hours=1)
    merged = book.merge(ada["id"], second["id"], by="hugo", now=t2)
    assert merged["id"] == ada["id"]
    # The customer's contact fields stay; only what was empty is added.
    assert (merged["first_name"], merged["phone"], merged["company"]) == (
        "Ada",
        ADA_PHONE,
        "Analytical Engines",
    )
    # The person's latest answer is the current one, the older one history.
    assert merged["answers"]["budget"]["value"]["amount"] == Decimal("900")
    assert [a["raw"] for a in repo.answer_history(ada["id"], "budget")] == ["800 EUR", "900 EUR"]
    assert merged["possible_duplicates"] == []
    (event,) = repo.events(ada["id"], types=["lead_merged"])
    assert event["properties"]["by"] == "hugo"
    with repo.engine.connect() as connection:
        (record,) = connection.execute(select(LeadMerge.__table__)).all()
    assert (record.survivor_id, record.absorbed_id, record.absorbed_session_id) == (
        ada["id"],
        second["id"],
        "ada-2",
    )
    assert record.merged_by == "hugo"

    # Every session and id the lead ever had finds it.
    for session in ("ada", "ada-2"):
        page = repo.list_leads(LeadFilters(session_id=session))
        assert [lead["id"] for lead in page.items] == [ada["id"]], session
        found = repo.get_lead_by_session(session)
        assert found is not None and found["id"] == ada["id"]
        state = repo.lead_state(session)
        assert state is not None and state.lead_id == ada["id"]
    assert book.get(second["id"])["id"] == ada["id"]
    assert repo.list_leads(LeadFilters(session_id="nobody")).items == []
    # Later writes of the merged session go to the lead.
    later = repo.apply([cart("ada-2", t2)], now=t2).leads["ada-2"]
    assert later.lead_id == ada["id"]

    # Merging again changes nothing; a lead is not its own duplicate.
    assert book.merge(ada["id"], second["id"], by="hugo", now=t2)["id"] == ada["id"]
    assert book.merge(second["id"], ada["id"], by="hugo", now=t2)["id"] == ada["id"]
    with pytest.raises(SameLead):
        book.merge(ada["id"], ada["id"], by="hugo")
    with pytest.raises(LookupError, match="duplicate_id"):
        book.merge(ada["id"], "no-such-lead", by="hugo")
    with pytest.raises(LookupError):
        book.merge("no-such-lead", ada["id"], by="hugo")


def test_a_merge_moves_the_absorbed_leads_links(repo: LeadService, book: LeadBook) -> None:
    ada = customer(repo)
    repo.apply([UpdateContact(session_id="b", first_name="Ada", email=ADA_EMAIL)], now=T0)
    b = repo.get_lead_by_session("b")
    assert b is not None
    # C shares only B's new phone number: linked to B.
    repo.apply([UpdateContact(session_id="b", phone=EVE_PHONE)], now=T0)
    repo.apply([UpdateContact(session_id="c", phone=EVE_PHONE)], now=T0)
    c = repo.get_lead_by_session("c")
    assert c is not None
    assert [link["id"] for link in c["possible_duplicates"]] == [b["id"]]

    book.merge(ada["id"], b["id"], by="hugo")
    c = repo.get_lead(c["id"])
    assert c is not None
    assert [(link["id"], link["matched_on"]) for link in c["possible_duplicates"]] == [
        (ada["id"], ["phone"])
    ]
    survivor = repo.get_lead(ada["id"])
    assert survivor is not None
    assert [link["id"] for link in survivor["possible_duplicates"]] == [c["id"]]
    # The survivor had a phone: B's was not taken over.
    assert survivor["phone"] == ADA_PHONE


def test_erasing_a_lead_removes_its_links_and_the_export_names_no_other_person(
    repo: LeadService, book: LeadBook
) -> None:
    ada = customer(repo)
    repo.apply([UpdateContact(session_id="eve", first_name="Eve", email=ADA_EMAIL)], now=T0)
    eve = repo.get_lead_by_session("eve")
    assert eve is not None

    exported = book.export_data(ada["id"])["lead"]["possible_duplicates"]
    assert exported == [
        {
            "id": eve["id"],
            "matched_on": ["email"],
            "found_at": T0.isoformat(),
            "differs": ["first_name"],
        }
    ]

    book.erase(eve["id"], by="admin")
    lead = repo.get_lead(ada["id"])
    assert lead is not None and lead["possible_duplicates"] == []
