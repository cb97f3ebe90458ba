"""Budget answers: "around 300 bucks", "200-400€", "up to 1k" → an amount with a currency.

The value is ``{"amount": Decimal, "currency": "EUR"}`` (ISO 4217), plus:

* a range ("between 200 and 400", "200-400€", "200 to 400") → ``amount`` is the
  midpoint rounded to cents, with ``"min"`` and ``"max"`` the two ends;
* an upper bound ("under 100", "no more than 250", "up to 1k", "max 80", "300 tops")
  → ``amount`` and ``"max"`` are the bound;
* a lower bound ("at least 200", "over 500", "500+") → ``amount`` and ``"min"`` are the
  bound.

Currency comes from a marker next to the number (€, $, £, CHF, EUR, euros, bucks → USD,
quid → GBP), else from the only currency named anywhere in the text, else
``default_currency``. "$" is read as US dollars. Amounts must be above 0 and below
10,000,000. Numbers that measure something else are never budgets: sizes ("size 42"),
durations ("2 weeks"), capacities ("30L", "2 person"), percentages, dates and
post codes. ``strict`` mode (scanning a message that answers another question) also
needs a currency marker or a budget word (budget, spend, afford, max, up to, under,
around, ...).
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation

import pycountry
from price_parser.parser import parse_number

from bot.answers.text import (
    NUMBER_WORDS,
    SCALES,
    VAGUE_COUNTS,
    usable,
    word_set,
    words_to_int,
)
from bot.answers.types import Parsed

MAX_AMOUNT = Decimal(10_000_000)
_CENT = Decimal("0.01")

_SYMBOLS = {"€": "EUR", "$": "USD", "us$": "USD", "£": "GBP", "¥": "JPY", "₹": "INR"}
_SYMBOLS |= {"zł": "PLN", "kč": "CZK", "fr.": "CHF", "sfr": "CHF", "c$": "CAD", "a$": "AUD"}
_WORDS = {
    "euro": "EUR",
    "euros": "EUR",
    "dollar": "USD",
    "dollars": "USD",
    "buck": "USD",
    "bucks": "USD",
    "quid": "GBP",
    "pound": "GBP",
    "pounds": "GBP",
    "sterling": "GBP",
    "franc": "CHF",
    "francs": "CHF",
    "yen": "JPY",
    "zloty": "PLN",
    "zlotys": "PLN",
    "krona": "SEK",
    "kronor": "SEK",
}
# Lower-case three-letter words that are also currency codes ("all", "top", "try") only
# count upper-case; these common ones count either way.
_LOWER_CODES = frozenset({"eur", "usd", "gbp", "chf", "sek", "nok", "dkk", "pln", "czk", "cad"})

_CURRENCY = (
    r"(?:us\$|c\$|a\$|[€$£¥₹]|zł|kč|fr\.|sfr|(?<![a-z])(?:"
    + "|".join(sorted(_WORDS, key=len, reverse=True))
    + r")\b|(?<![a-z])[a-z]{3}(?![a-z]))"
)
_NUMBER = (
    # A plain space groups thousands only right before a currency: "1 200 €".
    r"\d{1,3}(?: \d{3})+(?:[.,]\d{1,2})?(?=\s?(?:[€$£]|(?:eur|euros?|chf|usd|gbp)\b))"
    r"|\d{1,3}(?:[.,'\u00a0\u202f]\d{3})+(?:[.,]\d{1,2})?|\d+(?:[.,]\d{1,2})?"
)
_MULTIPLIER = r"(?:k|thousand|grand|m|mio|million)\b"
_AMOUNT = re.compile(
    rf"(?:(?P<pre>{_CURRENCY})\s?|(?<![\w.,/:]))(?P<number>{_NUMBER})(?!\d)"
    rf"(?:\s?(?P<mult>{_MULTIPLIER}))?(?P<plus>\+)?(?:\s?(?P<post>{_CURRENCY}))?",
    re.IGNORECASE,
)
_RANGE_JOIN = re.compile(r"^\s*(?:-|\u2013|\u2014|to|and|till)\s*$")
_UNIT = (
    r"(?:(?:l|ltr|lit(?:er|re)s?|p|persons?|people|man|men|kg|g|cm|mm|km|ml|m|days?|weeks?"
    r"|months?|years?|yrs?|hours?|hrs?|h|mins?|minutes?|x|pcs|pieces?|items?|units?|st|nd|rd"
    r"|th|am|pm|inch(?:es)?|ft|feet|sizes?|kids?|children|times|o'?clock|percent)\b|%|\")"
)
_UNIT_AFTER = re.compile(rf"^\s?-?\s?{_UNIT}", re.IGNORECASE)
# "2" in "2-3 weeks" or "2 to 3 weeks" measures time like the "3" does.
_UNIT_AFTER_RANGE = re.compile(
    rf"^\s?(?:-|\u2013|to|or)\s?\d+(?:[.,]\d+)?\s?-?\s?{_UNIT}", re.IGNORECASE
)
_CONTEXT_BEFORE = re.compile(
    r"(?:size|sz|zip|post ?code|postal code|code|order|no\.?|number|n°|#|tel|phone|call|room"
    r"|flat|apt|apartment|model|version|v|qty|quantity|age|aged|item|page|step|eu|uk|us)"
    r"\s?[:#]?\s?$",
    re.IGNORECASE,
)
_UPPER_BOUND = re.compile(
    r"(?:under|below|less than|no more than|not more than|up to|upto|max(?:imum)?|at most"
    r"|no higher than|within|cap(?:ped)? at|limit(?: of| is)?)\s?(?:of\s)?$",
    re.IGNORECASE,
)
_LOWER_BOUND = re.compile(r"(?:at least|over|above|more than|minimum|min|from)\s?$", re.IGNORECASE)
_UPPER_AFTER = re.compile(r"^\s?(?:tops|max(?:imum)?|at most|or less|or under)\b", re.IGNORECASE)
_LOWER_AFTER = re.compile(r"^\s?(?:or more|minimum|at least|\+)", re.IGNORECASE)
_BETWEEN = re.compile(r"(?:between|from)\s?$", re.IGNORECASE)
_BUDGET_WORDS = re.compile(
    r"\b(?:budget|spend|spending|afford|max(?:imum)?|up ?to|under|below|less than|no more than"
    r"|at most|around|about|roughly|approx(?:imately)?|price range|pay|paying|cost|costs"
    r"|willing|cap|limit|tops|at least)\b",
    re.IGNORECASE,
)
# In strict mode a bare number followed by another word counts things ("3 hoodies"),
# unless the word is one of these.
_WORD_AFTER = re.compile(r"^\s?([a-z]+)", re.IGNORECASE)
_MONEY_FOLLOWERS = word_set(
    "or and to for on in at is was would should could max maximum tops total ish each per"
    " please thanks but if with overall all including incl"
)
_NUMBER_WORD = "(?:" + "|".join(["a", "and", "of", *VAGUE_COUNTS, *NUMBER_WORDS, *SCALES]) + ")"
_NUMBER_WORD_RUN = re.compile(rf"\b{_NUMBER_WORD}(?:[\s-]+{_NUMBER_WORD})*\b", re.IGNORECASE)
# Words that make a run a number on their own: "twenty", "hundred"; "one" alone is not.
_NUMBERISH = frozenset(w for w, n in NUMBER_WORDS.items() if n >= 10) | frozenset(SCALES)


@dataclass(frozen=True)
class _Amount:
    start: int
    end: int
    value: Decimal
    currency: str | None
    bound: str | None  # "max", "min" or None


def parse_budget(text: str, *, default_currency: str, strict: bool = False) -> Parsed | None:
    """Read a budget; see the module docstring for the value and the rules."""
    cleaned = usable(text)
    if cleaned is None:
        return None
    try:
        return _parse(cleaned, default_currency.upper(), strict=strict)
    except (InvalidOperation, ValueError):
        return None


def _parse(text: str, default_currency: str, *, strict: bool) -> Parsed | None:
    text = _NUMBER_WORD_RUN.sub(_spell_out, text)
    amounts = _amounts(text, strict=strict)
    if not amounts:
        return None
    named = {a.currency for a in amounts if a.currency}
    named |= {code for word, code in _WORDS.items() if re.search(rf"\b{word}\b", text, re.I)}
    fallback = named.pop() if len(named) == 1 else default_currency

    budget_word = _BUDGET_WORDS.search(text) is not None
    if strict and not budget_word and not any(a.currency for a in amounts):
        return None

    low, high = _range(text, amounts)
    if low is not None and high is not None:
        currency = high.currency or low.currency or fallback
        middle = ((low.value + high.value) / 2).quantize(_CENT, ROUND_HALF_EVEN).normalize()
        span = {"amount": _plain(middle), "currency": currency, "min": low.value, "max": high.value}
        return Parsed(
            value=span, display=f"{_money(low.value)}\u2013{_money(high.value)} {currency}"
        )

    best = max(amounts, key=lambda a: (a.currency is not None, a.bound is not None, -a.start))
    currency = best.currency or fallback
    value: dict[str, object] = {"amount": best.value, "currency": currency}
    display = f"{_money(best.value)} {currency}"
    if best.bound == "max":
        value["max"] = best.value
        display = f"up to {display}"
    elif best.bound == "min":
        value["min"] = best.value
        display = f"at least {display}"
    return Parsed(value=value, display=display)


def _spell_out(match: re.Match[str]) -> str:
    """Rewrite "two hundred and fifty" as 250; "one" or "a" alone stay words."""
    words = [w for w in re.split(r"[\s-]+", match.group(0).lower()) if w]
    parts: list[list[str]] = [[]]
    for index, word in enumerate(words):
        # "and" joins two amounts ("between two hundred and four hundred") unless it
        # is the "and" inside one ("two hundred and fifty").
        if word == "and" and (not parts[-1] or any(w in SCALES for w in words[index + 1 :])):
            parts.append([])
        elif word != "and":
            parts[-1].append(word)
    if not any(_NUMBERISH.intersection(part) for part in parts):
        return match.group(0)
    spelled = []
    for part in parts:
        number = words_to_int(part) if _NUMBERISH.intersection(part) else None
        spelled.append(str(number) if number is not None else " ".join(part))
    return " and ".join(p for p in spelled if p)


def _amounts(text: str, *, strict: bool) -> list[_Amount]:
    found = []
    for match in _AMOUNT.finditer(text):
        amount = _read(text, match, strict=strict)
        if amount is not None:
            found.append(amount)
    return found


def _read(text: str, match: re.Match[str], *, strict: bool) -> _Amount | None:
    before = text[: match.start("number")]
    after = text[match.end("number") :]
    pre, post = _currency(match["pre"]), _currency(match["post"])
    currency = pre or post
    multiplier = (match["mult"] or "").lower()
    if multiplier:
        after = text[match.end("mult") :]
    if match["post"] and post is None:
        after = text[match.start("post") :]
    right_after = text[match.end("number") :]
    if not currency:
        if not multiplier and (
            _UNIT_AFTER.match(right_after) or _UNIT_AFTER_RANGE.match(right_after)
        ):
            return None
        if _CONTEXT_BEFORE.search(before) and not _BUDGET_WORDS.search(before[-20:]):
            return None
        word_after = _WORD_AFTER.match(after)
        if strict and word_after and word_after.group(1).lower() not in _MONEY_FOLLOWERS:
            return None
    if _in_date_or_phone(text, match.start("number"), match.end("number")):
        return None
    number = match["number"]
    if number[0] == "0" and not re.match(r"0[.,]\d", number):
        return None  # "06 12 ..." is a phone number, not a budget
    value = parse_number(re.sub(r"[ '\u00a0\u202f]", "", number))
    if value is None:
        return None
    if multiplier in ("k", "thousand", "grand"):
        value *= 1000
    elif multiplier in ("m", "mio", "million"):
        if not currency and multiplier == "m":
            return None  # "2m" is more likely metres than millions
        value *= 1_000_000
    if not 0 < value < MAX_AMOUNT:
        return None
    # A bound word stands outside the currency marker: "Over €150", "30 euros tops".
    before_money = text[: match.start()] if pre else before
    after_money = text[match.end() :] if post else after
    bound = None
    if _UPPER_BOUND.search(before_money) or _UPPER_AFTER.match(after_money):
        bound = "max"
    elif _LOWER_BOUND.search(before_money) or _LOWER_AFTER.match(after_money) or match["plus"]:
        bound = "min"
    # A word next to the number that is no currency ("200 and") is not part of it.
    start = match.start() if pre else match.start("number")
    end = match.end() if post else max(match.end("number"), match.end("mult"), match.end("plus"))
    return _Amount(start, end, _plain(value), currency, bound)


def _in_date_or_phone(text: str, start: int, end: int) -> bool:
    """Whether the number at text[start:end] is part of a date, a time or a phone number."""
    while start > 0 and text[start - 1] in "0123456789/.:-+ ()":
        start -= 1
    while end < len(text) and text[end] in "0123456789/.:- ()":
        end += 1
    chunk = text[start:end].strip()
    tight = re.search(r"\d[/:]\d|\d-\d+-\d", chunk) is not None
    return tight or chunk.startswith("+") or sum(c.isdigit() for c in chunk) >= 9


def _range(text: str, amounts: list[_Amount]) -> tuple[_Amount | None, _Amount | None]:
    for low, high in itertools.pairwise(amounts):
        if not _RANGE_JOIN.match(text[low.end : high.start]):
            continue
        joined_by_and = "and" in text[low.end : high.start].lower()
        if low.value == high.value or (joined_by_and and not _BETWEEN.search(text[: low.start])):
            continue  # "2 kids and 300" is not a range
        return (low, high) if low.value < high.value else (high, low)
    return None, None


def _currency(marker: str | None) -> str | None:
    if not marker:
        return None
    lowered = marker.lower()
    if lowered in _SYMBOLS:
        return _SYMBOLS[lowered]
    if lowered in _WORDS:
        return _WORDS[lowered]
    if len(marker) == 3 and (marker.isupper() or lowered in _LOWER_CODES):
        code = marker.upper()
        return code if pycountry.currencies.get(alpha_3=code) is not None else None
    return None


def _plain(value: Decimal) -> Decimal:
    """Drop trailing zeros of whole amounts (1200.00 → 1200) but keep cents (99.90)."""
    return value.quantize(Decimal(1)) if value == value.to_integral_value() else value


def _money(value: Decimal) -> str:
    return f"{value:,}" if value == value.to_integral_value() else f"{value:,.2f}"
