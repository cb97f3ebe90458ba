"""Order webhook for shop platforms: ``POST /api/v2/orders``.

The shop platform (Shopify, WooCommerce, or the shop's own back end through a
small adapter) posts one order per request, signed per the Standard Webhooks
spec, the scheme the handoff webhooks use: headers ``webhook-id``,
``webhook-timestamp`` (Unix seconds, at most ``ORDER_WEBHOOK_TOLERANCE_SECONDS``
from this server's clock, so a captured request cannot be replayed later) and
``webhook-signature`` (``v1,<base64 HMAC-SHA256 of "<id>.<timestamp>.<body>">``,
several space-separated). The secrets are ``ORDER_WEBHOOK_SECRETS`` (``whsec_…``,
several while rotating); without one the endpoint is switched off and answers
404 naming the setting, as other features switched off by configuration do (the
demo shop): the platform keeps its orders and retries once it is configured.

The order is matched to a lead by ``lead_id``, else ``session_id``, else
``email`` (the most recently updated lead with that address), and recorded by
:class:`bot.leads.outcomes.Orders`: 201 for a new order of a lead (now Won),
202 for a new order no lead matched (kept, unattributed), 200 with the stored
result for an order already stored with the same fields (a redelivery), 409 naming
the field for an order id stored with another value.
"""

from __future__ import annotations

import asyncio
import hmac
import json
from datetime import datetime
from typing import Any

from aiohttp import web

from bot import clock
from bot.handoff.channels import sign
from bot.leads.outcomes import (
    MAX_ORDER_ID_CHARS,
    MAX_SKU_CHARS,
    ORDER_DECIMALS,
    WEBHOOK_ORDER_SOURCE,
    Customer,
    NoExchangeRate,
    OrderConflict,
    Orders,
    Purchase,
)
from bot.leads.spool import UNAVAILABLE_ERRORS
from bot.sessionids import session_id_problem, storable
from bot.store.contacts import MAX_EMAIL_CHARS
from bot.web.errors import WebError
from bot.web.events import (
    RETRY_AFTER_SECONDS,
    _Invalid,
    _timestamp,
    _value,
    order_currency,
    order_quantity,
    order_source,
    order_text,
)
from bot.web.json import json_response
from bot.web.keys import EVENTS_LIMITER, LEADS, SETTINGS
from bot.web.routes import ApiRoute, Doc
from bot.web.schemas import error, json_answer, json_body, ref

# One order is a few hundred bytes; a line-item list stays well under this.
MAX_ORDER_BODY_BYTES = 64 * 1024
MAX_IDENTIFIER_CHARS = 120
MAX_WEBHOOK_ID_CHARS = 256
ORDER_INPUT_FIELDS = frozenset(
    {
        "order_id",
        "source",
        "value",
        "currency",
        "ordered_at",
        "product_id",
        "variant_id",
        "sku",
        "quantity",
        "lead_id",
        "session_id",
        "email",
    }
)
SIGNATURE_HEADERS = ("webhook-id", "webhook-timestamp", "webhook-signature")


def _unauthorized(header: str, message: str) -> WebError:
    return WebError(401, f"{header}: {message}", field=header)


def verify_signature(
    secrets: tuple[str, ...],
    headers: Any,
    body: bytes,
    now: datetime,
    tolerance_seconds: int,
) -> str:
    """Check the Standard Webhooks headers of ``body``; the ``webhook-id``.

    Raises a 401 :class:`WebError` naming the header at fault: missing, a
    timestamp outside the tolerance (a replay or a wrong clock), or a signature
    no secret made.
    """
    for header in SIGNATURE_HEADERS:
        if not headers.get(header):
            raise _unauthorized(header, "missing; sign orders per the Standard Webhooks spec")
    message_id = headers["webhook-id"]
    if len(message_id) > MAX_WEBHOOK_ID_CHARS:
        raise _unauthorized("webhook-id", f"at most {MAX_WEBHOOK_ID_CHARS} characters")
    raw_timestamp = headers["webhook-timestamp"].strip()
    if not raw_timestamp.isdigit() or len(raw_timestamp) > 12:
        raise _unauthorized(
            "webhook-timestamp", f"expected Unix seconds such as 1796640000, got {raw_timestamp!r}"
        )
    timestamp = int(raw_timestamp)
    drift = abs(now.timestamp() - timestamp)
    if drift > tolerance_seconds:
        raise _unauthorized(
            "webhook-timestamp",
            f"{round(drift)} s away from this server's clock; at most {tolerance_seconds} s "
            "is accepted (a replayed or delayed request, or a wrong clock)",
        )
    given = [
        part.removeprefix("v1,")
        for part in headers["webhook-signature"].split()
        if part.startswith("v1,")
    ]
    for secret in secrets:
        expected = sign((secret,), message_id, timestamp, body).removeprefix("v1,")
        if any(hmac.compare_digest(expected.encode(), candidate.encode()) for candidate in given):
            return str(message_id)
    raise _unauthorized(
        "webhook-signature",
        "no v1 signature matches the body with any of ORDER_WEBHOOK_SECRETS",
    )


async def _raw_body(request: web.Request) -> bytes:
    too_large = WebError(
        413, f"an order must be at most {MAX_ORDER_BODY_BYTES} bytes of JSON; send one per request"
    )
    if request.content_length is not None and request.content_length > MAX_ORDER_BODY_BYTES:
        raise too_large
    try:
        body = await request.read()
    except web.HTTPRequestEntityTooLarge:
        raise too_large from None
    if len(body) > MAX_ORDER_BODY_BYTES:
        raise too_large
    return body


def _decode(body: bytes) -> dict[str, Any]:
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise WebError(400, f"body must be JSON: {exc}") from None
    except RecursionError:
        raise WebError(400, "body must be JSON: nested too deeply") from None
    if not isinstance(data, dict):
        raise WebError(400, f"body must be one order, a JSON object; got {type(data).__name__}")
    return data


def _optional_id(raw: dict[str, Any], name: str, limit: int) -> str | None:
    value = raw.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise _Invalid(name, f"{name} must be a non-empty string")
    if len(value) > limit:
        raise _Invalid(name, f"{name} must be at most {limit} characters, got {len(value)}")
    if not storable(value):
        raise _Invalid(name, f"{name} must be valid UTF-8 text without NUL characters")
    return value


def parse_order(raw: dict[str, Any], now: datetime) -> tuple[Purchase, Customer]:
    """The order and its buyer from a webhook body; ``_Invalid`` names the field at fault."""
    unknown = sorted(set(raw) - ORDER_INPUT_FIELDS)
    if unknown:
        raise _Invalid(
            unknown[0],
            f"unknown field(s) {', '.join(unknown)}; allowed: "
            f"{', '.join(sorted(ORDER_INPUT_FIELDS))}",
        )
    for name in ("order_id", "value", "currency", "ordered_at"):
        if raw.get(name) is None:
            raise _Invalid(name, f"{name} is required")
    order_id = order_text(raw["order_id"], "order_id", MAX_ORDER_ID_CHARS)
    value = _value(raw["value"], ORDER_DECIMALS)
    assert order_id is not None and value is not None
    session_id = _optional_id(raw, "session_id", 128)
    if session_id is not None:
        problem = session_id_problem(session_id)
        if problem is not None:
            raise _Invalid("session_id", problem)
    email = _optional_id(raw, "email", MAX_EMAIL_CHARS)
    if email is not None and "@" not in email:
        raise _Invalid(
            "email", f"email must be an e-mail address such as name@example.com, got {email!r}"
        )
    purchase = Purchase(
        source=order_source(raw.get("source"), "source") or WEBHOOK_ORDER_SOURCE,
        order_id=order_id,
        value=value,
        currency=order_currency(raw["currency"], "currency"),
        ordered_at=_timestamp(raw["ordered_at"], now, "ordered_at"),
        product_id=_optional_id(raw, "product_id", MAX_IDENTIFIER_CHARS),
        variant_id=_optional_id(raw, "variant_id", MAX_IDENTIFIER_CHARS),
        sku=order_text(raw.get("sku"), "sku", MAX_SKU_CHARS),
        quantity=order_quantity(raw.get("quantity"), "quantity"),
    )
    customer = Customer(
        lead_id=_optional_id(raw, "lead_id", 64),
        session_id=session_id,
        email=email,
    )
    return purchase, customer


async def post_order(request: web.Request) -> web.Response:
    """``POST /api/v2/orders``: record a shop platform's signed order (idempotent by order id)."""
    # Limited like the public events endpoint: before any signature is computed.
    await request.config_dict[EVENTS_LIMITER].enforce(request, "order requests")
    settings = request.config_dict[SETTINGS]
    if not settings.order_webhook_secrets:
        raise WebError(
            404,
            "the order webhook is not configured: set ORDER_WEBHOOK_SECRETS to the shop "
            "platform's whsec_ signing secret (make one with: python -m bot handoffs secret)",
        )
    body = await _raw_body(request)
    now = clock.now()
    verify_signature(
        settings.order_webhook_secrets,
        request.headers,
        body,
        now,
        settings.order_webhook_tolerance_seconds,
    )
    try:
        purchase, customer = parse_order(_decode(body), now)
    except _Invalid as exc:
        raise WebError(400, exc.message, field=exc.field) from None
    service = request.config_dict[LEADS]
    orders = Orders(service.engine, service.revenue)
    try:
        result = await asyncio.to_thread(
            orders.record, purchase, customer, by=f"order webhook ({purchase.source})", now=now
        )
    except OrderConflict as exc:
        raise WebError(409, str(exc), field=exc.field) from None
    except NoExchangeRate as exc:
        raise WebError(422, str(exc), field="currency") from None
    except UNAVAILABLE_ERRORS:
        raise WebError(
            503,
            "the lead store is unavailable; nothing was stored, retry the same order",
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        ) from None
    answer = result.as_json()
    if result.duplicate:
        return json_response(answer, status=200)
    if result.lead_id is None:
        answer["message"] = (
            "no lead matches the order's lead_id, session_id or email: "
            "the order is kept, unattributed"
        )
        return json_response(answer, status=202)
    return json_response(answer, status=201)


ROUTES = (
    ApiRoute(
        "POST",
        "/api/v2/orders",
        post_order,
        None,
        Doc(
            "Record an order from the shop platform (signed; idempotent by order id)",
            "postOrder",
            {
                "200": json_answer(
                    "The order was stored already: the stored result", ref("OrderResult")
                ),
                "201": json_answer(
                    "Recorded; the lead is Won with its revenue", ref("OrderResult")
                ),
                "202": json_answer("Recorded unattributed: no lead matched", ref("OrderResult")),
                "400": error("A field is missing or invalid (named in error.field)"),
                "401": error("Missing, stale or wrong webhook-* signature header (named)"),
                "409": error("The order id is stored with another value (the field is named)"),
                "413": error("Body over 64 KB"),
                "422": error("No exchange rate from the order's currency to the shop's"),
                "429": error("Too many requests from this address"),
                "404": error("Switched off: ORDER_WEBHOOK_SECRETS is not set"),
                "503": error("Lead store unavailable; retry"),
            },
            description="Signed per the Standard Webhooks spec (webhook-id, "
            "webhook-timestamp, webhook-signature) with ORDER_WEBHOOK_SECRETS; no bearer "
            "token. The lead is matched by lead_id, else session_id, else email. A new "
            "order marks the lead Won (status history kept), sets its revenue (the sum of "
            "its orders in the shop's currency) and closes its open handoffs with the "
            "outcome 'won'.",
            body=json_body(ref("OrderInput")),
        ),
    ),
)
