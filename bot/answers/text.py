"""Text helpers shared by the answer parsers: input guard, accent folding, number words."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import unquote

MAX_ANSWER_LENGTH = 500

# A tag-like construct or a script opener: chat text is never legitimately HTML, and
# echoing such text back in a confirmation would be an injection risk.
_HTML = re.compile(
    r"<\s*/?\s*[a-z][a-z0-9-]*(?:\s[^>]*)?/?\s*>|<\s*script|<!--|<!doctype", re.IGNORECASE
)
_ALPHANUMERIC = re.compile(r"[^\W_]")


def word_set(words: str) -> frozenset[str]:
    """Split a whitespace-separated word list written as one string into a set."""
    return frozenset(words.split())


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

# Number words of the shop's six languages, folded (lower-case, no accents: see ``fold``).
# Spellings of several countries are all here: Belgian and Swiss "septante", Brazilian
# "dezesseis" and Portuguese "dezasseis".
_NUMBER_WORDS_BY_LANGUAGE: dict[str, dict[str, int]] = {
    "en": NUMBER_WORDS,
    "fr": {
        **dict.fromkeys(("un", "une"), 1),
        **dict(deux=2, trois=3, quatre=4, cinq=5, six=6, sept=7, huit=8, neuf=9, dix=10),
        **dict(onze=11, douze=12, treize=13, quatorze=14, quinze=15, seize=16),
        **dict(vingt=20, vingts=20, trente=30, quarante=40, cinquante=50, soixante=60),
        **dict(septante=70, huitante=80, octante=80, nonante=90),
    },
    "de": {
        **dict.fromkeys(("ein", "eins", "eine", "einen", "einem", "einer"), 1),
        **dict(zwei=2, zwo=2, drei=3, vier=4, funf=5, sechs=6, sieben=7, acht=8, neun=9),
        **dict(zehn=10, elf=11, zwolf=12, dreizehn=13, vierzehn=14, funfzehn=15),
        **dict(sechzehn=16, siebzehn=17, achtzehn=18, neunzehn=19, zwanzig=20),
        **dict(dreissig=30, vierzig=40, funfzig=50, sechzig=60, siebzig=70, achtzig=80),
        **dict(neunzig=90),
    },
    "es": {
        **dict.fromkeys(("un", "uno", "una"), 1),
        **dict(dos=2, tres=3, cuatro=4, cinco=5, seis=6, siete=7, ocho=8, nueve=9, diez=10),
        **dict(once=11, doce=12, trece=13, catorce=14, quince=15, dieciseis=16),
        **dict(diecisiete=17, dieciocho=18, diecinueve=19, veinte=20, treinta=30),
        **dict(cuarenta=40, cincuenta=50, sesenta=60, setenta=70, ochenta=80, noventa=90),
        **dict.fromkeys(("doscientos", "doscientas"), 200),
        **dict.fromkeys(("trescientos", "trescientas"), 300),
        **dict.fromkeys(("cuatrocientos", "cuatrocientas"), 400),
        **dict.fromkeys(("quinientos", "quinientas"), 500),
        **dict.fromkeys(("seiscientos", "seiscientas"), 600),
        **dict.fromkeys(("setecientos", "setecientas"), 700),
        **dict.fromkeys(("ochocientos", "ochocientas"), 800),
        **dict.fromkeys(("novecientos", "novecientas"), 900),
    },
    "it": {
        **dict.fromkeys(("un", "uno", "una"), 1),
        **dict(due=2, tre=3, quattro=4, cinque=5, sei=6, sette=7, otto=8, nove=9, dieci=10),
        **dict(undici=11, dodici=12, tredici=13, quattordici=14, quindici=15, sedici=16),
        **dict(diciassette=17, diciotto=18, diciannove=19, venti=20, trenta=30),
        **dict(quaranta=40, cinquanta=50, sessanta=60, settanta=70, ottanta=80, novanta=90),
    },
    "pt": {
        **dict.fromkeys(("um", "uma"), 1),
        **dict.fromkeys(("dois", "duas"), 2),
        **dict(tres=3, quatro=4, cinco=5, seis=6, sete=7, oito=8, nove=9, dez=10),
        **dict(onze=11, doze=12, treze=13, catorze=14, quatorze=14, quinze=15),
        **dict.fromkeys(("dezesseis", "dezasseis"), 16),
        **dict.fromkeys(("dezessete", "dezassete"), 17),
        **dict.fromkeys(("dezenove", "dezanove"), 19),
        **dict(dezoito=18, vinte=20, trinta=30, quarenta=40, cinquenta=50, sessenta=60),
        **dict(setenta=70, oitenta=80, noventa=90),
        **dict.fromkeys(("duzentos", "duzentas"), 200),
        **dict.fromkeys(("trezentos", "trezentas"), 300),
        **dict.fromkeys(("quatrocentos", "quatrocentas"), 400),
        **dict.fromkeys(("quinhentos", "quinhentas"), 500),
        **dict.fromkeys(("seiscentos", "seiscentas"), 600),
        **dict.fromkeys(("setecentos", "setecentas"), 700),
        **dict.fromkeys(("oitocentos", "oitocentas"), 800),
        **dict.fromkeys(("novecentos", "novecentas"), 900),
    },
}
# Words that mean "one" but are mostly articles ("un mois", "eine Woche", "um dia").
ONE_ARTICLES = word_set("un une uno una um uma ein eine einen einem einer")


def _tens_and_units(language: str) -> tuple[dict[str, int], dict[str, int]]:
    words = _NUMBER_WORDS_BY_LANGUAGE[language]
    units = {w: n for w, n in words.items() if 0 < n < 10 and w not in ("eins", "zwo")}
    tens = {w: n for w, n in words.items() if n in (20, 30) and w != "vingts"}
    return tens, units


def _compounds_to_31(language: str) -> dict[str, int]:
    """21 to 29 and 31, as each language writes them (several words space-separated)."""
    tens, units = _tens_and_units(language)
    found: dict[str, int] = {}
    for ten, t in tens.items():
        for unit, u in units.items():
            if t + u > 31:
                continue
            if language == "en":
                found[f"{ten} {unit}"] = t + u
            elif language == "fr":
                found[f"{ten} et {unit}" if u == 1 else f"{ten} {unit}"] = t + u
            elif language == "de" and unit not in ("einen", "einem", "einer", "eine"):
                found[f"{unit}und{ten}"] = t + u
            elif language == "es":
                found[f"veinti{unit}" if t == 20 else f"{ten} y {unit}"] = t + u
            elif language == "it" and unit != "una":
                # The ten loses its vowel before "uno" and "otto": "ventuno", "trentotto".
                found[ten[:-1] + unit if unit in ("un", "uno", "otto") else ten + unit] = t + u
            elif language == "pt":
                found[f"{ten} e {unit}"] = t + u
    return found


def _small_number_words() -> dict[str, int]:
    found: dict[str, int] = {}
    for language, words in _NUMBER_WORDS_BY_LANGUAGE.items():
        found |= {word: n for word, n in words.items() if 0 < n <= 31}
        found |= _compounds_to_31(language)
    return found


# Every spelling of 1 to 31 in English, French, German, Spanish, Italian and Portuguese,
# folded, the words of a compound separated by one space ("vingt et un", "treinta y
# uno"; glued ones stay glued: "einundzwanzig", "veintiuno", "ventuno"). Includes the
# ``ONE_ARTICLES``; a caller decides whether "un" alone is a number where it reads.
SMALL_NUMBER_WORDS: dict[str, int] = _small_number_words()
# Finds any of them in ``fold``-ed text, hyphens or spaces between the words of a
# compound ("vingt-et-un", "twenty-one"); pass the match to ``small_number``.
SMALL_NUMBER_RE = re.compile(
    r"\b(?:"
    + "|".join(
        r"[\s-]+".join(map(re.escape, word.split()))
        for word in sorted(SMALL_NUMBER_WORDS, key=len, reverse=True)
    )
    + r")\b"
)
_SEPARATORS = re.compile(r"[\s\-\u2010\u2011]+")


def small_number(words: str) -> int | None:
    """The value of a spelled 1 to 31 in any of the six languages ("Zwölf", "vingt-et-un").

    Accents and case do not matter; None if ``words`` is no such number.
    """
    return SMALL_NUMBER_WORDS.get(_SEPARATORS.sub(" ", fold(words)).strip())


# Formatting tags without attributes, as pasted from a rich-text field ("<b>Black, M</b>",
# "<i>Eve</i> Hacker"): harmless once removed. Anything else stays for ``usable`` to refuse.
_INLINE_TAG = re.compile(r"<\s*/?\s*(?:b|i|u|s|em|strong|small|mark|span)\s*/?\s*>", re.I)


def strip_inline_tags(text: str) -> str:
    """``text`` without attribute-free formatting tags: "<i>Eve</i> Hacker" → "Eve Hacker"."""
    return _INLINE_TAG.sub("", text)


# A mailto link, as some mail clients and chat widgets paste an address: '<a
# href="mailto:sam@example.org">sam@example.org</a>'.
_MAILTO_LINK = re.compile(
    r"<\s*a\s[^>]*?\bhref\s*=\s*(?P<quote>['\"]?)mailto:(?P<address>[^'\"\s<>?]+)"
    r"(?:\?[^'\"<>]*)?(?P=quote)[^>]*>[^<]*<\s*/\s*a\s*>",
    re.IGNORECASE,
)


def unwrap_mailto_links(text: str) -> str:
    """``text`` with each mailto link replaced by the address it links to.

    '<a href="mailto:sam@example.org">write to me</a>' → "sam@example.org". Only the
    address is kept, not the link's text nor its other attributes, so nothing of the
    markup can be echoed back; other markup stays for ``usable`` to refuse.
    """
    return _MAILTO_LINK.sub(lambda match: unquote(match["address"]), text)


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


# Multipliers of each language. Italian "cent" is "cento" before "ottanta" ("centottanta").
_SCALES_BY_LANGUAGE: dict[str, dict[str, int]] = {
    "en": {**SCALES, "million": 1_000_000, "millions": 1_000_000},
    "fr": {"cent": 100, "cents": 100, "mille": 1000, "mil": 1000}
    | dict.fromkeys(("million", "millions"), 1_000_000),
    "de": {"hundert": 100, "tausend": 1000} | dict.fromkeys(("million", "millionen"), 1_000_000),
    "es": {"cien": 100, "ciento": 100, "mil": 1000}
    | dict.fromkeys(("millon", "millones"), 1_000_000),
    "it": {"cento": 100, "cent": 100, "mille": 1000, "mila": 1000}
    | dict.fromkeys(("milione", "milioni"), 1_000_000),
    "pt": {"cem": 100, "cento": 100, "mil": 1000} | dict.fromkeys(("milhao", "milhoes"), 1_000_000),
}
# Words that join the parts of one number: "vingt et un", "doscientos y", "cento e vinte".
NUMBER_JOINERS = word_set("and et und y e")
_SCALE_WORDS = {word: n for scales in _SCALES_BY_LANGUAGE.values() for word, n in scales.items()}
_ALL_NUMBER_WORDS = {
    word: n for words in _NUMBER_WORDS_BY_LANGUAGE.values() for word, n in words.items()
}
# Parts of words written as one: German "zwei|hundert|fünf|und|zwanzig", Italian
# "due|cento|vent|uno", Spanish "veinti|dós" and "dieci|séis".
_GLUED = {
    "de": {**_NUMBER_WORDS_BY_LANGUAGE["de"], **_SCALES_BY_LANGUAGE["de"], "und": 0},
    "it": {**_NUMBER_WORDS_BY_LANGUAGE["it"], **_SCALES_BY_LANGUAGE["it"]}
    | dict(vent=20, trent=30, quarant=40, cinquant=50, sessant=60, settant=70)
    | dict(ottant=80, novant=90),
    "es": {"dieci": 10, "veinti": 20}
    | {w: n for w, n in _NUMBER_WORDS_BY_LANGUAGE["es"].items() if n < 10},
}
# Italian tens without their vowel stand only before "uno" and "otto"; the Spanish
# prefixes only before a unit.
_GLUED_PREFIXES = word_set("vent trent quarant cinquant sessant settant ottant novant dieci veinti")


@dataclass(frozen=True)
class NumberReading:
    """A number read from words: its ``value`` and the ``scale`` it ends with.

    ``scale`` is the multiplier when the number is "N times it" said last ("four
    hundred", "zweitausend", "trois cents": 100, 1000, 100), else 1. It lets a range
    share it: "two to four hundred" is 200 to 400.
    """

    value: int
    scale: int


@lru_cache(maxsize=8192)
def is_number_word(word: str) -> bool:
    """Whether ``word`` is a number word or a joiner of one, in any of the six languages."""
    return _atoms(fold(word)) is not None


def number_scale(word: str) -> int | None:
    """The multiplier ``word`` stands for ("hundred", "mille", "Tausend"), else None."""
    return _SCALE_WORDS.get(fold(word))


def read_number(words: Sequence[str]) -> NumberReading | None:
    """Read number words of English, French, German, Spanish, Italian or Portuguese.

    ``words`` are the words of one number, split at spaces and hyphens:
    ``["trois", "cent", "cinquante"]``, ``["zweihundertfünfzig"]``, ``["doscientos"]``,
    ``["quatre", "vingt", "dix"]``. Case and accents do not matter. English words are
    read by ``words_to_int`` ("a few hundred" is 300). None if they are no number.
    """
    folded = _joined_quatre_vingt([fold(word) for word in words if word])
    if not folded:
        return None
    atoms = [atom for word in folded for atom in (_atoms(word) or (("unknown", 0),))]
    if all(word in _ENGLISH for word in folded):
        value = words_to_int(folded)
    elif all(kind != "unknown" for kind, _ in atoms):
        value = _add_up(atoms)
    else:
        return None
    if value is None:
        return None
    scales = [n for kind, n in atoms if kind == "scale"]
    ends_with_scale = len(scales) == 1 and atoms[-1][0] == "scale"
    return NumberReading(value, scales[0] if ends_with_scale else 1)


_ENGLISH = frozenset([*NUMBER_WORDS, *SCALES, *VAGUE_COUNTS, "a", "of"])


def _joined_quatre_vingt(words: list[str]) -> list[str]:
    """French 80 is "quatre-vingts", four twenties: read it as one word."""
    joined: list[str] = []
    for word in words:
        if word in ("vingt", "vingts") and joined and joined[-1] == "quatre":
            joined[-1] = "quatrevingt"
        else:
            joined.append(word)
    return joined


def _add_up(atoms: list[tuple[str, int]]) -> int | None:
    total = current = 0
    for kind, value in atoms:
        if kind == "number":
            current += value
        elif kind == "scale" and value == 100:
            current = max(current, 1) * 100
        elif kind == "scale":
            total += max(current, 1) * value
            current = 0
    if all(kind == "joiner" for kind, _ in atoms):
        return None
    return total + current


@lru_cache(maxsize=4096)
def _atoms(word: str) -> tuple[tuple[str, int], ...] | None:
    """The parts of one folded word: ("number", 20), ("scale", 100) or ("joiner", 0)."""
    if word in NUMBER_JOINERS:
        return (("joiner", 0),)
    if word in _SCALE_WORDS:
        return (("scale", _SCALE_WORDS[word]),)
    if word in _ALL_NUMBER_WORDS:
        return (("number", _ALL_NUMBER_WORDS[word]),)
    if word in ("quatrevingt", "quatrevingts"):
        return (("number", 80),)
    for language in ("de", "it", "es"):
        parts = _glued(word, _GLUED[language])
        if parts is not None and len(parts) > 1:
            return tuple(_kind(part, language) for part in parts)
    return None


def _kind(part: str, language: str) -> tuple[str, int]:
    if part == "und":
        return ("joiner", 0)
    if part in _SCALES_BY_LANGUAGE[language]:
        return ("scale", _SCALES_BY_LANGUAGE[language][part])
    return ("number", _GLUED[language][part])


def _glued(word: str, lexicon: dict[str, int]) -> list[str] | None:
    """Split ``word`` into parts of ``lexicon``, longest parts first; None if it cannot be."""
    if not word:
        return []
    for end in range(len(word), 0, -1):
        part = word[:end]
        if part not in lexicon:
            continue
        rest = _glued(word[end:], lexicon)
        if rest is None:
            continue
        following = rest[0] if rest else ""
        if part in _GLUED_PREFIXES and not _may_follow_prefix(part, following):
            continue
        if part == "und" and not following:
            continue
        return [part, *rest]
    return None


def _may_follow_prefix(prefix: str, following: str) -> bool:
    if prefix in ("dieci", "veinti"):
        return 0 < _GLUED["es"].get(following, 0) < 10
    return following in ("uno", "un", "otto", "ottanta")
