"""Typed application keys, set on the root app and read through ``request.config_dict``.

Sub-applications (``/api/v2``, ``/leads``) see the root app's keys only through
``request.config_dict``: ``request.app`` is the sub-application there.
"""

from __future__ import annotations

from aiohttp import web

from bot.handoff.worker import OutboxWorker
from bot.leads import LeadService
from bot.leads.book import LeadBook
from bot.leads.spool import LeadRecorder
from bot.settings import Settings
from bot.store.sales import SalesDesk
from bot.store.tokens import TokenStore
from bot.store.websessions import SalesSessions
from bot.web.ratelimit import RateLimiter

SETTINGS = web.AppKey("settings", Settings)
LEADS = web.AppKey("lead_service", LeadService)
RECORDER = web.AppKey("recorder", LeadRecorder)
WORKER = web.AppKey("outbox_worker", OutboxWorker)
SALES = web.AppKey("sales", SalesDesk)
LEADBOOK = web.AppKey("leadbook", LeadBook)
TOKENS = web.AppKey("tokens", TokenStore)
SESSIONS = web.AppKey("sales_sessions", SalesSessions)
FORM_LIMITER = web.AppKey("form_limiter", RateLimiter)
EVENTS_LIMITER = web.AppKey("events_limiter", RateLimiter)
# Failed sign-ins at /login, per client address.
LOGIN_LIMITER = web.AppKey("login_limiter", RateLimiter)
# The authenticated caller of an API request (a request key).
PRINCIPAL = "principal"
