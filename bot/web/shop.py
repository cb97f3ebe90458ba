"""The demo shop at ``/``: the demo catalog as a small storefront with the assistant in it.

Product list, product pages with a variant picker and a shipping check, a
comparison table, a cart (kept in a cookie) and a checkout with a pretend
payment step. Every page embeds the tracking snippet and the chat widget with
the tags a real shop would paste, plus the page's context (page type, product,
variant, cart value); ``/static/shop.js`` reports what the shopper does as
storefront events. All catalog text is escaped, and a Content-Security-Policy
lets scripts come only from this web app.

``DEMO_SHOP=0`` turns the shop off (where the web app only serves a real shop's
widget and APIs).
"""

from __future__ import annotations

import html
import re
import secrets
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal
from functools import wraps
from typing import Any
from urllib.parse import urlencode

import pycountry
from aiohttp import web
from yarl import URL

from bot.catalog import Catalog, Product, Variant, load_catalog
from bot.settings import Settings, origin_of
from bot.web.bodies import read_form
from bot.web.errors import ApiError
from bot.web.keys import SETTINGS

CATALOG = web.AppKey("shop_catalog", Catalog)
CART_COOKIE = "shop_cart"
ORDER_COOKIE = "shop_order"
# What the last "add to cart" added, for the product page it leads to (read once).
ADDED_COOKIE = "shop_added"
ADDED_SECONDS = 300
CART_SECONDS = 7 * 86400
MAX_CART_LINES = 20
MAX_QUANTITY = 10
# Cookies and forms come from the browser: only these shapes are read, whatever
# else str.isdigit() or Decimal() would accept ("²", "1e30", "-5", "NaN").
_QUANTITY = re.compile(r"[0-9]{1,3}")
_ORDER = re.compile(r"([0-9A-F]{12}):([0-9]{1,10}(?:\.[0-9]{1,2})?)")
_ADDED = re.compile(r"([a-z0-9-]{1,120}):([0-9]{1,3}):([0-9a-f]{12})")
MAX_ORDER_TOTAL = Decimal("1000000000")
# Longest piece of a bad input quoted back in an error page.
SHOWN_CHARS = 60
COMPARE_MIN, COMPARE_MAX = 2, 4
PAYMENT_METHODS = {"card": "Card", "paypal": "PayPal", "transfer": "Bank transfer"}
CURRENCY_SYMBOLS = {"EUR": "€", "USD": "$", "GBP": "£"}
# The demo shows the widget's proactive rules; a real shop chooses its own.
PROACTIVE_PRODUCT_SECONDS = 45
PROACTIVE_CHECKOUT_IDLE_SECONDS = 40
PROACTIVE_MESSAGE = "Hi! Any questions about sizes, stock or delivery? I'm here to help."
_STYLE = """
*{box-sizing:border-box}body{font:16px/1.5 system-ui,sans-serif;margin:0;color:#1d232b;
background:#faf9f7}a{color:#1f5fa8}header.shop{background:#23313f;color:#fff;padding:.7rem 1.2rem;
display:flex;gap:1.2rem;align-items:center;flex-wrap:wrap}header.shop a{color:#fff;
text-decoration:none}header.shop .brand{font-weight:700;font-size:1.15rem;margin-right:auto}
main{max-width:64rem;margin:1.2rem auto;padding:0 1rem}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(14rem,1fr));gap:1rem;padding:0;
list-style:none}.card{background:#fff;border:1px solid #e3e0db;border-radius:8px;padding:1rem;
display:flex;flex-direction:column;gap:.35rem}.card h2{font-size:1.05rem;margin:0}
.muted{color:#616a75}.price{font-weight:600}.notice{background:#eef6ee;border:1px solid #b9d8b9;
padding:.6rem .8rem;border-radius:6px}.problem{background:#fdeeee;border:1px solid #efc0c0;
padding:.6rem .8rem;border-radius:6px}fieldset{border:1px solid #e3e0db;border-radius:8px;
margin:0 0 1rem;padding:.6rem 1rem}fieldset label{display:block;padding:.15rem 0}
button,.button{font:inherit;background:#1f5fa8;color:#fff;border:0;border-radius:6px;
padding:.5rem 1rem;cursor:pointer;text-decoration:none;display:inline-block}
button.link{background:none;color:#1f5fa8;padding:0;text-decoration:underline}
table{border-collapse:collapse;width:100%;background:#fff}th,td{text-align:left;padding:.4rem .6rem;
border-bottom:1px solid #eee;vertical-align:top}input,select{font:inherit}
footer{max-width:64rem;margin:2rem auto;padding:0 1rem;color:#616a75;font-size:.9rem}
pre{white-space:pre-wrap;word-break:break-all;background:#fff;border:1px solid #e3e0db;
padding:.6rem;border-radius:6px}
"""


class ShopProblem(Exception):
    """A request the shop cannot serve, answered with an HTML page (not JSON)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class PageContext:
    """What the widget sends with each chat message from this page."""

    page_type: str
    product_id: str | None = None
    variant_id: str | None = None


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


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _shown(value: str) -> str:
    """``value`` quoted for an error message, cut to :data:`SHOWN_CHARS`."""
    return repr(value if len(value) <= SHOWN_CHARS else value[:SHOWN_CHARS] + "…")


def _quantity(raw: str) -> int | None:
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


# -- cart ---------------------------------------------------------------------------------


def read_cart(request: web.Request) -> list[CartLine]:
    """The cart cookie's lines; unknown variants (the catalog changed) are left out."""
    catalog = request.app[CATALOG]
    lines: dict[str, CartLine] = {}
    for part in request.cookies.get(CART_COOKIE, "").split("|")[:MAX_CART_LINES]:
        variant_id, _, count = part.partition(":")
        found = catalog.variant(variant_id)
        quantity = _quantity(count)
        if found is None or quantity is None:
            continue
        product, variant = found
        lines[variant.id] = CartLine(product, variant, quantity)
    return list(lines.values())


def _cart_total(lines: Iterable[CartLine]) -> Decimal:
    return sum((line.total for line in lines), Decimal("0"))


def _with_cart(response: web.StreamResponse, lines: list[CartLine]) -> web.StreamResponse:
    value = "|".join(f"{line.variant.id}:{line.quantity}" for line in lines)
    if value:
        response.set_cookie(
            CART_COOKIE, value, max_age=CART_SECONDS, path="/", httponly=True, samesite="Lax"
        )
    else:
        response.del_cookie(CART_COOKIE, path="/")
    return response


# -- page frame -------------------------------------------------------------------------


def _asset_base(request: web.Request) -> str:
    settings = request.app[SETTINGS]
    return settings.public_url or f"{request.scheme}://{request.host}"


def _chat_url(request: web.Request) -> str:
    settings = request.app[SETTINGS]
    if settings.rasa_public_url:
        return settings.rasa_public_url
    # Not request.url: aiohttp 3.9.5 builds it with URL.build(host=<Host header>),
    # which yarl 1.25 refuses (ValueError) when the header carries a port.
    try:
        host = URL(f"//{request.host}").host
    except ValueError:
        host = None
    return f"{request.scheme}://{host or 'localhost'}:{settings.rasa_port}"


def _script(attributes: dict[str, str | None]) -> str:
    shown = " ".join(
        _e(name) if value == "" else f'{_e(name)}="{_e(value)}"'
        for name, value in attributes.items()
        if value is not None
    )
    return f"<script {shown} defer></script>"


def embed_tags(
    settings: Settings, base: str, chat_url: str, shop_name: str
) -> tuple[dict[str, str | None], dict[str, str | None]]:
    """Attributes of the snippet and widget tags a shop pastes into every page."""
    snippet: dict[str, str | None] = {
        "src": f"{base}/snippet.js",
        "data-token": settings.storefront_token or None,
    }
    widget: dict[str, str | None] = {
        "src": f"{base}/widget.js",
        "data-rasa-url": chat_url,
        "data-title": shop_name,
    }
    return snippet, widget


def _security_headers(request: web.Request) -> dict[str, str]:
    scripts = " ".join(dict.fromkeys(("'self'", origin_of(_asset_base(request)))))
    chat = origin_of(_chat_url(request))
    sockets = chat.replace("http", "ws", 1)
    return {
        "Content-Security-Policy": (
            f"default-src 'self'; script-src {scripts}; "
            f"connect-src {scripts} {chat} {sockets}; img-src 'self' data: https: http:; "
            "style-src 'self' 'unsafe-inline'; object-src 'none'; base-uri 'none'; "
            "form-action 'self'; frame-ancestors 'none'"
        ),
        "Cache-Control": "no-store",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "strict-origin-when-cross-origin",
    }


def _page(
    request: web.Request,
    title: str,
    body: str,
    context: PageContext,
    *,
    status: int = 200,
    page_data: dict[str, str] | None = None,
) -> web.Response:
    catalog = request.app[CATALOG]
    settings = request.app[SETTINGS]
    lines = read_cart(request)
    count = sum(line.quantity for line in lines)
    snippet, widget = embed_tags(
        settings, _asset_base(request), _chat_url(request), catalog.shop_name
    )
    widget.update(
        {
            "data-page-type": context.page_type,
            "data-product-id": context.product_id,
            "data-variant-id": context.variant_id,
            "data-cart-value": str(_cart_total(lines)) if lines else None,
            "data-proactive-product-seconds": str(PROACTIVE_PRODUCT_SECONDS),
            "data-proactive-checkout-idle-seconds": str(PROACTIVE_CHECKOUT_IDLE_SECONDS),
            "data-proactive-message": PROACTIVE_MESSAGE,
        }
    )
    data = " ".join(f'data-{_e(key)}="{_e(value)}"' for key, value in (page_data or {}).items())
    pasted = _e(f"{_script(snippet)}\n{_script(widget)}")
    document = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f'<link rel="icon" href="data:,"><title>{_e(title)} · {_e(catalog.shop_name)}</title>'
        f"<style>{_STYLE}</style>{_script(snippet)}{_script(widget)}"
        f"{_script({'src': _asset_base(request) + '/static/shop.js'})}</head><body>"
        f'<header class="shop"><a class="brand" href="/">{_e(catalog.shop_name)}</a>'
        f'<a href="/">Products</a><a href="/cart" id="cart-link">Cart ({count})</a></header>'
        f'<main data-page="{_e(context.page_type)}" {data}>{body}</main>'
        "<footer><p>A demo shop of the storefront lead assistant: chat with the assistant "
        'in the corner; sales see the leads at <a href="/leads">/leads</a>.</p>'
        "<p>To add the assistant to another shop, paste into its pages:</p>"
        f"<pre><code>{pasted}</code></pre></footer></body></html>"
    )
    return web.Response(
        text=document,
        status=status,
        content_type="text/html",
        charset="utf-8",
        headers=_security_headers(request),
    )


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _shop_page(handler: Handler) -> Handler:
    """Answer :class:`ShopProblem` with a shop page rather than the API's JSON error."""

    @wraps(handler)
    async def wrapper(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except ShopProblem as problem:
            body = (
                f'<h1>Sorry</h1><p class="problem" role="alert">{_e(problem.message)}</p>'
                '<p><a href="/">Back to the products</a></p>'
            )
            return _page(request, "Sorry", body, PageContext("other"), status=problem.status)

    return wrapper


def _redirect(location: str) -> web.Response:
    return web.Response(status=303, headers={"Location": location, "Cache-Control": "no-store"})


# -- pages ------------------------------------------------------------------------------


def _from_price(product: Product) -> str:
    return f"from {money(min(v.price for v in product.variants), product.currency)}"


@_shop_page
async def home(request: web.Request) -> web.StreamResponse:
    """``GET /``: every product, with a comparison form."""
    catalog = request.app[CATALOG]
    cards = "".join(
        f'<li class="card"><h2><a href="/products/{_e(p.id)}">{_e(p.name)}</a></h2>'
        f'<span class="muted">{_e(p.category)}</span><span>{_e(p.description)}</span>'
        f'<span class="price">{_e(_from_price(p))}</span>'
        f'<label><input type="checkbox" name="product" value="{_e(p.id)}" form="compare"> '
        "Compare</label></li>"
        for p in catalog.products
    )
    body = (
        f"<h1>{_e(catalog.shop_name)}</h1>"
        f'<form id="compare" action="/compare" method="get"><button>Compare selected '
        f"({COMPARE_MIN}&ndash;{COMPARE_MAX})</button></form>"
        f'<ul class="grid" aria-label="Products">{cards}</ul>'
    )
    return _page(request, "Products", body, PageContext("home"))


def _product(request: web.Request) -> Product:
    product_id = request.match_info["product_id"]
    product = request.app[CATALOG].product(product_id)
    if product is None:
        raise ShopProblem(404, f"There is no product {_shown(product_id)} in this shop.")
    return product


def _chosen_variant(product: Product, variant_id: str | None) -> Variant:
    if variant_id is None:
        return next((v for v in product.variants if v.in_stock), product.variants[0])
    for variant in product.variants:
        if variant.id == variant_id:
            return variant
    raise ShopProblem(404, f"{product.name} has no variant {_shown(variant_id)} (query 'variant').")


def _shipping_countries(catalog: Catalog) -> list[str]:
    codes = {code for product in catalog.products for code in product.ships_to}
    return sorted(codes, key=country_name)


def _shipping_result(catalog: Catalog, product: Product, code: str | None) -> str:
    if code is None:
        return ""
    if code not in _shipping_countries(catalog):
        raise ShopProblem(
            400, f"Query 'ship_to': {_shown(code)} is not a country this shop ships to."
        )
    place = country_name(code)
    if product.delivers_to(code):
        text = f"Ships to {place} in about {product.delivery_days} working days."
    else:
        text = f"Sorry, the {product.name} does not ship to {place}."
    return f'<p class="notice" role="status" data-shipping-check="{_e(code)}">{_e(text)}</p>'


@_shop_page
async def product_page(request: web.Request) -> web.StreamResponse:
    """``GET /products/{id}``: variant picker, add to cart, shipping check."""
    catalog = request.app[CATALOG]
    product = _product(request)
    chosen = _chosen_variant(product, request.query.get("variant"))
    options = "".join(
        f'<label><input type="radio" name="variant_id" value="{_e(v.id)}" '
        f'data-price="{_e(v.price)}" data-price-label="{_e(money(v.price, v.currency))}"'
        f"{' checked' if v.id == chosen.id else ''}"
        f"{'' if v.in_stock else ' disabled'}> {_e(v.name)} — "
        f"{_e(money(v.price, v.currency))}"
        f"{'' if v.in_stock else ' (out of stock)'}</label>"
        for v in product.variants
    )
    added = (
        '<p class="notice" role="status">Added to your cart. <a href="/cart">View cart</a> · '
        '<a href="/checkout">Checkout</a></p>'
        if request.query.get("added")
        else ""
    )
    page_data = {"product-id": product.id, "variant-id": chosen.id, "price": str(chosen.price)}
    just_added = _just_added(request, product)
    page_data.update(just_added)
    countries = "".join(
        f'<option value="{_e(code)}"{" selected" if code == catalog.default_country else ""}>'
        f"{_e(country_name(code))}</option>"
        for code in _shipping_countries(catalog)
    )
    body = (
        f'<p><a href="/">Products</a> &rsaquo; {_e(product.category)}</p>{added}'
        f"<h1>{_e(product.name)}</h1><p>{_e(product.description)}</p>"
        f'<p class="price" id="price">{_e(money(chosen.price, chosen.currency))}</p>'
        '<form method="post" action="/cart/add" id="add-to-cart">'
        f"<fieldset><legend>Options</legend>{options}</fieldset>"
        f'<label>Quantity <input type="number" name="quantity" value="1" min="1" '
        f'max="{MAX_QUANTITY}" required></label> <button>Add to cart</button></form>'
        f'<h2>Delivery</h2><form method="get" action="/products/{_e(product.id)}">'
        f'<input type="hidden" name="variant" value="{_e(chosen.id)}" id="ship-variant">'
        f'<label>Check delivery to <select name="ship_to">{countries}</select></label> '
        f"<button>Check</button></form>"
        f"{_shipping_result(catalog, product, request.query.get('ship_to'))}"
    )
    response = _page(
        request,
        product.name,
        body,
        # The option checked when the page opens is no choice of the shopper's: the chat
        # hears of a variant once one is added to the cart here, or picked (shop.js).
        PageContext("product", product.id, just_added.get("added-variant-id")),
        page_data=page_data,
    )
    if request.query.get("added") and ADDED_COOKIE in request.cookies:
        response.del_cookie(ADDED_COOKIE, path="/")
    return response


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
    quantity = _quantity(count)
    variant = next((v for v in product.variants if v.id == variant_id), None)
    if variant is None or quantity is None:
        return {}
    return {
        "added-id": add_id,
        "added-variant-id": variant.id,
        "added-quantity": str(quantity),
        "added-value": str(variant.price * quantity),
    }


@_shop_page
async def compare(request: web.Request) -> web.StreamResponse:
    """``GET /compare?product=a&product=b``: 2 to 4 products side by side."""
    catalog = request.app[CATALOG]
    ids = list(dict.fromkeys(request.query.getall("product", [])))
    if not COMPARE_MIN <= len(ids) <= COMPARE_MAX:
        raise ShopProblem(
            400,
            f"Choose {COMPARE_MIN} to {COMPARE_MAX} products to compare (query 'product'); "
            f"got {len(ids)}.",
        )
    products = []
    for product_id in ids:
        product = catalog.product(product_id)
        if product is None:
            raise ShopProblem(404, f"There is no product {_shown(product_id)} to compare.")
        products.append(product)
    rows = [
        ("Price", [_from_price(p) for p in products]),
        ("Category", [p.category for p in products]),
        ("Options", [", ".join(v.name for v in p.variants) for p in products]),
        ("In stock", [str(sum(v.stock for v in p.variants)) for p in products]),
        ("Delivery", [f"{p.delivery_days} working days" for p in products]),
    ]
    head = "".join(
        f'<th scope="col"><a href="/products/{_e(p.id)}">{_e(p.name)}</a></th>' for p in products
    )
    body_rows = "".join(
        f'<tr><th scope="row">{_e(label)}</th>{"".join(f"<td>{_e(v)}</td>" for v in values)}</tr>'
        for label, values in rows
    )
    body = (
        f"<h1>Compare</h1><table><thead><tr><td></td>{head}</tr></thead>"
        f"<tbody>{body_rows}</tbody></table>"
    )
    return _page(
        request,
        "Compare",
        body,
        PageContext("other"),
        page_data={"product-ids": ",".join(p.id for p in products)},
    )


@_shop_page
async def cart(request: web.Request) -> web.StreamResponse:
    """``GET /cart``."""
    catalog = request.app[CATALOG]
    lines = read_cart(request)
    if not lines:
        body = '<h1>Your cart</h1><p>Your cart is empty. <a href="/">Browse the products</a>.</p>'
        return _page(request, "Cart", body, PageContext("cart"))
    rows = "".join(
        f'<tr><td><a href="/products/{_e(line.product.id)}?'
        f'{_e(urlencode({"variant": line.variant.id}))}">'
        f"{_e(line.product.variant_label(line.variant))}</a></td><td>{line.quantity}</td>"
        f"<td>{_e(money(line.total, line.variant.currency))}</td>"
        '<td><form method="post" action="/cart/remove">'
        f'<input type="hidden" name="variant_id" value="{_e(line.variant.id)}">'
        f'<button class="link" aria-label="Remove {_e(line.product.variant_label(line.variant))}">'
        "Remove</button></form></td></tr>"
        for line in lines
    )
    total = money(_cart_total(lines), catalog.currency)
    body = (
        '<h1>Your cart</h1><table><thead><tr><th scope="col">Item</th><th scope="col">Qty</th>'
        f'<th scope="col">Price</th><td></td></tr></thead><tbody>{rows}</tbody></table>'
        f'<p class="price">Total {_e(total)}</p>'
        '<p><a class="button" href="/checkout">Checkout</a></p>'
    )
    return _page(request, "Cart", body, PageContext("cart"))


async def _form(request: web.Request) -> dict[str, str]:
    try:
        form = await read_form(request)
    except ApiError as exc:
        raise ShopProblem(exc.status, f"The form could not be read: {exc.message}.") from None
    return {name: value for name, value in form.items() if isinstance(value, str)}


def _form_variant(request: web.Request, form: dict[str, str]) -> tuple[Product, Variant]:
    variant_id = form.get("variant_id", "").strip()
    if not variant_id:
        raise ShopProblem(400, "Field 'variant_id' is required: choose an option.")
    found = request.app[CATALOG].variant(variant_id)
    if found is None:
        raise ShopProblem(400, f"Field 'variant_id': there is no variant {_shown(variant_id)}.")
    return found


@_shop_page
async def add_to_cart(request: web.Request) -> web.StreamResponse:
    """``POST /cart/add`` (variant_id, quantity): back to the product page."""
    form = await _form(request)
    product, variant = _form_variant(request, form)
    raw = form.get("quantity", "1").strip()
    added = _quantity(raw)
    if added is None:
        raise ShopProblem(
            400,
            f"Field 'quantity' must be a whole number from 1 to {MAX_QUANTITY}, got {_shown(raw)}.",
        )
    lines = {line.variant.id: line for line in read_cart(request)}
    quantity = added + (lines[variant.id].quantity if variant.id in lines else 0)
    if quantity > variant.stock:
        raise ShopProblem(
            400,
            f"Field 'quantity': only {variant.stock} of {product.variant_label(variant)} in stock.",
        )
    if quantity > MAX_QUANTITY:
        raise ShopProblem(400, f"Field 'quantity': at most {MAX_QUANTITY} of one item per order.")
    if variant.id not in lines and len(lines) >= MAX_CART_LINES:
        raise ShopProblem(400, f"The cart holds at most {MAX_CART_LINES} different items.")
    lines[variant.id] = CartLine(product, variant, quantity)
    target = f"/products/{product.id}?{urlencode({'variant': variant.id, 'added': 1})}"
    response = _with_cart(_redirect(target), list(lines.values()))
    response.set_cookie(
        ADDED_COOKIE,
        f"{variant.id}:{added}:{secrets.token_hex(6)}",
        max_age=ADDED_SECONDS,
        path="/",
        httponly=True,
        samesite="Lax",
    )
    return response


@_shop_page
async def remove_from_cart(request: web.Request) -> web.StreamResponse:
    """``POST /cart/remove`` (variant_id)."""
    _, variant = _form_variant(request, await _form(request))
    lines = [line for line in read_cart(request) if line.variant.id != variant.id]
    return _with_cart(_redirect("/cart"), lines)


def _checkout_form(catalog: Catalog, lines: list[CartLine]) -> str:
    countries = "".join(
        f'<option value="{_e(code)}"{" selected" if code == catalog.default_country else ""}>'
        f"{_e(country_name(code))}</option>"
        for code in _shipping_countries(catalog)
    )
    methods = "".join(
        f'<label><input type="radio" name="payment" value="{_e(key)}" required> {_e(label)}</label>'
        for key, label in PAYMENT_METHODS.items()
    )
    items = "".join(
        f"<li>{line.quantity} &times; {_e(line.product.variant_label(line.variant))} — "
        f"{_e(money(line.total, line.variant.currency))}</li>"
        for line in lines
    )
    total = money(_cart_total(lines), catalog.currency)
    return (
        f'<h1>Checkout</h1><ul>{items}</ul><p class="price">Total {_e(total)}</p>'
        '<form method="post" action="/checkout">'
        f'<fieldset><legend>Delivery</legend><label>Country <select name="country">{countries}'
        "</select></label></fieldset>"
        f"<fieldset><legend>Payment</legend>{methods}"
        '<p class="muted">This is a demo: no payment is taken.</p></fieldset>'
        "<button>Place order</button></form>"
    )


@_shop_page
async def checkout(request: web.Request) -> web.StreamResponse:
    """``GET /checkout``: the start of the checkout (an empty cart goes back to the cart)."""
    lines = read_cart(request)
    if not lines:
        return _redirect("/cart")
    catalog = request.app[CATALOG]
    return _page(
        request,
        "Checkout",
        _checkout_form(catalog, lines),
        PageContext("checkout"),
        page_data={"cart-value": str(_cart_total(lines))},
    )


@_shop_page
async def place_order(request: web.Request) -> web.StreamResponse:
    """``POST /checkout`` (country, payment): empties the cart, shows the confirmation."""
    lines = read_cart(request)
    if not lines:
        raise ShopProblem(400, "Your cart is empty: there is nothing to order.")
    form = await _form(request)
    code = form.get("country", "").strip().upper()
    if code not in _shipping_countries(request.app[CATALOG]):
        raise ShopProblem(
            400, f"Field 'country': {_shown(code or '(empty)')} is not a delivery country."
        )
    undeliverable = [line.product.name for line in lines if not line.product.delivers_to(code)]
    if undeliverable:
        raise ShopProblem(
            400,
            f"Field 'country': {', '.join(undeliverable)} cannot be delivered to "
            f"{country_name(code)}.",
        )
    payment = form.get("payment", "")
    if payment not in PAYMENT_METHODS:
        raise ShopProblem(
            400,
            f"Field 'payment' must be one of {', '.join(PAYMENT_METHODS)}, got {_shown(payment)}.",
        )
    order = f"{secrets.token_hex(6).upper()}:{_cart_total(lines):.2f}"
    response = _with_cart(_redirect("/checkout/complete"), [])
    response.set_cookie(ORDER_COOKIE, order, path="/", httponly=True, samesite="Lax")
    return response


@_shop_page
async def order_complete(request: web.Request) -> web.StreamResponse:
    """``GET /checkout/complete``: the confirmation of the last order."""
    found = _ORDER.fullmatch(request.cookies.get(ORDER_COOKIE, ""))
    value = Decimal(found.group(2)) if found else MAX_ORDER_TOTAL + 1
    if found is None or value > MAX_ORDER_TOTAL:
        raise ShopProblem(404, "There is no recent order to show.")
    order_id = found.group(1)
    catalog = request.app[CATALOG]
    body = (
        f"<h1>Thank you!</h1><p>Order {_e(order_id)} is confirmed: "
        f"{_e(money(value, catalog.currency))}.</p>"
        '<p><a href="/">Continue shopping</a></p>'
    )
    return _page(
        request,
        "Order confirmed",
        body,
        PageContext("other"),
        page_data={"order-id": order_id, "order-value": str(value)},
    )


def setup(app: web.Application) -> None:
    """Register the shop's pages (unless ``DEMO_SHOP`` is off)."""
    settings = app[SETTINGS]
    if not settings.demo_shop:
        return
    app[CATALOG] = load_catalog(settings.catalog_path)
    app.router.add_get("/", home)
    app.router.add_get("/products/{product_id}", product_page)
    app.router.add_get("/compare", compare)
    app.router.add_get("/cart", cart)
    app.router.add_post("/cart/add", add_to_cart)
    app.router.add_post("/cart/remove", remove_from_cart)
    app.router.add_get("/checkout", checkout)
    app.router.add_post("/checkout", place_order)
    app.router.add_get("/checkout/complete", order_complete)
