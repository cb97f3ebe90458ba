"""App factory of the web app (``python -m bot web``).

The root app holds the stores (opened when the app starts), the widget files,
``/healthz`` and the public web form, and mounts:

- ``/api/v2``: the JSON API (:mod:`bot.web.api`), a sub-application whose
  routes declare the scope they need;
- ``/leads``: the lead pages for sales (:mod:`bot.web.pages`), a
  sub-application rendered from templates, with sign-in and acknowledgement
  links at the root;
- the demo shop (:mod:`bot.web.shop`) at ``/`` when ``DEMO_SHOP`` is on.

The root app's middlewares run around the sub-applications': the JSON error
middleware answers whatever no HTML site answered, and CORS covers the events
API and the widget files.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from aiohttp import web

from bot.followups import followup_planner_for
from bot.followups.delivery import FollowupSender
from bot.handoff import handoff_config_for, planner_for
from bot.handoff.worker import OutboxWorker
from bot.leads import LeadService
from bot.leads.book import LeadBook
from bot.leads.spool import LeadRecorder, Spool
from bot.scoring import scorer_for
from bot.settings import Settings
from bot.store.db import create_db_engine
from bot.store.sales import SalesDesk
from bot.store.tokens import TokenStore
from bot.store.tracker import ConversationStore
from bot.store.websessions import SalesSessions
from bot.web import api, assets, followups, pages, shop
from bot.web.cors import cors_middleware
from bot.web.errors import error_middleware
from bot.web.html import setup_templates
from bot.web.json import MAX_BODY_BYTES, json_response
from bot.web.keys import (
    EVENTS_LIMITER,
    FORM_LIMITER,
    LEADBOOK,
    LEADS,
    LOGIN_LIMITER,
    RECORDER,
    SALES,
    SESSIONS,
    SETTINGS,
    TOKENS,
    WORKER,
)
from bot.web.ratelimit import RateLimits

logger = logging.getLogger(__name__)

SPOOL_FLUSH_SECONDS = 5.0


def create_app(settings: Settings) -> web.Application:
    """Build the web app; the database is opened when the app starts."""
    app = web.Application(
        middlewares=[error_middleware, cors_middleware],
        client_max_size=MAX_BODY_BYTES + 1,
    )
    app[SETTINGS] = settings
    limits = RateLimits(settings)
    app[FORM_LIMITER] = limits.limiter("form", settings.form_rate_limit)
    app[EVENTS_LIMITER] = limits.limiter("events", settings.events_rate_limit)
    # Failed sign-ins per client address and minute, in bursts of as many.
    app[LOGIN_LIMITER] = limits.limiter("login", settings.login_rate_limit)
    app.cleanup_ctx.append(limits.serving)
    app.cleanup_ctx.append(_store)
    app.cleanup_ctx.append(_spool_flusher)
    setup_templates(app)
    app.router.add_get("/healthz", health)
    assets.setup(app)
    api.setup(app)
    pages.setup(app)
    followups.setup(app)
    shop.setup(app)
    return app


async def _store(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    engine = create_db_engine(settings.database_url)
    handoffs = handoff_config_for(settings)
    planner = planner_for(settings, handoffs)
    service = LeadService(engine, scorer_for(settings), planner)
    app[LEADS] = service
    conversations = ConversationStore(settings.tracker_store_url)
    app[LEADBOOK] = LeadBook(service, conversations, region=settings.shop_country)
    app[TOKENS] = TokenStore(engine)
    app[SALES] = SalesDesk(engine)
    app[SESSIONS] = SalesSessions(engine)
    app[RECORDER] = LeadRecorder(service, Spool(settings.spool_dir))
    app[followups.FOLLOWUPS] = followup_planner = followup_planner_for(settings)
    sender = FollowupSender(
        engine,
        followup_planner,
        handoffs.smtp,
        plan_every=settings.followups_plan_every_seconds,
    )
    worker = OutboxWorker(engine, handoffs, planner, extensions=(sender,))
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
    spool = request.config_dict[RECORDER].spool
    body: dict[str, Any] = {
        "status": "ok",
        "spooled_batches": spool.pending(),
        "rejected_batches": spool.rejected(),
    }
    processes = _supervised_processes(request.config_dict[SETTINGS].supervisor_status_file)
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
