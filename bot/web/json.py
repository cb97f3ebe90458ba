"""JSON requests and responses (Decimal money rendered as numbers)."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from bot.store.types import dumps
from bot.web.errors import WebError

MAX_BODY_BYTES = 1 << 20


def json_response(data: Any, *, status: int = 200, headers: Any = None) -> web.Response:
    """``web.json_response`` with the store's serialiser."""
    return web.json_response(data, status=status, dumps=dumps, headers=headers)


async def read_json_body(request: web.Request) -> Any:
    """The decoded JSON body; 413 past :data:`MAX_BODY_BYTES`, 400 if it is not JSON."""
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        raise _too_large(request.content_length)
    try:
        raw = await request.read()
    except web.HTTPRequestEntityTooLarge:
        raise _too_large(None) from None
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise WebError(400, f"body must be JSON: {exc}") from None
    except RecursionError:
        raise WebError(400, "body must be JSON: nested too deeply") from None


def _too_large(size: int | None) -> WebError:
    got = f" (got {size} bytes)" if size is not None else ""
    return WebError(
        413,
        f"request body must be at most 1 MB ({MAX_BODY_BYTES} bytes){got}; send smaller batches",
    )
