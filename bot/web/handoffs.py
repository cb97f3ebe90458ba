"""Handoffs and their notifications: ``/api/v2/handoffs`` and ``/api/v2/outbox``."""

from __future__ import annotations

import asyncio

from aiohttp import web

from bot import clock
from bot.handoff.outbox import OUTBOX_STATUSES, list_handoffs
from bot.store.models import HANDOFF_STATUSES
from bot.store.tokens import LEADS_READ, LEADS_WRITE
from bot.web.errors import WebError
from bot.web.json import json_response
from bot.web.keys import LEADS, WORKER
from bot.web.params import choice_param, int_param, known_params
from bot.web.routes import ApiRoute, Doc
from bot.web.schemas import OBJECT, error, json_answer, page_size, query

MAX_PAGE_SIZE = 500
HANDOFF_PARAMS = frozenset({"status", "overdue", "lead_id", "limit"})
OUTBOX_PARAMS = frozenset({"status", "limit"})


async def get_handoffs(request: web.Request) -> web.Response:
    """``GET /api/v2/handoffs``: newest first; ``overdue=true`` for unacknowledged past SLA."""
    known_params(request.query, HANDOFF_PARAMS)
    query = request.query
    overdue = choice_param(query, "overdue", ("true", "false")) == "true"
    limit = int_param(query, "limit", minimum=1, maximum=MAX_PAGE_SIZE) or 100
    items = await asyncio.to_thread(
        list_handoffs,
        request.config_dict[LEADS].engine,
        status=choice_param(query, "status", HANDOFF_STATUSES),
        overdue_at=clock.now() if overdue else None,
        lead_id=query.get("lead_id"),
        limit=limit,
    )
    return json_response({"items": items, "limit": limit})


async def get_handoff(request: web.Request) -> web.Response:
    """``GET /api/v2/handoffs/{id}``: the handoff and each notification's delivery log."""
    handoff_id = request.match_info["handoff_id"]
    engine = request.config_dict[LEADS].engine
    found = await asyncio.to_thread(list_handoffs, engine, handoff_id=handoff_id, limit=1)
    if not found:
        raise WebError(404, f"no handoff with id {handoff_id!r}")
    store = request.config_dict[WORKER].store
    messages = await asyncio.to_thread(store.messages, handoff_id=handoff_id, limit=MAX_PAGE_SIZE)
    return json_response({**found[0], "notifications": messages})


async def get_outbox(request: web.Request) -> web.Response:
    """``GET /api/v2/outbox``: notifications and delivery logs (``status=dead``: dead letters)."""
    known_params(request.query, OUTBOX_PARAMS)
    status = choice_param(request.query, "status", OUTBOX_STATUSES)
    limit = int_param(request.query, "limit", minimum=1, maximum=MAX_PAGE_SIZE) or 100
    store = request.config_dict[WORKER].store
    items = await asyncio.to_thread(store.messages, status=status, limit=limit)
    counts = await asyncio.to_thread(store.counts)
    return json_response({"items": items, "counts": counts, "limit": limit})


async def retry_message(request: web.Request) -> web.Response:
    """``POST /api/v2/outbox/{message_id}/retry``: queue a dead letter again."""
    message_id = request.match_info["message_id"]
    worker = request.config_dict[WORKER]
    count = await asyncio.to_thread(worker.store.retry, message_id, clock.now())
    if not count:
        raise WebError(404, f"no dead-lettered notification with webhook-id {message_id!r}")
    worker.wake()
    return json_response({"message_id": message_id, "status": "pending"}, status=202)


ROUTES = (
    ApiRoute(
        "GET",
        "/api/v2/handoffs",
        get_handoffs,
        LEADS_READ,
        Doc(
            "Handoffs to sales, newest first",
            "listHandoffs",
            {"200": json_answer("Handoffs", OBJECT), "400": error("Bad query parameter")},
            query=(
                query("status", {"type": "string", "enum": list(HANDOFF_STATUSES)}),
                query("overdue", {"type": "string", "enum": ["true", "false"]}),
                query("lead_id", {"type": "string"}),
                page_size(),
            ),
        ),
    ),
    ApiRoute(
        "GET",
        "/api/v2/handoffs/{handoff_id}",
        get_handoff,
        LEADS_READ,
        Doc(
            "One handoff with its deliveries",
            "getHandoff",
            {"200": json_answer("The handoff", OBJECT)},
        ),
    ),
    ApiRoute(
        "GET",
        "/api/v2/outbox",
        get_outbox,
        LEADS_READ,
        Doc(
            "Notifications and their delivery log",
            "listOutbox",
            {"200": json_answer("Notifications", OBJECT), "400": error("Bad query parameter")},
            query=(query("status", {"type": "string", "enum": list(OUTBOX_STATUSES)}), page_size()),
        ),
    ),
    ApiRoute(
        "POST",
        "/api/v2/outbox/{message_id}/retry",
        retry_message,
        LEADS_WRITE,
        Doc(
            "Queue a dead-lettered notification again",
            "retryNotification",
            {"200": json_answer("Queued", OBJECT)},
        ),
    ),
)
