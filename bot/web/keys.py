"""Typed application keys shared by the handler modules."""

from __future__ import annotations

from aiohttp import web

from bot.handoff.worker import OutboxWorker
from bot.settings import Settings
from bot.store.leadbook import LeadBook
from bot.store.repository import LeadRepository
from bot.store.sales import SalesDesk
from bot.store.spool import LeadRecorder
from bot.store.tokens import TokenStore
from bot.store.websessions import SalesSessions
from bot.web.ratelimit import RateLimiter

SETTINGS = web.AppKey("settings", Settings)
REPOSITORY = web.AppKey("repository", LeadRepository)
RECORDER = web.AppKey("recorder", LeadRecorder)
WORKER = web.AppKey("outbox_worker", OutboxWorker)
SALES = web.AppKey("sales", SalesDesk)
LEADBOOK = web.AppKey("leadbook", LeadBook)
TOKENS = web.AppKey("tokens", TokenStore)
# The authenticated caller of an API request.
PRINCIPAL = "principal"
FORM_LIMITER = web.AppKey("form_limiter", RateLimiter)
EVENTS_LIMITER = web.AppKey("events_limiter", RateLimiter)
# Failed sign-ins at /login, per client address.
LOGIN_LIMITER = web.AppKey("login_limiter", RateLimiter)
SESSIONS = web.AppKey("sales_sessions", SalesSessions)
