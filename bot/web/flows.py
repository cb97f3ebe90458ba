"""Question-flow analytics: ``GET /api/v2/flows/report`` (the funnel as JSON).

The same report as ``python -m bot flows report --json`` (without the chart);
definitions are in :mod:`bot.flows.analytics`.
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

from bot.flows.analytics import current_flows, funnel
from bot.web.errors import ApiError
from bot.web.json import json_response
from bot.web.keys import REPOSITORY, SETTINGS
from bot.web.leads import known_params, time_param

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
        raise ApiError(
            400, f"query parameter 'flow' must have 1 to {MAX_FLOW_NAME_CHARS} characters"
        )
    engine = request.app[REPOSITORY].engine
    flows_dir = request.app[SETTINGS].flows_dir

    def report() -> dict[str, Any]:
        order = current_flows(flows_dir)
        return funnel(engine, since=since, until=until, flow=flow, order=order).as_dict()

    # One pass over the question events (and the flows files): off the event loop.
    return json_response(await asyncio.to_thread(report))


def setup(app: web.Application) -> None:
    """Register the route of this resource."""
    app.router.add_get(REPORT_PATH, get_report)
