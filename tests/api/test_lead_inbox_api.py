"""The lead list: filters, full-text search and counts (``GET /api/v2/leads``); the inbox order."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, insert, update
from sqlalchemy.engine import Engine

from bot.store.models import Answer, Handoff, Lead
from bot.store.queries import LeadFilters, LeadQueries
from tests.api.test_leads_crud_api import LEADS, Api, serve

NOW = datetime(2026, 12, 7, 10, 0, tzinfo=timezone.utc)


@pytest.fixture
async def api(database_url: str, tmp_path: Path) -> AsyncIterator[Api]:
    async with serve(database_url, tmp_path) as served:
        yield served


def add_lead(engine: Engine, lead_id: str, **fields: Any) -> str:
    """A lead row written as the store writes it (the search triggers see it)."""
    values = {
        "id": lead_id,
        "session_id": f"s-{lead_id}",
        "created_at": NOW,
        "updated_at": NOW,
        "reasons": [],
        **fields,
    }
    with engine.begin() as connection:
        connection.execute(insert(Lead.__table__).values(**values))
    return lead_id


def add_answer(engine: Engine, lead_id: str, key: str, raw: str, **fields: Any) -> None:
    with engine.begin() as connection:
        connection.execute(
            insert(Answer.__table__).values(
                lead_id=lead_id,
                answer_id=f"{lead_id}-{key}-{raw[:20]}",
                key=key,
                raw=raw,
                answered_at=NOW,
                **fields,
            )
        )


def add_handoff(engine: Engine, lead_id: str, **fields: Any) -> None:
    values = {
        "id": f"h-{lead_id}",
        "lead_id": lead_id,
        "trigger": "hot_lead",
        "team": "sales",
        "sla": "1h",
        "priority": 1,
        "status": "open",
        "contact_by": NOW,
        "due_at": NOW,
        "created_at": NOW,
        **fields,
    }
    with engine.begin() as connection:
        connection.execute(insert(Handoff.__table__).values(**values))


async def found(api: Api, **params: str) -> set[str]:
    page = await api.ok("GET", LEADS, params={**params, "limit": "200"}, as_="reader")
    return {item["id"] for item in page["items"]}


@pytest.fixture
def shoppers(api: Api) -> Api:
    """Four leads that differ in every field a filter reads."""
    engine = api.engine
    add_lead(
        engine,
        "ada",
        first_name="Ada",
        last_name="Lovelace",
        email="ada@engines.example",
        phone="+33612345678",
        company="Analytical Engines",
        stage="hot",
        score=80,
        status="New",
        source="chat",
        created_at=NOW - timedelta(days=10),
        updated_at=NOW - timedelta(days=1),
    )
    add_lead(
        engine,
        "grace",
        first_name="Grace",
        last_name="Hopper",
        email="grace@navy.example",
        company="Navy",
        stage="warm",
        score=45,
        status="Contacted",
        source="web_form",
        created_at=NOW - timedelta(days=5),
        updated_at=NOW - timedelta(days=5),
    )
    add_lead(engine, "anon", stage="cold", score=70, created_at=NOW - timedelta(days=2))
    add_lead(engine, "merged", first_name="Ada", stage="hot", merged_into="ada")
    add_answer(engine, "anon", "variant", "the black hoodie in XL, délivré à Nantes")
    add_handoff(engine, "ada", team="vip", assigned_to="Camille")
    add_handoff(engine, "grace", id="h-grace-old", status="closed", team="sales", assigned_to="Noa")
    return api


@pytest.mark.parametrize(
    "params, expected",
    [
        ({}, {"ada", "grace", "anon"}),  # merged leads are left out
        ({"stage": "hot"}, {"ada"}),
        ({"status": "Contacted"}, {"grace"}),
        ({"source": "web_form"}, {"grace"}),
        ({"team": "vip"}, {"ada"}),
        ({"team": "sales"}, {"grace"}),  # a closed handoff still names the team
        ({"rep": "Camille"}, {"ada"}),
        ({"rep": "Nobody"}, set()),
        ({"created_since": (NOW - timedelta(days=6)).isoformat()}, {"grace", "anon"}),
        ({"created_until": (NOW - timedelta(days=5)).isoformat()}, {"ada"}),  # until: excluded
        ({"updated_since": (NOW - timedelta(days=2)).isoformat()}, {"ada", "anon"}),
        ({"updated_until": (NOW - timedelta(days=2)).isoformat()}, {"grace"}),
        ({"stage": "hot", "team": "sales"}, set()),
    ],
)
async def test_each_filter(shoppers: Api, params: dict[str, str], expected: set[str]) -> None:
    assert await found(shoppers, **params) == expected


@pytest.mark.parametrize(
    "q, expected",
    [
        ("ada", {"ada"}),  # first name
        ("LOVEL", {"ada"}),  # start of the last name, any case
        ("ada lovelace", {"ada"}),  # every word
        ("ada hopper", set()),  # ... must be found
        ("engines.example", {"ada"}),  # e-mail
        ("navy", {"grace"}),  # company and e-mail
        ("33612", {"ada"}),  # phone
        ("hoodie", {"anon"}),  # an answer's raw text
        ("DELIVRE", {"anon"}),  # accents and case do not matter
        ("nantes xl", {"anon"}),
        ("zzz", set()),
    ],
)
async def test_search(shoppers: Api, q: str, expected: set[str]) -> None:
    assert await found(shoppers, q=q) == expected


async def test_search_follows_every_write(api: Api) -> None:
    engine = api.engine
    add_lead(engine, "l1", first_name="Zoe")
    add_answer(engine, "l1", "budget", "about 80 euros")
    assert await found(api, q="zoe") == {"l1"}
    assert await found(api, q="euros") == {"l1"}
    with engine.begin() as connection:
        connection.execute(update(Lead.__table__).values(first_name="Yann").where(Lead.id == "l1"))
        # A superseded answer is no longer the lead's answer.
        connection.execute(
            update(Answer.__table__).values(superseded_at=NOW).where(Answer.lead_id == "l1")
        )
    assert await found(api, q="zoe") == set()
    assert await found(api, q="yann") == {"l1"}
    assert await found(api, q="euros") == set()
    add_answer(engine, "l1", "budget", "120 dollars")
    assert await found(api, q="dollars") == {"l1"}
    with engine.begin() as connection:
        connection.execute(delete(Answer.__table__).where(Answer.lead_id == "l1"))
    assert await found(api, q="dollars") == set()
    with engine.begin() as connection:
        connection.execute(delete(Lead.__table__).where(Lead.id == "l1"))
    assert await found(api, q="yann") == set()


async def test_counts_and_pages(shoppers: Api) -> None:
    page = await shoppers.ok(
        "GET", LEADS, params={"counts": "true", "limit": "2", "sort": "-score"}, as_="reader"
    )
    assert page["counts"] == {"cold": 1, "warm": 1, "hot": 1}
    assert page["total"] == 3
    assert [item["id"] for item in page["items"]] == ["ada", "anon"]
    following = await shoppers.ok(
        "GET",
        LEADS,
        params={"limit": "2", "sort": "-score", "cursor": page["next_cursor"]},
        as_="reader",
    )
    assert [item["id"] for item in following["items"]] == ["grace"]
    assert following["next_cursor"] is None
    assert "counts" not in following  # only when asked
    filtered = await shoppers.ok("GET", LEADS, params={"counts": "1", "q": "navy"}, as_="reader")
    assert (filtered["counts"], filtered["total"]) == ({"cold": 0, "warm": 1, "hot": 0}, 1)


@pytest.mark.parametrize(
    "params, message",
    [
        ({"team": "x" * 121}, "'team' must be at most 120 characters"),
        ({"rep": "a\x00b"}, "'rep' contains a NUL character"),
        ({"created_since": "yesterday"}, "created_since"),
        ({"updated_until": "2026-12-07T10:00:00"}, "updated_until"),  # no timezone
    ],
)
async def test_bad_filters_are_400(api: Api, params: dict[str, str], message: str) -> None:
    error = await api.error("GET", LEADS, 400, params=params, as_="reader")
    assert message in error["message"]


def test_inbox_order_handoffs_by_due_time_then_hot_then_warm(engine: Engine) -> None:
    add_lead(engine, "cold-high", stage="cold", score=90)
    add_lead(engine, "warm", stage="warm", score=43)
    add_lead(engine, "hot-low", stage="hot", score=60)
    add_lead(engine, "hot-high", stage="hot", score=75)
    add_lead(engine, "due-later", stage="cold", score=10)
    add_lead(engine, "overdue", stage="warm", score=20)
    add_lead(engine, "acked", stage="hot", score=70)
    add_handoff(engine, "due-later", due_at=NOW + timedelta(hours=2))
    add_handoff(engine, "overdue", due_at=NOW - timedelta(hours=1))
    add_handoff(engine, "acked", status="acknowledged", acknowledged_by="Camille")
    queries = LeadQueries(engine)
    order = [
        "overdue",
        "due-later",
        "hot-high",
        "acked",
        "hot-low",
        "warm",
        "cold-high",
    ]
    page = queries.inbox(LeadFilters(), limit=10)
    assert [item["id"] for item in page.items] == order
    assert page.counts == {"cold": 2, "warm": 2, "hot": 3}
    assert page.items[0]["handoff"]["status"] == "open"
    assert page.items[3]["handoff"]["acknowledged_by"] == "Camille"
    # Pages of three cut across the segments without losing or repeating a lead.
    pages = [queries.inbox(LeadFilters(), offset=offset, limit=3) for offset in (0, 3, 6)]
    assert [item["id"] for page in pages for item in page.items] == order
    assert [item["id"] for item in queries.inbox(LeadFilters(stage="hot")).items] == [
        "hot-high",
        "acked",
        "hot-low",
    ]
