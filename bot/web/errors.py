"""JSON errors: every failure is a JSON body with a specific message, never a traceback."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

logger = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class ApiError(Exception):
    """An error answered as ``{"error": {"status", "message", ...details}}``."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        headers: dict[str, str] | None = None,
        **details: Any,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}
        self.details = details


def error_response(
    status: int, message: str, headers: dict[str, str] | None = None, **details: Any
) -> web.Response:
    """The JSON error body shared by every error path."""
    return web.json_response(
        {"error": {"status": status, "message": message, **details}},
        status=status,
        headers=headers,
    )


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Turn every error into a JSON response; 5xx bodies never include internals."""
    if "\x00" in request.path:
        # No resource has a NUL in its name, and PostgreSQL refuses it in text.
        return error_response(404, "not found: the path contains a NUL character")
    try:
        return await handler(request)
    except ApiError as exc:
        return error_response(exc.status, exc.message, exc.headers, **exc.details)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        allow = {k: v for k, v in exc.headers.items() if k.lower() == "allow"}
        return error_response(exc.status, exc.reason, allow)
    except Exception:
        logger.exception("unhandled error on %s %s", request.method, request.path)
        return error_response(500, "internal error")
