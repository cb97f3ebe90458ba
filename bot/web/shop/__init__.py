"""The demo shop at ``/``: the demo catalog as a small storefront with the assistant in it.

Product list, product pages with a variant picker and a shipping check, a
comparison table, a cart (kept in a cookie) and a checkout with a pretend
payment step, as templates under ``bot/web/templates/shop``. Its pages keep the
root URLs a shop has (``/``, ``/products/…``, ``/cart``), so they are routes of
the root app answered by the :data:`~bot.web.shop.frame.SHOP` site (layout,
security headers, error page). ``DEMO_SHOP=0`` leaves it out (where the web app
only serves a real shop's widget and APIs).
"""

from __future__ import annotations

import aiohttp_jinja2
from aiohttp import web

from bot.catalog import load_catalog
from bot.web.keys import SETTINGS
from bot.web.shop.cart import CATALOG, country_name, money
from bot.web.shop.checkout import (
    add_to_cart,
    cart,
    checkout,
    order_complete,
    place_order,
    remove_from_cart,
)
from bot.web.shop.frame import SHOP
from bot.web.shop.products import compare, home, product_page


def setup(app: web.Application) -> None:
    """Mount the shop's pages on the root app (unless ``DEMO_SHOP`` is off)."""
    settings = app[SETTINGS]
    if not settings.demo_shop:
        return
    app[CATALOG] = load_catalog(settings.catalog_path)
    aiohttp_jinja2.get_env(app).filters.update(money=money, country=country_name)
    app.add_routes(
        SHOP.routes(
            [
                web.get("/", home),
                web.get("/products/{product_id}", product_page),
                web.get("/compare", compare),
                web.get("/cart", cart),
                web.post("/cart/add", add_to_cart),
                web.post("/cart/remove", remove_from_cart),
                web.get("/checkout", checkout),
                web.post("/checkout", place_order),
                web.get("/checkout/complete", order_complete),
            ]
        )
    )
