"""Storefront session ids: one rule for every public edge (chat, storefront events, web form).

The session id joins a shopper's chat and storefront events on one lead, and
anyone on the internet can send one, so each edge checks it the same way:

- 1 to :data:`MAX_SESSION_ID` characters, not blank;
- storable everywhere: valid UTF-8 (a lone surrogate made SQLite raise, and Rasa
  3.6 exit), no control characters (they would let an id forge log lines);
- not of the form :data:`STAFF_SESSION_PREFIX` ``<lead id>``, which the lead store
  gives leads entered by staff or imported (see ``bot.leads.book``): a
  stranger who learnt such an id must not be able to write to that lead.
"""

from __future__ import annotations

import unicodedata
from typing import Any

MAX_SESSION_ID = 128
STAFF_SESSION_PREFIX = "lead-"


def storable(text: str) -> bool:
    """Whether every store (SQLite, PostgreSQL, the tracker store) can keep ``text``."""
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def session_id_problem(value: Any, field: str = "session_id") -> str | None:
    """Why ``value`` cannot be a shopper's session id (naming ``field``), or None if it can."""
    if not isinstance(value, str):
        return f"{field} must be a string (the shopper's session id)"
    if not value.strip() or len(value) > MAX_SESSION_ID:
        return f"{field} must be 1 to {MAX_SESSION_ID} characters, not blank"
    if not storable(value) or any(unicodedata.category(char) == "Cc" for char in value):
        return f"{field} must be valid UTF-8 text without control characters"
    if value.startswith(STAFF_SESSION_PREFIX):
        return (
            f"{field} may not start with {STAFF_SESSION_PREFIX!r} "
            "(reserved for leads entered by staff)"
        )
    return None
