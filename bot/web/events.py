"""Storefront events resource: ``POST /api/v2/events``.

One event or ``{"events": [...]}`` (at most 500). Each event is validated on its
own: good events of a batch are stored even when others are rejected. Events are
idempotent on ``event_id`` and acknowledged only once committed: if the lead
store is down the whole request gets a 503 and the storefront retries it.

Beacons (``navigator.sendBeacon``, which cannot set headers) put the storefront
token in a top-level ``token`` field of the body, which may be sent as
``text/plain`` so that no preflight is needed.
"""

from __future__ import annotations

import asyncio
import json
import math
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from typing import Any

import pycountry
from aiohttp import web

from bot import clock
from bot.leads.commands import RecordEvent
from bot.leads.outcomes import (
    CURRENCY_PROPERTY,
    MAX_ORDER_ID_CHARS,
    MAX_QUANTITY,
    MAX_SKU_CHARS,
    ORDER_DECIMALS,
    ORDER_ID_PROPERTY,
    ORDER_SOURCE_PROPERTY,
    QUANTITY_PROPERTY,
    SKU_PROPERTY,
    Orders,
    purchase_of_event,
)
from bot.leads.spool import UNAVAILABLE_ERRORS
from bot.scoring import STOREFRONT_EVENT_TYPES
from bot.sessionids import session_id_problem, storable
from bot.store.tokens import EVENTS_WRITE, STOREFRONT_SCOPES
from bot.web.auth import BODY_TOKEN_FIELD, body_token_principal
from bot.web.errors import WebError
from bot.web.json import json_response, read_json_body
from bot.web.keys import EVENTS_LIMITER, LEADS, PRINCIPAL, WORKER
from bot.web.routes import ApiRoute, Doc
from bot.web.schemas import OBJECT, error, json_answer, json_body, ref

MAX_BATCH = 500

MAX_FUTURE = timedelta(minutes=5)
OLDEST_ACCEPTED = datetime(2000, 1, 1, tzinfo=timezone.utc)
MAX_ID_LENGTH = {"event_id": 160, "session_id": 128, "product_id": 120, "variant_id": 120}
MAX_PROPERTIES_CHARS = 4096
MAX_VALUE = Decimal("1000000000")
MAX_VALUE_DECIMALS = 6
_FRACTION = re.compile(r"\.(\d+)(?=[+-]\d\d:?\d\d$|$)")
EVENT_FIELDS = frozenset(
    {"event_id", "session_id", "type", "ts", "product_id", "variant_id", "value", "properties"}
)
REQUIRED_FIELDS = ("event_id", "session_id", "type", "ts")
KNOWN_TYPES = frozenset(STOREFRONT_EVENT_TYPES)
RETRY_AFTER_SECONDS = 5
ORDER_SOURCE_PATTERN = re.compile(r"[a-z0-9][a-z0-9_.-]{0,39}")


@dataclass(frozen=True)
class EventError:
    """Why one event of a request was rejected."""

    index: int
    event_id: str | None
    field: str
    message: str

    def as_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "index": self.index,
            "event_id": self.event_id,
            "field": self.field,
            "message": self.message,
        }


class _Invalid(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def _identifier(raw: dict[str, Any], name: str, *, required: bool) -> str | None:
    value = raw.get(name)
    if value is None:
        if required:
            raise _Invalid(name, f"{name} is required")
        return None
    if not isinstance(value, str) or not value.strip():
        raise _Invalid(name, f"{name} must be a non-empty string")
    limit = MAX_ID_LENGTH[name]
    if len(value) > limit:
        raise _Invalid(name, f"{name} must be at most {limit} characters, got {len(value)}")
    if not storable(value):
        raise _Invalid(name, f"{name} must be valid UTF-8 text without NUL characters")
    if name == "session_id":
        problem = session_id_problem(value)
        if problem is not None:
            raise _Invalid(name, problem)
    return value


def _timestamp(raw: Any, now: datetime, name: str = "ts") -> datetime:
    if not isinstance(raw, str):
        raise _Invalid(name, f"{name} must be an ISO 8601 string such as 2026-11-23T10:15:00Z")
    text = raw.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    # RFC 3339 allows any number of fraction digits (Go, Java send 9); Python 3.10
    # reads only 3 or 6.
    text = _FRACTION.sub(lambda match: "." + match.group(1)[:6].ljust(6, "0"), text, count=1)
    try:
        ts = datetime.fromisoformat(text)
    except ValueError:
        raise _Invalid(
            name, f"{name} {raw!r} is not an ISO 8601 time such as 2026-11-23T10:15:00Z"
        ) from None
    if ts.tzinfo is None or ts.utcoffset() is None:
        raise _Invalid(name, f"{name} {raw!r} has no time zone; add Z or an offset such as +01:00")
    try:
        ts = ts.astimezone(timezone.utc)
    except OverflowError:
        raise _Invalid(name, f"{name} is out of range") from None
    if ts > now + MAX_FUTURE:
        ahead = math.ceil((ts - now).total_seconds() / 60)
        raise _Invalid(
            name,
            f"{name} is {ahead} minute(s) in the future; at most 5 minutes of clock skew "
            "is accepted",
        )
    if ts < OLDEST_ACCEPTED:
        raise _Invalid(name, f"{name} is before 2000-01-01")
    return ts


def _value(raw: Any, decimals: int = MAX_VALUE_DECIMALS, name: str = "value") -> Decimal | None:
    if raw is None:
        return None
    if isinstance(raw, bool) or not isinstance(raw, (int, float, str)):
        raise _Invalid(name, f"{name} must be a number such as 59.90")
    try:
        value = Decimal(str(raw).strip())
    except InvalidOperation:
        raise _Invalid(name, f"{name} {raw!r} is not a number such as 59.90") from None
    if not value.is_finite() or value < 0 or value > MAX_VALUE:
        raise _Invalid(name, f"{name} must be a number between 0 and 1,000,000,000")
    if value.as_tuple().exponent < -decimals:  # type: ignore[operator]
        raise _Invalid(name, f"{name} must have at most {decimals} decimal places")
    return value


def _properties(raw: Any) -> dict[str, Any]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise _Invalid("properties", "properties must be a JSON object")
    try:
        text = json.dumps(raw, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    except ValueError:
        raise _Invalid("properties", "properties must not contain NaN or Infinity") from None
    if not storable(text) or "\\u0000" in text:
        raise _Invalid("properties", "properties must be valid UTF-8 text without NUL characters")
    size = len(text)
    if size > MAX_PROPERTIES_CHARS:
        raise _Invalid(
            "properties", f"properties must be at most {MAX_PROPERTIES_CHARS} characters of JSON"
        )
    return raw


def order_currency(raw: Any, name: str) -> str:
    """An ISO 4217 currency code (upper case), or ``_Invalid`` naming ``name``."""
    if not isinstance(raw, str) or not re.fullmatch(r"[A-Za-z]{3}", raw.strip()):
        raise _Invalid(name, f"{name} must be an ISO 4217 currency code such as EUR, got {raw!r}")
    code = raw.strip().upper()
    if pycountry.currencies.get(alpha_3=code) is None:
        raise _Invalid(name, f"{name} {code!r} is not an ISO 4217 currency code (e.g. EUR)")
    return code


def order_text(raw: Any, name: str, limit: int) -> str | None:
    """An optional identifier of an order (order id, sku): 1 to ``limit`` characters."""
    if raw is None:
        return None
    if isinstance(raw, int) and not isinstance(raw, bool):
        # Shop platforms number their orders.
        raw = str(raw)
    if not isinstance(raw, str) or not raw.strip():
        raise _Invalid(name, f"{name} must be a non-empty string")
    if len(raw) > limit:
        raise _Invalid(name, f"{name} must be at most {limit} characters, got {len(raw)}")
    if not storable(raw):
        raise _Invalid(name, f"{name} must be valid UTF-8 text without NUL characters")
    return raw


def order_quantity(raw: Any, name: str) -> int:
    """How many items an order holds (1 when not given)."""
    if raw is None:
        return 1
    if isinstance(raw, bool) or not isinstance(raw, int) or not 1 <= raw <= MAX_QUANTITY:
        raise _Invalid(name, f"{name} must be a whole number from 1 to {MAX_QUANTITY}, got {raw!r}")
    return raw


def order_source(raw: Any, name: str) -> str | None:
    """Which shop platform an order comes from: a lower-case label such as ``shopify``."""
    if raw is None:
        return None
    if not isinstance(raw, str) or not ORDER_SOURCE_PATTERN.fullmatch(raw):
        raise _Invalid(
            name,
            f"{name} must be a lower-case label such as shopify (letters, digits, _ . -; "
            f"at most 40 characters), got {raw!r}",
        )
    return raw


def _purchase_properties(properties: dict[str, Any]) -> None:
    """A purchase's order details in ``properties`` (all optional), checked."""
    prefix = "properties."
    if CURRENCY_PROPERTY in properties:
        properties[CURRENCY_PROPERTY] = order_currency(
            properties[CURRENCY_PROPERTY], prefix + CURRENCY_PROPERTY
        )
    order_text(properties.get(ORDER_ID_PROPERTY), prefix + ORDER_ID_PROPERTY, MAX_ORDER_ID_CHARS)
    order_text(properties.get(SKU_PROPERTY), prefix + SKU_PROPERTY, MAX_SKU_CHARS)
    order_quantity(properties.get(QUANTITY_PROPERTY), prefix + QUANTITY_PROPERTY)
    order_source(properties.get(ORDER_SOURCE_PROPERTY), prefix + ORDER_SOURCE_PROPERTY)


def parse_event(raw: Any, now: datetime) -> RecordEvent:
    """Validate one storefront event; raises ``_Invalid`` naming the field."""
    if not isinstance(raw, dict):
        raise _Invalid("(event)", "each event must be a JSON object")
    unknown = sorted(set(raw) - EVENT_FIELDS)
    if unknown:
        raise _Invalid(
            unknown[0],
            f"unknown field(s) {', '.join(unknown)}; allowed: {', '.join(sorted(EVENT_FIELDS))}",
        )
    event_id = _identifier(raw, "event_id", required=True)
    session_id = _identifier(raw, "session_id", required=True)
    kind = raw.get("type")
    if kind is None:
        raise _Invalid("type", "type is required")
    if not isinstance(kind, str) or kind not in KNOWN_TYPES:
        raise _Invalid(
            "type", f"unknown type {kind!r}; known types: {', '.join(STOREFRONT_EVENT_TYPES)}"
        )
    if "ts" not in raw:
        raise _Invalid("ts", "ts is required")
    assert event_id is not None and session_id is not None
    purchase = kind == "purchase"
    properties = _properties(raw.get("properties"))
    if purchase:
        properties = dict(properties)
        _purchase_properties(properties)
    return RecordEvent(
        session_id=session_id,
        event_id=event_id,
        type=str(kind),
        ts=_timestamp(raw["ts"], now),
        source="storefront",
        product_id=_identifier(raw, "product_id", required=False),
        variant_id=_identifier(raw, "variant_id", required=False),
        value=_value(raw.get("value"), ORDER_DECIMALS if purchase else MAX_VALUE_DECIMALS),
        properties=properties,
    )


def parse_events(items: list[Any], now: datetime) -> tuple[list[RecordEvent], list[EventError]]:
    """Valid events and per-event errors of a request."""
    valid: list[RecordEvent] = []
    errors: list[EventError] = []
    for index, raw in enumerate(items):
        try:
            valid.append(parse_event(raw, now))
        except _Invalid as exc:
            event_id = raw.get("event_id") if isinstance(raw, dict) else None
            errors.append(
                EventError(
                    index, event_id if isinstance(event_id, str) else None, exc.field, exc.message
                )
            )
    return valid, errors


def _items(body: Any) -> list[Any]:
    if isinstance(body, dict) and "events" in body:
        extra = sorted(set(body) - {"events"})
        if extra:
            raise WebError(400, f"unknown top-level field(s) {', '.join(extra)} next to 'events'")
        items = body["events"]
        if not isinstance(items, list):
            raise WebError(400, "'events' must be a list of event objects")
        if not items:
            raise WebError(400, "'events' is empty; send at least one event")
        if len(items) > MAX_BATCH:
            raise WebError(
                400, f"at most {MAX_BATCH} events per request, got {len(items)}; split the batch"
            )
        return items
    if isinstance(body, dict):
        return [body]
    raise WebError(400, 'body must be one event object or {"events": [...]}')


async def _authenticated_body(request: web.Request) -> Any:
    """The request's JSON body, once its caller is known (header or ``token`` field)."""
    principal = request.get(PRINCIPAL)
    if principal is None or principal.scopes == STOREFRONT_SCOPES:
        # The storefront token is public (it sits in shop pages): limit per address.
        await request.config_dict[EVENTS_LIMITER].enforce(request, "event requests")
    body = await read_json_body(request)
    if principal is not None:
        if isinstance(body, dict) and BODY_TOKEN_FIELD in body:
            raise WebError(
                400,
                f"field '{BODY_TOKEN_FIELD}': the request already has an Authorization "
                "header; send the token in one place",
            )
        return body
    if not isinstance(body, dict):
        raise WebError(400, 'body must be one event object or {"events": [...]}')
    request[PRINCIPAL] = await body_token_principal(request, body.get(BODY_TOKEN_FIELD))
    return {name: value for name, value in body.items() if name != BODY_TOKEN_FIELD}


async def post_events(request: web.Request) -> web.Response:
    """``POST /api/v2/events``: store storefront events (202 once committed)."""
    items = _items(await _authenticated_body(request))
    now = clock.now()
    valid, errors = parse_events(items, now)
    if any(event.type == "purchase" for event in valid):
        valid, errors = await _countable_purchases(request, items, valid, errors)
    accepted = duplicates = 0
    if valid:
        try:
            result = await asyncio.to_thread(request.config_dict[LEADS].apply, valid, now=now)
        # Only an outage is worth a retry; refused data is a bug to surface, never a
        # reason to make the shop resend the same batch forever.
        except UNAVAILABLE_ERRORS:
            raise WebError(
                503,
                "the lead store is unavailable; nothing was stored, retry with the same event_ids",
                headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
            ) from None
        accepted, duplicates = result.accepted_events, result.duplicate_events
        if any(
            state.handoff is not None and state.handoff.notified_now
            for state in result.leads.values()
        ):
            request.config_dict[WORKER].wake()
    if errors:
        raise WebError(
            400,
            f"{len(errors)} of {len(items)} event(s) rejected; the other "
            f"{len(items) - len(errors)} were processed",
            accepted=accepted,
            duplicates=duplicates,
            rejected=len(errors),
            errors=[error.as_dict() for error in errors],
        )
    return json_response({"accepted": accepted, "duplicates": duplicates}, status=202)


# Where each order-defining field is in a purchase event.
_EVENT_FIELD_OF_ORDER = {
    "currency": "properties." + CURRENCY_PROPERTY,
    "sku": "properties." + SKU_PROPERTY,
    "quantity": "properties." + QUANTITY_PROPERTY,
    "ordered_at": "ts",
}


async def _countable_purchases(
    request: web.Request, items: list[Any], valid: list[RecordEvent], errors: list[EventError]
) -> tuple[list[RecordEvent], list[EventError]]:
    """Refuse purchases whose order cannot be counted: an unknown rate, or an id reused.

    The order's currency must convert into the shop's; an order id already stored
    with another value, currency, variant, sku, product, quantity or time names
    another order. (A race with another writer is settled in the write: the event
    is kept, the first order stays.)
    """
    service = request.config_dict[LEADS]
    refused: dict[int, tuple[str, str]] = {}
    for index, event in enumerate(valid):
        purchase = purchase_of_event(event, service.revenue)
        if purchase is not None and not service.revenue.convertible(purchase.currency):
            refused[index] = (
                "properties.currency",
                f"properties.currency: no exchange rate from {purchase.currency} to the "
                f"shop's currency {service.revenue.currency}",
            )
    orders = Orders(service.engine, service.revenue)
    try:
        conflicts = await asyncio.to_thread(orders.event_conflicts, valid)
    except UNAVAILABLE_ERRORS:
        # The write below meets the outage too, and answers it.
        conflicts = {}
    for index, conflict in conflicts.items():
        field = _EVENT_FIELD_OF_ORDER.get(conflict.field, conflict.field)
        refused.setdefault(index, (field, str(conflict)))
    if not refused:
        return valid, errors
    # Positions in the request of the valid events, for the error list.
    valid_positions = [
        index for index in range(len(items)) if index not in {e.index for e in errors}
    ]
    kept: list[RecordEvent] = []
    for index, event in enumerate(valid):
        if index in refused:
            field, message = refused[index]
            errors.append(EventError(valid_positions[index], event.event_id, field, message))
        else:
            kept.append(event)
    errors.sort(key=lambda error: error.index)
    return kept, errors


_BATCH = {
    "type": "object",
    "required": ["events"],
    "properties": {
        "events": {"type": "array", "maxItems": MAX_BATCH, "items": ref("Event")},
        "token": {
            "type": "string",
            "description": "Storefront token, only without an Authorization header (beacons)",
        },
    },
}

ROUTES = (
    ApiRoute(
        "POST",
        "/api/v2/events",
        post_events,
        EVENTS_WRITE,
        Doc(
            f"Record storefront events (one, or a batch of up to {MAX_BATCH})",
            "postEvents",
            {
                "202": json_answer("Accepted and duplicate counts", OBJECT),
                "400": error("Bad events (per-event errors; good ones are stored)"),
                "413": error("Body over 1 MB"),
                "429": error("Too many requests from this address (storefront token)"),
                "503": error("Lead store unavailable; retry"),
            },
            description="Shop pages may call this from any origin (CORS; SHOP_ORIGINS "
            "narrows it: a page on another origin gets a 403 it can read, naming the "
            "origin). `navigator.sendBeacon` cannot set headers: without an Authorization "
            "header, an events:write token (the storefront token) is read from a top-level "
            "`token` field of the body, which may be sent as text/plain.",
            body=json_body({"oneOf": [ref("Event"), _BATCH]}),
        ),
        body_token=True,
    ),
)
