"""App factory of the web app (``python -m bot web``)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from aiohttp import web

from bot.handoff import handoff_config_for, planner_for
from bot.handoff.worker import OutboxWorker
from bot.scoring import scorer_for
from bot.settings import Settings
from bot.store.db import create_db_engine
from bot.store.leadbook import LeadBook
from bot.store.repository import LeadRepository
from bot.store.sales import SalesDesk
from bot.store.spool import LeadRecorder, Spool
from bot.store.tokens import TokenStore
from bot.store.tracker import ConversationStore
from bot.web import assets, events, flows, forms, handoffs, leads, leads_csv, openapi, pages, shop
from bot.web.auth import auth_middleware
from bot.web.cors import cors_middleware
from bot.web.errors import error_middleware
from bot.web.json import MAX_BODY_BYTES, json_response
from bot.web.keys import (
    EVENTS_LIMITER,
    FORM_LIMITER,
    LEADBOOK,
    RECORDER,
    REPOSITORY,
    SALES,
    SETTINGS,
    TOKENS,
    WORKER,
)
from bot.web.ratelimit import RateLimiter

logger = logging.getLogger(__name__)

SPOOL_FLUSH_SECONDS = 5.0


def create_app(settings: Settings) -> web.Application:
    """Build the web app; the database is opened when the app starts."""
    app = web.Application(
        middlewares=[error_middleware, cors_middleware, auth_middleware],
        client_max_size=MAX_BODY_BYTES + 1,
    )
    app[SETTINGS] = settings
    app[FORM_LIMITER] = RateLimiter(settings.form_rate_limit)
    app[EVENTS_LIMITER] = RateLimiter(settings.events_rate_limit)
    app.cleanup_ctx.append(_store)
    app.cleanup_ctx.append(_spool_flusher)
    app.router.add_get("/healthz", health)
    # Before leads: its /api/v2/leads/{lead_id} would take "import" for a lead id.
    leads_csv.setup(app)
    forms.setup(app)
    openapi.setup(app)
    leads.setup(app)
    events.setup(app)
    pages.setup(app)
    handoffs.setup(app)
    flows.setup(app)
    assets.setup(app)
    shop.setup(app)
    return app


async def _store(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    engine = create_db_engine(settings.database_url)
    handoffs = handoff_config_for(settings)
    planner = planner_for(settings, handoffs)
    repository = LeadRepository(engine, scorer_for(settings), planner)
    app[REPOSITORY] = repository
    conversations = ConversationStore(settings.tracker_store_url)
    app[LEADBOOK] = LeadBook(repository, conversations, region=settings.shop_country)
    app[TOKENS] = TokenStore(engine)
    app[SALES] = SalesDesk(engine)
    app[RECORDER] = LeadRecorder(repository, Spool(settings.spool_dir))
    worker = OutboxWorker(engine, handoffs, planner)
    app[WORKER] = worker
    task = asyncio.create_task(worker.run())
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    conversations.dispose()
    engine.dispose()


async def _spool_flusher(app: web.Application) -> AsyncIterator[None]:
    """Writes answers spooled while the database was down, once it is back."""

    async def flush_forever() -> None:
        recorder = app[RECORDER]
        while True:
            if recorder.spool.pending():
                written = await asyncio.to_thread(recorder.flush)
                if written:
                    logger.info("wrote %d spooled batch(es) to the lead store", written)
            await asyncio.sleep(SPOOL_FLUSH_SECONDS)

    task = asyncio.create_task(flush_forever())
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def health(request: web.Request) -> web.Response:
    """Liveness, spooled writes waiting for the database, writes it refused, and restarts.

    Under ``make run`` the supervisor's status file adds ``processes``: each
    child's state, pid, restart count and the last restart's time and reason.
    """
    spool = request.app[RECORDER].spool
    body: dict[str, Any] = {
        "status": "ok",
        "spooled_batches": spool.pending(),
        "rejected_batches": spool.rejected(),
    }
    processes = _supervised_processes(request.app[SETTINGS].supervisor_status_file)
    if processes is not None:
        body["processes"] = processes
    return json_response(body)


def _supervised_processes(status_file: Path) -> dict[str, Any] | None:
    # A few hundred bytes the supervisor replaces atomically: never half-written.
    try:
        status = json.loads(status_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    processes = status.get("processes") if isinstance(status, dict) else None
    return processes if isinstance(processes, dict) else None
