"""Interruption, opt-out, hand-over and completion actions, and store outages."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from rasa_sdk.executor import CollectingDispatcher

import actions.common
from actions.lead import (
    AnswerShopQuestion,
    CompleteQualification,
    ExplainQuestion,
    Goodbye,
    OptOut,
    RequestHuman,
    UpdateAnswers,
)
from actions.qualification import ValidateQualificationForm
from bot.assistant import Assistant
from tests.actions.conftest import make_tracker

DOMAIN = yaml.safe_load(Path("domain.yml").read_text(encoding="utf-8"))
HOODIE = {
    "raw": "blue hoodie M",
    "value": "hoodie-classic-blue-m",
    "display": "Classic Hoodie — blue, M",
    "status": "answered",
}
TENT = {
    "raw": "2 person tent",
    "value": "tent-dome-2p",
    "display": "Dome Tent",
    "status": "answered",
}
LYON = {
    "raw": "Lyon",
    "value": {"country": "FR", "region": "Lyon", "serviceable": True},
    "display": "Lyon, France",
    "status": "answered",
}


def event_types(helper: Assistant, session: str = "session-1") -> list[str]:
    lead = helper.recorder.repository.get_lead_by_session(session)
    assert lead is not None
    return [event["type"] for event in helper.recorder.repository.events(lead["id"])]


async def run(action: Any, tracker: Any) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    dispatcher = CollectingDispatcher()
    events = await action.run(dispatcher, tracker, DOMAIN)
    return events, dispatcher.messages


async def test_explain_question_uses_the_flow_text(helper: Assistant) -> None:
    _, messages = await run(
        ExplainQuestion(), make_tracker("why?", intent="ask_why", requested="budget")
    )
    assert messages[0]["text"] == helper.flow.question("budget").why  # type: ignore[union-attr]
    assert "asked_why" in event_types(helper)


async def test_opt_out_stops_the_form_and_is_recorded(helper: Assistant) -> None:
    events, messages = await run(OptOut(), make_tracker("stop", intent="stop", requested="budget"))
    assert {"event": "active_loop", "name": None} in [
        {"event": e["event"], "name": e.get("name")} for e in events if e["event"] == "active_loop"
    ]
    assert any(
        e["event"] == "slot" and e["name"] == "qualification_status" and e["value"] == "opted_out"
        for e in events
    )
    assert "won't ask" in messages[0]["text"]
    types = event_types(helper)
    assert "opt_out" in types and "session_end" in types
    lead = helper.recorder.repository.get_lead_by_session("session-1")
    assert lead is not None and lead["opted_out_at"] is not None


async def test_goodbye_ends_session(helper: Assistant) -> None:
    _, messages = await run(Goodbye(), make_tracker("bye", intent="goodbye", active_loop=None))
    assert "Goodbye" in messages[0]["text"]
    assert "session_end" in event_types(helper)


@pytest.mark.parametrize(
    ("slots", "fragment"),
    [
        # No consent asked yet: when (Monday 11:00 in Paris, the SLA is 15 minutes) and
        # that a way to reach them is needed.
        ({}, "will get back to you within 15 minutes. So a specialist can reach you"),
        ({"contact_consent": {"value": False, "raw": "no"}}, "Contact page"),  # declined
        (
            {"contact_consent": {"value": True}, "contact_details": {"value": {"email": "a@b.co"}}},
            # The lead has no email stored (the slots were never recorded): "get back to you".
            "A specialist will get back to you within 15 minutes.",
        ),
    ],
)
async def test_human_request_says_what_happens_next(
    helper: Assistant, slots: dict, fragment: str
) -> None:
    _, messages = await run(
        RequestHuman(), make_tracker("talk to a human", intent="human_handoff", slots=slots)
    )
    assert fragment in messages[0]["text"]
    lead = helper.recorder.repository.get_lead_by_session("session-1")
    assert lead is not None and lead["human_requested_at"] is not None


@pytest.mark.parametrize(
    ("intent", "slots", "fragment"),
    [
        (
            "ask_shipping",
            {"variant": HOODIE, "location": LYON},
            "deliver the Classic Hoodie to Lyon",
        ),
        ("ask_price", {"variant": HOODIE}, "59.00 EUR"),
        ("ask_stock", {"variant": HOODIE}, "is in stock"),
        ("ask_returns", {}, "30 days"),
        ("ask_discount", {}, "10%"),
        ("ask_shipping", {}, "Europe"),  # nothing chosen yet: the flow's FAQ text
    ],
)
async def test_shop_questions(helper: Assistant, intent: str, slots: dict, fragment: str) -> None:
    _, messages = await run(AnswerShopQuestion(), make_tracker("?", intent=intent, slots=slots))
    assert fragment in messages[0]["text"]
    assert "shopper_question" in event_types(helper)


async def test_complete_qualification_summarises(helper: Assistant) -> None:
    events, messages = await run(
        CompleteQualification(),
        make_tracker("x", slots={"variant": HOODIE, "location": LYON}, active_loop=None),
    )
    assert (
        "Classic Hoodie — blue, M" in messages[0]["text"] and "Lyon, France" in messages[0]["text"]
    )
    assert any(
        e.get("name") == "qualification_status" and e.get("value") == "completed" for e in events
    )
    assert "qualification_completed" in event_types(helper)


async def test_update_after_completion(helper: Assistant) -> None:
    budget = {
        "raw": "300",
        "value": {"amount": 300, "currency": "EUR"},
        "display": "300 EUR",
        "status": "answered",
    }
    events, messages = await run(
        UpdateAnswers(),
        make_tracker(
            "actually my budget is 500",
            slots={"budget": budget, "qualification_status": "completed"},
            active_loop=None,
        ),
    )
    assert "updated" in messages[0]["text"]
    assert any(e.get("name") == "budget" for e in events)


async def test_transcript_records_user_and_bot_messages_once(helper: Assistant) -> None:
    tracker = make_tracker("purple", requested="timeline")
    await run(ValidateQualificationForm(), tracker)
    await run(ValidateQualificationForm(), tracker)  # a retried action call
    lead = helper.recorder.repository.get_lead_by_session("session-1")
    assert lead is not None
    messages = [
        e for e in helper.recorder.repository.events(lead["id"]) if e["type"] == "chat_message"
    ]
    senders = [m["properties"]["sender"] for m in messages]
    assert senders.count("user") == 1
    assert senders.count("bot") == 2  # the earlier question and the re-ask just sent


async def test_store_outage_keeps_the_conversation_and_loses_nothing(
    helper: Assistant, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg2://nobody@127.0.0.1:1/nowhere")
    actions.common.assistant.cache_clear()
    down = actions.common.assistant()
    dispatcher = CollectingDispatcher()
    events = await ValidateQualificationForm().run(
        dispatcher, make_tracker("around 300 bucks", requested="budget"), DOMAIN
    )
    assert any(e.get("name") == "budget" for e in events)  # the conversation goes on
    assert down.recorder.spool.pending() == 1
    # The store comes back: the next write replays the spooled answer first.
    helper.recorder.record([])
    assert helper.recorder.flush() == 1
    lead = helper.recorder.repository.get_lead_by_session("session-1")
    assert lead is not None and lead["answers"]["budget"]["raw"] == "around 300 bucks"


async def test_transcript_window_starts_at_the_previous_recording_action(helper: Assistant) -> None:
    from actions.common import transcript

    tracker = make_tracker("Lyon", requested="location", message_id="msg-9")
    earlier = [
        {"event": "user", "text": "hi", "message_id": "msg-0", "timestamp": 1.0},
        {"event": "action", "name": "utter_greet", "timestamp": 2.0},
        {"event": "bot", "text": "Hi!", "timestamp": 2.1},
        {"event": "action", "name": "qualification_form", "timestamp": 3.0},
        {"event": "bot", "text": "When are you planning to buy?", "timestamp": 3.1},
        {"event": "action", "name": "action_listen", "timestamp": 3.2},
    ]
    tracker.events[:] = [*earlier, tracker.events[-1]]
    messages = transcript(tracker, ["Where should it be delivered?"])
    assert [m.text for m in messages] == [
        "When are you planning to buy?",
        "Lyon",
        "Where should it be delivered?",
    ]
    assert [m.message_id for m in messages] == ["msg-0:1", "msg-9", "msg-9:0"]


@pytest.mark.parametrize(
    ("question", "slots", "fragment"),
    [
        ("do you ship to Switzerland?", {"variant": HOODIE}, "Classic Hoodie to Switzerland"),
        ("do you deliver to Madrid?", {"variant": TENT}, "can't be delivered to Madrid"),
        ("can you ship to Tokyo?", {}, "don't deliver to Tokyo"),
        ("do you ship to Lyon?", {}, "Yes, we deliver to Lyon"),
    ],
)
async def test_shipping_question_naming_a_place(
    helper: Assistant, question: str, slots: dict, fragment: str
) -> None:
    _, messages = await run(
        AnswerShopQuestion(), make_tracker(question, intent="ask_shipping", slots=slots)
    )
    assert fragment in messages[0]["text"]


async def test_unsure_but_answering_is_an_answer(helper: Assistant) -> None:
    from tests.actions.test_qualification_form import validate

    slots = await validate(
        make_tracker("not sure, maybe before christmas", intent="dont_know", requested="timeline")
    )
    assert slots["timeline"]["status"] == "answered"
    assert slots["timeline"]["value"]["days"] == 31
