"""Throwaway databases (``bench.databases.scratch_database``): new and empty, then gone."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import inspect, text
from sqlalchemy.engine import make_url

from bench.databases import scratch_database
from bot.store.db import create_db_engine


def test_scratch_sqlite_database_is_a_file_removed_afterwards() -> None:
    with scratch_database("sqlite", "", "scratch-test") as url:
        path = Path(make_url(url).database or "")
        assert path.parent.name.startswith("scratch-test-")
        engine = create_db_engine(url)
        try:
            assert inspect(engine).get_table_names() == []
        finally:
            engine.dispose()
    assert not path.parent.exists()


def test_scratch_postgres_database_is_new_and_dropped_afterwards(postgres_admin_url: str) -> None:
    with scratch_database("postgres", postgres_admin_url, "scratch-test") as url:
        name = make_url(url).database or ""
        assert name.startswith("scratch_test_")
        engine = create_db_engine(url)
        assert inspect(engine).get_table_names() == []
        # A connection left open does not stop the drop: it is ended.
        left_open = engine.connect()
    left_open.invalidate()
    engine.dispose()
    admin = create_db_engine(postgres_admin_url)
    try:
        with admin.connect() as connection:
            found = connection.execute(
                text("SELECT count(*) FROM pg_database WHERE datname = :name"), {"name": name}
            ).scalar_one()
    finally:
        admin.dispose()
    assert found == 0
