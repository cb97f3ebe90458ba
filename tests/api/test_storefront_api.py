"""Widget files, demo shop pages, CORS for shop pages, and event beacons (aiohttp test client)."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.catalog import DEMO_CATALOG, load_catalog
from bot.settings import Settings
from bot.store.db import create_db_engine
from bot.store.tokens import TokenStore
from bot.web import create_app
from bot.web.assets import STATIC_DIR

TOKEN = "sales-token-123"
SHOP_TOKEN = "storefront-token-456"
PUBLIC_URL = "http://127.0.0.1:8000"
CHAT_URL = "http://127.0.0.1:5005"
SHOP_ORIGIN = "https://shop.example.com"
EVENTS = "/api/v2/events"
VENDOR = STATIC_DIR / "vendor"
CATALOG = load_catalog(DEMO_CATALOG)
MARKUP_NAME = 'Lantern <img src=x onerror=alert(1)> & "Co"'


@pytest.fixture(autouse=True)
def _migrated(migrated_sqlite_url: str) -> None:
    """The lead store of ``_settings`` (the test's ``leads.db``), already migrated."""


def _settings(tmp_path: Path, **changes: Any) -> Settings:
    return replace(
        Settings(),
        database_url=f"sqlite:///{tmp_path / 'leads.db'}",
        tracker_store_url=f"sqlite:///{tmp_path / 'tracker.db'}",
        leads_api_token=TOKEN,
        storefront_token=SHOP_TOKEN,
        spool_dir=tmp_path / "spool",
        public_url=PUBLIC_URL,
        rasa_public_url=CHAT_URL,
        **changes,
    )


async def _client(settings: Settings) -> TestClient:
    client = TestClient(TestServer(create_app(settings)))
    await client.start_server()
    return client


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[TestClient]:
    test = await _client(_settings(tmp_path))
    yield test
    await test.close()


@pytest.fixture
async def strict_client(tmp_path: Path) -> AsyncIterator[TestClient]:
    """Only https://shop.example.com (and the web app itself) may call from a browser."""
    test = await _client(_settings(tmp_path, shop_origins=(SHOP_ORIGIN,)))
    yield test
    await test.close()


def _event(event_id: str, session_id: str = "beacon-1", kind: str = "product_view") -> dict:
    ts = datetime.now(timezone.utc).isoformat().replace("+00:00", "Z")
    return {"event_id": event_id, "session_id": session_id, "type": kind, "ts": ts}


def _tag(page: str, src_suffix: str) -> dict[str, str]:
    """Attributes of the <script> tag whose src ends with ``src_suffix``."""
    for attributes in re.findall(r"<script ([^>]*)>", page):
        pairs = dict(re.findall(r'([\w-]+)="([^"]*)"', attributes))
        if pairs.get("src", "").endswith(src_suffix):
            return pairs
    raise AssertionError(f"no <script> for {src_suffix} in the page")


async def _page(client: TestClient, path: str, status: int = 200, **kwargs: Any) -> str:
    response = await client.get(path, allow_redirects=False, **kwargs)
    text = await response.text()
    assert response.status == status, text[:2000]
    assert response.content_type == "text/html"
    return text


# --- the widget's files ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "file", "max_age"),
    [
        ("/widget.js", "widget.js", 300),  # pasted at a fixed URL: revalidated often
        ("/snippet.js", "snippet.js", 300),
        ("/static/shop.js", "shop.js", 300),
        ("/static/socket.io.min.js", "vendor/socket.io.min.js", 86400),  # changes with make
    ],
)
async def test_files_are_javascript_cacheable_and_readable_from_any_origin(
    client: TestClient, path: str, file: str, max_age: int
) -> None:
    response = await client.get(path, headers={"Accept-Encoding": "identity"})
    assert response.status == 200
    assert response.headers["Content-Type"] == "text/javascript; charset=utf-8"
    assert response.headers["Cache-Control"] == f"public, max-age={max_age}"
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "Content-Encoding" not in response.headers
    assert await response.read() == (STATIC_DIR / file).read_bytes()

    again = await client.get(path, headers={"If-None-Match": response.headers["ETag"]})
    assert again.status == 304
    assert await again.read() == b""


async def test_files_are_gzipped_for_browsers_that_accept_it(client: TestClient) -> None:
    response = await client.get("/widget.js", headers={"Accept-Encoding": "gzip, deflate, br"})
    assert response.headers["Content-Encoding"] == "gzip"
    assert response.headers["Vary"] == "Accept-Encoding"
    assert int(response.headers["Content-Length"]) < (STATIC_DIR / "widget.js").stat().st_size
    assert await response.read() == (STATIC_DIR / "widget.js").read_bytes()
    # The gzip copy's ETag revalidates the plain one too (same content).
    plain = await client.get(
        "/widget.js",
        headers={"Accept-Encoding": "identity", "If-None-Match": response.headers["ETag"]},
    )
    assert plain.status == 304


@pytest.mark.parametrize("coding", ["identity", "gzip;q=0", "br"])
async def test_no_gzip_unless_accepted(client: TestClient, coding: str) -> None:
    response = await client.get("/snippet.js", headers={"Accept-Encoding": coding})
    assert "Content-Encoding" not in response.headers


async def test_head_and_unknown_files(client: TestClient) -> None:
    head = await client.head("/widget.js")
    assert head.status == 200 and head.headers["Content-Type"].startswith("text/javascript")
    assert (await client.get("/static/nope.js")).status == 404
    assert (await client.get("/static/vendor/package.json")).status == 404


def test_vendored_socket_io_client_is_the_pinned_version() -> None:
    pinned = json.loads((VENDOR / "package.json").read_text())["dependencies"]["socket.io-client"]
    locked = json.loads((VENDOR / "package-lock.json").read_text())
    assert locked["packages"]["node_modules/socket.io-client"]["version"] == pinned
    header = (VENDOR / "socket.io.min.js").read_text()[:200]
    assert f"Socket.IO v{pinned}" in header


@pytest.mark.parametrize("file", ["widget.js", "snippet.js", "shop.js"])
def test_scripts_never_parse_data_as_html(file: str) -> None:
    source = (STATIC_DIR / file).read_text()
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
        assert sink not in source, f"{file} uses {sink}"


def test_widget_loads_the_served_socket_io_client_and_stays_small() -> None:
    source = (STATIC_DIR / "widget.js").read_text()
    assert '"/static/socket.io.min.js"' in source
    # README states the size; keep it a small script.
    assert len(source.encode()) < 28_000


# --- the demo shop -------------------------------------------------------------------------


async def test_home_lists_the_catalog_and_embeds_snippet_and_widget(client: TestClient) -> None:
    response = await client.get("/")
    page = await response.text()
    for product in CATALOG.products:
        assert f'href="/products/{product.id}"' in page
    snippet = _tag(page, "/snippet.js")
    assert snippet == {"src": f"{PUBLIC_URL}/snippet.js", "data-token": SHOP_TOKEN}
    widget = _tag(page, "/widget.js")
    assert widget["data-rasa-url"] == CHAT_URL
    assert widget["data-page-type"] == "home"
    assert "data-product-id" not in widget and "data-cart-value" not in widget
    policy = response.headers["Content-Security-Policy"]
    assert f"script-src 'self' {PUBLIC_URL};" in policy
    assert f"{CHAT_URL} ws://127.0.0.1:5005" in policy


async def test_product_page_has_a_variant_picker_and_page_context(client: TestClient) -> None:
    page = await _page(client, "/products/hoodie-classic")
    product = CATALOG.product("hoodie-classic")
    assert product is not None
    radios = re.findall(r'<input type="radio" name="variant_id" value="([^"]+)"[^>]*>', page)
    assert radios == [variant.id for variant in product.variants]
    assert re.search(r'value="hoodie-classic-blue-l"[^>]* disabled>', page)  # stock 0
    assert re.search(r'value="hoodie-classic-blue-s"[^>]* checked', page)  # the first in stock
    widget = _tag(page, "/widget.js")
    assert (widget["data-page-type"], widget["data-product-id"]) == ("product", "hoodie-classic")
    # The option checked by default is no choice of the shopper's: the chat is not told.
    assert "data-variant-id" not in widget
    chosen = await _page(client, "/products/hoodie-classic?variant=hoodie-classic-black-xl")
    assert re.search(r'value="hoodie-classic-black-xl"[^>]* checked', chosen)
    assert "data-variant-id" not in _tag(chosen, "/widget.js")
    assert "€64.00" in chosen


@pytest.mark.parametrize(
    ("path", "status", "says"),
    [
        ("/products/no-such-thing", 404, "no product"),
        ("/products/hoodie-classic?variant=tee-organic-white-m", 404, "query &#x27;variant&#x27;"),
        ("/products/hoodie-classic?ship_to=XX", 400, "Query &#x27;ship_to&#x27;"),
        ("/compare?product=hoodie-classic", 400, "query &#x27;product&#x27;"),
        ("/compare", 400, "got 0"),
        ("/compare?product=hoodie-classic&product=nope", 404, "no product"),
        ("/checkout/complete", 404, "no recent order"),
    ],
)
async def test_bad_shop_requests_get_an_html_page_naming_the_problem(
    client: TestClient, path: str, status: int, says: str
) -> None:
    page = await _page(client, path, status)
    assert says in page
    assert _tag(page, "/widget.js")["data-page-type"] == "other"


async def test_shipping_check_and_compare(client: TestClient) -> None:
    page = await _page(client, "/products/hoodie-classic?ship_to=US")
    assert 'data-shipping-check="US"' in page and "does not ship to United States" in page
    page = await _page(client, "/products/tee-organic?ship_to=US")
    assert "Ships to United States in about 3 working days" in page
    page = await _page(client, "/compare?product=hoodie-classic&product=tee-organic")
    assert 'data-product-ids="hoodie-classic,tee-organic"' in page
    assert page.count('<th scope="col">') == 2


async def test_catalog_text_is_escaped_everywhere(tmp_path: Path) -> None:
    catalog = tmp_path / "catalog.yml"
    product = {
        "id": "lantern",
        "name": MARKUP_NAME,
        "category": "<b>home</b>",
        "description": "<script>alert(2)</script>",
        "price": "19.00",
        "currency": "EUR",
        "ships_to": ["FR"],
        "delivery_days": 3,
        "variants": [
            {"id": "lantern-amber", "name": "<i>amber</i>", "options": {"c": "a"}, "stock": 2}
        ],
    }
    catalog.write_text(DEMO_CATALOG.read_text() + f"\n  - {json.dumps(product)}\n")
    client = await _client(_settings(tmp_path, catalog_path=catalog))
    try:
        pages = [await _page(client, "/"), await _page(client, "/products/lantern")]
        await client.post("/cart/add", data={"variant_id": "lantern-amber"}, allow_redirects=False)
        pages.append(await _page(client, "/cart"))
        pages.append(await _page(client, "/checkout"))
    finally:
        await client.close()
    for page in pages:
        for raw in ("<img src=x", "<script>alert", "<b>home", "<i>amber"):
            assert raw not in page
    assert "Lantern &lt;img src=x onerror=alert(1)&gt; &amp; &quot;Co&quot;" in pages[1]


async def test_cart_and_checkout(client: TestClient) -> None:
    added = await client.post(
        "/cart/add",
        data={"variant_id": "hoodie-classic-blue-m", "quantity": "2"},
        allow_redirects=False,
    )
    assert added.status == 303
    assert added.headers["Location"] == (
        "/products/hoodie-classic?variant=hoodie-classic-blue-m&added=1"
    )
    assert "HttpOnly" in added.headers["Set-Cookie"]
    back = await _page(client, added.headers["Location"])
    assert "Added to your cart" in back and "Cart (2)" in back
    assert _tag(back, "/widget.js")["data-cart-value"] == "118.00"
    # Added to the cart: the shopper's choice, which the chat hears of.
    assert _tag(back, "/widget.js")["data-variant-id"] == "hoodie-classic-blue-m"
    cart = await _page(client, "/cart")
    assert "Classic Hoodie — blue, M" in cart and "Total €118.00" in cart
    assert _tag(cart, "/widget.js")["data-page-type"] == "cart"

    checkout = await _page(client, "/checkout")
    assert _tag(checkout, "/widget.js")["data-page-type"] == "checkout"
    assert 'data-cart-value="118.00"' in checkout
    ordered = await client.post(
        "/checkout", data={"country": "FR", "payment": "card"}, allow_redirects=False
    )
    assert (ordered.status, ordered.headers["Location"]) == (303, "/checkout/complete")
    complete = await _page(client, "/checkout/complete")
    assert 'data-order-value="118.00"' in complete and "€118.00" in complete
    assert "Cart (0)" in complete
    assert (await client.get("/checkout", allow_redirects=False)).headers["Location"] == "/cart"


async def test_removing_from_the_cart(client: TestClient) -> None:
    await client.post("/cart/add", data={"variant_id": "tee-organic-white-m"})
    removed = await client.post(
        "/cart/remove", data={"variant_id": "tee-organic-white-m"}, allow_redirects=False
    )
    assert removed.headers["Location"] == "/cart"
    assert "Your cart is empty" in await _page(client, "/cart")


@pytest.mark.parametrize(
    ("form", "says"),
    [
        ({}, "Field &#x27;variant_id&#x27; is required"),
        ({"variant_id": "nope"}, "there is no variant &#x27;nope&#x27;"),
        ({"variant_id": "tee-organic-white-m", "quantity": "abc"}, "Field &#x27;quantity&#x27;"),
        ({"variant_id": "tee-organic-white-m", "quantity": "0"}, "Field &#x27;quantity&#x27;"),
        ({"variant_id": "tee-organic-white-m", "quantity": "11"}, "from 1 to 10"),
        ({"variant_id": "hoodie-classic-black-xl", "quantity": "3"}, "only 2"),  # stock 2
        ({"variant_id": "hoodie-classic-blue-l"}, "only 0"),  # out of stock
    ],
)
async def test_bad_cart_input_is_400_naming_the_field(
    client: TestClient, form: dict[str, str], says: str
) -> None:
    response = await client.post("/cart/add", data=form, allow_redirects=False)
    assert response.status == 400
    assert says in await response.text()
    assert "Set-Cookie" not in response.headers


@pytest.mark.parametrize(
    ("form", "says"),
    [
        ({"country": "ZZ", "payment": "card"}, "Field &#x27;country&#x27;"),
        ({"country": "US", "payment": "card"}, "cannot be delivered to United States"),
        ({"country": "FR", "payment": "gold"}, "Field &#x27;payment&#x27; must be one of"),
        ({"country": "FR"}, "Field &#x27;payment&#x27;"),
    ],
)
async def test_bad_checkout_input_is_400_naming_the_field(
    client: TestClient, form: dict[str, str], says: str
) -> None:
    await client.post("/cart/add", data={"variant_id": "hoodie-classic-blue-m"})
    response = await client.post("/checkout", data=form, allow_redirects=False)
    assert response.status == 400
    assert says in await response.text()


def _short(value: object) -> str:
    """A test id for a long or odd parameter."""
    text = ascii(value)
    return text if len(text) <= 40 else f"{text[:30]}...({len(text)} chars)"


# Cookies are the browser's to change: a bad one is ignored, never a 500 on every page.
ODD_CARTS = [
    '"hoodie-classic-blue-m:\\262"',  # "²": str.isdigit() says yes, int() says no
    "hoodie-classic-blue-m:\u0663".encode().decode("latin-1"),  # Arabic-Indic 3 (UTF-8)
    "hoodie-classic-blue-m:" + "9" * 5000,  # past int()'s digit limit
    "hoodie-classic-blue-m:-1|hoodie-classic-blue-m:1e3|hoodie-classic-blue-m:0",
    "no-such-variant:1|" * 40,
    '"hoodie-classic-blue-m:1\\000"',  # NUL
    "hoodie-classic-blue-m:\xff\xfe".encode().decode("latin-1"),
]


@pytest.mark.parametrize("cart", ODD_CARTS, ids=_short)
async def test_odd_cart_cookies_are_ignored(client: TestClient, cart: str) -> None:
    for path in ("/", "/cart", "/checkout", "/products/hoodie-classic"):
        response = await client.get(
            path, headers={"Cookie": f"shop_cart={cart}"}, allow_redirects=False
        )
        assert response.status in (200, 303), (path, await response.text())
        if response.status == 200:
            assert "Cart (0)" in await response.text()


@pytest.mark.parametrize(
    "order",
    [
        "AB12CD34EF56:1e30",  # Decimal reads it; quantize() cannot
        "AB12CD34EF56:-5",  # a negative total
        "AB12CD34EF56:NaN",
        "AB12CD34EF56:1000000000.01",  # over the bound
        "AB12CD34EF56:1.005",  # more than cents
        "AB12CD34EF56:" + "1" * 5000,
        '"\\262\\262:1"',  # "²²": isalnum() says yes
        "<b>x</b>:1",
        "AB12CD34EF56",
        '"AB12CD34EF56:1\\000"',
    ],
    ids=_short,
)
async def test_odd_order_cookies_show_no_order(client: TestClient, order: str) -> None:
    page = await _page(client, "/checkout/complete", 404, headers={"Cookie": f"shop_order={order}"})
    assert "no recent order" in page


@pytest.mark.parametrize(
    ("body", "content_type", "says"),
    [
        (b"variant_id=x", "application/x-www-form-urlencoded; charset=bogus", "unknown charset"),
        (b"variant_id=\xff\xfe", "application/x-www-form-urlencoded", "could not be read"),
        (
            b"--b\r\nBad Header\r\n\r\nvalue\r\n--b--\r\n",
            "multipart/form-data; boundary=b",
            "part header",
        ),
        (
            b"--b\r\nContent-Disposition: form-data\r\n\r\nvalue\r\n--b--\r\n",
            "multipart/form-data; boundary=b",
            "no name",
        ),
        (
            b"--b\r\nContent-Disposition: form-data; name=variant_id\r\n\r\nvalue",
            "multipart/form-data; boundary=b",
            "ends early",
        ),
        (
            b"--b\r\nContent-Disposition: form-data; name=variant_id\r\n"
            b"Content-Type: text/plain; charset=bogus\r\n\r\nvalue\r\n--b--\r\n",
            "multipart/form-data; boundary=b",
            "unknown charset",
        ),
        (
            b"--b\r\nContent-Disposition: form-data; name=variant_id\r\n"
            b"Content-Transfer-Encoding: rot13\r\n\r\nvalue\r\n--b--\r\n",
            "multipart/form-data; boundary=b",
            "transfer encoding",
        ),
        (b"--\r\n", 'multipart/form-data; boundary=""', "could not be read"),
        (b"x", "multipart/form-data", "could not be read"),  # no boundary
    ],
)
async def test_unreadable_forms_are_400_naming_the_problem(
    client: TestClient, body: bytes, content_type: str, says: str
) -> None:
    await client.post("/cart/add", data={"variant_id": "tee-organic-white-m"})
    for path in ("/cart/add", "/cart/remove", "/checkout"):
        response = await client.post(
            path, data=body, headers={"Content-Type": content_type}, allow_redirects=False
        )
        page = await response.text()
        assert response.status == 400, (path, page)
        assert "The form could not be read" in page and says in page


@pytest.mark.parametrize(
    "quantity",
    ["\u00b2", "\u0663", "\uff13", "1\u0000", "9" * 5000, "+1", " 1e1", "0x1", "1.0"],
    ids=_short,
)
async def test_quantities_are_ascii_digits_only(client: TestClient, quantity: str) -> None:
    response = await client.post(
        "/cart/add",
        data={"variant_id": "tee-organic-white-m", "quantity": quantity},
        allow_redirects=False,
    )
    page = await response.text()
    assert response.status == 400, page
    assert "Field &#x27;quantity&#x27; must be a whole number" in page
    assert len(page) < 20_000  # the bad value is quoted back shortened
    assert "Set-Cookie" not in response.headers


async def test_bad_values_are_quoted_back_shortened(client: TestClient) -> None:
    page = await _page(client, "/products/" + "x" * 5000, 404)
    assert "x" * 60 + "…" in page and "x" * 61 not in page


async def test_add_to_cart_is_reported_once_with_what_the_server_accepted(
    client: TestClient,
) -> None:
    added = await client.post(
        "/cart/add",
        data={"variant_id": "hoodie-classic-blue-m", "quantity": "2"},
        allow_redirects=False,
    )
    assert "shop_added=" in added.headers.getall("Set-Cookie")[-1]
    page = await _page(client, added.headers["Location"])
    data = dict(re.findall(r'data-(added-[\w-]+)="([^"]*)"', page))
    assert re.fullmatch(r"[0-9a-f]{12}", data.pop("added-id"))
    assert data == {
        "added-variant-id": "hoodie-classic-blue-m",
        "added-quantity": "2",
        "added-value": "118.00",
    }
    # The page used the cookie up: a reload reports nothing more.
    again = await _page(client, added.headers["Location"])
    assert "Added to your cart" in again and "data-added-" not in again
    # Nor does a forged or stale cookie on another product's page.
    forged = await _page(
        client,
        "/products/tee-organic?added=1",
        headers={"Cookie": "shop_added=hoodie-classic-blue-m:2:0123456789ab"},
    )
    assert "data-added-" not in forged


async def test_ordering_with_an_empty_cart_is_400(client: TestClient) -> None:
    response = await client.post("/checkout", data={"country": "FR", "payment": "card"})
    assert response.status == 400


async def test_the_shop_can_be_switched_off(tmp_path: Path) -> None:
    client = await _client(_settings(tmp_path, demo_shop=False))
    try:
        assert (await client.get("/")).status == 404
        assert (await client.get("/products/hoodie-classic")).status == 404
        assert (await client.get("/widget.js")).status == 200
    finally:
        await client.close()


# --- CORS ----------------------------------------------------------------------------------


def _preflight(origin: str, method: str = "POST") -> dict[str, str]:
    return {
        "Origin": origin,
        "Access-Control-Request-Method": method,
        "Access-Control-Request-Headers": "authorization,content-type",
    }


async def test_preflight_needs_no_token(client: TestClient) -> None:
    response = await client.options(EVENTS, headers=_preflight("http://anyshop.test"))
    assert response.status == 204
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert response.headers["Access-Control-Allow-Methods"] == "POST"
    assert response.headers["Access-Control-Allow-Headers"] == "Authorization, Content-Type"
    assert int(response.headers["Access-Control-Max-Age"]) > 0


async def test_preflight_for_another_method_is_405(client: TestClient) -> None:
    response = await client.options(EVENTS, headers=_preflight("http://anyshop.test", "DELETE"))
    assert response.status == 405
    assert "Access-Control-Request-Method" in (await response.json())["error"]["message"]
    assert response.headers["Allow"] == "POST, OPTIONS"


async def test_responses_to_pages_carry_cors_headers_errors_included(client: TestClient) -> None:
    origin = {"Origin": "http://anyshop.test"}
    ok = await client.post(
        EVENTS, json=_event("cors-1"), headers={**origin, "Authorization": f"Bearer {SHOP_TOKEN}"}
    )
    assert ok.status == 202
    assert ok.headers["Access-Control-Allow-Origin"] == "*"
    assert ok.headers["Access-Control-Expose-Headers"] == "Retry-After"
    bad = await client.post(
        EVENTS,
        json={"event_id": "x"},
        headers={**origin, "Authorization": f"Bearer {SHOP_TOKEN}"},
    )
    assert bad.status == 400 and bad.headers["Access-Control-Allow-Origin"] == "*"
    unauthorised = await client.post(EVENTS, json=_event("cors-2"), headers=origin)
    assert unauthorised.status == 401
    assert unauthorised.headers["Access-Control-Allow-Origin"] == "*"


async def test_leads_api_is_not_opened_to_pages(client: TestClient) -> None:
    response = await client.get(
        "/api/v2/leads",
        headers={"Origin": "http://anyshop.test", "Authorization": f"Bearer {TOKEN}"},
    )
    assert response.status == 200
    assert "Access-Control-Allow-Origin" not in response.headers


@pytest.mark.parametrize("origin", [SHOP_ORIGIN, PUBLIC_URL])
async def test_listed_origins_are_allowed(strict_client: TestClient, origin: str) -> None:
    response = await strict_client.options(EVENTS, headers=_preflight(origin))
    assert response.status == 204
    assert response.headers["Access-Control-Allow-Origin"] == origin
    assert response.headers["Vary"] == "Origin"


async def test_other_origins_are_refused_readably(strict_client: TestClient) -> None:
    evil = "https://evil.test"
    # The preflight passes, so that the page can read the request's refusal: a 403 the
    # snippet sees stops it, where an unreadable one looks like a network error and is
    # retried forever.
    preflight = await strict_client.options(EVENTS, headers=_preflight(evil))
    assert preflight.status == 204
    assert preflight.headers["Access-Control-Allow-Origin"] == evil
    posted = await strict_client.post(
        EVENTS,
        json=_event("evil-0", "evil"),
        headers={"Origin": evil, "Authorization": f"Bearer {SHOP_TOKEN}"},
    )
    assert posted.status == 403
    assert posted.headers["Access-Control-Allow-Origin"] == evil
    assert posted.headers["Vary"] == "Origin"
    message = (await posted.json())["error"]["message"]
    assert evil in message and "SHOP_ORIGINS" in message
    # A beacon needs no preflight: the origin is checked on the request itself.
    beacon = await strict_client.post(
        EVENTS,
        data=json.dumps({"token": SHOP_TOKEN, **_event("evil-1", "evil")}),
        headers={"Origin": evil, "Content-Type": "text/plain;charset=UTF-8"},
    )
    assert beacon.status == 403
    assert beacon.headers["Access-Control-Allow-Origin"] == evil
    leads = await strict_client.get(
        "/api/v2/leads", params={"session_id": "evil"}, headers={"Authorization": f"Bearer {TOKEN}"}
    )
    assert (await leads.json())["items"] == []


# --- beacons: the token in the body ------------------------------------------------------


async def _beacon(client: TestClient, body: Any) -> tuple[int, dict[str, Any]]:
    response = await client.post(
        EVENTS,
        data=body if isinstance(body, str) else json.dumps(body),
        headers={"Content-Type": "text/plain;charset=UTF-8", "Origin": "http://anyshop.test"},
    )
    return response.status, await response.json()


async def test_beacon_with_the_storefront_token_in_the_body(client: TestClient) -> None:
    batch = {"token": SHOP_TOKEN, "events": [_event("b-1"), _event("b-2", kind="add_to_cart")]}
    assert await _beacon(client, batch) == (202, {"accepted": 2, "duplicates": 0})
    # A beacon resent from the next page counts nothing twice.
    assert await _beacon(client, batch) == (202, {"accepted": 0, "duplicates": 2})
    single = {"token": SHOP_TOKEN, **_event("b-3", kind="compare")}
    assert await _beacon(client, single) == (202, {"accepted": 1, "duplicates": 0})
    leads = await client.get(
        "/api/v2/leads",
        params={"session_id": "beacon-1"},
        headers={"Authorization": f"Bearer {TOKEN}"},
    )
    (lead,) = (await leads.json())["items"]
    events = await client.get(
        f"/api/v2/leads/{lead['id']}/events", headers={"Authorization": f"Bearer {TOKEN}"}
    )
    stored = [
        item["event_id"]
        for item in (await events.json())["items"]
        if item["source"] == "storefront"
    ]
    assert sorted(stored) == ["b-1", "b-2", "b-3"]


@pytest.mark.parametrize(
    ("body", "status", "says"),
    [
        ({"events": [_event("t-1")]}, 401, "missing bearer token"),
        ({"token": "wrong", "events": [_event("t-2")]}, 401, "field 'token'"),
        ({"token": 42, "events": [_event("t-3")]}, 400, "field 'token' must be a non-empty string"),
        ({"token": "", "events": [_event("t-4")]}, 400, "field 'token'"),
        ({"token": TOKEN, "events": [_event("t-5")]}, 403, "only an events:write token"),
        ([{"token": SHOP_TOKEN}], 400, "body must be one event object"),
        ("not json", 400, "body must be JSON"),
        ({"token": SHOP_TOKEN, "events": [{"event_id": "t-6"}]}, 400, "1 of 1 event(s) rejected"),
    ],
)
async def test_bad_beacons_are_refused_naming_the_problem(
    client: TestClient, body: Any, status: int, says: str
) -> None:
    got, answer = await _beacon(client, body)
    assert got == status, answer
    assert says in answer["error"]["message"]


async def test_a_stored_events_only_token_works_in_the_body(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    engine = create_db_engine(settings.database_url)
    try:
        shop, _ = TokenStore(engine).create("second-shop", ["events:write"])
        crm, _ = TokenStore(engine).create("crm", ["events:write", "leads:read"])
    finally:
        engine.dispose()
    client = await _client(settings)
    try:
        assert (await _beacon(client, {"token": shop, **_event("s-1")}))[0] == 202
        status, answer = await _beacon(client, {"token": crm, **_event("s-2")})
    finally:
        await client.close()
    assert status == 403 and "Authorization header" in answer["error"]["message"]


async def test_the_token_goes_in_one_place(client: TestClient) -> None:
    response = await client.post(
        EVENTS,
        json={"token": SHOP_TOKEN, **_event("twice-1")},
        headers={"Authorization": f"Bearer {SHOP_TOKEN}"},
    )
    assert response.status == 400
    assert "field 'token'" in (await response.json())["error"]["message"]


async def test_beacons_are_rate_limited_per_address(tmp_path: Path) -> None:
    client = await _client(_settings(tmp_path, events_rate_limit=1))
    try:
        first, _ = await _beacon(client, {"token": SHOP_TOKEN, **_event("r-1")})
        second, answer = await _beacon(client, {"token": "wrong", **_event("r-2")})
    finally:
        await client.close()
    assert (first, second) == (202, 429)
    assert "too many event requests" in answer["error"]["message"]
