"""The outcome report: ``GET /api/v2/reports/outcomes``.

The same JSON as ``python -m bot report outcomes --json`` (without the charts);
definitions are in :mod:`bot.leads.outcomes_report`.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

from aiohttp import web

from bot.catalog.loader import load_catalog
from bot.leads.outcomes_report import ReportRangeError, outcome_report, parse_report_time
from bot.store.tokens import LEADS_READ
from bot.web.errors import WebError
from bot.web.json import json_response
from bot.web.keys import LEADS, SETTINGS
from bot.web.params import known_params
from bot.web.routes import ApiRoute, Doc
from bot.web.schemas import OBJECT, error, json_answer, query

REPORT_PATH = "/api/v2/reports/outcomes"
REPORT_PARAMS = frozenset({"since", "until"})


def _time(query: Any, name: str) -> datetime | None:
    raw = query.get(name)
    if raw is None:
        return None
    try:
        return parse_report_time(raw)
    except ValueError as exc:
        raise WebError(400, f"query parameter '{name}': {exc}") from None


async def get_report(request: web.Request) -> web.Response:
    """``GET /api/v2/reports/outcomes``: lift per play, conversion per arm, answer and rep."""
    known_params(request.query, REPORT_PARAMS)
    since = _time(request.query, "since")
    until = _time(request.query, "until")
    engine = request.config_dict[LEADS].engine
    catalog_path = request.config_dict[SETTINGS].catalog_path

    def report() -> dict[str, Any]:
        return outcome_report(
            engine, load_catalog(catalog_path), since=since, until=until
        ).as_dict()

    try:
        # A few grouped statements over the whole range: off the event loop.
        return json_response(await asyncio.to_thread(report))
    except ReportRangeError as exc:
        raise WebError(400, f"query parameters 'since' and 'until': {exc}") from None


_TIME = {"type": "string", "minLength": 1}

ROUTES = (
    ApiRoute(
        "GET",
        REPORT_PATH,
        get_report,
        LEADS_READ,
        Doc(
            "Outcome report: lift per follow-up play, conversion per A/B arm, answer and rep",
            "getOutcomeReport",
            {"200": json_answer("The outcome report", OBJECT), "400": error("Bad date")},
            description="Per follow-up play, by intention to treat: eligible leads = "
            "assigned (every lead the play was planned for: sent, stopped or still planned, "
            "each counted too) + held out, clicks, conversions since the lead was assigned "
            "(the play's signal), revenue, and the lift (assigned rate - held-out rate) with "
            "its 95 % Newcombe hybrid score interval; sent_group shows the sent leads alone. "
            "Per flow A/B arm, "
            "per budget against the chosen variant's price and per timeline: leads, Won, "
            "revenue, rate. Per rep: handoffs, median seconds to acknowledge, share of SLAs "
            "met, conversion. Default range: the 90 days before now. Definitions: README, "
            "'Outcome report'.",
            query=(
                query(
                    "since",
                    _TIME,
                    "From this ISO 8601 date (midnight UTC) or time (default: until - 90 days)",
                ),
                query("until", _TIME, "Before this ISO 8601 date or time (default: now)"),
            ),
        ),
    ),
)
