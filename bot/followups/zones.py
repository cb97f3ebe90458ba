"""The shopper's time zone, for quiet hours: their country's main zone, else the shop's.

A country's main zone is the first the tz database lists for it (``Europe/Paris``
for FR, ``America/New_York`` for US): the chat asks for a country and maybe a
region, not a city, so a country spanning several zones gets its most populous.
"""

from __future__ import annotations

from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pytz

UTC = ZoneInfo("UTC")


@lru_cache(maxsize=512)
def country_zone(country: str | None) -> ZoneInfo | None:
    """The main zone of an ISO 3166 alpha-2 country, or ``None`` if unknown."""
    if not country:
        return None
    names = pytz.country_timezones.get(country.upper())
    if not names:
        return None
    try:
        return ZoneInfo(names[0])
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
