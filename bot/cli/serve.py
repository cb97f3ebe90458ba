"""``migrate``, ``web``, ``run`` and ``cluster``: the lead store's schema and the processes."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from bot.cli.common import deployment_settings
from bot.settings import Settings


def add_commands(commands: Any) -> None:
    """``migrate``, ``web`` and ``run``."""
    commands.add_parser("migrate", help="migrate the lead store").set_defaults(func=_migrate)
    commands.add_parser("web", help="run the web app").set_defaults(func=_web)
    run = commands.add_parser("run", help="run Rasa, the action server and the web app")
    run.add_argument("--model", default="models/current.tar.gz")
    run.set_defaults(func=_run)
    cluster = commands.add_parser(
        "cluster", help="run this machine's part of the cluster profile (make run-cluster)"
    )
    cluster.add_argument("--model", default="models/current.tar.gz")
    cluster.set_defaults(func=_cluster)


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

    settings = deployment_settings()
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


def _cluster(args: argparse.Namespace) -> int:
    from bot.cluster import run

    return run(Path(args.model))
