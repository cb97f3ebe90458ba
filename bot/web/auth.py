"""Bearer-token authentication of the API routes."""

from __future__ import annotations

import hmac

from aiohttp import web

from bot.web.errors import ApiError, Handler
from bot.web.keys import SETTINGS

PUBLIC_PREFIXES = ("/healthz",)


def _bearer(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Require ``Authorization: Bearer <LEADS_API_TOKEN>`` on ``/api/`` routes."""
    if not request.path.startswith("/api/"):
        return await handler(request)
    token = _bearer(request)
    challenge = {"WWW-Authenticate": 'Bearer realm="leads"'}
    if token is None:
        raise ApiError(
            401, "missing bearer token: send 'Authorization: Bearer <token>'", headers=challenge
        )
    expected = request.app[SETTINGS].leads_api_token
    if not expected or not hmac.compare_digest(token.encode(), expected.encode()):
        raise ApiError(401, "invalid bearer token", headers=challenge)
    return await handler(request)
