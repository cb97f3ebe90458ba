"""Postcodes in free text: "75011", "SW1A 1AA", "F-75011", "TX 78701" → country, region, area.

What each country's postcodes look like and what their leading characters tell is in
``data/postcodes.yml`` (read once). A code found in a text keeps every country it may
belong to ("75011" is French, German, Italian or American); the location parser decides
with the rest of the message.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from pydantic import BaseModel, Extra, Field, ValidationError, validator

from bot.answers.areas import PlaceDataError, area_table
from bot.yamlconf import Location, describe, load_document

POSTCODES_FILE = Path(__file__).with_name("data") / "postcodes.yml"

# Neither a letter nor a digit may touch a postcode.
_BEFORE = r"(?<![^\W_])"
_AFTER = r"(?![^\W_])"
_DIGIT = re.compile(r"\d")
_RANGE = re.compile(r"^([0-9A-Z]*)-([0-9A-Z]*)$")


class Strength(enum.IntEnum):
    """How surely a match is a postcode, whatever else the message says."""

    PARTIAL = 0  # a district only ("SW1A", "M5V", "1012"): only as the whole answer
    DIGITS = 1  # digits alone ("75011"): also a year, an amount or a quantity
    SURE = 2  # letters and digits in the country's pattern, or a country prefix


@dataclass(frozen=True)
class PostcodePlace:
    """One reading of a postcode: the country and what the code tells about the place."""

    country: str
    region: str | None
    area: str | None
    strength: Strength


@dataclass(frozen=True)
class PostcodeMatch:
    """A postcode at ``start:end`` in the text, with its readings in data-file order."""

    start: int
    end: int
    places: tuple[PostcodePlace, ...]


@dataclass(frozen=True)
class _System:
    country: str
    full: re.Pattern[str]
    partial: re.Pattern[str] | None
    stated: re.Pattern[str]  # the code after a state's abbreviation ("TX 78701")
    states: dict[str, str]  # abbreviation → the state's name, as the regions write it
    by_letters: bool
    regions: dict[str, tuple[str, str | None]]  # prefix → (country, region)

    def place(self, code: str, strength: Strength) -> PostcodePlace | None:
        normalised = re.sub(r"\s", "", code).upper()
        if self.by_letters:
            found = self.regions.get(re.split(r"[^A-Z]", normalised, maxsplit=1)[0])
        else:
            found = next(
                (
                    self.regions[normalised[:length]]
                    for length in range(len(normalised), -1, -1)
                    if normalised[:length] in self.regions
                ),
                None,
            )
        if found is None:
            return None
        country, region = found
        if country != self.country:
            return PostcodePlace(country, None, None, strength)
        area = area_table().of_postcode(country, normalised)
        return PostcodePlace(country, region, area.name if area else None, strength)


class _SystemIn(BaseModel):
    class Config:
        extra = Extra.forbid

    pattern: str
    partial: str | None = None
    prefixes: list[str] = Field(default_factory=list)
    states: dict[str, str] = Field(default_factory=dict)
    any_case: bool = False
    key: str | None = None
    regions: dict[str, str | list[str] | None]

    @validator("pattern", "partial")
    def _compiles(cls, value: str | None) -> str | None:
        """A valid regular expression."""
        if value is not None:
            re.compile(value)
        return value

    @validator("key")
    def _key(cls, value: str | None) -> str | None:
        """Only "letters" is a special key."""
        if value not in (None, "letters"):
            raise ValueError('must be "letters" or left out')
        return value


def find_postcodes(text: str) -> list[PostcodeMatch]:
    """Every postcode in ``text``, left to right; overlapping matches keep the longest."""
    found: dict[tuple[int, int], list[PostcodePlace]] = {}
    systems = _systems()
    if not _DIGIT.search(text):
        return []  # every postcode has a digit
    for system, prefixed in systems:
        for pattern, sure in ((prefixed, True), (system.full, False)):
            for match in pattern.finditer(text):
                code = match.group("code")
                strength = Strength.SURE if sure or not code.isdigit() else Strength.DIGITS
                place = system.place(code, strength)
                if place is not None:
                    found.setdefault(match.span(), []).append(place)
        for match in system.stated.finditer(text):
            # "TX 78701" is surely American when the code is one of Texas's.
            place = system.place(match.group("code"), Strength.SURE)
            state = system.states[match.group("state")]
            if place is not None and (place.region or "").startswith(state):
                found.setdefault(match.span(), []).append(place)
        if system.partial is not None:
            for match in system.partial.finditer(text):
                place = system.place(match.group("code"), Strength.PARTIAL)
                if place is not None:
                    found.setdefault(match.span(), []).append(place)
    matches: list[PostcodeMatch] = []
    for (start, end), places in sorted(found.items(), key=lambda item: (item[0][0], -item[0][1])):
        if matches and start < matches[-1].end:
            continue  # inside a longer code ("1012" of "1012 AB")
        ordered = sorted(places, key=lambda p: -p.strength)
        matches.append(PostcodeMatch(start, end, tuple(dict.fromkeys(ordered))))
    return matches


@lru_cache(maxsize=1)
def _systems() -> tuple[tuple[_System, re.Pattern[str]], ...]:
    """Each country's postcode system with its prefixed pattern ("F-75011"), in file order."""
    return tuple(load_postcodes(POSTCODES_FILE))


def load_postcodes(path: Path) -> list[tuple[_System, re.Pattern[str]]]:
    """Read and check a postcodes file; raises ``PlaceDataError`` naming file and line."""
    data, root = load_document(path, PlaceDataError, "postcodes")
    problems: list[tuple[Location, str]] = []
    if not isinstance(data, dict):
        raise PlaceDataError(f"{path}:1: postcodes must be a mapping of country codes")
    systems = []
    for country, raw in data.items():
        if not isinstance(country, str) or not re.fullmatch(r"[A-Z]{2}", country):
            problems.append(((str(country),), "must be an ISO 3166 alpha-2 country code"))
            continue
        try:
            item = _SystemIn.parse_obj(raw)
        except ValidationError as exc:
            problems += [((country, *error["loc"]), error["msg"]) for error in exc.errors()]
            continue
        regions, region_problems = _regions(country, item.regions)
        problems += region_problems
        code = f"(?P<code>{item.pattern})"
        flags = re.IGNORECASE if item.any_case else 0
        full = re.compile(_BEFORE + code + _AFTER, flags)
        letters = "|".join(map(re.escape, item.prefixes)) or "(?!)"
        prefixed = re.compile(_BEFORE + f"(?:{letters})-" + code + _AFTER, flags)
        states = "|".join(map(re.escape, item.states)) or "(?!)"
        stated = re.compile(_BEFORE + f"(?P<state>{states}),? " + code + _AFTER)
        partial = (
            re.compile(_BEFORE + f"(?P<code>{item.partial})" + _AFTER)
            if item.partial is not None
            else None
        )
        system = _System(
            country, full, partial, stated, item.states, item.key == "letters", regions
        )
        systems.append((system, prefixed))
    if problems:
        raise PlaceDataError(describe(path, root, problems, "postcodes"))
    return systems


def _regions(
    country: str, rows: dict[str, str | list[str] | None]
) -> tuple[dict[str, tuple[str, str | None]], list[tuple[Location, str]]]:
    regions: dict[str, tuple[str, str | None]] = {}
    problems: list[tuple[Location, str]] = []
    for key, value in rows.items():
        if isinstance(value, list):
            if len(value) != 2 or not re.fullmatch(r"[A-Z]{2}", value[0]):
                problems.append(((country, "regions", key), "must be [country code, name]"))
                continue
            place: tuple[str, str | None] = (value[0], value[1])
        else:
            place = (country, value)
        prefixes = _expand(key)
        if prefixes is None:
            problems.append(((country, "regions", key), "a range is two prefixes, same length"))
            continue
        regions.update(dict.fromkeys(prefixes, place))
    return regions, problems


def _expand(key: str) -> list[str] | None:
    """The prefixes a key stands for: "010-012" → "010", "011", "012"; "K-M" → "K", "L", "M"."""
    key = str(key).upper()
    match = _RANGE.match(key)
    if match is None:
        return [key]
    first, last = match.groups()
    if len(first) != len(last) or not first:
        return None
    common = len(first)
    while common and first[:common] != last[:common]:
        common -= 1
    stem, low, high = first[:common], first[common:], last[common:]
    if low.isdigit() and high.isdigit():
        return [f"{stem}{n:0{len(low)}d}" for n in range(int(low), int(high) + 1)]
    if len(low) == 1 and low.isalpha() and high.isalpha():
        return [stem + chr(c) for c in range(ord(low), ord(high) + 1)]
    return None
