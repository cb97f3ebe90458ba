"""``tokens create|list|revoke``: API tokens with scopes."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from bot.cli.common import open_engine, print_table
from bot.settings import Settings


def add_commands(commands: Any) -> None:
    """``tokens create|list|revoke``."""
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


def _tokens_create(args: argparse.Namespace) -> int:
    from bot.store.tokens import TokenStore

    with open_engine(Settings.from_env()) as engine:
        try:
            token, listing = TokenStore(engine).create(args.name, args.scope)
        except ValueError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    print(f"token {listing['name']!r} ({', '.join(listing['scopes'])}) created:")
    print(token)
    print("it is shown only now: store it where the client keeps secrets", file=sys.stderr)
    return 0


def _tokens_list(args: argparse.Namespace) -> int:
    from bot.store.tokens import TokenStore

    with open_engine(Settings.from_env()) as engine:
        rows = TokenStore(engine).list()
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    if not rows:
        print("no tokens (python -m bot tokens create NAME --scope leads:read)")
        return 0
    for row in rows:
        row["scopes"] = ",".join(row["scopes"])
        row["state"] = "revoked" if row["revoked_at"] else "active"
    print_table(rows, ["name", "prefix", "scopes", "state", "created_at", "last_used_at"])
    return 0


def _tokens_revoke(args: argparse.Namespace) -> int:
    from bot.store.tokens import TokenStore

    with open_engine(Settings.from_env()) as engine:
        try:
            row = TokenStore(engine).revoke(args.name)
        except LookupError as exc:
            print(f"error: {exc.args[0]}", file=sys.stderr)
            return 1
    print(f"token {row['name']!r} revoked at {row['revoked_at']}")
    return 0
