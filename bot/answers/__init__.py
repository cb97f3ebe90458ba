"""Parsers that turn a shopper's free-text answer into a normalised value.

Every parser returns a ``Parsed(value, display)`` or None, and never raises on any text:
empty text, text over 500 characters, HTML and emoji-only text all give None. The
read-backs' words (``amount_text``, ``place_name``, ``timeline_display``…) are public too,
so pages and briefs that show a stored value say it as the bot said it.
"""

from bot.answers.budget import amount_text, parse_budget, plain_amount
from bot.answers.contact import parse_contact, parse_email, parse_name, parse_phone
from bot.answers.location import country_name, parse_location, place_name
from bot.answers.timeline import parse_timeline, timeline_display
from bot.answers.types import Parsed

__all__ = [
    "Parsed",
    "amount_text",
    "country_name",
    "parse_budget",
    "parse_contact",
    "parse_email",
    "parse_location",
    "parse_name",
    "parse_phone",
    "parse_timeline",
    "place_name",
    "plain_amount",
    "timeline_display",
]
