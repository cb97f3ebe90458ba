"""Migration 0011 keeps every handoff notification and its delivery log (SQLite copies tables)."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from sqlalchemy import text

from bot.store.db import create_db_engine
from bot.store.migrate import downgrade, upgrade

AT = datetime(2027, 3, 10, 9, 0, tzinfo=timezone.utc).isoformat()


@pytest.mark.parametrize("kind", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_notifications_and_their_log_survive_the_upgrade_and_downgrade(
    kind: str, request: pytest.FixtureRequest
) -> None:
    url: str = request.getfixturevalue(f"{kind}_url")
    upgrade(url, "0010")
    engine = create_db_engine(url)
    try:
        with engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO leads (id, session_id, source, status, stage, score, "
                    "intent_score, fit_score, reasons, lifecycle_stage, facts_version, decaying, "
                    "created_at, updated_at) VALUES ('l1', 's1', 'chat', 'New', 'hot', 80, 50, "
                    "30, '[]', 'lead', 0, true, :at, :at)"
                ),
                {"at": AT},
            )
            connection.execute(
                text(
                    "INSERT INTO handoffs (id, lead_id, trigger, team, sla, priority, status, "
                    "contact_by, due_at, created_at) VALUES ('h1', 'l1', 'became_hot', 'sales', "
                    "'within_1h', 0, 'open', :at, :at, :at)"
                ),
                {"at": AT},
            )
            connection.execute(
                text(
                    "INSERT INTO outbox (id, message_id, handoff_id, channel, kind, priority, "
                    "payload, status, attempts, next_attempt_at, created_at) VALUES (1, 'msg_1', "
                    "'h1', 'hook', 'lead.handoff', 0, '{}', 'delivered', 1, :at, :at)"
                ),
                {"at": AT},
            )
            connection.execute(
                text(
                    "INSERT INTO delivery_attempts (outbox_id, attempt, started_at, duration_ms, "
                    "status_code, outcome) VALUES (1, 1, :at, 12, 200, 'delivered')"
                ),
                {"at": AT},
            )
        engine.dispose()
        for step in (lambda: upgrade(url, "0011"), lambda: downgrade(url, "0010")):
            step()
            with engine.connect() as connection:
                assert connection.execute(text("SELECT count(*) FROM outbox")).scalar() == 1
                assert (
                    connection.execute(text("SELECT count(*) FROM delivery_attempts")).scalar() == 1
                )
            engine.dispose()
    finally:
        engine.dispose()
