"""The lead list, the lead page, and the sales forms on it (status, notes).

Served by the ``/leads`` sub-application. Everything a shopper (or anyone)
typed reaches the page through the templates' escaping.
"""

from __future__ import annotations

import asyncio

from aiohttp import web

from bot import clock
from bot.store.models import LEAD_STATUSES
from bot.web.bodies import read_form, text_field
from bot.web.errors import WebError
from bot.web.html import redirect
from bot.web.keys import SALES
from bot.web.pages.sessions import form_csrf, form_writer, required_viewer
from bot.web.pages.site import LEAD_PAGES


def unknown_lead(lead_id: str) -> WebError:
    """The 404 of a lead id no lead has."""
    return WebError(404, f"There is no lead with id {lead_id}.", title="Unknown lead")


def _invalid(lead_id: str, exc: ValueError) -> WebError:
    """The 400 of a rejected form field (the message starts with the field's name)."""
    field, _, expected = str(exc).partition(": ")
    if not expected:
        return WebError(400, str(exc), title="Invalid form", lead_id=lead_id)
    return WebError(400, f"{expected}.", field=field, title="Invalid form", lead_id=lead_id)


async def lead_list(request: web.Request) -> web.StreamResponse:
    """``GET /leads``: the newest leads, linked to their pages."""
    await required_viewer(request)
    leads = await asyncio.to_thread(request.config_dict[SALES].list_leads)
    return LEAD_PAGES.render(request, "leads/list.html", {"leads": leads})


async def lead_page(request: web.Request) -> web.StreamResponse:
    """``GET /leads/{lead_id}``: everything about one lead, with the sales forms."""
    viewer = await required_viewer(request)
    lead_id = request.match_info["lead_id"]
    page = await asyncio.to_thread(request.config_dict[SALES].lead_page, lead_id)
    if page is None:
        raise unknown_lead(lead_id)
    return LEAD_PAGES.render(
        request,
        "leads/lead.html",
        {
            "page": page,
            "lead": page["lead"],
            "csrf": form_csrf(request, viewer),
            "statuses": LEAD_STATUSES,
        },
    )


async def set_status(request: web.Request) -> web.StreamResponse:
    """``POST /leads/{lead_id}/status`` (``status``, ``reason``): back to the lead page."""
    form = await read_form(request)
    viewer = await form_writer(request, form)
    lead_id = request.match_info["lead_id"]
    try:
        result = await asyncio.to_thread(
            request.config_dict[SALES].set_status,
            lead_id,
            text_field(form, "status"),
            by=viewer.name,
            reason=text_field(form, "reason"),
            now=clock.now(),
        )
    except ValueError as exc:
        raise _invalid(lead_id, exc) from None
    except LookupError:
        raise unknown_lead(lead_id) from None
    raise redirect(f"/leads/{result['lead_id']}")


async def add_note(request: web.Request) -> web.StreamResponse:
    """``POST /leads/{lead_id}/notes`` (``text``): back to the lead page."""
    form = await read_form(request)
    viewer = await form_writer(request, form)
    lead_id = request.match_info["lead_id"]
    try:
        note = await asyncio.to_thread(
            request.config_dict[SALES].add_note,
            lead_id,
            text_field(form, "text"),
            by=viewer.name,
            now=clock.now(),
        )
    except ValueError as exc:
        raise _invalid(lead_id, exc) from None
    except LookupError:
        raise unknown_lead(lead_id) from None
    raise redirect(f"/leads/{note['lead_id']}")
