"""Bearer-token authentication and scopes of the API routes.

Tokens come from two places: the environment (``LEADS_API_TOKEN`` may do
everything; ``STOREFRONT_TOKEN``, embedded in shop pages, may only write
events) and the token store (``python -m bot tokens create``), whose tokens
carry the scopes they were created with. A missing or unknown token is a 401;
a known token without the route's scope is a 403. The web-form endpoint and
the OpenAPI document are public.

``navigator.sendBeacon`` cannot set headers, so ``POST /api/v2/events`` also
takes an events-only token (the storefront token) in a ``token`` field of the
JSON body; the events handler checks it with :func:`body_token_principal`.
"""

from __future__ import annotations

import asyncio
import hmac
import re
from typing import Any

from aiohttp import web

from bot.settings import Settings
from bot.store.tokens import (
    ADMIN,
    EVENTS_WRITE,
    LEADS_READ,
    LEADS_WRITE,
    SCOPES,
    STOREFRONT_SCOPES,
    TOKEN_PREFIX,
    Principal,
)
from bot.web.errors import ApiError, Handler
from bot.web.keys import PRINCIPAL, SETTINGS, TOKENS

PUBLIC_PATHS = frozenset({"/api/create-lead", "/api/v2/openapi.json"})
# Routes whose requests may carry their token in the body instead (beacons).
BODY_TOKEN_PATHS = frozenset({"/api/v2/events"})
BODY_TOKEN_FIELD = "token"  # noqa: S105 - the name of a field, not a secret
_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="leads"'}
# A person's data export and erasure are privacy operations: admin only.
_ADMIN_ROUTES = re.compile(r"^/api/v2/leads/[^/]+/(?:data|erase)$")
_LEAD = re.compile(r"^/api/v2/leads/[^/]+$")


def bearer_token(request: web.Request) -> str | None:
    """The token of the request's ``Authorization: Bearer`` header, or ``None``."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def required_scope(request: web.Request) -> str:
    """The scope a request needs."""
    path = request.path.rstrip("/")
    if path == "/api/v2/events":
        return EVENTS_WRITE
    if _ADMIN_ROUTES.match(path) or (request.method == "DELETE" and _LEAD.match(path)):
        return ADMIN
    return LEADS_READ if request.method in ("GET", "HEAD", "OPTIONS") else LEADS_WRITE


def _environment_principal(settings: Settings, token: str) -> Principal | None:
    # Compare against every token (constant time each), so timing does not tell
    # which token a guess was close to.
    found: Principal | None = None
    for name, expected, scopes in (
        ("LEADS_API_TOKEN", settings.leads_api_token, frozenset(SCOPES)),
        ("STOREFRONT_TOKEN", settings.storefront_token, STOREFRONT_SCOPES),
    ):
        if expected and hmac.compare_digest(token.encode(), expected.encode()):
            found = found or Principal(name=name, scopes=scopes)
    return found


async def principal_of(request: web.Request, token: str) -> Principal | None:
    """The caller a presented token stands for (environment or token store), or ``None``."""
    principal = _environment_principal(request.app[SETTINGS], token)
    if principal is None and token.startswith(TOKEN_PREFIX):
        principal = await asyncio.to_thread(request.app[TOKENS].authenticate, token)
    return principal


async def authenticate(request: web.Request) -> Principal | None:
    """The caller behind the request's bearer token, or ``None``."""
    token = bearer_token(request)
    if token is None:
        return None
    return await principal_of(request, token)


async def body_token_principal(request: web.Request, token: Any) -> Principal:
    """The caller behind a body ``token`` field; only events-only tokens may be sent so."""
    if token is None:
        raise ApiError(
            401,
            "missing bearer token: send 'Authorization: Bearer <token>' (or, from a beacon, "
            f"a '{BODY_TOKEN_FIELD}' field in the JSON body)",
            headers=_CHALLENGE,
        )
    if not isinstance(token, str) or not token.strip():
        raise ApiError(400, f"field '{BODY_TOKEN_FIELD}' must be a non-empty string")
    principal = await principal_of(request, token.strip())
    if principal is None:
        raise ApiError(
            401, f"invalid or revoked token in field '{BODY_TOKEN_FIELD}'", headers=_CHALLENGE
        )
    if principal.scopes != STOREFRONT_SCOPES:
        # Only the public, events-only token belongs in a body that pages build.
        raise ApiError(
            403,
            f"field '{BODY_TOKEN_FIELD}' takes only an events:write token (the storefront "
            "token); send this token in the Authorization header",
        )
    return principal


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Require a bearer token with the route's scope on ``/api/`` routes."""
    if not request.path.startswith("/api/") or request.path in PUBLIC_PATHS:
        return await handler(request)
    if bearer_token(request) is None:
        if (
            request.method == "POST"
            and request.path in BODY_TOKEN_PATHS
            and "Authorization" not in request.headers
        ):
            return await handler(request)
        raise ApiError(
            401, "missing bearer token: send 'Authorization: Bearer <token>'", headers=_CHALLENGE
        )
    principal = await authenticate(request)
    if principal is None:
        raise ApiError(401, "invalid or revoked bearer token", headers=_CHALLENGE)
    scope = required_scope(request)
    if not principal.allows(scope):
        raise ApiError(
            403,
            f"this token may not do that: {request.method} {request.path} needs the "
            f"'{scope}' scope; it has {', '.join(sorted(principal.scopes))}",
            required_scope=scope,
        )
    request[PRINCIPAL] = principal
    return await handler(request)
