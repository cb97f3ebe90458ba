"""The store can be down: writes are spooled to disk and replayed, never lost."""

from __future__ import annotations

import logging
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path

import pytest

from bot.store.commands import RecordAnswer, RecordEvent, UpdateContact, decode, encode
from bot.store.db import create_db_engine
from bot.store.migrate import upgrade
from bot.store.repository import LeadRepository
from bot.store.spool import LeadRecorder, Spool

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
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    spool = Spool(tmp_path / "spool")
    down = LeadRecorder(LeadRepository(create_db_engine(DOWN_URL, pool_pre_ping=False)), spool)
    with caplog.at_level(logging.ERROR):
        assert down.record(_commands(1)) is None
        assert down.record(_commands(2)) is None
    assert spool.pending() == 2
    assert "jane@example.com" not in caplog.text
    assert "spooled" in caplog.text

    url = f"sqlite:///{tmp_path / 'leads.db'}"
    upgrade(url)
    repository = LeadRepository(create_db_engine(url))
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
    recorder = LeadRecorder(LeadRepository(create_db_engine(DOWN_URL, pool_pre_ping=False)), spool)
    recorder.record(_commands(1))
    assert recorder.flush() == 0
    assert spool.pending() == 1


def test_replay_twice_writes_once(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool")
    spool.append(_commands(1))
    url = f"sqlite:///{tmp_path / 'leads.db'}"
    upgrade(url)
    repository = LeadRepository(create_db_engine(url))
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
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    url = f"sqlite:///{tmp_path / 'leads.db'}"
    upgrade(url)
    repository = LeadRepository(create_db_engine(url))
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


def test_refused_spooled_batch_does_not_block_the_ones_after_it(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'leads.db'}"
    upgrade(url)
    repository = LeadRepository(create_db_engine(url))
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
