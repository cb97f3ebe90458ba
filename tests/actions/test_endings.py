"""Stop, goodbye and consent: ending only when clear, taking an opt-out back, consent again."""

from __future__ import annotations

from typing import Any

import pytest
from rasa_sdk import Tracker

from actions.lead import (
    CONFIRM_QUESTIONS,
    CompleteQualification,
    Goodbye,
    KeepGoing,
    OptOut,
    RequestHuman,
    WithdrawOptOut,
)
from actions.qualification import ValidateQualificationForm
from bot.assistant import Assistant
from bot.flows.endings import buying_words, ending_is_clear
from tests.actions.conftest import make_tracker
from tests.actions.test_lead_actions import HOODIE, LYON, event_types, run

SURE = [{"name": "stop", "confidence": 0.99}, {"name": "deny", "confidence": 0.01}]
DECLINED = {"raw": "no", "value": False, "display": "no", "status": "answered"}
SOON = {"raw": "next week", "value": {"days": 7}, "display": "in 7 days", "status": "answered"}
# Everything before the consent question answered: the form's next question is consent.
BEFORE_CONSENT = {"timeline": SOON, "variant": HOODIE, "location": LYON}
BUDGET = {
    "raw": "300",
    "value": {"amount": 300, "currency": "EUR"},
    "display": "300 EUR",
    "status": "answered",
}


def ranked(tracker: Tracker, ranking: list[dict[str, Any]]) -> Tracker:
    """``tracker`` whose latest message carries the NLU's ``ranking``."""
    tracker.latest_message["intent_ranking"] = ranking
    return tracker


def slot(events: list[dict[str, Any]], name: str) -> Any:
    values = [e["value"] for e in events if e["event"] == "slot" and e["name"] == name]
    assert values, f"{name} not set in {events}"
    return values[-1]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Hi! I'm interested in buying something from your shop.", True),
        ("I'm interested in your products", True),
        ("let's continue", True),
        ("je voudrais commander", True),  # French
        ("ich möchte etwas kaufen", True),  # German
        ("estoy interesado", True),  # Spanish
        ("not interested", False),  # the negation takes it back
        ("I don't want to buy anything", False),
        ("I'm not really interested in buying", False),  # a negation a few words back
        ("kein Interesse", False),
        ("no me interesa", False),
        ("stop", False),
        ("I want to stop", False),  # "want" alone is no buying word
    ],
)
def test_buying_words(text: str, expected: bool) -> None:
    assert buying_words(text) is expected


@pytest.mark.parametrize(
    ("ranking", "text", "answers", "clear"),
    [
        (SURE, "stop", False, True),
        # Confident but the runner-up is close: ask.
        (
            [{"name": "stop", "confidence": 0.84}, {"name": "deny", "confidence": 0.15}],
            "nah",
            False,
            False,
        ),
        ([{"name": "stop", "confidence": 0.6}], "enough", False, False),  # low confidence
        (SURE, "I'm interested in your products", False, False),  # buying words
        (SURE, "a fortnight", True, False),  # an answer the interpreter reads
        ([], "stop", False, False),  # no ranking at all: never a guess
    ],
)
def test_ending_is_clear(
    ranking: list[dict[str, Any]], text: str, answers: bool, clear: bool
) -> None:
    assert ending_is_clear(ranking, text, answers_something=answers) is clear


async def test_an_interested_opening_read_as_stop_asks_first(helper: Assistant) -> None:
    tracker = ranked(
        make_tracker("I'm interested in your products", intent="stop", active_loop=None), SURE
    )
    events, messages = await run(OptOut(), tracker)
    assert messages[-1]["text"] == CONFIRM_QUESTIONS["opt_out"]
    assert [b["title"] for b in messages[-1]["buttons"]] == ["Yes", "No"]
    assert slot(events, "confirming") == "opt_out"
    assert not any(e["name"] == "qualification_status" for e in events if e["event"] == "slot")
    types = event_types(helper)
    assert "ending_confirmation_asked" in types and "opt_out" not in types
    lead = helper.recorder.repository.get_lead_by_session("session-1")
    assert lead is not None and lead["opted_out_at"] is None


async def test_yes_to_the_question_opts_out(helper: Assistant) -> None:
    tracker = make_tracker("yes", intent="affirm", slots={"confirming": "opt_out"})
    events, messages = await run(OptOut(), tracker)
    assert "won't ask" in messages[0]["text"]
    assert slot(events, "qualification_status") == "opted_out"
    assert slot(events, "confirming") is None
    assert "opt_out" in event_types(helper)


async def test_a_clear_stop_opts_out_at_once(helper: Assistant) -> None:
    events, messages = await run(OptOut(), ranked(make_tracker("stop", intent="stop"), SURE))
    assert "won't ask" in messages[0]["text"]
    assert slot(events, "qualification_status") == "opted_out"


async def test_an_answer_read_as_goodbye_is_kept_and_the_bot_asks(helper: Assistant) -> None:
    tracker = ranked(
        make_tracker("a fortnight", intent="goodbye", requested="timeline"),
        [{"name": "goodbye", "confidence": 0.97}, {"name": "inform", "confidence": 0.02}],
    )
    events, messages = await run(Goodbye(), tracker)
    assert messages[-1]["text"] == CONFIRM_QUESTIONS["goodbye"]
    assert slot(events, "confirming") == "goodbye"
    assert slot(events, "timeline")["value"] == {"days": 14}
    assert "session_end" not in event_types(helper)


@pytest.mark.parametrize(
    ("status", "reply"),
    [
        (None, "Great, let's carry on."),  # a rule then runs the form again
        ("completed", "Great! What else can I help you with?"),
    ],
)
async def test_no_to_the_question_carries_on(helper: Assistant, status: str, reply: str) -> None:
    tracker = make_tracker(
        "no",
        intent="deny",
        active_loop=None,
        slots={"confirming": "opt_out", "qualification_status": status},
    )
    events, messages = await run(KeepGoing(), tracker)
    assert messages[0]["text"] == reply
    assert slot(events, "confirming") is None
    assert "ending_cancelled" in event_types(helper)


async def test_an_opt_out_can_be_taken_back(helper: Assistant) -> None:
    await run(OptOut(), ranked(make_tracker("stop", intent="stop", message_id="m1"), SURE))
    tracker = make_tracker(
        "actually, I do want to buy the blue hoodie in M",
        intent="express_interest",
        active_loop=None,
        slots={"qualification_status": "opted_out"},
        message_id="m2",
    )
    events, messages = await run(WithdrawOptOut(), tracker)
    assert "pick up where we left off" in messages[0]["text"]
    assert slot(events, "qualification_status") is None
    assert slot(events, "variant")["value"] == "hoodie-classic-blue-m"
    types = event_types(helper)
    assert "opt_out" in types and "opt_out_withdrawn" in types  # the lead records both


async def test_asking_for_a_person_after_declining_consent_asks_for_it_again(
    helper: Assistant,
) -> None:
    tracker = make_tracker(
        "actually call me",
        intent="human_handoff",
        active_loop=None,
        slots={"contact_consent": DECLINED, "qualification_status": "completed"},
    )
    events, messages = await run(RequestHuman(), tracker)
    assert slot(events, "contact_consent") is None
    assert "a way to contact you" in messages[0]["text"]
    assert "Contact page" not in messages[0]["text"]


async def test_no_call_back_is_promised_without_contact_details(helper: Assistant) -> None:
    tracker = make_tracker("no", intent="deny", slots={"contact_consent": DECLINED})
    tracker.events.insert(0, {"event": "action", "name": "action_request_human"})
    _, messages = await run(CompleteQualification(), tracker)
    assert "can't get back to you" in messages[0]["text"]
    assert "will be in touch" not in messages[0]["text"]


async def ask_consent(helper: Assistant) -> None:
    """The form asks the consent question once (a cold lead is asked only once)."""
    _, messages = await run(
        ValidateQualificationForm(),
        make_tracker("around 300 bucks", requested="budget", slots=BEFORE_CONSENT),
    )
    assert messages[-1]["text"].startswith("May I save your name")


async def test_consent_is_asked_again_after_why(helper: Assistant) -> None:
    await ask_consent(helper)
    tracker = make_tracker(
        "why do you need that?",
        intent="ask_why",
        requested="contact_consent",
        slots={**BEFORE_CONSENT, "budget": BUDGET},
        message_id="m2",
    )
    # The rule answered "why?" before the form runs again.
    tracker.events.append({"event": "action", "name": "action_explain_question"})
    events, messages = await run(ValidateQualificationForm(), tracker)
    assert slot(events, "requested_slot") == "contact_consent"
    assert messages[-1]["text"].startswith("May I save your name")


async def test_an_answer_at_the_consent_question_is_kept_and_consent_asked_again(
    helper: Assistant,
) -> None:
    await ask_consent(helper)
    events, messages = await run(
        ValidateQualificationForm(),
        make_tracker(
            "actually my budget is 50",
            requested="contact_consent",
            slots={**BEFORE_CONSENT, "budget": BUDGET},
            message_id="m2",
        ),
    )
    assert slot(events, "budget")["value"]["amount"] == 50
    assert slot(events, "requested_slot") == "contact_consent"
    assert messages[-1]["text"].startswith("May I save your name")


@pytest.mark.parametrize("text", ["Buongiorno", "ciao", "salut"])
async def test_a_goodbye_before_anything_was_said_is_a_greeting(
    helper: Assistant, text: str
) -> None:
    """Greetings that are also farewells open a conversation; they never end it."""
    tracker = ranked(
        make_tracker(text, intent="goodbye", requested=None, active_loop=None),
        [{"name": "goodbye", "confidence": 0.99}, {"name": "greet", "confidence": 0.01}],
    )
    tracker.events = [e for e in tracker.events if e["event"] != "bot"]
    events, messages = await run(Goodbye(), tracker)
    assert messages[0]["response"] == "utter_greet"
    assert {"event": "followup", "name": "qualification_form"} in [
        {"event": e["event"], "name": e.get("name")} for e in events
    ]
    assert "session_end" not in event_types(helper)


async def test_a_goodbye_after_the_bot_spoke_is_still_a_goodbye(helper: Assistant) -> None:
    tracker = ranked(make_tracker("ciao", intent="goodbye", requested=None, active_loop=None), SURE)
    _, messages = await run(Goodbye(), tracker)
    assert messages[0]["text"] == "Goodbye, and thanks for stopping by!"
