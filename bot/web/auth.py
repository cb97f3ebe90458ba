"""Bearer-token authentication and scopes of the API routes.

Two tokens exist: the sales/API token (``LEADS_API_TOKEN``), which may do
everything, and the storefront token (``STOREFRONT_TOKEN``), which is embedded
in shop pages and may only write events. A missing or unknown token is a 401; a
known token without the route's scope is a 403.
"""

from __future__ import annotations

import hmac

from aiohttp import web

from bot.settings import Settings
from bot.web.errors import ApiError, Handler
from bot.web.keys import SETTINGS

EVENTS_WRITE = "events:write"
LEADS_READ = "leads:read"
LEADS_WRITE = "leads:write"
ALL_SCOPES = frozenset({EVENTS_WRITE, LEADS_READ, LEADS_WRITE, "admin"})
STOREFRONT_SCOPES = frozenset({EVENTS_WRITE})
_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="leads"'}


def _bearer(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def required_scope(request: web.Request) -> str:
    """The scope a request needs."""
    if request.path.rstrip("/") == "/api/v2/events":
        return EVENTS_WRITE
    return LEADS_READ if request.method in ("GET", "HEAD", "OPTIONS") else LEADS_WRITE


def _scopes(settings: Settings, token: str) -> frozenset[str] | None:
    # Compare against every token (constant time each), so timing does not tell
    # which token a guess was close to.
    granted: frozenset[str] | None = None
    for expected, scopes in (
        (settings.leads_api_token, ALL_SCOPES),
        (settings.storefront_token, STOREFRONT_SCOPES),
    ):
        if expected and hmac.compare_digest(token.encode(), expected.encode()):
            granted = granted or scopes
    return granted


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Require a bearer token with the route's scope on ``/api/`` routes."""
    if not request.path.startswith("/api/"):
        return await handler(request)
    token = _bearer(request)
    if token is None:
        raise ApiError(
            401, "missing bearer token: send 'Authorization: Bearer <token>'", headers=_CHALLENGE
        )
    scopes = _scopes(request.app[SETTINGS], token)
    if scopes is None:
        raise ApiError(401, "invalid bearer token", headers=_CHALLENGE)
    scope = required_scope(request)
    if scope not in scopes:
        raise ApiError(
            403,
            f"this token may not do that: {request.method} {request.path} needs the "
            f"'{scope}' scope (the storefront token may only write events)",
        )
    return await handler(request)
