"""JSON responses that render Decimal money as numbers."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from bot.store.types import dumps


def json_response(data: Any, *, status: int = 200) -> web.Response:
    """``web.json_response`` with the store's serialiser."""
    return web.json_response(data, status=status, dumps=dumps)
