"""Leads resource: ``/api/v2/leads``.

List (filters, sorting, cursor pagination), create, read, replace (PUT), edit
(PATCH) and delete. Field rules are :mod:`bot.store.contacts`'s; every error
names the field and what was expected. What sales do with one lead (convert,
merge, data export, erasure, events, score) is :mod:`bot.web.lead_actions`.
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

from bot.leads.book import DuplicateLead, LeadGone
from bot.store.contacts import LeadInputError, normalise_source
from bot.store.models import LEAD_STAGES, LEAD_STATUSES
from bot.store.queries import LEAD_SORTS, InvalidCursor, LeadFilters
from bot.store.tokens import ADMIN, LEADS_READ, LEADS_WRITE
from bot.web.errors import WebError
from bot.web.json import json_response, read_json_body
from bot.web.keys import LEADBOOK, LEADS, PRINCIPAL
from bot.web.params import bool_param, choice_param, int_param, known_params, time_param
from bot.web.routes import ApiRoute, Doc
from bot.web.schemas import error, json_answer, json_body, page_size, query, ref

MAX_PAGE_SIZE = 200
DEFAULT_PAGE_SIZE = 50
MAX_SEARCH_CHARS = 200
MAX_NAME_CHARS = 120
FILTER_PARAMS = frozenset(
    {
        "session_id",
        "stage",
        "status",
        "min_score",
        "source",
        "q",
        "updated_since",
        "updated_until",
        "created_since",
        "created_until",
        "team",
        "rep",
    }
)
LIST_PARAMS = FILTER_PARAMS | {"limit", "cursor", "sort", "counts"}


def lead_filters(query: Any) -> LeadFilters:
    """The list filters of a query string (shared with the CSV export)."""
    search = query.get("q")
    if search is not None and len(search) > MAX_SEARCH_CHARS:
        raise WebError(400, f"query parameter 'q' must be at most {MAX_SEARCH_CHARS} characters")
    for name in ("session_id", "source", "q", "team", "rep"):
        if "\x00" in query.get(name, ""):
            raise WebError(400, f"query parameter '{name}' contains a NUL character")
    return LeadFilters(
        session_id=query.get("session_id"),
        stage=choice_param(query, "stage", LEAD_STAGES),
        status=choice_param(query, "status", LEAD_STATUSES),
        min_score=int_param(query, "min_score", minimum=-10_000, maximum=10_000),
        source=_source_param(query),
        q=search or None,
        updated_since=time_param(query, "updated_since"),
        updated_until=time_param(query, "updated_until"),
        created_since=time_param(query, "created_since"),
        created_until=time_param(query, "created_until"),
        team=_name_param(query, "team"),
        rep=_name_param(query, "rep"),
    )


def _name_param(query: Any, name: str) -> str | None:
    """A team or rep name (``None`` if absent or blank)."""
    raw = query.get(name, "").strip()
    if len(raw) > MAX_NAME_CHARS:
        raise WebError(400, f"query parameter '{name}' must be at most {MAX_NAME_CHARS} characters")
    return raw or None


def _source_param(query: Any) -> str | None:
    """The ``source`` filter, spaced as stored; ``None`` if absent or blank (as ``q``)."""
    raw = query.get("source", "")
    if not raw.strip():
        return None
    try:
        return normalise_source(raw)
    except ValueError as exc:
        raise WebError(400, f"query parameter 'source': {exc}") from None


def caller_name(request: web.Request) -> str:
    """The name of the token behind the request (kept in histories and notes)."""
    return str(request[PRINCIPAL].name)


async def object_body(request: web.Request) -> dict[str, Any]:
    """The JSON body, which must be an object."""
    body = await read_json_body(request)
    if not isinstance(body, dict):
        raise WebError(400, f"body must be a JSON object, got {type(body).__name__}")
    return body


def invalid(exc: LeadInputError) -> WebError:
    """The 400 of a lead's invalid fields, each named."""
    return WebError(400, f"invalid lead: {exc}", errors=[error.as_dict() for error in exc.errors])


def missing(exc: LookupError) -> WebError:
    """The 404 of an unknown lead, the 410 of an erased one."""
    if isinstance(exc, LeadGone):
        return WebError(410, str(exc), erased_at=exc.erased_at.isoformat())
    # The message itself (str() of a KeyError would be its quoted key).
    return WebError(404, str(exc.args[0]) if exc.args else "no such lead")


async def lead_or_error(request: web.Request) -> dict[str, Any]:
    """The lead of the path (a merged id gives the surviving lead)."""
    try:
        return await asyncio.to_thread(
            request.config_dict[LEADBOOK].get, request.match_info["lead_id"]
        )
    except LookupError as exc:
        raise missing(exc) from None


async def list_leads(request: web.Request) -> web.Response:
    """``GET /api/v2/leads``: filtered, sorted, cursor-paginated list."""
    query = request.query
    known_params(query, LIST_PARAMS)
    filters = lead_filters(query)
    sort = choice_param(query, "sort", tuple(LEAD_SORTS)) or "created_at"
    limit = int_param(query, "limit", minimum=1, maximum=MAX_PAGE_SIZE) or DEFAULT_PAGE_SIZE
    try:
        page = await asyncio.to_thread(
            request.config_dict[LEADS].list_leads,
            filters,
            limit=limit,
            cursor=query.get("cursor"),
            sort=sort,
        )
        counts = (
            await asyncio.to_thread(request.config_dict[LEADS].stage_counts, filters)
            if bool_param(query, "counts")
            else None
        )
    except InvalidCursor as exc:
        raise WebError(400, f"query parameter 'cursor': {exc}") from None
    body: dict[str, Any] = {
        "items": page.items,
        "next_cursor": page.next_cursor,
        "limit": limit,
        "sort": sort,
    }
    if counts is not None:
        body.update(counts=counts, total=sum(counts.values()))
    return json_response(body)


async def create_lead(request: web.Request) -> web.Response:
    """``POST /api/v2/leads``: 201 with the lead; 409 for a known e-mail unless ``merge=true``."""
    known_params(request.query, frozenset({"merge"}))
    merge = bool_param(request.query, "merge")
    body = await object_body(request)
    book = request.config_dict[LEADBOOK]
    try:
        saved = await asyncio.to_thread(book.create, body, by=caller_name(request), merge=merge)
    except LeadInputError as exc:
        raise invalid(exc) from None
    except DuplicateLead as exc:
        raise WebError(
            409, f"{exc}; send ?merge=true to update it instead", existing_id=exc.existing_id
        ) from None
    return json_response(
        saved.lead,
        status=201 if saved.created else 200,
        headers={"Location": f"/api/v2/leads/{saved.lead['id']}"},
    )


async def get_lead(request: web.Request) -> web.Response:
    """``GET /api/v2/leads/{id}``; 410 once erased."""
    return json_response(await lead_or_error(request))


async def replace_lead(request: web.Request) -> web.Response:
    """``PUT /api/v2/leads/{id}``: every contact field; the ones not given are cleared."""
    return await _update(request, replace=True)


async def patch_lead(request: web.Request) -> web.Response:
    """``PATCH /api/v2/leads/{id}``: only the given fields change (null clears one)."""
    return await _update(request, replace=False)


async def _update(request: web.Request, *, replace: bool) -> web.Response:
    known_params(request.query, frozenset())
    body = await object_body(request)
    book = request.config_dict[LEADBOOK]
    try:
        lead = await asyncio.to_thread(
            book.update,
            request.match_info["lead_id"],
            body,
            by=caller_name(request),
            replace=replace,
        )
    except LeadInputError as exc:
        raise invalid(exc) from None
    except DuplicateLead as exc:
        raise WebError(409, str(exc), existing_id=exc.existing_id) from None
    except LookupError as exc:
        raise missing(exc) from None
    return json_response(lead)


async def delete_lead(request: web.Request) -> web.Response:
    """``DELETE /api/v2/leads/{id}``: removes the lead and its data (admin)."""
    known_params(request.query, frozenset())
    await erase(request, reason="delete")
    return web.Response(status=204)


async def erase(request: web.Request, *, reason: str) -> dict[str, Any]:
    """Erase the lead of the path and its data; what was removed."""
    book = request.config_dict[LEADBOOK]
    try:
        result: dict[str, Any] = await asyncio.to_thread(
            book.erase, request.match_info["lead_id"], by=caller_name(request), reason=reason
        )
    except LookupError as exc:
        raise missing(exc) from None
    return result


LIST_QUERY = (
    query("session_id", {"type": "string"}, "Storefront/chat session id"),
    query("stage", {"type": "string", "enum": list(LEAD_STAGES)}, "Scoring stage"),
    query("status", {"type": "string", "enum": list(LEAD_STATUSES)}, "Sales status"),
    query("min_score", {"type": "integer", "minimum": -10000, "maximum": 10000}, "Lowest score"),
    query(
        "source",
        {"type": "string"},
        "Where the lead came from, in any case and spacing: 'trade  SHOW' finds 'Trade "
        "show' (on SQLite, case is ignored for the letters A-Z only). A label people wrote, "
        "or a source the product sets: chat, storefront, web_form, api, import. Empty: "
        "every source",
    ),
    query(
        "q",
        {"type": "string", "maxLength": MAX_SEARCH_CHARS},
        "Full-text search: every word starts a word of the first or last name, e-mail, "
        "phone, company or an answer's text, in any case ('ada lov' finds Ada Lovelace). "
        "Without a letter or digit, a substring of the name, e-mail or company",
    ),
    query(
        "updated_since",
        {"type": "string", "format": "date-time"},
        "Only leads changed at or after this time (with timezone)",
    ),
    query(
        "updated_until",
        {"type": "string", "format": "date-time"},
        "Only leads changed before this time (with timezone)",
    ),
    query(
        "created_since",
        {"type": "string", "format": "date-time"},
        "Only leads created at or after this time (with timezone)",
    ),
    query(
        "created_until",
        {"type": "string", "format": "date-time"},
        "Only leads created before this time (with timezone)",
    ),
    query(
        "team",
        {"type": "string", "maxLength": MAX_NAME_CHARS},
        "Only leads handed off to this sales team",
    ),
    query(
        "rep",
        {"type": "string", "maxLength": MAX_NAME_CHARS},
        "Only leads with a handoff assigned to this rep",
    ),
)
# What a created lead's id can be used for (schemathesis follows these).
_LEAD_LINKS = {
    operation: {"operationId": operation, "parameters": {"lead_id": "$response.body#/id"}}
    for operation in (
        "getLead",
        "replaceLead",
        "patchLead",
        "convertLead",
        "getLeadEvents",
        "getLeadScore",
        "exportLeadData",
        "eraseLead",
        "deleteLead",
    )
}
_CHANGED = {
    "200": json_answer("The lead", ref("Lead")),
    "400": error("Invalid fields"),
    "409": error("The e-mail belongs to another lead"),
}

ROUTES = (
    ApiRoute(
        "GET",
        "/api/v2/leads",
        list_leads,
        LEADS_READ,
        Doc(
            "List leads",
            "listLeads",
            {
                "200": json_answer("A page of leads", ref("LeadPage")),
                "400": error("Bad query parameter"),
            },
            query=(
                *LIST_QUERY,
                query("sort", {"type": "string", "enum": list(LEAD_SORTS)}, "Order; '-' descends"),
                page_size(MAX_PAGE_SIZE),
                query("cursor", {"type": "string"}, "next_cursor of the previous page"),
                query(
                    "counts",
                    {"type": "boolean"},
                    "Add counts (leads per stage the filters keep) and total",
                ),
            ),
        ),
    ),
    ApiRoute(
        "POST",
        "/api/v2/leads",
        create_lead,
        LEADS_WRITE,
        Doc(
            "Create a lead",
            "createLead",
            {
                "201": {**json_answer("Created", ref("Lead")), "links": _LEAD_LINKS},
                "200": json_answer("Merged into the existing lead", ref("Lead")),
                "400": error("Invalid fields (each named)"),
                "409": error("A lead with this e-mail exists (existing_id)"),
                "413": error("Body over 1 MB"),
            },
            description="Requires first_name, last_name and email or phone. A known e-mail "
            "is a 409 unless merge=true.",
            query=(query("merge", {"type": "boolean"}, "Update the lead with this e-mail"),),
            body=json_body(ref("LeadInput")),
        ),
    ),
    ApiRoute(
        "GET",
        "/api/v2/leads/{lead_id}",
        get_lead,
        LEADS_READ,
        Doc("Read a lead", "getLead", {"200": json_answer("The lead", ref("Lead"))}),
    ),
    ApiRoute(
        "PUT",
        "/api/v2/leads/{lead_id}",
        replace_lead,
        LEADS_WRITE,
        Doc(
            "Replace a lead's contact fields (others are cleared)",
            "replaceLead",
            _CHANGED,
            body=json_body(ref("LeadInput")),
        ),
    ),
    ApiRoute(
        "PATCH",
        "/api/v2/leads/{lead_id}",
        patch_lead,
        LEADS_WRITE,
        Doc(
            "Change some fields of a lead (null clears one)",
            "patchLead",
            _CHANGED,
            body=json_body(ref("LeadInput")),
        ),
    ),
    ApiRoute(
        "DELETE",
        "/api/v2/leads/{lead_id}",
        delete_lead,
        ADMIN,
        Doc(
            "Delete a lead and its data (admin)", "deleteLead", {"204": {"description": "Deleted"}}
        ),
    ),
)
