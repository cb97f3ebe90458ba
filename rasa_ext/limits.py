"""What the chat edges (REST and socket.io) accept, checked before Rasa sees a message.

A chat message comes from any browser on the internet. Rasa 3.6 takes any JSON
value as a sender id or text and passes it on to NLU and the tracker store, so
one odd request could stop the server (a sender id SQLite cannot encode), hog
it (a 100,000-character message kept NLU busy for ~24 s and added GBs of
memory) or answer 500. Here each field is checked, with an error that names it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from bot.sessionids import session_id_problem, storable

# A shopper's message is a sentence or two: the longest answers the flows expect
# (an address, a product name with options) are well under 300 characters. Beyond
# this a message is pasted text, not something to run NLU on.
MAX_MESSAGE_CHARS = 1000
# Largest request body the Rasa server reads: a message at the limit in 4-byte
# characters, JSON-escaped, plus the widget's metadata, with room to spare.
MAX_CHAT_BODY_BYTES = 64 * 1024

TOO_LONG_REPLY = "That message is too long for me — could you say it in a few words?"
UNREADABLE_REPLY = "Sorry, I couldn't read that message — could you type it again?"
UNAVAILABLE_REPLY = (
    "Sorry, I can't reach our conversation right now — please try again in a moment."
)


# How a JSON value that is not an object is named in an error.
_JSON_KINDS = {
    list: "an array",
    str: "a string",
    int: "a number",
    float: "a number",
    bool: "a boolean",
}


class ChatInputError(ValueError):
    """A chat request field that is not what the channel accepts."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


@dataclass(frozen=True)
class ChatRequest:
    """A REST chat request that passed the checks."""

    sender: str
    message: str
    metadata: dict[str, Any] | None
    # Chosen by the client and sent again with a retry (rasa_ext.retries).
    message_id: str | None = None


# A client's message id: a UUID, or any short token of these characters.
_MESSAGE_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")
MESSAGE_ID_RULE = "message_id must be 1 to 64 letters, digits or . _ : - (e.g. a UUID)"


def message_id_problem(value: Any) -> str | None:
    """Why ``value`` cannot be a client's message id, or None if it can (None: not given)."""
    if value is None:
        return None
    if not isinstance(value, str) or _MESSAGE_ID.fullmatch(value) is None:
        return MESSAGE_ID_RULE
    return None


def sender_problem(value: Any) -> str | None:
    """Why ``value`` cannot be a sender id, or None if it can (the storefront session id rule)."""
    return session_id_problem(value, "sender")


def text_problem(value: Any) -> str | None:
    """Why ``value`` cannot be a message text, or None if it can (its length aside)."""
    if not isinstance(value, str):
        return "message must be a string"
    if not storable(value):
        return "message must be valid UTF-8 text without NUL characters"
    return None


def too_long(text: str) -> bool:
    """Whether ``text`` is longer than a chat message may be (it then skips NLU)."""
    return len(text) > MAX_MESSAGE_CHARS


def parse_chat_body(body: bytes) -> ChatRequest:
    """The sender, text and metadata of a REST chat body, or :class:`ChatInputError`."""
    expected = 'the body must be a JSON object such as {"sender": "…", "message": "…"}'
    try:
        # RFC 8259: JSON exchanged between systems is UTF-8.
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise ChatInputError("body", f"{expected}, encoded as UTF-8") from None
    try:
        data = json.loads(text)
    except ValueError as error:
        raise ChatInputError("body", f"{expected}; it is not JSON ({error})") from None
    except RecursionError:
        raise ChatInputError("body", f"{expected}; it is nested too deeply") from None
    if not isinstance(data, dict):
        raise ChatInputError("body", f"{expected}, not {_JSON_KINDS.get(type(data), 'null')}")
    sender = data.get("sender")
    problem = sender_problem(sender)
    if problem is not None:
        raise ChatInputError("sender", problem)
    message = data.get("message")
    problem = text_problem(message)
    if problem is not None:
        raise ChatInputError("message", problem)
    metadata = data.get("metadata")
    if metadata is not None and not isinstance(metadata, dict):
        raise ChatInputError("metadata", "metadata must be a JSON object")
    message_id = data.get("message_id")
    problem = message_id_problem(message_id)
    if problem is not None:
        raise ChatInputError("message_id", problem)
    assert isinstance(sender, str) and isinstance(message, str)
    return ChatRequest(sender=sender, message=message, metadata=metadata, message_id=message_id)
