"""The shop's catalog pages: the product list, a product page, the comparison table."""

from __future__ import annotations

import re
from dataclasses import dataclass

from aiohttp import web

from bot.catalog import Catalog, Product, Variant
from bot.web.errors import WebError
from bot.web.shop.cart import (
    CATALOG,
    MAX_QUANTITY,
    country_name,
    money,
    quantity,
    shipping_countries,
    shown,
)
from bot.web.shop.frame import SHOP, PageContext

COMPARE_MIN, COMPARE_MAX = 2, 4
# What the last "add to cart" added, for the product page it leads to (read once).
ADDED_COOKIE = "shop_added"
ADDED_SECONDS = 300
_ADDED = re.compile(r"([a-z0-9-]{1,120}):([0-9]{1,3}):([0-9a-f]{12})")


@dataclass(frozen=True)
class ShippingCheck:
    """The answer to "does it ship to …?" on a product page."""

    code: str
    text: str


def from_price(product: Product) -> str:
    """The product's lowest price, as ``from €59.00``."""
    return f"from {money(min(v.price for v in product.variants), product.currency)}"


async def home(request: web.Request) -> web.StreamResponse:
    """``GET /``: every product, with a comparison form."""
    catalog = request.config_dict[CATALOG]
    return SHOP.render(
        request,
        "shop/home.html",
        {
            "page": PageContext("home"),
            "cards": [(product, from_price(product)) for product in catalog.products],
            "compare_min": COMPARE_MIN,
            "compare_max": COMPARE_MAX,
        },
    )


def _product(request: web.Request) -> Product:
    product_id = request.match_info["product_id"]
    product = request.config_dict[CATALOG].product(product_id)
    if product is None:
        raise WebError(404, f"There is no product {shown(product_id)} in this shop.")
    return product


def _chosen_variant(product: Product, variant_id: str | None) -> Variant:
    if variant_id is None:
        return next((v for v in product.variants if v.in_stock), product.variants[0])
    for variant in product.variants:
        if variant.id == variant_id:
            return variant
    raise WebError(404, f"{product.name} has no variant {shown(variant_id)} (query 'variant').")


def _shipping(catalog: Catalog, product: Product, code: str | None) -> ShippingCheck | None:
    if code is None:
        return None
    if code not in shipping_countries(catalog):
        raise WebError(400, f"Query 'ship_to': {shown(code)} is not a country this shop ships to.")
    place = country_name(code)
    if product.delivers_to(code):
        return ShippingCheck(
            code, f"Ships to {place} in about {product.delivery_days} working days."
        )
    return ShippingCheck(code, f"Sorry, the {product.name} does not ship to {place}.")


def _just_added(request: web.Request, product: Product) -> dict[str, str]:
    """What ``POST /cart/add`` just put in the cart, as page data for ``add_to_cart``.

    Read from a cookie the server set with the redirect and deleted by this page, so
    the event is reported once, with what the server accepted (not what the form
    said), and a reload of the page reports nothing again.
    """
    found = _ADDED.fullmatch(request.cookies.get(ADDED_COOKIE, ""))
    if not request.query.get("added") or found is None:
        return {}
    variant_id, count, add_id = found.groups()
    amount = quantity(count)
    variant = next((v for v in product.variants if v.id == variant_id), None)
    if variant is None or amount is None:
        return {}
    return {
        "added-id": add_id,
        "added-variant-id": variant.id,
        "added-quantity": str(amount),
        "added-value": str(variant.price * amount),
    }


async def product_page(request: web.Request) -> web.StreamResponse:
    """``GET /products/{id}``: variant picker, add to cart, shipping check."""
    catalog = request.config_dict[CATALOG]
    product = _product(request)
    chosen = _chosen_variant(product, request.query.get("variant"))
    shipping = _shipping(catalog, product, request.query.get("ship_to"))
    just_added = _just_added(request, product)
    page_data = {"product-id": product.id, "variant-id": chosen.id, "price": str(chosen.price)}
    response = SHOP.render(
        request,
        "shop/product.html",
        {
            # The option checked when the page opens is no choice of the shopper's: the
            # chat hears of a variant once one is added to the cart here, or picked (shop.js).
            "page": PageContext("product", product.id, just_added.get("added-variant-id")),
            "page_data": {**page_data, **just_added},
            "product": product,
            "chosen": chosen,
            "added": bool(request.query.get("added")),
            "shipping": shipping,
            "countries": shipping_countries(catalog),
            "default_country": catalog.default_country,
            "max_quantity": MAX_QUANTITY,
        },
    )
    if request.query.get("added") and ADDED_COOKIE in request.cookies:
        response.del_cookie(ADDED_COOKIE, path="/")
    return response


async def compare(request: web.Request) -> web.StreamResponse:
    """``GET /compare?product=a&product=b``: 2 to 4 products side by side."""
    catalog = request.config_dict[CATALOG]
    ids = list(dict.fromkeys(request.query.getall("product", [])))
    if not COMPARE_MIN <= len(ids) <= COMPARE_MAX:
        raise WebError(
            400,
            f"Choose {COMPARE_MIN} to {COMPARE_MAX} products to compare (query 'product'); "
            f"got {len(ids)}.",
        )
    products = []
    for product_id in ids:
        product = catalog.product(product_id)
        if product is None:
            raise WebError(404, f"There is no product {shown(product_id)} to compare.")
        products.append(product)
    rows = [
        ("Price", [from_price(p) for p in products]),
        ("Category", [p.category for p in products]),
        ("Options", [", ".join(v.name for v in p.variants) for p in products]),
        ("In stock", [str(sum(v.stock for v in p.variants)) for p in products]),
        ("Delivery", [f"{p.delivery_days} working days" for p in products]),
    ]
    return SHOP.render(
        request,
        "shop/compare.html",
        {
            "page": PageContext("other"),
            "page_data": {"product-ids": ",".join(p.id for p in products)},
            "products": products,
            "rows": rows,
        },
    )
