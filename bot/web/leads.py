"""Leads resource: ``/api/v2/leads``.

List (filters, sorting, cursor pagination), create, read, replace (PUT), edit
(PATCH), delete, convert to a customer, and the privacy operations (data export,
erasure). Field rules are :mod:`bot.store.contacts`'s; every error names the
field and what was expected.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone
from typing import Any

from aiohttp import web

from bot.store.contacts import LeadInputError, normalise_source
from bot.store.leadbook import DuplicateLead, LeadGone, SameLead
from bot.store.models import LEAD_STAGES, LEAD_STATUSES
from bot.store.repository import LEAD_SORTS, InvalidCursor, LeadFilters
from bot.web.errors import ApiError
from bot.web.json import json_response, read_json_body
from bot.web.keys import LEADBOOK, PRINCIPAL, REPOSITORY

MAX_PAGE_SIZE = 200
DEFAULT_PAGE_SIZE = 50
MAX_SEARCH_CHARS = 200
FILTER_PARAMS = frozenset(
    {"session_id", "stage", "status", "min_score", "source", "q", "updated_since"}
)
LIST_PARAMS = FILTER_PARAMS | {"limit", "cursor", "sort"}
CONVERT_FIELDS = frozenset({"customer_group", "reason"})
MERGE_FIELDS = frozenset({"duplicate_id"})
MAX_LEAD_ID_CHARS = 64


def known_params(query: Any, allowed: frozenset[str]) -> None:
    """400 naming the query parameters that are not in ``allowed``."""
    unknown = sorted(set(query) - allowed)
    if unknown:
        raise ApiError(
            400, f"unknown query parameter(s): {', '.join(unknown)}", allowed=sorted(allowed)
        )


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


def bool_param(query: Any, name: str) -> bool:
    """``true``/``false`` (also 1/0, yes/no); false when absent."""
    raw = query.get(name)
    if raw is None:
        return False
    value = raw.strip().lower()
    if value in ("true", "1", "yes"):
        return True
    if value in ("false", "0", "no"):
        return False
    raise ApiError(400, f"query parameter '{name}' must be true or false, got {raw!r}")


def time_param(query: Any, name: str) -> datetime | None:
    """An ISO 8601 time with a timezone, in UTC (``None`` if absent); 400 naming ``name``."""
    raw = query.get(name)
    if raw is None:
        return None
    try:
        value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
        # In UTC, which a time at the very edge of the calendar does not fit.
        utc = value.astimezone(timezone.utc) if value.tzinfo is not None else None
    except (ValueError, OverflowError):
        utc = None
    if utc is None:
        raise ApiError(
            400,
            f"query parameter '{name}' must be an ISO 8601 time with a timezone, "
            f"like 2026-11-30T09:00:00Z; got {raw!r}",
        )
    return utc


def lead_filters(query: Any) -> LeadFilters:
    """The list filters of a query string (shared with the CSV export)."""
    search = query.get("q")
    if search is not None and len(search) > MAX_SEARCH_CHARS:
        raise ApiError(400, f"query parameter 'q' must be at most {MAX_SEARCH_CHARS} characters")
    for name in ("session_id", "source", "q"):
        if "\x00" in query.get(name, ""):
            raise ApiError(400, f"query parameter '{name}' contains a NUL character")
    return LeadFilters(
        session_id=query.get("session_id"),
        stage=choice_param(query, "stage", LEAD_STAGES),
        status=choice_param(query, "status", LEAD_STATUSES),
        min_score=int_param(query, "min_score", minimum=-10_000, maximum=10_000),
        source=_source_param(query),
        q=search or None,
        updated_since=time_param(query, "updated_since"),
    )


def _source_param(query: Any) -> str | None:
    """The ``source`` filter, spaced as stored; ``None`` if absent or blank (as ``q``)."""
    raw = query.get("source", "")
    if not raw.strip():
        return None
    try:
        return normalise_source(raw)
    except ValueError as exc:
        raise ApiError(400, f"query parameter 'source': {exc}") from None


def _lead_id(request: web.Request) -> str:
    """The lead id of the path; 404 for one no lead can have (PostgreSQL refuses NUL)."""
    lead_id = request.match_info["lead_id"]
    if "\x00" in lead_id:
        raise ApiError(404, f"no lead with id {lead_id!r}")
    return lead_id


def _caller(request: web.Request) -> str:
    return str(request[PRINCIPAL].name)


async def _object_body(request: web.Request) -> dict[str, Any]:
    body = await read_json_body(request)
    if not isinstance(body, dict):
        raise ApiError(400, f"body must be a JSON object, got {type(body).__name__}")
    return body


def _invalid(exc: LeadInputError) -> ApiError:
    return ApiError(
        400,
        f"invalid lead: {exc}",
        errors=[error.as_dict() for error in exc.errors],
    )


def _duplicate(exc: DuplicateLead) -> ApiError:
    return ApiError(
        409,
        f"{exc}; send ?merge=true to update it instead",
        existing_id=exc.existing_id,
    )


def _missing(exc: LookupError) -> ApiError:
    if isinstance(exc, LeadGone):
        return ApiError(410, str(exc), erased_at=exc.erased_at.isoformat())
    # The message itself (str() of a KeyError would be its quoted key).
    return ApiError(404, str(exc.args[0]) if exc.args else "no such lead")


async def list_leads(request: web.Request) -> web.Response:
    """``GET /api/v2/leads``: filtered, sorted, cursor-paginated list."""
    query = request.query
    known_params(query, LIST_PARAMS)
    filters = lead_filters(query)
    sort = choice_param(query, "sort", tuple(LEAD_SORTS)) or "created_at"
    limit = int_param(query, "limit", minimum=1, maximum=MAX_PAGE_SIZE) or DEFAULT_PAGE_SIZE
    try:
        page = await asyncio.to_thread(
            request.app[REPOSITORY].list_leads,
            filters,
            limit=limit,
            cursor=query.get("cursor"),
            sort=sort,
        )
    except InvalidCursor as exc:
        raise ApiError(400, f"query parameter 'cursor': {exc}") from None
    return json_response(
        {"items": page.items, "next_cursor": page.next_cursor, "limit": limit, "sort": sort}
    )


async def create_lead(request: web.Request) -> web.Response:
    """``POST /api/v2/leads``: 201 with the lead; 409 for a known e-mail unless ``merge=true``."""
    known_params(request.query, frozenset({"merge"}))
    merge = bool_param(request.query, "merge")
    body = await _object_body(request)
    book = request.app[LEADBOOK]
    try:
        saved = await asyncio.to_thread(book.create, body, by=_caller(request), merge=merge)
    except LeadInputError as exc:
        raise _invalid(exc) from None
    except DuplicateLead as exc:
        raise _duplicate(exc) from None
    return json_response(
        saved.lead,
        status=201 if saved.created else 200,
        headers={"Location": f"/api/v2/leads/{saved.lead['id']}"},
    )


async def get_lead(request: web.Request) -> web.Response:
    """``GET /api/v2/leads/{id}``; 410 once erased."""
    return json_response(await _lead_or_error(request))


async def _lead_or_error(request: web.Request) -> dict[str, Any]:
    try:
        return await asyncio.to_thread(request.app[LEADBOOK].get, _lead_id(request))
    except LookupError as exc:
        raise _missing(exc) from None


async def replace_lead(request: web.Request) -> web.Response:
    """``PUT /api/v2/leads/{id}``: every contact field; the ones not given are cleared."""
    return await _update(request, replace=True)


async def patch_lead(request: web.Request) -> web.Response:
    """``PATCH /api/v2/leads/{id}``: only the given fields change (null clears one)."""
    return await _update(request, replace=False)


async def _update(request: web.Request, *, replace: bool) -> web.Response:
    known_params(request.query, frozenset())
    body = await _object_body(request)
    book = request.app[LEADBOOK]
    try:
        lead = await asyncio.to_thread(
            book.update,
            _lead_id(request),
            body,
            by=_caller(request),
            replace=replace,
        )
    except LeadInputError as exc:
        raise _invalid(exc) from None
    except DuplicateLead as exc:
        raise ApiError(409, str(exc), existing_id=exc.existing_id) from None
    except LookupError as exc:
        raise _missing(exc) from None
    return json_response(lead)


async def delete_lead(request: web.Request) -> web.Response:
    """``DELETE /api/v2/leads/{id}``: removes the lead and its data (admin)."""
    known_params(request.query, frozenset())
    await _erase(request, reason="delete")
    return web.Response(status=204)


async def erase_lead(request: web.Request) -> web.Response:
    """``POST /api/v2/leads/{id}/erase``: a person's erasure request (admin)."""
    known_params(request.query, frozenset())
    return json_response(await _erase(request, reason="request"))


async def _erase(request: web.Request, *, reason: str) -> dict[str, Any]:
    book = request.app[LEADBOOK]
    try:
        result: dict[str, Any] = await asyncio.to_thread(
            book.erase, _lead_id(request), by=_caller(request), reason=reason
        )
    except LookupError as exc:
        raise _missing(exc) from None
    return result


async def convert_lead(request: web.Request) -> web.Response:
    """``POST /api/v2/leads/{id}/convert``: status Won, lifecycle customer, history kept."""
    known_params(request.query, frozenset())
    body = await _object_body(request) if request.can_read_body else {}
    unknown = sorted(set(body) - CONVERT_FIELDS)
    if unknown:
        raise ApiError(
            400,
            f"unknown field(s): {', '.join(unknown)}; expected {', '.join(sorted(CONVERT_FIELDS))}",
        )
    book = request.app[LEADBOOK]
    try:
        lead = await asyncio.to_thread(
            book.convert,
            _lead_id(request),
            customer_group=body.get("customer_group"),
            reason=body.get("reason"),
            by=_caller(request),
        )
    except LeadInputError as exc:
        raise _invalid(exc) from None
    except LookupError as exc:
        raise _missing(exc) from None
    return json_response(lead)


async def merge_lead(request: web.Request) -> web.Response:
    """``POST /api/v2/leads/{id}/merge``: fold a likely duplicate into this lead (sales decide)."""
    known_params(request.query, frozenset())
    body = await _object_body(request)
    unknown = sorted(set(body) - MERGE_FIELDS)
    if unknown:
        raise ApiError(400, f"unknown field(s): {', '.join(unknown)}; expected duplicate_id")
    duplicate_id = body.get("duplicate_id")
    if (
        not isinstance(duplicate_id, str)
        or not 1 <= len(duplicate_id) <= MAX_LEAD_ID_CHARS
        or "\x00" in duplicate_id
    ):
        raise ApiError(
            400,
            f"field 'duplicate_id': expected the id of the lead to merge into this one "
            f"(a string of 1 to {MAX_LEAD_ID_CHARS} characters), got {duplicate_id!r}",
        )
    book = request.app[LEADBOOK]
    try:
        lead = await asyncio.to_thread(
            book.merge, _lead_id(request), duplicate_id, by=_caller(request)
        )
    except SameLead as exc:
        raise ApiError(400, str(exc)) from None
    except LookupError as exc:
        raise _missing(exc) from None
    return json_response(lead)


async def get_lead_data(request: web.Request) -> web.Response:
    """``GET /api/v2/leads/{id}/data``: everything held about the person (admin)."""
    known_params(request.query, frozenset())
    try:
        data = await asyncio.to_thread(request.app[LEADBOOK].export_data, _lead_id(request))
    except LookupError as exc:
        raise _missing(exc) from None
    return json_response(
        data,
        headers={"Content-Disposition": f'attachment; filename="lead-{data["lead"]["id"]}.json"'},
    )


async def get_lead_events(request: web.Request) -> web.Response:
    """``GET /api/v2/leads/{id}/events``: chat and storefront events, oldest first."""
    lead = await _lead_or_error(request)
    items = await asyncio.to_thread(request.app[REPOSITORY].events, lead["id"])
    return json_response({"lead_id": lead["id"], "items": items})


async def get_lead_score(request: web.Request) -> web.Response:
    """``GET /api/v2/leads/{id}/score``: current breakdown, snapshots and stage changes."""
    lead = await _lead_or_error(request)
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
    app.router.add_post("/api/v2/leads", create_lead)
    app.router.add_get("/api/v2/leads/{lead_id}", get_lead)
    app.router.add_put("/api/v2/leads/{lead_id}", replace_lead)
    app.router.add_patch("/api/v2/leads/{lead_id}", patch_lead)
    app.router.add_delete("/api/v2/leads/{lead_id}", delete_lead)
    app.router.add_post("/api/v2/leads/{lead_id}/convert", convert_lead)
    app.router.add_post("/api/v2/leads/{lead_id}/merge", merge_lead)
    app.router.add_get("/api/v2/leads/{lead_id}/data", get_lead_data)
    app.router.add_post("/api/v2/leads/{lead_id}/erase", erase_lead)
    app.router.add_get("/api/v2/leads/{lead_id}/events", get_lead_events)
    app.router.add_get("/api/v2/leads/{lead_id}/score", get_lead_score)
