"""What sales and privacy requests do with one lead: ``/api/v2/leads/{id}/…``.

Convert to a customer, merge a confirmed duplicate, read its events and score
history, and the privacy operations (data export, erasure; admin only).
"""

from __future__ import annotations

import asyncio

from aiohttp import web

from bot.leads.book import SameLead
from bot.store.contacts import LeadInputError
from bot.store.tokens import ADMIN, LEADS_READ, LEADS_WRITE
from bot.web.errors import WebError
from bot.web.json import json_response
from bot.web.keys import LEADBOOK, LEADS
from bot.web.leads import caller_name, erase, invalid, lead_or_error, missing, object_body
from bot.web.params import known_params
from bot.web.routes import ApiRoute, Doc
from bot.web.schemas import OBJECT, error, json_answer, json_body, ref

CONVERT_FIELDS = frozenset({"customer_group", "reason"})
MERGE_FIELDS = frozenset({"duplicate_id"})
MAX_LEAD_ID_CHARS = 64


async def convert_lead(request: web.Request) -> web.Response:
    """``POST /api/v2/leads/{id}/convert``: status Won, lifecycle customer, history kept."""
    known_params(request.query, frozenset())
    body = await object_body(request) if request.can_read_body else {}
    unknown = sorted(set(body) - CONVERT_FIELDS)
    if unknown:
        raise WebError(
            400,
            f"unknown field(s): {', '.join(unknown)}; expected {', '.join(sorted(CONVERT_FIELDS))}",
        )
    book = request.config_dict[LEADBOOK]
    try:
        lead = await asyncio.to_thread(
            book.convert,
            request.match_info["lead_id"],
            customer_group=body.get("customer_group"),
            reason=body.get("reason"),
            by=caller_name(request),
        )
    except LeadInputError as exc:
        raise invalid(exc) from None
    except LookupError as exc:
        raise missing(exc) from None
    return json_response(lead)


async def merge_lead(request: web.Request) -> web.Response:
    """``POST /api/v2/leads/{id}/merge``: fold a likely duplicate into this lead (sales decide)."""
    known_params(request.query, frozenset())
    body = await object_body(request)
    unknown = sorted(set(body) - MERGE_FIELDS)
    if unknown:
        raise WebError(400, f"unknown field(s): {', '.join(unknown)}; expected duplicate_id")
    duplicate_id = body.get("duplicate_id")
    if (
        not isinstance(duplicate_id, str)
        or not 1 <= len(duplicate_id) <= MAX_LEAD_ID_CHARS
        or "\x00" in duplicate_id
    ):
        raise WebError(
            400,
            f"field 'duplicate_id': expected the id of the lead to merge into this one "
            f"(a string of 1 to {MAX_LEAD_ID_CHARS} characters), got {duplicate_id!r}",
        )
    book = request.config_dict[LEADBOOK]
    try:
        lead = await asyncio.to_thread(
            book.merge, request.match_info["lead_id"], duplicate_id, by=caller_name(request)
        )
    except SameLead as exc:
        raise WebError(400, str(exc)) from None
    except LookupError as exc:
        raise missing(exc) from None
    return json_response(lead)


async def get_lead_data(request: web.Request) -> web.Response:
    """``GET /api/v2/leads/{id}/data``: everything held about the person (admin)."""
    known_params(request.query, frozenset())
    book = request.config_dict[LEADBOOK]
    try:
        data = await asyncio.to_thread(book.export_data, request.match_info["lead_id"])
    except LookupError as exc:
        raise missing(exc) from None
    return json_response(
        data,
        headers={"Content-Disposition": f'attachment; filename="lead-{data["lead"]["id"]}.json"'},
    )


async def erase_lead(request: web.Request) -> web.Response:
    """``POST /api/v2/leads/{id}/erase``: a person's erasure request (admin)."""
    known_params(request.query, frozenset())
    return json_response(await erase(request, reason="request"))


async def get_lead_events(request: web.Request) -> web.Response:
    """``GET /api/v2/leads/{id}/events``: chat and storefront events, oldest first."""
    lead = await lead_or_error(request)
    items = await asyncio.to_thread(request.config_dict[LEADS].events, lead["id"])
    return json_response({"lead_id": lead["id"], "items": items})


async def get_lead_score(request: web.Request) -> web.Response:
    """``GET /api/v2/leads/{id}/score``: current breakdown, snapshots and stage changes."""
    lead = await lead_or_error(request)
    history = await asyncio.to_thread(request.config_dict[LEADS].score_history, lead["id"])
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


_CONVERT_BODY = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "customer_group": {"type": "string", "maxLength": 64},
        "reason": {"type": "string", "maxLength": 1000},
    },
}
_MERGE_BODY = {
    "type": "object",
    "additionalProperties": False,
    "required": ["duplicate_id"],
    "properties": {
        "duplicate_id": {"type": "string", "minLength": 1, "maxLength": MAX_LEAD_ID_CHARS}
    },
}

ROUTES = (
    ApiRoute(
        "POST",
        "/api/v2/leads/{lead_id}/convert",
        convert_lead,
        LEADS_WRITE,
        Doc(
            "Convert to a customer (status Won, lifecycle customer)",
            "convertLead",
            {"200": json_answer("The customer", ref("Lead")), "400": error("Invalid fields")},
            body=json_body(_CONVERT_BODY, required=False),
        ),
    ),
    ApiRoute(
        "POST",
        "/api/v2/leads/{lead_id}/merge",
        merge_lead,
        LEADS_WRITE,
        Doc(
            "Merge a likely duplicate into this lead (same person, confirmed)",
            "mergeLead",
            {
                "200": json_answer("The merged lead", ref("Lead")),
                "400": error("Invalid body, or the lead itself as duplicate_id"),
            },
            description="This lead keeps its contact fields, status and consent; the "
            "duplicate's fill only empty ones. Answers, events, handoffs, histories, orders "
            "and follow-ups move over (the revenue is the sum of both leads' orders) and the "
            "lead is rescored. Repeating a merge changes nothing.",
            body=json_body(_MERGE_BODY),
        ),
    ),
    ApiRoute(
        "GET",
        "/api/v2/leads/{lead_id}/data",
        get_lead_data,
        ADMIN,
        Doc(
            "Everything held about the person (admin)",
            "exportLeadData",
            {"200": json_answer("The person's data", OBJECT)},
        ),
    ),
    ApiRoute(
        "POST",
        "/api/v2/leads/{lead_id}/erase",
        erase_lead,
        ADMIN,
        Doc(
            "Erase the person: lead, answers, events, conversation (admin)",
            "eraseLead",
            {"200": json_answer("What was removed", OBJECT)},
        ),
    ),
    ApiRoute(
        "GET",
        "/api/v2/leads/{lead_id}/events",
        get_lead_events,
        LEADS_READ,
        Doc(
            "The lead's chat and storefront events",
            "getLeadEvents",
            {"200": json_answer("Events, oldest first", OBJECT)},
        ),
    ),
    ApiRoute(
        "GET",
        "/api/v2/leads/{lead_id}/score",
        get_lead_score,
        LEADS_READ,
        Doc(
            "Score breakdown, snapshots and stage changes",
            "getLeadScore",
            {"200": json_answer("The score", OBJECT)},
        ),
    ),
)
