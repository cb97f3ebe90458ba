"""Shared fixtures: databases (SQLite always, PostgreSQL when the local server runs).

The e2e and browser tests need the trained model: without ``models/current.tar.gz`` they
are skipped (the reason is printed in the header), except under ``CI=true``, where a
missing model fails them. Tests that reach PostgreSQL through a fixture are marked
``postgres``, so ``-m "not postgres"`` (make check) leaves every one of them out.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis
from sqlalchemy import MetaData, text
from sqlalchemy.engine import Engine, make_url

from bench.databases import DEFAULT_POSTGRES_URL, scratch_database
from bot.settings import PROJECT_ROOT
from bot.store.db import create_db_engine
from bot.store.migrate import upgrade

MODEL = PROJECT_ROOT / "models" / "current.tar.gz"
NEEDS_MODEL = ("e2e", "browser")
# Databases the tests create are named leads_test_<12 hex digits>.
SCRATCH_PREFIX = "leads-test"


def _why_model_tests_skip() -> str | None:
    if os.environ.get("CI") or MODEL.exists():
        return None
    return f"no trained model at {MODEL}: run `make train` (under CI=true they fail instead)"


def pytest_report_header(config: pytest.Config) -> str | None:
    reason = _why_model_tests_skip()
    return f"skipping the e2e and browser tests: {reason}" if reason else None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    reason = _why_model_tests_skip()
    for item in items:
        # Whatever reaches the server through a fixture is a PostgreSQL test (-m "not postgres").
        if "postgres_admin_url" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.postgres)
        if reason and any(item.get_closest_marker(name) for name in NEEDS_MODEL):
            item.add_marker(pytest.mark.skip(reason=reason))


def _postgres_available() -> bool:
    engine = create_db_engine(DEFAULT_POSTGRES_URL, pool_pre_ping=False)
    try:
        with engine.connect():
            return True
    except Exception:
        return False
    finally:
        engine.dispose()


@pytest.fixture(scope="session")
def postgres_admin_url() -> str:
    if not _postgres_available():
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL is not reachable at {DEFAULT_POSTGRES_URL} (required in CI)")
        pytest.skip(f"PostgreSQL is not reachable at {DEFAULT_POSTGRES_URL}")
    return DEFAULT_POSTGRES_URL


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'leads.db'}"


@pytest.fixture
def postgres_url(postgres_admin_url: str) -> Iterator[str]:
    """A fresh, empty PostgreSQL database, dropped afterwards."""
    with scratch_database("postgres", postgres_admin_url, SCRATCH_PREFIX) as url:
        yield url


# Migrating costs 0.1-0.5 s a database, and most tests want a migrated one: the
# migrations run once per session; each test gets a copy of the migrated SQLite file,
# or the migrated PostgreSQL database emptied. postgres_url/sqlite_url stay unmigrated.


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated to head once per session, its WAL folded in (copy, don't open)."""
    path = tmp_path_factory.mktemp("sqlite-template") / "leads.db"
    upgrade(f"sqlite:///{path}")
    connection = sqlite3.connect(path)
    try:
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        connection.close()
    for leftover in (Path(f"{path}-wal"), Path(f"{path}-shm"), Path(f"{path}-journal")):
        leftover.unlink(missing_ok=True)
    return path


@pytest.fixture
def migrated_sqlite_url(sqlite_url: str, sqlite_template: Path) -> str:
    """``sqlite_url`` holding a freshly migrated database (a copy of the session's template)."""
    shutil.copyfile(sqlite_template, make_url(sqlite_url).database or "")
    return sqlite_url


@dataclass(frozen=True)
class _SharedPostgres:
    url: str
    engine: Engine
    # Every table but alembic_version, children before parents.
    tables: tuple[str, ...]


@pytest.fixture(scope="session")
def shared_postgres(postgres_admin_url: str) -> Iterator[_SharedPostgres]:
    """One PostgreSQL database migrated to head for the session (see ``migrated_postgres_url``)."""
    with scratch_database("postgres", postgres_admin_url, SCRATCH_PREFIX) as url:
        upgrade(url)
        engine = create_db_engine(url)
        reflected = MetaData()
        reflected.reflect(engine)
        tables = tuple(
            table.name
            for table in reversed(reflected.sorted_tables)
            if table.name != "alembic_version"
        )
        try:
            yield _SharedPostgres(url, engine, tables)
        finally:
            engine.dispose()


@pytest.fixture
def migrated_postgres_url(shared_postgres: _SharedPostgres) -> str:
    """The session's migrated PostgreSQL database, emptied as if just migrated.

    Connections a previous test left open are ended (as dropping its database did),
    every table is emptied and every sequence restarts, so a test sees what a freshly
    migrated database holds: the schema, and no rows. DELETE, not TRUNCATE: on tables
    this small it is ~50 times faster (TRUNCATE makes and syncs new files per table).
    """
    with shared_postgres.engine.begin() as connection:
        connection.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        )
        for table in shared_postgres.tables:
            connection.execute(text(f'DELETE FROM "{table}"'))
        connection.execute(
            text(
                "SELECT setval(format('%I.%I', schemaname, sequencename)::regclass,"
                " start_value, false) FROM pg_sequences WHERE schemaname = current_schema()"
            )
        )
    return shared_postgres.url


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest) -> str:
    """A migrated database of each supported kind, holding no rows."""
    url: str = request.getfixturevalue(f"migrated_{request.param}_url")
    return url


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = create_db_engine(database_url)
    yield engine
    engine.dispose()


# Redis for the tests marked ``redis``: skipped without a server, failed under CI=true.
TEST_REDIS_URL = "redis://127.0.0.1:6379/0"


@pytest.fixture(scope="session")
def redis_url() -> str:
    """The local Redis's URL, once it answered a ping."""
    client = redis.Redis.from_url(TEST_REDIS_URL, socket_timeout=2, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.RedisError as error:
        message = f"Redis is not reachable at {TEST_REDIS_URL}: {error}"
        if os.environ.get("CI"):
            pytest.fail(f"{message} (required in CI)")
        pytest.skip(message)
    finally:
        client.close()
    return TEST_REDIS_URL


@pytest.fixture
def redis_prefix(redis_url: str) -> Iterator[str]:
    """A key prefix of this test's own; its keys are deleted afterwards."""
    prefix = f"test:{uuid.uuid4().hex}:"
    yield prefix
    client = redis.Redis.from_url(redis_url, socket_timeout=2)
    try:
        leftovers = list(client.scan_iter(match=f"{prefix}*"))
        if leftovers:
            client.delete(*leftovers)
    finally:
        client.close()


@pytest.fixture(scope="session")
def shared_tracker_postgres(postgres_admin_url: str) -> Iterator[str]:
    """One PostgreSQL database for Rasa's SQL tracker store, for the session."""
    with scratch_database("postgres", postgres_admin_url, SCRATCH_PREFIX) as url:
        yield url


@pytest.fixture
def tracker_store_url(database_url: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """Rasa's SQL tracker store on the kind of database the test's lead store is on, empty.

    SQLite: a new file. PostgreSQL: the session's tracker database without its
    ``events`` table, which Rasa's ``SQLTrackerStore`` creates when it opens it (a new
    deployment's tracker store has none yet either).
    """
    if make_url(database_url).get_backend_name() != "postgresql":
        return f"sqlite:///{tmp_path / 'tracker.db'}"
    url: str = request.getfixturevalue("shared_tracker_postgres")
    engine = create_db_engine(url)
    try:
        with engine.begin() as connection:
            connection.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            )
            connection.execute(text("DROP TABLE IF EXISTS events"))
    finally:
        engine.dispose()
    return url
