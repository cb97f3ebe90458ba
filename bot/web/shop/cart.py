"""The demo shop's cart, kept in a cookie, and how it shows money and countries.

Cookies and forms come from the browser: only the shapes below are read,
whatever else ``str.isdigit()`` or ``Decimal()`` would accept ("²", "1e30",
"-5", "NaN"), and a cookie the browser sends back altered is ignored.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

import pycountry
from aiohttp import web

from bot.catalog import Catalog, Product, Variant

CATALOG = web.AppKey("shop_catalog", Catalog)
CART_COOKIE = "shop_cart"
CART_SECONDS = 7 * 86400
MAX_CART_LINES = 20
MAX_QUANTITY = 10
_QUANTITY = re.compile(r"[0-9]{1,3}")
# Longest piece of a bad input quoted back in an error page.
SHOWN_CHARS = 60
CURRENCY_SYMBOLS = {"EUR": "€", "USD": "$", "GBP": "£"}


@dataclass(frozen=True)
class CartLine:
    """A variant in the cart and how many."""

    product: Product
    variant: Variant
    quantity: int

    @property
    def total(self) -> Decimal:
        """Price of the line."""
        return self.variant.price * self.quantity

    @property
    def label(self) -> str:
        """The product and variant, as shoppers read them."""
        return self.product.variant_label(self.variant)


def shown(value: str) -> str:
    """``value`` quoted for an error message, cut to :data:`SHOWN_CHARS`."""
    return repr(value if len(value) <= SHOWN_CHARS else value[:SHOWN_CHARS] + "…")


def quantity(raw: str) -> int | None:
    """``raw`` as a quantity from 1 to :data:`MAX_QUANTITY`, or ``None``."""
    if not _QUANTITY.fullmatch(raw):
        return None
    value = int(raw)
    return value if 1 <= value <= MAX_QUANTITY else None


def money(amount: Decimal, currency: str) -> str:
    """``€59.00``; codes without a symbol come after the amount (``59.00 CHF``)."""
    text = f"{amount.quantize(Decimal('0.01')):,}"
    symbol = CURRENCY_SYMBOLS.get(currency)
    return f"{symbol}{text}" if symbol else f"{text} {currency}"


def country_name(code: str) -> str:
    """English name of an ISO 3166 alpha-2 code."""
    country = pycountry.countries.get(alpha_2=code)
    return str(getattr(country, "common_name", None) or country.name) if country else code


def shipping_countries(catalog: Catalog) -> list[str]:
    """Every country some product ships to, by name."""
    codes = {code for product in catalog.products for code in product.ships_to}
    return sorted(codes, key=country_name)


def read_cart(request: web.Request) -> list[CartLine]:
    """The cart cookie's lines; unknown variants (the catalog changed) are left out."""
    catalog = request.config_dict[CATALOG]
    lines: dict[str, CartLine] = {}
    for part in request.cookies.get(CART_COOKIE, "").split("|")[:MAX_CART_LINES]:
        variant_id, _, count = part.partition(":")
        found = catalog.variant(variant_id)
        amount = quantity(count)
        if found is None or amount is None:
            continue
        product, variant = found
        lines[variant.id] = CartLine(product, variant, amount)
    return list(lines.values())


def cart_total(lines: Iterable[CartLine]) -> Decimal:
    """What the lines cost together."""
    return sum((line.total for line in lines), Decimal("0"))


def keep_cart(response: web.StreamResponse, lines: list[CartLine]) -> None:
    """Set the cart cookie to ``lines`` (or delete it when there are none)."""
    value = "|".join(f"{line.variant.id}:{line.quantity}" for line in lines)
    if value:
        response.set_cookie(
            CART_COOKIE, value, max_age=CART_SECONDS, path="/", httponly=True, samesite="Lax"
        )
    else:
        response.del_cookie(CART_COOKIE, path="/")
