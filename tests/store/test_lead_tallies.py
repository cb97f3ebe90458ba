"""The counts triggers keep (migration 0008) always equal a recount of the leads.

Random writes of every kind the product makes — new leads, score and stage
changes, statuses, conversions, first chats, merges, deletes, handoffs opened,
moved and deleted, several rows per statement — then ``lead_counts`` and
``lead_hours`` must hold exactly what counting the leads gives.
"""

from __future__ import annotations

import importlib.util
import random
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.engine import Connection, Engine

from bot.store import reports
from bot.store.db import create_db_engine
from bot.store.merge import merge_into
from bot.store.migrate import downgrade, upgrade
from bot.store.models import Handoff, Lead, LeadCount, LeadEvent, LeadHour, LeadHourReason

START = datetime(2026, 3, 28, 20, tzinfo=timezone.utc)
MIGRATION = Path("bot/store/migrations/versions/0008_lead_tallies.py")
STATUSES = ("New", "Contacted", "Qualified", "Proposal Sent", "Won", "Lost")
RULES = ("added to cart", "asked price", "timeline soon", None)


def _migration() -> Any:
    spec = importlib.util.spec_from_file_location("lead_tallies_0008", MIGRATION)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_migration_counts_what_the_dashboard_means() -> None:
    """The frozen definitions of the triggers are the dashboard's current ones."""
    migration = _migration()
    assert list(migration.BAND_FLOORS) == [low for _, low in reversed(reports.SCORE_BANDS[1:])]
    assert reports.SCORE_BANDS[0][1] == 0
    assert set(migration.QUALIFIED_STATUSES) == set(reports.QUALIFIED_STATUSES)
    assert set(migration.QUALIFIED_LIFECYCLES) == set(reports.QUALIFIED_LIFECYCLES)
    assert migration.WON_STATUS == reports.WON_STATUS


def _band(score: int) -> int:
    return max(low for _, low in reports.SCORE_BANDS if score >= low or low == 0)


Tallies = tuple[Counter[Any], dict[Any, list[int]], dict[Any, list[int]]]


def _expected(connection: Connection) -> Tallies:
    """The three tables as counting the unmerged leads gives them (rows of zeros left out)."""
    leads = connection.execute(select(Lead.__table__).where(Lead.merged_into.is_(None))).all()
    handed = {row[0] for row in connection.execute(select(Handoff.lead_id))}
    counts: Counter[Any] = Counter()
    hours: dict[Any, list[int]] = {}
    reasons: dict[Any, list[int]] = {}
    for lead in leads:
        counts[(lead.stage, lead.status, lead.source.lower())] += 1
        hot = lead.stage == "hot"
        won = lead.status == reports.WON_STATUS or lead.converted_at is not None
        qualified = (
            hot
            or lead.status in reports.QUALIFIED_STATUSES
            or lead.lifecycle_stage in reports.QUALIFIED_LIFECYCLES
            or lead.converted_at is not None
        )
        hour = lead.created_at.replace(minute=0, second=0, microsecond=0)
        flags = (1, lead.chatted_at is not None, qualified, won, lead.id in handed)
        row = hours.setdefault((hour, lead.stage, _band(lead.score)), [0] * len(flags))
        for index, flag in enumerate(flags):
            row[index] += int(flag)
        first = (lead.reasons or [{}])[0]
        if hot and first.get("rule"):
            reason = reasons.setdefault((hour, first["rule"]), [0, 0])
            reason[0] += 1
            reason[1] += int(first.get("points") or 0)
    return counts, hours, reasons


def _stored(connection: Connection) -> Tallies:
    counts: Counter[Any] = Counter()
    for row in connection.execute(select(LeadCount.__table__)):
        if row.leads:
            counts[(row.stage, row.status, row.source)] = row.leads
    hours = {
        (row.hour, row.stage, row.band): [
            row.leads,
            row.chatted,
            row.qualified,
            row.won,
            row.handed,
        ]
        for row in connection.execute(select(LeadHour.__table__))
        if any((row.leads, row.chatted, row.qualified, row.won, row.handed))
    }
    reasons = {
        (row.hour, row.rule): [row.leads, row.points]
        for row in connection.execute(select(LeadHourReason.__table__))
        if row.leads or row.points
    }
    return counts, hours, reasons


def _open_due(connection: Connection) -> tuple[dict[str, Any], dict[str, Any]]:
    """Each lead's soonest open-handoff due time: as stored, and as recounted."""
    stored = dict(
        connection.execute(
            select(Lead.id, Lead.open_due_at).where(Lead.open_due_at.is_not(None))
        ).all()
    )
    expected: dict[str, Any] = {}
    for lead_id, due in connection.execute(
        select(Handoff.lead_id, Handoff.due_at).where(Handoff.status == "open")
    ):
        expected[lead_id] = min(due, expected.get(lead_id, due))
    return stored, expected


def _assert_in_step(engine: Engine) -> None:
    with engine.connect() as connection:
        expected = _expected(connection)
        stored = _stored(connection)
        stored_due, expected_due = _open_due(connection)
    assert stored_due == expected_due
    assert stored == expected


def _lead(rng: random.Random, number: int) -> dict[str, Any]:
    created = START + timedelta(minutes=rng.randint(0, 60 * 24 * 3))
    return {
        "id": f"lead{number:04d}",
        "session_id": f"session{number:04d}",
        "source": rng.choice(("chat", "Storefront", "web_form", "Trade Show")),
        "status": rng.choice(STATUSES),
        "stage": rng.choice(("cold", "warm", "hot")),
        "score": rng.randint(0, 100),
        "reasons": _reasons(rng),
        "created_at": created,
        "updated_at": created,
    }


def _reasons(rng: random.Random) -> list[dict[str, Any]]:
    rule = rng.choice(RULES)
    if rule is None:
        return []
    return [{"rule": rule, "points": rng.randint(1, 40)}, {"rule": "other", "points": 1}]


def _write_randomly(engine: Engine, seed: int) -> None:
    rng = random.Random(seed)
    leads = Lead.__table__
    handoffs = Handoff.__table__
    ids: list[str] = []
    number = 0
    for _ in range(60):
        with engine.begin() as connection:
            action = rng.choice(
                (
                    "insert",
                    "insert",
                    "update",
                    "update",
                    "update",
                    "merge",
                    "delete",
                    "handoff",
                    "handoff",
                    "move",
                    "unhand",
                    "acknowledge",
                    "postpone",
                )
            )
            if action == "insert" or not ids:
                batch = [_lead(rng, number + offset) for offset in range(rng.randint(1, 4))]
                number += len(batch)
                connection.execute(leads.insert(), batch)
                ids += [row["id"] for row in batch]
                continue
            lead_id = rng.choice(ids)
            if action == "update":
                column, value = rng.choice(
                    (
                        ("stage", rng.choice(("cold", "warm", "hot"))),
                        ("score", rng.randint(0, 100)),
                        ("status", rng.choice(STATUSES)),
                        ("source", rng.choice(("chat", "CHAT", "import"))),
                        ("reasons", _reasons(rng)),
                        ("lifecycle_stage", rng.choice(("lead", "opportunity"))),
                        ("converted_at", rng.choice((None, START))),
                        ("chatted_at", rng.choice((None, START))),
                        ("first_name", "Ada"),
                    )
                )
                chosen = rng.sample(ids, k=min(len(ids), rng.randint(1, 3)))
                connection.execute(
                    leads.update().where(leads.c.id.in_(chosen)).values({column: value})
                )
            elif action == "merge":
                survivor = rng.choice(ids)
                if survivor != lead_id:
                    merge_into(connection, survivor, lead_id, by="test", now=START)
                    connection.execute(
                        leads.update().where(leads.c.id == lead_id).values(merged_into=survivor)
                    )
                    ids.remove(lead_id)
            elif action == "delete":
                # As erasure does: the lead, the leads merged into it, their handoffs.
                gone = select(leads.c.id).where(
                    (leads.c.id == lead_id) | (leads.c.merged_into == lead_id)
                )
                connection.execute(handoffs.delete().where(handoffs.c.lead_id.in_(gone)))
                connection.execute(leads.delete().where(leads.c.merged_into == lead_id))
                connection.execute(leads.delete().where(leads.c.id == lead_id))
                ids.remove(lead_id)
            elif action == "handoff":
                connection.execute(
                    handoffs.insert(),
                    [
                        {
                            "id": f"h{seed}-{number}-{index}",
                            "lead_id": lead_id,
                            "trigger": "test",
                            "team": "sales",
                            "sla": "hot-15m",
                            "priority": 1,
                            "contact_by": START,
                            "due_at": START + timedelta(minutes=rng.randint(-60, 60)),
                            "created_at": START,
                        }
                        for index in range(rng.randint(1, 2))
                    ],
                )
                number += 1
            elif action == "move":
                connection.execute(
                    handoffs.update()
                    .where(handoffs.c.lead_id == lead_id)
                    .values(lead_id=rng.choice(ids))
                )
            elif action == "acknowledge":
                connection.execute(
                    handoffs.update()
                    .where(handoffs.c.lead_id == lead_id)
                    .values(status=rng.choice(("acknowledged", "closed", "open")))
                )
            elif action == "postpone":
                connection.execute(
                    handoffs.update()
                    .where(handoffs.c.lead_id == lead_id)
                    .values(due_at=START + timedelta(minutes=rng.randint(-600, 600)))
                )
            else:
                connection.execute(handoffs.delete().where(handoffs.c.lead_id == lead_id))


@pytest.mark.parametrize("kind", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_counts_follow_every_write(kind: str, seed: int, request: pytest.FixtureRequest) -> None:
    url = request.getfixturevalue(f"{kind}_url")
    upgrade(url)
    engine = create_db_engine(url)
    try:
        _write_randomly(engine, seed)
        _assert_in_step(engine)
    finally:
        engine.dispose()


@pytest.mark.parametrize("kind", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_upgrade_counts_existing_leads(kind: str, request: pytest.FixtureRequest) -> None:
    """Leads stored before the migration are counted, their first chat read from events."""
    url = request.getfixturevalue(f"{kind}_url")
    upgrade(url, "0007")
    engine = create_db_engine(url)
    try:
        rng = random.Random(7)
        with engine.begin() as connection:
            # Only columns that exist at 0007 (the table objects name just the given ones).
            batch = [{**_lead(rng, number), "lifecycle_stage": "lead"} for number in range(30)]
            connection.execute(Lead.__table__.insert(), batch)
            connection.execute(
                LeadEvent.__table__.insert(),
                [
                    {
                        "event_id": event_id,
                        "lead_id": lead_id,
                        "type": kind,
                        "source": source,
                        "ts": at,
                        "properties": {},
                        "created_at": at,
                    }
                    for event_id, lead_id, kind, source, at in (
                        ("e1", "lead0003", "chat_message", "chat", START + timedelta(hours=1)),
                        ("e2", "lead0003", "chat_message", "chat", START),
                        ("e3", "lead0004", "product_view", "storefront", START),
                    )
                ],
            )
        upgrade(url)
        with engine.connect() as connection:
            chatted = dict(connection.execute(select(Lead.id, Lead.chatted_at)).all())
        assert chatted["lead0003"] == START
        assert chatted["lead0004"] is None
        _assert_in_step(engine)
        downgrade(url, "0007")
        upgrade(url)
        _assert_in_step(engine)
    finally:
        engine.dispose()
