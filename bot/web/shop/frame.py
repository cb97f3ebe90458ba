"""What every demo-shop page has around it: header, the embedded assistant, security headers.

Every page embeds the tracking snippet and the chat widget with the tags a real
shop would paste, plus the page's context (page type, product, variant, cart
value); ``/static/shop.js`` reports what the shopper does as storefront events.
The Content-Security-Policy lets scripts come only from this web app.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from yarl import URL

from bot.settings import Settings, origin_of
from bot.web.errors import WebError
from bot.web.html import Site
from bot.web.keys import SETTINGS
from bot.web.shop.cart import CATALOG, cart_total, read_cart

# The demo shows the widget's proactive rules; a real shop chooses its own.
PROACTIVE_PRODUCT_SECONDS = 45
PROACTIVE_CHECKOUT_IDLE_SECONDS = 40
PROACTIVE_MESSAGE = "Hi! Any questions about sizes, stock or delivery? I'm here to help."

Attributes = dict[str, str | None]


@dataclass(frozen=True)
class PageContext:
    """What the widget sends with each chat message from this page."""

    page_type: str
    product_id: str | None = None
    variant_id: str | None = None


OTHER_PAGE = PageContext("other")


def asset_base(request: web.Request) -> str:
    """Where shoppers' browsers load the widget files from."""
    settings = request.config_dict[SETTINGS]
    return settings.public_url or f"{request.scheme}://{request.host}"


def chat_url(request: web.Request) -> str:
    """Where shoppers' browsers reach the Rasa server."""
    settings = request.config_dict[SETTINGS]
    if settings.rasa_public_url:
        return settings.rasa_public_url
    # Not request.url: aiohttp 3.9.5 builds it with URL.build(host=<Host header>),
    # which yarl 1.25 refuses (ValueError) when the header carries a port.
    try:
        host = URL(f"//{request.host}").host
    except ValueError:
        host = None
    return f"{request.scheme}://{host or 'localhost'}:{settings.rasa_port}"


def embed_tags(
    settings: Settings, base: str, chat: str, shop_name: str
) -> tuple[Attributes, Attributes]:
    """Attributes of the snippet and widget tags a shop pastes into every page."""
    snippet: Attributes = {
        "src": f"{base}/snippet.js",
        "data-token": settings.storefront_token or None,
    }
    widget: Attributes = {
        "src": f"{base}/widget.js",
        "data-rasa-url": chat,
        "data-title": shop_name,
    }
    return snippet, widget


def content_policy(request: web.Request) -> str:
    """Scripts from this web app only; the chat server for connections."""
    scripts = " ".join(dict.fromkeys(("'self'", origin_of(asset_base(request)))))
    chat = origin_of(chat_url(request))
    sockets = chat.replace("http", "ws", 1)
    return (
        f"default-src 'self'; script-src {scripts}; "
        f"connect-src {scripts} {chat} {sockets}; img-src 'self' data: https: http:; "
        "style-src 'self' 'unsafe-inline'; object-src 'none'; base-uri 'none'; "
        "form-action 'self'; frame-ancestors 'none'"
    )


def _frame(request: web.Request, context: Mapping[str, Any]) -> Mapping[str, Any]:
    catalog = request.config_dict[CATALOG]
    settings = request.config_dict[SETTINGS]
    page: PageContext = context.get("page", OTHER_PAGE)
    lines = read_cart(request)
    base = asset_base(request)
    snippet, widget = embed_tags(settings, base, chat_url(request), catalog.shop_name)
    widget.update(
        {
            "data-page-type": page.page_type,
            "data-product-id": page.product_id,
            "data-variant-id": page.variant_id,
            "data-cart-value": str(cart_total(lines)) if lines else None,
            "data-proactive-product-seconds": str(PROACTIVE_PRODUCT_SECONDS),
            "data-proactive-checkout-idle-seconds": str(PROACTIVE_CHECKOUT_IDLE_SECONDS),
            "data-proactive-message": PROACTIVE_MESSAGE,
        }
    )
    return {
        "shop_name": catalog.shop_name,
        "cart_count": sum(line.quantity for line in lines),
        "snippet": snippet,
        "widget": widget,
        "shop_script": f"{base}/static/shop.js",
        "page": page,
        "page_data": {},
    }


def _links(request: web.Request, error: WebError) -> list[tuple[str, str]]:
    return [("/", "Back to the products")]


SHOP = Site(
    layout="shop/base.html",
    error_title="Sorry",
    content_policy=content_policy,
    referrer_policy="strict-origin-when-cross-origin",
    frame=_frame,
    links=_links,
)
