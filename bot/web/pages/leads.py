"""The lead list, the lead page, and the sales forms on it (status, notes).

Served by the ``/leads`` sub-application. Everything a shopper (or anyone)
typed reaches the page through the templates' escaping.
"""

from __future__ import annotations

import asyncio
from datetime import date, datetime, time, timedelta, timezone
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from aiohttp import web
from multidict import MultiDict

from bot import clock
from bot.scoring.config import ScoringConfig, load_scoring_config
from bot.store.models import LEAD_STAGES, LEAD_STATUSES
from bot.store.queries import INBOX_SORT
from bot.store.tokens import LEADS_WRITE
from bot.web.bodies import read_form, text_field
from bot.web.errors import WebError
from bot.web.html import redirect
from bot.web.keys import LEADS, SALES, SETTINGS
from bot.web.leads import lead_filters
from bot.web.pages.sessions import form_csrf, form_writer, required_viewer
from bot.web.pages.site import LEAD_PAGES
from bot.web.params import choice_param, int_param
from bot.web.teamtime import handoff_config, team_clock


def unknown_lead(lead_id: str) -> WebError:
    """The 404 of a lead id no lead has."""
    return WebError(404, f"There is no lead with id {lead_id}.", title="Unknown lead")


def _invalid(lead_id: str, exc: ValueError) -> WebError:
    """The 400 of a rejected form field (the message starts with the field's name)."""
    field, _, expected = str(exc).partition(": ")
    if not expected:
        return WebError(400, str(exc), title="Invalid form", lead_id=lead_id)
    return WebError(400, f"{expected}.", field=field, title="Invalid form", lead_id=lead_id)


INBOX_PAGE_SIZE = 50
# A longer ?acknowledged= is no handoff id: it is not looked up.
MAX_ID_CHARS = 64
# The handoff just acknowledged from the inbox, which the inbox it returns to names.
ACKNOWLEDGED = "acknowledged"
# Filters of the inbox form, as the API names them; dates are whole days.
INBOX_FILTERS = ("q", "stage", "status", "source", "team", "rep")
INBOX_DAYS = ("created_since", "created_until", "updated_since", "updated_until")
# The sort orders the inbox offers, its own first.
INBOX_SORTS = {
    INBOX_SORT: "Who to call now",
    "-score": "Score, highest first",
    "-created_at": "Newest",
    "created_at": "Oldest",
    "-updated_at": "Recently changed",
}


def _day_param(query: Any, name: str) -> str | None:
    """A ``YYYY-MM-DD`` of the form as the UTC time the filter compares (``until``: day after)."""
    raw = query.get(name, "")
    if not raw:
        return None
    try:
        day = date.fromisoformat(raw)
    except ValueError:
        raise WebError(400, f"Expected a date (YYYY-MM-DD), got {raw!r}.", field=name) from None
    if name.endswith("_until"):
        if day == date.max:
            return None
        day += timedelta(days=1)
    return datetime.combine(day, time(), timezone.utc).isoformat()


def inbox_query(query: Any, viewer_name: str) -> tuple[dict[str, str], MultiDict[str]]:
    """The inbox form's values as given (blank ones left out), and the list filters they mean."""
    given = {name: query[name] for name in (*INBOX_FILTERS, *INBOX_DAYS) if query.get(name)}
    if query.get("mine"):
        given["mine"] = "1"
    filters: MultiDict[str] = MultiDict(
        (name, value) for name, value in given.items() if name in INBOX_FILTERS
    )
    for name in INBOX_DAYS:
        moment = _day_param(query, name)
        if moment is not None:
            filters[name] = moment
    if "mine" in given:
        filters["rep"] = viewer_name
    return given, filters


@lru_cache(maxsize=4)
def _stage_thresholds(path: Path) -> ScoringConfig:
    """The scoring set-up whose thresholds say why a lead has its stage."""
    return load_scoring_config(path)


def headline(lead: dict[str, Any]) -> str:
    """Who a lead is in a few words: a name, else a contact, else what they asked about."""
    name = " ".join(part for part in (lead.get("first_name"), lead.get("last_name")) if part)
    for known in (name, lead.get("email"), lead.get("phone"), lead.get("company")):
        if known:
            return str(known)
    answers = lead.get("answers") or {}
    for key in ("variant", *sorted(answers)):
        raw = (answers.get(key) or {}).get("raw")
        if raw:
            return f"Shopper asking about “{raw}”"
    return "Anonymous shopper, no answers yet"


async def _acknowledged(request: web.Request, handoff_id: str) -> dict[str, Any] | None:
    """The handoff of ``?acknowledged=``, if it was acknowledged (the inbox says so)."""
    if not handoff_id or len(handoff_id) > MAX_ID_CHARS:
        return None
    handoff = await asyncio.to_thread(request.config_dict[SALES].handoff, handoff_id)
    if handoff is None or handoff["acknowledged_at"] is None:
        return None
    return handoff


async def lead_list(request: web.Request) -> web.StreamResponse:
    """``GET /leads``: the inbox, who to call now first; filters, search, sorts and pages."""
    viewer = await required_viewer(request)
    query = request.query
    given, filter_query = inbox_query(query, viewer.name)
    filters = lead_filters(filter_query)
    sort = choice_param(query, "sort", tuple(INBOX_SORTS)) or INBOX_SORT
    page_number = int_param(query, "page", minimum=1, maximum=100_000) or 1
    inbox = await asyncio.to_thread(
        request.config_dict[LEADS].inbox,
        filters,
        offset=(page_number - 1) * INBOX_PAGE_SIZE,
        limit=INBOX_PAGE_SIZE,
        sort=sort,
    )
    now = clock.now()
    handoffs = handoff_config(request.config_dict[SETTINGS].handoff_config_path)
    rows = []
    for lead in inbox.items:
        handoff = lead["handoff"]
        due = handoff["due_at"] if handoff else None
        rows.append(
            {
                "lead": lead,
                "headline": headline(lead),
                "handoff": handoff,
                "overdue": bool(
                    handoff and handoff["status"] == "open" and due is not None and due <= now
                ),
                "due_at": due.isoformat() if due else None,
                # As on the lead page: the handling team's time zone.
                "clock": team_clock(handoffs, [handoff["team"]] if handoff else []),
            }
        )
    pages = max(1, -(-inbox.total // INBOX_PAGE_SIZE))
    notice = await _acknowledged(request, query.get(ACKNOWLEDGED, ""))

    def link(**changes: Any) -> str:
        values = {**given, "sort": sort, **changes}
        kept = {name: value for name, value in values.items() if value not in (None, "")}
        if kept.get("sort") == INBOX_SORT:
            del kept["sort"]
        return "/leads" + (f"?{urlencode(kept)}" if kept else "")

    return LEAD_PAGES.render(
        request,
        "leads/list.html",
        {
            "rows": rows,
            "counts": inbox.counts,
            "total": inbox.total,
            "given": given,
            "sort": sort,
            "sorts": INBOX_SORTS,
            "stages": LEAD_STAGES,
            "statuses": LEAD_STATUSES,
            "page_number": page_number,
            "pages": pages,
            "link": link,
            # Where an acknowledgement from a row comes back to: this page of the inbox.
            "here": link(page=page_number if page_number > 1 else None),
            "notice": notice,
            "csrf": form_csrf(request, viewer),
            "may_ack": viewer.may(LEADS_WRITE),
            "stages_config": _stage_thresholds(request.config_dict[SETTINGS].scoring_config_path),
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
