"""Acknowledging a handoff: ``/handoffs/{handoff_id}/ack``.

Acknowledgement links in notifications (``…/ack?token=…``) work without signing
in: the link opens a confirmation page whose button does the acknowledgement,
so link previews and mail scanners that fetch the link change nothing. The
buttons of the lead page and of the inbox post here too, signed in (with their
CSRF token) or as a bearer; the inbox's come back to the inbox they were
pressed on, which then says what was acknowledged.
"""

from __future__ import annotations

import asyncio
import hmac
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from aiohttp import web

from bot import clock
from bot.handoff.planner import ack_token
from bot.web.bodies import read_form, text_field
from bot.web.errors import WebError
from bot.web.html import redirect
from bot.web.keys import SALES, SETTINGS
from bot.web.pages.leads import ACKNOWLEDGED
from bot.web.pages.sessions import MAX_NAME_CHARS, form_writer, viewer_of
from bot.web.pages.site import LEAD_LIST, LEAD_PAGES


def _valid_ack_token(request: web.Request, handoff_id: str, token: str) -> bool:
    key = request.config_dict[SETTINGS].signing_key
    # Without a key anyone could compute the token: links stay switched off.
    return bool(key) and hmac.compare_digest(token.encode(), ack_token(key, handoff_id).encode())


def _bad_link() -> WebError:
    return WebError(
        403,
        "This acknowledgement link is not valid. Open the lead page instead.",
        title="Invalid link",
    )


def _unknown_handoff(handoff_id: str) -> WebError:
    return WebError(404, f"There is no handoff with id {handoff_id}.", title="Unknown handoff")


def _back(inbox: str, handoff: dict[str, Any]) -> str:
    """The inbox ``inbox`` (its filters and page) saying ``handoff`` was acknowledged.

    Anything but the inbox goes to the lead page. The address is rebuilt from
    its parsed query, so nothing but the inbox's own parameters can be sent on.
    """
    parts = urlsplit(inbox)
    if parts.scheme or parts.netloc or parts.path != LEAD_LIST:
        return f"/leads/{handoff['lead_id']}"
    kept = [(name, value) for name, value in parse_qsl(parts.query) if name != ACKNOWLEDGED]
    return f"{LEAD_LIST}?{urlencode([*kept, (ACKNOWLEDGED, handoff['id'])])}"


async def ack_confirm(request: web.Request) -> web.StreamResponse:
    """``GET /handoffs/{handoff_id}/ack?token=…``: a confirmation page (changes nothing)."""
    handoff_id = request.match_info["handoff_id"]
    token = request.query.get("token", "")
    if not _valid_ack_token(request, handoff_id, token):
        raise _bad_link()
    handoff = await asyncio.to_thread(request.config_dict[SALES].handoff, handoff_id)
    if handoff is None:
        raise _unknown_handoff(handoff_id)
    viewer = await viewer_of(request)
    return LEAD_PAGES.render(
        request,
        "leads/ack.html",
        {
            "handoff": handoff,
            "token": token,
            "name": viewer.name if viewer is not None else handoff["assigned_to"] or "",
            "max_name": MAX_NAME_CHARS,
        },
    )


async def acknowledge(request: web.Request) -> web.StreamResponse:
    """``POST /handoffs/{handoff_id}/ack``: from an ack link (``token``, ``name``) or a sales page.

    With ``token`` no sign-in is needed and a confirmation page answers; from
    the lead page (signed in, CSRF token) it goes back to the lead page, from
    the inbox (``next``: the inbox's address) back to the inbox.
    """
    handoff_id = request.match_info["handoff_id"]
    form = await read_form(request)
    desk = request.config_dict[SALES]
    now = clock.now()
    if "token" not in form:
        viewer = await form_writer(request, form)
        acknowledged = await asyncio.to_thread(
            desk.acknowledge, handoff_id, by=viewer.name, now=now
        )
        if acknowledged is None:
            raise _unknown_handoff(handoff_id)
        raise redirect(_back(text_field(form, "next"), acknowledged))
    if not _valid_ack_token(request, handoff_id, text_field(form, "token")):
        raise _bad_link()
    name = text_field(form, "name").strip()
    if not 1 <= len(name) <= MAX_NAME_CHARS:
        raise WebError(
            400,
            f"expected your name, 1 to {MAX_NAME_CHARS} characters. Go back and enter it.",
            field="name",
            title="Invalid form",
        )
    handoff = await asyncio.to_thread(desk.acknowledge, handoff_id, by=name, now=now)
    if handoff is None:
        raise _unknown_handoff(handoff_id)
    await viewer_of(request)
    return LEAD_PAGES.render(request, "leads/acknowledged.html", {"handoff": handoff})
