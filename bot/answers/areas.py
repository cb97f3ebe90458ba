"""Delivery areas: parts of a country with their own delivery rules ("Corsica" in France).

The areas, their names in the shop's languages, the towns and islands in them and the
postcodes they take are listed in ``data/areas.yml``; the location parser tags a place
with its area, and the catalogue leaves areas out of products and shipping zones by name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from pydantic import BaseModel, Extra, Field, ValidationError, validator

from bot.answers.text import fold
from bot.yamlconf import Location, describe, load_document

AREAS_FILE = Path(__file__).with_name("data") / "areas.yml"


class PlaceDataError(ValueError):
    """A place data file (areas, postcodes) is unusable; the message names file and line."""


@dataclass(frozen=True)
class Area:
    """A part of ``country`` that carriers treat apart; ``name`` is the one shown."""

    name: str
    country: str
    names: tuple[str, ...]
    places: tuple[str, ...]
    subdivisions: tuple[str, ...]
    admin1: tuple[str, ...]
    postcodes: tuple[str, ...]
    iso_code: str | None


class _Strict(BaseModel):
    class Config:
        extra = Extra.forbid
        anystr_strip_whitespace = True
        min_anystr_length = 1


def _country_code(value: str) -> str:
    if not re.fullmatch(r"[A-Z]{2}", value):
        raise ValueError(f"{value!r} is not an ISO 3166 alpha-2 country code")
    return value


class _AreaIn(_Strict):
    country: str
    names: list[str] = Field(..., min_items=1)
    places: list[str] = Field(default_factory=list)
    subdivisions: list[str] = Field(default_factory=list)
    admin1: list[str] = Field(default_factory=list)
    postcodes: list[str] = Field(default_factory=list)
    iso_code: str | None = None

    _check_country = validator("country", "iso_code", allow_reuse=True)(_country_code)


class _GroupIn(_Strict):
    names: list[str] = Field(..., min_items=1)
    areas: list[str] = Field(..., min_items=1)


class _AreasIn(_Strict):
    areas: dict[str, _AreaIn]
    groups: dict[str, _GroupIn] = Field(default_factory=dict)


class AreaTable:
    """Every delivery area, found by name, region code, city, postcode or territory code."""

    def __init__(
        self, areas: tuple[Area, ...], groups: dict[str, tuple[tuple[str, ...], tuple[Area, ...]]]
    ) -> None:
        self.areas = areas
        self._by_name: dict[str, tuple[Area, ...]] = {}
        for area in areas:
            for name in area.names:
                self._by_name[fold(name)] = (area,)
        for names, members in groups.values():
            for name in names:
                self._by_name[fold(name)] = members
        self._by_place = {(a.country, fold(place)): a for a in areas for place in a.places}
        self._by_subdivision = {code: area for area in areas for code in area.subdivisions}
        self._by_admin1 = {(area.country, code): area for area in areas for code in area.admin1}
        self._by_iso_code = {area.iso_code: area for area in areas if area.iso_code}
        self._group_names = list(groups)

    def named(self, name: str) -> tuple[Area, ...]:
        """The areas a name means: one for an area's name, several for a group's."""
        return self._by_name.get(fold(name.strip()), ())

    def names(self) -> list[str]:
        """The names shown for the areas and groups, for error messages."""
        return [area.name for area in self.areas] + self._group_names

    def containing(self, country: str, name: str) -> Area | None:
        """The area of ``country`` that ``name`` is, or one of its listed towns and islands."""
        found = self.named(name)
        if len(found) == 1 and found[0].country == country:
            return found[0]
        return self._by_place.get((country, fold(name.strip())))

    def of_subdivision(self, code: str) -> Area | None:
        """The area an ISO 3166-2 subdivision ("FR-20R") lies in."""
        return self._by_subdivision.get(code)

    def of_city(self, country: str, admin1: str) -> Area | None:
        """The area of a city given by its GeoNames country and first-level code."""
        return self._by_admin1.get((country, admin1))

    def of_territory(self, code: str) -> Area | None:
        """The area a territory's own ISO code ("GP") stands for."""
        return self._by_iso_code.get(code)

    def of_postcode(self, country: str, code: str) -> Area | None:
        """The area of a postcode (upper case, no spaces) of ``country``."""
        for area in self.areas:
            if area.country == country and any(code.startswith(p) for p in area.postcodes):
                return area
        return None


@lru_cache(maxsize=1)
def area_table() -> AreaTable:
    """The delivery areas of ``data/areas.yml``, read once."""
    return load_areas(AREAS_FILE)


def load_areas(path: Path) -> AreaTable:
    """Read and check an areas file; raises ``PlaceDataError`` naming file and line."""
    data, root = load_document(path, PlaceDataError, "areas")
    try:
        parsed = _AreasIn.parse_obj(data)
    except ValidationError as exc:
        errors = [(tuple(error["loc"]), error["msg"]) for error in exc.errors()]
        raise PlaceDataError(describe(path, root, errors, "areas")) from exc
    areas = tuple(
        Area(
            name=name,
            country=item.country,
            names=tuple(dict.fromkeys([name, *item.names])),
            places=tuple(item.places),
            subdivisions=tuple(item.subdivisions),
            admin1=tuple(item.admin1),
            postcodes=tuple(item.postcodes),
            iso_code=item.iso_code,
        )
        for name, item in parsed.areas.items()
    )
    by_name = {area.name: area for area in areas}
    problems: list[tuple[Location, str]] = []
    groups: dict[str, tuple[tuple[str, ...], tuple[Area, ...]]] = {}
    for group_name, group in parsed.groups.items():
        unknown = [name for name in group.areas if name not in by_name]
        if unknown:
            problems.append((("groups", group_name, "areas"), f"unknown areas {unknown}"))
        members = tuple(by_name[name] for name in group.areas if name in by_name)
        groups[group_name] = (tuple(dict.fromkeys([group_name, *group.names])), members)
    seen: dict[str, str] = {}
    owners = [(a.name, a.names) for a in areas] + [(g, names) for g, (names, _) in groups.items()]
    for owner, names in owners:
        for name in names:
            other = seen.setdefault(fold(name), owner)
            if other != owner:
                problems.append((("areas",), f"{name!r} names both {other} and {owner}"))
    if problems:
        raise PlaceDataError(describe(path, root, problems, "areas"))
    return AreaTable(areas, groups)
