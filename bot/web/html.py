"""HTML of the web app: templates, security headers, redirects and the error page.

Pages are Jinja templates under ``bot/web/templates``, rendered with
aiohttp-jinja2 with autoescape on. Every value a template prints is escaped
as :func:`html.escape` does (``&quot;``, ``&#x27;``: the entities these pages
have always had); markup made by the templates' own macros passes unchanged.

The lead pages and the demo shop are each a :class:`Site`: the layout their
templates extend, their Content-Security-Policy, and what their error page
links to. A site's :meth:`Site.middleware` gives every response of its routes
the site's security headers and answers every error (a
:class:`~bot.web.errors.WebError`, aiohttp's 404 or 405, a failure) with
``error.html`` in the site's layout.
"""

from __future__ import annotations

import functools
import html
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import aiohttp_jinja2
import jinja2
from aiohttp import web
from aiohttp.typedefs import Middleware

from bot.store.types import dumps
from bot.web.errors import Handler, WebError, as_web_error

TEMPLATES_DIR = Path(__file__).with_name("templates")
# Nothing a page shows may be kept by a cache, or sniffed as another type.
BASE_HEADERS = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}


def setup_templates(app: web.Application) -> jinja2.Environment:
    """The template environment every site of ``app`` renders with."""
    env = aiohttp_jinja2.setup(
        app,
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
        autoescape=True,
        finalize=_escaped,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        default_helpers=False,
    )
    env.filters.update(dash=dash, json=dumps, minute=minute, source=source)
    return env


class _Escaped(str):
    """Text already escaped: Jinja's autoescape takes it as it is."""

    __slots__ = ()

    def __html__(self) -> str:
        return self


def _escaped(value: Any) -> Any:
    # Markup a template made (macros, blocks) is escaped already.
    if hasattr(value, "__html__"):
        return value
    return _Escaped(html.escape(str(value)))


def dash(value: Any) -> Any:
    """``value``, or a dash when there is nothing to show."""
    return "—" if value is None or value == "" else value


def minute(value: str) -> str:
    """An ISO time as ``2026-11-30 09:00`` in UTC."""
    return f"{datetime.fromisoformat(value).astimezone(timezone.utc):%Y-%m-%d %H:%M}"


def source(value: Any) -> str:
    """Markup shown as its source text (the tags a shop pastes)."""
    return str.__str__(value)


def redirect(location: str) -> web.HTTPSeeOther:
    """A redirect to raise: 303 (the browser follows with a GET), never cached."""
    return web.HTTPSeeOther(location, headers={"Cache-Control": "no-store"})


@dataclass(frozen=True)
class Site:
    """An HTML site of the web app: its layout, security headers and error page.

    ``frame`` gives what the layout shows around a page (the signed-in
    salesperson, the shop's cart), from the request and the page's own context;
    ``links`` what an error page offers next.
    """

    layout: str
    error_title: str
    content_policy: Callable[[web.Request], str]
    referrer_policy: str
    frame: Callable[[web.Request, Mapping[str, Any]], Mapping[str, Any]]
    links: Callable[[web.Request, WebError], Sequence[tuple[str, str]]]

    def render(
        self,
        request: web.Request,
        template: str,
        context: Mapping[str, Any],
        *,
        status: int = 200,
    ) -> web.Response:
        """``template`` in this site's layout."""
        values = {"layout": self.layout, **self.frame(request, context), **context}
        return aiohttp_jinja2.render_template(template, request, values, status=status)

    def error_page(self, request: web.Request, error: WebError) -> web.Response:
        """The page of ``error``, with its status and headers."""
        response = self.render(
            request,
            "error.html",
            {
                "error": error,
                "title": error.title or self.error_title,
                "links": self.links(request, error),
            },
            status=error.status,
        )
        response.headers.update(error.headers)
        return response

    def headers(self, request: web.Request) -> dict[str, str]:
        """The security headers of every response of this site."""
        return {
            "Content-Security-Policy": self.content_policy(request),
            "Referrer-Policy": self.referrer_policy,
            **BASE_HEADERS,
        }

    @property
    def middleware(self) -> Middleware:
        """Security headers on every response; every error answered with the error page."""

        @web.middleware
        async def site_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
            try:
                response = await handler(request)
            except web.HTTPException as exc:
                if exc.status < 400:
                    exc.headers.update(self.headers(request))
                    raise
                response = self.error_page(request, as_web_error(request, exc))
            except Exception as exc:
                response = self.error_page(request, as_web_error(request, exc))
            response.headers.update(self.headers(request))
            return response

        return site_middleware

    def routes(self, routes: Iterable[web.RouteDef]) -> list[web.RouteDef]:
        """``routes`` of the root app that belong to this site, answered as by its middleware.

        For pages whose URLs sit outside any prefix a sub-application could own
        (``/login``, the shop's ``/``).
        """
        middleware = self.middleware

        def page(handler: Handler) -> Handler:
            @functools.wraps(handler)
            async def wrapped(request: web.Request) -> web.StreamResponse:
                return await middleware(request, handler)

            return wrapped

        return [web.route(r.method, r.path, page(r.handler), **r.kwargs) for r in routes]
