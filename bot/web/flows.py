"""Question-flow analytics: ``GET /api/v2/flows/report`` (the funnel as JSON).

The same report as ``python -m bot flows report --json`` (without the chart);
definitions are in :mod:`bot.flows.analytics`.
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

from bot.flows.analytics import current_flows, funnel
from bot.store.tokens import LEADS_READ
from bot.web.errors import WebError
from bot.web.json import json_response
from bot.web.keys import LEADS, SETTINGS
from bot.web.params import known_params, time_param
from bot.web.routes import ApiRoute, Doc
from bot.web.schemas import OBJECT, error, json_answer, query

REPORT_PATH = "/api/v2/flows/report"
REPORT_PARAMS = frozenset({"since", "until", "flow"})
MAX_FLOW_NAME_CHARS = 200


async def get_report(request: web.Request) -> web.Response:
    """``GET /api/v2/flows/report``: the funnel per flow, question and prompt variant."""
    query = request.query
    known_params(query, REPORT_PARAMS)
    since = time_param(query, "since")
    until = time_param(query, "until")
    flow = query.get("flow")
    if flow is not None and not 1 <= len(flow) <= MAX_FLOW_NAME_CHARS:
        raise WebError(
            400, f"query parameter 'flow' must have 1 to {MAX_FLOW_NAME_CHARS} characters"
        )
    engine = request.config_dict[LEADS].engine
    flows_dir = request.config_dict[SETTINGS].flows_dir

    def report() -> dict[str, Any]:
        order = current_flows(flows_dir)
        return funnel(engine, since=since, until=until, flow=flow, order=order).as_dict()

    # One pass over the question events (and the flows files): off the event loop.
    return json_response(await asyncio.to_thread(report))


ROUTES = (
    ApiRoute(
        "GET",
        REPORT_PATH,
        get_report,
        LEADS_READ,
        Doc(
            "Funnel of the question flows per question and prompt variant",
            "getFlowReport",
            {"200": json_answer("The funnel", OBJECT), "400": error("Bad query parameter")},
            description="Per flow, question and A/B arm (prompt variant): distinct leads "
            "asked, answered, volunteered, skipped, re-asked, given up, dropped (the "
            "conversation ended there), median seconds to answer, and the share of asked "
            "leads now hot / Won. Definitions: README, 'Funnel report'.",
            query=(
                query(
                    "since",
                    {"type": "string", "format": "date-time"},
                    "Only events at or after this time (with timezone)",
                ),
                query(
                    "until",
                    {"type": "string", "format": "date-time"},
                    "Only events before this time (with timezone)",
                ),
                query(
                    "flow",
                    {"type": "string", "minLength": 1, "maxLength": MAX_FLOW_NAME_CHARS},
                    "Only this flow (its `flow:` name)",
                ),
            ),
        ),
    ),
)
