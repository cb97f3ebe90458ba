"""Lead scoring: ``rescore``, ``scoring check``, ``evaluate``, ``backtest`` and ``synthetic``."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

from bot import clock
from bot.cli.common import (
    _positive,
    configured_scorer,
    deployment_settings,
    load_config,
    open_engine,
)
from bot.cli.configs import scoring_check
from bot.settings import VAR_DIR, Settings


def add_commands(commands: Any) -> None:
    """``rescore``, ``scoring check``, ``evaluate``, ``backtest`` and ``synthetic``."""
    rescore = commands.add_parser(
        "rescore", help="rescore every lead (time decay, new scoring configuration)"
    )
    rescore.add_argument("--batch-size", type=int, default=5000, help="leads per transaction")
    rescore.add_argument(
        "--all",
        action="store_true",
        help="every lead, not only those still decaying (after editing the scoring "
        "configuration or the catalogue)",
    )
    rescore.add_argument("--quiet", action="store_true", help="no progress bar")
    rescore.add_argument(
        "--workers", type=int, default=0, help="processes sharing the work (default: CPU cores)"
    )
    rescore.set_defaults(func=_rescore)
    scoring = commands.add_parser("scoring", help="scoring configuration").add_subparsers(
        dest="scoring_command", required=True
    )
    check = scoring.add_parser("check", help="validate a scoring YAML file")
    check.add_argument("path", nargs="?", help="default: SCORING_CONFIG or the default")
    check.set_defaults(func=scoring_check)
    evaluate = commands.add_parser(
        "evaluate", help="compare stored leads' stages with their outcomes (Won or purchased)"
    )
    evaluate.add_argument(
        "--chart",
        default=str(VAR_DIR / "reports" / "conversion_by_score.png"),
        help="PNG of conversion by score decile (default: var/reports/conversion_by_score.png)",
    )
    evaluate.add_argument("--json", action="store_true", help="print the report as JSON")
    evaluate.set_defaults(func=_evaluate)
    backtest = commands.add_parser(
        "backtest", help="show what a proposed scoring configuration would change"
    )
    backtest.add_argument("--config", required=True, help="the proposed scoring YAML file")
    backtest.add_argument(
        "--limit", type=int, default=50, help="leads changing stage to list (default: 50)"
    )
    backtest.add_argument("--json", action="store_true", help="print the report as JSON")
    backtest.set_defaults(func=_backtest)
    synthetic = commands.add_parser(
        "synthetic", help="write seeded synthetic lead histories (demos, benchmarks)"
    )
    synthetic.add_argument("--leads", type=_positive, required=True, help="how many leads")
    synthetic.add_argument("--seed", type=int, default=0, help="same seed, same leads (default: 0)")
    synthetic.add_argument(
        "--batch-size", type=_positive, default=1000, help="leads per transaction"
    )
    synthetic.add_argument("--quiet", action="store_true", help="no progress bar")
    synthetic.set_defaults(func=_synthetic)


def _rescore(args: argparse.Namespace) -> int:
    from sqlalchemy import func, select
    from tqdm import tqdm

    from bot.leads.rescore import rescore_in_parallel
    from bot.store.models import Lead

    settings = deployment_settings()
    if configured_scorer(settings) is None:
        return 1
    query = select(func.count()).select_from(Lead).where(Lead.merged_into.is_(None))
    if not args.all:
        query = query.where(Lead.decaying.is_(True))
    with open_engine(settings) as engine, engine.connect() as connection:
        total = connection.execute(query).scalar_one()
    workers = args.workers or os.cpu_count() or 1
    with tqdm(total=total, unit="lead", disable=args.quiet or None) as bar:
        summary = rescore_in_parallel(
            settings,
            workers=workers,
            batch_size=args.batch_size,
            everything=args.all,
            progress=bar.update,
        )
    which = "every lead" if args.all else "leads whose score changes with time"
    print(
        f"rescored {summary.leads} lead(s) ({which}) with {workers} worker(s): "
        f"{summary.changed} changed, {summary.stage_changes} changed stage"
    )
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    from bot.leads.review import evaluate
    from bot.leads.reviewreport import render_evaluation, write_chart

    settings = Settings.from_env()
    scorer = configured_scorer(settings)
    if scorer is None:
        return 1
    with open_engine(settings) as engine:
        report = evaluate(engine, scorer, clock.now())
    chart = write_chart(report, Path(args.chart))
    if args.json:
        print(json.dumps({**report.as_dict(), "chart": str(chart)}, indent=2))
    else:
        print(render_evaluation(report))
        print(f"\nchart: {chart}")
    return 0


def _backtest(args: argparse.Namespace) -> int:
    from bot.leads.review import backtest
    from bot.leads.reviewreport import render_backtest
    from bot.scoring import Scorer, ScoringConfigError, load_scoring_config

    settings = Settings.from_env()
    current = configured_scorer(settings, "current")
    if current is None:
        return 1
    proposed = load_config(
        lambda: Scorer(load_scoring_config(Path(args.config)), current.catalog, current.rates),
        ScoringConfigError,
        "scoring configuration error (proposed)",
    )
    if proposed is None:
        return 1
    with open_engine(settings) as engine:
        report = backtest(engine, current, proposed, clock.now(), limit=args.limit)
    print(json.dumps(report.as_dict(), indent=2) if args.json else render_backtest(report))
    return 0


def _synthetic(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from bot.leads import LeadService
    from bot.leads.synthetic import generate, write_history
    from bot.store.migrate import upgrade

    settings = Settings.from_env()
    scorer = configured_scorer(settings)
    if scorer is None:
        return 1
    upgrade(settings.database_url)
    now = clock.now()
    with open_engine(settings) as engine:
        leads = generate(args.leads, seed=args.seed, now=now, catalog=scorer.catalog)
        with tqdm(total=args.leads, unit="lead", disable=args.quiet or None) as bar:
            summary = write_history(
                LeadService(engine, scorer),
                leads,
                args.batch_size,
                now=now,
                progress=bar.update,
            )
    statuses = ", ".join(f"{status} {count}" for status, count in sorted(summary.statuses.items()))
    print(
        f"wrote {summary.leads} synthetic lead(s) (seed {args.seed}) to "
        f"{settings.masked()['database_url']}: {summary.events} new events "
        f"({summary.duplicate_events} already stored), {summary.purchases} buyers; "
        f"statuses: {statuses}"
    )
    return 0
