"""Chat answers that show buying add intent: rule table, decay, fold order, store."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from bot.catalog import DEMO_CATALOG, Catalog, load_catalog
from bot.leads import LeadService
from bot.leads.commands import RecordAnswer, RecordEvent
from bot.scoring import LeadFacts, Scorer, ScoreResult, ScoringConfig, load_scoring_config, score
from bot.store.db import write_transaction
from tests.scoring import SCORING_CONFIG

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=timezone.utc)
TEST_CONFIG = Path(__file__).with_name("answer_signals.yml")
BLUE_M = "hoodie-classic-blue-m"  # 59 EUR, in stock
CONTACT = "intent.answered_contact"
ANSWER_RULES = (
    "intent.answered_within_week",
    "intent.answered_within_month",
    "intent.answered_variant",
    "intent.answered_location",
    CONTACT,
)

# An answer as the chat stores it: (key, value, minutes before NOW).
Answer = tuple[str, Any, float]

FRANCE = {"country": "FR", "region": None, "serviceable": True}
NOWHERE = {"country": "US", "region": None, "serviceable": False}
EMAIL = {"email": "jane.doe@example.com"}
PHONE = {"phone": "+33612345678"}


@pytest.fixture(scope="module")
def config() -> ScoringConfig:
    return load_scoring_config(TEST_CONFIG)


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog(DEMO_CATALOG)


def facts_of(answers: list[Answer], events: tuple[str, ...] = ()) -> LeadFacts:
    facts = LeadFacts()
    for key, value, minutes in answers:
        facts.fold_answer(key, value, "answered", NOW - timedelta(minutes=minutes))
    for kind in events:
        facts.fold_event(kind, NOW)
    return facts


def answer_points(result: ScoreResult) -> dict[str, int]:
    return {r.rule: r.points for r in result.reasons if r.rule in ANSWER_RULES}


@pytest.mark.parametrize(
    ("answers", "expected"),
    [
        # Buying within the week is the strongest answer (7 days is still "within a week").
        ([("timeline", {"days": 3}, 0)], {"intent.answered_within_week": 20}),
        ([("timeline", {"days": 7}, 0)], {"intent.answered_within_week": 20}),
        # Today counts too.
        ([("timeline", {"days": 0}, 0)], {"intent.answered_within_week": 20}),
        # Within a month: medium.
        ([("timeline", {"days": 8}, 0)], {"intent.answered_within_month": 10}),
        ([("timeline", {"days": 30}, 0)], {"intent.answered_within_month": 10}),
        # Later than a month, "in 6 months" and "just browsing" show no buying.
        ([("timeline", {"days": 31}, 0)], {}),
        ([("timeline", {"days": 180}, 0)], {}),
        ([("timeline", {"days": None, "browsing": True}, 0)], {}),
        # A chosen variant.
        ([("variant", BLUE_M, 0)], {"intent.answered_variant": 4}),
        # A place the shop delivers to; one it cannot deliver to adds nothing.
        ([("location", FRANCE, 0)], {"intent.answered_location": 6}),
        ([("location", NOWHERE, 0)], {}),
        # Consent together with an e-mail or a phone number.
        ([("contact_consent", True, 1), ("contact_details", EMAIL, 0)], {CONTACT: 12}),
        ([("contact_consent", True, 1), ("contact_details", PHONE, 0)], {CONTACT: 12}),
        # Consent without contact details, details without consent, or consent refused: nothing.
        ([("contact_consent", True, 0)], {}),
        ([("contact_details", EMAIL, 0)], {}),
        ([("contact_consent", False, 1), ("contact_details", EMAIL, 0)], {}),
        # A budget is fit, not intent.
        ([("budget", {"amount": Decimal(80), "currency": "EUR"}, 0)], {}),
    ],
)
def test_answer_signal_rules(
    config: ScoringConfig, catalog: Catalog, answers: list[Answer], expected: dict[str, int]
) -> None:
    result = score(facts_of(answers), config, catalog, NOW)
    assert answer_points(result) == expected
    assert sum(r.points for r in result.reasons) == result.score


def test_answer_signals_decay_from_when_the_answer_was_given(
    config: ScoringConfig, catalog: Catalog
) -> None:
    week = 7 * 24 * 60
    # Half-life 7 days for timelines: "this week" said a week ago is worth half.
    result = score(facts_of([("timeline", {"days": 3}, week)]), config, catalog, NOW)
    assert answer_points(result) == {"intent.answered_within_week": 10}
    # Contact counts from the later of consent and details: 14 days after the details.
    late = [("contact_consent", True, 4 * week), ("contact_details", EMAIL, 2 * week)]
    assert answer_points(score(facts_of(late), config, catalog, NOW)) == {
        "intent.answered_contact": 6
    }


def test_reasons_say_what_the_shopper_answered_and_when(
    config: ScoringConfig, catalog: Catalog
) -> None:
    answers = [
        ("timeline", {"days": 2}, 0),
        ("variant", BLUE_M, 0),
        ("location", FRANCE, 0),
        ("contact_consent", True, 0),
        ("contact_details", EMAIL, 0),
    ]
    result = score(facts_of(answers), config, catalog, NOW)
    details = {r.rule: r.detail for r in result.reasons if r.rule in ANSWER_RULES}
    assert details == {
        "intent.answered_within_week": "said they plan to buy within 7 days, "
        "answered 2026-11-23 10:00 UTC",
        "intent.answered_variant": "chose an item in chat, answered 2026-11-23 10:00 UTC",
        "intent.answered_location": "gave a delivery place the shop serves, "
        "answered 2026-11-23 10:00 UTC",
        "intent.answered_contact": "agreed to be contacted and gave an e-mail or phone, "
        "answered 2026-11-23 10:00 UTC",
    }
    assert result.intent_score == 20 + 4 + 6 + 12


def test_the_current_answer_counts_whatever_the_fold_order(
    config: ScoringConfig, catalog: Catalog
) -> None:
    # "This week", then corrected to "in 6 months": the correction wins in any order.
    answers = [
        ("timeline", {"days": 3}, 10),
        ("timeline", {"days": 180}, 5),
        ("contact_consent", True, 9),
        ("contact_consent", False, 4),
        ("contact_details", EMAIL, 8),
    ]
    for _ in range(5):
        random.shuffle(answers)
        assert answer_points(score(facts_of(answers), config, catalog, NOW)) == {}


def test_facts_keep_which_contact_was_given_not_the_address() -> None:
    facts = facts_of([("contact_consent", True, 0), ("contact_details", EMAIL, 0)])
    stored = facts.to_json()
    assert "jane.doe" not in stored
    assert LeadFacts.from_json(stored).answer_signals() == facts.answer_signals()
    assert set(facts.answer_signals()) == {"answered_contact"}


def test_events_named_like_answer_signals_add_nothing(
    config: ScoringConfig, catalog: Catalog
) -> None:
    facts = facts_of([], events=("answered_contact", "answered_within_week"))
    assert score(facts, config, catalog, NOW).intent_score == 0


# --- through the lead store: incremental fold = rebuilt facts ------------------------------


def _chat(session: str, answers: list[tuple[str, Any]]) -> list[RecordAnswer | RecordEvent]:
    commands: list[RecordAnswer | RecordEvent] = [
        RecordAnswer(
            session_id=session,
            answer_id=f"{session}-{index}",
            key=key,
            raw=str(value),
            value=value,
            status="answered",
            answered_at=NOW - timedelta(minutes=10 - index),
        )
        for index, (key, value) in enumerate(answers)
    ]
    commands.append(
        RecordEvent(
            session_id=session,
            event_id=f"{session}-done",
            type="qualification_completed",
            ts=NOW,
            source="chat",
            properties={"answered": sorted(key for key, _ in answers)},
        )
    )
    return commands


NEAR_CHAT = [
    ("timeline", {"days": 3}),
    ("variant", BLUE_M),
    ("location", FRANCE),
    ("budget", {"amount": Decimal(80), "currency": "EUR"}),
    ("contact_consent", True),
    ("contact_details", EMAIL),
]


def test_a_chat_only_lead_turns_hot_in_the_store_and_rebuilds_the_same(
    engine: Engine, config: ScoringConfig, catalog: Catalog
) -> None:
    repo = LeadService(engine, Scorer(config, catalog))
    result = repo.apply(_chat("s-near", NEAR_CHAT), now=NOW)
    state = result.leads["s-near"]
    assert state.stage == "hot"
    # 20 + 4 + 6 + 12 answers + 8 completed; fit 20 + 10 + 10 + 20.
    assert state.score == 50 + 60
    with write_transaction(engine) as connection:
        rebuilt = repo.load_facts(connection, state.lead_id)
    assert score(rebuilt, config, catalog, NOW).score == state.score


# --- the default numbers (tests/scoring/scoring.yml): which chats alone make a lead hot ------


def _default_numbers(answers: list[tuple[str, Any]]) -> ScoreResult:
    facts = LeadFacts()
    for index, (key, value) in enumerate(answers):
        facts.fold_answer(key, value, "answered", NOW - timedelta(minutes=10 - index))
    facts.fold_event(
        "qualification_completed", NOW, properties={"answered": [k for k, _ in answers]}
    )
    return score(facts, load_scoring_config(SCORING_CONFIG), load_catalog(DEMO_CATALOG), NOW)


def _with(key: str, value: Any) -> list[tuple[str, Any]]:
    return [(k, value if k == key else v) for k, v in NEAR_CHAT]


def test_near_affordable_deliverable_chat_with_consent_is_hot() -> None:
    result = _default_numbers(NEAR_CHAT)
    assert result.stage == "hot"
    assert {r.rule for r in result.reasons} >= {*ANSWER_RULES} - {"intent.answered_within_month"}


def test_chat_buying_in_six_months_is_not_hot() -> None:
    assert _default_numbers(_with("timeline", {"days": 182})).stage != "hot"


def test_chat_just_browsing_is_not_hot() -> None:
    assert _default_numbers(_with("timeline", {"days": None, "browsing": True})).stage != "hot"


def test_chat_without_consent_is_not_hot() -> None:
    no_consent = [(k, v) for k, v in _with("contact_consent", False) if k != "contact_details"]
    assert _default_numbers(no_consent).stage != "hot"
