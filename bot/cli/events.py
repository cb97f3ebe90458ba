"""``events consume|reconcile``: Rasa's conversation events from the event broker, stored once.

``consume`` runs until SIGTERM or SIGINT, reading the RabbitMQ queue named by
``RABBITMQ_QUEUE`` (``RABBITMQ_HOST``, ``RABBITMQ_PORT``, ``RABBITMQ_USER``,
``RABBITMQ_PASSWORD``) into the lead store (``DATABASE_URL``). ``reconcile``
compares what it stored over a time range with Rasa's tracker store.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import math
import os
import signal
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from bot import clock
from bot.cli.common import _positive, open_engine
from bot.settings import Settings, mask_url_password

log = logging.getLogger("bot.events")


def add_commands(commands: Any) -> None:
    """``events consume|reconcile``."""
    events = commands.add_parser(
        "events", help="conversation events from the RabbitMQ event broker"
    ).add_subparsers(dest="events_command", required=True)
    consume = events.add_parser(
        "consume",
        help="store the broker's conversation events once each (runs until SIGTERM/SIGINT)",
    )
    consume.add_argument("--queue", help="default: RABBITMQ_QUEUE or storefront_events")
    consume.add_argument(
        "--batch-size", type=_positive, default=200, help="events per transaction at most"
    )
    consume.add_argument(
        "--batch-ms",
        type=_positive,
        default=100,
        help="how long a batch waits for more events after its first (milliseconds)",
    )
    consume.add_argument(
        "--prefetch",
        type=_positive,
        help="unacknowledged messages the broker may send ahead (default: twice --batch-size)",
    )
    consume.set_defaults(func=_consume)
    check = events.add_parser(
        "reconcile",
        help="fill the stored events' gaps from Rasa's tracker store and mark orphans",
    )
    check.add_argument(
        "--since",
        required=True,
        type=_moment,
        help="start of the range: ISO 8601 (UTC unless it has an offset) or Unix seconds",
    )
    check.add_argument(
        "--until", type=_moment, help="end of the range, excluded (default: now); as --since"
    )
    check.add_argument(
        "--endpoints",
        type=Path,
        help="read the tracker store from this endpoints file (e.g. endpoints-cluster.yml); "
        "default: TRACKER_STORE_URL",
    )
    check.add_argument(
        "--settle-seconds",
        type=_seconds,
        default=60.0,
        help="events younger than this are never marked orphans (their turn may be committing)",
    )
    check.set_defaults(func=_reconcile, parser=check)


# The names show in argparse's errors ("argument --since: invalid time value: 'May'").
def _moment(text: str) -> float:
    """Unix seconds from Unix seconds or an ISO 8601 time (an argument type)."""
    raw = text.strip()
    try:
        seconds = float(raw)
    except ValueError:
        try:
            moment = datetime.fromisoformat(raw.replace("Z", "+00:00").replace("z", "+00:00"))
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected an ISO 8601 time (2026-12-07T15:00:00Z) or Unix seconds, got {text!r}"
            ) from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=timezone.utc)
        return moment.timestamp()
    if not math.isfinite(seconds) or seconds < 0:
        raise argparse.ArgumentTypeError(f"expected Unix seconds of 0 or more, got {text!r}")
    return seconds


_moment.__name__ = "time"


def _seconds(text: str) -> float:
    """A number of seconds, 0 or more (an argument type)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"expected 0 or more seconds, got {text!r}")
    return value


def _consume(args: argparse.Namespace) -> int:
    from bot.conversations.config import BrokerSettings
    from bot.conversations.consumer import Consumer
    from bot.conversations.repository import ConversationEvents

    try:
        broker = BrokerSettings.from_env(os.environ)
    except ValueError as exc:
        print(f"event broker settings: {exc}", file=sys.stderr)
        return 2
    if args.queue:
        broker = BrokerSettings(broker.host, broker.port, broker.user, broker.password, args.queue)
    if args.prefetch is not None and args.prefetch < args.batch_size:
        print(
            f"--prefetch ({args.prefetch}) must be at least --batch-size ({args.batch_size})",
            file=sys.stderr,
        )
        return 2
    settings = Settings.from_env()
    with open_engine(settings) as engine:
        missing = _missing_tables(engine, ("conversation_events", "conversation_rollups"))
        if missing:
            print(
                f"the lead store lacks {', '.join(missing)}: run `python -m bot migrate`",
                file=sys.stderr,
            )
            return 1
        consumer = Consumer(
            broker,
            ConversationEvents(engine),
            batch_size=args.batch_size,
            batch_seconds=args.batch_ms / 1000,
            prefetch=args.prefetch,
        )
        log.info("consuming %r into %s", broker, mask_url_password(settings.database_url))
        asyncio.run(_run_until_signalled(consumer))
    return 0


def _missing_tables(engine: Any, names: tuple[str, ...]) -> list[str]:
    from sqlalchemy import inspect

    with engine.connect() as connection:
        present = set(inspect(connection).get_table_names())
    return [name for name in names if name not in present]


async def _run_until_signalled(consumer: Any) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await consumer.run(stop)


def _reconcile(args: argparse.Namespace) -> int:
    from sqlalchemy.exc import SQLAlchemyError

    from bot.conversations.reconcile import EndpointsError, reconcile, tracker_url_from_endpoints
    from bot.conversations.repository import ConversationEvents
    from bot.store.tracker import ConversationStore

    now = clock.now()
    until = args.until if args.until is not None else now.timestamp()
    if until <= args.since:
        args.parser.error(
            f"argument --until: must be after --since ({_iso(args.since)}), got {_iso(until)}"
        )
    settings = Settings.from_env()
    try:
        tracker_url = (
            tracker_url_from_endpoints(args.endpoints)
            if args.endpoints is not None
            else settings.tracker_store_url
        )
    except EndpointsError as exc:
        print(f"--endpoints: {exc}", file=sys.stderr)
        return 2
    tracker = ConversationStore(tracker_url)
    try:
        with open_engine(settings) as engine:
            result = reconcile(
                tracker,
                ConversationEvents(engine),
                args.since,
                until,
                now=now,
                settle_seconds=args.settle_seconds,
            )
    except SQLAlchemyError as exc:
        print(f"reconcile failed: {type(exc).__name__}: {exc.args[0]}", file=sys.stderr)
        return 1
    finally:
        tracker.dispose()
    print(f"range: {_iso(args.since)} to {_iso(until)}")
    print(f"tracker store events: {result.tracker_events}")
    print(f"stored events: {result.stored_events}")
    print(f"filled from the tracker store: {result.filled}")
    print(f"marked orphaned: {result.orphaned}")
    print(f"orphans found in the tracker store again: {result.restored}")
    if result.unreadable:
        print(f"unreadable tracker store rows (skipped): {result.unreadable}")
    return 0


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, timezone.utc).isoformat()
