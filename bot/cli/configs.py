"""The ``… check`` commands: each loads one hand-edited configuration and summarises it.

A configuration that cannot be used is reported with its file and line (see
:func:`bot.cli.common.load_config`) and the command exits with 1.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.cli.common import handoff_config, load_config
from bot.settings import Settings

if TYPE_CHECKING:
    from bot.scoring import ScoringConfig


def add_commands(commands: Any) -> None:
    """``catalog check`` and ``rates check``."""
    catalog = commands.add_parser("catalog", help="product catalog").add_subparsers(
        dest="catalog_command", required=True
    )
    check = catalog.add_parser("check", help="validate the catalog YAML")
    check.add_argument("path", nargs="?")
    check.set_defaults(func=catalog_check)
    rates = commands.add_parser("rates", help="exchange rates for budgets").add_subparsers(
        dest="rates_command", required=True
    )
    rates_check_parser = rates.add_parser("check", help="validate the rate table YAML")
    rates_check_parser.add_argument(
        "path", nargs="?", help="default: RATES_PATH or the shipped table"
    )
    rates_check_parser.set_defaults(func=rates_check)


def catalog_check(args: argparse.Namespace) -> int:
    """``catalog check [PATH]``."""
    from bot.catalog import CatalogError, load_catalog

    path = Path(args.path) if args.path else Settings.from_env().catalog_path
    catalog = load_config(lambda: load_catalog(path), CatalogError, "catalog error")
    if catalog is None:
        return 1
    print(f"{path}: {len(catalog.products)} products, {len(catalog.all_variants())} variants")
    return 0


def rates_check(args: argparse.Namespace) -> int:
    """``rates check [PATH]``."""
    from bot.catalog import RatesError, load_rates

    path = Path(args.path) if args.path else Settings.from_env().rates_path
    table = load_config(lambda: load_rates(path), RatesError, "rate table error")
    if table is None:
        return 1
    print(
        f"{path}: {len(table.rates)} currencies in {table.currency}, rates of {table.as_of}: "
        + ", ".join(sorted(table.rates))
    )
    return 0


def flows_check(args: argparse.Namespace) -> int:
    """``flows check``: the flows, cross-checked against the catalogue when it loads."""
    from bot.catalog import CatalogError, load_catalog
    from bot.flows import FlowError, load_flows
    from bot.flows.loader import flow_context

    settings = Settings.from_env()
    catalog = load_config(
        lambda: load_catalog(settings.catalog_path),
        CatalogError,
        "catalog error (flows not cross-checked against it)",
    )
    flows = load_config(
        lambda: load_flows(settings.flows_dir, flow_context(catalog)),
        FlowError,
        "flow error",
        each_line=True,
    )
    if flows is None:
        return 1
    for flow in flows.flows:
        used = (
            "used where " + " and ".join(c.describe() for c in flow.when)
            if flow.when
            else "fallback flow"
        )
        print(
            f"{flow.source}: flow {flow.name!r}, {used}: {len(flow.questions)} questions "
            f"({', '.join(flow.keys)})"
        )
    return 1 if catalog is None else 0


def scoring_check(args: argparse.Namespace) -> int:
    """``scoring check [PATH]``."""
    from bot.scoring import ScoringConfigError, load_scoring_config

    path = Path(args.path) if args.path else Settings.from_env().scoring_config_path
    config = load_config(
        lambda: load_scoring_config(path), ScoringConfigError, "scoring configuration error"
    )
    if config is None:
        return 1
    print(
        f"{path}: {len(config.signals)} intent signals; hot at intent >= "
        f"{config.hot_min_intent} and fit >= {config.hot_min_fit}, warm at intent >= "
        f"{config.warm_min_intent} and fit >= {config.warm_min_fit}"
    )
    return score_source_check(config)


def score_source_check(config: ScoringConfig) -> int:
    """Print which score ranks leads; 1 when the challenger is chosen but cannot be loaded."""
    from bot.scoring.challenger import ChallengerModelError, latest_model

    if config.score_source != "challenger":
        print("score_source: rules (leads are scored by the rules in this file)")
        return 0
    directory = config.challenger.model_dir
    try:
        model = latest_model(directory)
    except ChallengerModelError as exc:
        print(
            f"scoring configuration error: score_source is challenger but its newest model "
            f"cannot be used: {exc}",
            file=sys.stderr,
        )
        return 1
    if model is None:
        print(
            f"scoring configuration error: score_source is challenger but no challenger model "
            f"is trained in {directory}; train one with `python -m bot scoring challenger "
            f"train`, or set score_source: rules (until then leads are scored by the rules)",
            file=sys.stderr,
        )
        return 1
    print(f"score_source: challenger ({model.describe()}; {model.source})")
    return 0


def handoffs_check(args: argparse.Namespace) -> int:
    """``handoffs check [PATH]``."""
    from dataclasses import replace

    settings = Settings.from_env()
    if args.path:
        settings = replace(settings, handoff_config_path=Path(args.path))
    config = handoff_config(settings)
    if config is None:
        return 1
    teams = ", ".join(
        f"{team.name} ({len(team.reps)} reps, {len(team.channels)} channel(s))"
        for team in config.teams.values()
    )
    print(
        f"{settings.handoff_config_path}: {len(config.triggers)} triggers "
        f"({', '.join(t.name for t in config.triggers)}); teams: {teams}"
    )
    if not config.channels:
        print(
            "note: no channel is configured, so handoffs are only visible on the lead pages "
            "and in `python -m bot handoffs list` (set HANDOFF_WEBHOOK_URL, "
            "HANDOFF_SLACK_WEBHOOK_URL or HANDOFF_EMAIL_TO, or add channels to the file)"
        )
    return 0


def followups_check(args: argparse.Namespace) -> int:
    """``followups check [PATH]``."""
    from bot.followups.config import FollowupConfigError, load_followup_config

    path = Path(args.path) if args.path else Settings.from_env().followups_config_path
    config = load_config(
        lambda: load_followup_config(path),
        FollowupConfigError,
        "follow-up configuration error",
        each_line=True,
    )
    if config is None:
        return 1
    cap = config.frequency_cap
    quiet = (
        f"quiet {config.quiet_hours.start:%H:%M}-{config.quiet_hours.end:%H:%M} shopper's time"
        if config.quiet_hours is not None
        else "no quiet hours"
    )
    print(
        f"{path}: {len(config.plays)} plays ({', '.join(p.name for p in config.plays)}); "
        f"at most {cap.messages} per {cap.days} days; {quiet}; "
        f"holdout {config.holdout.share:.0%}; stops on "
        + ", ".join(["consent revoked", "unsubscribe", "erasure", *sorted(config.stop_on)])
    )
    return 0
