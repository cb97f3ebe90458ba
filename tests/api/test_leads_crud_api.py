"""Lead management API: create, read, replace, edit, delete, convert, export, erase.

Every status code of ``/api/v2/leads`` is checked: 400 (naming the field or the
parameter), 401, 403 (by scope), 404, 409, 410, and the successes. Requests that
never reach what differs between databases run on SQLite only; everything that
stores, searches or pages through leads runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import base64
import contextlib
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select
from sqlalchemy.engine import Engine

from bot.leads import LeadService
from bot.leads.book import LeadBook
from bot.leads.commands import RecordEvent, UpdateContact
from bot.scoring import scorer_for
from bot.settings import Settings
from bot.store.db import create_db_engine
from bot.store.migrate import upgrade
from bot.store.models import Erasure, Lead, LeadNote, LeadStatusChange
from bot.store.queries import LEAD_SORTS, encode_cursor
from bot.store.tokens import TokenStore
from bot.store.tracker import ConversationStore
from bot.web import create_app
from tests.scoring import SCORING_CONFIG
from tests.store.test_leadbook import record_conversation

TOKEN = "leads-api-token-123"
SHOP_TOKEN = "storefront-token-456"
T0 = datetime(2026, 11, 23, 10, 0, tzinfo=timezone.utc)
ADA = {"first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.com"}
LEADS = "/api/v2/leads"

# Requests that never reach what differs between databases run on SQLite only,
# against one app shared by the module (starting one takes a while).
on_shared_app = pytest.mark.asyncio(loop_scope="module")


def unique_email() -> str:
    return f"{uuid.uuid4().hex[:12]}@example.com"


@dataclass
class Api:
    client: TestClient
    engine: Engine
    tracker_url: str
    # Bearer token of each caller: "env" (LEADS_API_TOKEN), "shop" (STOREFRONT_TOKEN),
    # and store tokens "reader", "writer", "editor", "admin", "revoked".
    tokens: dict[str, str]

    async def call(
        self, method: str, path: str, *, as_: str | None = "env", **kwargs: Any
    ) -> ClientResponse:
        headers = dict(kwargs.pop("headers", {}))
        if as_ is not None:
            headers["Authorization"] = f"Bearer {self.tokens[as_]}"
        return await self.client.request(method, path, headers=headers, **kwargs)

    async def ok(self, method: str, path: str, status: int = 200, **kwargs: Any) -> Any:
        """The JSON body of a request that must answer ``status``."""
        response = await self.call(method, path, **kwargs)
        body = await response.text()
        assert response.status == status, body
        return json.loads(body) if body else None

    async def create(self, **fields: Any) -> dict[str, Any]:
        lead: dict[str, Any] = await self.ok("POST", LEADS, 201, json={**ADA, **fields})
        return lead

    async def error(self, method: str, path: str, status: int, **kwargs: Any) -> dict[str, Any]:
        """The error object of a request that must fail with ``status``."""
        response = await self.call(method, path, **kwargs)
        body = await response.json()
        assert response.status == status, body
        assert body["error"]["status"] == status
        error: dict[str, Any] = body["error"]
        return error

    def rows(self, model: Any, **where: Any) -> list[Any]:
        table = model.__table__
        query = select(table).where(*(table.c[name] == value for name, value in where.items()))
        with self.engine.connect() as connection:
            return list(connection.execute(query))


@contextlib.asynccontextmanager
async def serve(database_url: str, base: Path) -> AsyncIterator[Api]:
    """The web app on ``database_url`` with a token of each kind."""
    tracker_url = f"sqlite:///{base / 'tracker.db'}"
    settings = replace(
        Settings(),
        database_url=database_url,
        leads_api_token=TOKEN,
        storefront_token=SHOP_TOKEN,
        spool_dir=base / "spool",
        tracker_store_url=tracker_url,
    )
    engine = create_db_engine(database_url)
    store = TokenStore(engine)
    tokens = {"env": TOKEN, "shop": SHOP_TOKEN}
    for name, scopes in {
        "reader": ["leads:read"],
        "writer": ["leads:write"],
        "editor": ["leads:read", "leads:write"],
        "admin": ["admin"],
        "revoked": ["admin"],
    }.items():
        tokens[name] = store.create(name, scopes)[0]
    store.revoke("revoked")
    try:
        async with TestClient(TestServer(create_app(settings))) as client:
            yield Api(client, engine, tracker_url, tokens)
    finally:
        engine.dispose()


@pytest.fixture
async def api(database_url: str, tmp_path: Path) -> AsyncIterator[Api]:
    async with serve(database_url, tmp_path) as served:
        yield served


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def shared(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Api]:
    """One app on SQLite for the whole module: tests make their own leads."""
    base = tmp_path_factory.mktemp("shared")
    url = f"sqlite:///{base / 'leads.db'}"
    upgrade(url)
    async with serve(url, base) as served:
        yield served


# --- the resource, end to end -------------------------------------------------------------------


async def test_create_read_replace_edit_delete(api: Api) -> None:
    response = await api.call(
        "POST",
        LEADS,
        as_="editor",
        json={
            **ADA,
            "email": "Ada@Example.com",
            "phone": "06 12 34 56 78",
            "company": "Analytical Engines",
            "notes": "met at the fair",
        },
    )
    assert response.status == 201
    created = await response.json()
    assert response.headers["Location"] == f"{LEADS}/{created['id']}"
    assert (created["email"], created["phone"], created["source"], created["lifecycle"]) == (
        "ada@example.com",
        "+33612345678",
        "api",
        "lead",
    )
    (note,) = api.rows(LeadNote, lead_id=created["id"])
    assert (note.author, note.text) == ("token:editor", "met at the fair")

    read = await api.ok("GET", response.headers["Location"], as_="reader")
    assert read == created

    replaced = await api.ok(
        "PUT",
        f"{LEADS}/{created['id']}",
        as_="editor",
        json={"first_name": "Grace", "last_name": "Hopper", "email": "grace@example.com"},
    )
    assert (replaced["first_name"], replaced["email"], replaced["phone"], replaced["company"]) == (
        "Grace",
        "grace@example.com",
        None,  # PUT clears what it does not give
        None,
    )

    patched = await api.ok(
        "PATCH",
        f"{LEADS}/{created['id']}",
        as_="writer",
        json={"company": "Navy", "status": "Contacted", "status_reason": "called her"},
    )
    assert (patched["first_name"], patched["company"], patched["status"]) == (
        "Grace",
        "Navy",
        "Contacted",
    )
    (change,) = api.rows(LeadStatusChange, lead_id=created["id"])
    assert (change.from_status, change.to_status, change.changed_by, change.reason) == (
        "New",
        "Contacted",
        "token:writer",
        "called her",
    )
    assert (await api.ok("GET", f"{LEADS}/{created['id']}"))["company"] == "Navy"

    events = await api.ok("GET", f"{LEADS}/{created['id']}/events", as_="reader")
    assert events == {"lead_id": created["id"], "items": []}
    score = await api.ok("GET", f"{LEADS}/{created['id']}/score", as_="reader")
    assert (score["lead_id"], score["score"], score["stage"]) == (created["id"], 0, "cold")

    deleted = await api.call("DELETE", f"{LEADS}/{created['id']}", as_="admin")
    assert deleted.status == 204
    assert await deleted.read() == b""
    assert api.rows(Lead) == []
    (tombstone,) = api.rows(Erasure)
    assert (tombstone.lead_id, tombstone.reason, tombstone.requested_by) == (
        created["id"],
        "delete",
        "token:admin",
    )
    gone = await api.error("GET", f"{LEADS}/{created['id']}", 410)
    assert gone["erased_at"] == tombstone.erased_at.isoformat()


async def test_convert_export_and_erase(api: Api) -> None:
    # A chat lead: storefront events, then contact details.
    repository = LeadService(api.engine)
    repository.apply(
        [
            RecordEvent(
                session_id="s-ada",
                event_id="s-ada-view",
                type="product_view",
                ts=T0,
                source="storefront",
                product_id="hoodie-classic",
            ),
            UpdateContact(session_id="s-ada", first_name="Ada", email="ada@example.com"),
        ],
        now=T0,
    )
    for session, text in (("s-ada", "Do you ship to Lyon?"), ("s-grace", "Hello")):
        await record_conversation(api.tracker_url, session, ("user", text), start=T0.timestamp())
    lead_id = str(api.rows(Lead, session_id="s-ada")[0].id)

    converted = await api.ok(
        "POST",
        f"{LEADS}/{lead_id}/convert",
        as_="writer",
        json={"customer_group": "wholesale", "reason": "first order"},
    )
    assert (converted["status"], converted["lifecycle"], converted["customer_group"]) == (
        "Won",
        "customer",
        "wholesale",
    )
    assert converted["converted_at"] is not None
    # A body is optional.
    again = await api.ok("POST", f"{LEADS}/{lead_id}/convert", as_="writer")
    assert (again["converted_at"], again["customer_group"]) == (
        converted["converted_at"],
        "wholesale",
    )

    response = await api.call("GET", f"{LEADS}/{lead_id}/data", as_="admin")
    assert response.status == 200
    assert response.headers["Content-Disposition"] == (
        f'attachment; filename="lead-{lead_id}.json"'
    )
    data = await response.json()
    assert data["lead"]["id"] == lead_id and data["sessions"] == ["s-ada"]
    assert [event["event_id"] for event in data["events"]] == ["s-ada-view"]
    assert [(row["to_status"], row["changed_by"]) for row in data["status_history"]] == [
        ("Won", "token:writer")
    ]
    assert [turn["text"] for turn in data["conversation"]] == ["Do you ship to Lyon?"]

    erased = await api.ok("POST", f"{LEADS}/{lead_id}/erase", as_="admin")
    assert erased["lead_id"] == lead_id and erased["reason"] == "request"
    assert erased["removed"]["events"] == 1 and erased["removed"]["leads"] == 1
    assert erased["removed"]["conversation_events"] == 2  # action_listen and the message
    assert api.rows(Lead) == []
    await api.error("GET", f"{LEADS}/{lead_id}", 410)
    # The other conversation stays.
    conversations = ConversationStore(api.tracker_url)
    try:
        assert conversations.conversation(["s-ada"]) == []
        assert len(conversations.conversation(["s-grace"])) == 1
    finally:
        conversations.dispose()


@on_shared_app
@pytest.mark.parametrize(
    ("status", "lifecycle", "converted"),
    [
        # entered as won: a customer since it was entered, as if set to Won afterwards
        ("Won", "customer", True),
        # any other status is no conversion
        ("Qualified", "qualified_lead", False),
    ],
)
async def test_a_lead_created_as_won_is_converted(
    shared: Api, status: str, lifecycle: str, converted: bool
) -> None:
    created = await shared.create(email=unique_email(), status=status)
    assert (created["status"], created["lifecycle"]) == (status, lifecycle)
    assert (created["converted_at"] is not None) is converted
    if converted:
        assert created["converted_at"] == created["created_at"]


# --- 400: what is wrong, by name ----------------------------------------------------------------


@on_shared_app
@pytest.mark.parametrize(
    ("method", "path", "sent", "fragment", "fields"),
    [
        # unknown fields are named, with the other problems of the record
        (
            "POST",
            LEADS,
            {"json": {**ADA, "colour": "red", "nickname": "A", "email": "nope"}},
            "invalid lead: colour: unknown field",
            ["colour", "nickname", "email"],
        ),
        # invalid e-mail
        ("POST", LEADS, {"json": {**ADA, "email": "ada@"}}, "email: expected an e-mail", ["email"]),
        # invalid phone, no e-mail
        (
            "POST",
            LEADS,
            {"json": {"first_name": "A", "last_name": "B", "phone": "12"}},
            "phone: expected a valid phone number",
            ["phone"],
        ),
        # a whole record is needed
        ("POST", LEADS, {"json": {"company": "Acme"}}, "first_name: required", None),
        # text no database can store (a lone surrogate)
        (
            "POST",
            LEADS,
            {"data": '{"first_name": "A\\ud800", "last_name": "B", "email": "a@example.com"}'},
            "first_name: expected valid Unicode text",
            ["first_name"],
        ),
        # a source left empty, too long, or holding a control or invisible character
        (
            "POST",
            LEADS,
            {"json": {**ADA, "source": "  "}},
            "source: expected a label such as 'Trade show' (1-40 characters); got an empty one",
            ["source"],
        ),
        (
            "POST",
            LEADS,
            {"json": {**ADA, "source": "Trade show " * 4}},
            "source: expected a label of at most 40 characters, got 43",
            ["source"],
        ),
        (
            "POST",
            LEADS,
            {"json": {**ADA, "source": "Trade\tshow"}},
            "source: expected a label of visible characters; got U+0009 at character 6",
            ["source"],
        ),
        (
            "PATCH",
            "{lead}",
            {"json": {"source": "Trade\u200bshow"}},
            "source: expected a label of visible characters; got U+200B at character 6",
            ["source"],
        ),
        ("PATCH", "{lead}", {"json": {"source": ""}}, "source: expected a label", ["source"]),
        ("PATCH", "{lead}", {"json": {"source": 7}}, "source: expected a string", ["source"]),
        # not an object
        ("POST", LEADS, {"json": [ADA]}, "body must be a JSON object, got list", None),
        ("POST", LEADS, {"json": "Ada"}, "body must be a JSON object, got str", None),
        # not JSON at all
        ("POST", LEADS, {"data": "{first_name: Ada"}, "body must be JSON", None),
        ("POST", LEADS, {"data": ""}, "body must be JSON", None),
        # query parameters
        ("POST", f"{LEADS}?merge=maybe", {"json": ADA}, "'merge' must be true or false", None),
        ("POST", f"{LEADS}?dry_run=1", {"json": ADA}, "unknown query parameter(s): dry_run", None),
        # PUT needs a whole record
        (
            "PUT",
            "{lead}",
            {"json": {"company": "Acme"}},
            "invalid lead:",
            ["email", "first_name", "last_name"],
        ),
        # PATCH checks what it gets
        ("PATCH", "{lead}", {"json": {"favourite": "x"}}, "favourite: unknown field", None),
        ("PATCH", "{lead}", {"json": {"status": "Sold"}}, "status: expected one of", ["status"]),
        ("PATCH", "{lead}", {"json": {"first_name": None}}, "first_name: required", None),
        ("PATCH", "{lead}", {"json": {"first_name": 7}}, "expected a string, got int", None),
        ("PATCH", "{lead}", {"json": {"company": "x" * 161}}, "at most 160 characters", None),
        ("PATCH", "{lead}", {"data": "null"}, "body must be a JSON object, got NoneType", None),
        ("PATCH", "{lead}?x=1", {"json": {}}, "unknown query parameter(s): x", None),
        # convert
        (
            "POST",
            "{lead}/convert",
            {"json": {"group": "vip"}},
            "unknown field(s): group; expected customer_group, reason",
            None,
        ),
        (
            "POST",
            "{lead}/convert",
            {"json": {"customer_group": "x" * 65}},
            "customer_group: expected at most 64",
            ["customer_group"],
        ),
        ("POST", "{lead}/convert", {"json": ["vip"]}, "body must be a JSON object", None),
        ("POST", "{lead}/convert", {"data": "vip"}, "body must be JSON", None),
        ("POST", "{lead}/erase?now=1", {}, "unknown query parameter(s): now", None),
        ("DELETE", "{lead}?force=true", {}, "unknown query parameter(s): force", None),
        ("GET", "{lead}/data?format=csv", {}, "unknown query parameter(s): format", None),
    ],
)
async def test_bad_requests_name_the_problem(
    shared: Api,
    method: str,
    path: str,
    sent: dict[str, Any],
    fragment: str,
    fields: list[str] | None,
) -> None:
    lead = await shared.create(email=unique_email(), phone="0612345678")
    count = len(shared.rows(Lead))
    error = await shared.error(method, path.format(lead=f"{LEADS}/{lead['id']}"), 400, **sent)
    assert fragment in error["message"]
    if fields is not None:
        assert sorted(item["field"] for item in error["errors"]) == sorted(fields)
    # Nothing changed.
    assert await shared.ok("GET", f"{LEADS}/{lead['id']}") == lead
    assert len(shared.rows(Lead)) == count


@on_shared_app
@pytest.mark.parametrize(
    ("params", "fragment"),
    [
        ({"colour": "red"}, "unknown query parameter(s): colour"),  # a typo'd filter
        ({"sort": "name"}, "'sort' must be one of created_at, -created_at"),  # no such order
        ({"sort": "-id"}, "'sort' must be one of"),
        ({"cursor": "garbage"}, "'cursor': cursor is not one returned by this API"),
        ({"cursor": ""}, "'cursor'"),
        ({"updated_since": "2026-11-30T09:00:00"}, "'updated_since' must be an ISO 8601 time"),
        ({"updated_since": "2026-11-30"}, "with a timezone"),  # a date has no time zone
        ({"updated_since": "yesterday"}, "got 'yesterday'"),
        ({"updated_since": "0001-01-01T00:00:00+05:00"}, "'updated_since'"),  # before year 1 in UTC
        ({"updated_since": "9999-12-31T23:00:00-05:00"}, "'updated_since'"),  # after 9999 in UTC
        ({"q": "x" * 201}, "'q' must be at most 200 characters"),
        ({"q": "a\x00b"}, "'q' contains a NUL character"),
        ({"source": "\x00"}, "'source' contains a NUL character"),
        # no lead can have such a source
        ({"source": "x" * 41}, "'source': expected a label of at most 40 characters, got 41"),
        ({"source": "Trade\nshow"}, "'source': expected a label of visible characters; got U+000A"),
        ({"min_score": "1.5"}, "'min_score' must be an integer"),
        ({"limit": "201"}, "'limit' must be between 1 and 200"),
    ],
)
async def test_bad_list_parameters_are_named(
    shared: Api, params: dict[str, str], fragment: str
) -> None:
    error = await shared.error("GET", LEADS, 400, params=params)
    assert fragment in error["message"]


def _forged(payload: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")


@on_shared_app
@pytest.mark.parametrize(
    ("sort", "cursor"),
    [
        # a cursor issued for another sort order
        ("-score", encode_cursor("created_at", T0, "a" * 32)),
        ("created_at", encode_cursor("-created_at", T0, "a" * 32)),
        ("score", encode_cursor("-score", 0, "a" * 32)),
        # forged cursors: wrong shapes and values
        ("created_at", _forged(["created_at", "2026-11-23T10:00:00", "x"])),  # naive time
        ("created_at", _forged(["created_at", "0001-01-01T00:00:00+05:00", "x"])),  # out of range
        ("created_at", _forged(["created_at", 5, "x"])),  # not a time
        ("score", _forged(["score", "5", "x"])),  # a string for a number
        ("score", _forged(["score", True, "x"])),
        ("score", _forged(["score", 10**30, "x"])),  # beyond any score column
        ("score", _forged(["score", 1])),  # too short
        ("score", _forged({"sort": "score"})),
        ("score", base64.urlsafe_b64encode(b"\xff\xfe").decode()),  # not UTF-8
    ],
)
async def test_bad_cursor_is_400(shared: Api, sort: str, cursor: str) -> None:
    await shared.create(email=unique_email())
    error = await shared.error("GET", LEADS, 400, params={"sort": sort, "cursor": cursor})
    assert error["message"].startswith("query parameter 'cursor': ")


@on_shared_app
async def test_cursor_of_another_sort_names_both(shared: Api) -> None:
    for _ in range(3):
        await shared.create(email=unique_email())
    page = await shared.ok("GET", LEADS, params={"limit": "1", "sort": "-updated_at"})
    error = await shared.error(
        "GET", LEADS, 400, params={"sort": "updated_at", "cursor": page["next_cursor"]}
    )
    assert "belongs to sort=-updated_at, not sort=updated_at" in error["message"]


# --- 401 and 403 --------------------------------------------------------------------------------


@on_shared_app
@pytest.mark.parametrize(
    ("headers", "fragment"),
    [
        ({}, "missing bearer token"),  # no header
        ({"Authorization": "Bearer "}, "missing bearer token"),  # empty token
        ({"Authorization": f"Basic {TOKEN}"}, "missing bearer token"),  # another scheme
        ({"Authorization": "Bearer wrong"}, "invalid or revoked bearer token"),
        ({"Authorization": "Bearer lq_notatokenweissued"}, "invalid or revoked bearer token"),
        ({"Authorization": f"Bearer {TOKEN}x"}, "invalid or revoked bearer token"),
        ("revoked", "invalid or revoked bearer token"),  # a revoked store token
    ],
)
@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", LEADS), ("POST", LEADS), ("DELETE", f"{LEADS}/x"), ("GET", f"{LEADS}/x/data")],
)
async def test_without_a_valid_token_401(
    shared: Api, method: str, path: str, headers: Any, fragment: str
) -> None:
    if headers == "revoked":
        headers = {"Authorization": f"Bearer {shared.tokens['revoked']}"}
    count = len(shared.rows(Lead))
    response = await shared.call(
        method, path, as_=None, headers=headers, json={**ADA, "email": unique_email()}
    )
    assert response.status == 401
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="leads"'
    assert fragment in (await response.json())["error"]["message"]
    assert len(shared.rows(Lead)) == count


# Each caller and route: the status when the lead exists (403: the scope is missing).
SCOPES = [
    # (caller, method, path, status)
    ("shop", "GET", LEADS, 403),  # the storefront token only writes events
    ("shop", "POST", LEADS, 403),
    ("shop", "GET", "{lead}", 403),
    ("reader", "GET", LEADS, 200),
    ("reader", "GET", "{lead}", 200),
    ("reader", "GET", "{lead}/events", 200),
    ("reader", "GET", "{lead}/score", 200),
    ("reader", "POST", LEADS, 403),  # reading is not writing
    ("reader", "PATCH", "{lead}", 403),
    ("reader", "PUT", "{lead}", 403),
    ("reader", "POST", "{lead}/convert", 403),
    ("reader", "GET", "{lead}/data", 403),  # privacy operations are admin only
    ("writer", "GET", "{lead}", 403),  # writing is not reading
    ("writer", "POST", LEADS, 201),
    ("writer", "PATCH", "{lead}", 200),
    ("writer", "PUT", "{lead}", 200),
    ("writer", "POST", "{lead}/convert", 200),
    ("editor", "DELETE", "{lead}", 403),
    ("editor", "POST", "{lead}/erase", 403),
    ("editor", "GET", "{lead}/data", 403),
    ("admin", "GET", LEADS, 200),  # admin may do everything
    ("admin", "POST", LEADS, 201),
    ("admin", "PATCH", "{lead}", 200),
    ("admin", "GET", "{lead}/data", 200),
    ("admin", "POST", "{lead}/erase", 200),
    ("admin", "DELETE", "{lead}", 204),
    ("env", "GET", "{lead}/data", 200),  # LEADS_API_TOKEN has every scope
    ("env", "DELETE", "{lead}", 204),
]


def _body(path: str, email: str = "ada@example.com") -> Any:
    """A valid body for the route (ignored by those without one)."""
    if path.endswith("/convert"):
        return {"customer_group": "vip"}
    if path == LEADS:
        return {**ADA, "email": unique_email()}
    return {**ADA, "email": email}


@on_shared_app
@pytest.mark.parametrize(("caller", "method", "path", "status"), SCOPES)
async def test_scopes(shared: Api, caller: str, method: str, path: str, status: int) -> None:
    api = shared
    lead = await api.create(email=unique_email())
    count = len(api.rows(Lead))
    response = await api.call(
        method,
        path.format(lead=f"{LEADS}/{lead['id']}"),
        as_=caller,
        json=_body(path, lead["email"]),
    )
    assert response.status == status, await response.text()
    if status == 403:
        error = (await response.json())["error"]
        assert f"needs the '{error['required_scope']}' scope" in error["message"]
        expected = {"GET": "leads:read", "DELETE": "admin"}.get(method, "leads:write")
        if path.endswith(("/data", "/erase")):
            expected = "admin"
        assert error["required_scope"] == expected
        # Nothing was written.
        assert await api.ok("GET", f"{LEADS}/{lead['id']}") == lead
        assert len(api.rows(Lead)) == count


# --- 404, 409, 410 ------------------------------------------------------------------------------

EVERY_LEAD_ROUTE = [
    ("GET", ""),
    ("PUT", ""),
    ("PATCH", ""),
    ("DELETE", ""),
    ("POST", "/convert"),
    ("GET", "/data"),
    ("POST", "/erase"),
    ("GET", "/events"),
    ("GET", "/score"),
]


@on_shared_app
@pytest.mark.parametrize(("method", "suffix"), EVERY_LEAD_ROUTE)
async def test_unknown_lead_is_404(shared: Api, method: str, suffix: str) -> None:
    error = await shared.error(method, f"{LEADS}/nope{suffix}", 404, json=_body(suffix))
    assert error["message"] == "no lead with id 'nope'"


async def test_id_no_lead_can_have_is_404(api: Api) -> None:
    # A NUL character (PostgreSQL refuses it in any text) and an id far too long.
    for lead_id in ("a%00b", "x" * 300):
        for method, suffix in EVERY_LEAD_ROUTE:
            error = await api.error(method, f"{LEADS}/{lead_id}{suffix}", 404, json=_body(suffix))
            assert error["message"].startswith(("no lead with id ", "not found: the path")), (
                method,
                suffix,
            )


async def test_known_email_is_409_unless_merge(api: Api) -> None:
    first = await api.create(phone="0612345678")
    error = await api.error("POST", LEADS, 409, json={**ADA, "email": "ADA@example.com"})
    assert error["existing_id"] == first["id"]
    assert "send ?merge=true" in error["message"]
    assert len(api.rows(Lead)) == 1

    response = await api.call(
        "POST", f"{LEADS}?merge=true", json={**ADA, "last_name": "King", "company": "Acme"}
    )
    assert response.status == 200  # updated, not created
    merged = await response.json()
    assert response.headers["Location"] == f"{LEADS}/{first['id']}"
    assert (merged["id"], merged["last_name"], merged["company"], merged["phone"]) == (
        first["id"],
        "King",
        "Acme",
        "+33612345678",
    )
    assert len(api.rows(Lead)) == 1
    # merge=false is the default.
    await api.error("POST", f"{LEADS}?merge=false", 409, json=ADA)

    other = await api.create(email="grace@example.com")
    for method, body in (("PATCH", {"email": "ada@example.com"}), ("PUT", ADA)):
        error = await api.error(method, f"{LEADS}/{other['id']}", 409, json=body)
        assert error["existing_id"] == first["id"]
    assert (await api.ok("GET", f"{LEADS}/{other['id']}"))["email"] == "grace@example.com"


async def test_erased_lead_is_410_everywhere(api: Api) -> None:
    lead = await api.create()
    erased = await api.ok("POST", f"{LEADS}/{lead['id']}/erase", as_="admin")
    for method, suffix in EVERY_LEAD_ROUTE:
        error = await api.error(method, f"{LEADS}/{lead['id']}{suffix}", 410, json=_body(suffix))
        assert error["erased_at"] == erased["erased_at"], (method, suffix)
        assert lead["id"] in error["message"]
    assert len(api.rows(Erasure)) == 1
    # The address is free again.
    assert (await api.create())["id"] != lead["id"]


async def test_absorbed_id_of_an_erased_person_is_410(api: Api) -> None:
    repository = LeadService(api.engine)
    repository.apply([UpdateContact(session_id="s1", email="ada@example.com")], now=T0)
    repository.apply(
        [UpdateContact(session_id="s2", email="ada@example.com")], now=T0 + timedelta(hours=1)
    )
    ids = {row.session_id: row.id for row in api.rows(Lead)}
    # The chat only linked them; sales merge.
    await api.ok("POST", f"{LEADS}/{ids['s1']}/merge", json={"duplicate_id": ids["s2"]})
    survivor = await api.ok("GET", f"{LEADS}/{ids['s2']}")
    assert survivor["id"] == ids["s1"]  # an absorbed id answers with the survivor
    await api.call("DELETE", f"{LEADS}/{ids['s2']}", as_="admin")
    for lead_id in ids.values():
        await api.error("GET", f"{LEADS}/{lead_id}", 410)


# --- sources -------------------------------------------------------------------------------------


@on_shared_app
@pytest.mark.parametrize(
    ("sent", "stored"),
    [
        # the labels people type, as written
        ("Website inquiry", "Website inquiry"),
        ("Phone call", "Phone call"),
        ("Trade show", "Trade show"),
        ("Email campaign", "Email campaign"),
        ("Social media", "Social media"),
        ("Referral", "Referral"),
        # trimmed, with runs of spaces made one; case kept
        ("  trade   SHOW ", "trade SHOW"),
        # any script and emoji
        ("Salon Öko 🌱", "Salon Öko 🌱"),
        # a source the product sets itself
        ("web_form", "web_form"),
        # null: the API's own source
        (None, "api"),
    ],
)
async def test_sources_are_taken_as_people_write_them(
    shared: Api, sent: str | None, stored: str
) -> None:
    lead = await shared.create(email=unique_email(), source=sent)
    assert lead["source"] == stored
    assert (await shared.ok("GET", f"{LEADS}/{lead['id']}"))["source"] == stored


@on_shared_app
async def test_a_source_is_changed_by_patch_and_put_and_kept_by_null(shared: Api) -> None:
    lead = await shared.create(email=unique_email(), source="Trade show")
    path = f"{LEADS}/{lead['id']}"
    patched = await shared.ok("PATCH", path, json={"source": " Phone  call"})
    assert patched["source"] == "Phone call"
    kept = await shared.ok("PATCH", path, json={"source": None, "company": "Acme"})
    assert kept["source"] == "Phone call"
    replaced = await shared.ok(
        "PUT", path, json={**ADA, "email": lead["email"], "source": "Referral"}
    )
    assert replaced["source"] == "Referral"


async def test_source_filter_ignores_case_and_spacing(api: Api) -> None:
    book = LeadBook(LeadService(api.engine), region="FR")
    ids: dict[str, str] = {}
    for name, source in (
        ("Ada", "Trade show"),
        ("Grace", "trade show"),
        ("Alan", "TRADE SHOW"),
        ("Ann", "Trade show 2026"),
        ("Cy", "Référence"),
        ("Dee", None),  # the API's own source: api
    ):
        data = {"first_name": name, "last_name": "X", "email": f"{name.lower()}@example.com"}
        ids[name] = book.create({**data, "source": source}, by="seed").lead["id"]
    # A chat lead and a storefront lead: sources the product sets itself.
    LeadService(api.engine).apply(
        [
            UpdateContact(session_id="s-chat", first_name="Eve", email="eve@example.com"),
            RecordEvent(
                session_id="s-shop",
                event_id="s-shop-1",
                type="product_view",
                ts=T0,
                source="storefront",
            ),
        ],
        now=T0,
    )
    ids["Eve"] = str(api.rows(Lead, session_id="s-chat")[0].id)
    ids["Fay"] = str(api.rows(Lead, session_id="s-shop")[0].id)

    async def found(source: str) -> set[str]:
        page = await api.ok("GET", LEADS, params={"source": source}, as_="reader")
        listed = {item["id"] for item in page["items"]}
        return {name for name, lead_id in ids.items() if lead_id in listed}

    every = set(ids)
    cases: list[tuple[str, set[str]]] = [
        ("Trade show", {"Ada", "Grace", "Alan"}),  # every case of the same label
        ("trade show", {"Ada", "Grace", "Alan"}),
        ("tRaDe ShOw", {"Ada", "Grace", "Alan"}),
        ("  trade   show ", {"Ada", "Grace", "Alan"}),  # spacing as stored
        ("Trade\u00a0show", {"Ada", "Grace", "Alan"}),  # a no-break space is a space
        ("Trade", set()),  # the whole label, not a part of it
        ("trade show 2026", {"Ann"}),
        ("Référence", {"Cy"}),  # exactly as written, whatever the database lowers
        ("api", {"Dee"}),
        ("API", {"Dee"}),
        ("chat", {"Eve"}),
        ("Storefront", {"Fay"}),
        ("", every),  # empty: no filter, as for q
        ("   ", every),
    ]
    for source, expected in cases:
        assert await found(source) == expected, source


# --- the list: filters, sorting, pages ----------------------------------------------------------


async def test_list_filters(api: Api) -> None:
    book = LeadBook(LeadService(api.engine), region="FR")
    now = datetime.now(timezone.utc)
    people = [
        # (first, last, email, company, source, updated)
        (
            "Ada",
            "Lovelace",
            "ada@example.com",
            "Analytical Engines",
            "fair",
            now - timedelta(days=9),
        ),
        ("Grace", "Hopper", "grace@navy.example", "100% Navy", "web", now - timedelta(days=2)),
        ("Alan", "Turing", "alan_t@example.org", "Bletchley", "fair", now - timedelta(hours=1)),
        ("Ann", "Percent", "ann@example.com", "Acme_Corp", "api", now),
    ]
    ids = {}
    for first, last, email, company, source, at in people:
        data = {"first_name": first, "last_name": last, "email": email, "company": company}
        ids[first] = book.create({**data, "source": source}, by="seed", now=at).lead["id"]

    async def found(**params: str) -> set[str]:
        page = await api.ok("GET", LEADS, params=params, as_="reader")
        return {
            name for name, lead_id in ids.items() if lead_id in {i["id"] for i in page["items"]}
        }

    cases: list[tuple[dict[str, str], set[str]]] = [
        ({}, {"Ada", "Grace", "Alan", "Ann"}),
        ({"source": "fair"}, {"Ada", "Alan"}),
        ({"source": "nowhere"}, set()),
        ({"q": "LOVE"}, {"Ada"}),  # last name, any case
        ({"q": "ada"}, {"Ada"}),  # first name and e-mail
        ({"q": "navy"}, {"Grace"}),  # company and e-mail
        ({"q": "example.org"}, {"Alan"}),
        ({"q": "%"}, {"Grace"}),  # "%" is a character, not a wildcard
        ({"q": "100%"}, {"Grace"}),
        ({"q": "_"}, {"Alan", "Ann"}),  # so is "_"
        ({"q": "n_"}, {"Grace"}),  # each word starts a word: "n" is Navy's, not alaN_t's
        ({"q": "e_c"}, {"Ada", "Ann"}),  # "e" and "c": example and com
        ({"q": "a%n"}, set()),
        ({"q": "\\"}, set()),  # the escape character itself
        ({"q": "zzz"}, set()),
        ({"updated_since": (now - timedelta(days=3)).isoformat()}, {"Grace", "Alan", "Ann"}),
        ({"updated_since": (now - timedelta(minutes=30)).isoformat()}, {"Ann"}),
        ({"updated_since": now.isoformat().replace("+00:00", "Z")}, {"Ann"}),  # at: included
        (
            {
                "updated_since": (now - timedelta(hours=2))
                .astimezone(timezone(timedelta(hours=5)))
                .isoformat()
            },
            {"Alan", "Ann"},  # another offset, the same instant
        ),
        (
            {"source": "fair", "q": "a", "updated_since": (now - timedelta(days=1)).isoformat()},
            {"Alan"},
        ),
    ]
    for params, expected in cases:
        assert await found(**params) == expected, params
    # The updated_since filter follows edits.
    await api.ok("PATCH", f"{LEADS}/{ids['Ada']}", json={"company": "Babbage"})
    assert await found(updated_since=(now - timedelta(minutes=30)).isoformat()) == {"Ada", "Ann"}


def _sort_key(sort: str) -> Any:
    column, descending = LEAD_SORTS[sort]

    def key(lead: dict[str, Any]) -> Any:
        value = lead[column]
        if column != "score":
            value = datetime.fromisoformat(value)
        return (value, lead["id"])

    return key, descending


async def test_every_sort_pages_through_every_lead_once(api: Api) -> None:
    book = LeadBook(LeadService(api.engine), region="FR")
    # Seven leads at one instant with one score: only their ids tell them apart.
    for n in range(7):
        book.create({**ADA, "email": f"tie{n}@example.com"}, by="seed", now=T0)
    # And leads with scores and other times, from the storefront.
    scorer = scorer_for(Settings(scoring_config_path=SCORING_CONFIG))
    repository = LeadService(api.engine, scorer)
    for n in range(4):
        repository.apply(
            [
                RecordEvent(
                    session_id=f"shop-{n}",
                    event_id=f"shop-{n}-{k}",
                    type="product_view",
                    ts=T0 + timedelta(minutes=k),
                    source="storefront",
                    product_id="hoodie-classic",
                )
                for k in range(n + 1)
            ],
            now=T0 + timedelta(hours=n % 2),
        )
    everything = await api.ok("GET", LEADS, params={"limit": "200"})
    assert len(everything["items"]) == 11 and everything["next_cursor"] is None
    assert len({lead["score"] for lead in everything["items"]}) > 1
    for sort in LEAD_SORTS:
        key, descending = _sort_key(sort)
        expected = sorted(everything["items"], key=key, reverse=descending)
        for limit in (1, 2, 3, 11):
            walked: list[dict[str, Any]] = []
            params = {"sort": sort, "limit": str(limit)}
            while True:
                page = await api.ok("GET", LEADS, params=params, as_="reader")
                assert page["sort"] == sort and page["limit"] == limit
                assert len(page["items"]) <= limit
                walked += page["items"]
                if page["next_cursor"] is None:
                    break
                assert len(page["items"]) == limit
                params = {**params, "cursor": page["next_cursor"]}
            # Every lead once, in order: no duplicates, no gaps, ties broken by id.
            assert [lead["id"] for lead in walked] == [lead["id"] for lead in expected], (
                sort,
                limit,
            )


async def test_pages_are_stable_while_leads_are_added(api: Api) -> None:
    book = LeadBook(LeadService(api.engine), region="FR")
    for n in range(4):
        book.create({**ADA, "email": f"lead{n}@example.com"}, by="seed", now=T0)
    first = await api.ok("GET", LEADS, params={"sort": "created_at", "limit": "2"})
    # A lead created after the first page comes last in created_at order.
    book.create({**ADA, "email": "late@example.com"}, by="seed", now=T0 + timedelta(days=1))
    rest = await api.ok(
        "GET", LEADS, params={"sort": "created_at", "limit": "10", "cursor": first["next_cursor"]}
    )
    emails = [lead["email"] for lead in first["items"] + rest["items"]]
    assert len(emails) == len(set(emails)) == 5
    assert emails[-1] == "late@example.com"


async def test_list_leaves_merged_leads_out(api: Api) -> None:
    repository = LeadService(api.engine)
    repository.apply([UpdateContact(session_id="s1", email="ada@example.com")], now=T0)
    repository.apply(
        [UpdateContact(session_id="s2", email="ada@example.com")], now=T0 + timedelta(hours=1)
    )
    ids = {row.session_id: row.id for row in api.rows(Lead)}
    await api.ok("POST", f"{LEADS}/{ids['s1']}/merge", json={"duplicate_id": ids["s2"]})
    page = await api.ok("GET", LEADS)
    assert [lead["session_id"] for lead in page["items"]] == ["s1"]
