"""The sales dashboard as data: ``GET /api/v2/reports/dashboard`` (JSON) and ``….csv`` (a chart).

The range is ``from`` and ``to``, two days (``YYYY-MM-DD``) both included, in
``zone`` (an IANA time zone; by default the sales team's, the first team of the
handoff file); by default the last 30 days up to today there. ``bucket`` (``day``
or ``week``) sets the periods of the leads-by-stage chart; by default days up to
92 days, weeks beyond. Each wrong parameter is a 400 naming it. The lead pages' dashboard
(:mod:`bot.web.pages.dashboard`) reads the same range and shows the same tables.
"""

from __future__ import annotations

import asyncio
import csv
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from aiohttp import web

from bot import clock
from bot.leads.csvexport import escape_cell
from bot.store.models import LEAD_STAGES
from bot.store.reports import BUCKETS, Range, dashboard
from bot.store.tokens import LEADS_READ
from bot.web.errors import WebError
from bot.web.json import json_response
from bot.web.keys import LEADS, SETTINGS
from bot.web.params import choice_param, known_params
from bot.web.routes import ApiRoute, Doc
from bot.web.schemas import CSV, OBJECT, error, json_answer, query
from bot.web.teamtime import handoff_config, team_clock

DEFAULT_DAYS = 30
MAX_DAYS = 366
# Up to this many days the leads-by-stage chart has a bar per day, beyond it per week.
MAX_DAILY_DAYS = 92
RANGE_PARAMS = frozenset({"from", "to", "bucket", "zone"})
CSV_PARAMS = RANGE_PARAMS | {"chart"}
# The charts, in page order: each is a table (``chart=`` of the CSV download).
CHARTS = ("funnel", "stages", "sla", "reps", "conversion_stage", "conversion_band", "reasons")


@dataclass(frozen=True)
class Table:
    """One chart's numbers as a table: the page's table view and its CSV download."""

    name: str
    title: str
    columns: tuple[str, ...]
    rows: tuple[tuple[Any, ...], ...]


def _date(query: Mapping[str, str], name: str, default: date) -> date:
    raw = query.get(name)
    if raw is None or raw == "":
        return default
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise WebError(
            400,
            f"query parameter '{name}' must be a day like 2026-11-30, got {raw!r}",
            field=name,
        ) from None


def dashboard_zone(query: Mapping[str, str], default: ZoneInfo) -> ZoneInfo:
    """The ``zone`` the request asks for, else ``default``; a 400 naming ``zone`` if unknown."""
    raw = query.get("zone")
    if raw is None or raw == "":
        return default
    try:
        return ZoneInfo(raw)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise WebError(
            400,
            f"query parameter 'zone' must be a time zone like Europe/Paris, got {raw!r}",
            field="zone",
        ) from None


def dashboard_range(query: Mapping[str, str], *, now: datetime, zone: ZoneInfo) -> Range:
    """The range ``query`` asks for; a 400 naming ``from``, ``to`` or ``bucket`` if it is wrong."""
    last = _date(query, "to", now.astimezone(zone).date())
    first = _date(query, "from", last - timedelta(days=DEFAULT_DAYS - 1))
    if first > last:
        raise WebError(
            400,
            f"query parameter 'to' ({last}) must not be before 'from' ({first})",
            field="to",
        )
    days = (last - first).days + 1
    if days > MAX_DAYS:
        raise WebError(
            400,
            f"query parameter 'to' must be at most {MAX_DAYS} days from 'from' "
            f"(both included), got {days} days",
            field="to",
        )
    try:
        bucket = choice_param(query, "bucket", BUCKETS)
    except WebError as exc:
        raise WebError(400, exc.message, field="bucket") from None
    return Range.of_days(first, last, zone, bucket or ("day" if days <= MAX_DAILY_DAYS else "week"))


def _percent(rate: float | None) -> str:
    return "" if rate is None else f"{rate * 100:.1f}%"


def _minutes(seconds: float) -> float:
    return round(seconds / 60, 1)


def tables(report: Mapping[str, Any]) -> list[Table]:
    """Every chart of ``report`` (:func:`bot.store.reports.dashboard`) as a table, in page order."""
    return [
        Table(
            "funnel",
            "Funnel: chats → qualified → handed off → won",
            ("step", "leads"),
            tuple((row["step"], row["count"]) for row in report["funnel"]),
        ),
        Table(
            "stages",
            f"New leads by stage, per {report['bucket']}",
            ("period", *LEAD_STAGES),
            tuple(
                (row["period"], *(row[stage] for stage in LEAD_STAGES))
                for row in report["stages_over_time"]
            ),
        ),
        Table(
            "sla",
            "Handoffs by SLA",
            ("sla", "handoffs", "met", "missed", "pending", "share_met"),
            tuple(
                (
                    row["sla"],
                    row["handoffs"],
                    row["met"],
                    row["missed"],
                    row["pending"],
                    _percent(row["share_met"]),
                )
                for row in report["handoffs_by_sla"]
            ),
        ),
        Table(
            "reps",
            "Median time to acknowledge a handoff, per rep",
            ("rep", "acknowledged", "median_minutes"),
            tuple(
                (row["rep"], row["acknowledged"], _minutes(row["median_seconds"]))
                for row in report["acknowledge_by_rep"]
            ),
        ),
        Table(
            "conversion_stage",
            "Conversion by stage",
            ("stage", "leads", "won", "conversion"),
            tuple(
                (row["stage"], row["leads"], row["won"], _percent(row["rate"]))
                for row in report["conversion_by_stage"]
            ),
        ),
        Table(
            "conversion_band",
            "Conversion by score band",
            ("score_band", "leads", "won", "conversion"),
            tuple(
                (row["band"], row["leads"], row["won"], _percent(row["rate"]))
                for row in report["conversion_by_band"]
            ),
        ),
        Table(
            "reasons",
            "Top reasons of hot leads",
            ("reason", "hot_leads", "points"),
            tuple((row["rule"], row["leads"], row["points"]) for row in report["hot_reasons"]),
        ),
    ]


def table_csv(table: Table) -> str:
    """``table`` as CSV, text cells safe to open in a spreadsheet."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(table.columns)
    for row in table.rows:
        writer.writerow([escape_cell(cell) if isinstance(cell, str) else cell for cell in row])
    return out.getvalue()


def csv_response(table: Table, span: Range) -> web.Response:
    """The CSV download of one chart."""
    filename = f"dashboard-{table.name}-{span.first_day}-{span.last_day}.csv"
    return web.Response(
        text=table_csv(table),
        content_type="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


async def load(request: web.Request, allowed: frozenset[str]) -> tuple[Range, dict[str, Any]]:
    """The range a request asks for, and the dashboard over it."""
    known_params(request.query, allowed)
    now = clock.now()
    team = team_clock(handoff_config(request.config_dict[SETTINGS].handoff_config_path), ())
    zone = dashboard_zone(request.query, team.zone)
    span = dashboard_range(request.query, now=now, zone=zone)
    engine = request.config_dict[LEADS].engine
    report = await asyncio.to_thread(dashboard, engine, span, now=now)
    return span, report


def chart_table(report: Mapping[str, Any], name: str | None) -> Table:
    """The table of chart ``name``; a 400 naming ``chart`` if there is none such."""
    for table in tables(report):
        if table.name == name:
            return table
    got = "nothing" if name is None else repr(name)
    raise WebError(
        400, f"query parameter 'chart' must be one of {', '.join(CHARTS)}, got {got}", field="chart"
    )


async def get_dashboard(request: web.Request) -> web.Response:
    """``GET /api/v2/reports/dashboard``: every chart's numbers over the range."""
    _, report = await load(request, RANGE_PARAMS)
    return json_response(report)


async def get_dashboard_csv(request: web.Request) -> web.Response:
    """``GET /api/v2/reports/dashboard.csv?chart=…``: one chart's table as CSV."""
    span, report = await load(request, CSV_PARAMS)
    return csv_response(chart_table(report, request.query.get("chart")), span)


RANGE_QUERY = (
    query("from", {"type": "string", "format": "date"}, "First day, default 29 days ago"),
    query("to", {"type": "string", "format": "date"}, "Last day (included), default today"),
    query(
        "zone",
        {"type": "string"},
        "Time zone of the days (IANA, e.g. Europe/Paris); default the first sales team's",
    ),
    query(
        "bucket",
        {"type": "string", "enum": list(BUCKETS)},
        f"Periods of the leads-by-stage chart (default: day up to {MAX_DAILY_DAYS} days)",
    ),
)
_ANSWER_400 = error("Bad query parameter (named in the error's field)")
ROUTES: Sequence[ApiRoute] = (
    ApiRoute(
        "GET",
        "/api/v2/reports/dashboard",
        get_dashboard,
        LEADS_READ,
        Doc(
            "The sales dashboard's numbers over a range of days",
            "getDashboard",
            {"200": json_answer("Every chart's rows", OBJECT), "400": _ANSWER_400},
            description=(
                "Funnel, leads by stage over time, handoffs by SLA, median time to "
                "acknowledge per rep, conversion by stage and score band, top reasons "
                f"of hot leads. At most {MAX_DAYS} days."
            ),
            query=RANGE_QUERY,
        ),
    ),
    ApiRoute(
        "GET",
        "/api/v2/reports/dashboard.csv",
        get_dashboard_csv,
        LEADS_READ,
        Doc(
            "One dashboard chart's table as CSV",
            "getDashboardCsv",
            {"200": {"description": "The chart's table", "content": CSV}, "400": _ANSWER_400},
            query=(
                query("chart", {"type": "string", "enum": list(CHARTS)}, "Which chart"),
                *RANGE_QUERY,
            ),
        ),
    ),
)
