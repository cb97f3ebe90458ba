"""Command line: ``python -m bot <command>``."""

from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence

from bot import logredact
from bot.cli import (
    configs,
    events,
    flows,
    followups,
    handoffs,
    leads,
    report,
    scoring,
    serve,
    tokens,
)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``python -m bot``."""
    parser = argparse.ArgumentParser(prog="python -m bot", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    # In the order `python -m bot --help` lists them.
    serve.add_commands(commands)
    configs.add_commands(commands)
    flows.add_commands(commands)
    scoring.add_commands(commands)
    handoffs.add_commands(commands)
    followups.add_commands(commands)
    report.add_commands(commands)
    leads.add_commands(commands)
    tokens.add_commands(commands)
    leads.add_purge_command(commands)
    events.add_commands(commands)
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
