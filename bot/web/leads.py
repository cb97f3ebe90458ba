"""Leads resource: ``/api/v2/leads``."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

from bot.store.models import LEAD_STAGES, LEAD_STATUSES
from bot.store.repository import InvalidCursor, LeadFilters
from bot.web.errors import ApiError
from bot.web.json import json_response
from bot.web.keys import REPOSITORY

MAX_PAGE_SIZE = 200
DEFAULT_PAGE_SIZE = 50
LIST_PARAMS = frozenset({"session_id", "stage", "status", "min_score", "limit", "cursor"})


def int_param(query: Any, name: str, *, minimum: int, maximum: int) -> int | None:
    """An integer query parameter within bounds (``None`` if absent)."""
    raw = query.get(name)
    if raw is None:
        return None
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(400, f"query parameter '{name}' must be an integer, got {raw!r}") from None
    if not minimum <= value <= maximum:
        raise ApiError(
            400, f"query parameter '{name}' must be between {minimum} and {maximum}, got {value}"
        )
    return value


def choice_param(query: Any, name: str, choices: tuple[str, ...]) -> str | None:
    """A query parameter that must be one of ``choices`` (``None`` if absent)."""
    raw = query.get(name)
    if raw is not None and raw not in choices:
        raise ApiError(
            400, f"query parameter '{name}' must be one of {', '.join(choices)}, got {raw!r}"
        )
    return raw


async def list_leads(request: web.Request) -> web.Response:
    """``GET /api/v2/leads``: filtered, cursor-paginated list."""
    query = request.query
    unknown = sorted(set(query) - LIST_PARAMS)
    if unknown:
        raise ApiError(
            400,
            f"unknown query parameter(s): {', '.join(unknown)}",
            allowed=sorted(LIST_PARAMS),
        )
    filters = LeadFilters(
        session_id=query.get("session_id"),
        stage=choice_param(query, "stage", LEAD_STAGES),
        status=choice_param(query, "status", LEAD_STATUSES),
        min_score=int_param(query, "min_score", minimum=-10_000, maximum=10_000),
    )
    limit = int_param(query, "limit", minimum=1, maximum=MAX_PAGE_SIZE) or DEFAULT_PAGE_SIZE
    try:
        page = await asyncio.to_thread(
            request.app[REPOSITORY].list_leads, filters, limit=limit, cursor=query.get("cursor")
        )
    except InvalidCursor as exc:
        raise ApiError(400, f"query parameter 'cursor': {exc}") from None
    return json_response({"items": page.items, "next_cursor": page.next_cursor, "limit": limit})


async def get_lead(request: web.Request) -> web.Response:
    """``GET /api/v2/leads/{id}``."""
    lead_id = request.match_info["lead_id"]
    lead = await asyncio.to_thread(request.app[REPOSITORY].get_lead, lead_id)
    if lead is None:
        raise ApiError(404, f"no lead with id {lead_id!r}")
    return json_response(lead)


async def _lead_or_404(request: web.Request) -> dict[str, Any]:
    lead_id = request.match_info["lead_id"]
    lead = await asyncio.to_thread(request.app[REPOSITORY].get_lead, lead_id)
    if lead is None:
        raise ApiError(404, f"no lead with id {lead_id!r}")
    return lead


async def get_lead_events(request: web.Request) -> web.Response:
    """``GET /api/v2/leads/{id}/events``: chat and storefront events, oldest first."""
    lead = await _lead_or_404(request)
    items = await asyncio.to_thread(request.app[REPOSITORY].events, lead["id"])
    return json_response({"lead_id": lead["id"], "items": items})


async def get_lead_score(request: web.Request) -> web.Response:
    """``GET /api/v2/leads/{id}/score``: current breakdown, snapshots and stage changes."""
    lead = await _lead_or_404(request)
    history = await asyncio.to_thread(request.app[REPOSITORY].score_history, lead["id"])
    return json_response(
        {
            "lead_id": lead["id"],
            "score": lead["score"],
            "intent_score": lead["intent_score"],
            "fit_score": lead["fit_score"],
            "stage": lead["stage"],
            "qualification": lead["qualification"],
            "reasons": lead["reasons"],
            **history,
        }
    )


def setup(app: web.Application) -> None:
    """Register the routes of this resource."""
    app.router.add_get("/api/v2/leads", list_leads)
    app.router.add_get("/api/v2/leads/{lead_id}", get_lead)
    app.router.add_get("/api/v2/leads/{lead_id}/events", get_lead_events)
    app.router.add_get("/api/v2/leads/{lead_id}/score", get_lead_score)
