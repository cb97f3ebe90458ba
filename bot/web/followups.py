"""The shopper's links in follow-ups: one-click unsubscribe (``/u/…``), tracked clicks (``/c/…``).

- ``GET /u/{token}``: a page with one button that unsubscribes (mail scanners
  open links; they must not unsubscribe anyone), ``POST /u/{token}``: the
  RFC 8058 one-click unsubscribe, sent by mail clients with the body
  ``List-Unsubscribe=One-Click`` (or by the page's button). Both revoke the
  consent and stop every planned play.
- ``GET /c/{token}?to=URL``: records the click ("opened by click", and an
  ``email_click`` event in the shopper's journey) and redirects to ``URL``,
  only if the token was signed for this follow-up and exactly this URL, and
  the URL is on the shop's site: never an open redirect.

Tokens are checked before anything is read; a forged or altered link gets a
404 page that says so.
"""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web

from bot import clock
from bot.followups.links import clicked_followup, same_site, unsubscribed_lead
from bot.followups.planner import FollowupPlanner
from bot.followups.render import environment
from bot.leads.commands import RecordEvent
from bot.store.db import write_transaction
from bot.web.keys import LEADS

logger = logging.getLogger(__name__)

FOLLOWUPS = web.AppKey("followups", FollowupPlanner)
_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Robots-Tag": "noindex",
    "Content-Security-Policy": "default-src 'none'; form-action 'self'; frame-ancestors 'none'",
}


def _page(title: str, text: str, *, status: int = 200, action: str | None = None) -> web.Response:
    html = (
        environment()
        .get_template("pages/unsubscribe.html")
        .render(title=title, text=text, confirm=action is not None, action=action or "")
    )
    return web.Response(text=html, status=status, content_type="text/html", headers=_HEADERS)


def _invalid_unsubscribe() -> web.Response:
    return _page(
        "Link not valid",
        "This unsubscribe link is not valid: it may have been cut or changed. Use the link of "
        "the latest email you received, or reply to it and we will unsubscribe you.",
        status=404,
    )


async def unsubscribe_page(request: web.Request) -> web.Response:
    """``GET /u/{token}``: the confirmation page."""
    planner = request.config_dict[FOLLOWUPS]
    if unsubscribed_lead(planner.signing_key, request.match_info["token"]) is None:
        return _invalid_unsubscribe()
    return _page(
        "Unsubscribe",
        f"Stop receiving follow-up messages from {planner.catalog.shop_name}? This withdraws "
        "the consent you gave us to contact you.",
        action=request.path,
    )


async def unsubscribe(request: web.Request) -> web.Response:
    """``POST /u/{token}``: revoke consent and stop every play (RFC 8058 one-click)."""
    planner = request.config_dict[FOLLOWUPS]
    lead_id = unsubscribed_lead(planner.signing_key, request.match_info["token"])
    if lead_id is None:
        return _invalid_unsubscribe()
    engine = request.config_dict[LEADS].engine

    def revoke() -> int | None:
        with write_transaction(engine) as connection:
            return planner.unsubscribe(connection, lead_id, clock.now())

    stopped = await asyncio.to_thread(revoke)
    if stopped is not None:
        logger.info("lead %s unsubscribed from follow-ups (%d planned stopped)", lead_id, stopped)
    return _page(
        "You are unsubscribed",
        f"{planner.catalog.shop_name} will not send you follow-up messages any more.",
    )


async def click(request: web.Request) -> web.StreamResponse:
    """``GET /c/{token}?to=URL``: count the click, then go to the shop's page."""
    planner = request.config_dict[FOLLOWUPS]
    target = request.query.get("to", "")
    followup_id = clicked_followup(planner.signing_key, request.match_info["token"], target)
    if followup_id is None or not same_site(target, planner.shop_url):
        return _page(
            "Link not valid",
            "This link is not valid: it may have been cut or changed.",
            status=404,
        )
    service = request.config_dict[LEADS]

    def record() -> None:
        now = clock.now()
        with write_transaction(service.engine) as connection:
            clicked = planner.record_click(connection, followup_id, now)
        if clicked is None:
            return
        # The shopper's journey (and score) gain the click, as the events API's email_click.
        service.apply(
            [
                RecordEvent(
                    session_id=clicked.session_id,
                    event_id=f"followup-click-{followup_id}-{clicked.clicks}",
                    type="email_click",
                    ts=now,
                    source="storefront",
                    properties={"play": clicked.play, "url": target},
                )
            ],
            now=now,
        )

    try:
        await asyncio.to_thread(record)
    except Exception:  # the shopper still gets their page when the store is down
        logger.exception("recording a click on follow-up %s failed", followup_id)
    raise web.HTTPFound(target, headers={"Cache-Control": "no-store"})


def setup(app: web.Application) -> None:
    """Serve the follow-up links on the root app (its planner is set when the app starts)."""
    app.router.add_get("/u/{token}", unsubscribe_page)
    app.router.add_post("/u/{token}", unsubscribe)
    app.router.add_get("/c/{token}", click)
