"""What a broker message says: a Rasa event with its conversation, and the key that makes it unique.

Rasa's ``TrackerStore._stream_new_events`` publishes ``{"sender_id": ..., **event.as_dict()}``;
``rasa export`` (``rasa.core.exporter.Exporter``) publishes the tracker store's events
re-read through ``Event.from_parameters(...).as_dict()`` with the same ``sender_id``
added, plus a ``rasa-export-process-id`` message header (a header, not the body).
Both bodies are therefore the event's ``as_dict()`` plus ``sender_id``; the key hashes
the body without ``sender_id``, so the same event from either path (and from the
tracker store's ``events.data`` column, which holds ``json.dumps(event.as_dict())``)
has one key. Two events of one conversation with the same type, timestamp and content
are indistinguishable and stored once.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from typing import Any

# Fields a publisher adds to the event's own ``as_dict()``.
PUBLISHER_FIELDS = frozenset({"sender_id"})
# The widths of the columns of ``conversation_events``.
MAX_SENDER_ID = 255
MAX_TYPE_NAME = 64
MAX_NAME = 255
# Rasa's FallbackClassifier threshold in config.yml: a shopper message read with less
# confidence counts as not understood even where a rule answered it.
FALLBACK_INTENT = "nlu_fallback"
LOW_CONFIDENCE = 0.3


class NotAnEvent(ValueError):
    """A message that is not a Rasa event; the text says what is wrong with it."""


@dataclass(frozen=True)
class ConversationEvent:
    """One Rasa event of one conversation, as stored in ``conversation_events``."""

    dedup_key: str
    sender_id: str
    type_name: str
    timestamp: float
    # The event's JSON without the publisher's fields (canonical: sorted keys, no spaces).
    data: str
    intent_name: str | None = None
    intent_confidence: float | None = None
    action_name: str | None = None


def canonical_json(event: dict[str, Any]) -> str:
    """``event`` without the publisher's fields: JSON, sorted keys, no spaces, ASCII only.

    ASCII escapes keep the text storable as it is (a NUL or a lone surrogate in a
    message is written as a JSON escape), and make the hash independent of the encoding.
    """
    body = {key: value for key, value in event.items() if key not in PUBLISHER_FIELDS}
    return json.dumps(body, sort_keys=True, separators=(",", ":"))


def dedup_key(sender_id: str, type_name: str, timestamp: float, canonical: str) -> str:
    """SHA-256 (hex) of the conversation, the type, the timestamp and the event's JSON hash."""
    content = hashlib.sha256(canonical.encode("utf-8")).hexdigest()
    parts = (sender_id, type_name, repr(float(timestamp)), content)
    return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()


def _text(event: dict[str, Any], field: str, limit: int) -> str:
    value = event.get(field)
    if not isinstance(value, str) or not value:
        raise NotAnEvent(f"{field}: expected a non-empty string, got {type(value).__name__}")
    if len(value) > limit or "\x00" in value:
        raise NotAnEvent(f"{field}: longer than {limit} characters or holding a NUL character")
    if not _encodable(value):
        raise NotAnEvent(f"{field}: not valid Unicode text")
    return value


def _encodable(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _short_name(value: Any) -> str | None:
    if not isinstance(value, str) or not value or not _encodable(value):
        return None
    return value.replace("\x00", "")[:MAX_NAME]


def from_body(body: bytes | str) -> ConversationEvent:
    """The event a broker message carries; :class:`NotAnEvent` if it carries none."""
    try:
        event = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise NotAnEvent(f"not JSON: {exc}") from exc
    if not isinstance(event, dict):
        raise NotAnEvent(f"expected a JSON object, got {type(event).__name__}")
    return from_dict(event)


def from_dict(event: dict[str, Any], sender_id: str | None = None) -> ConversationEvent:
    """The stored form of ``event`` (``sender_id`` given, or taken from the event)."""
    if sender_id is not None:
        event = {**event, "sender_id": sender_id}
    sender = _text(event, "sender_id", MAX_SENDER_ID)
    type_name = _text(event, "event", MAX_TYPE_NAME)
    timestamp = event.get("timestamp")
    if (
        isinstance(timestamp, bool)
        or not isinstance(timestamp, (int, float))
        or not math.isfinite(timestamp)
    ):
        raise NotAnEvent(f"timestamp: expected Unix seconds, got {timestamp!r}")
    canonical = canonical_json(event)
    intent_name = confidence = None
    if type_name == "user":
        parse_data = event.get("parse_data")
        intent = parse_data.get("intent") if isinstance(parse_data, dict) else None
        if isinstance(intent, dict):
            intent_name = _short_name(intent.get("name"))
            raw = intent.get("confidence")
            if isinstance(raw, (int, float)) and not isinstance(raw, bool) and math.isfinite(raw):
                confidence = float(raw)
    action_name = _short_name(event.get("name")) if type_name == "action" else None
    return ConversationEvent(
        dedup_key=dedup_key(sender, type_name, float(timestamp), canonical),
        sender_id=sender,
        type_name=type_name,
        timestamp=float(timestamp),
        data=canonical,
        intent_name=intent_name,
        intent_confidence=confidence,
        action_name=action_name,
    )
