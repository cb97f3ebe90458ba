"""The store can be down: writes are spooled to disk and replayed, never lost.

Replays write to SQLite and PostgreSQL (``engine``); each database is locked its
own way in the locked-store tests.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from bot.leads import ApplyResult, LeadService
from bot.leads.commands import Command, RecordAnswer, RecordEvent, UpdateContact, decode, encode
from bot.leads.spool import LeadRecorder, Spool
from bot.store.db import create_db_engine
from bot.store.migrate import upgrade

T0 = datetime(2026, 11, 23, 10, 0, tzinfo=timezone.utc)
DOWN_URL = "postgresql+psycopg2://nobody@127.0.0.1:1/nowhere"


def _commands(n: int) -> list:
    return [
        RecordAnswer(
            session_id="s1",
            answer_id=f"m{n}:budget",
            key="budget",
            raw=f"{n}00 euros, my email is jane@example.com",
            value={"amount": Decimal(f"{n}00.50"), "currency": "EUR"},
            status="answered",
            answered_at=T0,
        ),
        RecordEvent(
            session_id="s1",
            event_id=f"e{n}",
            type="question_answered",
            ts=T0,
            value=Decimal("1.10"),
        ),
        UpdateContact(session_id="s1", email="jane@example.com", consent_at=T0),
    ]


@pytest.mark.parametrize("command", _commands(1))
def test_commands_round_trip_through_json(command: object) -> None:
    assert decode(encode(command)) == command  # type: ignore[arg-type]


def test_outage_spools_then_replays_in_order(
    engine: Engine, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    spool = Spool(tmp_path / "spool")
    down = LeadRecorder(LeadService(create_db_engine(DOWN_URL, pool_pre_ping=False)), spool)
    with caplog.at_level(logging.ERROR):
        assert down.record(_commands(1)) is None
        assert down.record(_commands(2)) is None
    assert spool.pending() == 2
    assert "jane@example.com" not in caplog.text
    assert "spooled" in caplog.text

    repository = LeadService(engine)
    up = LeadRecorder(repository, spool)
    assert up.record(_commands(3)) is not None
    assert spool.pending() == 0
    lead = repository.get_lead_by_session("s1")
    assert lead is not None
    history = repository.answer_history(lead["id"], "budget")
    assert [h["value"]["amount"] for h in history] == [
        Decimal("100.50"),
        Decimal("200.50"),
        Decimal("300.50"),
    ]
    assert lead["answers"]["budget"]["value"]["amount"] == Decimal("300.50")


def test_flush_keeps_batches_while_still_down(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool")
    recorder = LeadRecorder(LeadService(create_db_engine(DOWN_URL, pool_pre_ping=False)), spool)
    recorder.record(_commands(1))
    assert recorder.flush() == 0
    assert spool.pending() == 1


def test_replay_twice_writes_once(engine: Engine, tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool")
    spool.append(_commands(1))
    repository = LeadService(engine)
    repository.apply(_commands(1))  # as if a replay had been interrupted after the commit
    assert spool.drain(repository) == 1
    lead = repository.get_lead_by_session("s1")
    assert lead is not None
    assert len(repository.answer_history(lead["id"], "budget")) == 1
    assert len(repository.events(lead["id"])) == 1


def _refused(n: int) -> list:
    # A NULL raw text breaks a NOT NULL constraint: the database refuses the batch.
    return [
        RecordAnswer(
            session_id="s1",
            answer_id=f"bad{n}:budget",
            key="budget",
            raw=None,  # type: ignore[arg-type]
            value=None,
            status="unknown",
            answered_at=T0,
        )
    ]


def test_refused_write_is_kept_aside_and_later_writes_go_on(
    engine: Engine, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    repository = LeadService(engine)
    spool = Spool(tmp_path / "spool")
    recorder = LeadRecorder(repository, spool)
    with caplog.at_level(logging.ERROR):
        assert recorder.record(_refused(1)) is None
    assert (spool.pending(), spool.rejected()) == (0, 1)
    assert "IntegrityError" in caplog.text and "jane" not in caplog.text
    # Nothing is blocked: the next write lands.
    assert recorder.record(_commands(1)) is not None
    lead = repository.get_lead_by_session("s1")
    assert lead is not None and lead["answers"]["budget"]["raw"].startswith("100 euros")
    assert "bad1:budget" in spool.rejected_path.read_text(encoding="utf-8")


def test_refused_spooled_batch_does_not_block_the_ones_after_it(
    engine: Engine, tmp_path: Path
) -> None:
    repository = LeadService(engine)
    spool = Spool(tmp_path / "spool")
    # Spooled during an outage: a good batch, one the database will refuse, a good one.
    spool.append(_commands(1))
    spool.append(_refused(2))
    spool.append(_commands(3))
    assert LeadRecorder(repository, spool).flush() == 2
    assert (spool.pending(), spool.rejected()) == (0, 1)
    lead = repository.get_lead_by_session("s1")
    assert lead is not None
    history = repository.answer_history(lead["id"], "budget")
    assert [item["raw"][:9] for item in history] == ["100 euros", "300 euros"]


# A locked store: another process holds SQLite's write lock (``BEGIN EXCLUSIVE``).
WAIT = 0.5
# Far above WAIT, far below SQLite's 30 s busy timeout the writes used to wait.
PROMPT = 5.0


@pytest.fixture
def locked_store(tmp_path: Path) -> Iterator[tuple[str, sqlite3.Connection]]:
    """A migrated SQLite store and a second connection ready to lock it."""
    url = f"sqlite:///{tmp_path / 'leads.db'}"
    upgrade(url)
    holder = sqlite3.connect(tmp_path / "leads.db", isolation_level=None, timeout=0)
    try:
        yield url, holder
    finally:
        holder.close()


def _answer(session: str, n: int) -> list:
    return [
        RecordAnswer(
            session_id=session,
            answer_id=f"{session}:m{n}:budget",
            key="budget",
            raw=f"{n}00 euros",
            value={"amount": Decimal(f"{n}00"), "currency": "EUR"},
            status="answered",
            answered_at=T0,
        )
    ]


def test_a_locked_store_spools_the_write_within_the_wait(
    locked_store: tuple[str, sqlite3.Connection], tmp_path: Path
) -> None:
    url, holder = locked_store
    repository = LeadService(create_db_engine(url, lock_wait=WAIT))
    recorder = LeadRecorder(repository, Spool(tmp_path / "spool"))
    holder.execute("BEGIN EXCLUSIVE")
    started = time.monotonic()
    assert recorder.record(_answer("s1", 1)) is None
    assert time.monotonic() - started < PROMPT
    assert recorder.spool.pending() == 1
    holder.execute("COMMIT")
    assert recorder.flush() == 1
    lead = repository.get_lead_by_session("s1")
    assert lead is not None and lead["answers"]["budget"]["raw"] == "100 euros"


def test_writes_of_different_shoppers_do_not_queue_behind_each_other(
    locked_store: tuple[str, sqlite3.Connection], tmp_path: Path
) -> None:
    url, holder = locked_store
    recorder = LeadRecorder(
        LeadService(create_db_engine(url, lock_wait=WAIT)), Spool(tmp_path / "spool")
    )
    shoppers = [f"shopper-{index}" for index in range(12)]

    def timed_write(session: str) -> float:
        started = time.monotonic()
        assert recorder.record(_answer(session, 1)) is None
        return time.monotonic() - started

    holder.execute("BEGIN EXCLUSIVE")
    try:
        with ThreadPoolExecutor(len(shoppers)) as pool:
            waits = list(pool.map(timed_write, shoppers))
    finally:
        holder.execute("COMMIT")
    # One after the other, the last would have waited 12 times WAIT, 6 s.
    assert max(waits) < PROMPT
    assert recorder.spool.pending() == len(shoppers)
    assert recorder.flush() == len(shoppers)


def test_a_session_s_later_write_does_not_overtake_its_spooled_ones(
    locked_store: tuple[str, sqlite3.Connection], tmp_path: Path
) -> None:
    url, holder = locked_store
    repository = LeadService(create_db_engine(url, lock_wait=WAIT))
    # Tries the store on every write, so the third write finds it free again.
    recorder = LeadRecorder(repository, Spool(tmp_path / "spool"), retry_after=0)
    holder.execute("BEGIN EXCLUSIVE")
    assert recorder.record(_answer("s1", 1)) is None
    assert recorder.record(_answer("s1", 2)) is None
    holder.execute("COMMIT")
    # The store is back: the spooled answers are written first, then this one.
    result = recorder.record(_answer("s1", 3))
    assert result is not None  # written, not spooled
    assert recorder.spool.pending() == 0
    lead = repository.get_lead_by_session("s1")
    assert lead is not None
    history = repository.answer_history(lead["id"], "budget")
    assert [item["raw"] for item in history] == ["100 euros", "200 euros", "300 euros"]
    assert lead["answers"]["budget"]["raw"] == "300 euros"


def test_once_the_store_was_found_locked_the_next_writes_spool_without_waiting(
    locked_store: tuple[str, sqlite3.Connection], tmp_path: Path
) -> None:
    url, holder = locked_store
    tried: list[str] = []

    class Counting(LeadService):
        def apply(self, commands: Sequence[Command], *, now: datetime | None = None) -> ApplyResult:
            tried.append(commands[0].session_id)
            return super().apply(commands, now=now)

    repository = Counting(create_db_engine(url, lock_wait=WAIT))
    recorder = LeadRecorder(repository, Spool(tmp_path / "spool"), retry_after=3600)
    holder.execute("BEGIN EXCLUSIVE")
    # A chat turn makes several writes: only the first waits for the locked store.
    for session in ("s1", "s2", "s3"):
        assert recorder.record(_answer(session, 1)) is None
    holder.execute("COMMIT")
    assert tried == ["s1"]
    assert recorder.spool.pending() == 3
    assert recorder.flush() == 3
    assert repository.get_lead_by_session("s3") is not None


def test_a_batch_spooled_while_the_spool_drains_is_kept_and_not_held_up(
    engine: Engine, tmp_path: Path
) -> None:
    repository = LeadService(engine)
    spool = Spool(tmp_path / "spool")
    spool.append(_answer("s1", 1))
    appended = threading.Event()

    class AppendsMeanwhile(LeadService):
        def apply(self, commands: Sequence[Command], *, now: datetime | None = None) -> ApplyResult:
            # Another shopper's write is spooled while this batch is being replayed.
            writer = threading.Thread(
                target=lambda: (spool.append(_answer("s2", 1)), appended.set())
            )
            writer.start()
            writer.join(timeout=PROMPT)
            return repository.apply(commands, now=now)

    assert spool.drain(AppendsMeanwhile(repository.engine)) == 1
    assert appended.is_set()  # the append did not wait for the replay to end
    assert spool.pending() == 1  # and the rewrite after the replay kept it
    assert spool.drain(repository) == 1
    assert repository.get_lead_by_session("s2") is not None


def test_a_locked_postgresql_store_spools_the_write_within_the_wait(
    migrated_postgres_url: str, tmp_path: Path
) -> None:
    engine = create_db_engine(migrated_postgres_url, lock_wait=WAIT)
    recorder = LeadRecorder(LeadService(engine), Spool(tmp_path / "spool"))
    holder = create_db_engine(migrated_postgres_url)
    try:
        with holder.begin() as connection:
            connection.exec_driver_sql("LOCK TABLE leads IN EXCLUSIVE MODE")
            started = time.monotonic()
            assert recorder.record(_answer("s1", 1)) is None
            assert time.monotonic() - started < PROMPT
        assert recorder.flush() == 1
    finally:
        holder.dispose()
        engine.dispose()
