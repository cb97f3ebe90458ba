"""Text helpers shared by the answer parsers: input guard, accent folding, number words."""

from __future__ import annotations

import re
import unicodedata

MAX_ANSWER_LENGTH = 500

# A tag-like construct or a script opener: chat text is never legitimately HTML, and
# echoing such text back in a confirmation would be an injection risk.
_HTML = re.compile(
    r"<\s*/?\s*[a-z][a-z0-9-]*(?:\s[^>]*)?/?\s*>|<\s*script|<!--|<!doctype", re.IGNORECASE
)
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
# How many "a few" means, wherever a count is vague ("a few weeks", "a few hundred").
VAGUE_COUNTS = {"couple": 2, "few": 3, "several": 4}
NUMBER_WORDS = {**UNITS, **TENS}


def word_set(words: str) -> frozenset[str]:
    """Split a whitespace-separated word list written as one string into a set."""
    return frozenset(words.split())


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


# Letters that Unicode does not decompose into a base letter and an accent.
_UNDECOMPOSED = str.maketrans(
    {"ø": "o", "æ": "ae", "œ": "oe", "ł": "l", "đ": "d", "ð": "d", "þ": "th", "\u0131": "i"}
)


def fold(text: str) -> str:
    """Lower-case ``text`` and strip accents, so "São Paulo" and "sao paulo" compare equal."""
    decomposed = unicodedata.normalize("NFKD", text.casefold().translate(_UNDECOMPOSED))
    return "".join(char for char in decomposed if not unicodedata.combining(char))


def words_to_int(words: list[str]) -> int | None:
    """Read a run of English number words ("two thousand five hundred") as an int.

    ``words`` are lower-case tokens without hyphens or "and". "a" counts as one before a
    scale word ("a hundred"); vague counts work before one ("a few hundred" = 300), and
    "of" may follow them ("a couple of hundred"). Returns None if the run is no number.
    """
    total = 0
    current = 0
    seen_any = False
    for index, word in enumerate(words):
        following = words[index + 1 :]
        next_word = following[0] if following else ""
        if word in ("a", "of") and (next_word in SCALES or next_word in VAGUE_COUNTS):
            if word == "a":
                current += 1 if next_word in SCALES else 0
            continue
        if word in VAGUE_COUNTS:
            if not any(w in SCALES for w in following[:2]):
                return None
            current += VAGUE_COUNTS[word]
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
