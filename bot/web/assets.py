"""The browser files: ``/widget.js``, ``/snippet.js`` and ``/static/...`` (scripts, stylesheets).

They are read once when the app is built and served from memory, each with a
strong ETag (a revalidation costs a 304) and a gzip copy for browsers that take
one. Shops paste ``/widget.js`` and ``/snippet.js`` at fixed URLs, so those are
cached for five minutes only: a new release reaches every shop within that. The
vendored socket.io client changes only with ``make vendor-js`` and is cached
for a day. Any origin may load them (see ``bot.web.cors``).
"""

from __future__ import annotations

import gzip
import hashlib
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

STATIC_DIR = Path(__file__).with_name("static")
CONTENT_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
}
SHORT_CACHE_SECONDS = 300
LONG_CACHE_SECONDS = 86400
# URL path → (file under static/, seconds browsers may keep it without asking).
FILES = {
    "/widget.js": ("widget.js", SHORT_CACHE_SECONDS),
    "/snippet.js": ("snippet.js", SHORT_CACHE_SECONDS),
    "/static/shop.js": ("shop.js", SHORT_CACHE_SECONDS),
    "/static/shop.css": ("shop.css", SHORT_CACHE_SECONDS),
    "/static/leads.css": ("leads.css", SHORT_CACHE_SECONDS),
    "/static/socket.io.min.js": ("vendor/socket.io.min.js", LONG_CACHE_SECONDS),
}


@dataclass(frozen=True)
class Asset:
    """One file, ready to serve."""

    body: bytes
    gzipped: bytes
    etag: str
    max_age: int
    content_type: str

    @classmethod
    def read(cls, path: Path, max_age: int) -> Asset:
        """Load ``path`` and prepare its gzip copy (fixed mtime: same bytes every start)."""
        body = path.read_bytes()
        return cls(
            body=body,
            gzipped=gzip.compress(body, compresslevel=9, mtime=0),
            etag=hashlib.sha256(body).hexdigest()[:32],
            max_age=max_age,
            content_type=CONTENT_TYPES[path.suffix],
        )


ASSETS = web.AppKey("assets", dict[str, Asset])


def _accepts_gzip(request: web.Request) -> bool:
    for item in request.headers.get("Accept-Encoding", "").split(","):
        coding, _, params = item.strip().partition(";")
        if coding.strip().lower() in ("gzip", "*"):
            quality = params.strip().removeprefix("q=").strip()
            try:
                return float(quality or "1") > 0
            except ValueError:
                return False
    return False


def _matches(request: web.Request, etag: str) -> bool:
    wanted = request.headers.get("If-None-Match", "")
    if wanted.strip() == "*":
        return True
    # An ETag's gzip variant names the same content: either validates it.
    candidates = {tag.strip().removeprefix("W/") for tag in wanted.split(",")}
    return f'"{etag}"' in candidates or f'"{etag}-gzip"' in candidates


async def serve_asset(request: web.Request) -> web.Response:
    """``GET /widget.js`` and the other files of :data:`FILES`."""
    asset = request.config_dict[ASSETS][request.path]
    gzipped = _accepts_gzip(request)
    headers = {
        "Content-Type": asset.content_type,
        "Cache-Control": f"public, max-age={asset.max_age}",
        "ETag": f'"{asset.etag}-gzip"' if gzipped else f'"{asset.etag}"',
        "Vary": "Accept-Encoding",
        "X-Content-Type-Options": "nosniff",
        # Shop pages that isolate themselves (COEP) may still embed the files.
        "Cross-Origin-Resource-Policy": "cross-origin",
    }
    if _matches(request, asset.etag):
        return web.Response(status=304, headers=headers)
    if gzipped:
        headers["Content-Encoding"] = "gzip"
        return web.Response(body=asset.gzipped, headers=headers)
    return web.Response(body=asset.body, headers=headers)


def setup(app: web.Application) -> None:
    """Load the files and register their routes."""
    app[ASSETS] = {
        path: Asset.read(STATIC_DIR / name, max_age) for path, (name, max_age) in FILES.items()
    }
    for path in FILES:
        app.router.add_get(path, serve_asset)
