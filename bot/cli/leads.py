"""``leads import|export|erase`` and ``purge``: leads in and out of the store, and erasure."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bot.cli.common import _positive, configured_scorer, open_engine
from bot.settings import Settings


def add_commands(commands: Any) -> None:
    """``leads import|export|erase``."""
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


def add_purge_command(commands: Any) -> None:
    """``purge --older-than AGE``."""
    purge = commands.add_parser(
        "purge", help="erase anonymous leads (no e-mail or phone) untouched for a while"
    )
    purge.add_argument("--older-than", type=_age, required=True, help="e.g. 365d")
    purge.add_argument("--dry-run", action="store_true", help="count, erase nothing")
    purge.set_defaults(func=_purge)


def _age(text: str) -> Any:
    """``365d``, ``12w`` or ``24h`` as a timedelta."""
    from datetime import timedelta

    units = {"d": "days", "w": "weeks", "h": "hours"}
    number, unit = text[:-1], text[-1:].lower()
    if unit not in units or not number.isdigit() or int(number) < 1:
        raise argparse.ArgumentTypeError(f"expected an age like 365d, 12w or 48h; got {text!r}")
    return timedelta(**{units[unit]: int(number)})


# The store's names are imported when an option is given, not to build the parser.
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


@contextmanager
def _lead_book(settings: Settings) -> Iterator[Any]:
    """The lead book on the store and conversations of ``settings``, closed after the block."""
    from bot.leads import LeadService
    from bot.leads.book import LeadBook
    from bot.store.tracker import ConversationStore

    with open_engine(settings) as engine:
        book = LeadBook(
            LeadService(engine, configured_scorer(settings)),
            ConversationStore(settings.tracker_store_url),
            region=settings.shop_country,
        )
        try:
            yield book
        finally:
            if book.conversations is not None:
                book.conversations.dispose()


def _purge(args: argparse.Namespace) -> int:
    with _lead_book(Settings.from_env()) as book:
        count = book.purge_anonymous(args.older_than, dry_run=args.dry_run)
    # In the unit given: "48h" is 2 days, "36h" 36 hours (not "1 days").
    hours = int(args.older_than.total_seconds() // 3600)
    age = f"{hours // 24} days" if hours % 24 == 0 else f"{hours} hours"
    if args.dry_run:
        print(f"{count} anonymous lead(s) untouched for {age} would be erased")
    else:
        print(f"erased {count} anonymous lead(s) untouched for {age}")
    return 0


def _leads_erase(args: argparse.Namespace) -> int:
    with _lead_book(Settings.from_env()) as book:
        try:
            result = book.erase(args.lead_id, by=args.by, reason="request")
        except LookupError as exc:
            print(f"error: {exc.args[0]}", file=sys.stderr)
            return 1
    print(json.dumps(result, indent=2))
    return 0


def _leads_import(args: argparse.Namespace) -> int:
    import time

    from tqdm import tqdm

    from bot.leads.csvimport import CsvFileError, import_csv, write_error_report

    settings = Settings.from_env()
    path = Path(args.file)
    errors_path = Path(args.errors) if args.errors else path.with_name(f"{path.stem}.errors.csv")
    # Found out before importing rather than after.
    if not errors_path.parent.is_dir():
        print(f"{errors_path}: no such directory for the error report", file=sys.stderr)
        return 2
    started = time.perf_counter()
    with open_engine(settings) as engine:
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
    from bot.leads import LeadService
    from bot.leads.csvexport import export_csv
    from bot.store.queries import LeadFilters

    filters = LeadFilters(
        stage=args.stage, status=args.status, min_score=args.min_score, source=args.source
    )
    with open_engine(Settings.from_env()) as engine:
        leads = LeadService(engine)
        if args.output:
            with open(args.output, "w", encoding="utf-8", newline="") as out:
                count = export_csv(leads, filters, out)
        else:
            count = export_csv(leads, filters, sys.stdout)
    print(
        f"exported {count} lead(s)" + (f" to {args.output}" if args.output else ""), file=sys.stderr
    )
    return 0
