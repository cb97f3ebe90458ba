"""The JSON API: the ``/api/v2`` sub-application, and the public web form at the root.

Each resource module declares its routes (:class:`bot.web.routes.ApiRoute`);
this module mounts them and builds the OpenAPI document from the same
declarations. One middleware asks for the scope the matched route declares
(:func:`bot.web.auth.caller`). Errors are answered as JSON by the root app's
error middleware, which aiohttp runs around the sub-application's.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from bot.store.tokens import LEADS_READ, LEADS_WRITE
from bot.web import (
    dashboard,
    events,
    flows,
    forms,
    handoffs,
    lead_actions,
    leads,
    leads_csv,
    openapi,
    orders,
    outcomes,
)
from bot.web.auth import caller
from bot.web.errors import Handler, WebError
from bot.web.keys import PRINCIPAL
from bot.web.routes import ApiRoute, add_routes, intended_route
from bot.web.subapps import add_subapp

API_PREFIX = "/api/v2"
ROUTES: tuple[ApiRoute, ...] = (
    *leads.ROUTES,
    *lead_actions.ROUTES,
    *leads_csv.ROUTES,
    *events.ROUTES,
    *orders.ROUTES,
    *handoffs.ROUTES,
    *flows.ROUTES,
    *dashboard.ROUTES,
    *outcomes.ROUTES,
    *openapi.ROUTES,
)
# The public web-form endpoint predates /api/v2 and keeps its URL on the root app.
ROOT_ROUTES: tuple[ApiRoute, ...] = forms.ROUTES


def build_spec(server_url: str = "/") -> dict[str, Any]:
    """The OpenAPI document of every API route."""
    return openapi.document((*ROUTES, *ROOT_ROUTES), server_url)


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """A bearer token with the route's scope; a path no route declares asks for leads:read/write."""
    intended = intended_route(request, ROUTES)
    route = intended.route if intended is not None else None
    public = route is not None and route.scope is None
    # A beacon's token is in its body: the route's handler checks it.
    beacon = route is not None and route.body_token and "Authorization" not in request.headers
    if not public and not beacon:
        scope = route.scope if route is not None else _guess(request)
        request[PRINCIPAL] = await caller(request, scope)
    if intended is not None and intended.missing is not None:
        raise WebError(404, intended.missing)
    return await handler(request)


def _guess(request: web.Request) -> str:
    """The scope a path no route declares asks for: reading, or writing, leads."""
    return LEADS_READ if request.method in ("GET", "HEAD", "OPTIONS") else LEADS_WRITE


def create_api_app() -> web.Application:
    """The ``/api/v2`` sub-application."""
    app = web.Application(middlewares=[auth_middleware])
    add_routes(app, ROUTES, prefix=API_PREFIX)
    app[openapi.DOCUMENT] = build_spec()
    return app


def setup(app: web.Application) -> None:
    """Mount the API on the root app."""
    add_subapp(app, API_PREFIX, create_api_app())
    add_routes(app, ROOT_ROUTES)
