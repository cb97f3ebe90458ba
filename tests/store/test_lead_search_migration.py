"""Migration 0007 indexes the leads a database already holds, and comes off cleanly."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from sqlalchemy import inspect, text

from bot.store.db import create_db_engine
from bot.store.migrate import downgrade, upgrade
from bot.store.queries import LeadFilters, LeadQueries

AT = datetime(2026, 12, 1, tzinfo=timezone.utc)


@pytest.mark.parametrize("kind", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_upgrade_backfills_and_downgrade_removes(kind: str, request: pytest.FixtureRequest) -> None:
    url = request.getfixturevalue(f"{kind}_url")
    upgrade(url, "0006")
    engine = create_db_engine(url)
    try:
        with engine.begin() as connection:
            for lead_id, name, email in (
                ("old1", "Élodie", "elo@shop.example"),
                ("old2", "Marc", None),
            ):
                connection.execute(
                    text(
                        "INSERT INTO leads (id, session_id, first_name, email, source, status,"
                        " stage, score, intent_score, fit_score, reasons, lifecycle_stage,"
                        " facts_version, decaying, created_at, updated_at) VALUES (:id, :id,"
                        " :name, :email, 'chat', 'New', 'warm', 40, 30, 10, '[]', 'lead', 0,"
                        " :yes, :at, :at)"
                    ),
                    {"id": lead_id, "name": name, "email": email, "yes": True, "at": AT},
                )
            connection.execute(
                text(
                    "INSERT INTO answers (lead_id, answer_id, key, raw, status, answered_at)"
                    " VALUES ('old2', 'a1', 'variant', 'a red scarf', 'answered', :at)"
                ),
                {"at": AT},
            )
        upgrade(url)
        queries = LeadQueries(engine)

        def found(q: str) -> set[str]:
            return {item["id"] for item in queries.list_leads(LeadFilters(q=q)).items}

        assert found("elodie") == {"old1"}
        assert found("shop") == {"old1"}
        assert found("scarf") == {"old2"}
        downgrade(url, "0006")
        with engine.connect() as connection:
            inspector = inspect(connection)
            assert not [name for name in inspector.get_table_names() if "search" in name]
            assert "search_document" not in {c["name"] for c in inspector.get_columns("leads")}
            assert "ix_leads_inbox_stage_score" not in {
                index["name"] for index in inspector.get_indexes("leads")
            }
            # The leads themselves stay, and writes work without the index.
            assert connection.execute(text("SELECT count(*) FROM leads")).scalar() == 2
        with engine.begin() as connection:
            connection.execute(text("UPDATE leads SET first_name = 'Lou' WHERE id = 'old1'"))
            connection.execute(text("DELETE FROM answers"))
        upgrade(url)
        assert found("lou") == {"old1"}
        assert found("scarf") == set()
    finally:
        engine.dispose()
