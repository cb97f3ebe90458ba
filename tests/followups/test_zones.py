"""The shopper's time zone for quiet hours: their country's main zone, else the shop's."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest

from bot.followups.zones import UTC, country_zone, shop_zone


@pytest.mark.parametrize(
    ("country", "zone"),
    [
        ("FR", "Europe/Paris"),
        ("fr", "Europe/Paris"),
        # several zones: the largest city's
        ("US", "America/New_York"),
        ("AU", "Australia/Sydney"),
        ("JP", "Asia/Tokyo"),
    ],
)
def test_a_countrys_main_zone(country: str, zone: str) -> None:
    assert country_zone(country) == ZoneInfo(zone)


def test_unknown_countries_have_no_zone() -> None:
    assert country_zone("XX") is None
    assert country_zone(None) is None


def test_the_shops_zone() -> None:
    assert shop_zone("America/Chicago", "FR") == ZoneInfo("America/Chicago")
    assert shop_zone("", "DE") == ZoneInfo("Europe/Berlin")
    assert shop_zone("", "XX") == UTC
    with pytest.raises(ValueError, match="SHOP_TIMEZONE: unknown time zone 'Mars/Olympus'"):
        shop_zone("Mars/Olympus", "FR")
