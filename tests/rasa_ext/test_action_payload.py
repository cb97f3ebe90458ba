"""The actions read the same from the trimmed events Rasa now sends as from the whole session."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from rasa.core.actions.action import RemoteAction
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.utils.endpoints import EndpointConfig
from rasa_sdk import Tracker

from actions.common import (
    last_bot_message_at,
    latest_message_id,
    message_time,
    transcript,
)
from actions.lead import _asked_for_a_person, opening_message
from actions.qualification import returning_from_interruption
from actions.reading import FORM_NAME, HUMAN_ACTION
from bot import clock
from bot.settings import PROJECT_ROOT
from rasa_ext import action_payload

ACTION_NAMES = [
    "action_listen",
    "action_session_start",
    "action_extract_slots",
    "utter_greet",
    "utter_iamabot",
    FORM_NAME,
    "validate_qualification_form",
    "action_answer_shop_question",
    HUMAN_ACTION,
    "action_complete_qualification",
    None,
]

_times = st.integers(min_value=1_700_000_000, max_value=1_700_000_500).map(float)
_user = st.builds(
    lambda text, message_id, stamp, intent: {
        "event": "user",
        "text": text,
        "message_id": message_id,
        "timestamp": stamp,
        "parse_data": {"intent": {"name": intent}},
    },
    st.sampled_from(["hi", "Lyon", "yes", "", None]),
    st.one_of(st.none(), st.text("abcdef0123", min_size=1, max_size=6)),
    _times,
    st.sampled_from(["greet", "inform", None]),
)
_bot = st.builds(
    lambda text, stamp: {"event": "bot", "text": text, "timestamp": stamp},
    st.sampled_from(["Hello!", "When would you like it?", "", None]),
    _times,
)
_action = st.builds(
    lambda name, stamp: {"event": "action", "name": name, "timestamp": stamp},
    st.sampled_from(ACTION_NAMES),
    _times,
)
_other = st.builds(
    lambda kind, stamp: {"event": kind, "name": "requested_slot", "value": 1, "timestamp": stamp},
    st.sampled_from(["slot", "active_loop", "followup"]),
    _times,
)
_session = st.lists(st.one_of(_user, _bot, _action, _action, _other), max_size=40)


def trimmed(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    start, human = action_payload.window([(item["event"], item.get("name")) for item in events])
    return ([] if human is None else [events[human]]) + events[start:]


def sdk_tracker(events: list[dict[str, Any]]) -> Tracker:
    latest = next((item for item in reversed(events) if item["event"] == "user"), None)
    latest_message = {} if latest is None else {"text": latest["text"], "message_id": None}
    return Tracker("shopper", {}, latest_message, events, False, None, {}, None)


def readings(events: list[dict[str, Any]]) -> dict[str, Any]:
    tracker = sdk_tracker(events)
    return {
        "latest_message_id": latest_message_id(tracker),
        "transcript": transcript(tracker, ["pending reply"]),
        "message_time": message_time(tracker),
        "last_bot_message_at": last_bot_message_at(tracker),
        "opening_message": opening_message(tracker),
        "returning_from_interruption": returning_from_interruption(tracker),
        "asked_for_a_person": _asked_for_a_person(tracker),
    }


@settings(max_examples=400, deadline=None)
@given(_session)
def test_every_reader_answers_the_same_on_the_trimmed_events(events: list[dict[str, Any]]) -> None:
    with clock.frozen(datetime(2026, 1, 5, 12, tzinfo=timezone.utc)):
        assert readings(trimmed(events)) == readings(events)


def test_a_long_chat_sends_a_window_that_does_not_grow() -> None:
    turn = [
        {"event": "user", "text": "are you a bot?", "timestamp": 1.0, "message_id": "m"},
        {"event": "action", "name": "utter_iamabot", "timestamp": 1.0},
        {"event": "bot", "text": "I am a bot.", "timestamp": 1.0},
        {"event": "action", "name": "action_listen", "timestamp": 1.0},
        {"event": "user", "text": "do you ship to France?", "timestamp": 1.0, "message_id": "n"},
        {"event": "action", "name": "action_answer_shop_question", "timestamp": 1.0},
        {"event": "bot", "text": "Yes.", "timestamp": 1.0},
        {"event": "action", "name": "action_listen", "timestamp": 1.0},
    ]
    asked = [{"event": "action", "name": HUMAN_ACTION, "timestamp": 1.0}]
    short = asked + turn * 2 + turn[:5]
    long = asked + turn * 100 + turn[:5]
    assert len(trimmed(long)) == len(trimmed(short)) < 15
    assert trimmed(long)[0]["name"] == HUMAN_ACTION
    with clock.frozen(datetime(2026, 1, 5, 12, tzinfo=timezone.utc)):
        assert readings(trimmed(long)) == readings(long)


def test_without_a_recording_action_every_event_is_sent() -> None:
    events = [
        {"event": "action", "name": "action_listen", "timestamp": 1.0},
        {"event": "user", "text": "hi", "timestamp": 2.0},
        {"event": "action", "name": "utter_greet", "timestamp": 2.0},
        {"event": "user", "text": "hello", "timestamp": 3.0},
    ]
    assert trimmed(events) == events


def test_the_request_is_rasa_s_with_the_trimmed_events() -> None:
    domain = Domain.load(str(PROJECT_ROOT / "domain.yml"))
    events = [
        ActionExecuted("action_session_start"),
        ActionExecuted("action_listen"),
        UserUttered("hi", {"name": "greet", "confidence": 1.0}, message_id="a"),
        ActionExecuted(HUMAN_ACTION),
        BotUttered("Someone will call you."),
        ActionExecuted("action_listen"),
    ]
    for number in range(30):
        events += [
            UserUttered(
                f"question {number}", {"name": "ask", "confidence": 1.0}, message_id=f"q{number}"
            ),
            ActionExecuted("action_answer_shop_question"),
            BotUttered(f"answer {number}"),
            SlotSet("requested_slot", None),
            ActionExecuted("action_listen"),
        ]
    events.append(UserUttered("thanks", {"name": "thank", "confidence": 1.0}, message_id="t"))
    tracker = DialogueStateTracker.from_events("shopper", events, domain.slots)
    action = RemoteAction(
        "action_answer_shop_question", EndpointConfig("http://127.0.0.1:1/webhook")
    )

    sent = action_payload.action_call_format(action, tracker, domain)
    rasa_s = action_payload.RASA_METHODS.get(
        "_action_call_format", RemoteAction._action_call_format
    )(action, tracker, domain)

    every = rasa_s["tracker"].pop("events")
    assert sent["tracker"].pop("events") == trimmed(every)
    assert sent == rasa_s
    assert len(trimmed(every)) < 10 < len(every)
