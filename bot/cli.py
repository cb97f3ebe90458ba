"""Command line: ``python -m bot <command>``."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot import logredact
from bot.settings import VAR_DIR, Settings

if TYPE_CHECKING:
    from bot.handoff import HandoffConfig
    from bot.scoring import Scorer


def _migrate(args: argparse.Namespace) -> int:
    from bot.secrets import make_data_private
    from bot.store.migrate import upgrade

    settings = Settings.from_env()
    # The first command of `make run`: it creates var/ and the lead store.
    make_data_private(settings)
    upgrade(settings.database_url)
    print(f"lead store migrated: {settings.masked()['database_url']}")
    return 0


def _web(args: argparse.Namespace) -> int:
    from aiohttp import web

    from bot.web import create_app

    settings = _deployment_settings()
    web.run_app(
        create_app(settings),
        host=settings.web_host,
        port=settings.web_port,
        print=None,
        access_log=None,
    )
    return 0


def _run(args: argparse.Namespace) -> int:
    from bot.supervisor import run

    return run(Path(args.model))


def _catalog_check(args: argparse.Namespace) -> int:
    from bot.catalog import CatalogError, load_catalog

    path = Path(args.path) if args.path else Settings.from_env().catalog_path
    try:
        catalog = load_catalog(path)
    except CatalogError as exc:
        print(f"catalog error: {exc}", file=sys.stderr)
        return 1
    print(f"{path}: {len(catalog.products)} products, {len(catalog.all_variants())} variants")
    return 0


def _rates_check(args: argparse.Namespace) -> int:
    from bot.catalog import RatesError, load_rates

    path = Path(args.path) if args.path else Settings.from_env().rates_path
    try:
        table = load_rates(path)
    except RatesError as exc:
        print(f"rate table error: {exc}", file=sys.stderr)
        return 1
    print(
        f"{path}: {len(table.rates)} currencies in {table.currency}, rates of {table.as_of}: "
        + ", ".join(sorted(table.rates))
    )
    return 0


def _flows_check(args: argparse.Namespace) -> int:
    from bot.catalog import CatalogError, load_catalog
    from bot.flows import FlowError, load_flows
    from bot.flows.loader import flow_context

    settings = Settings.from_env()
    try:
        catalog = load_catalog(settings.catalog_path)
    except CatalogError as exc:
        print(f"catalog error (flows not cross-checked against it): {exc}", file=sys.stderr)
        catalog = None
    try:
        flows = load_flows(settings.flows_dir, flow_context(catalog))
    except FlowError as exc:
        for line in str(exc).splitlines():
            print(f"flow error: {line}", file=sys.stderr)
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
    from bot.store.db import create_db_engine

    settings = Settings.from_env()
    engine = create_db_engine(settings.database_url)
    try:
        report = funnel(
            engine,
            since=args.since,
            until=args.until,
            flow=args.flow,
            order=current_flows(settings.flows_dir),
        )
    finally:
        engine.dispose()
    chart = write_funnel_chart(report, Path(args.chart))
    if args.json:
        print(json.dumps({**report.as_dict(), "chart": str(chart)}, indent=2))
    else:
        print(render_funnel(report))
        print(f"\nchart: {chart}")
    return 0


def _configured_scorer(settings: Settings, which: str = "") -> Scorer | None:
    """The scorer ``settings`` configure, or ``None`` after printing why there is none."""
    from bot.scoring import ScoringConfigError, scorer_for

    try:
        return scorer_for(settings)
    except (ScoringConfigError, ValueError) as exc:
        label = f" ({which})" if which else ""
        print(f"scoring configuration error{label}: {exc}", file=sys.stderr)
        return None


def _deployment_settings() -> Settings:
    """Settings with the deployment's saved secrets (``var/tokens.json``) filled in.

    Commands that hand leads off sign acknowledge links: they must use the same
    key as the web app that checks them.
    """
    from bot.secrets import ensure_tokens

    environ = dict(os.environ)
    ensure_tokens(environ)
    return Settings.from_env(environ)


def _rescore(args: argparse.Namespace) -> int:
    from sqlalchemy import func, select
    from tqdm import tqdm

    from bot.scoring.rescore import rescore_in_parallel
    from bot.store.db import create_db_engine
    from bot.store.models import Lead

    settings = _deployment_settings()
    if _configured_scorer(settings) is None:
        return 1
    engine = create_db_engine(settings.database_url)
    try:
        query = select(func.count()).select_from(Lead).where(Lead.merged_into.is_(None))
        if not args.all:
            query = query.where(Lead.decaying.is_(True))
        with engine.connect() as connection:
            total = connection.execute(query).scalar_one()
    finally:
        engine.dispose()
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


def _scoring_check(args: argparse.Namespace) -> int:
    from bot.scoring import ScoringConfigError, load_scoring_config

    path = Path(args.path) if args.path else Settings.from_env().scoring_config_path
    try:
        config = load_scoring_config(path)
    except ScoringConfigError as exc:
        print(f"scoring configuration error: {exc}", file=sys.stderr)
        return 1
    print(
        f"{path}: {len(config.signals)} intent signals; hot at intent >= "
        f"{config.hot_min_intent} and fit >= {config.hot_min_fit}, warm at intent >= "
        f"{config.warm_min_intent} and fit >= {config.warm_min_fit}"
    )
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    from bot.scoring.review import evaluate, render_evaluation, write_chart
    from bot.store.db import create_db_engine
    from bot.store.models import utcnow

    settings = Settings.from_env()
    scorer = _configured_scorer(settings)
    if scorer is None:
        return 1
    engine = create_db_engine(settings.database_url)
    try:
        report = evaluate(engine, scorer, utcnow())
    finally:
        engine.dispose()
    chart = write_chart(report, Path(args.chart))
    if args.json:
        print(json.dumps({**report.as_dict(), "chart": str(chart)}, indent=2))
    else:
        print(render_evaluation(report))
        print(f"\nchart: {chart}")
    return 0


def _backtest(args: argparse.Namespace) -> int:
    from bot.scoring import Scorer, ScoringConfigError, load_scoring_config
    from bot.scoring.review import backtest, render_backtest
    from bot.store.db import create_db_engine
    from bot.store.models import utcnow

    settings = Settings.from_env()
    current = _configured_scorer(settings, "current")
    if current is None:
        return 1
    try:
        proposed = Scorer(load_scoring_config(Path(args.config)), current.catalog, current.rates)
    except ScoringConfigError as exc:
        print(f"scoring configuration error (proposed): {exc}", file=sys.stderr)
        return 1
    engine = create_db_engine(settings.database_url)
    try:
        report = backtest(engine, current, proposed, utcnow(), limit=args.limit)
    finally:
        engine.dispose()
    print(json.dumps(report.as_dict(), indent=2) if args.json else render_backtest(report))
    return 0


def _synthetic(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from bot.scoring.synthetic import generate, write_history
    from bot.store.db import create_db_engine
    from bot.store.migrate import upgrade
    from bot.store.models import utcnow
    from bot.store.repository import LeadRepository

    settings = Settings.from_env()
    scorer = _configured_scorer(settings)
    if scorer is None:
        return 1
    upgrade(settings.database_url)
    now = utcnow()
    engine = create_db_engine(settings.database_url)
    try:
        leads = generate(args.leads, seed=args.seed, now=now, catalog=scorer.catalog)
        with tqdm(total=args.leads, unit="lead", disable=args.quiet or None) as bar:
            summary = write_history(
                LeadRepository(engine, scorer),
                leads,
                args.batch_size,
                now=now,
                progress=bar.update,
            )
    finally:
        engine.dispose()
    statuses = ", ".join(f"{status} {count}" for status, count in sorted(summary.statuses.items()))
    print(
        f"wrote {summary.leads} synthetic lead(s) (seed {args.seed}) to "
        f"{settings.masked()['database_url']}: {summary.events} new events "
        f"({summary.duplicate_events} already stored), {summary.purchases} buyers; "
        f"statuses: {statuses}"
    )
    return 0


def _handoff_config(settings: Settings) -> HandoffConfig | None:
    from bot.handoff import HandoffConfigError, handoff_config_for

    try:
        return handoff_config_for(settings)
    except HandoffConfigError as exc:
        print(f"handoff configuration error: {exc}", file=sys.stderr)
        return None


def _handoffs_check(args: argparse.Namespace) -> int:
    from dataclasses import replace

    settings = Settings.from_env()
    if args.path:
        settings = replace(settings, handoff_config_path=Path(args.path))
    config = _handoff_config(settings)
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


def _print_table(rows: list[dict[str, Any]], columns: list[str]) -> None:
    widths = {c: max(len(c), *(len(str(r.get(c) or "")) for r in rows)) for c in columns}
    print("  ".join(c.ljust(widths[c]) for c in columns))
    for row in rows:
        print("  ".join(str(row.get(c) or "").ljust(widths[c]) for c in columns))


def _handoffs_list(args: argparse.Namespace) -> int:
    from datetime import datetime, timezone

    from bot.handoff.outbox import list_handoffs
    from bot.store.db import create_db_engine

    engine = create_db_engine(Settings.from_env().database_url)
    try:
        rows = list_handoffs(
            engine,
            status=args.status,
            overdue_at=datetime.now(timezone.utc) if args.overdue else None,
            limit=args.limit,
        )
    finally:
        engine.dispose()
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    if not rows:
        print("no handoffs")
        return 0
    for row in rows:
        row["delivered"] = "/".join(
            str(row["deliveries"][k]) for k in ("delivered", "pending", "dead")
        )
    _print_table(
        rows,
        ["id", "lead_name", "trigger", "sla", "status", "assigned_to", "due_at", "delivered"],
    )
    print("(delivered = delivered/pending/dead notifications)")
    return 0


def _handoffs_deliveries(args: argparse.Namespace) -> int:
    from bot.handoff.config import Delivery
    from bot.handoff.outbox import OutboxStore
    from bot.store.db import create_db_engine

    engine = create_db_engine(Settings.from_env().database_url)
    try:
        rows = OutboxStore(engine, Delivery()).messages(status=args.status, limit=args.limit)
    finally:
        engine.dispose()
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    if not rows:
        print("no notifications" + (f" with status {args.status}" if args.status else ""))
        return 0
    _print_table(
        rows,
        ["message_id", "channel", "kind", "status", "attempts", "last_status_code", "last_error"],
    )
    return 0


def _handoffs_retry(args: argparse.Namespace) -> int:
    from datetime import datetime, timezone

    from bot.handoff.config import Delivery
    from bot.handoff.outbox import OutboxStore
    from bot.store.db import create_db_engine

    if not args.message_id and not args.all_dead:
        print("give a message id (webhook-id) or --all-dead", file=sys.stderr)
        return 2
    engine = create_db_engine(Settings.from_env().database_url)
    try:
        count = OutboxStore(engine, Delivery()).retry(
            args.message_id, datetime.now(timezone.utc), all_dead=args.all_dead
        )
    finally:
        engine.dispose()
    if count == 0 and args.message_id:
        print(f"no dead-lettered notification {args.message_id!r}", file=sys.stderr)
        return 1
    print(f"queued {count} notification(s) again; the web app's worker delivers them")
    return 0


def _handoffs_channels(args: argparse.Namespace) -> int:
    from bot.handoff.config import Delivery
    from bot.handoff.outbox import OutboxStore
    from bot.store.db import create_db_engine

    settings = Settings.from_env()
    config = _handoff_config(settings)
    if config is None:
        return 1
    engine = create_db_engine(settings.database_url)
    try:
        store = OutboxStore(engine, Delivery())
        if args.enable:
            if args.enable not in config.channels:
                print(f"unknown channel {args.enable!r}", file=sys.stderr)
                return 1
            enabled = store.enable_channel(args.enable)
            print(f"{args.enable}: " + ("enabled again" if enabled else "was not disabled"))
            return 0
        disabled = store.disabled_channels()
    finally:
        engine.dispose()
    if not config.channels:
        print("no channels configured")
    for channel in config.channels.values():
        state = f"DISABLED: {disabled[channel.name]}" if channel.name in disabled else "enabled"
        print(f"{channel.name}  {channel.type}  {state}")
    return 0


def _handoffs_secret(args: argparse.Namespace) -> int:
    import base64
    import secrets

    print("whsec_" + base64.b64encode(secrets.token_bytes(32)).decode())
    return 0


def _leads_import(args: argparse.Namespace) -> int:
    import time

    from tqdm import tqdm

    from bot.store.csvio import CsvFileError, import_csv, write_error_report
    from bot.store.db import create_db_engine

    settings = Settings.from_env()
    path = Path(args.file)
    errors_path = Path(args.errors) if args.errors else path.with_name(f"{path.stem}.errors.csv")
    # Found out before importing rather than after.
    if not errors_path.parent.is_dir():
        print(f"{errors_path}: no such directory for the error report", file=sys.stderr)
        return 2
    started = time.perf_counter()
    engine = create_db_engine(settings.database_url)
    try:
        with (
            path.open("rb") as handle,
            tqdm(unit=" rows", file=sys.stderr, disable=args.quiet or None) as bar,
        ):
            report = import_csv(
                engine,
                handle,
                region=settings.shop_country,
                on_duplicate=args.on_duplicate,
                dry_run=args.dry_run,
                batch_size=args.batch_size,
                source=args.source,
                encoding=args.encoding,
                ignore_unknown=args.ignore_unknown_columns,
                progress=bar.update,
            )
    except OSError as exc:
        print(f"{path}: cannot read the file ({exc.strerror})", file=sys.stderr)
        return 2
    except CsvFileError as exc:
        print(f"{path}: {exc}; nothing was imported", file=sys.stderr)
        return 2
    finally:
        engine.dispose()
    seconds = time.perf_counter() - started
    if args.dry_run:
        print(
            f"dry run of {path}, nothing written: {report.rows} row(s) in {seconds:.1f} s; "
            f"would create {report.created}, update {report.updated}, skip "
            f"{report.skipped_duplicates} duplicate(s); {report.invalid} invalid"
        )
    else:
        print(
            f"imported {path}: {report.rows} row(s) in {seconds:.1f} s; {report.created} "
            f"created, {report.updated} updated, {report.skipped_duplicates} skipped "
            f"(duplicates), {report.invalid} invalid"
        )
    if args.errors or report.error_count:
        with errors_path.open("w", encoding="utf-8", newline="") as out:
            write_error_report(report.errors, out)
        kept = (
            f", the first {len(report.errors)} written"
            if len(report.errors) < report.error_count
            else ""
        )
        print(f"error report: {errors_path} ({report.error_count} error(s){kept})")
    return 1 if report.invalid else 0


def _leads_export(args: argparse.Namespace) -> int:
    from bot.store.csvio import export_csv
    from bot.store.db import create_db_engine
    from bot.store.repository import LeadFilters, LeadRepository

    filters = LeadFilters(
        stage=args.stage, status=args.status, min_score=args.min_score, source=args.source
    )
    engine = create_db_engine(Settings.from_env().database_url)
    try:
        repository = LeadRepository(engine)
        if args.output:
            with open(args.output, "w", encoding="utf-8", newline="") as out:
                count = export_csv(repository, filters, out)
        else:
            count = export_csv(repository, filters, sys.stdout)
    finally:
        engine.dispose()
    print(
        f"exported {count} lead(s)" + (f" to {args.output}" if args.output else ""), file=sys.stderr
    )
    return 0


def _tokens_create(args: argparse.Namespace) -> int:
    from bot.store.db import create_db_engine
    from bot.store.tokens import TokenStore

    engine = create_db_engine(Settings.from_env().database_url)
    try:
        token, listing = TokenStore(engine).create(args.name, args.scope)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        engine.dispose()
    print(f"token {listing['name']!r} ({', '.join(listing['scopes'])}) created:")
    print(token)
    print("it is shown only now: store it where the client keeps secrets", file=sys.stderr)
    return 0


def _tokens_list(args: argparse.Namespace) -> int:
    from bot.store.db import create_db_engine
    from bot.store.tokens import TokenStore

    engine = create_db_engine(Settings.from_env().database_url)
    try:
        rows = TokenStore(engine).list()
    finally:
        engine.dispose()
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    if not rows:
        print("no tokens (python -m bot tokens create NAME --scope leads:read)")
        return 0
    for row in rows:
        row["scopes"] = ",".join(row["scopes"])
        row["state"] = "revoked" if row["revoked_at"] else "active"
    _print_table(rows, ["name", "prefix", "scopes", "state", "created_at", "last_used_at"])
    return 0


def _tokens_revoke(args: argparse.Namespace) -> int:
    from bot.store.db import create_db_engine
    from bot.store.tokens import TokenStore

    engine = create_db_engine(Settings.from_env().database_url)
    try:
        row = TokenStore(engine).revoke(args.name)
    except LookupError as exc:
        print(f"error: {exc.args[0]}", file=sys.stderr)
        return 1
    finally:
        engine.dispose()
    print(f"token {row['name']!r} revoked at {row['revoked_at']}")
    return 0


def _lead_book(settings: Settings) -> Any:
    from bot.store.db import create_db_engine
    from bot.store.leadbook import LeadBook
    from bot.store.repository import LeadRepository
    from bot.store.tracker import ConversationStore

    engine = create_db_engine(settings.database_url)
    return LeadBook(
        LeadRepository(engine, _configured_scorer(settings)),
        ConversationStore(settings.tracker_store_url),
        region=settings.shop_country,
    )


def _purge(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    book = _lead_book(settings)
    try:
        count = book.purge_anonymous(args.older_than, dry_run=args.dry_run)
    finally:
        book.repository.engine.dispose()
        if book.conversations is not None:
            book.conversations.dispose()
    # In the unit given: "48h" is 2 days, "36h" 36 hours (not "1 days").
    hours = int(args.older_than.total_seconds() // 3600)
    age = f"{hours // 24} days" if hours % 24 == 0 else f"{hours} hours"
    if args.dry_run:
        print(f"{count} anonymous lead(s) untouched for {age} would be erased")
    else:
        print(f"erased {count} anonymous lead(s) untouched for {age}")
    return 0


def _leads_erase(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    book = _lead_book(settings)
    try:
        result = book.erase(args.lead_id, by=args.by, reason="request")
    except LookupError as exc:
        print(f"error: {exc.args[0]}", file=sys.stderr)
        return 1
    finally:
        book.repository.engine.dispose()
        if book.conversations is not None:
            book.conversations.dispose()
    print(json.dumps(result, indent=2))
    return 0


def _age(text: str) -> Any:
    """``365d``, ``12w`` or ``24h`` as a timedelta."""
    from datetime import timedelta

    units = {"d": "days", "w": "weeks", "h": "hours"}
    number, unit = text[:-1], text[-1:].lower()
    if unit not in units or not number.isdigit() or int(number) < 1:
        raise argparse.ArgumentTypeError(f"expected an age like 365d, 12w or 48h; got {text!r}")
    return timedelta(**{units[unit]: int(number)})


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


# The store's names are imported when an option is given, not to build the
# parser: importing the store costs every command (`run`, `web`) over a second.
def _lead_source(text: str) -> str:
    from bot.store.contacts import normalise_source

    try:
        return normalise_source(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _lead_stage(text: str) -> str:
    from bot.store.models import LEAD_STAGES

    if text not in LEAD_STAGES:
        raise argparse.ArgumentTypeError(f"expected one of {', '.join(LEAD_STAGES)}, got {text!r}")
    return text


def _lead_status(text: str) -> str:
    from bot.store.models import LEAD_STATUSES

    if text not in LEAD_STATUSES:
        raise argparse.ArgumentTypeError(
            f"expected one of {', '.join(LEAD_STATUSES)}, got {text!r}"
        )
    return text


def _add_leads_commands(commands: Any) -> None:
    leads = commands.add_parser("leads", help="import and export leads (CSV)").add_subparsers(
        dest="leads_command", required=True
    )
    leads_import = leads.add_parser(
        "import",
        help="import leads from a CSV file (exit 0: all rows valid, 1: some invalid, "
        "2: the file cannot be imported)",
    )
    leads_import.add_argument("file", help="the CSV file (header line, then one lead a row)")
    leads_import.add_argument(
        "--on-duplicate",
        choices=("skip", "update"),
        default="skip",
        help="a row whose e-mail (or phone) a lead already has: skip it (default) or "
        "update the lead with its non-empty cells",
    )
    leads_import.add_argument(
        "--dry-run", action="store_true", help="check and count everything, write nothing"
    )
    leads_import.add_argument(
        "--errors", metavar="REPORT.csv", help="error report (default: FILE.errors.csv if any)"
    )
    leads_import.add_argument(
        "--batch-size", type=_positive, default=1000, help="rows per transaction (default: 1000)"
    )
    leads_import.add_argument(
        "--source", type=_lead_source, default="import", help="source of leads whose row has none"
    )
    leads_import.add_argument(
        "--encoding", default="utf-8", help="the file's encoding (default: utf-8), e.g. cp1252"
    )
    leads_import.add_argument(
        "--ignore-unknown-columns", action="store_true", help="skip columns it does not know"
    )
    leads_import.add_argument("--quiet", action="store_true", help="no progress bar")
    leads_import.set_defaults(func=_leads_import)
    leads_export = leads.add_parser("export", help="export leads as CSV")
    leads_export.add_argument("-o", "--output", metavar="FILE", help="default: standard output")
    leads_export.add_argument("--stage", type=_lead_stage, help="cold, warm or hot")
    leads_export.add_argument("--status", type=_lead_status, help="New, Contacted, … Won")
    leads_export.add_argument("--min-score", type=int)
    leads_export.add_argument(
        "--source", type=_lead_source, help="any case, e.g. chat, api, import, 'Trade show'"
    )
    leads_export.set_defaults(func=_leads_export)
    leads_erase = leads.add_parser(
        "erase", help="erase a person: the lead, its answers, events and conversation"
    )
    leads_erase.add_argument("lead_id")
    leads_erase.add_argument("--by", required=True, help="who asked for it (kept in the tombstone)")
    leads_erase.set_defaults(func=_leads_erase)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``python -m bot``."""
    parser = argparse.ArgumentParser(prog="python -m bot", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("migrate", help="migrate the lead store").set_defaults(func=_migrate)
    commands.add_parser("web", help="run the web app").set_defaults(func=_web)
    run = commands.add_parser("run", help="run Rasa, the action server and the web app")
    run.add_argument("--model", default="models/current.tar.gz")
    run.set_defaults(func=_run)
    catalog = commands.add_parser("catalog", help="product catalog").add_subparsers(
        dest="catalog_command", required=True
    )
    check = catalog.add_parser("check", help="validate the catalog YAML")
    check.add_argument("path", nargs="?")
    check.set_defaults(func=_catalog_check)
    rates = commands.add_parser("rates", help="exchange rates for budgets").add_subparsers(
        dest="rates_command", required=True
    )
    rates_check = rates.add_parser("check", help="validate the rate table YAML")
    rates_check.add_argument("path", nargs="?", help="default: RATES_PATH or the shipped table")
    rates_check.set_defaults(func=_rates_check)
    flows = commands.add_parser("flows", help="question flows").add_subparsers(
        dest="flows_command", required=True
    )
    flows.add_parser("check", help="validate data/flows/*.yml").set_defaults(func=_flows_check)
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
    scoring_check = scoring.add_parser("check", help="validate a scoring YAML file")
    scoring_check.add_argument("path", nargs="?", help="default: SCORING_CONFIG or the default")
    scoring_check.set_defaults(func=_scoring_check)
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
    handoffs = commands.add_parser(
        "handoffs", help="handoffs to sales and their notifications"
    ).add_subparsers(dest="handoffs_command", required=True)
    handoffs_check = handoffs.add_parser("check", help="validate the handoff YAML")
    handoffs_check.add_argument("path", nargs="?", help="default: HANDOFF_CONFIG or the default")
    handoffs_check.set_defaults(func=_handoffs_check)
    handoffs_list = handoffs.add_parser("list", help="handoffs, newest first")
    handoffs_list.add_argument("--status", choices=("open", "acknowledged", "closed"))
    handoffs_list.add_argument(
        "--overdue", action="store_true", help="only unacknowledged handoffs past their SLA"
    )
    handoffs_list.add_argument("--limit", type=_positive, default=50)
    handoffs_list.add_argument("--json", action="store_true")
    handoffs_list.set_defaults(func=_handoffs_list)
    deliveries = handoffs.add_parser(
        "deliveries", help="notifications with their delivery log (--status dead: dead letters)"
    )
    deliveries.add_argument("--status", choices=("pending", "delivered", "dead"))
    deliveries.add_argument("--limit", type=_positive, default=50)
    deliveries.add_argument("--json", action="store_true")
    deliveries.set_defaults(func=_handoffs_deliveries)
    retry = handoffs.add_parser("retry", help="queue a dead-lettered notification again")
    retry.add_argument("message_id", nargs="?", help="its webhook-id (msg_...)")
    retry.add_argument("--all-dead", action="store_true", help="every dead letter")
    retry.set_defaults(func=_handoffs_retry)
    channels = handoffs.add_parser("channels", help="channels and whether a 410 disabled them")
    channels.add_argument("--enable", metavar="NAME", help="switch a disabled channel back on")
    channels.set_defaults(func=_handoffs_channels)
    handoffs.add_parser("secret", help="print a new whsec_ webhook secret").set_defaults(
        func=_handoffs_secret
    )
    _add_leads_commands(commands)
    tokens = commands.add_parser("tokens", help="API tokens with scopes").add_subparsers(
        dest="tokens_command", required=True
    )
    create = tokens.add_parser("create", help="create a token (printed once)")
    create.add_argument("name", help="who uses it, e.g. crm-sync")
    create.add_argument(
        "--scope",
        action="append",
        required=True,
        help="events:write, leads:read, leads:write or admin (repeat for several)",
    )
    create.set_defaults(func=_tokens_create)
    token_list = tokens.add_parser("list", help="tokens, without their secrets")
    token_list.add_argument("--json", action="store_true")
    token_list.set_defaults(func=_tokens_list)
    revoke = tokens.add_parser("revoke", help="revoke a token by name or id")
    revoke.add_argument("name")
    revoke.set_defaults(func=_tokens_revoke)
    purge = commands.add_parser(
        "purge", help="erase anonymous leads (no e-mail or phone) untouched for a while"
    )
    purge.add_argument("--older-than", type=_age, required=True, help="e.g. 365d")
    purge.add_argument("--dry-run", action="store_true", help="count, erase nothing")
    purge.set_defaults(func=_purge)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point."""
    logredact.install()
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    args = build_parser().parse_args(argv)
    result: int = args.func(args)
    return result
