"""``report outcomes``: what the follow-ups, A/B arms, answers and reps brought in."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

from bot.cli.common import open_engine
from bot.settings import Settings


def add_commands(commands: Any) -> None:
    """``report outcomes``."""
    report = commands.add_parser("report", help="outcome reports").add_subparsers(
        dest="report_command", required=True
    )
    outcomes = report.add_parser(
        "outcomes",
        help="lift per follow-up play, conversion per A/B arm, answer and rep",
    )
    outcomes.add_argument(
        "--since", type=date, help="from (ISO 8601 date or time; default: until - 90 days)"
    )
    outcomes.add_argument("--until", type=date, help="before (ISO 8601 date or time; default: now)")
    outcomes.add_argument("--json", action="store_true", help="print the report as JSON")
    outcomes.add_argument(
        "--charts", type=Path, help="write outcomes_lift.png and outcomes_reps.png in this folder"
    )
    outcomes.set_defaults(func=_outcomes)


# The name shows in argparse's errors ("invalid date value: 'tomorrow'").
def date(text: str) -> datetime:
    """An ISO 8601 date or time (an argument type)."""
    from bot.leads.outcomes_report import parse_report_time

    try:
        return parse_report_time(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _outcomes(args: argparse.Namespace) -> int:
    from bot.catalog.loader import load_catalog
    from bot.leads.outcomes_report import (
        ReportRangeError,
        outcome_report,
        render_report,
        write_charts,
    )
    from bot.store.types import json_default

    settings = Settings.from_env()
    catalog = load_catalog(settings.catalog_path)
    with open_engine(settings) as engine:
        try:
            report = outcome_report(engine, catalog, since=args.since, until=args.until)
        except ReportRangeError as exc:
            print(f"report outcomes: {exc}", file=sys.stderr)
            return 2
    charts = write_charts(report, args.charts) if args.charts else []
    if args.json:
        data = {**report.as_dict(), "charts": [str(path) for path in charts]}
        print(json.dumps(data, indent=2, default=json_default))
    else:
        print(render_report(report))
        for path in charts:
            print(f"chart: {path}")
    return 0
