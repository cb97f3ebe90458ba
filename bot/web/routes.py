"""Route declarations of the JSON API: method, path, handler, scope and documentation.

Each resource module lists its routes, each an :class:`ApiRoute`. One declaration
registers the route, tells the API's auth middleware the scope it needs, and is
the route's operation in the OpenAPI document (:mod:`bot.web.openapi`).

Ids in paths are matched by their shape (:class:`PathId`), so a literal segment
such as ``/api/v2/leads/import`` is never taken for a lead id, whatever order
routes are added in. A path whose id has another shape matches no route, yet
:func:`intended_route` finds the route it was meant for: the caller gets that
route's 401 or 403 first, then the 404 naming the id, as for an id of the right
shape that no lead has.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from aiohttp import web

from bot.web.errors import Handler

_PLACEHOLDER = re.compile(r"\{(\w+)\}")


@dataclass(frozen=True)
class PathId:
    """A path parameter holding an id, and the shape every such id has."""

    name: str
    pattern: str
    description: str
    # The 404 message for an id of another shape ({id!r} is filled in).
    not_found: str
    # Documented answers of every route with this id, by status.
    answers: Mapping[str, str] = field(default_factory=dict)

    def missing(self, value: str) -> str:
        """The 404 message for ``value``."""
        return self.not_found.format(id=value)


# Lead, handoff and token ids are uuid4().hex (bot.store.ids, bot.handoff.planner);
# notification ids are their webhook-id.
LEAD_ID = PathId(
    "lead_id",
    "[0-9a-f]{32}",
    "Lead id (a merged lead's id stands for the lead it was merged into)",
    "no lead with id {id!r}",
    {"404": "No such lead", "410": "The lead was erased"},
)
HANDOFF_ID = PathId(
    "handoff_id",
    "[0-9a-f]{32}",
    "Handoff id",
    "no handoff with id {id!r}",
    {"404": "No such handoff"},
)
MESSAGE_ID = PathId(
    "message_id",
    "msg_[0-9a-f]{32}",
    "webhook-id of a dead-lettered notification",
    "no dead-lettered notification with webhook-id {id!r}",
    {"404": "No such dead letter"},
)
PATH_IDS = {path_id.name: path_id for path_id in (LEAD_ID, HANDOFF_ID, MESSAGE_ID)}


@dataclass(frozen=True)
class Doc:
    """What the OpenAPI document says about a route (responses without the auth ones)."""

    summary: str
    operation_id: str
    responses: Mapping[str, Any]
    description: str | None = None
    query: Sequence[Mapping[str, Any]] = ()
    body: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class ApiRoute:
    """One route of the API: ``path`` is the public path, ``scope=None`` a public route.

    ``body_token`` routes also take an events-only token in the body when the
    request has no ``Authorization`` header (beacons).
    """

    method: str
    path: str
    handler: Handler
    scope: str | None
    doc: Doc
    body_token: bool = False

    @property
    def ids(self) -> tuple[PathId, ...]:
        """The ids in the path, in order."""
        return tuple(PATH_IDS[name] for name in _PLACEHOLDER.findall(self.path))

    def router_path(self, prefix: str = "") -> str:
        """The path to register under ``prefix``, each id restricted to its shape."""
        path = self.path.removeprefix(prefix)
        return _PLACEHOLDER.sub(lambda m: f"{{{m[1]}:{PATH_IDS[m[1]].pattern}}}", path)

    def misshapen_id(self, method: str, raw_path: str) -> str | None:
        """The 404 message if ``raw_path`` is this route's but with an id of another shape."""
        if not self.ids or method not in (self.method, "HEAD" if self.method == "GET" else ""):
            return None
        found = _loose(self.path).fullmatch(raw_path)
        if found is None:
            return None
        for path_id in self.ids:
            value = unquote(found[path_id.name])
            if not re.fullmatch(path_id.pattern, value):
                return path_id.missing(value)
        return None


def _loose(path: str) -> re.Pattern[str]:
    """``path`` as a pattern where each id is any path segment."""
    parts = _PLACEHOLDER.split(path)
    return re.compile(
        "".join(
            f"(?P<{part}>[^/]+)" if index % 2 else re.escape(part)
            for index, part in enumerate(parts)
        )
    )


def add_routes(app: web.Application, routes: Iterable[ApiRoute], *, prefix: str = "") -> None:
    """Register ``routes`` on ``app``, mounted at ``prefix``."""
    for route in routes:
        if route.method == "GET":
            app.router.add_get(route.router_path(prefix), route.handler)
        else:
            app.router.add_route(route.method, route.router_path(prefix), route.handler)


@dataclass(frozen=True)
class Intended:
    """The declared route a request was meant for, and why it has none if it missed."""

    route: ApiRoute
    missing: str | None = None


def intended_route(request: web.Request, routes: Sequence[ApiRoute]) -> Intended | None:
    """The route ``request`` matched, or meant with a misshapen id; ``None`` if neither."""
    handler = request.match_info.handler
    for route in routes:
        if route.handler is handler:
            return Intended(route)
    if not isinstance(request.match_info.http_exception, web.HTTPNotFound):
        return None
    raw_path = request.rel_url.raw_path
    for route in routes:
        missing = route.misshapen_id(request.method, raw_path)
        if missing is not None:
            return Intended(route, missing)
    return None
