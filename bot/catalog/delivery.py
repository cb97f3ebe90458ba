"""How long a product takes to reach a shopper's place: the catalogue's delivery estimate.

The catalogue gives each product its usual lead time from order to doorstep
(``delivery_days``) and where it ships (``ships_to`` and excluded regions); the
estimate to a place is that lead time from today, or "does not ship there".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

import pycountry

from bot.catalog.model import Product


@dataclass(frozen=True)
class DeliveryEstimate:
    """Whether ``product`` reaches ``place`` and, if so, in how many days (by ``by``)."""

    ships: bool
    days: int
    by: date
    # The place in words ("France", "Corsica, France"); ``None`` when no place was given.
    place: str | None


def country_name(code: str) -> str:
    """The English short name of an ISO 3166 alpha-2 code (the code itself if unknown)."""
    country = pycountry.countries.get(alpha_2=code.upper())
    return str(getattr(country, "common_name", None) or country.name) if country else code


def delivery_estimate(
    product: Product, country: str | None, region: str | None, now: datetime
) -> DeliveryEstimate:
    """The product's delivery to the place (``country`` empty: no place, the usual lead time)."""
    by = (now + timedelta(days=product.delivery_days)).date()
    if not country:
        return DeliveryEstimate(True, product.delivery_days, by, None)
    place = country_name(country)
    if region:
        place = f"{region}, {place}"
    return DeliveryEstimate(product.delivers_to(country, region), product.delivery_days, by, place)
