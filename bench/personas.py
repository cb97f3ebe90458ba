"""Seeded shopper conversations, each with the outcome the lead store must show.

A conversation is a persona (how the shopper writes), one phrasing per answer (with
its expected normalised value, as the README's "How answers are normalised" and the
lead JSON contract define it) and up to two interruptions at chosen questions. The
driver (``bench/conversations.py``) answers whatever the bot actually asks, so the
plan says *what* the shopper would answer to each question, not in which order.

Phrasings are written from how shoppers write, apart from the training data, and
each has one reading only: "in 2 weeks" is 14 days after the day it was said, "the
blue hoodie in M" is one catalogue variant. Expected timeline days are computed from
the day the answer was stored (``answered_at``), by the period rules at the top of
``bot/answers/timeline.py``.

The ``messy`` persona is a probe of understanding rather than of the dialogue: each
conversation is in one language (English in texting style, French, German, Spanish,
Italian or Portuguese) and answers every question once, in everyday words (postcodes,
islands, currencies, hedged dates, names with emoji or pasted markup), with no
interruptions. Its phrasings are dealt per language like cards, so a run of 48 uses
every one. Asked again, that shopper rewords the answer in plain English, so the
later questions are still tested; the simulator counts such an answer as wrong.
"""

from __future__ import annotations

import random
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, TypeVar

import pycountry
from dateutil.relativedelta import relativedelta

from bot.catalog import Catalog, Product, Variant

CORE_KEYS = ("timeline", "variant", "location", "budget")
CONSENT = "contact_consent"
NAME = "contact_name"
DETAILS = "contact_details"
# Questions whose answer can be given before consent; a skip is meaningful for these.
SKIPPABLE = ("variant", "location", "budget")
INTERRUPTIONS = (
    "why",
    "skip",
    "change",
    "shop_question",
    "human",
    "refuse_consent",
    "opt_out_return",
    "silence",
)


@dataclass(frozen=True)
class TimelineRule:
    """How many days an answer means, counted from the day it was given.

    ``uncertain`` marks a hedged answer ("probably next week"): its stored value must
    say so as well as give the days.
    """

    label: str
    days: int = 0
    months: int = 0
    next_week: bool = False
    browsing: bool = False
    uncertain: bool = False

    def expected(self, answered: date) -> dict[str, Any]:
        """The stored ``value`` this phrase must give on ``answered``'s day."""
        if self.browsing:
            return {"days": None, "browsing": True}
        if self.next_week:
            # The middle of next Monday-to-Sunday week: its Thursday.
            monday = answered + timedelta(days=7 - answered.weekday())
            target = monday + timedelta(days=3)
        else:
            target = answered + relativedelta(months=self.months) + timedelta(days=self.days)
        value: dict[str, Any] = {"days": (target - answered).days}
        if self.uncertain:
            value["uncertain"] = True
        return value

    def plain(self) -> str:
        """The same answer in plain English words."""
        if self.next_week:
            return "next week"
        if self.months:
            return f"in {self.months} month" + ("s" if self.months > 1 else "")
        return {0: "as soon as possible", 1: "tomorrow"}.get(self.days, f"in {self.days} days")


@dataclass(frozen=True)
class Expected:
    """What the lead must hold for one question key.

    ``state`` is ``answered`` (``value`` must match), ``unknown`` (skipped) or
    ``absent`` (never stored, e.g. contact details after consent was refused).
    ``regions`` lists the spellings accepted for a location's region ("Wien" or
    "Vienna"), ``areas`` those for the wider area it lies in, when the place has one
    that matters for shipping ("Corsica" or "Corse"); ``timeline`` replaces ``value``
    for timeline answers.
    """

    key: str
    state: str = "answered"
    value: Any = None
    timeline: TimelineRule | None = None
    regions: tuple[str | None, ...] = ()
    areas: tuple[str, ...] = ()

    def mismatch(self, stored: dict[str, Any] | None) -> str | None:
        """Why ``stored`` (the lead's ``answers[key]`` or None) is wrong, or None if right."""
        if self.state == "absent":
            return None if stored is None else f"stored {stored.get('value')!r}, expected none"
        if stored is None:
            return "not stored"
        if self.state == "unknown":
            if stored.get("status") == "unknown":
                return None
            return f"stored {stored.get('value')!r}, expected a skip (unknown)"
        value = stored.get("value")
        if stored.get("status") == "unknown":
            return f"stored as unknown, expected {self.describe()}"
        if self.timeline is not None:
            answered = date.fromisoformat(str(stored["answered_at"])[:10])
            want = self.timeline.expected(answered)
            return None if value == want else f"stored {value!r}, expected {want!r}"
        if self.key == "location":
            return _location_mismatch(value, self.value, self.regions, self.areas)
        if self.key == "budget":
            return _budget_mismatch(value, self.value)
        return None if value == self.value else f"stored {value!r}, expected {self.value!r}"

    def describe(self) -> Any:
        """The expectation as JSON-ready data."""
        if self.state != "answered":
            return self.state
        if self.timeline is not None:
            return f"timeline: {self.timeline.label}"
        if self.key == "location":
            areas = {"area": list(self.areas)} if self.areas else {}
            return {**self.value, "region": list(self.regions), **areas}
        return _jsonable(self.value)


def _jsonable(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dict):
        return {key: _jsonable(item) for key, item in value.items()}
    return value


def _location_mismatch(
    value: Any, want: dict[str, Any], regions: tuple[str | None, ...], areas: tuple[str, ...]
) -> str | None:
    if not isinstance(value, dict):
        return f"stored {value!r}, expected {want!r}"
    problems = []
    if value.get("country") != want["country"]:
        problems.append(f"country {value.get('country')!r} not {want['country']!r}")
    region = value.get("region")
    if region not in regions and not _spelled_as(region, regions):
        problems.append(f"region {region!r} not one of {list(regions)!r}")
    if areas and not _spelled_as(value.get("area"), areas):
        problems.append(f"area {value.get('area')!r} not one of {list(areas)!r}")
    if value.get("serviceable") != want["serviceable"]:
        problems.append(f"serviceable {value.get('serviceable')!r} not {want['serviceable']!r}")
    return f"stored {value!r}: " + ", ".join(problems) if problems else None


def _spelled_as(name: Any, spellings: Sequence[str | None]) -> bool:
    """Whether ``name`` is one of ``spellings``, ignoring case."""
    return isinstance(name, str) and name.casefold() in {str(s).casefold() for s in spellings}


def _budget_mismatch(value: Any, want: dict[str, Any]) -> str | None:
    if not isinstance(value, dict):
        return f"stored {value!r}, expected {_jsonable(want)!r}"
    if set(value) != set(want):
        return f"stored {value!r}, expected the fields {sorted(want)}"
    for name, figure in want.items():
        stored = value[name]
        if name == "currency":
            if stored != figure:
                return f"stored {value!r}, expected currency {figure}"
        elif Decimal(str(stored)) != figure:
            return f"stored {value!r}, expected {name} {figure}"
    return None


@dataclass(frozen=True)
class Phrase:
    """A shopper's words for an answer and the answer they mean."""

    text: str
    expected: Expected


@dataclass(frozen=True)
class Interruption:
    """Something the shopper does instead of answering question ``at``.

    ``messages`` are sent in order (for ``opt_out_return``: the opt-out, then the
    return); ``change`` carries the new answer of an earlier question.
    """

    kind: str
    at: str
    messages: tuple[str, ...]
    change: Phrase | None = None


@dataclass
class Conversation:
    """One generated conversation: the plan and the lead it must leave behind."""

    index: int
    persona: str
    opening: str
    answers: dict[str, Phrase]
    # The plain phrasing sent when the bot asks a question again after an answer.
    fallbacks: dict[str, str]
    interruptions: list[Interruption] = field(default_factory=list)
    consent: bool = True
    human_requested: bool = False
    # The language a messy shopper answers in ("en", "fr", …); None for the other personas.
    language: str | None = None

    def expectations(self) -> dict[str, Expected]:
        """The final expected answer per key (a change replaces the first answer)."""
        expected = {key: phrase.expected for key, phrase in self.answers.items()}
        for interruption in self.interruptions:
            if interruption.kind == "skip":
                expected[interruption.at] = Expected(interruption.at, state="unknown")
            if interruption.change is not None:
                expected[interruption.change.expected.key] = interruption.change.expected
        if not self.consent:
            expected[NAME] = Expected(NAME, state="absent")
            expected[DETAILS] = Expected(DETAILS, state="absent")
        return expected

    def words(self) -> dict[str, str]:
        """The shopper's own words for the final answer per key (a skip or a change)."""
        said = {key: phrase.text for key, phrase in self.answers.items()}
        for interruption in self.interruptions:
            if interruption.kind == "skip":
                said[interruption.at] = interruption.messages[0]
            if interruption.change is not None:
                said[interruption.change.expected.key] = interruption.change.text
        return said


# --- phrasings -------------------------------------------------------------------

PERSONAS = (
    "decided",
    "browser",
    "bargain_hunter",
    "gift_buyer",
    "foreign",
    "texter",
    "privacy",
)

OPENINGS: dict[str, Sequence[str]] = {
    "decided": (
        "hi",
        "Hello!",
        "Hi! I'm interested in buying something from your shop.",
        "Hi, I'd like to order something",
    ),
    "browser": ("hello", "hey there", "Hi, I'm interested in your products"),
    "bargain_hunter": ("hi", "hello", "Hey!"),
    "gift_buyer": ("Hi, I'm looking for a present", "hello", "good morning"),
    "foreign": ("Bonjour", "Hallo", "Hola", "Ciao", "Olá"),
    "texter": ("hii", "hey", "heyy"),
    "privacy": ("hi", "Hello", "good evening"),
}

_ASAP = TimelineRule("today", days=0)
TIMELINES: dict[str, Sequence[tuple[str, TimelineRule]]] = {
    "decided": (
        ("as soon as possible", _ASAP),
        ("ASAP please", _ASAP),
        ("tomorrow", TimelineRule("tomorrow", days=1)),
        ("in 2 weeks", TimelineRule("14 days", days=14)),
        ("within 10 days", TimelineRule("10 days", days=10)),
        ("next week", TimelineRule("next week", next_week=True)),
    ),
    "browser": (
        ("Just browsing", TimelineRule("browsing", browsing=True)),
        ("no rush, just looking for now", TimelineRule("browsing", browsing=True)),
        ("in a few months", TimelineRule("3 months", months=3)),
        ("in 3 months", TimelineRule("3 months", months=3)),
    ),
    "bargain_hunter": (
        ("Within a month", TimelineRule("1 month", months=1)),
        ("in a month or so", TimelineRule("1 month", months=1)),
        ("next week", TimelineRule("next week", next_week=True)),
        ("in 3 weeks", TimelineRule("21 days", days=21)),
    ),
    "gift_buyer": (
        ("in 2 weeks, it's for a birthday", TimelineRule("14 days", days=14)),
        ("it's a gift, I need it within 10 days", TimelineRule("10 days", days=10)),
        ("in 3 weeks", TimelineRule("21 days", days=21)),
        ("in a fortnight", TimelineRule("14 days", days=14)),
    ),
    "foreign": (
        ("in 2 weeks", TimelineRule("14 days", days=14)),
        ("As soon as possible", _ASAP),
        ("in one month", TimelineRule("1 month", months=1)),
        ("next week", TimelineRule("next week", next_week=True)),
    ),
    "texter": (
        ("asap", _ASAP),
        ("in 2 wks", TimelineRule("14 days", days=14)),
        ("tmrw", TimelineRule("tomorrow", days=1)),
        ("nxt week", TimelineRule("next week", next_week=True)),
        ("tomorow", TimelineRule("tomorrow", days=1)),
    ),
    "privacy": (
        ("in a couple of weeks", TimelineRule("14 days", days=14)),
        ("Within a month", TimelineRule("1 month", months=1)),
        ("in 10 days", TimelineRule("10 days", days=10)),
    ),
}


# The budget question's middle button, as tapped (an en dash between the amounts).
MIDDLE_BUTTON = "€50\u2013€150"


def _amount(amount: str, currency: str = "EUR", **bounds: str) -> dict[str, Any]:
    value: dict[str, Any] = {"amount": Decimal(amount), "currency": currency}
    value.update({name: Decimal(figure) for name, figure in bounds.items()})
    return value


BUDGETS: dict[str, Sequence[tuple[str, dict[str, Any]]]] = {
    "decided": (
        ("around 150 euros", _amount("150")),
        ("€200", _amount("200")),
        ("up to 300 euros", _amount("300", max="300")),
        ("between 100 and 200 euros", _amount("150", min="100", max="200")),
        ("Over €150", _amount("150", min="150")),
    ),
    "browser": (
        (MIDDLE_BUTTON, _amount("100", min="50", max="150")),
        ("about 100 euros", _amount("100")),
        ("maybe 80 euros", _amount("80")),
    ),
    "bargain_hunter": (
        ("Under €50", _amount("50", max="50")),
        ("no more than 40 euros", _amount("40", max="40")),
        ("30 euros tops", _amount("30", max="30")),
        ("as little as possible, max 60€", _amount("60", max="60")),
    ),
    "gift_buyer": (
        ("about 80 euros", _amount("80")),
        ("around 60€", _amount("60")),
        ("£70", _amount("70", "GBP")),
        ("$100", _amount("100", "USD")),
    ),
    "foreign": (
        ("100 €", _amount("100")),
        ("environ 100 euros", _amount("100")),
        ("ungefähr 150 Euro", _amount("150")),
        ("unos 80 euros", _amount("80")),
    ),
    "texter": (
        ("bout 100 euro", _amount("100")),
        ("like 50 bucks", _amount("50", "USD")),
        ("max 80€", _amount("80", max="80")),
    ),
    "privacy": (
        ("around 120 euros", _amount("120")),
        (MIDDLE_BUTTON, _amount("100", min="50", max="150")),
    ),
}

# (text, country, accepted region spellings)
LOCATIONS: dict[str, Sequence[tuple[str, str, tuple[str | None, ...]]]] = {
    "common": (
        ("Lyon", "FR", ("Lyon",)),
        ("Berlin", "DE", ("Berlin",)),
        ("Paris, France", "FR", ("Paris",)),
        ("Germany", "DE", (None,)),
        ("Madrid", "ES", ("Madrid",)),
        ("I live in Amsterdam", "NL", ("Amsterdam",)),
        ("to Vienna please", "AT", ("Vienna", "Wien")),
        ("Milan", "IT", ("Milan", "Milano")),
        ("Lisbon", "PT", ("Lisbon", "Lisboa")),
        ("Brussels", "BE", ("Brussels", "Bruxelles")),
        ("Spain", "ES", (None,)),
        ("Switzerland", "CH", (None,)),
        ("London", "GB", ("London",)),
        ("Toronto, Canada", "CA", ("Toronto",)),
    ),
    "foreign": (
        ("München", "DE", ("München", "Munich")),
        ("Wien", "AT", ("Wien", "Vienna")),
        ("Milano", "IT", ("Milano", "Milan")),
        ("Lisboa", "PT", ("Lisboa", "Lisbon")),
        ("Sevilla", "ES", ("Sevilla", "Seville")),
        ("Köln", "DE", ("Köln", "Cologne")),
    ),
    "texter": (
        ("berlin", "DE", ("Berlin",)),
        ("lyon france", "FR", ("Lyon",)),
        ("munich", "DE", ("Munich", "München")),
    ),
}

CONSENT_YES: dict[str, Sequence[str]] = {
    "default": (
        "yes",
        "Yes",
        "sure",
        "yes, that's fine",
        "ok, go ahead",
        "yes please",
        "go on then",
    ),
    "foreign": ("oui", "ja", "sí", "sì", "sim", "oui, bien sûr", "ja, gerne", "claro"),
    "texter": ("ya", "yep", "sure thing", "yeah ok"),
}
CONSENT_NO: dict[str, Sequence[str]] = {
    "default": ("No, thanks", "no", "I'd rather not", "no thank you"),
    "foreign": ("non merci", "nein danke", "no gracias", "no grazie", "não, obrigado"),
    "texter": ("nah", "nope"),
}

# (text, first name, last name)
NAMES: dict[str, Sequence[tuple[str, str, str | None]]] = {
    "default": (
        ("Jane Doe", "Jane", "Doe"),
        ("I'm Marco Rossi", "Marco", "Rossi"),
        ("My name is Sophie Martin", "Sophie", "Martin"),
        ("Lukas Becker", "Lukas", "Becker"),
        ("Claire", "Claire", None),
        ("it's Ana Garcia", "Ana", "Garcia"),
    ),
    "texter": (("tom smith", "Tom", "Smith"), ("anna schmidt", "Anna", "Schmidt")),
}
PHONES = (
    ("+33 6 12 34 56 78", "+33612345678"),
    ("+49 151 23456789", "+4915123456789"),
    ("+34 612 345 678", "+34612345678"),
    ("+351 912 345 678", "+351912345678"),
    ("+43 664 1234567", "+436641234567"),
)

WHY = ("why do you need that?", "Why do you ask?", "what's that for?", "why?")
SKIPS = ("skip", "I don't know", "no idea", "pass")
HUMAN = (
    "can I talk to a real person?",
    "I'd like to speak to someone from your team",
    "human please",
)
SHOP_GENERAL = (
    "how long does delivery take?",
    "what's your return policy?",
    "do you have any discount codes?",
    "how much is shipping?",
)
SHOP_ITEM = ("is it in stock?", "how much does it cost?", "how long will delivery take?")
# Questions naming the item already chosen ({item}: the product's name, lower case).
SHOP_NAMED = ("is the {item} in stock?", "how much is the {item}?")
OPT_OUT = ("stop", "stop asking me questions", "I don't want to answer any more questions")
COME_BACK = (
    "sorry, I changed my mind, let's continue",
    "actually ok, let's carry on",
    "wait, I'd like to continue after all",
)
RETURN = ("sorry, I'm back", "back now, where were we?", "hi again, sorry for the wait")


# --- the messy probe: everyday answers in six languages --------------------------

MESSY = "messy"
LANGUAGES = ("en", "fr", "de", "es", "it", "pt")
LANGUAGE_NAMES = {
    "en": "English (texting)",
    "fr": "French",
    "de": "German",
    "es": "Spanish",
    "it": "Italian",
    "pt": "Portuguese",
}

MESSY_OPENINGS: dict[str, Sequence[str]] = {
    "en": ("hii", "heyyy 👋", "yo", "hi there!!"),
    "fr": ("Bonjour", "Salut !", "bonsoir", "coucou 🙂"),
    "de": ("Hallo!", "Guten Tag", "moin", "Servus"),
    "es": ("Hola", "buenas", "Hola!! 😊", "buenos días"),
    "it": ("Ciao", "Buongiorno", "salve", "ciao 👋"),
    "pt": ("Olá", "Oi!", "bom dia", "olá 🙂"),
}
# Openings that already say what the shopper is after (by the chosen product's id).
MESSY_OPENINGS_FOR: dict[str, dict[str, str]] = {
    "en": {"hoodie-classic": "hey looking 4 a hoodie", "tent-dome": "hi need a tent"},
    "fr": {
        "hoodie-classic": "Bonjour, je cherche un sweat",
        "tent-dome": "Salut, je voudrais une tente",
    },
    "de": {
        "hoodie-classic": "Hallo, ich suche einen Hoodie",
        "beanie-merino": "Hallo, ich hätte gern eine Mütze",
    },
    "es": {
        "jacket-rain": "Hola, busco una chaqueta",
        "blanket-wool": "Hola, quiero una manta",
    },
    "it": {"hoodie-classic": "Ciao, cerco una felpa", "backpack-trail": "ciao cerco uno zaino"},
    "pt": {"hoodie-classic": "Olá, procuro um moletom", "mug-enamel": "Oi, queria uma caneca"},
}

_WEEKS_2 = TimelineRule("14 days", days=14)
_TOMORROW = TimelineRule("tomorrow", days=1)
_NEXT_WEEK = TimelineRule("next week", next_week=True)
_MONTH = TimelineRule("1 month", months=1)
_DAY_AFTER = TimelineRule("2 days", days=2)
_MAYBE_NEXT_WEEK = TimelineRule("next week, hedged", next_week=True, uncertain=True)
_MAYBE_MONTH = TimelineRule("1 month, hedged", months=1, uncertain=True)
_MAYBE_WEEKS_2 = TimelineRule("14 days, hedged", days=14, uncertain=True)
MESSY_TIMELINES: dict[str, Sequence[tuple[str, TimelineRule]]] = {
    "en": (
        ("asap!!", _ASAP),
        ("2moro", _TOMORROW),
        ("a fortnight", _WEEKS_2),
        ("in like 2 wks", _WEEKS_2),
        ("nxt wk prob", _MAYBE_NEXT_WEEK),
        ("tmrw prob", TimelineRule("tomorrow, hedged", days=1, uncertain=True)),
        ("maybe in a month", _MAYBE_MONTH),
    ),
    "fr": (
        ("dans deux semaines", _WEEKS_2),
        ("demain", _TOMORROW),
        ("la semaine prochaine", _NEXT_WEEK),
        ("dans un mois", _MONTH),
        ("le plus vite possible", _ASAP),
        ("après-demain", _DAY_AFTER),
        ("la semaine prochaine sans doute", _MAYBE_NEXT_WEEK),
        ("peut-être dans un mois", _MAYBE_MONTH),
    ),
    "de": (
        ("in zwei Wochen", _WEEKS_2),
        ("morgen", _TOMORROW),
        ("nächste Woche", _NEXT_WEEK),
        ("in einem Monat", _MONTH),
        ("so schnell wie möglich", _ASAP),
        ("übermorgen", _DAY_AFTER),
        ("vielleicht nächste Woche", _MAYBE_NEXT_WEEK),
        ("wahrscheinlich in zwei Wochen", _MAYBE_WEEKS_2),
    ),
    "es": (
        ("la semana que viene", _NEXT_WEEK),
        ("mañana", _TOMORROW),
        ("dentro de dos semanas", _WEEKS_2),
        ("en un mes", _MONTH),
        ("lo antes posible", _ASAP),
        ("pasado mañana", _DAY_AFTER),
        ("quizás la semana que viene", _MAYBE_NEXT_WEEK),
        ("probablemente en un mes", _MAYBE_MONTH),
    ),
    "it": (
        ("tra due settimane", _WEEKS_2),
        ("domani", _TOMORROW),
        ("la settimana prossima", _NEXT_WEEK),
        ("fra un mese", _MONTH),
        ("il prima possibile", _ASAP),
        ("dopodomani", _DAY_AFTER),
        ("forse la settimana prossima", _MAYBE_NEXT_WEEK),
        ("probabilmente tra due settimane", _MAYBE_WEEKS_2),
    ),
    "pt": (
        ("daqui a um mês", _MONTH),
        ("amanhã", _TOMORROW),
        ("na próxima semana", _NEXT_WEEK),
        ("daqui a duas semanas", _WEEKS_2),
        ("o mais rápido possível", _ASAP),
        ("depois de amanhã", _DAY_AFTER),
        ("talvez na próxima semana", _MAYBE_NEXT_WEEK),
        ("provavelmente daqui a um mês", _MAYBE_MONTH),
    ),
}

MESSY_BUDGETS: dict[str, Sequence[tuple[str, dict[str, Any]]]] = {
    "en": (
        ("two to four hundred bucks", _amount("300", "USD", min="200", max="400")),
        ("3000 rubles", _amount("3000", "RUB")),
        ("like 200 quid", _amount("200", "GBP")),
        ("£40 max", _amount("40", "GBP", max="40")),
        ("100-150 eur", _amount("125", min="100", max="150")),
        ("under 80 euros tbh", _amount("80", max="80")),
    ),
    "fr": (
        ("pas plus de 150 €", _amount("150", max="150")),
        ("entre 100 et 150 €", _amount("125", min="100", max="150")),
        ("environ 200 euros", _amount("200")),
        ("autour de 80€", _amount("80")),
        ("60 euros maximum", _amount("60", max="60")),
        ("au moins 100 €", _amount("100", min="100")),
    ),
    "de": (
        ("höchstens 200 Euro", _amount("200", max="200")),
        ("zwischen 50 und 100 €", _amount("75", min="50", max="100")),
        ("so um die 120 Euro", _amount("120")),
        ("maximal 80 €", _amount("80", max="80")),
        ("mindestens 150 Euro", _amount("150", min="150")),
        ("ca. 60 €", _amount("60")),
    ),
    "es": (
        ("unos 300 euros", _amount("300")),
        ("entre 80 y 120 euros", _amount("100", min="80", max="120")),
        ("como mucho 90 €", _amount("90", max="90")),
        ("máximo 50 euros", _amount("50", max="50")),
        ("más de 200 euros", _amount("200", min="200")),
        ("alrededor de 70€", _amount("70")),
    ),
    "it": (
        ("fino a 80 euro", _amount("80", max="80")),
        ("tra 100 e 200 euro", _amount("150", min="100", max="200")),
        ("circa 150 euro", _amount("150")),
        ("massimo 60 €", _amount("60", max="60")),
        ("sui 100 euro", _amount("100")),
        ("almeno 120 euro", _amount("120", min="120")),
    ),
    "pt": (
        ("no máximo 120 euros", _amount("120", max="120")),
        ("R$ 300", _amount("300", "BRL")),
        ("entre 50 e 100 euros", _amount("75", min="50", max="100")),
        ("uns 200 euros", _amount("200")),
        ("até 90 €", _amount("90", max="90")),
        ("cerca de 150 euros", _amount("150")),
    ),
}

# (text, country, accepted region spellings, accepted area spellings)
MessyPlace = tuple[str, str, tuple[str | None, ...], tuple[str, ...]]
MESSY_PLACES: dict[str, Sequence[MessyPlace]] = {
    "en": (
        ("SW1A 1AA", "GB", ("London", "Westminster"), ()),
        ("Belfast", "GB", ("Belfast",), ("Northern Ireland",)),
        ("manchester uk", "GB", ("Manchester",), ()),
        ("dublin ireland", "IE", ("Dublin",), ()),
    ),
    "fr": (
        ("75011", "FR", ("Paris",), ()),
        ("à Lyon", "FR", ("Lyon",), ()),
        ("Porto-Vecchio, Corse", "FR", ("Porto-Vecchio", "Porto Vecchio"), ("Corsica", "Corse")),
        ("livraison à Bordeaux", "FR", ("Bordeaux",), ()),
        ("chez moi à Marseille", "FR", ("Marseille",), ()),
    ),
    "de": (
        ("10115 Berlin", "DE", ("Berlin",), ()),
        ("nach München", "DE", ("München", "Munich"), ()),
        ("Hamburg bitte", "DE", ("Hamburg",), ()),
        ("nach Wien", "AT", ("Wien", "Vienna"), ()),
        ("in Zürich", "CH", ("Zürich", "Zurich"), ()),
    ),
    "es": (
        ("en Sevilla", "ES", ("Sevilla", "Seville"), ()),
        (
            "Las Palmas de Gran Canaria",
            "ES",
            ("Las Palmas de Gran Canaria", "Las Palmas"),
            ("Canary Islands", "Canarias", "Islas Canarias"),
        ),
        ("a Barcelona", "ES", ("Barcelona",), ()),
        ("Valencia, España", "ES", ("Valencia",), ()),
        ("28013 Madrid", "ES", ("Madrid",), ()),
    ),
    "it": (
        ("a Milano", "IT", ("Milano", "Milan"), ()),
        ("Roma", "IT", ("Roma", "Rome"), ()),
        ("consegna a Torino", "IT", ("Torino", "Turin"), ()),
        ("a Napoli", "IT", ("Napoli", "Naples"), ()),
        ("Firenze", "IT", ("Firenze", "Florence"), ()),
    ),
    "pt": (
        ("para o Porto", "PT", ("Porto", "Oporto"), ()),
        ("Lisboa", "PT", ("Lisboa", "Lisbon"), ()),
        ("em Coimbra", "PT", ("Coimbra",), ()),
        ("Braga, Portugal", "PT", ("Braga",), ()),
        ("Faro", "PT", ("Faro",), ()),
    ),
}

# (text, variant id): each names exactly one in-stock variant of the demo catalogue.
MESSY_VARIANTS: dict[str, Sequence[tuple[str, str]]] = {
    "en": (
        ("black hoodie M pls", "hoodie-classic-black-m"),
        ("the grey beanie", "beanie-merino-grey"),
        ("blue rain jacket sz m", "jacket-rain-blue-m"),
        ("30L backpack", "backpack-trail-30l-black"),
        ("2 person tent", "tent-dome-2p"),
        ("lavender candle!!", "candle-forest-lavender"),
        ("white tshirt xs", "tee-organic-white-xs"),
    ),
    "fr": (
        ("le sweat noir en M", "hoodie-classic-black-m"),
        ("la tente 2 places", "tent-dome-2p"),
        ("la couverture grise", "blanket-wool-grey"),
        ("le bonnet rouge", "beanie-merino-red"),
        ("la bougie lavande", "candle-forest-lavender"),
        ("le t-shirt blanc taille M", "tee-organic-white-m"),
        ("les chaussures de rando marron en 42", "boots-hiking-brown-42"),
    ),
    "de": (
        ("die graue Mütze", "beanie-merino-grey"),
        ("den schwarzen Hoodie in L", "hoodie-classic-black-l"),
        ("Regenjacke rot Größe S", "jacket-rain-red-s"),
        ("das Zelt für 3 Personen", "tent-dome-3p"),
        ("Kerze, Lavendel", "candle-forest-lavender"),
        ("Wanderschuhe braun Gr. 40", "boots-hiking-brown-40"),
        ("die blaue Tasse", "mug-enamel-blue"),
        ("graue Socken in M", "socks-merino-grey-m"),
    ),
    "es": (
        ("chaqueta impermeable azul M", "jacket-rain-blue-m"),
        ("la manta de lana gris", "blanket-wool-grey"),
        ("la mochila negra de 30 litros", "backpack-trail-30l-black"),
        ("la taza blanca", "mug-enamel-white"),
        ("calcetines verdes talla L", "socks-merino-green-l"),
        ("la sudadera azul talla S", "hoodie-classic-blue-s"),
        ("la vela de pino", "candle-forest-pine"),
    ),
    "it": (
        ("la felpa nera taglia L", "hoodie-classic-black-l"),
        ("gli scarponi neri 43", "boots-hiking-black-43"),
        ("il plaid blu", "blanket-wool-blue"),
        ("la tenda da 2 persone", "tent-dome-2p"),
        ("la maglietta rossa XL", "tee-organic-red-xl"),
        ("lo zaino da 30 litri", "backpack-trail-30l-black"),
        ("il berretto rosso", "beanie-merino-red"),
    ),
    "pt": (
        ("o moletom preto M", "hoodie-classic-black-m"),
        ("a caneca azul", "mug-enamel-blue"),
        ("a vela de pinho", "candle-forest-pine"),
        ("o casaco impermeável vermelho M", "jacket-rain-red-m"),
        ("a mochila preta de 20 litros", "backpack-trail-20l-black"),
        ("o gorro cinzento", "beanie-merino-grey"),
        ("a t-shirt preta S", "tee-organic-black-s"),
    ),
}

MESSY_CONSENT: dict[str, Sequence[str]] = {
    "en": ("ya sure", "yep go ahead", "ok np", "sure thing 👍"),
    "fr": ("oui", "oui bien sûr", "ok pas de souci", "ouais vas-y"),
    "de": ("ja gerne", "ja, klar", "jo, passt", "ja"),
    "es": ("sí, claro", "vale", "sí", "claro que sí"),
    "it": ("certo", "sì, va bene", "ok va bene", "sì"),
    "pt": ("sim", "sim, pode ser", "claro", "pode sim"),
}

# (text, first name, last name)
MESSY_NAMES: dict[str, Sequence[tuple[str, str, str | None]]] = {
    "en": (
        ("Jonas 😊", "Jonas", None),
        ("<i>Eve</i> Hacker", "Eve", "Hacker"),
        ("its sam jones", "Sam", "Jones"),
        ("**Mia** Clarke", "Mia", "Clarke"),
        ("name's Tom 👋", "Tom", None),
    ),
    "fr": (
        ("je m'appelle Camille Dubois", "Camille", "Dubois"),
        ("Léa 🙂", "Léa", None),
        ("moi c'est Hugo Martin", "Hugo", "Martin"),
        ("<b>Chloé</b> Bernard", "Chloé", "Bernard"),
    ),
    "de": (
        ("ich bin Jonas Weber", "Jonas", "Weber"),
        ("Jürgen Müller", "Jürgen", "Müller"),
        ("Lena 😊", "Lena", None),
        ("mein Name ist Felix Schäfer", "Felix", "Schäfer"),
    ),
    "es": (
        ("me llamo Lucía Fernández", "Lucía", "Fernández"),
        ("soy Pablo 👋", "Pablo", None),
        ("Carmen Ruiz", "Carmen", "Ruiz"),
        ("<i>Diego</i> Torres", "Diego", "Torres"),
    ),
    "it": (
        ("mi chiamo Giulia Bianchi", "Giulia", "Bianchi"),
        ("sono Luca 😊", "Luca", None),
        ("Francesca Romano", "Francesca", "Romano"),
        ("*Matteo* Ricci", "Matteo", "Ricci"),
    ),
    "pt": (
        ("chamo-me João Silva", "João", "Silva"),
        ("meu nome é Ana Costa", "Ana", "Costa"),
        ("Beatriz 🙂", "Beatriz", None),
        ("sou o Tiago Santos", "Tiago", "Santos"),
    ),
}

MESSY_EMAILS: dict[str, Sequence[str]] = {
    "en": ("{email}", "its {email}", "email me at {email} thx"),
    "fr": ("mon mail : {email}", "{email}", "c'est {email}"),
    "de": ("E-Mail: {email}", "{email}", "schreib mir an {email}"),
    "es": ("mi correo es {email}", "{email}", "correo: {email}"),
    "it": ("la mia email è {email}", "{email}", "scrivimi a {email}"),
    "pt": ("o meu email é {email}", "{email}", "email: {email}"),
}
# Mobile numbers as written where the parcel goes, by country ({nn}: two digits that vary
# per conversation), with their E.164 form. A number without its country code is read
# in the delivery country, so those are listed only under their own country.
MESSY_PHONES: dict[str, Sequence[tuple[str, str]]] = {
    "FR": (
        ("06 12 34 56 {nn}", "+336123456{nn}"),
        ("06.12.34.56.{nn}", "+336123456{nn}"),
        ("+33 6 12 34 56 {nn}", "+336123456{nn}"),
    ),
    "DE": (
        ("+49 151 234567{nn}", "+49151234567{nn}"),
        ("+49 (0)151 2345 67{nn}", "+49151234567{nn}"),
        ("0151 234567{nn}", "+49151234567{nn}"),
    ),
    "ES": (("612 34 56 {nn}", "+346123456{nn}"), ("+34 612 345 6{nn}", "+346123456{nn}")),
    "IT": (("347 123 45{nn}", "+3934712345{nn}"), ("+39 347 1234 5{nn}", "+3934712345{nn}")),
    "PT": (("912 34 56 {nn}", "+3519123456{nn}"), ("+351 912 345 6{nn}", "+3519123456{nn}")),
    "GB": (("07911 1234{nn}", "+4479111234{nn}"), ("+44 7911 1234{nn}", "+4479111234{nn}")),
    "AT": (("+43 664 12345{nn}", "+4366412345{nn}"),),
    "CH": (("+41 79 123 45 {nn}", "+417912345{nn}"),),
    "IE": (("+353 85 123 45{nn}", "+3538512345{nn}"),),
}


# --- generation --------------------------------------------------------------------

_Row = TypeVar("_Row")


def _variant_phrases(product: Product, variant: Variant, style: str) -> list[str]:
    """Ways to name exactly this variant: the product word plus every option."""
    word = product.keywords[0] if product.keywords else product.name.lower()
    options = dict(variant.options)
    colour = options.get("colour")
    size = options.get("size")
    other = [value for name, value in options.items() if name not in ("colour", "size")]
    if size is not None:
        size_words = f"size {size}" if size.isdigit() else f"in {size}"
        if style == "texter":
            return [f"{colour} {word} sz {size.lower()} pls", f"{word} {colour} {size.lower()}"]
        return [
            f"the {colour} {word} {size_words}",
            f"{product.name}, {colour}, size {size}",
            f"I'd like the {colour} {product.name.lower()} in size {size}",
        ]
    if product.id == "tent-dome":
        people = options["capacity"].removesuffix("p")
        return [f"the {people} person {word}", f"{product.name} for {people} people"]
    described = " ".join([*other, colour] if colour else other)
    if style == "texter":
        return [f"{described} {word} pls"]
    return [f"the {described} {word}", f"{product.name} in {described}"]


@dataclass(frozen=True)
class Generator:
    """Builds conversation ``index`` of a seeded run; the same seed gives the same run.

    ``personas`` take turns in that order; the default is every persona but ``messy``.
    """

    catalog: Catalog
    seed: int
    personas: tuple[str, ...] = PERSONAS

    def conversation(self, index: int) -> Conversation:
        """The ``index``-th conversation (independent of how many are generated)."""
        rng = random.Random(f"{self.seed}:{index}")
        persona = self.personas[index % len(self.personas)]
        if persona == MESSY:
            return self._messy(rng, index)
        style = persona if persona in ("foreign", "texter") else "default"
        product, variant = self._variant(rng)
        answers: dict[str, Phrase] = {}

        text, rule = rng.choice(TIMELINES[persona])
        answers["timeline"] = Phrase(text, Expected("timeline", timeline=rule))
        variant_texts = _variant_phrases(product, variant, style)
        answers["variant"] = Phrase(
            rng.choice(variant_texts), Expected("variant", value=variant.id)
        )
        place = rng.choice([*LOCATIONS["common"], *LOCATIONS.get(persona, ())])
        answers["location"] = self._location(place, product)
        budget_text, budget = rng.choice(BUDGETS[persona])
        answers["budget"] = Phrase(budget_text, Expected("budget", value=budget))

        refuses = (persona == "privacy" and rng.random() < 0.5) or rng.random() < 0.1
        consent_words = CONSENT_NO if refuses else CONSENT_YES
        consent_text = rng.choice(consent_words.get(style, consent_words["default"]))
        answers[CONSENT] = Phrase(consent_text, Expected(CONSENT, value=not refuses))
        name_text, first, last = rng.choice(NAMES.get(style, NAMES["default"]))
        answers[NAME] = Phrase(
            name_text, Expected(NAME, value={"first_name": first, "last_name": last})
        )
        if persona == "privacy" or rng.random() < 0.2:
            phone_text, e164 = rng.choice(PHONES)
            answers[DETAILS] = Phrase(phone_text, Expected(DETAILS, value={"phone": e164}))
        else:
            email = f"{first}.{last or 'shopper'}.{self.seed}.{index}@example.com".lower()
            answers[DETAILS] = Phrase(email, Expected(DETAILS, value={"email": email}))

        # Asked again, a shopper repeats the answer in its plainest words.
        fallbacks = {key: phrase.text for key, phrase in answers.items()}
        fallbacks["variant"] = variant_texts[0]
        fallbacks[CONSENT] = "no" if refuses else "yes"
        fallbacks[NAME] = f"{first} {last}" if last else first
        conversation = Conversation(
            index=index,
            persona=persona,
            opening=rng.choice(OPENINGS[persona]),
            answers=answers,
            fallbacks=fallbacks,
            consent=not refuses,
        )
        self._interrupt(rng, conversation, product)
        self._settle_locations(conversation, product)
        return conversation

    def _messy(self, rng: random.Random, index: int) -> Conversation:
        """Every answer once, in one language's everyday words; no interruptions."""
        ordinal = index // len(self.personas)
        language = LANGUAGES[ordinal % len(LANGUAGES)]
        turn = ordinal // len(LANGUAGES)

        def deal(table: str, rows: Sequence[_Row]) -> _Row:
            # A seeded shuffle per table and language: every phrasing is used once before
            # any comes back, so a short run still tries them all.
            deck = random.Random(f"{self.seed}:{table}:{language}").sample(rows, len(rows))
            return deck[turn % len(deck)]

        variant_text, variant_id = deal("variant", MESSY_VARIANTS[language])
        found = self.catalog.variant(variant_id)
        if found is None:
            raise ValueError(f"the messy phrasings name {variant_id}, not in the catalogue")
        product, variant = found
        answers: dict[str, Phrase] = {}
        text, rule = deal("timeline", MESSY_TIMELINES[language])
        answers["timeline"] = Phrase(text, Expected("timeline", timeline=rule))
        answers["variant"] = Phrase(variant_text, Expected("variant", value=variant.id))
        place_text, country, regions, areas = deal("location", MESSY_PLACES[language])
        answers["location"] = self._location((place_text, country, regions), product, areas)
        budget_text, budget = deal("budget", MESSY_BUDGETS[language])
        answers["budget"] = Phrase(budget_text, Expected("budget", value=budget))
        answers[CONSENT] = Phrase(
            deal("consent", MESSY_CONSENT[language]), Expected(CONSENT, value=True)
        )
        name_text, first, last = deal("name", MESSY_NAMES[language])
        answers[NAME] = Phrase(
            name_text, Expected(NAME, value={"first_name": first, "last_name": last})
        )
        if rng.random() < 0.5:
            phone_text, e164 = rng.choice(MESSY_PHONES[country])
            digits = f"{index % 100:02d}"
            answers[DETAILS] = Phrase(
                phone_text.format(nn=digits),
                Expected(DETAILS, value={"phone": e164.format(nn=digits)}),
            )
        else:
            email = f"{_ascii(first)}.{_ascii(last or 'shopper')}.{self.seed}.{index}@example.com"
            # A phone keyboard capitalises the first letter; the address is stored lower-case.
            written = email.capitalize() if rng.random() < 0.25 else email
            answers[DETAILS] = Phrase(
                rng.choice(MESSY_EMAILS[language]).format(email=written),
                Expected(DETAILS, value={"email": email}),
            )

        known = pycountry.countries.get(alpha_2=country)
        country_name = known.name if known is not None else country
        fallbacks = {
            "timeline": rule.plain(),
            "variant": _variant_phrases(product, variant, "default")[0],
            "location": f"{regions[0]}, {country_name}",
            "budget": _plain_budget(budget),
            CONSENT: "yes",
            NAME: f"{first} {last}" if last else first,
            DETAILS: next(iter(answers[DETAILS].expected.value.values())),
        }
        about = MESSY_OPENINGS_FOR[language].get(product.id)
        openings = [*MESSY_OPENINGS[language], *([about] if about else [])]
        return Conversation(
            index=index,
            persona=MESSY,
            opening=rng.choice(openings),
            answers=answers,
            fallbacks=fallbacks,
            language=language,
        )

    def _variant(self, rng: random.Random) -> tuple[Product, Variant]:
        # Out-of-stock variants lead to suggestions, so the answer would not be theirs alone.
        choices = [(p, v) for p, v in self.catalog.all_variants() if v.in_stock]
        return rng.choice(choices)

    def _location(
        self,
        place: tuple[str, str, tuple[str | None, ...]],
        product: Product | None,
        areas: tuple[str, ...] = (),
    ) -> Phrase:
        text, country, regions = place
        # A region or an area the product does not go to (Corsica for the tent) rules it out.
        serviceable = any(
            candidate.delivers_to(country, regions[0])
            and all(candidate.delivers_to(country, area) for area in areas)
            for candidate in ([product] if product is not None else self.catalog.products)
        )
        value = {"country": country, "region": regions[0], "serviceable": serviceable}
        return Phrase(text, Expected("location", value=value, regions=regions, areas=areas))

    def _interrupt(self, rng: random.Random, conversation: Conversation, product: Product) -> None:
        """Add up to two interruptions at different questions (most conversations get one)."""
        count = rng.choices((0, 1, 2), weights=(2, 5, 3))[0]
        if not conversation.consent:
            conversation.interruptions.append(
                Interruption("refuse_consent", CONSENT, (conversation.answers[CONSENT].text,))
            )
            count -= 1
        kinds = [kind for kind in INTERRUPTIONS if kind != "refuse_consent"]
        for _ in range(max(count, 0)):
            made = self._make(rng, rng.choice(kinds), conversation, product)
            if made is not None:
                conversation.interruptions.append(made)
                conversation.human_requested |= made.kind == "human"

    def _settle_locations(self, conversation: Conversation, product: Product) -> None:
        """Expected ``serviceable``: for the chosen product, or any product after a skip."""
        skipped = any(i.kind == "skip" and i.at == "variant" for i in conversation.interruptions)
        chosen = None if skipped else product
        phrase = conversation.answers["location"]
        conversation.answers["location"] = self._location(
            _place(phrase), chosen, phrase.expected.areas
        )
        for index, interruption in enumerate(conversation.interruptions):
            change = interruption.change
            if change is not None and change.expected.key == "location":
                settled = self._location(_place(change), chosen, change.expected.areas)
                conversation.interruptions[index] = replace(interruption, change=settled)

    def _make(
        self, rng: random.Random, kind: str, conversation: Conversation, product: Product
    ) -> Interruption | None:
        used = {i.at for i in conversation.interruptions}
        before_consent = [*CORE_KEYS, CONSENT]
        asked = [*before_consent, NAME, DETAILS] if conversation.consent else before_consent

        def pick(keys: Sequence[str]) -> str | None:
            free = [key for key in keys if key not in used]
            return rng.choice(free) if free else None

        if kind == "change":
            return self._change(rng, conversation, product, pick)
        if kind == "skip":
            # A skipped answer is never corrected later, and a corrected one never skipped:
            # either would leave its expected value to the order of events.
            used |= {i.change.expected.key for i in conversation.interruptions if i.change}
        keys, pool = {
            "why": (asked, WHY),
            "skip": (SKIPPABLE, SKIPS),
            "shop_question": (before_consent, SHOP_GENERAL),
            "human": (CORE_KEYS, HUMAN),
            "opt_out_return": (CORE_KEYS, OPT_OUT),
            "silence": (asked, RETURN),
        }[kind]
        at = pick(keys)
        if at is None:
            return None
        if kind == "shop_question" and at not in ("timeline", "variant"):
            # Once an item is chosen, "it" or its name points at it.
            named = tuple(text.format(item=product.name.lower()) for text in SHOP_NAMED)
            pool = SHOP_ITEM + named
        messages: tuple[str, ...] = (rng.choice(pool),)
        if kind == "opt_out_return":
            messages += (rng.choice(COME_BACK),)
        return Interruption(kind, at, messages)

    def _change(
        self,
        rng: random.Random,
        conversation: Conversation,
        product: Product,
        pick: Callable[[Sequence[str]], str | None],
    ) -> Interruption | None:
        """Correct an earlier answer while a later question is pending."""
        skipped = {i.at for i in conversation.interruptions if i.kind == "skip"}
        changed = rng.choice([key for key in CORE_KEYS if key not in skipped])
        order = [*CORE_KEYS, CONSENT]
        at = pick(order[order.index(changed) + 1 :])
        if at is None:
            return None
        if changed == "timeline":
            text = "actually, I'd rather buy in 3 weeks"
            phrase = Phrase(text, Expected("timeline", timeline=TimelineRule("21 days", days=21)))
        elif changed == "budget":
            text = "actually my budget is 250 euros"
            phrase = Phrase(text, Expected("budget", value=_amount("250")))
        elif changed == "location":
            old = conversation.answers["location"].expected.value["country"]
            city, country = ("Madrid", "ES") if old != "ES" else ("Berlin", "DE")
            text = f"sorry, it should go to {city} instead"
            phrase = self._location((text, country, (city,)), product)
        else:
            current = conversation.answers["variant"].expected.value
            others = [v for v in product.variants if v.in_stock and v.id != current]
            if not others:
                return None
            variant = rng.choice(others)
            text = "actually, make it " + _variant_phrases(product, variant, "default")[0]
            phrase = Phrase(text, Expected("variant", value=variant.id))
        return Interruption("change", at, (phrase.text,), change=phrase)


def _place(phrase: Phrase) -> tuple[str, str, tuple[str | None, ...]]:
    return phrase.text, phrase.expected.value["country"], phrase.expected.regions


def _ascii(name: str) -> str:
    """``name`` in lower-case ASCII letters for an e-mail address ("Lucía" → "lucia")."""
    decomposed = unicodedata.normalize("NFKD", name.casefold())
    return "".join(char for char in decomposed if char.isascii() and char.isalnum())


_CURRENCY_WORDS = {"EUR": "euros", "USD": "dollars", "GBP": "pounds"}


def _plain_budget(budget: dict[str, Any]) -> str:
    """A budget in plain English words ("between 100 and 150 euros")."""
    unit = _CURRENCY_WORDS.get(budget["currency"], budget["currency"])
    low, high = budget.get("min"), budget.get("max")
    if low is not None and high is not None:
        return f"between {low} and {high} {unit}"
    if high is not None:
        return f"up to {high} {unit}"
    if low is not None:
        return f"over {low} {unit}"
    return f"around {budget['amount']} {unit}"
