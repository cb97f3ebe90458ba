"""Mounting sub-applications (``/api/v2``, ``/leads``) under a path prefix.

aiohttp 3.9.5's ``Application.add_subapp`` matches the prefix against
``request.url``, which yarl 1.13 and later cannot build when the ``Host``
header carries a port, as it does for every request to ``:8000``
(aio-libs/aiohttp#9307, fixed in aiohttp 3.10.7): each request would be a 500.
Rasa 3.6.21 requires ``aiohttp<3.10``, so the fixed release cannot be installed.
:func:`add_subapp` mounts through the same machinery with a resource that
matches the prefix on the request's path alone.
"""

from __future__ import annotations

from functools import partial

from aiohttp import web
from aiohttp.web_urldispatcher import UrlMappingMatchInfo


class _PathPrefixedSubApp(web.PrefixedSubAppResource):
    """A sub-application's prefix, matched on ``request.rel_url`` (the path as received)."""

    async def resolve(self, request: web.Request) -> tuple[UrlMappingMatchInfo | None, set[str]]:
        path, prefix = request.rel_url.raw_path, self.canonical
        if path != prefix and not path.startswith(prefix + "/"):
            return None, set()
        subapp: web.Application = self.get_info()["app"]
        match_info = await subapp.router.resolve(request)
        match_info.add_app(subapp)
        exception = match_info.http_exception
        methods = (
            exception.allowed_methods if isinstance(exception, web.HTTPMethodNotAllowed) else set()
        )
        return match_info, methods


def add_subapp(app: web.Application, prefix: str, subapp: web.Application) -> None:
    """Mount ``subapp`` at ``prefix``, as ``app.add_subapp`` does."""
    app._add_subapp(partial(_PathPrefixedSubApp, prefix.rstrip("/"), subapp), subapp)
