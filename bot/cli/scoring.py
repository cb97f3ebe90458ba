"""Lead scoring: ``rescore``, ``scoring``, ``evaluate``, ``backtest`` and ``synthetic``."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot import clock
from bot.cli.common import (
    _positive,
    configured_planner,
    configured_scorer,
    deployment_settings,
    load_config,
    open_engine,
)
from bot.cli.configs import scoring_check
from bot.settings import VAR_DIR, Settings

if TYPE_CHECKING:
    from bot.leads.synthetic_followups import PlayTruth
    from bot.scoring import Scorer

# Below this many leads, starting worker processes costs more than they save.
PARALLEL_TRAINING_LEADS = 100_000


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
    _add_challenger_commands(scoring)
    evaluate = commands.add_parser(
        "evaluate", help="compare stored leads' stages with their outcomes (Won or purchased)"
    )
    evaluate.add_argument(
        "--chart",
        default=str(VAR_DIR / "reports" / "conversion_by_score.png"),
        help="PNG of conversion by score decile (default: var/reports/conversion_by_score.png)",
    )
    evaluate.add_argument("--json", action="store_true", help="print the report as JSON")
    _add_time_split(
        evaluate,
        "also train the challenger before a cutoff and report it beside the rules on the "
        "leads after it",
    )
    evaluate.set_defaults(func=_evaluate)
    backtest = commands.add_parser(
        "backtest",
        help="show what a proposed scoring configuration (or the challenger) would change",
    )
    backtest.add_argument("--config", help="the proposed scoring YAML file")
    _add_time_split(
        backtest,
        "instead of a proposed file: the challenger, trained before a cutoff, against the "
        "rules on the leads after it",
    )
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
    synthetic.add_argument(
        "--outcomes",
        default="shop",
        help="who buys: shop (default), planted (a truth the rules get wrong in places) or "
        "rules (the rule score is the truth); see bot/leads/synthetic.py",
    )
    synthetic.add_argument(
        "--followups",
        action="store_true",
        help="also run the follow-up plays (FOLLOWUPS_CONFIG) over the history, with purchases "
        "from a planted lift per play (the default truth is printed); see "
        "bot/leads/synthetic_followups.py",
    )
    synthetic.add_argument(
        "--play-lift",
        action="append",
        default=[],
        metavar="PLAY=LIFT",
        help="the planted lift of a play, a share (cart_recovery=0.10); repeat for more "
        "plays; implies --followups",
    )
    synthetic.add_argument(
        "--base-rate",
        type=float,
        default=None,
        help="the chance a followed-up lead buys without any lift (default: 0.05); "
        "implies --followups",
    )
    synthetic.add_argument("--quiet", action="store_true", help="no progress bar")
    synthetic.set_defaults(func=_synthetic)


def _add_challenger_commands(scoring: Any) -> None:
    challenger = scoring.add_parser(
        "challenger", help="the score learned from outcomes (train, show, score a lead)"
    ).add_subparsers(dest="challenger_command", required=True)
    train = challenger.add_parser(
        "train", help="train a new challenger model on the store's outcomes"
    )
    train.add_argument(
        "--batch-size", type=_positive, default=2000, help="leads read per transaction"
    )
    train.add_argument(
        "--workers",
        type=int,
        default=0,
        help=f"processes sharing the work (default: CPU cores from "
        f"{PARALLEL_TRAINING_LEADS:,} leads on, else 1)",
    )
    train.add_argument("--quiet", action="store_true", help="no progress bar")
    train.set_defaults(func=_challenger_train)
    show = challenger.add_parser("show", help="the newest model and what it learned")
    show.add_argument("--json", action="store_true", help="print the model as JSON")
    show.set_defaults(func=_challenger_show)
    score = challenger.add_parser("score", help="one lead's challenger score, beside the rules'")
    score.add_argument("--lead", required=True, help="the lead's id")
    score.add_argument("--json", action="store_true", help="print the scores as JSON")
    score.set_defaults(func=_challenger_score)


def _add_time_split(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument("--challenger", action="store_true", help=what)
    split = parser.add_mutually_exclusive_group()
    split.add_argument(
        "--cutoff",
        type=_moment,
        help="the time split (ISO date or time, UTC unless given): train before, test after",
    )
    split.add_argument(
        "--test-days",
        type=_positive_days,
        help="the time split as the last N days (default: the last 7 days)",
    )


def _moment(text: str) -> datetime:
    """An ISO date or time (an argument type); UTC when it names no zone."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError as exc:
        raise argparse.ArgumentTypeError(
            f"expected an ISO date or time such as 2026-11-16 or 2026-11-16T12:00+01:00, "
            f"got {text!r}"
        ) from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)


def _positive_days(text: str) -> float:
    """A number of days above 0 (an argument type)."""
    try:
        value = float(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected a number of days, got {text!r}") from exc
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be more than 0 days, got {text}")
    return value


def _cutoff(args: argparse.Namespace, now: datetime) -> datetime:
    from bot.leads.challenger import DEFAULT_TEST_DAYS

    if args.cutoff is not None:
        cutoff: datetime = args.cutoff
        return cutoff
    return now - timedelta(days=args.test_days or DEFAULT_TEST_DAYS)


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
    now = clock.now()
    with open_engine(settings) as engine:
        report = evaluate(engine, scorer, now)
        comparison = _compare(engine, scorer, args, now) if args.challenger else None
    chart = write_chart(report, Path(args.chart))
    if args.json:
        extra = {"challenger": comparison.as_dict()} if comparison is not None else {}
        print(json.dumps({**report.as_dict(), "chart": str(chart), **extra}, indent=2))
    else:
        print(render_evaluation(report))
        print(f"\nchart: {chart}")
        if comparison is not None:
            from bot.leads.challenger import render_comparison

            print(f"\n{render_comparison(comparison)}")
    return 1 if args.challenger and comparison is None else 0


def _compare(engine: Any, scorer: Scorer, args: argparse.Namespace, now: datetime) -> Any:
    """The time split, or ``None`` after printing why it cannot be made."""
    from bot.leads.challenger import compare
    from bot.scoring.challenger import NotEnoughOutcomes

    cutoff = _cutoff(args, now)
    try:
        return compare(engine, scorer, cutoff=cutoff, now=now)
    except (NotEnoughOutcomes, ValueError) as exc:
        print(f"challenger: {exc} (time split at {cutoff.isoformat()})", file=sys.stderr)
        return None


def _backtest(args: argparse.Namespace) -> int:
    from bot.leads.review import backtest
    from bot.leads.reviewreport import render_backtest
    from bot.scoring import Scorer, ScoringConfigError, load_scoring_config

    if (args.config is None) == (not args.challenger):
        print("backtest: give either --config proposed.yml or --challenger", file=sys.stderr)
        return 2
    settings = Settings.from_env()
    current = configured_scorer(settings, "current")
    if current is None:
        return 1
    if args.challenger:
        from bot.leads.challenger import render_comparison

        now = clock.now()
        with open_engine(settings) as engine:
            comparison = _compare(engine, current, args, now)
        if comparison is None:
            return 1
        print(
            json.dumps(comparison.as_dict(), indent=2)
            if args.json
            else render_comparison(comparison)
        )
        return 0
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
    from bot.leads.synthetic import OUTCOME_RULES, generate, write_history
    from bot.leads.synthetic_followups import PlayTruthError, write_with_followups
    from bot.store.migrate import upgrade

    if args.outcomes not in OUTCOME_RULES:
        print(
            f"synthetic: --outcomes must be one of {', '.join(OUTCOME_RULES)}, "
            f"got {args.outcomes!r}",
            file=sys.stderr,
        )
        return 2
    try:
        given = _play_lifts(args)
    except ValueError as exc:
        print(f"synthetic: {exc}", file=sys.stderr)
        return 2
    # Follow-up links are signed with the key the web app checks them with.
    settings = deployment_settings() if given is not None else Settings.from_env()
    scorer = configured_scorer(settings)
    if scorer is None:
        return 1
    truth = planner = None
    if given is not None:
        planner = configured_planner(settings)
        if planner is None:
            return 1
        try:
            truth = _play_truth(given, [play.name for play in planner.config.plays])
        except PlayTruthError as exc:
            print(f"synthetic: {exc}", file=sys.stderr)
            return 2
        print(f"planted follow-up truth: {truth.describe()}")
    upgrade(settings.database_url)
    now = clock.now()
    followed = None
    with open_engine(settings) as engine:
        leads = generate(
            args.leads,
            seed=args.seed,
            now=now,
            catalog=scorer.catalog,
            outcomes=args.outcomes,
            scorer=scorer,
        )
        service = LeadService(engine, scorer)
        with tqdm(total=args.leads, unit="lead", disable=args.quiet or None) as bar:
            if truth is None or planner is None:
                summary = write_history(
                    service, leads, args.batch_size, now=now, progress=bar.update
                )
            else:
                summary, followed = write_with_followups(
                    service, planner, leads, truth, seed=args.seed, now=now, progress=bar.update
                )
    statuses = ", ".join(f"{status} {count}" for status, count in sorted(summary.statuses.items()))
    print(
        f"wrote {summary.leads} synthetic lead(s) (seed {args.seed}) to "
        f"{settings.masked()['database_url']}: {summary.events} new events "
        f"({summary.duplicate_events} already stored), {summary.purchases} buyers; "
        f"statuses: {statuses}"
    )
    if followed is not None:
        print(
            f"follow-ups: {followed.consents} shoppers gave consent; "
            f"{followed.buyers} bought after a follow-up "
            f"({followed.later_buyers} more would after now)"
        )
        for play, row in sorted(followed.plays.items()):
            print(
                f"  {play}: sent {row.sent} ({row.sent_bought} bought), "
                f"held out {row.held_out} ({row.held_out_bought} bought)"
            )
    return 0


def _play_lifts(args: argparse.Namespace) -> tuple[dict[str, float], float | None] | None:
    """The lifts and base rate the options plant (``None``: no follow-ups)."""
    from bot.leads.synthetic_followups import parse_play_lift

    if not (args.followups or args.play_lift or args.base_rate is not None):
        return None
    return dict(parse_play_lift(text) for text in args.play_lift), args.base_rate


def _play_truth(given: tuple[dict[str, float], float | None], plays: list[str]) -> PlayTruth:
    """The default truth over the configured ``plays``, with the lifts and base rate given."""
    from bot.leads.synthetic_followups import DEFAULT_PLAY_TRUTH, PlayTruth

    lifts, base_rate = given
    default = {play: DEFAULT_PLAY_TRUTH.lifts.get(play, 0.0) for play in plays}
    rate = DEFAULT_PLAY_TRUTH.base_rate if base_rate is None else base_rate
    return PlayTruth(default | lifts, rate).for_plays(plays)


def _challenger_train(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from bot.leads.challenger import train_in_parallel
    from bot.scoring.challenger import NotEnoughOutcomes, save_model

    settings = Settings.from_env()
    scorer = configured_scorer(settings)
    if scorer is None:
        return 1
    now = clock.now()
    workers = args.workers or _train_workers(settings)
    started = time.perf_counter()
    with tqdm(unit="lead", desc="labelled leads", disable=args.quiet or None) as bar:
        try:
            training = train_in_parallel(
                settings,
                scorer,
                workers=workers,
                cutoff=now,
                trained_at=now,
                batch_size=args.batch_size,
                progress=bar.update,
            )
        except NotEnoughOutcomes as exc:
            bar.close()
            print(f"challenger: {exc}", file=sys.stderr)
            return 1
    elapsed = time.perf_counter() - started
    model = save_model(training.model, scorer.config.challenger.model_dir)
    model_leads = model.leads
    print(
        f"trained challenger v{model.version} on {model_leads:,} labelled leads "
        f"({model.converted:,} converted, {model_leads - model.converted:,} not) from "
        f"{training.patterns:,} feature patterns in {elapsed:.1f} s with {workers} "
        f"worker(s): {model.source}"
    )
    source = scorer.config.source or "the scoring configuration"
    if scorer.config.score_source == "challenger":
        print(
            f"score_source is challenger in {source}: restart the servers and run "
            "`python -m bot rescore --all` to score leads with it"
        )
    else:
        print(
            f"the rules still score leads; compare first with `python -m bot evaluate "
            f"--challenger`, then set score_source: challenger in {source} to switch"
        )
    return 0


def _train_workers(settings: Settings) -> int:
    """One process per core for a large store; one alone below, where starting more costs more."""
    from sqlalchemy import func, select

    from bot.store.models import Lead

    with open_engine(settings) as engine, engine.connect() as connection:
        leads = connection.execute(
            select(func.count()).select_from(Lead).where(Lead.merged_into.is_(None))
        ).scalar_one()
    return (os.cpu_count() or 1) if leads >= PARALLEL_TRAINING_LEADS else 1


def _latest(scorer: Scorer) -> Any:
    """The newest model, or ``None`` after printing why there is none."""
    from bot.scoring.challenger import ChallengerModelError, latest_model

    directory = scorer.config.challenger.model_dir
    try:
        model = latest_model(directory)
    except ChallengerModelError as exc:
        print(f"challenger: {exc}", file=sys.stderr)
        return None
    if model is None:
        print(
            f"challenger: no trained model in {directory} "
            "(train one with `python -m bot scoring challenger train`)",
            file=sys.stderr,
        )
    return model


def _challenger_show(args: argparse.Namespace) -> int:
    from bot.leads.challenger import weight_lines

    scorer = configured_scorer(Settings.from_env())
    if scorer is None:
        return 1
    model = _latest(scorer)
    if model is None:
        return 1
    if args.json:
        print(json.dumps({**model.as_dict(), "path": str(model.source)}, indent=2))
        return 0
    in_use = "scores leads" if scorer.config.score_source == "challenger" else "not in use"
    print(f"{model.describe()} ({in_use}: score_source is {scorer.config.score_source})")
    print(f"file: {model.source}")
    print(
        f"learned from leads judged before {model.cutoff:%Y-%m-%d %H:%M} UTC; weights in "
        "log-odds (x10 = points), strongest first:"
    )
    print("\n".join(weight_lines(model, len(model.weights))))
    return 0


def _challenger_score(args: argparse.Namespace) -> int:
    from bot.leads import LeadService

    settings = Settings.from_env()
    scorer = configured_scorer(settings)
    if scorer is None:
        return 1
    model = _latest(scorer)
    if model is None:
        return 1
    now = clock.now()
    with open_engine(settings) as engine:
        lead = LeadService(engine, scorer).get_lead(args.lead)
        if lead is None:
            print(f"challenger: no lead with id {args.lead!r}", file=sys.stderr)
            return 1
        with engine.connect() as connection:
            facts = LeadService.load_facts(connection, args.lead)
    challenger = model.score(facts, now, scorer.config, scorer.catalog, scorer.rates)
    rules = scorer.rules(facts, now)
    if args.json:
        print(
            json.dumps(
                {
                    "lead_id": args.lead,
                    "at": now.isoformat(),
                    "model_version": model.version,
                    **{
                        name: {
                            "score": result.score,
                            "intent_score": result.intent_score,
                            "fit_score": result.fit_score,
                            "stage": result.stage,
                            "reasons": result.reasons_json(),
                        }
                        for name, result in (("challenger", challenger), ("rules", rules))
                    },
                },
                indent=2,
            )
        )
        return 0
    for name, result in (("challenger", challenger), ("rules", rules)):
        print(f"{name}: score {result.score} ({result.stage})")
        print("\n".join(f"  {r.points:+d} {r.detail}" for r in result.reasons))
    return 0
