"""``followups …``: the follow-up plays sent to consenting shoppers."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from bot import clock
from bot.cli.common import _positive, deployment_settings, load_config, open_engine
from bot.cli.configs import followups_check


def add_commands(commands: Any) -> None:
    """``followups check|plan|preview``."""
    followups = commands.add_parser(
        "followups", help="follow-up plays sent to consenting shoppers"
    ).add_subparsers(dest="followups_command", required=True)
    check = followups.add_parser("check", help="validate the follow-up YAML")
    check.add_argument("path", nargs="?", help="default: FOLLOWUPS_CONFIG or the default")
    check.set_defaults(func=followups_check)
    plan = followups.add_parser(
        "plan", help="plan the plays now due for every consenting lead (the web app also does)"
    )
    plan.add_argument("--batch", type=_positive, default=5000, help="leads per transaction")
    plan.add_argument(
        "--workers",
        type=_positive,
        default=os.cpu_count() or 1,
        help="processes sharing the leads by id (default: one per core)",
    )
    plan.set_defaults(func=_plan)
    preview = followups.add_parser(
        "preview", help="print what a play would send a lead now, without sending it"
    )
    preview.add_argument("--lead", required=True, help="the lead's id")
    preview.add_argument("--play", required=True, help="the play's name in the YAML")
    preview.add_argument("--html", action="store_true", help="print the HTML part too")
    preview.set_defaults(func=_preview)


def _planner() -> Any:
    from bot.catalog import CatalogError
    from bot.catalog.rates import RatesError
    from bot.followups import FollowupConfigError, followup_planner_for

    settings = deployment_settings()
    planner = load_config(
        lambda: followup_planner_for(settings),
        (FollowupConfigError, CatalogError, RatesError),
        "follow-up configuration error",
        each_line=True,
    )
    return settings, planner


def _plan(args: argparse.Namespace) -> int:
    settings, planner = _planner()
    if planner is None:
        return 1
    from bot.leads.planning import plan_in_parallel

    stats = plan_in_parallel(settings, workers=args.workers, now=clock.now(), batch=args.batch)
    print(
        f"{stats.leads} consenting leads read: {stats.planned} follow-ups planned, "
        f"{stats.held_out} held out (control group)"
    )
    return 0


def _preview(args: argparse.Namespace) -> int:
    settings, planner = _planner()
    if planner is None:
        return 1
    with open_engine(settings) as engine, engine.connect() as connection:
        try:
            rendered = planner.preview(connection, args.lead, args.play, clock.now())
        except KeyError as exc:
            print(f"followups preview: {exc.args[0]}", file=sys.stderr)
            return 1
    print(f"Subject: {rendered.subject}\n")
    print(rendered.text, end="")
    if args.html:
        print("\n--- HTML part ---\n")
        print(rendered.html, end="")
    return 0
