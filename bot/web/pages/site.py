"""The lead pages as a site: their layout, security headers and error page.

Plain HTML forms, no JavaScript: the Content-Security-Policy forbids scripts
altogether, a second line of defence behind the templates' escaping. Pages hold
personal data, and acknowledgement pages a secret in their URL: neither is
cached nor sent along as a referrer.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aiohttp import web

from bot.web.errors import WebError
from bot.web.html import Site
from bot.web.pages.sessions import VIEWER

POLICY = (
    "default-src 'none'; style-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
LEAD_LIST = "/leads"


def _frame(request: web.Request, context: Mapping[str, Any]) -> Mapping[str, Any]:
    return {"viewer": request.get(VIEWER)}


def _links(request: web.Request, error: WebError) -> list[tuple[str, str]]:
    links = [("/login", "Sign in")] if error.status == 401 else []
    lead_id = error.details.get("lead_id")
    if lead_id:
        links.append((f"/leads/{lead_id}", "Back to the lead"))
    return [*links, (LEAD_LIST, "All leads")]


LEAD_PAGES = Site(
    layout="leads/base.html",
    error_title="Invalid request",
    content_policy=lambda request: POLICY,
    referrer_policy="no-referrer",
    frame=_frame,
    links=_links,
)
