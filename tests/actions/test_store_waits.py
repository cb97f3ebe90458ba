"""A locked lead store holds no conversation: turns spool their writes after a short wait."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from rasa_sdk.executor import CollectingDispatcher

import actions.common
from actions.qualification import ValidateQualificationForm
from bot.assistant import Assistant
from tests.actions.conftest import make_tracker
from tests.actions.test_lead_actions import DOMAIN

WAIT_MS = 500
# Far above the wait, far below SQLite's 30 s busy timeout each write used to
# wait; the turns share one event loop, so a turn also waits for the others'
# reading of answers (a second or two on two busy cores).
PROMPT = 10.0
SHOPPERS = 12


@pytest.fixture
def impatient(helper: Assistant, monkeypatch: pytest.MonkeyPatch) -> Assistant:
    """The actions' assistant with a short store wait (same store as ``helper``)."""
    monkeypatch.setenv("ACTIONS_STORE_WAIT_MS", str(WAIT_MS))
    actions.common.assistant.cache_clear()
    return actions.common.assistant()


@pytest.fixture
def store_lock(tmp_path: Path) -> Iterator[sqlite3.Connection]:
    """A second connection to the lead store, as another process would hold it."""
    connection = sqlite3.connect(tmp_path / "leads.db", isolation_level=None, timeout=0)
    yield connection
    connection.close()


async def _turn(sender: str) -> float:
    started = time.monotonic()
    dispatcher = CollectingDispatcher()
    events = await ValidateQualificationForm().run(
        dispatcher,
        make_tracker(
            "around 300 bucks", requested="budget", sender=sender, message_id=f"{sender}:1"
        ),
        DOMAIN,
    )
    assert any(event.get("name") == "budget" for event in events)  # the conversation goes on
    return time.monotonic() - started


async def test_turns_of_many_shoppers_spool_their_answers_while_the_store_is_locked(
    impatient: Assistant, store_lock: sqlite3.Connection
) -> None:
    senders = [f"shopper-{index}" for index in range(SHOPPERS)]
    await _turn("warm-up")  # lazy loading (date parser, catalog index) out of the timings
    store_lock.execute("BEGIN EXCLUSIVE")
    try:
        # Bounded either way: the old code held each turn up to SQLite's 30 s timeout.
        durations = await asyncio.wait_for(
            asyncio.gather(*(_turn(sender) for sender in senders)), timeout=3 * PROMPT
        )
    finally:
        store_lock.execute("COMMIT")
    assert max(durations) < PROMPT, durations
    assert impatient.recorder.spool.pending() == SHOPPERS
    # Nothing acknowledged is lost: the answers reach the store once it is free.
    assert impatient.recorder.flush() == SHOPPERS
    for sender in senders:
        lead = impatient.recorder.repository.get_lead_by_session(sender)
        assert lead is not None and lead["answers"]["budget"]["raw"] == "around 300 bucks"


async def test_a_turn_reads_no_lead_state_rather_than_waiting(
    impatient: Assistant, store_lock: sqlite3.Connection
) -> None:
    await _turn("shopper-1")
    # In WAL mode a writer never blocks readers; with a rollback journal it does.
    impatient.recorder.repository.engine.dispose()
    assert store_lock.execute("PRAGMA journal_mode=DELETE").fetchone() == ("delete",)
    store_lock.execute("BEGIN EXCLUSIVE")
    try:
        started = time.monotonic()
        assert await impatient.lead_state("shopper-1") is None
        assert time.monotonic() - started < PROMPT
    finally:
        store_lock.execute("COMMIT")
    assert await impatient.lead_state("shopper-1") is not None
