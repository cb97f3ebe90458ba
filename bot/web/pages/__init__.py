"""Server-rendered pages for sales: sign-in, the lead list, the lead page, acknowledgements.

The lead list and lead pages are the ``/leads`` sub-application; sign-in
(``/login``, ``/logout``) and acknowledgement links (``/handoffs/{id}/ack``,
sent in notifications) keep their URLs at the root, answered by the same site
(:data:`~bot.web.pages.site.LEAD_PAGES`: layout, security headers, error page).
"""

from __future__ import annotations

from aiohttp import web

from bot.web.pages.acks import ack_confirm, acknowledge
from bot.web.pages.dashboard import dashboard_csv, dashboard_page
from bot.web.pages.lead import lead_page
from bot.web.pages.leads import add_note, lead_list, set_status
from bot.web.pages.login import login, login_form, logout
from bot.web.pages.site import LEAD_LIST, LEAD_PAGES
from bot.web.subapps import add_subapp


def create_leads_app() -> web.Application:
    """The ``/leads`` sub-application: the lead list, lead pages and their forms."""
    app = web.Application(middlewares=[LEAD_PAGES.middleware])
    app.add_routes(
        [
            web.get("", lead_list),
            # Before the lead id: "dashboard" is never a lead's (32 hex digits) anyway.
            web.get("/dashboard", dashboard_page),
            web.get("/dashboard.csv", dashboard_csv),
            web.get("/{lead_id}", lead_page),
            web.post("/{lead_id}/status", set_status),
            web.post("/{lead_id}/notes", add_note),
        ]
    )
    return app


def setup(app: web.Application) -> None:
    """Mount the lead pages on the root app."""
    add_subapp(app, LEAD_LIST, create_leads_app())
    app.add_routes(
        LEAD_PAGES.routes(
            [
                web.get("/login", login_form),
                web.post("/login", login),
                web.post("/logout", logout),
                web.get("/handoffs/{handoff_id}/ack", ack_confirm),
                web.post("/handoffs/{handoff_id}/ack", acknowledge),
            ]
        )
    )
