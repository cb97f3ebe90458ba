"""Text helpers shared by the answer parsers: input guard, accent folding, number words."""

from __future__ import annotations

import re
import unicodedata

MAX_ANSWER_LENGTH = 500

# A tag-like construct or a script opener: chat text is never legitimately HTML, and
# echoing such text back in a confirmation would be an injection risk.
_HTML = re.compile(r"<\s*/?\s*[a-z!][^>]*>|<\s*script", re.IGNORECASE)
_ALPHANUMERIC = re.compile(r"[^\W_]")

UNITS = {
    "zero": 0,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "thirteen": 13,
    "fourteen": 14,
    "fifteen": 15,
    "sixteen": 16,
    "seventeen": 17,
    "eighteen": 18,
    "nineteen": 19,
}
TENS = {
    "twenty": 20,
    "thirty": 30,
    "forty": 40,
    "fifty": 50,
    "sixty": 60,
    "seventy": 70,
    "eighty": 80,
    "ninety": 90,
}
SCALES = {"hundred": 100, "thousand": 1000, "grand": 1000}
NUMBER_WORDS = {**UNITS, **TENS}


def usable(text: object) -> str | None:
    """Return ``text`` stripped if a parser should look at it at all, else None.

    Rejects non-strings, empty text, text longer than ``MAX_ANSWER_LENGTH``, HTML and
    text without a single letter or digit (emoji or punctuation only).
    """
    if not isinstance(text, str):
        return None
    stripped = text.strip()
    if not stripped or len(stripped) > MAX_ANSWER_LENGTH:
        return None
    if _HTML.search(stripped) or not _ALPHANUMERIC.search(stripped):
        return None
    return stripped


def fold(text: str) -> str:
    """Lower-case ``text`` and strip accents, so "São Paulo" and "sao paulo" compare equal."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(char for char in decomposed if not unicodedata.combining(char))


def words_to_int(words: list[str]) -> int | None:
    """Read a run of English number words ("two thousand five hundred") as an int.

    ``words`` are lower-case tokens with "and" and hyphens already removed; "a" counts as
    one before a scale word ("a hundred"). Returns None if the run is not a number.
    """
    total = 0
    current = 0
    seen_any = False
    for index, word in enumerate(words):
        if word == "a" and index + 1 < len(words) and words[index + 1] in SCALES:
            current += 1
        elif word in NUMBER_WORDS:
            current += NUMBER_WORDS[word]
        elif word == "hundred":
            current = max(current, 1) * 100
        elif word in ("thousand", "grand"):
            total += max(current, 1) * 1000
            current = 0
        else:
            return None
        seen_any = True
    return total + current if seen_any else None
