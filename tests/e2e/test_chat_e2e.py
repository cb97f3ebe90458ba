"""End-to-end chats over the real Rasa server, action server and web app.

One stack serves the whole module (see conftest.py); every test talks in its own
session. The restart test runs last because it restarts the Rasa server.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from bot.devstack import DevStack
from bot.flows import Flow
from bot.leads import LeadService
from rasa_ext.limits import MAX_MESSAGE_CHARS, TOO_LONG_REPLY
from tests.e2e.conftest import Chat

pytestmark = pytest.mark.e2e

GARBAGE = [
    pytest.param("", id="empty"),
    pytest.param("lorem ipsum dolor " * 55, id="990-chars"),
    pytest.param("😀😀😀", id="emoji"),
    pytest.param("<script>alert(1)</script>", id="markup"),
    pytest.param("¿Dónde está mi pedido?", id="spanish"),
]


def event_types(repository: LeadService, lead_id: str) -> list[str]:
    return [event["type"] for event in repository.events(lead_id)]


def assert_answered_with(chat: Chat, texts: list[str], key: str | None, said: str) -> None:
    assert chat.asked(texts) == key, (
        f"after {said!r} the bot should ask {key!r}, it replied {texts!r}\n{chat}"
    )


def test_full_qualification_over_rest(chat: Chat, repository: LeadService) -> None:
    script: list[tuple[str, str | None]] = [
        # (shopper says, question the bot asks next)
        ("hi", "timeline"),
        ("sometime next month", "variant"),
        ("the blue hoodie in M", "location"),
        ("Lyon", "budget"),
        ("around 300 bucks", "contact_consent"),
        ("yes", "contact_name"),
        ("Jane Doe", "contact_details"),
        ("jane@example.com", None),
    ]
    for said, next_question in script:
        texts = chat.say(said)
        assert texts and all(texts), f"empty reply to {said!r}\n{chat}"
        assert_answered_with(chat, texts, next_question, said)
    assert "specialist" in texts[-1].lower(), f"closing message expected\n{chat}"

    lead = chat.lead()
    answers: dict[str, Any] = lead["answers"]
    # "next month" is the middle of the next calendar month, counted from the answer's day.
    answered = datetime.fromisoformat(answers["timeline"]["answered_at"]).date()
    first = (answered.replace(day=1) + timedelta(days=32)).replace(day=1)
    last = (first + timedelta(days=32)).replace(day=1) - timedelta(days=1)
    middle = first + (last - first) // 2
    assert answers["timeline"]["value"]["days"] == (middle - answered).days, answers["timeline"]
    assert answers["variant"]["value"] == "hoodie-classic-blue-m", answers["variant"]
    assert answers["location"]["value"] == {
        "country": "FR",
        "region": "Lyon",
        "area": None,
        "serviceable": True,
    }
    assert answers["budget"]["value"] == {"amount": 300, "currency": "USD"}
    assert answers["budget"]["raw"] == "around 300 bucks"
    assert all(answer["answered_at"] for answer in answers.values())
    assert lead["first_name"] == "Jane"
    assert lead["email"] == "jane@example.com"
    assert lead["consent"]["given_at"]

    events = repository.events(lead["id"])
    types = {event["type"] for event in events}
    assert {"chat_message", "question_asked", "question_answered", "qualification_completed"} <= (
        types
    ), types
    senders = {event["properties"]["sender"] for event in events if event["type"] == "chat_message"}
    assert senders == {"user", "bot"}
    shopper_lines = [
        event["properties"]["text"]
        for event in events
        if event["type"] == "chat_message" and event["properties"]["sender"] == "user"
    ]
    assert shopper_lines == [said for said, _ in script]


def test_answers_given_out_of_order_are_not_asked_again(chat: Chat) -> None:
    texts = chat.say("I need it in Berlin by Friday")
    assert_answered_with(chat, texts, "variant", "I need it in Berlin by Friday")

    answers = chat.lead()["answers"]
    assert answers["timeline"]["value"] is not None, answers
    assert 0 <= answers["timeline"]["value"]["days"] <= 7, answers["timeline"]
    assert answers["location"]["value"]["country"] == "DE", answers["location"]


def test_interruptions_during_the_qualification(
    chat: Chat, flow: Flow, repository: LeadService
) -> None:
    assert_answered_with(chat, chat.say("hi"), "timeline", "hi")

    texts = chat.say("why do you need that?")
    timeline = flow.question("timeline")
    assert timeline is not None
    assert timeline.why in texts, f"explanation expected\n{chat}"
    assert_answered_with(chat, texts, "timeline", "why do you need that?")

    texts = chat.say("I don't know")
    assert_answered_with(chat, texts, "variant", "I don't know")
    assert chat.lead()["answers"]["timeline"]["status"] == "unknown"

    texts = chat.say("talk to a human")
    assert any("team" in text or "specialist" in text for text in texts), f"{chat}"
    lead = chat.lead()
    assert "human_requested" in event_types(repository, lead["id"])
    assert lead["human_requested_at"]

    texts = chat.say("stop")
    assert texts, f"a goodbye is expected after 'stop'\n{chat}"
    assert chat.asked(texts) is None, f"no question after 'stop'\n{chat}"
    assert any(word in " ".join(texts).lower() for word in ("thank", "bye", "no problem"))
    assert "opt_out" in event_types(repository, lead["id"])

    for said in ("hi", "the blue hoodie in M", "Lyon"):
        texts = chat.say(said)
        assert texts and all(texts), f"empty reply to {said!r}\n{chat}"
        assert chat.asked(texts) is None, f"no question after an opt-out\n{chat}"
    assert chat.lead()["opted_out_at"]


@pytest.mark.parametrize("garbage", GARBAGE)
def test_garbage_as_first_message_gets_a_reply(stack: DevStack, flow: Flow, garbage: str) -> None:
    chat = Chat(stack, flow)
    texts = chat.say(garbage)
    assert texts and all(texts), f"empty reply to {garbage[:40]!r}\n{chat}"
    assert not any("<script" in text for text in texts)


def test_garbage_answers_store_nothing_wrong(chat: Chat, repository: LeadService) -> None:
    assert_answered_with(chat, chat.say("hi"), "timeline", "hi")
    for param in GARBAGE:
        (garbage,) = param.values
        texts = chat.say(str(garbage))
        assert texts and all(texts), f"empty reply to {str(garbage)[:40]!r}\n{chat}"
        assert chat.asked(texts) is not None, f"the bot should keep asking\n{chat}"

    lead = chat.lead()
    for key, answer in lead["answers"].items():
        assert answer["value"] is None, f"{key} parsed from garbage: {answer}\n{chat}"
        assert answer["status"] == "unknown", (key, answer)
        assert "<script" not in answer["raw"] and len(answer["raw"]) <= 500, (key, answer)
    assert lead["email"] is None and lead["first_name"] is None
    for event in repository.events(lead["id"], types=["chat_message"]):
        assert len(event["properties"]["text"]) <= MAX_MESSAGE_CHARS


def test_a_message_over_the_limit_is_declined_and_the_questions_go_on(
    chat: Chat, repository: LeadService
) -> None:
    assert_answered_with(chat, chat.say("hi"), "timeline", "hi")
    too_long = "lorem ipsum dolor " * 333 + "sit"
    assert chat.say(too_long) == [TOO_LONG_REPLY]
    texts = chat.say("sometime next month")
    assert chat.asked(texts) == "variant", f"the timeline answer should still count\n{chat}"
    lead = chat.lead()
    assert lead["answers"]["timeline"]["raw"] == "sometime next month"
    stored = [
        event["properties"]["text"]
        for event in repository.events(lead["id"], types=["chat_message"])
    ]
    assert too_long not in stored


def test_two_unparseable_answers_store_unknown_and_move_on(
    chat: Chat, repository: LeadService, flow: Flow
) -> None:
    assert_answered_with(chat, chat.say("hi"), "timeline", "hi")
    chat.say("sometime next month")

    texts = chat.say("the purple elephant")
    variant = flow.question("variant")
    assert variant is not None
    assert texts[-1] in (variant.reask, "I found several matching items. Which one do you mean?"), (
        f"a re-ask of the variant question is expected\n{chat}"
    )
    assert "variant" not in chat.lead()["answers"]

    texts = chat.say("a velvet giraffe")
    assert_answered_with(chat, texts, "location", "a velvet giraffe")
    lead = chat.lead()
    assert lead["answers"]["variant"]["status"] == "unknown", lead["answers"]
    assert lead["answers"]["variant"]["value"] is None
    assert "question_unanswered" in event_types(repository, lead["id"])


def test_conversation_survives_a_rasa_restart(chat: Chat, stack: DevStack) -> None:
    assert_answered_with(chat, chat.say("hi"), "timeline", "hi")
    assert_answered_with(chat, chat.say("next week"), "variant", "next week")

    stack.restart("rasa")

    texts = chat.say("the blue hoodie in M")
    assert_answered_with(chat, texts, "location", "the blue hoodie in M (after restart)")
    answers = chat.lead()["answers"]
    assert answers["variant"]["value"] == "hoodie-classic-blue-m"
    assert_answered_with(chat, chat.say("Lyon"), "budget", "Lyon (after restart)")


OPENINGS = [
    pytest.param("Hi! I'm interested in buying something from your shop.", id="interested-buying"),
    pytest.param("I'm interested in your products", id="interested"),
    pytest.param("I want to order something", id="order-something"),
    pytest.param("alright", id="alright"),
    pytest.param("oi", id="oi"),
    pytest.param("👋", id="wave"),
]
# Replies that end or derail a conversation that just started.
DEAD_ENDS = ("won't ask", "Goodbye", "Sorry, I didn't understand", "anything else I can help")


@pytest.mark.parametrize("opening", OPENINGS)
def test_openings_get_the_first_question(chat: Chat, opening: str) -> None:
    texts = chat.say(opening)
    assert_answered_with(chat, texts, "timeline", opening)
    assert not any(end in text for text in texts for end in DEAD_ENDS), f"{chat}"


def test_markup_first_is_answered_and_the_questions_go_on(
    chat: Chat, repository: LeadService
) -> None:
    texts = chat.say("<script>alert('x')</script>")
    assert_answered_with(chat, texts, "timeline", "markup")
    assert not any("won't ask" in text for text in texts), f"{chat}"
    assert_answered_with(chat, chat.say("a fortnight"), "variant", "a fortnight")
    assert chat.lead()["answers"]["timeline"]["value"] == {"days": 14}
    assert "opt_out" not in event_types(repository, chat.lead()["id"])


def test_an_opt_out_can_be_taken_back(chat: Chat, repository: LeadService) -> None:
    assert_answered_with(chat, chat.say("hi"), "timeline", "hi")
    texts = chat.say("stop")
    assert any("won't ask" in text for text in texts), f"{chat}"
    texts = chat.say("actually, I do want to buy it")
    assert_answered_with(chat, texts, "timeline", "actually, I do want to buy it")
    types = event_types(repository, chat.lead()["id"])
    assert "opt_out" in types and "opt_out_withdrawn" in types


def test_consent_survives_why_an_answer_and_a_change_of_mind(chat: Chat, flow: Flow) -> None:
    for said, key in [
        ("hi", "timeline"),
        ("next week", "variant"),
        ("the blue hoodie in M", "location"),
        ("Lyon", "budget"),
        ("around 300 euros", "contact_consent"),
    ]:
        assert_answered_with(chat, chat.say(said), key, said)
    consent = flow.question("contact_consent")
    assert consent is not None
    texts = chat.say("why do you need that?")
    assert consent.why in texts, f"{chat}"
    assert_answered_with(chat, texts, "contact_consent", "why do you need that?")
    texts = chat.say("actually my budget is 50")
    assert_answered_with(chat, texts, "contact_consent", "actually my budget is 50")
    assert chat.lead()["answers"]["budget"]["value"]["amount"] == 50
    texts = chat.say("nein danke")
    assert chat.asked(texts) is None and "anonymous" in texts[-1], f"{chat}"
    # A change of mind: asking to be contacted asks for consent again.
    texts = chat.say("I changed my mind, you can contact me")
    assert_answered_with(chat, texts, "contact_consent", "I changed my mind, you can contact me")
    assert_answered_with(chat, chat.say("go on then"), "contact_name", "go on then")
