"""The shop's cart and checkout: add, remove, check out with a pretend payment, confirm.

Bad input answers a 400 page naming the field; an order's confirmation is read
back from a cookie, which must hold a 12-hex-digit id and a total from 0 to
1,000,000,000 with at most two decimals.
"""

from __future__ import annotations

import re
import secrets
from decimal import Decimal
from urllib.parse import urlencode

from aiohttp import web

from bot.catalog import Product, Variant
from bot.web.bodies import read_form
from bot.web.errors import WebError
from bot.web.html import redirect
from bot.web.shop.cart import (
    CATALOG,
    MAX_CART_LINES,
    MAX_QUANTITY,
    CartLine,
    cart_total,
    country_name,
    keep_cart,
    money,
    quantity,
    read_cart,
    shipping_countries,
    shown,
)
from bot.web.shop.frame import SHOP, PageContext
from bot.web.shop.products import ADDED_COOKIE, ADDED_SECONDS

ORDER_COOKIE = "shop_order"
_ORDER = re.compile(r"([0-9A-F]{12}):([0-9]{1,10}(?:\.[0-9]{1,2})?)")
MAX_ORDER_TOTAL = Decimal("1000000000")
PAYMENT_METHODS = {"card": "Card", "paypal": "PayPal", "transfer": "Bank transfer"}


async def cart(request: web.Request) -> web.StreamResponse:
    """``GET /cart``."""
    lines = read_cart(request)
    return SHOP.render(
        request,
        "shop/cart.html",
        {
            "page": PageContext("cart"),
            "lines": lines,
            "total": money(cart_total(lines), request.config_dict[CATALOG].currency),
        },
    )


async def _form(request: web.Request) -> dict[str, str]:
    try:
        form = await read_form(request)
    except WebError as exc:
        raise WebError(exc.status, f"The form could not be read: {exc.message}.") from None
    return {name: value for name, value in form.items() if isinstance(value, str)}


def _form_variant(request: web.Request, form: dict[str, str]) -> tuple[Product, Variant]:
    variant_id = form.get("variant_id", "").strip()
    if not variant_id:
        raise WebError(400, "Field 'variant_id' is required: choose an option.")
    found = request.config_dict[CATALOG].variant(variant_id)
    if found is None:
        raise WebError(400, f"Field 'variant_id': there is no variant {shown(variant_id)}.")
    return found


async def add_to_cart(request: web.Request) -> web.StreamResponse:
    """``POST /cart/add`` (variant_id, quantity): back to the product page."""
    form = await _form(request)
    product, variant = _form_variant(request, form)
    raw = form.get("quantity", "1").strip()
    added = quantity(raw)
    if added is None:
        raise WebError(
            400,
            f"Field 'quantity' must be a whole number from 1 to {MAX_QUANTITY}, got {shown(raw)}.",
        )
    lines = {line.variant.id: line for line in read_cart(request)}
    total = added + (lines[variant.id].quantity if variant.id in lines else 0)
    if total > variant.stock:
        raise WebError(
            400,
            f"Field 'quantity': only {variant.stock} of {product.variant_label(variant)} in stock.",
        )
    if total > MAX_QUANTITY:
        raise WebError(400, f"Field 'quantity': at most {MAX_QUANTITY} of one item per order.")
    if variant.id not in lines and len(lines) >= MAX_CART_LINES:
        raise WebError(400, f"The cart holds at most {MAX_CART_LINES} different items.")
    lines[variant.id] = CartLine(product, variant, total)
    response = redirect(f"/products/{product.id}?{urlencode({'variant': variant.id, 'added': 1})}")
    keep_cart(response, list(lines.values()))
    response.set_cookie(
        ADDED_COOKIE,
        f"{variant.id}:{added}:{secrets.token_hex(6)}",
        max_age=ADDED_SECONDS,
        path="/",
        httponly=True,
        samesite="Lax",
    )
    raise response


async def remove_from_cart(request: web.Request) -> web.StreamResponse:
    """``POST /cart/remove`` (variant_id)."""
    _, variant = _form_variant(request, await _form(request))
    response = redirect("/cart")
    keep_cart(response, [line for line in read_cart(request) if line.variant.id != variant.id])
    raise response


async def checkout(request: web.Request) -> web.StreamResponse:
    """``GET /checkout``: the start of the checkout (an empty cart goes back to the cart)."""
    lines = read_cart(request)
    if not lines:
        raise redirect("/cart")
    catalog = request.config_dict[CATALOG]
    return SHOP.render(
        request,
        "shop/checkout.html",
        {
            "page": PageContext("checkout"),
            "page_data": {"cart-value": str(cart_total(lines))},
            "lines": lines,
            "total": money(cart_total(lines), catalog.currency),
            "countries": shipping_countries(catalog),
            "default_country": catalog.default_country,
            "payment_methods": PAYMENT_METHODS,
        },
    )


async def place_order(request: web.Request) -> web.StreamResponse:
    """``POST /checkout`` (country, payment): empties the cart, shows the confirmation."""
    lines = read_cart(request)
    if not lines:
        raise WebError(400, "Your cart is empty: there is nothing to order.")
    form = await _form(request)
    code = form.get("country", "").strip().upper()
    if code not in shipping_countries(request.config_dict[CATALOG]):
        raise WebError(
            400, f"Field 'country': {shown(code or '(empty)')} is not a delivery country."
        )
    undeliverable = [line.product.name for line in lines if not line.product.delivers_to(code)]
    if undeliverable:
        raise WebError(
            400,
            f"Field 'country': {', '.join(undeliverable)} cannot be delivered to "
            f"{country_name(code)}.",
        )
    payment = form.get("payment", "")
    if payment not in PAYMENT_METHODS:
        raise WebError(
            400,
            f"Field 'payment' must be one of {', '.join(PAYMENT_METHODS)}, got {shown(payment)}.",
        )
    response = redirect("/checkout/complete")
    keep_cart(response, [])
    order = f"{secrets.token_hex(6).upper()}:{cart_total(lines):.2f}"
    response.set_cookie(ORDER_COOKIE, order, path="/", httponly=True, samesite="Lax")
    raise response


async def order_complete(request: web.Request) -> web.StreamResponse:
    """``GET /checkout/complete``: the confirmation of the last order."""
    found = _ORDER.fullmatch(request.cookies.get(ORDER_COOKIE, ""))
    value = Decimal(found.group(2)) if found else MAX_ORDER_TOTAL + 1
    if found is None or value > MAX_ORDER_TOTAL:
        raise WebError(404, "There is no recent order to show.")
    order_id = found.group(1)
    return SHOP.render(
        request,
        "shop/complete.html",
        {
            "page": PageContext("other"),
            "page_data": {"order-id": order_id, "order-value": str(value)},
            "order_id": order_id,
            "total": money(value, request.config_dict[CATALOG].currency),
        },
    )
