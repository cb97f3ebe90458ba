"""``handoffs …``: handoffs to sales, their notifications and the channels that carry them."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from bot import clock
from bot.cli.common import _positive, handoff_config, open_engine, print_table
from bot.cli.configs import handoffs_check
from bot.settings import Settings


def add_commands(commands: Any) -> None:
    """``handoffs check|list|deliveries|retry|channels|secret``."""
    handoffs = commands.add_parser(
        "handoffs", help="handoffs to sales and their notifications"
    ).add_subparsers(dest="handoffs_command", required=True)
    check = handoffs.add_parser("check", help="validate the handoff YAML")
    check.add_argument("path", nargs="?", help="default: HANDOFF_CONFIG or the default")
    check.set_defaults(func=handoffs_check)
    listing = handoffs.add_parser("list", help="handoffs, newest first")
    listing.add_argument("--status", choices=("open", "acknowledged", "closed"))
    listing.add_argument(
        "--overdue", action="store_true", help="only unacknowledged handoffs past their SLA"
    )
    listing.add_argument("--limit", type=_positive, default=50)
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(func=_handoffs_list)
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


def _handoffs_list(args: argparse.Namespace) -> int:
    from bot.handoff.outbox import list_handoffs

    with open_engine(Settings.from_env()) as engine:
        rows = list_handoffs(
            engine,
            status=args.status,
            overdue_at=clock.now() if args.overdue else None,
            limit=args.limit,
        )
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
    print_table(
        rows,
        ["id", "lead_name", "trigger", "sla", "status", "assigned_to", "due_at", "delivered"],
    )
    print("(delivered = delivered/pending/dead notifications)")
    return 0


def _handoffs_deliveries(args: argparse.Namespace) -> int:
    from bot.handoff.config import Delivery
    from bot.handoff.outbox import OutboxStore

    with open_engine(Settings.from_env()) as engine:
        rows = OutboxStore(engine, Delivery()).messages(status=args.status, limit=args.limit)
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    if not rows:
        print("no notifications" + (f" with status {args.status}" if args.status else ""))
        return 0
    print_table(
        rows,
        ["message_id", "channel", "kind", "status", "attempts", "last_status_code", "last_error"],
    )
    return 0


def _handoffs_retry(args: argparse.Namespace) -> int:
    from bot.handoff.config import Delivery
    from bot.handoff.outbox import OutboxStore

    if not args.message_id and not args.all_dead:
        print("give a message id (webhook-id) or --all-dead", file=sys.stderr)
        return 2
    with open_engine(Settings.from_env()) as engine:
        count = OutboxStore(engine, Delivery()).retry(
            args.message_id, clock.now(), all_dead=args.all_dead
        )
    if count == 0 and args.message_id:
        print(f"no dead-lettered notification {args.message_id!r}", file=sys.stderr)
        return 1
    print(f"queued {count} notification(s) again; the web app's worker delivers them")
    return 0


def _handoffs_channels(args: argparse.Namespace) -> int:
    from bot.handoff.config import Delivery
    from bot.handoff.outbox import OutboxStore

    settings = Settings.from_env()
    config = handoff_config(settings)
    if config is None:
        return 1
    with open_engine(settings) as engine:
        store = OutboxStore(engine, Delivery())
        if args.enable:
            if args.enable not in config.channels:
                print(f"unknown channel {args.enable!r}", file=sys.stderr)
                return 1
            enabled = store.enable_channel(args.enable)
            print(f"{args.enable}: " + ("enabled again" if enabled else "was not disabled"))
            return 0
        disabled = store.disabled_channels()
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
