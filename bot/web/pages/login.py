"""Signing in and out of the lead pages: ``/login`` and ``/logout``.

Failed sign-ins are limited per client address (``LOGIN_RATE_LIMIT`` a minute):
a guessing script gets that many tries, not thousands. Successful sign-ins are
never counted, so sales staff signing in are never held up.
"""

from __future__ import annotations

from aiohttp import web

from bot.store.tokens import LEADS_READ, LEADS_WRITE
from bot.web.auth import principal_of
from bot.web.bodies import read_form, text_field
from bot.web.html import redirect
from bot.web.keys import LOGIN_LIMITER
from bot.web.pages.sessions import MAX_NAME_CHARS, end_session, open_session
from bot.web.pages.site import LEAD_LIST, LEAD_PAGES


def _login_page(
    request: web.Request, target: str, name: str, message: str | None, status: int
) -> web.Response:
    return LEAD_PAGES.render(
        request,
        "leads/login.html",
        {
            "target": target,
            "name": name,
            "message": message,
            "max_name": MAX_NAME_CHARS,
            "read_scope": LEADS_READ,
            "write_scope": LEADS_WRITE,
        },
        status=status,
    )


def local_path(target: str) -> str:
    """``target`` if it is a path on this site, else the lead list (no open redirects)."""
    # "//host" and "/\\host" are other hosts to browsers; control characters
    # could split the Location header.
    if (
        target.startswith("/")
        and not target.startswith("//")
        and "\\" not in target
        and all(ch >= " " for ch in target)
    ):
        return target
    return LEAD_LIST


async def login_form(request: web.Request) -> web.StreamResponse:
    """``GET /login``: the sign-in form (``next``: where to go afterwards)."""
    return _login_page(request, request.query.get("next", ""), "", None, 200)


async def login(request: web.Request) -> web.StreamResponse:
    """``POST /login``: check the token, open a session, go to ``next``."""
    limiter = request.config_dict[LOGIN_LIMITER]
    client = request.remote or "unknown"
    wait = await limiter.wait(client)
    if wait is not None:
        seconds = max(1, int(wait) + 1)
        page = _login_page(
            request,
            "",
            "",
            f"Too many failed sign-ins from this address (at most {limiter.per_minute} a "
            f"minute). Try again in {seconds} seconds.",
            429,
        )
        page.headers["Retry-After"] = str(seconds)
        return page
    form = await read_form(request)
    token = text_field(form, "token").strip()
    name = text_field(form, "name").strip()
    target = text_field(form, "next")
    principal = await principal_of(request, token) if token else None
    if principal is None or not principal.allows(LEADS_READ):
        await limiter.check(client)
        return _login_page(
            request,
            target,
            name,
            "Wrong token: enter the sales token (LEADS_API_TOKEN) or a token with the "
            f"{LEADS_READ} scope.",
            401,
        )
    if not 1 <= len(name) <= MAX_NAME_CHARS:
        return _login_page(
            request, target, name, f"Your name: expected 1 to {MAX_NAME_CHARS} characters.", 400
        )
    response = redirect(local_path(target))
    await open_session(request, response, name, token)
    raise response


async def logout(request: web.Request) -> web.StreamResponse:
    """``POST /logout``: end the session on the server and forget its cookie."""
    response = redirect("/login")
    await end_session(request, response)
    raise response
