"""Reconcile: the consumer's events squared with Rasa's tracker store over a time range."""

from __future__ import annotations

import json
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest
from sqlalchemy import delete
from sqlalchemy.engine import Engine

from bot.cli import main
from bot.conversations.keys import from_body
from bot.conversations.reconcile import EndpointsError, reconcile, tracker_url_from_endpoints
from bot.conversations.repository import EVENTS, ConversationEvents
from bot.store.tracker import ConversationStore
from tests.conversations.rasa_paths import live_turns, shopper_turn, tracker_store

NOW = datetime.now(timezone.utc)


def parsed(bodies: list[dict]) -> list:
    return [from_body(json.dumps(body)) for body in bodies]


async def _scene(tmp_path: Path, engine: Engine) -> tuple[ConversationStore, ConversationEvents]:
    """Three conversations; the consumer lacks 3 events, never got 1 turn, and has 1 orphan."""
    path = tmp_path / "tracker.db"
    live = await live_turns(
        path,
        {
            "shopper-1": [shopper_turn(1), shopper_turn(2)],
            "shopper-2": [shopper_turn(3)],
            "shopper-3": [shopper_turn(4)],
        },
    )
    # A turn the tracker store committed but no broker carried (the Rasa process died
    # holding it).
    quiet = tracker_store(path, None)
    tracker = await quiet.get_or_create_tracker("shopper-3")
    for event in shopper_turn(5):
        tracker.update(event)
    await quiet.save(tracker)
    store = ConversationEvents(engine)
    # Published, then the turn failed before the tracker store's commit.
    orphan = {**live.published[0], "event": "bot", "text": "never committed"}
    store.write(parsed([*live.published, orphan]), now=NOW)
    lost = [event.dedup_key for event in parsed(live.published)[2:5]]
    with engine.begin() as connection:
        connection.execute(delete(EVENTS).where(EVENTS.c.dedup_key.in_(lost)))
    return ConversationStore(f"sqlite:///{path}"), store


async def test_reconcile_fills_the_gaps_and_marks_the_orphan(tmp_path: Path, engine: Engine):
    tracker, store = await _scene(tmp_path, engine)
    before = store.rollup("shopper-1")

    result = reconcile(
        tracker, store, 0, time.time() + 60, now=datetime.now(timezone.utc), settle_seconds=0
    )

    # 1 + 10 + 1 + 5 + 1 + 5 + 5 events in the tracker store; 3 deleted + 5 never sent.
    assert (result.tracker_events, result.filled, result.orphaned) == (28, 8, 1)
    assert result.stored_events == 28 - 8 + 1
    assert store.counts() == {"events": 29, "orphaned": 1, "conversations": 3, "dead_letters": 0}
    rows = store.conversation("shopper-1")
    assert [row["source"] for row in rows].count("tracker") == 3
    assert sum(1 for row in rows if row["orphaned_at"] is not None) == 1
    after = store.rollup("shopper-1")
    assert before is not None and after is not None
    # The orphan (a bot message) left the rollup; the filled events joined it.
    assert (before["events"], before["bot_messages"]) == (12, 3)
    assert (after["events"], after["bot_messages"]) == (11, 2)
    assert store.rollup("shopper-3")["events"] == 11

    again = reconcile(
        tracker, store, 0, time.time() + 60, now=datetime.now(timezone.utc), settle_seconds=0
    )
    assert (again.filled, again.orphaned, again.restored) == (0, 0, 0)


async def test_events_younger_than_the_settle_time_are_never_orphans(
    tmp_path: Path, engine: Engine
):
    tracker, store = await _scene(tmp_path, engine)

    result = reconcile(
        tracker, store, 0, time.time() + 60, now=datetime.now(timezone.utc), settle_seconds=3600
    )

    assert (result.filled, result.orphaned) == (8, 0)


async def test_reconcile_reads_only_its_range(tmp_path: Path, engine: Engine):
    tracker, store = await _scene(tmp_path, engine)

    result = reconcile(
        tracker, store, 0, 1_000_000, now=datetime.now(timezone.utc), settle_seconds=0
    )

    assert (result.tracker_events, result.filled, result.orphaned) == (0, 0, 0)


async def test_the_command_prints_its_counts(
    tmp_path: Path,
    migrated_sqlite_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
):
    from bot.store.db import create_db_engine

    engine = create_db_engine(migrated_sqlite_url)
    try:
        await _scene(tmp_path, engine)
    finally:
        engine.dispose()
    monkeypatch.setenv("DATABASE_URL", migrated_sqlite_url)
    monkeypatch.setenv("TRACKER_STORE_URL", f"sqlite:///{tmp_path / 'tracker.db'}")

    status = main(
        ["events", "reconcile", "--since", "2020-01-01T00:00:00Z", "--settle-seconds", "0"]
    )

    out = capsys.readouterr().out
    assert status == 0
    assert "filled from the tracker store: 8" in out
    assert "marked orphaned: 1" in out


# One case per bad argument; the message names the argument.
@pytest.mark.parametrize(
    ("arguments", "named"),
    [
        (["--since", "yesterday"], "argument --since"),
        (["--since", "-5"], "argument --since"),
        (["--since", "2026-12-07", "--until", "2026-12-01"], "argument --until"),
        (["--since", "100", "--settle-seconds", "soon"], "argument --settle-seconds"),
        ([], "--since"),
    ],
)
def test_bad_arguments_exit_2_naming_the_argument(
    arguments: list[str], named: str, capsys: pytest.CaptureFixture[str]
):
    with pytest.raises(SystemExit) as exit_info:
        main(["events", "reconcile", *arguments])

    assert exit_info.value.code == 2
    assert named in capsys.readouterr().err


def test_an_endpoints_file_with_an_unset_variable_names_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
):
    endpoints = tmp_path / "endpoints.yml"
    endpoints.write_text("tracker_store:\n  type: SQL\n  url: ${NO_SUCH_TRACKER_URL}\n")
    monkeypatch.delenv("NO_SUCH_TRACKER_URL", raising=False)

    status = main(["events", "reconcile", "--since", "0", "--endpoints", str(endpoints)])

    assert status == 2
    assert "NO_SUCH_TRACKER_URL is not set" in capsys.readouterr().err


# One case per way endpoints name the SQL tracker store.
@pytest.mark.parametrize(
    ("section", "url"),
    [
        ("type: SQL\n  url: ${TRACKER}", "postgresql://rasa:pw@db:5432/rasa"),
        ("type: sql\n  dialect: sqlite\n  db: /tmp/rasa.db", "sqlite:////tmp/rasa.db"),
        (
            "type: SQL\n  dialect: postgresql\n  url: db.internal\n  port: '5433'\n"
            "  db: tracker\n  username: rasa\n  password: s3cret",
            "postgresql://rasa:s3cret@db.internal:5433/tracker",
        ),
    ],
)
def test_the_tracker_store_url_comes_from_the_endpoints_file(
    tmp_path: Path, section: str, url: str
):
    endpoints = tmp_path / "endpoints.yml"
    endpoints.write_text(f"tracker_store:\n  {section}\n")

    assert (
        tracker_url_from_endpoints(endpoints, {"TRACKER": "postgresql://rasa:pw@db:5432/rasa"})
        == url
    )


def test_an_endpoints_file_without_a_sql_tracker_store_is_refused(tmp_path: Path):
    endpoints = tmp_path / "endpoints.yml"
    endpoints.write_text("tracker_store:\n  type: redis\n")

    with pytest.raises(EndpointsError, match=r"tracker_store\.type must be SQL"):
        tracker_url_from_endpoints(endpoints, {})
