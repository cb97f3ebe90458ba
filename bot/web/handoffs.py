"""Handoffs and their notifications: ``/api/v2/handoffs`` and ``/api/v2/outbox``."""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone

from aiohttp import web

from bot.handoff.outbox import OUTBOX_STATUSES, list_handoffs
from bot.store.models import HANDOFF_STATUSES
from bot.web.errors import ApiError
from bot.web.json import json_response
from bot.web.keys import REPOSITORY, WORKER
from bot.web.leads import choice_param, int_param, known_params

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
        request.app[REPOSITORY].engine,
        status=choice_param(query, "status", HANDOFF_STATUSES),
        overdue_at=datetime.now(timezone.utc) if overdue else None,
        lead_id=query.get("lead_id"),
        limit=limit,
    )
    return json_response({"items": items, "limit": limit})


async def get_handoff(request: web.Request) -> web.Response:
    """``GET /api/v2/handoffs/{id}``: the handoff and each notification's delivery log."""
    handoff_id = request.match_info["handoff_id"]
    engine = request.app[REPOSITORY].engine
    found = await asyncio.to_thread(list_handoffs, engine, handoff_id=handoff_id, limit=1)
    if not found:
        raise ApiError(404, f"no handoff with id {handoff_id!r}")
    store = request.app[WORKER].store
    messages = await asyncio.to_thread(store.messages, handoff_id=handoff_id, limit=MAX_PAGE_SIZE)
    return json_response({**found[0], "notifications": messages})


async def get_outbox(request: web.Request) -> web.Response:
    """``GET /api/v2/outbox``: notifications and delivery logs (``status=dead``: dead letters)."""
    known_params(request.query, OUTBOX_PARAMS)
    status = choice_param(request.query, "status", OUTBOX_STATUSES)
    limit = int_param(request.query, "limit", minimum=1, maximum=MAX_PAGE_SIZE) or 100
    store = request.app[WORKER].store
    items = await asyncio.to_thread(store.messages, status=status, limit=limit)
    counts = await asyncio.to_thread(store.counts)
    return json_response({"items": items, "counts": counts, "limit": limit})


async def retry_message(request: web.Request) -> web.Response:
    """``POST /api/v2/outbox/{message_id}/retry``: queue a dead letter again."""
    message_id = request.match_info["message_id"]
    worker = request.app[WORKER]
    count = await asyncio.to_thread(worker.store.retry, message_id, datetime.now(timezone.utc))
    if not count:
        raise ApiError(404, f"no dead-lettered notification with webhook-id {message_id!r}")
    worker.wake()
    return json_response({"message_id": message_id, "status": "pending"}, status=202)


def setup(app: web.Application) -> None:
    """Register the routes of this resource."""
    app.router.add_get("/api/v2/handoffs", get_handoffs)
    app.router.add_get("/api/v2/handoffs/{handoff_id}", get_handoff)
    app.router.add_get("/api/v2/outbox", get_outbox)
    app.router.add_post("/api/v2/outbox/{message_id}/retry", retry_message)
