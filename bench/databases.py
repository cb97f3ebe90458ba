"""Throwaway databases: a temporary SQLite file or a new PostgreSQL database.

The benchmarks measure in them, and the tests' fixtures (``tests/conftest.py``) make theirs here.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import Engine, make_url

from bot.store.db import create_db_engine

BACKENDS = ("sqlite", "postgres")
# The server the PostgreSQL tests use (trust auth); each run creates and drops its own database.
DEFAULT_POSTGRES_URL = os.environ.get(
    "TEST_POSTGRES_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/test"
)


def seeded_leads_parser(
    prog: str, description: str, *, leads: int, runs: int, seed: int, out: Path
) -> argparse.ArgumentParser:
    """The options of a benchmark over seeded leads in one scratch database of a backend."""
    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument("--leads", type=int, default=leads, help="leads to generate")
    parser.add_argument("--runs", type=int, default=runs, help="measured runs")
    parser.add_argument("--seed", type=int, default=seed)
    parser.add_argument("--backend", choices=BACKENDS, default="sqlite")
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES_URL)
    parser.add_argument("--out", type=Path, default=out)
    return parser


@contextlib.contextmanager
def scratch_database(backend: str, postgres_url: str, prefix: str) -> Iterator[str]:
    """The URL of a new empty database of ``backend``, removed afterwards."""
    if backend == "sqlite":
        with tempfile.TemporaryDirectory(prefix=f"{prefix}-") as scratch:
            yield f"sqlite:///{Path(scratch) / 'leads.db'}"
        return
    name = f"{prefix.replace('-', '_')}_{uuid.uuid4().hex[:12]}"
    admin = create_db_engine(postgres_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(postgres_url).set(database=name).render_as_string(hide_password=False)
    finally:
        drop_database(admin, name)
        admin.dispose()


def drop_database(admin: Engine, name: str) -> None:
    """Drop PostgreSQL database ``name`` if it exists, ending its open connections first."""
    with admin.connect() as connection:
        connection.execute(
            text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"),
            {"n": name},
        )
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
