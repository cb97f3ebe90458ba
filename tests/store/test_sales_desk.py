"""The sales desk: the lead page's data, status changes, notes and acknowledgements."""

from __future__ import annotations

import base64
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from bot.handoff import planner_for
from bot.handoff.channels import Outcome
from bot.handoff.config import Delivery
from bot.handoff.outbox import Attempted, OutboxStore
from bot.leads import LeadService
from bot.leads.book import LeadBook
from bot.leads.commands import Command, RecordAnswer, RecordEvent, UpdateContact
from bot.leads.review import evaluate
from bot.scoring import scorer_for
from bot.settings import Settings
from bot.store.models import LeadStatusChange
from bot.store.sales import SalesDesk
from tests.handoff import HANDOFF_CONFIG
from tests.scoring import SCORING_CONFIG

# A Monday, 11:00 in Paris: the sales team is at work.
NOW = datetime(2026, 3, 2, 10, 0, tzinfo=timezone.utc)
WEBHOOK_SECRET = "whsec_" + base64.b64encode(b"k" * 32).decode()
SLACK_ERROR = "HTTP 503: slack is down"


def handoff_settings(**changes: Any) -> Settings:
    """The tests' scoring and handoff files; handoffs announced on a webhook and on Slack."""
    return replace(
        Settings(scoring_config_path=SCORING_CONFIG, handoff_config_path=HANDOFF_CONFIG),
        handoff_webhook_url="http://127.0.0.1:9/hooks",
        handoff_webhook_secret=WEBHOOK_SECRET,
        handoff_slack_webhook_url="http://127.0.0.1:9/slack",
        **changes,
    )


@dataclass(frozen=True)
class Story:
    """A lead that talked, browsed, answered, asked for a person and got a handoff."""

    repository: LeadService
    lead_id: str
    handoff_id: str


def tell_story(
    engine: Engine,
    settings: Settings,
    now: datetime,
    *,
    session: str = "s-story",
    first_name: str = "Ada",
    budget_raw: str = "800 EUR",
    chat_text: str = "Does the hoodie run small?",
    email: str | None = "ada@example.com",
    deliver: bool = True,
) -> Story:
    """Write the story at ``now``; with ``deliver``, the webhook got it and Slack failed once."""
    repository = LeadService(engine, scorer_for(settings), planner_for(settings))
    start = now - timedelta(minutes=30)
    commands: list[Command] = [
        UpdateContact(
            session_id=session,
            first_name=first_name,
            last_name="Lovelace",
            email=email,
            phone="+33612345678",
            consent_text="You may contact me about my order",
            consent_at=start,
        ),
        RecordEvent(
            session_id=session,
            event_id=f"{session}-view",
            type="product_view",
            ts=start + timedelta(minutes=1),
            source="storefront",
            product_id="hoodie-classic",
            variant_id="hoodie-classic-blue-m",
        ),
        RecordAnswer(
            session_id=session,
            answer_id=f"{session}-budget-1",
            key="budget",
            raw="about 500 euros",
            value={"amount": Decimal("500"), "currency": "EUR"},
            status="answered",
            answered_at=start + timedelta(minutes=2),
        ),
        RecordAnswer(
            session_id=session,
            answer_id=f"{session}-budget-2",
            key="budget",
            raw=budget_raw,
            value={"amount": Decimal("800"), "currency": "EUR"},
            status="answered",
            answered_at=start + timedelta(minutes=4),
        ),
        RecordAnswer(
            session_id=session,
            answer_id=f"{session}-location",
            key="location",
            raw="Lyon, France",
            value={"country": "FR", "region": "Lyon"},
            status="answered",
            answered_at=start + timedelta(minutes=5),
        ),
        RecordEvent(
            session_id=session,
            event_id=f"{session}-chat-1",
            type="chat_message",
            ts=start + timedelta(minutes=6),
            properties={"sender": "user", "text": chat_text},
        ),
        RecordEvent(
            session_id=session,
            event_id=f"{session}-chat-2",
            type="chat_message",
            ts=start + timedelta(minutes=7),
            properties={"sender": "bot", "text": "It runs true to size."},
        ),
        RecordEvent(
            session_id=session,
            event_id=f"{session}-human",
            type="human_requested",
            ts=start + timedelta(minutes=8),
        ),
    ]
    state = repository.apply(commands, now=now).leads[session]
    assert state.handoff is not None
    if deliver:
        # One hour before Slack is tried again: long after any test has finished.
        outbox = OutboxStore(engine, Delivery(retry_schedule=(0.0, 3600.0), jitter=0.0))
        claimed = {message.channel: message for message in outbox.claim(10, now)}
        assert set(claimed) == {"env-webhook", "env-slack"}
        outbox.record(
            [
                Attempted(claimed["env-webhook"], Outcome(True, status_code=204), now, 35),
                Attempted(
                    claimed["env-slack"],
                    Outcome(False, status_code=503, error=SLACK_ERROR),
                    now,
                    120,
                ),
            ],
            now,
        )
    return Story(repository, state.lead_id, state.handoff.handoff_id)


@pytest.fixture
def desk(engine: Engine) -> SalesDesk:
    return SalesDesk(engine)


@pytest.fixture
def story(engine: Engine) -> Story:
    return tell_story(engine, handoff_settings(), NOW)


def status_rows(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(
            connection.execute(
                select(func.count()).select_from(LeadStatusChange.__table__)
            ).scalar_one()
        )


# --- the lead page ------------------------------------------------------------------------------


def test_lead_page_holds_the_whole_story(desk: SalesDesk, story: Story) -> None:
    page = desk.lead_page(story.lead_id)
    assert page is not None
    lead = page["lead"]
    assert (lead["id"], lead["first_name"], lead["email"], lead["phone"]) == (
        story.lead_id,
        "Ada",
        "ada@example.com",
        "+33612345678",
    )
    assert lead["consent"]["text"] == "You may contact me about my order"
    assert page["requested_id"] == story.lead_id and page["absorbed_ids"] == []

    answers = {answer["key"]: answer for answer in page["answers"]}
    assert list(answers) == ["budget", "location"]
    budget = answers["budget"]
    assert (budget["raw"], budget["value"]) == (
        "800 EUR",
        {"amount": Decimal("800"), "currency": "EUR"},
    )
    assert [old["raw"] for old in budget["history"]] == ["about 500 euros", "800 EUR"]
    assert budget["history"][0]["superseded_at"] == budget["answered_at"]
    assert budget["history"][1]["superseded_at"] is None
    assert answers["location"]["value"] == {"country": "FR", "region": "Lyon"}

    stored = story.repository.get_lead(story.lead_id)
    assert stored is not None
    score = page["score"]
    assert (score["score"], score["intent_score"], score["fit_score"], score["stage"]) == (
        stored["score"],
        stored["intent_score"],
        stored["fit_score"],
        stored["stage"],
    )
    assert score["reasons"], "the story scores points"
    assert sorted(score["reasons"], key=lambda r: r["rule"]) == sorted(
        stored["reasons"], key=lambda r: r["rule"]
    )
    weights = [abs(reason["points"]) for reason in score["reasons"]]
    assert weights == sorted(weights, reverse=True)
    assert (
        page["stage_history"] == story.repository.score_history(story.lead_id)["stage_transitions"]
    )

    types = [event["type"] for event in page["events"]]
    assert "product_view" in types and "human_requested" in types
    assert "chat_message" not in types
    assert page["transcript"] == [
        {
            "at": (NOW - timedelta(minutes=24)).isoformat(),
            "sender": "user",
            "text": "Does the hoodie run small?",
        },
        {
            "at": (NOW - timedelta(minutes=23)).isoformat(),
            "sender": "bot",
            "text": "It runs true to size.",
        },
    ]
    assert page["truncated"] == {"events": False, "transcript": False}

    (handoff,) = page["handoffs"]
    assert handoff["id"] == story.handoff_id
    assert (handoff["trigger"], handoff["sla"], handoff["status"], handoff["team"]) == (
        "human_requested",
        "immediate",
        "open",
        "sales",
    )
    assert handoff["assigned_to"] == "Camille Martin"
    assert handoff["created_at"] == NOW.isoformat()
    assert handoff["acknowledged_at"] is None and handoff["closed_at"] is None
    deliveries = {message["channel"]: message for message in handoff["deliveries"]}
    webhook, slack = deliveries["env-webhook"], deliveries["env-slack"]
    assert (webhook["status"], webhook["attempts"], webhook["delivered_at"]) == (
        "delivered",
        1,
        NOW.isoformat(),
    )
    assert webhook["next_attempt_at"] is None
    assert [entry["outcome"] for entry in webhook["log"]] == ["delivered"]
    assert (slack["status"], slack["attempts"], slack["last_error"]) == (
        "pending",
        1,
        SLACK_ERROR,
    )
    assert slack["next_attempt_at"] == (NOW + timedelta(hours=1)).isoformat()
    assert slack["log"] == [
        {
            "attempt": 1,
            "at": NOW.isoformat(),
            "duration_ms": 120,
            "status_code": 503,
            "error": SLACK_ERROR,
            "outcome": "retry",
        }
    ]
    assert page["notes"] == [] and page["status_history"] == []


def test_unknown_lead_has_no_page(desk: SalesDesk) -> None:
    assert desk.lead_page("no-such-lead") is None


def test_merged_lead_shows_the_survivor_with_what_it_absorbed(
    engine: Engine, desk: SalesDesk
) -> None:
    settings = handoff_settings()
    first = tell_story(engine, settings, NOW, session="first", deliver=False)
    # The same person in a second session, asking for a person before giving their email.
    second = tell_story(engine, settings, NOW, session="second", email=None, deliver=False)
    # Sales found the two were one person and merged them.
    LeadBook(first.repository).merge(first.lead_id, second.lead_id, by="Hugo", now=NOW)

    page = desk.lead_page(second.lead_id)
    assert page is not None
    assert (page["lead"]["id"], page["requested_id"]) == (first.lead_id, second.lead_id)
    assert page["absorbed_ids"] == [second.lead_id]
    assert {handoff["id"] for handoff in page["handoffs"]} == {
        first.handoff_id,
        second.handoff_id,
    }

    result = desk.set_status(second.lead_id, "Contacted", by="Hugo", reason=None, now=NOW)
    assert result["lead_id"] == first.lead_id
    assert set(result["acknowledged"]) == {first.handoff_id, second.handoff_id}
    lead = first.repository.get_lead(first.lead_id)
    assert lead is not None and lead["status"] == "Contacted"


# --- status -------------------------------------------------------------------------------------


def test_status_change_records_history_and_acknowledges_then_won_closes(
    engine: Engine, desk: SalesDesk, story: Story
) -> None:
    later = NOW + timedelta(minutes=10)
    result = desk.set_status(
        story.lead_id, "Contacted", by=" Camille Martin ", reason=" left a voicemail ", now=later
    )
    assert result == {
        "lead_id": story.lead_id,
        "from": "New",
        "status": "Contacted",
        "changed": True,
        "acknowledged": [story.handoff_id],
        "closed": [],
    }
    page = desk.lead_page(story.lead_id)
    assert page is not None
    assert page["lead"]["status"] == "Contacted"
    assert page["lead"]["updated_at"] == later.isoformat()
    (change,) = page["status_history"]
    assert (
        change["from_status"],
        change["to_status"],
        change["changed_by"],
        change["reason"],
        change["at"],
    ) == ("New", "Contacted", "Camille Martin", "left a voicemail", later.isoformat())
    (handoff,) = page["handoffs"]
    assert (handoff["status"], handoff["acknowledged_by"], handoff["acknowledged_at"]) == (
        "acknowledged",
        "Camille Martin",
        later.isoformat(),
    )

    again = desk.set_status(story.lead_id, "Contacted", by="Hugo", reason="again", now=later)
    assert again["changed"] is False and again["acknowledged"] == []
    assert status_rows(engine) == 1

    won_at = later + timedelta(days=2)
    won = desk.set_status(story.lead_id, "Won", by="Hugo", reason="ordered 3 hoodies", now=won_at)
    assert (won["from"], won["acknowledged"], won["closed"]) == (
        "Contacted",
        [],
        [story.handoff_id],
    )
    page = desk.lead_page(story.lead_id)
    assert page is not None
    (handoff,) = page["handoffs"]
    assert (handoff["status"], handoff["closed_at"], handoff["acknowledged_by"]) == (
        "closed",
        won_at.isoformat(),
        "Camille Martin",
    )
    assert [c["to_status"] for c in page["status_history"]] == ["Won", "Contacted"]


def test_lost_acknowledges_and_closes_an_open_handoff(desk: SalesDesk, story: Story) -> None:
    result = desk.set_status(story.lead_id, "Lost", by="Hugo", reason="bought elsewhere", now=NOW)
    assert (result["acknowledged"], result["closed"]) == ([story.handoff_id], [story.handoff_id])
    handoff = desk.acknowledge(story.handoff_id, by="someone else", now=NOW + timedelta(hours=1))
    assert handoff is not None
    assert (handoff["status"], handoff["acknowledged_by"], handoff["closed_at"]) == (
        "closed",
        "Hugo",
        NOW.isoformat(),
    )


def test_back_to_new_leaves_handoffs_open(engine: Engine, desk: SalesDesk) -> None:
    settings = handoff_settings()
    repository = LeadService(engine, scorer_for(settings), planner_for(settings))
    state = repository.apply(
        [RecordEvent(session_id="s", event_id="view", type="product_view", ts=NOW)], now=NOW
    ).leads["s"]
    desk.set_status(state.lead_id, "Qualified", by="Hugo", reason=None, now=NOW)
    handoff = (
        repository.apply(
            [RecordEvent(session_id="s", event_id="human", type="human_requested", ts=NOW)], now=NOW
        )
        .leads["s"]
        .handoff
    )
    assert handoff is not None

    result = desk.set_status(state.lead_id, "New", by="Hugo", reason="wrong lead", now=NOW)
    assert (result["changed"], result["acknowledged"], result["closed"]) == (True, [], [])
    page = desk.lead_page(state.lead_id)
    assert page is not None
    assert [h["status"] for h in page["handoffs"]] == ["open"]
    assert [c["reason"] for c in page["status_history"]] == ["wrong lead", None]


def test_unknown_status_is_refused_naming_the_allowed_ones(
    engine: Engine, desk: SalesDesk, story: Story
) -> None:
    with pytest.raises(ValueError, match=r"status: expected one of New, Contacted, In Progress, "):
        desk.set_status(story.lead_id, "won", by="Hugo", reason=None, now=NOW)
    with pytest.raises(ValueError, match="by: expected a name"):
        desk.set_status(story.lead_id, "Won", by="  ", reason=None, now=NOW)
    with pytest.raises(ValueError, match="reason: expected at most 1000"):
        desk.set_status(story.lead_id, "Won", by="Hugo", reason="x" * 1001, now=NOW)
    assert status_rows(engine) == 0


def test_unknown_lead_is_a_lookup_error(desk: SalesDesk) -> None:
    with pytest.raises(LookupError, match="no-such-lead"):
        desk.set_status("no-such-lead", "Won", by="Hugo", reason=None, now=NOW)
    with pytest.raises(LookupError, match="no-such-lead"):
        desk.add_note("no-such-lead", "hello", by="Hugo", now=NOW)


def test_won_counts_as_converted_in_the_scoring_review(
    engine: Engine, desk: SalesDesk, story: Story
) -> None:
    scorer = scorer_for(Settings(scoring_config_path=SCORING_CONFIG))
    before = evaluate(engine, scorer, NOW).accuracy
    assert (before.leads, before.converted) == (1, 0)
    desk.set_status(story.lead_id, "Won", by="Hugo", reason=None, now=NOW)
    after = evaluate(engine, scorer, NOW).accuracy
    assert (after.leads, after.converted) == (1, 1)


# --- notes --------------------------------------------------------------------------------------


def test_notes_are_stripped_validated_and_newest_first(desk: SalesDesk, story: Story) -> None:
    first = desk.add_note(story.lead_id, "  Called, no answer.\n", by="Hugo", now=NOW)
    assert (first["lead_id"], first["author"], first["text"], first["created_at"]) == (
        story.lead_id,
        "Hugo",
        "Called, no answer.",
        NOW.isoformat(),
    )
    longest = desk.add_note(story.lead_id, "y" * 5000, by="Camille", now=NOW + timedelta(hours=1))
    assert len(longest["text"]) == 5000
    for text in ("", "   \n ", "y" * 5001):
        with pytest.raises(ValueError, match="text: expected a note of 1 to 5000 characters"):
            desk.add_note(story.lead_id, text, by="Hugo", now=NOW)
    page = desk.lead_page(story.lead_id)
    assert page is not None
    assert [note["author"] for note in page["notes"]] == ["Camille", "Hugo"]


# --- acknowledging ------------------------------------------------------------------------------


def test_acknowledge_is_idempotent(desk: SalesDesk, story: Story) -> None:
    at = NOW + timedelta(minutes=3)
    handoff = desk.acknowledge(story.handoff_id, by="Hugo Bernard", now=at)
    assert handoff is not None
    assert {
        "id",
        "lead_id",
        "trigger",
        "team",
        "assigned_to",
        "sla",
        "status",
        "contact_by",
        "due_at",
        "created_at",
        "acknowledged_at",
        "acknowledged_by",
        "escalated_at",
        "closed_at",
    } <= set(handoff)
    assert (handoff["id"], handoff["lead_id"], handoff["status"]) == (
        story.handoff_id,
        story.lead_id,
        "acknowledged",
    )
    assert (handoff["acknowledged_by"], handoff["acknowledged_at"]) == (
        "Hugo Bernard",
        at.isoformat(),
    )
    again = desk.acknowledge(story.handoff_id, by="Camille", now=at + timedelta(hours=1))
    assert again == handoff
    assert desk.acknowledge("no-such-handoff", by="Hugo", now=at) is None


def test_handoff_names_its_lead(desk: SalesDesk, story: Story) -> None:
    handoff = desk.handoff(story.handoff_id)
    assert handoff is not None
    assert handoff["lead"] == {
        "id": story.lead_id,
        "first_name": "Ada",
        "last_name": "Lovelace",
        "stage": handoff["lead"]["stage"],
        "score": handoff["lead"]["score"],
    }
    assert handoff["status"] == "open"
    assert desk.handoff("no-such-handoff") is None


# --- the lead list ------------------------------------------------------------------------------


def test_list_is_newest_first_without_merged_leads(engine: Engine, desk: SalesDesk) -> None:
    settings = handoff_settings()
    old = tell_story(engine, settings, NOW - timedelta(hours=2), session="old", deliver=False)
    new = tell_story(engine, settings, NOW, session="new", email="bob@example.com", deliver=False)
    # A third session of the first person: merged, so not listed on its own.
    old.repository.apply([UpdateContact(session_id="third", email="ada@example.com")], now=NOW)
    third = old.repository.lead_state("third")
    assert third is not None
    LeadBook(old.repository).merge(old.lead_id, third.lead_id, by="Hugo", now=NOW)
    desk.acknowledge(old.handoff_id, by="Hugo", now=NOW)

    listed = desk.list_leads()
    assert [lead["id"] for lead in listed] == [new.lead_id, old.lead_id]
    newest = listed[0]
    assert (newest["first_name"], newest["status"]) == ("Ada", "New")
    assert newest["handoff"] is not None
    assert (newest["handoff"]["id"], newest["handoff"]["status"]) == (new.handoff_id, "open")
    assert listed[1]["handoff"] is not None and listed[1]["handoff"]["status"] == "acknowledged"
    assert desk.list_leads(limit=1) == listed[:1]


def test_won_from_the_lead_page_converts_like_the_api_and_keeps_the_first_time(
    engine: Engine, desk: SalesDesk, story: Story
) -> None:
    won_at = NOW + timedelta(days=1)
    desk.set_status(story.lead_id, "Won", by="Hugo", reason="ordered", now=won_at)
    page = desk.lead_page(story.lead_id)
    assert page is not None
    assert (page["lead"]["converted_at"], page["lead"]["lifecycle"]) == (
        won_at.isoformat(),
        "customer",
    )
    # Lost then Won again: the lead became a customer at the first Won.
    desk.set_status(story.lead_id, "Lost", by="Hugo", reason="returned it", now=won_at)
    desk.set_status(story.lead_id, "Won", by="Hugo", reason="kept it", now=won_at + timedelta(1))
    page = desk.lead_page(story.lead_id)
    assert page is not None and page["lead"]["converted_at"] == won_at.isoformat()


@pytest.mark.parametrize("status", ["Contacted", "Qualified", "Negotiation", "Lost"])
def test_other_statuses_convert_nobody(desk: SalesDesk, story: Story, status: str) -> None:
    desk.set_status(story.lead_id, status, by="Hugo", reason=None, now=NOW)
    page = desk.lead_page(story.lead_id)
    assert page is not None and page["lead"]["converted_at"] is None
