"""The sales dashboard page, ``/leads/dashboard``: each chart as SVG, a table and a CSV link.

The numbers are the API's (:mod:`bot.web.dashboard`), over the same range
parameters; ``/leads/dashboard.csv?chart=…`` downloads one chart's table for a
signed-in browser, which has no bearer token for the API's CSV.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from bot.store.models import LEAD_STAGES
from bot.store.reports import Range
from bot.web.charts import Chart, horizontal_bars, stacked_columns
from bot.web.dashboard import (
    CSV_PARAMS,
    MAX_DAYS,
    RANGE_PARAMS,
    Table,
    chart_table,
    csv_response,
    load,
    tables,
)
from bot.web.pages.sessions import required_viewer
from bot.web.pages.site import LEAD_PAGES

FUNNEL_LABELS = {
    "chats": "Chats",
    "qualified": "Qualified",
    "handed_off": "Handed off",
    "won": "Won",
}


@dataclass(frozen=True)
class Panel:
    """One chart of the page: its drawing, its table and where its CSV is."""

    table: Table
    chart: Chart
    csv_url: str


def _percent(rate: float | None) -> float:
    return 0.0 if rate is None else rate * 100


def _conversion(rows: list[dict[str, Any]], key: str) -> Chart:
    return horizontal_bars(
        [
            (
                str(row[key]),
                _percent(row["rate"]),
                f"{row['won']} of {row['leads']}"
                + ("" if row["rate"] is None else f" ({row['rate'] * 100:.1f}%)"),
            )
            for row in rows
        ]
    )


def charts(report: Mapping[str, Any]) -> dict[str, Chart]:
    """The drawing of each chart of ``report``, by chart name."""
    return {
        "funnel": horizontal_bars(
            [
                (FUNNEL_LABELS[row["step"]], row["count"], str(row["count"]))
                for row in report["funnel"]
            ]
        ),
        "stages": stacked_columns(report["stages_over_time"], LEAD_STAGES),
        "sla": horizontal_bars(
            [
                (
                    row["sla"],
                    _percent(row["share_met"]),
                    f"{row['met']} of {row['met'] + row['missed']} met"
                    + ("" if row["share_met"] is None else f" ({row['share_met'] * 100:.0f}%)"),
                )
                for row in report["handoffs_by_sla"]
            ]
        ),
        "reps": horizontal_bars(
            [
                (row["rep"], row["median_seconds"], f"{row['median_seconds'] / 60:.1f} min")
                for row in report["acknowledge_by_rep"]
            ]
        ),
        "conversion_stage": _conversion(report["conversion_by_stage"], "stage"),
        "conversion_band": _conversion(report["conversion_by_band"], "band"),
        "reasons": horizontal_bars(
            [(row["rule"], row["leads"], f"{row['leads']} leads") for row in report["hot_reasons"]]
        ),
    }


def _csv_url(name: str, span: Range) -> str:
    query = {
        "chart": name,
        "from": span.first_day,
        "to": span.last_day,
        "bucket": span.bucket,
        "zone": span.zone.key,
    }
    return "/leads/dashboard.csv?" + urlencode(query)


async def dashboard_page(request: web.Request) -> web.StreamResponse:
    """``GET /leads/dashboard``: the charts over ``from``…``to`` (the last 30 days by default)."""
    await required_viewer(request)
    span, report = await load(request, RANGE_PARAMS)
    drawings = charts(report)
    panels = [
        Panel(table, drawings[table.name], _csv_url(table.name, span)) for table in tables(report)
    ]
    return LEAD_PAGES.render(
        request,
        "leads/dashboard.html",
        {"span": span, "report": report, "panels": panels, "max_days": MAX_DAYS},
    )


async def dashboard_csv(request: web.Request) -> web.StreamResponse:
    """``GET /leads/dashboard.csv?chart=…``: one chart's table as CSV."""
    await required_viewer(request)
    span, report = await load(request, CSV_PARAMS)
    return csv_response(chart_table(report, request.query.get("chart")), span)
