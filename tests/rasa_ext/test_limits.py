"""What the chat edges accept: each malformed REST body is refused naming its field."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bot.sessionids import MAX_SESSION_ID
from rasa_ext.channels import session_id_of
from rasa_ext.limits import (
    MAX_MESSAGE_CHARS,
    ChatInputError,
    ChatRequest,
    parse_chat_body,
    sender_problem,
    too_long,
)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b"[]", "body"),  # an array
        (b'"x"', "body"),  # a string
        (b"1", "body"),  # a number
        (b"true", "body"),  # a boolean
        (b"null", "body"),  # null
        (b"", "body"),  # nothing
        (b"{", "body"),  # not JSON
        (b"\xff{}", "body"),  # not UTF-8
        (b"[" * 100_000, "body"),  # deeper than Python's recursion limit
        (b"{}", "sender"),  # no sender: Rasa filed these all under "default"
        (b'{"sender": null, "message": "hi"}', "sender"),
        (b'{"sender": 42, "message": "hi"}', "sender"),  # Rasa took it as "42"
        (b'{"sender": "", "message": "hi"}', "sender"),
        (b'{"sender": "   ", "message": "hi"}', "sender"),  # blank
        (b'{"sender": "\\ud800", "message": "hi"}', "sender"),  # SQLite cannot store it
        (b'{"sender": "a\\u0000b", "message": "hi"}', "sender"),  # NUL
        (b'{"sender": "a\\r\\nb", "message": "hi"}', "sender"),  # would forge log lines
        (b'{"sender": "a\\u0085b", "message": "hi"}', "sender"),  # a C1 control character
        (b'{"sender": "s"}', "message"),  # no message
        (b'{"sender": "s", "message": null}', "message"),
        (b'{"sender": "s", "message": {"text": "hi"}}', "message"),  # an object
        (b'{"sender": "s", "message": "hi \\udfff"}', "message"),  # a lone surrogate
        (b'{"sender": "s", "message": "hi\\u0000"}', "message"),  # NUL (PostgreSQL)
        (b'{"sender": "s", "message": "hi", "metadata": []}', "metadata"),
        (b'{"sender": "s", "message": "hi", "metadata": "{}"}', "metadata"),  # JSON in a string
    ],
)
def test_malformed_bodies_name_the_field(body: bytes, field: str) -> None:
    with pytest.raises(ChatInputError) as raised:
        parse_chat_body(body)
    assert raised.value.field == field
    assert raised.value.message.startswith(("the body", field))


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        # What the widget sends.
        (
            {"sender": "shop-session-42", "message": "hi", "metadata": {"page_type": "cart"}},
            ChatRequest("shop-session-42", "hi", {"page_type": "cart"}),
        ),
        # Metadata is optional, null is none.
        ({"sender": "s", "message": "hi", "metadata": None}, ChatRequest("s", "hi", None)),
        # An empty text is a message (Rasa answers it like any other).
        ({"sender": "s", "message": ""}, ChatRequest("s", "", None)),
        # Text may span lines and use any script; ids may be any printable text.
        (
            {"sender": "séance-☕-" + "x" * (MAX_SESSION_ID - 9), "message": "Bonjour\n👋"},
            ChatRequest("séance-☕-" + "x" * (MAX_SESSION_ID - 9), "Bonjour\n👋", None),
        ),
        # Unknown fields are ignored, as by Rasa.
        ({"sender": "s", "message": "hi", "input_channel": 5}, ChatRequest("s", "hi", None)),
    ],
)
def test_valid_bodies(data: dict[str, Any], expected: ChatRequest) -> None:
    assert parse_chat_body(json.dumps(data).encode()) == expected


def test_sender_length_limit_is_the_events_api_one() -> None:
    assert sender_problem("lead-0a1b2c") == (
        "sender may not start with 'lead-' (reserved for leads entered by staff)"
    )
    assert sender_problem("x" * MAX_SESSION_ID) is None
    assert sender_problem("x" * (MAX_SESSION_ID + 1)) is not None
    assert MAX_SESSION_ID == 128


def test_the_message_limit() -> None:
    assert not too_long("x" * MAX_MESSAGE_CHARS)
    assert too_long("x" * (MAX_MESSAGE_CHARS + 1))


@pytest.mark.parametrize(
    "session_id",
    ["\ud800", "a\nb", "a\x00b"],
    ids=["lone surrogate", "newline", "NUL"],
)
def test_socketio_replaces_session_ids_the_rest_channel_refuses(session_id: str) -> None:
    replaced = session_id_of({"session_id": session_id})
    assert replaced != session_id and len(replaced) == 32
