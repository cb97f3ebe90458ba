"""A client's message id: checked at the edge, and a stored message answered from the tracker."""

from __future__ import annotations

import json

import pytest
from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from rasa.shared.core.events import ActionExecuted, BotUttered, SlotSet, UserUttered

from rasa_ext.channels import user_message
from rasa_ext.limits import ChatInputError, parse_chat_body
from rasa_ext.retries import ClientMessage, answered


def body(**fields: object) -> bytes:
    return json.dumps({"sender": "shopper-1", "message": "hi", **fields}).encode()


def test_a_message_id_is_optional_and_kept() -> None:
    assert parse_chat_body(body()).message_id is None
    chat = parse_chat_body(body(message_id="0b0e8f9e-3c4d-4f61-9a57-1c2b3d4e5f60"))
    assert chat.message_id == "0b0e8f9e-3c4d-4f61-9a57-1c2b3d4e5f60"


@pytest.mark.parametrize("value", ["", "x" * 65, "has space", "<script>", 7, ["a"], "é"])
def test_an_unusable_message_id_is_named(value: object) -> None:
    with pytest.raises(ChatInputError) as raised:
        parse_chat_body(body(message_id=value))

    assert raised.value.field == "message_id"
    assert "1 to 64" in raised.value.message


def test_only_a_clients_id_makes_a_message_answerable_from_the_tracker() -> None:
    output = CollectingOutputChannel()
    chosen = user_message("hi", output, "s", input_channel="rest", metadata=None, message_id="m-1")
    generated = user_message(
        "hi", output, "s", input_channel="rest", metadata=None, message_id=None
    )

    assert isinstance(chosen, ClientMessage) and chosen.message_id == "m-1"
    assert type(generated) is UserMessage and generated.message_id


def test_the_replies_to_a_stored_message_are_the_bot_messages_before_the_next_one() -> None:
    events = [
        UserUttered("hi", message_id="m-1"),
        ActionExecuted("utter_greet"),
        BotUttered("Hello!"),
        SlotSet("asked", "timeline"),
        BotUttered("When are you planning to buy?", {"buttons": [{"title": "Soon"}]}),
        ActionExecuted("action_listen"),
        UserUttered("next week", message_id="m-2"),
        BotUttered("Which product?"),
    ]

    replies = answered(events, "m-1")

    assert [reply.text for reply in replies or []] == [
        "Hello!",
        "When are you planning to buy?",
    ]
    assert [reply.text for reply in answered(events, "m-2") or []] == ["Which product?"]
    assert answered(events, "m-3") is None
    assert answered([UserUttered("ok", message_id="m-4")], "m-4") == []
