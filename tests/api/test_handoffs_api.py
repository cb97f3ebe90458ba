"""Handoffs and their notifications over the API and the command line."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import text
from sqlalchemy.engine import Engine

from bot.cli import main
from bot.handoff.config import WHSEC_PATTERN
from bot.leads import LeadService
from bot.leads.book import LeadBook
from bot.leads.commands import UpdateContact
from bot.store.db import create_db_engine
from bot.web import create_app
from tests.store.test_sales_desk import Story, handoff_settings, tell_story

TOKEN = "sales-token-123"
SHOP_TOKEN = "storefront-token-456"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@dataclass
class Api:
    client: TestClient
    engine: Engine
    story: Story

    def kill_messages(self) -> list[str]:
        """Dead-letter every notification of the story; returns their webhook-ids."""
        with self.engine.begin() as connection:
            connection.execute(text("UPDATE outbox SET status = 'dead', attempts = 12"))
            return list(connection.execute(text("SELECT message_id FROM outbox")).scalars())


@pytest.fixture
async def api(migrated_sqlite_url: str, tmp_path: Path) -> AsyncIterator[Api]:
    sqlite_url = migrated_sqlite_url
    settings = handoff_settings(
        database_url=sqlite_url,
        leads_api_token=TOKEN,
        storefront_token=SHOP_TOKEN,
        spool_dir=tmp_path / "spool",
    )
    engine = create_db_engine(sqlite_url)
    # Written at the real time: the app's worker runs on the wall clock.
    story = tell_story(engine, settings, datetime.now(timezone.utc), deliver=False)
    async with TestClient(TestServer(create_app(settings))) as client:
        yield Api(client, engine, story)
    engine.dispose()


async def test_handoffs_list_shows_the_lead_and_delivery_counts(api: Api) -> None:
    response = await api.client.get("/api/v2/handoffs", headers=AUTH)
    assert response.status == 200
    (item,) = (await response.json())["items"]
    assert item["id"] == api.story.handoff_id
    assert item["lead_id"] == api.story.lead_id
    assert item["lead_name"] == "Ada Lovelace"
    assert item["trigger"] == "human_requested"
    assert item["sla"] == "immediate"
    assert item["status"] == "open"
    assert sum(item["deliveries"].values()) == 2  # the webhook and Slack channels


@pytest.mark.parametrize(
    ("query", "count"),
    [
        ("status=open", 1),
        ("status=closed", 0),
        ("overdue=true", 0),  # due in 15 working minutes at the earliest
        ("lead_id=nobody", 0),
    ],
)
async def test_handoffs_filters(api: Api, query: str, count: int) -> None:
    response = await api.client.get(f"/api/v2/handoffs?{query}", headers=AUTH)
    assert response.status == 200
    assert len((await response.json())["items"]) == count


@pytest.mark.parametrize(
    ("query", "fragment"),
    [
        ("status=lost", "'status' must be one of open, acknowledged, closed"),
        ("overdue=yes", "'overdue' must be one of true, false"),
        ("limit=0", "'limit' must be between 1 and 500"),
        ("colour=red", "unknown query parameter(s): colour"),
    ],
)
async def test_handoffs_bad_queries_name_the_parameter(api: Api, query: str, fragment: str) -> None:
    response = await api.client.get(f"/api/v2/handoffs?{query}", headers=AUTH)
    assert response.status == 400
    assert fragment in (await response.json())["error"]["message"]


async def test_one_handoff_with_its_notifications(api: Api) -> None:
    response = await api.client.get(f"/api/v2/handoffs/{api.story.handoff_id}", headers=AUTH)
    assert response.status == 200
    body = await response.json()
    assert body["id"] == api.story.handoff_id
    assert sorted(n["channel"] for n in body["notifications"]) == ["env-slack", "env-webhook"]
    assert all(n["message_id"].startswith("msg_") for n in body["notifications"])
    missing = await api.client.get("/api/v2/handoffs/nope", headers=AUTH)
    assert missing.status == 404
    assert "no handoff with id 'nope'" in (await missing.json())["error"]["message"]


async def test_dead_letters_are_listed_and_retried(api: Api) -> None:
    not_dead = await api.client.post("/api/v2/outbox/msg_unknown/retry", headers=AUTH)
    assert not_dead.status == 404
    ids = api.kill_messages()
    response = await api.client.get("/api/v2/outbox?status=dead", headers=AUTH)
    body = await response.json()
    assert sorted(item["message_id"] for item in body["items"]) == sorted(ids)
    assert body["counts"]["dead"] == 2

    retried = await api.client.post(f"/api/v2/outbox/{ids[0]}/retry", headers=AUTH)
    assert retried.status == 202
    assert (await retried.json()) == {"message_id": ids[0], "status": "pending"}
    with api.engine.connect() as connection:
        status, attempts = connection.execute(
            text("SELECT status, attempts FROM outbox WHERE message_id = :id"), {"id": ids[0]}
        ).one()
    # Queued again with a fresh retry schedule (the worker may already be trying it).
    assert status == "pending" or attempts < 12
    again = await api.client.post(f"/api/v2/outbox/{ids[1]}/retry", headers=AUTH)
    assert again.status == 202


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/v2/handoffs"),
        ("GET", "/api/v2/outbox"),
        ("POST", "/api/v2/outbox/msg_x/retry"),
    ],
)
async def test_handoff_routes_need_a_sales_token(api: Api, method: str, path: str) -> None:
    anonymous = await api.client.request(method, path)
    assert anonymous.status == 401
    storefront = await api.client.request(
        method, path, headers={"Authorization": f"Bearer {SHOP_TOKEN}"}
    )
    assert storefront.status == 403


# --- python -m bot handoffs ----------------------------------------------------------------------


@pytest.fixture
def story_db(migrated_sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Api:
    sqlite_url = migrated_sqlite_url
    settings = handoff_settings(database_url=sqlite_url, spool_dir=tmp_path / "spool")
    engine = create_db_engine(sqlite_url)
    story = tell_story(engine, settings, datetime.now(timezone.utc), deliver=False)
    monkeypatch.setenv("DATABASE_URL", sqlite_url)
    return Api(client=None, engine=engine, story=story)  # type: ignore[arg-type]


def test_cli_lists_handoffs_as_json(story_db: Api, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["handoffs", "list", "--json"]) == 0
    (item,) = json.loads(capsys.readouterr().out)
    assert item["id"] == story_db.story.handoff_id
    assert item["deliveries"]["pending"] == 2


def test_cli_retries_dead_letters(story_db: Api, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["handoffs", "retry", "msg_nope"]) == 1
    assert "no dead-lettered notification 'msg_nope'" in capsys.readouterr().err
    story_db.kill_messages()
    assert main(["handoffs", "deliveries", "--status", "dead", "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)) == 2
    assert main(["handoffs", "retry", "--all-dead"]) == 0
    assert "queued 2 notification(s) again" in capsys.readouterr().out
    assert main(["handoffs", "deliveries", "--status", "dead", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == []


def test_cli_check_names_the_line_of_a_bad_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "handoff.yml"
    bad.write_text(
        "slas:\n  fast: {respond_within_minutes: 5}\nteams:\n  sales:\n    timezone: Mars/Base\n"
        "    hours: {mon: '09:00-18:00'}\n    reps: [{name: A}]\n"
        "triggers:\n  - {name: hot, when: {stage: hot}, sla: fast, team: sales}\n",
        encoding="utf-8",
    )
    assert main(["handoffs", "check", str(bad)]) == 1
    assert f"{bad}:5: teams.sales.timezone: unknown time zone 'Mars/Base'" in (
        capsys.readouterr().err
    )


def test_cli_makes_webhook_secrets(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["handoffs", "secret"]) == 0
    secret = capsys.readouterr().out.strip()
    assert WHSEC_PATTERN.match(secret)


async def test_handoffs_of_a_merged_lead_are_found_by_each_of_its_ids(api: Api) -> None:
    repository = LeadService(api.engine)
    repository.apply(
        [UpdateContact(session_id="s-later", first_name="Ada", email="ada@example.com")]
    )
    later = repository.get_lead_by_session("s-later")
    assert later is not None
    # The story's lead (with the handoff) is absorbed by the later chat's lead.
    LeadBook(repository).merge(later["id"], api.story.lead_id, by="Hugo")
    for lead_id in (api.story.lead_id, later["id"]):
        response = await api.client.get(f"/api/v2/handoffs?lead_id={lead_id}", headers=AUTH)
        items = (await response.json())["items"]
        assert [(item["id"], item["lead_id"]) for item in items] == [
            (api.story.handoff_id, later["id"])
        ], lead_id


async def test_an_api_edit_of_the_contact_details_queues_the_update(api: Api) -> None:
    response = await api.client.patch(
        f"/api/v2/leads/{api.story.lead_id}",
        headers=AUTH,
        json={"first_name": "Augusta", "email": "augusta@example.com"},
    )
    assert response.status == 200, await response.text()
    with api.engine.connect() as connection:
        queued = connection.execute(
            text("SELECT channel, handoff_id, payload FROM outbox WHERE kind = :kind"),
            {"kind": "lead.handoff.updated"},
        ).all()
    assert sorted(row.channel for row in queued) == ["env-slack", "env-webhook"]
    for row in queued:
        payload = json.loads(row.payload) if isinstance(row.payload, str) else row.payload
        assert row.handoff_id == api.story.handoff_id
        assert (payload["type"], payload["action"]) == ("lead.handoff.updated", "updated")
        assert payload["lead"]["email"] == "augusta@example.com"
        assert payload["summary"].startswith("Augusta Lovelace, reachable by email and phone,")
