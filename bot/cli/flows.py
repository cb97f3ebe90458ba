"""``flows check`` and ``flows report``: the question flows and how shoppers go through them."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from bot.cli.common import open_engine
from bot.cli.configs import flows_check
from bot.settings import VAR_DIR, Settings


def add_commands(commands: Any) -> None:
    """``flows check`` and ``flows report``."""
    flows = commands.add_parser("flows", help="question flows").add_subparsers(
        dest="flows_command", required=True
    )
    flows.add_parser("check", help="validate data/flows/*.yml").set_defaults(func=flows_check)
    flows_report = flows.add_parser(
        "report", help="funnel per question and prompt variant: asked, answered, dropped…"
    )
    flows_report.add_argument("--since", type=_iso_time, help="events from (ISO 8601)")
    flows_report.add_argument("--until", type=_iso_time, help="events before (ISO 8601)")
    flows_report.add_argument("--flow", help="one flow only (its `flow:` name)")
    flows_report.add_argument(
        "--chart",
        default=str(VAR_DIR / "reports" / "flows_funnel.png"),
        help="PNG of the funnel (default: var/reports/flows_funnel.png)",
    )
    flows_report.add_argument("--json", action="store_true", help="print the report as JSON")
    flows_report.set_defaults(func=_flows_report)


def _iso_time(text: str) -> Any:
    """An ISO 8601 time for ``--since``/``--until``; one without a timezone is UTC."""
    from datetime import datetime, timezone

    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected an ISO 8601 time like 2026-11-30T09:00:00Z, got {text!r}"
        ) from None
    return value if value.tzinfo is not None else value.replace(tzinfo=timezone.utc)


def _flows_report(args: argparse.Namespace) -> int:
    from bot.flows.analytics import current_flows, funnel, render_funnel, write_funnel_chart

    settings = Settings.from_env()
    with open_engine(settings) as engine:
        report = funnel(
            engine,
            since=args.since,
            until=args.until,
            flow=args.flow,
            order=current_flows(settings.flows_dir),
        )
    chart = write_funnel_chart(report, Path(args.chart))
    if args.json:
        print(json.dumps({**report.as_dict(), "chart": str(chart)}, indent=2))
    else:
        print(render_funnel(report))
        print(f"\nchart: {chart}")
    return 0
