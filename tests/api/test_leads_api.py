"""Leads read API: auth, filters, pagination, JSON shape, errors."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.leads import LeadService
from bot.leads.commands import RecordAnswer, RecordEvent
from bot.settings import Settings
from bot.store.db import create_db_engine
from bot.web import create_app

TOKEN = "test-token-123"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
T0 = datetime(2026, 11, 23, 10, 0, tzinfo=timezone.utc)
LEAD_FIELDS = {
    "id",
    "session_id",
    "first_name",
    "last_name",
    "email",
    "phone",
    "company",
    "source",
    "status",
    "stage",
    "score",
    "intent_score",
    "fit_score",
    "reasons",
    "answers",
    "created_at",
    "updated_at",
}


@pytest.fixture
async def client(database_url: str, tmp_path: Path) -> AsyncIterator[TestClient]:
    settings = replace(
        Settings(), database_url=database_url, leads_api_token=TOKEN, spool_dir=tmp_path / "spool"
    )
    repository = LeadService(create_db_engine(database_url))
    repository.apply(
        [
            RecordAnswer(
                session_id="shop-session-1",
                answer_id="m1:budget",
                key="budget",
                raw="around 300 bucks",
                value={"amount": Decimal("300"), "currency": "USD"},
                status="answered",
                answered_at=T0,
            ),
            RecordAnswer(
                session_id="shop-session-1",
                answer_id="m2:timeline",
                key="timeline",
                raw="next week",
                value={"days": 7},
                status="answered",
                answered_at=T0,
            ),
            RecordEvent(session_id="shop-session-2", event_id="e1", type="chat_message", ts=T0),
        ]
    )
    async with TestClient(TestServer(create_app(settings))) as test_client:
        yield test_client


async def test_requires_bearer_token(client: TestClient) -> None:
    response = await client.get("/api/v2/leads")
    assert response.status == 401
    assert "bearer" in (await response.json())["error"]["message"]
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    wrong = await client.get("/api/v2/leads", headers={"Authorization": "Bearer nope"})
    assert wrong.status == 401
    basic = await client.get("/api/v2/leads", headers={"Authorization": "Basic abc"})
    assert basic.status == 401


async def test_lead_by_session_has_contract_shape(client: TestClient) -> None:
    response = await client.get(
        "/api/v2/leads", params={"session_id": "shop-session-1"}, headers=AUTH
    )
    assert response.status == 200
    body = await response.json()
    assert len(body["items"]) == 1
    lead = body["items"][0]
    assert lead.keys() >= LEAD_FIELDS
    assert lead["answers"]["budget"] == {
        "raw": "around 300 bucks",
        "value": {"amount": 300, "currency": "USD"},
        "status": "answered",
        "answered_at": T0.isoformat(),
    }
    assert lead["answers"]["timeline"]["value"] == {"days": 7}
    single = await client.get(f"/api/v2/leads/{lead['id']}", headers=AUTH)
    assert single.status == 200
    assert (await single.json())["session_id"] == "shop-session-1"


async def test_unknown_lead_is_404(client: TestClient) -> None:
    response = await client.get("/api/v2/leads/does-not-exist", headers=AUTH)
    assert response.status == 404
    assert "does-not-exist" in (await response.json())["error"]["message"]


# The handler refuses these parameters before the store is asked, so they run on
# SQLite only; the forged cursor reaches the repository and runs on both databases
# (PostgreSQL still serves this route in every other test of the module).
@pytest.mark.parametrize(
    ("database_url", "params", "fragment"),
    [
        ("sqlite", {"stage": "boiling"}, "'stage' must be one of cold, warm, hot"),
        ("sqlite", {"status": "Maybe"}, "'status' must be one of"),  # unknown status
        ("sqlite", {"min_score": "ten"}, "'min_score' must be an integer"),  # not a number
        ("sqlite", {"limit": "0"}, "'limit' must be between 1 and 200"),  # too small
        ("sqlite", {"limit": "5000"}, "'limit' must be between 1 and 200"),  # too large
        ("sqlite", {"cursor": "%%%"}, "'cursor'"),  # forged cursor
        pytest.param("postgres", {"cursor": "%%%"}, "'cursor'", marks=pytest.mark.postgres),
        ("sqlite", {"colour": "red"}, "unknown query parameter(s): colour"),  # typo'd filter
        # a source no lead can have: too long, or holding a control character
        ("sqlite", {"source": "x" * 41}, "'source': expected a label of at most 40 characters"),
        ("sqlite", {"source": "Trade\x1bshow"}, "'source': expected a label of visible characters"),
    ],
    indirect=["database_url"],
)
async def test_bad_query_parameters_are_400(
    client: TestClient, params: dict, fragment: str
) -> None:
    response = await client.get("/api/v2/leads", params=params, headers=AUTH)
    assert response.status == 400
    assert fragment in (await response.json())["error"]["message"]


async def test_pagination_walks_every_lead(client: TestClient) -> None:
    first = await (await client.get("/api/v2/leads", params={"limit": "1"}, headers=AUTH)).json()
    assert first["next_cursor"]
    second = await (
        await client.get(
            "/api/v2/leads", params={"limit": "1", "cursor": first["next_cursor"]}, headers=AUTH
        )
    ).json()
    assert second["next_cursor"] is None
    assert {first["items"][0]["session_id"], second["items"][0]["session_id"]} == {
        "shop-session-1",
        "shop-session-2",
    }


async def test_unknown_route_and_method_are_json(client: TestClient) -> None:
    missing = await client.get("/api/v2/nothing", headers=AUTH)
    assert missing.status == 404
    assert (await missing.json())["error"]["status"] == 404
    wrong_method = await client.patch("/api/v2/leads", headers=AUTH)
    assert wrong_method.status == 405


async def test_health_is_public(client: TestClient) -> None:
    response = await client.get("/healthz")
    assert response.status == 200
    assert (await response.json())["status"] == "ok"
