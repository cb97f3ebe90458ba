"""API tokens and the purge from the command line, and what created tokens may do.

``python -m bot tokens create/list/revoke`` and ``python -m bot purge`` run
against a migrated database (SQLite and PostgreSQL); the tokens they make are
then used against the web app on the same database.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select, text
from sqlalchemy.engine import Engine

from bot.cli import main
from bot.leads import LeadService
from bot.leads.commands import RecordEvent, UpdateContact
from bot.settings import Settings
from bot.store.db import create_db_engine
from bot.store.models import ApiToken, Erasure, Lead
from bot.store.tokens import TOKEN_PREFIX, hash_token
from bot.store.tracker import ConversationStore
from bot.web import create_app
from tests.store.test_leadbook import converse

ADA = {"first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.com"}
# For what never reaches the database or what differs between databases.
sqlite_only = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
TOKEN_LINE = re.compile(rf"^{TOKEN_PREFIX}[A-Za-z0-9_-]{{43}}$", re.MULTILINE)


@pytest.fixture
def cli_env(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    """The CLI's environment on the test database; an engine on it."""
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("TRACKER_STORE_URL", f"sqlite:///{tmp_path / 'tracker.db'}")
    for name in ("LEADS_API_TOKEN", "STOREFRONT_TOKEN", "SHOP_COUNTRY"):
        monkeypatch.delenv(name, raising=False)
    engine = create_db_engine(database_url)
    yield engine
    engine.dispose()


def create_token(capsys: pytest.CaptureFixture[str], name: str, *scopes: str) -> str:
    """``tokens create``; the token it printed."""
    argv = ["tokens", "create", name]
    for scope in scopes:
        argv += ["--scope", scope]
    assert main(argv) == 0
    out, err = capsys.readouterr()
    (token,) = TOKEN_LINE.findall(out)
    assert "shown only now" in err
    return str(token)


def listing(capsys: pytest.CaptureFixture[str]) -> dict[str, dict[str, Any]]:
    assert main(["tokens", "list", "--json"]) == 0
    return {row["name"]: row for row in json.loads(capsys.readouterr().out)}


def stored_text(engine: Engine, database_url: str) -> str:
    """Everything the database holds about tokens, as text (files too on SQLite)."""
    with engine.connect() as connection:
        rows = connection.execute(select(ApiToken.__table__)).all()
    found = json.dumps([dict(row._mapping) for row in rows], default=str)
    if database_url.startswith("sqlite"):
        path = Path(database_url.removeprefix("sqlite:///"))
        for file in path.parent.glob(path.name + "*"):  # the database, its WAL and journal
            found += file.read_bytes().decode("latin-1")
    return found


# --- tokens -------------------------------------------------------------------------------------


def test_tokens_create_list_revoke(
    cli_env: Engine, database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["tokens", "list"]) == 0
    assert "no tokens" in capsys.readouterr().out

    crm = create_token(capsys, "crm-sync", "leads:read", "leads:write", "leads:read")
    shop = create_token(capsys, "shop", "events:write")
    assert crm != shop

    # Only the hash is stored: the token itself is nowhere in the database.
    stored = stored_text(cli_env, database_url)
    for token in (crm, shop):
        assert token not in stored
        assert token[len(TOKEN_PREFIX) :] not in stored
        assert hash_token(token) in stored

    rows = listing(capsys)
    assert list(rows) == ["crm-sync", "shop"]
    assert rows["crm-sync"]["scopes"] == ["leads:read", "leads:write"]  # sorted, once each
    assert rows["crm-sync"]["prefix"] == crm[:10]
    assert rows["crm-sync"]["revoked_at"] is None and rows["crm-sync"]["last_used_at"] is None
    assert not {"token", "token_hash", "hash"} & set(rows["crm-sync"])
    assert crm not in json.dumps(rows)

    assert main(["tokens", "list"]) == 0
    table = capsys.readouterr().out
    assert "crm-sync" in table and "leads:read,leads:write" in table and "active" in table
    assert crm not in table

    assert main(["tokens", "revoke", "crm-sync"]) == 0
    assert "token 'crm-sync' revoked at" in capsys.readouterr().out
    # Revoking again changes nothing; the token stays listed, as revoked.
    revoked_at = listing(capsys)["crm-sync"]["revoked_at"]
    assert revoked_at is not None
    assert main(["tokens", "revoke", "crm-sync"]) == 0
    capsys.readouterr()
    assert listing(capsys)["crm-sync"]["revoked_at"] == revoked_at
    # By id too.
    shop_id = listing(capsys)["shop"]["id"]
    assert main(["tokens", "revoke", shop_id]) == 0
    capsys.readouterr()
    assert listing(capsys)["shop"]["revoked_at"] is not None

    assert main(["tokens", "list"]) == 0
    assert capsys.readouterr().out.count("revoked") == 2


def test_leads_erase_command(
    cli_env: Engine, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repository = LeadService(cli_env)
    repository.apply([UpdateContact(session_id="asks", email="gone@example.com")])
    lead_id = repository.get_lead_by_session("asks")["id"]  # type: ignore[index]
    stored = converse(
        f"sqlite:///{tmp_path / 'tracker.db'}",
        "asks",
        ("user", "delete me"),
        start=datetime.now(timezone.utc).timestamp(),
    )
    assert main(["leads", "erase", lead_id, "--by", "support@shop"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert (result["lead_id"], result["removed"]["conversation_events"]) == (lead_id, stored)
    assert [row.id for row in _leads(cli_env)] == []
    with cli_env.connect() as connection:
        tombstone = connection.execute(select(Erasure.__table__)).one()
    assert (tombstone.lead_id, tombstone.requested_by) == (lead_id, "support@shop")
    # Erased already: a clear error, exit 1.
    assert main(["leads", "erase", lead_id, "--by", "support@shop"]) == 1
    assert "was erased at" in capsys.readouterr().err


@sqlite_only
@pytest.mark.parametrize(
    ("argv", "code", "message"),
    [
        (["tokens", "create", "x", "--scope", "leads:delete"], 2, "unknown: leads:delete"),
        (["tokens", "create", "  ", "--scope", "admin"], 2, "name: expected 1 to 80 characters"),
        (["tokens", "create", "n" * 81, "--scope", "admin"], 2, "name: expected 1 to 80"),
        (["tokens", "create", "taken", "--scope", "admin"], 2, "a token named 'taken' already"),
        (["tokens", "revoke", "nobody"], 1, "no token named 'nobody'"),
    ],
)
def test_token_commands_refuse_bad_input(
    cli_env: Engine,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    code: int,
    message: str,
) -> None:
    create_token(capsys, "taken", "leads:read")
    assert main(argv) == code
    out, err = capsys.readouterr()
    assert message in err
    assert TOKEN_PREFIX not in out
    assert list(listing(capsys)) == ["taken"]


@sqlite_only
def test_create_needs_a_scope(cli_env: Engine, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["tokens", "create", "nothing"])
    assert exited.value.code == 2
    assert "--scope" in capsys.readouterr().err


# --- what a token may do ------------------------------------------------------------------------


@pytest.fixture
async def client(cli_env: Engine, database_url: str, tmp_path: Path) -> AsyncIterator[TestClient]:
    # No environment tokens: only the store's tokens open the API.
    settings = replace(
        Settings(),
        database_url=database_url,
        spool_dir=tmp_path / "spool",
        tracker_store_url=f"sqlite:///{tmp_path / 'tracker.db'}",
    )
    async with TestClient(TestServer(create_app(settings))) as test_client:
        yield test_client


# (method, path, body): every kind of route; "{lead}" is an existing lead.
ROUTES = {
    "list": ("GET", "/api/v2/leads", None),
    "read": ("GET", "/api/v2/leads/{lead}", None),
    "create": ("POST", "/api/v2/leads", {**ADA, "email": "new-{unique}@example.com"}),
    "edit": ("PATCH", "/api/v2/leads/{lead}", {"company": "Acme"}),
    "convert": ("POST", "/api/v2/leads/{lead}/convert", {}),
    "export": ("GET", "/api/v2/leads/{lead}/data", None),
    "events": (
        "POST",
        "/api/v2/events",
        {"event_id": "{unique}", "session_id": "s1", "type": "product_view", "ts": "{now}"},
    ),
    "erase": ("POST", "/api/v2/leads/{lead}/erase", None),
    "delete": ("DELETE", "/api/v2/leads/{lead}", None),
}
# What each scope may do (the rest answers 403).
ALLOWED = {
    "leads:read": {"list", "read"},
    "leads:write": {"create", "edit", "convert"},
    "events:write": {"events"},
    "admin": set(ROUTES),  # admin implies every scope
}
SUCCESS = {"create": 201, "events": 202, "delete": 204}


async def test_a_created_token_may_do_what_its_scope_allows(
    client: TestClient, cli_env: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    repository = LeadService(cli_env)
    now = datetime.now(timezone.utc)
    for scope, allowed in ALLOWED.items():
        name = f"caller-{scope.replace(':', '-')}"
        headers = {"Authorization": f"Bearer {create_token(capsys, name, scope)}"}
        for what, (method, path, body) in ROUTES.items():
            # A lead of its own for each call (erase and delete remove theirs).
            session = f"{name}-{what}"
            repository.apply([UpdateContact(session_id=session, email=f"{session}@example.com")])
            (lead,) = [row for row in _leads(cli_env) if row.session_id == session]
            sent = json.loads(
                json.dumps(body)
                .replace("{now}", (now - timedelta(seconds=5)).isoformat())
                .replace("{unique}", session)
            )
            response = await client.request(
                method, path.format(lead=lead.id), headers=headers, json=sent
            )
            expected = SUCCESS.get(what, 200) if what in allowed else 403
            assert response.status == expected, (scope, what, await response.text())
            if expected == 403:
                error = (await response.json())["error"]
                assert error["required_scope"] != scope
        # Using the token is recorded (without its secret).
        assert listing(capsys)[name]["last_used_at"] is not None


async def test_a_revoked_token_is_refused(
    client: TestClient, cli_env: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    token = create_token(capsys, "crm", "admin")
    headers = {"Authorization": f"Bearer {token}"}
    assert (await client.get("/api/v2/leads", headers=headers)).status == 200
    assert main(["tokens", "revoke", "crm"]) == 0
    response = await client.get("/api/v2/leads", headers=headers)
    assert response.status == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert "invalid or revoked" in (await response.json())["error"]["message"]
    # A token with one character changed is just as unknown.
    other = token[:-1] + ("A" if token[-1] != "A" else "B")
    assert (
        await client.get("/api/v2/leads", headers={"Authorization": f"Bearer {other}"})
    ).status == 401


async def test_store_tokens_act_under_their_name(
    client: TestClient, cli_env: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    token = create_token(capsys, "crm-sync", "leads:write")
    response = await client.post(
        "/api/v2/leads",
        json={**ADA, "status": "Contacted", "notes": "imported"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status == 201
    lead_id = (await response.json())["id"]
    with cli_env.connect() as connection:
        authors = connection.execute(
            text("SELECT author FROM lead_notes WHERE lead_id = :id"), {"id": lead_id}
        ).scalars()
        assert list(authors) == ["token:crm-sync"]


def _leads(engine: Engine) -> list[Any]:
    with engine.connect() as connection:
        return list(connection.execute(select(Lead.__table__)))


# --- purge --------------------------------------------------------------------------------------


def test_purge_command(cli_env: Engine, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    now = datetime.now(timezone.utc)
    old = now - timedelta(days=400)
    repository = LeadService(cli_env)
    for session, at in (("old-1", old), ("old-2", old), ("recent", now - timedelta(days=30))):
        repository.apply(
            [
                RecordEvent(
                    session_id=session,
                    event_id=f"{session}-view",
                    type="product_view",
                    ts=at,
                    source="storefront",
                )
            ],
            now=at,
        )
    repository.apply([UpdateContact(session_id="old-known", email="ada@example.com")], now=old)
    tracker_url = f"sqlite:///{tmp_path / 'tracker.db'}"
    converse(tracker_url, "old-1", ("user", "just looking"), start=old.timestamp())
    converse(tracker_url, "recent", ("user", "hello"), start=now.timestamp())
    everyone = {row.session_id for row in _leads(cli_env)}

    assert main(["purge", "--older-than", "365d", "--dry-run"]) == 0
    assert "2 anonymous lead(s) untouched for 365 days would be erased" in capsys.readouterr().out
    assert {row.session_id for row in _leads(cli_env)} == everyone

    # Other units: 36 hours catch the recent lead too, in a dry run.
    assert main(["purge", "--older-than", "36h", "--dry-run"]) == 0
    assert "3 anonymous lead(s) untouched for 36 hours would be erased" in capsys.readouterr().out

    assert main(["purge", "--older-than", "52w"]) == 0
    assert "erased 2 anonymous lead(s) untouched for 364 days" in capsys.readouterr().out
    assert {row.session_id for row in _leads(cli_env)} == {"recent", "old-known"}
    with cli_env.connect() as connection:
        tombstones = connection.execute(select(Erasure.__table__)).all()
    assert sorted((row.reason, row.requested_by) for row in tombstones) == [("purge", "purge")] * 2
    conversations = ConversationStore(tracker_url)
    try:
        assert conversations.conversation(["old-1"]) == []
        assert len(conversations.conversation(["recent"])) == 1
    finally:
        conversations.dispose()

    assert main(["purge", "--older-than", "365d"]) == 0
    assert "erased 0 anonymous lead(s)" in capsys.readouterr().out


@sqlite_only
@pytest.mark.parametrize("age", ["365", "0d", "12m", "d", "1.5d", "365 d"])
def test_purge_needs_an_age(cli_env: Engine, capsys: pytest.CaptureFixture[str], age: str) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["purge", "--older-than", age])
    assert exited.value.code == 2
    assert "expected an age like 365d, 12w or 48h" in capsys.readouterr().err


async def test_a_path_no_route_declares_still_asks_for_a_token_with_a_leads_scope(
    client: TestClient, cli_env: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    events_only = {"Authorization": f"Bearer {create_token(capsys, 'shop', 'events:write')}"}
    reader = {"Authorization": f"Bearer {create_token(capsys, 'reader', 'leads:read')}"}
    assert (await client.get("/api/v2/no-such-thing")).status == 401
    response = await client.get("/api/v2/no-such-thing", headers=events_only)
    assert response.status == 403
    assert (await response.json())["error"]["required_scope"] == "leads:read"
    assert (await client.get("/api/v2/no-such-thing", headers=reader)).status == 404
    response = await client.post("/api/v2/no-such-thing", headers=reader, json={})
    assert response.status == 403
    assert (await response.json())["error"]["required_scope"] == "leads:write"
