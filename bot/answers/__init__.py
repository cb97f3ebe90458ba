"""Parsers that turn a shopper's free-text answer into a normalised value.

Every parser returns a ``Parsed(value, display)`` or None, and never raises on any text:
empty text, text over 500 characters, HTML and emoji-only text all give None.
"""

from bot.answers.budget import parse_budget
from bot.answers.contact import parse_contact, parse_email, parse_name, parse_phone
from bot.answers.location import parse_location
from bot.answers.timeline import parse_timeline
from bot.answers.types import Parsed

__all__ = [
    "Parsed",
    "parse_budget",
    "parse_contact",
    "parse_email",
    "parse_location",
    "parse_name",
    "parse_phone",
    "parse_timeline",
]
