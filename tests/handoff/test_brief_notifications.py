"""Notifications carry the brief, and sales hear once when a handed-off lead gains details.

Every test runs on SQLite and PostgreSQL. Monday 2026-11-23 10:00 UTC is 11:00 in
Paris, inside the sales team's hours.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from bot.catalog import DEMO_CATALOG, load_catalog
from bot.handoff.config import HandoffConfig, load_handoff_config
from bot.handoff.planner import HandoffPlanner
from bot.leads import LeadService
from bot.leads.book import LeadBook
from bot.leads.commands import RecordAnswer, UpdateContact
from bot.scoring import Scorer, scorer_for
from bot.settings import Settings
from bot.store.sales import SalesDesk
from tests.handoff import HANDOFF_CONFIG
from tests.handoff.test_planner import (
    BLUE_M,
    CRM,
    MON,
    PUBLIC_URL,
    SIGNING_KEY,
    SLACK,
    budget,
    chat,
    handoffs,
    minutes,
    outbox,
    shop,
)
from tests.scoring import SCORING_CONFIG

UPDATED = "lead.handoff.updated"


@pytest.fixture(scope="module")
def scorer() -> Scorer:
    return scorer_for(Settings(scoring_config_path=SCORING_CONFIG))


@pytest.fixture(scope="module")
def config() -> HandoffConfig:
    return load_handoff_config(HANDOFF_CONFIG, environ={}).with_channel(CRM).with_channel(SLACK)


def make_repo(engine: Engine, scorer: Scorer, config: HandoffConfig) -> LeadService:
    planner = HandoffPlanner(
        config,
        public_url=PUBLIC_URL,
        signing_key=SIGNING_KEY,
        catalog=load_catalog(DEMO_CATALOG),
    )
    return LeadService(engine, scorer, planner)


@pytest.fixture
def repo(engine: Engine, scorer: Scorer, config: HandoffConfig) -> LeadService:
    return make_repo(engine, scorer, config)


def named(session: str, **fields: Any) -> UpdateContact:
    return UpdateContact(session_id=session, **fields)


def updates(engine: Engine) -> list[Any]:
    return [message for message in outbox(engine) if message.kind == UPDATED]


def test_payload_adds_the_summary_and_next_step_and_keeps_every_field(
    repo: LeadService, engine: Engine
) -> None:
    repo.apply(
        [
            named("s1", first_name="Jane", last_name="Doe", phone="+33612345678"),
            shop("s1", "v1", "variant_select", MON - minutes(2)),
            budget("s1", "a1", {"amount": Decimal("300"), "currency": "EUR"}, MON - minutes(1)),
            chat("s1", "e1", "human_requested", MON),
        ],
        now=MON,
    )
    [message, _] = outbox(engine)
    payload = message.payload
    assert {
        "type",
        "timestamp",
        "action",
        "trigger",
        "sla",
        "sla_due_at",
        "handoff",
        "lead",
        "journey",
        "lead_url",
        "ack_url",
        "summary",
        "next_step",
    } == set(payload)
    assert payload["summary"] == (
        "Jane Doe, reachable by phone, wants Classic Hoodie — blue, M at 59 EUR, 12 in stock."
        " Budget about 300 EUR against a price of 59 EUR: within budget."
        " On the shop they chose Classic Hoodie — blue, M, last on Mon 23 Nov 2026, 10:58 CET."
        " In the chat they asked for a person."
    )
    assert payload["next_step"] == (
        "Call Jane Doe before 11:15 CET (SLA 15 min): Jane asked for a person."
    )
    assert payload["journey"][0]["variant_id"] == BLUE_M


def test_contact_details_after_the_handoff_send_one_update_per_channel(
    repo: LeadService, engine: Engine
) -> None:
    repo.apply([chat("s1", "e1", "human_requested", MON)], now=MON)
    [created, _] = outbox(engine)
    assert "An anonymous shopper (no contact details yet)" in created.payload["summary"]
    assert "No contact details yet" in created.payload["next_step"]

    later = MON + minutes(3)
    # Several fields in one write: one update, not one per field.
    repo.apply(
        [
            named("s1", first_name="Jane", last_name="Doe"),
            named("s1", email="jane@example.com", consent_at=later, consent_text="ok"),
        ],
        now=later,
    )
    sent = updates(engine)
    assert sorted(message.channel for message in sent) == ["crm", "sales-slack"]
    for message in sent:
        assert message.handoff_id == created.handoff_id
        assert (message.payload["type"], message.payload["action"]) == (UPDATED, "updated")
        assert message.payload["lead"]["email"] == "jane@example.com"
        assert message.payload["summary"].startswith("Jane Doe, reachable by email,")
        assert message.payload["next_step"].startswith("Email Jane Doe before 11:15 CET")
        # As urgent as the handoff.
        assert message.priority == created.priority

    # The same details again (a retried chat turn), or a shop event, tell nothing new.
    repo.apply([named("s1", email="jane@example.com")], now=later + minutes(1))
    repo.apply([shop("s1", "v1", "product_view", later)], now=later + minutes(1))
    assert len(updates(engine)) == 2


def test_an_answer_after_the_handoff_sends_an_update(repo: LeadService, engine: Engine) -> None:
    repo.apply([chat("s1", "e1", "human_requested", MON)], now=MON)
    later = MON + minutes(5)
    repo.apply(
        [
            RecordAnswer(
                session_id="s1",
                answer_id="t1",
                key="timeline",
                raw="within 3 days",
                value={"days": 3},
                status="answered",
                answered_at=later,
            )
        ],
        now=later,
    )
    sent = updates(engine)
    assert len(sent) == 2
    assert "to buy in 3 days (Thu 26 Nov 2026)" in sent[0].payload["summary"]
    # A skipped question is no news.
    repo.apply(
        [
            RecordAnswer(
                session_id="s1",
                answer_id="b1",
                key="budget",
                raw="rather not say",
                value=None,
                status="skipped",
                answered_at=later,
            )
        ],
        now=later,
    )
    assert len(updates(engine)) == 2


def test_the_write_that_makes_the_handoff_sends_no_update(
    repo: LeadService, engine: Engine
) -> None:
    repo.apply(
        [named("s1", email="jane@example.com"), chat("s1", "e1", "human_requested", MON)], now=MON
    )
    assert [message.kind for message in outbox(engine)] == ["lead.handoff", "lead.handoff"]
    assert updates(engine) == []


def test_acknowledged_handoffs_get_updates_closed_ones_do_not(
    repo: LeadService, engine: Engine
) -> None:
    state = repo.apply([chat("s1", "e1", "human_requested", MON)], now=MON).leads["s1"]
    desk = SalesDesk(engine)
    desk.set_status(state.lead_id, "Contacted", by="Hugo", reason=None, now=MON)
    repo.apply([named("s1", phone="+33612345678")], now=MON + minutes(1))
    assert len(updates(engine)) == 2

    desk.set_status(state.lead_id, "Lost", by="Hugo", reason=None, now=MON + minutes(2))
    repo.apply([named("s1", email="jane@example.com")], now=MON + minutes(3))
    assert len(updates(engine)) == 2


def test_no_update_without_a_channel(engine: Engine, scorer: Scorer) -> None:
    quiet = load_handoff_config(HANDOFF_CONFIG, environ={})
    repo = make_repo(engine, scorer, quiet)
    repo.apply([chat("s1", "e1", "human_requested", MON)], now=MON)
    repo.apply([named("s1", email="jane@example.com")], now=MON + minutes(1))
    assert len(handoffs(engine)) == 1
    assert outbox(engine) == []


def test_a_web_form_on_the_session_updates_the_handoff(repo: LeadService, engine: Engine) -> None:
    repo.apply([chat("s1", "e1", "human_requested", MON)], now=MON)
    LeadBook(repo).capture(
        {"first_name": "Jane", "last_name": "Doe", "email": "jane@example.com", "company": "Acme"},
        consent_text="ok",
        session_id="s1",
        now=MON + minutes(2),
    )
    sent = updates(engine)
    assert {message.payload["lead"]["email"] for message in sent} == {"jane@example.com"}
    assert len(sent) == 2


def test_an_api_edit_of_the_contact_details_updates_the_handoff(
    repo: LeadService, engine: Engine
) -> None:
    state = repo.apply([chat("s1", "e1", "human_requested", MON)], now=MON).leads["s1"]
    book = LeadBook(repo)
    later = MON + minutes(4)
    book.update(
        state.lead_id,
        {"first_name": "Jane", "last_name": "Doe", "email": "jane@example.com"},
        by="crm",
        replace=False,
        now=later,
    )
    sent = updates(engine)
    assert sorted(message.channel for message in sent) == ["crm", "sales-slack"]
    for message in sent:
        assert (message.payload["type"], message.payload["action"]) == (UPDATED, "updated")
        assert message.payload["lead"]["email"] == "jane@example.com"
        assert message.payload["summary"].startswith("Jane Doe, reachable by email,")

    # The same details again tell nothing new; a new phone number does.
    book.update(state.lead_id, {"email": "jane@example.com"}, by="crm", replace=False, now=later)
    assert len(updates(engine)) == 2
    book.update(state.lead_id, {"phone": "+33612345678"}, by="crm", replace=False, now=later)
    assert len(updates(engine)) == 4
    # Entering the lead again with ?merge=true is an edit too.
    book.create(
        {"first_name": "Jane", "last_name": "Doe", "email": "jane@example.com", "company": "Acme"},
        by="crm",
        merge=True,
        now=later,
    )
    assert [message.payload["lead"]["company"] for message in updates(engine)[4:]] == ["Acme"] * 2

    # A closed handoff hears nothing.
    SalesDesk(engine).set_status(state.lead_id, "Won", by="Hugo", reason=None, now=later)
    book.update(state.lead_id, {"last_name": "Smith"}, by="crm", replace=False, now=later)
    assert len(updates(engine)) == 6
