"""Who is looking at a lead page: signed-in sessions, bearer tokens, and CSRF tokens.

The token rules are the API's (:mod:`bot.web.auth`): a browser signs in at
``/login`` with ``LEADS_API_TOKEN`` or a token of ``python -m bot tokens
create`` that has ``leads:read``, or a client sends such a token as
``Authorization: Bearer``; the forms need ``leads:write`` (both scopes come with
``admin``). A sign-in opens a session of 12 hours kept by the server (the
``leads_session`` cookie holds its random id): signing out ends it, and so does a
change of ``LEADS_API_TOKEN`` or the revocation of the token that signed in.
Forms of a signed-in browser carry a CSRF token derived from the session cookie;
bearer clients need none (a forged cross-site request cannot send the header).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlencode

from aiohttp import web
from multidict import MultiDictProxy

from bot import clock
from bot.store.tokens import ADMIN, LEADS_READ, LEADS_WRITE, hash_token
from bot.web.auth import SALES_TOKEN_NAME, bearer_token, principal_of, session_scopes
from bot.web.bodies import FormValue
from bot.web.errors import WebError
from bot.web.html import redirect
from bot.web.keys import SESSIONS, SETTINGS

SESSION_COOKIE = "leads_session"
SESSION_SECONDS = 12 * 3600
# What secrets.token_urlsafe(32) makes: anything else is no session, unlooked-up.
_SESSION_VALUE = re.compile(r"^[A-Za-z0-9_-]{43}$")
MAX_NAME_CHARS = 120
# Who changes made with LEADS_API_TOKEN as a bearer are recorded as.
BEARER_ACTOR = "API token"
# The request key of the viewer, once known (error pages show who is signed in).
VIEWER = "lead_pages_viewer"


@dataclass(frozen=True)
class Viewer:
    """Who is looking: a signed-in salesperson (``session`` set) or a bearer-token client."""

    name: str
    scopes: frozenset[str]
    session: str | None = None

    def may(self, scope: str) -> bool:
        """Whether this viewer's token has ``scope`` (``admin`` has every scope)."""
        return scope in self.scopes or ADMIN in self.scopes


def csrf_token(key: bytes, session: str) -> str:
    """The CSRF token of forms shown to the holder of session cookie value ``session``."""
    # The purpose keeps a CSRF token from ever passing as an ack token, although
    # both use the same key.
    digest = hmac.new(key, f"csrf:{session}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def form_csrf(request: web.Request, viewer: Viewer) -> str | None:
    """The CSRF token the viewer's forms carry (``None`` for bearer clients)."""
    if viewer.session is None:
        return None
    return csrf_token(request.config_dict[SETTINGS].signing_key, viewer.session)


async def viewer_of(request: web.Request) -> Viewer | None:
    """The viewer of a request with a usable token or session, or ``None``."""
    viewer = await _viewer(request)
    request[VIEWER] = viewer
    return viewer


async def _viewer(request: web.Request) -> Viewer | None:
    token = bearer_token(request)
    if token is not None:
        principal = await principal_of(request, token)
        if principal is None or not principal.allows(LEADS_READ):
            return None
        name = BEARER_ACTOR if principal.name == SALES_TOKEN_NAME else principal.name
        return Viewer(name, principal.scopes)
    cookie = session_cookie(request)
    if cookie is None:
        return None
    record = await asyncio.to_thread(request.config_dict[SESSIONS].find, cookie, clock.now())
    if record is None:
        return None
    scopes = session_scopes(request.config_dict[SETTINGS], record.token_hash, record.scopes)
    if scopes is None or not (LEADS_READ in scopes or ADMIN in scopes):
        return None
    return Viewer(record.name, scopes, cookie)


def session_cookie(request: web.Request) -> str | None:
    """The session cookie's value, if it has the shape of one."""
    cookie = request.cookies.get(SESSION_COOKIE, "")
    return cookie if _SESSION_VALUE.match(cookie) else None


async def required_viewer(request: web.Request) -> Viewer:
    """The viewer; otherwise a browser is sent to sign in (GET) or refused (POST)."""
    viewer = await viewer_of(request)
    if viewer is not None:
        return viewer
    if request.method in ("GET", "HEAD"):
        raise redirect("/login?" + urlencode({"next": request.path_qs}))
    raise WebError(
        401,
        "Your session has expired or you are not signed in. Sign in and send the form again.",
        title="Sign-in required",
    )


async def form_writer(request: web.Request, form: MultiDictProxy[FormValue]) -> Viewer:
    """The viewer of a form post: allowed to write, with a CSRF token matching its session."""
    viewer = await required_viewer(request)
    if not viewer.may(LEADS_WRITE):
        raise WebError(
            403,
            "The token you signed in with may only read leads. Sign in with a token that has "
            f"the {LEADS_WRITE} scope to change them.",
            title="Read-only token",
        )
    expected = form_csrf(request, viewer)
    if expected is not None:
        sent = form.get("csrf")
        if not isinstance(sent, str) or not hmac.compare_digest(sent.encode(), expected.encode()):
            raise WebError(
                403,
                "This form could not be verified (its CSRF token is missing or wrong). "
                "Reload the page and send it again.",
                title="Form expired",
            )
    return viewer


async def open_session(
    request: web.Request, response: web.StreamResponse, name: str, token: str
) -> None:
    """Open a session for ``name``, signed in with ``token``, and set its cookie on ``response``."""
    settings = request.config_dict[SETTINGS]
    value = await asyncio.to_thread(
        request.config_dict[SESSIONS].open,
        name=name,
        token_hash=hash_token(token),
        now=clock.now(),
        lifetime=timedelta(seconds=SESSION_SECONDS),
    )
    response.set_cookie(
        SESSION_COOKIE,
        value,
        max_age=SESSION_SECONDS,
        path="/",
        httponly=True,
        samesite="Strict",
        secure=settings.public_url.startswith("https://"),
    )


async def end_session(request: web.Request, response: web.StreamResponse) -> None:
    """End the request's session on the server and forget its cookie."""
    cookie = session_cookie(request)
    if cookie is not None:
        await asyncio.to_thread(request.config_dict[SESSIONS].end, cookie, clock.now())
    response.del_cookie(SESSION_COOKIE, path="/")
