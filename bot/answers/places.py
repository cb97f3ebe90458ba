"""Well-known islands and small towns the city list lacks ("Sylt", "Capri", "Zermatt").

They are listed per country in ``data/places.yml`` (read once); the location parser reads
them like the cities of the list. Islands and towns of a delivery area are the area's
(``data/areas.yml``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from pydantic import BaseModel, ValidationError

from bot.answers.areas import PlaceDataError
from bot.answers.text import fold
from bot.yamlconf import Location, describe, load_document

PLACES_FILE = Path(__file__).with_name("data") / "places.yml"


@dataclass(frozen=True)
class KnownPlace:
    """An island or a town of ``country``; ``names[0]`` is the one shown."""

    country: str
    names: tuple[str, ...]


class _PlacesIn(BaseModel):
    __root__: dict[str, list[str | list[str]]]


@lru_cache(maxsize=1)
def known_places() -> tuple[KnownPlace, ...]:
    """The islands and towns of ``data/places.yml``, read once."""
    return load_places(PLACES_FILE)


def load_places(path: Path) -> tuple[KnownPlace, ...]:
    """Read and check a places file; raises ``PlaceDataError`` naming file and line."""
    data, root = load_document(path, PlaceDataError, "places")
    try:
        parsed = _PlacesIn.parse_obj(data).__root__
    except ValidationError as exc:
        errors = [(tuple(error["loc"]), error["msg"]) for error in exc.errors()]
        raise PlaceDataError(describe(path, root, errors, "places")) from exc
    problems: list[tuple[Location, str]] = []
    places: list[KnownPlace] = []
    seen: dict[str, str] = {}
    for country, items in parsed.items():
        if not re.fullmatch(r"[A-Z]{2}", country):
            problems.append(((country,), "must be an ISO 3166 alpha-2 country code"))
        for position, item in enumerate(items):
            names = tuple(name.strip() for name in ([item] if isinstance(item, str) else item))
            if not names or not all(names):
                problems.append(((country, position), "a place needs a name"))
                continue
            for name in names:
                other = seen.setdefault(fold(name), names[0])
                if other != names[0]:
                    problems.append(((country, position), f"{name!r} already names {other}"))
            places.append(KnownPlace(country, names))
    if problems:
        raise PlaceDataError(describe(path, root, problems, "places"))
    return tuple(places)
