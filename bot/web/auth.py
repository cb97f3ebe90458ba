"""Bearer tokens and scopes: the one set of token rules of the API and the lead pages.

Tokens come from two places: the environment (``LEADS_API_TOKEN`` may do
everything; ``STOREFRONT_TOKEN``, embedded in shop pages, may only write
events) and the token store (``python -m bot tokens create``), whose tokens
carry the scopes they were created with. The API checks the scope each route
declares (:mod:`bot.web.api`); the lead pages let in any token with
``leads:read``, sent as a bearer or used to sign in, and keep a session only
while that token holds (:func:`session_scopes`). A missing or unknown token is a
401; a known token without the route's scope is a 403.

``navigator.sendBeacon`` cannot set headers, so ``POST /api/v2/events`` also
takes an events-only token (the storefront token) in a ``token`` field of the
JSON body; the events handler checks it with :func:`body_token_principal`.
"""

from __future__ import annotations

import asyncio
import hmac
from typing import Any

from aiohttp import web

from bot.settings import Settings
from bot.store.tokens import SCOPES, STOREFRONT_SCOPES, TOKEN_PREFIX, Principal, hash_token
from bot.web.errors import WebError
from bot.web.keys import SETTINGS, TOKENS

BODY_TOKEN_FIELD = "token"  # noqa: S105 - the name of a field, not a secret
CHALLENGE = {"WWW-Authenticate": 'Bearer realm="leads"'}
SALES_TOKEN_NAME = "LEADS_API_TOKEN"  # noqa: S105 - the name of a setting


def bearer_token(request: web.Request) -> str | None:
    """The token of the request's ``Authorization: Bearer`` header, or ``None``."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def _environment_principal(settings: Settings, token: str) -> Principal | None:
    # Compare against every token (constant time each), so timing does not tell
    # which token a guess was close to.
    found: Principal | None = None
    for name, expected, scopes in (
        (SALES_TOKEN_NAME, settings.leads_api_token, frozenset(SCOPES)),
        ("STOREFRONT_TOKEN", settings.storefront_token, STOREFRONT_SCOPES),
    ):
        if expected and hmac.compare_digest(token.encode(), expected.encode()):
            found = found or Principal(name=name, scopes=scopes)
    return found


async def principal_of(request: web.Request, token: str) -> Principal | None:
    """The caller a presented token stands for (environment or token store), or ``None``."""
    principal = _environment_principal(request.config_dict[SETTINGS], token)
    if principal is None and token.startswith(TOKEN_PREFIX):
        principal = await asyncio.to_thread(request.config_dict[TOKENS].authenticate, token)
    return principal


def session_scopes(
    settings: Settings, token_hash: str, stored_scopes: frozenset[str] | None
) -> frozenset[str] | None:
    """The scopes of the token that opened a session, if that token still holds.

    ``stored_scopes`` are those of an unrevoked token of the token store with
    this hash (``None`` if there is none); a ``LEADS_API_TOKEN`` changed since
    matches nothing.
    """
    sales_token = settings.leads_api_token
    if sales_token and hmac.compare_digest(token_hash, hash_token(sales_token)):
        return frozenset(SCOPES)
    return stored_scopes


async def caller(request: web.Request, scope: str | None) -> Principal:
    """The caller behind the bearer token, allowed ``scope``; 401 or 403 otherwise.

    ``scope=None`` asks only for a valid token.
    """
    token = bearer_token(request)
    if token is None:
        raise WebError(
            401, "missing bearer token: send 'Authorization: Bearer <token>'", headers=CHALLENGE
        )
    principal = await principal_of(request, token)
    if principal is None:
        raise WebError(401, "invalid or revoked bearer token", headers=CHALLENGE)
    if scope is not None and not principal.allows(scope):
        raise WebError(
            403,
            f"this token may not do that: {request.method} {request.path} needs the "
            f"'{scope}' scope; it has {', '.join(sorted(principal.scopes))}",
            required_scope=scope,
        )
    return principal


async def body_token_principal(request: web.Request, token: Any) -> Principal:
    """The caller behind a body ``token`` field; only events-only tokens may be sent so."""
    if token is None:
        raise WebError(
            401,
            "missing bearer token: send 'Authorization: Bearer <token>' (or, from a beacon, "
            f"a '{BODY_TOKEN_FIELD}' field in the JSON body)",
            headers=CHALLENGE,
        )
    if not isinstance(token, str) or not token.strip():
        raise WebError(400, f"field '{BODY_TOKEN_FIELD}' must be a non-empty string")
    principal = await principal_of(request, token.strip())
    if principal is None:
        raise WebError(
            401, f"invalid or revoked token in field '{BODY_TOKEN_FIELD}'", headers=CHALLENGE
        )
    if principal.scopes != STOREFRONT_SCOPES:
        # Only the public, events-only token belongs in a body that pages build.
        raise WebError(
            403,
            f"field '{BODY_TOKEN_FIELD}' takes only an events:write token (the storefront "
            "token); send this token in the Authorization header",
        )
    return principal
