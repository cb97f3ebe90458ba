"""Cross-origin access for the shop's pages: the events API and the widget files.

The tracking snippet runs on the shop's own origin and posts to
``/api/v2/events`` here, with an ``Authorization`` header (so the browser sends
a preflight first) or, from ``navigator.sendBeacon``, as a plain-text body with
the token inside (no preflight). Origins come from ``SHOP_ORIGINS`` (``*`` by
default: the storefront token, not the origin, is what lets a page write
events). With a list, a request whose ``Origin`` is not on it is refused with
403, and the web app's own origin (``PUBLIC_URL``, the demo shop) is always
allowed. The refusal carries CORS headers and its preflight is answered, so the
snippet on such a page can read the 403 and stop sending instead of taking it for
a network error and retrying forever; nothing is read or stored for it.

The widget files are public and readable from any origin.
"""

from __future__ import annotations

from aiohttp import web

from bot.web.errors import Handler, WebError
from bot.web.keys import SETTINGS

API_PATHS = frozenset({"/api/v2/events"})
ASSET_PREFIXES = ("/widget.js", "/snippet.js", "/static/")
ALLOWED_METHODS = ("POST",)
ALLOWED_HEADERS = "Authorization, Content-Type"
# Browsers cap this (Chromium at 2 hours); one preflight per page is then enough.
PREFLIGHT_MAX_AGE_SECONDS = 7200


def _allow_origin(request: web.Request, origin: str) -> str:
    """The ``Access-Control-Allow-Origin`` value for ``origin`` (allowed or not)."""
    return "*" if "*" in request.config_dict[SETTINGS].cors_origins else origin


def _check_origin(request: web.Request, origin: str) -> None:
    """403, readable by the page, if ``origin`` may not call."""
    allowed = request.config_dict[SETTINGS].cors_origins
    if "*" in allowed or origin.lower() in allowed:
        return
    raise WebError(
        403,
        f"origin {origin} may not call {request.path}: add it to SHOP_ORIGINS "
        f"(allowed: {', '.join(allowed)})",
        headers={**_origin_headers(origin), "Access-Control-Expose-Headers": "Retry-After"},
    )


def _preflight(request: web.Request, origin: str) -> web.Response:
    method = request.headers["Access-Control-Request-Method"].strip().upper()
    if method not in ALLOWED_METHODS:
        raise WebError(
            405,
            f"header 'Access-Control-Request-Method': {request.path} accepts "
            f"{', '.join(ALLOWED_METHODS)} from other origins, not {method or '(empty)'}",
            headers={"Allow": ", ".join((*ALLOWED_METHODS, "OPTIONS"))},
        )
    # Answered for any origin: the request itself is then refused, readably (403).
    allow_origin = _allow_origin(request, origin)
    return web.Response(
        status=204,
        headers={
            **_origin_headers(allow_origin),
            "Access-Control-Allow-Methods": ", ".join(ALLOWED_METHODS),
            "Access-Control-Allow-Headers": ALLOWED_HEADERS,
            "Access-Control-Max-Age": str(PREFLIGHT_MAX_AGE_SECONDS),
        },
    )


def _origin_headers(allow_origin: str) -> dict[str, str]:
    headers = {"Access-Control-Allow-Origin": allow_origin}
    if allow_origin != "*":
        headers["Vary"] = "Origin"
    return headers


@web.middleware
async def cors_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Answer preflights and add CORS headers, errors included (the snippet reads them)."""
    if request.path.startswith(ASSET_PREFIXES):
        response = await handler(request)
        response.headers["Access-Control-Allow-Origin"] = "*"
        return response
    origin = request.headers.get("Origin")
    if request.path not in API_PATHS or not origin:
        return await handler(request)
    if request.method == "OPTIONS" and "Access-Control-Request-Method" in request.headers:
        return _preflight(request, origin)
    _check_origin(request, origin)
    headers = {
        **_origin_headers(_allow_origin(request, origin)),
        # A 429 or 503 says when to retry; the snippet waits that long.
        "Access-Control-Expose-Headers": "Retry-After",
    }
    try:
        response = await handler(request)
    except WebError as exc:
        # error_middleware renders it; the page must be able to read the reason.
        exc.headers = {**exc.headers, **headers}
        raise
    response.headers.update(headers)
    return response
