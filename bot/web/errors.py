"""Errors of the web app: one exception, answered as JSON or as a site's error page.

Handlers raise :class:`WebError`. The root app's :func:`error_middleware`
answers it, and every other failure, with the JSON body ``{"error": {"status",
"message", ...details}}``: the API under ``/api/v2``, the public web form,
``/healthz`` and unknown paths. The HTML sites (the lead pages and the demo
shop, :mod:`bot.web.html`) answer the same exception with their error page
before it gets there. A failure nobody expected is logged and answered as a
500 that names no internals.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from aiohttp import web

logger = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class WebError(Exception):
    """A request the app refuses: its status, a message naming the problem, and details.

    ``field`` names the input at fault; ``title`` heads an error page (the JSON
    body has no use for it); ``headers`` go out with the answer (``Retry-After``,
    ``WWW-Authenticate``); ``details`` are extra members of the JSON body
    (``errors``, ``existing_id``, ``required_scope``…).
    """

    def __init__(
        self,
        status: int,
        message: str,
        *,
        field: str | None = None,
        title: str | None = None,
        headers: Mapping[str, str] | None = None,
        **details: Any,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.field = field
        self.title = title
        self.headers = dict(headers or {})
        self.details = details

    def as_json(self) -> dict[str, Any]:
        """The JSON body: ``{"error": {"status", "message", "field"?, ...details}}``."""
        body: dict[str, Any] = {"status": self.status, "message": self.message}
        if self.field is not None:
            body["field"] = self.field
        return {"error": {**body, **self.details}}


def as_web_error(request: web.Request, exc: Exception) -> WebError:
    """``exc`` as a :class:`WebError`: aiohttp's own 4xx/5xx, or a logged 500 for a failure."""
    if isinstance(exc, WebError):
        return exc
    if isinstance(exc, web.HTTPException):
        allow = {name: value for name, value in exc.headers.items() if name.lower() == "allow"}
        return WebError(exc.status, exc.reason, headers=allow)
    logger.exception("unhandled error on %s %s", request.method, request.path)
    return WebError(500, "internal error")


def json_error(error: WebError) -> web.Response:
    """The JSON answer of ``error``."""
    return web.json_response(error.as_json(), status=error.status, headers=error.headers)


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Answer every error as JSON; redirects pass through."""
    if "\x00" in request.path:
        # No resource has a NUL in its name, and PostgreSQL refuses it in text.
        return json_error(WebError(404, "not found: the path contains a NUL character"))
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return json_error(as_web_error(request, exc))
    except Exception as exc:
        return json_error(as_web_error(request, exc))
