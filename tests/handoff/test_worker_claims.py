"""Several outbox workers on one PostgreSQL database: each timer and escalation acts once.

Each web app runs a worker that fires due "no follow-up" timers and escalates
overdue handoffs. Here two workers are two threads with a connection each on the
same migrated PostgreSQL database. A worker holding its rows must not make the
other wait (``SKIP LOCKED``: ``lock_timeout`` turns a wait into an error), and
workers racing in small batches must fire and escalate every row exactly once.
Two workers hearing 410 Gone from one channel both record their results.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import func, insert, select, text
from sqlalchemy.engine import Connection, Engine

from bot.handoff.channels import Outcome
from bot.handoff.config import Channel, HandoffConfig, load_handoff_config
from bot.handoff.outbox import Attempted, OutboxStore
from bot.handoff.planner import HandoffPlanner, PlannerStats
from bot.leads import LeadService
from bot.leads.commands import RecordEvent
from bot.scoring import scorer_for
from bot.settings import Settings
from bot.store.db import create_db_engine
from bot.store.models import ChannelState, Handoff, HandoffTimer, HandoffTrigger, OutboxMessage
from tests.handoff import HANDOFF_CONFIG
from tests.scoring import SCORING_CONFIG

MON = datetime(2026, 11, 23, 10, 0, tzinfo=timezone.utc)  # Monday 11:00 in Paris: open
SECRET = "whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYX"
CHANNELS = (
    Channel("crm", "webhook", url="https://crm.example/hooks", secrets=(SECRET,)),
    Channel("sales-slack", "slack", url="https://hooks.slack.example/T/B/X"),
)
LEADS = 60
BATCH = 10

Duty = Callable[[HandoffPlanner, Connection, datetime, int], PlannerStats]


def fire(
    planner: HandoffPlanner, connection: Connection, now: datetime, limit: int
) -> PlannerStats:
    return planner.fire_due_timers(connection, now, limit)


def escalate(
    planner: HandoffPlanner, connection: Connection, now: datetime, limit: int
) -> PlannerStats:
    return planner.escalate_overdue(connection, now, limit)


@pytest.fixture
def engine(migrated_postgres_url: str) -> Iterator[Engine]:
    engine = create_db_engine(migrated_postgres_url)
    yield engine
    engine.dispose()


@pytest.fixture
def config() -> HandoffConfig:
    config = load_handoff_config(HANDOFF_CONFIG, environ={})
    for channel in CHANNELS:
        config = config.with_channel(channel)
    return config


def planner(config: HandoffConfig) -> HandoffPlanner:
    return HandoffPlanner(config, public_url="https://leads.shop.example", signing_key=b"k" * 32)


def shoppers(engine: Engine, config: HandoffConfig, kind: str, how_many: int = LEADS) -> None:
    """``how_many`` shoppers each sending ``kind`` at ``MON``."""
    service = LeadService(
        engine, scorer_for(Settings(scoring_config_path=SCORING_CONFIG)), planner(config)
    )
    service.apply(
        [
            RecordEvent(
                session_id=f"shopper-{n}",
                event_id=f"shopper-{n}-{kind}",
                type=kind,
                ts=MON,
                source="storefront",
            )
            for n in range(how_many)
        ],
        now=MON,
    )


def count(engine: Engine, model: Any, *where: Any) -> int:
    table = model.__table__
    with engine.connect() as connection:
        return int(
            connection.execute(select(func.count()).select_from(table).where(*where)).one()[0]
        )


def no_waiting(connection: Connection) -> None:
    # A worker that would wait for another's row lock fails instead of hanging the test.
    connection.execute(text("SET LOCAL lock_timeout = '5s'"))


def hold_and_race(
    engine: Engine, config: HandoffConfig, duty: Duty, now: datetime
) -> tuple[PlannerStats, PlannerStats, PlannerStats]:
    """A runs ``duty`` and keeps its transaction open while B runs it; then B runs again.

    Returns A's stats, B's while A held its rows, and B's after A committed.
    """
    holding, release = threading.Event(), threading.Event()
    found: dict[str, PlannerStats] = {}
    failures: list[BaseException] = []

    def first() -> None:
        try:
            with engine.begin() as connection:
                found["a"] = duty(planner(config), connection, now, 500)
                holding.set()
                assert release.wait(60), "the test never released the first worker"
        except BaseException as error:
            failures.append(error)
            holding.set()

    worker = threading.Thread(target=first)
    worker.start()
    try:
        assert holding.wait(60), "the first worker never ran"
        assert not failures, failures
        with engine.begin() as connection:
            no_waiting(connection)
            while_held = duty(planner(config), connection, now, 500)
    finally:
        release.set()
        worker.join(60)
    assert not worker.is_alive()
    assert not failures, failures
    with engine.begin() as connection:
        no_waiting(connection)
        after = duty(planner(config), connection, now, 500)
    return found["a"], while_held, after


def race(engine: Engine, config: HandoffConfig, duty: Duty, now: datetime) -> list[PlannerStats]:
    """Two workers run ``duty`` in batches of ``BATCH`` until neither finds anything."""
    start = threading.Barrier(2)
    passes: list[PlannerStats] = []
    failures: list[BaseException] = []

    def work() -> None:
        worker = planner(config)
        try:
            start.wait(60)
            for _ in range(LEADS):  # each pass takes at least one row, or ends the loop
                with engine.begin() as connection:
                    stats = duty(worker, connection, now, BATCH)
                passes.append(stats)
                if not stats.handoffs and not stats.fired:
                    break
        except BaseException as error:
            failures.append(error)

    threads = [threading.Thread(target=work) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(300)
    assert not any(thread.is_alive() for thread in threads)
    assert not failures, failures
    return passes


def test_a_timer_held_by_one_worker_is_skipped_by_the_other(
    engine: Engine, config: HandoffConfig
) -> None:
    shoppers(engine, config, "checkout_start")
    assert count(engine, HandoffTimer) == LEADS

    a, while_held, after = hold_and_race(engine, config, fire, MON + timedelta(minutes=31))

    assert (a.fired, len(set(a.handoffs))) == (LEADS, LEADS)
    assert (while_held.fired, while_held.handoffs) == (0, [])
    assert (after.fired, after.handoffs) == (0, [])
    assert count(engine, HandoffTimer) == 0
    assert count(engine, Handoff) == LEADS
    assert count(engine, OutboxMessage) == LEADS * len(CHANNELS)


def test_two_workers_fire_each_due_timer_once(engine: Engine, config: HandoffConfig) -> None:
    shoppers(engine, config, "checkout_start")

    passes = race(engine, config, fire, MON + timedelta(minutes=31))

    fired = [handoff for stats in passes for handoff in stats.handoffs]
    assert sum(stats.fired for stats in passes) == LEADS
    assert len(fired) == len(set(fired)) == LEADS
    assert count(engine, HandoffTimer) == 0
    assert count(engine, Handoff) == LEADS
    assert count(engine, HandoffTrigger, HandoffTrigger.trigger == "checkout_hesitation") == LEADS
    assert count(engine, OutboxMessage) == LEADS * len(CHANNELS)
    with engine.connect() as connection:
        per_lead = connection.execute(
            select(Handoff.lead_id, func.count()).group_by(Handoff.lead_id)
        ).all()
    assert {n for _, n in per_lead} == {1}


def test_an_overdue_handoff_held_by_one_worker_is_skipped_by_the_other(
    engine: Engine, config: HandoffConfig
) -> None:
    shoppers(engine, config, "human_requested")
    assert count(engine, Handoff) == LEADS

    a, while_held, after = hold_and_race(engine, config, escalate, MON + timedelta(days=1))

    assert (a.escalated, len(set(a.handoffs))) == (LEADS, LEADS)
    assert (while_held.escalated, after.escalated) == (0, 0)
    assert count(engine, Handoff, Handoff.escalated_at.is_not(None)) == LEADS
    escalations = OutboxMessage.kind == "lead.handoff.escalated"
    assert count(engine, OutboxMessage, escalations) == LEADS * len(CHANNELS)


def test_two_workers_escalate_each_overdue_handoff_once(
    engine: Engine, config: HandoffConfig
) -> None:
    shoppers(engine, config, "human_requested")

    passes = race(engine, config, escalate, MON + timedelta(days=1))

    escalated = [handoff for stats in passes for handoff in stats.handoffs]
    assert sum(stats.escalated for stats in passes) == LEADS
    assert len(escalated) == len(set(escalated)) == LEADS
    escalations = OutboxMessage.kind == "lead.handoff.escalated"
    assert count(engine, OutboxMessage, escalations) == LEADS * len(CHANNELS)
    with engine.connect() as connection:
        per_handoff = connection.execute(
            select(OutboxMessage.handoff_id, func.count())
            .where(escalations)
            .group_by(OutboxMessage.handoff_id)
        ).all()
    assert {n for _, n in per_handoff} == {len(CHANNELS)}


def test_two_workers_hearing_410_from_one_channel_both_record_it(
    engine: Engine, config: HandoffConfig
) -> None:
    shoppers(engine, config, "human_requested", how_many=1)
    store = OutboxStore(engine, config.delivery)
    [message] = [m for m in store.claim(10, MON) if m.channel == "crm"]
    gone = Attempted(message, Outcome(False, 410, "410 Gone", gone=True), MON, 5)
    failures: list[BaseException] = []

    def record() -> None:
        try:
            store.record([gone], MON)
        except BaseException as error:
            failures.append(error)

    # Another worker heard 410 from the same channel and is disabling it, not yet committed.
    with engine.begin() as other:
        other.execute(
            insert(ChannelState.__table__).values(channel="crm", disabled_at=MON, reason="410")
        )
        worker = threading.Thread(target=record)
        worker.start()
        for _ in range(2000):  # until this worker waits for the other's row
            if not worker.is_alive() or waiting_for_a_lock(engine):
                break
            time.sleep(0.01)
        assert waiting_for_a_lock(engine)
    worker.join(60)
    assert not worker.is_alive()
    assert failures == []
    [stored] = [m for m in store.messages() if m["message_id"] == message.message_id]
    assert (stored["status"], [e["outcome"] for e in stored["log"]]) == ("dead", ["disabled"])
    assert list(store.disabled_channels()) == ["crm"]


def waiting_for_a_lock(engine: Engine) -> bool:
    with engine.connect() as connection:
        return bool(
            connection.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                    " AND wait_event_type = 'Lock'"
                )
            ).scalar()
        )
