"""Web-form lead capture (``POST /api/create-lead``) and the public endpoints' rate limits.

Validation runs against one app on SQLite shared by the module (without rate
limits); what a submission stores runs on SQLite and PostgreSQL; the rate limits
get an app each, with small limits.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from aiohttp import ClientResponse, FormData
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select
from sqlalchemy.engine import Engine
from yarl import URL

from bot.leads import LeadService
from bot.leads.commands import RecordAnswer, RecordEvent
from bot.settings import Settings
from bot.store.db import create_db_engine
from bot.store.migrate import upgrade
from bot.store.models import Lead, LeadNote
from bot.store.tokens import TokenStore
from bot.web import create_app
from bot.web.forms import DEFAULT_CONSENT_TEXT

FORM = "/api/create-lead"
EVENTS = "/api/v2/events"
TOKEN = "leads-api-token-123"
SHOP_TOKEN = "storefront-token-456"
PUBLIC_URL = "https://shop.example.com"
OTHER_HOST = "thanks.example.net"
T0 = datetime(2026, 11, 23, 10, 0, tzinfo=timezone.utc)

on_shared_app = pytest.mark.asyncio(loop_scope="module")


def unique_email() -> str:
    return f"{uuid.uuid4().hex[:12]}@example.com"


def person(**fields: str) -> dict[str, str]:
    """A valid submission: names, a new e-mail address and consent."""
    return {
        "first_name": "Ada",
        "last_name": "Lovelace",
        "email": unique_email(),
        "consent": "yes",
        **fields,
    }


def multipart(fields: dict[str, str]) -> FormData:
    form = FormData()
    for name, value in fields.items():
        # A content type makes aiohttp send multipart/form-data.
        form.add_field(name, value, content_type="text/plain; charset=utf-8")
    return form


@dataclass
class Site:
    client: TestClient
    engine: Engine

    async def submit(self, **kwargs: Any) -> ClientResponse:
        return await self.client.post(FORM, allow_redirects=False, **kwargs)

    def leads(self, **where: Any) -> list[Any]:
        table = Lead.__table__
        query = select(table).where(*(table.c[name] == value for name, value in where.items()))
        with self.engine.connect() as connection:
            return list(connection.execute(query))

    def count(self) -> int:
        return len(self.leads())


@contextlib.asynccontextmanager
async def serve(database_url: str, base: Path, **changes: Any) -> AsyncIterator[Site]:
    settings = replace(
        Settings(),
        database_url=database_url,
        leads_api_token=TOKEN,
        storefront_token=SHOP_TOKEN,
        spool_dir=base / "spool",
        tracker_store_url=f"sqlite:///{base / 'tracker.db'}",
        public_url=PUBLIC_URL,
        form_redirect_hosts=(OTHER_HOST,),
        **changes,
    )
    engine = create_db_engine(database_url)
    try:
        async with TestClient(TestServer(create_app(settings))) as client:
            yield Site(client, engine)
    finally:
        engine.dispose()


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def shared(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Site]:
    base = tmp_path_factory.mktemp("shared")
    url = f"sqlite:///{base / 'leads.db'}"
    upgrade(url)
    async with serve(url, base, form_rate_limit=0) as site:
        yield site


@pytest.fixture
async def site(database_url: str, tmp_path: Path) -> AsyncIterator[Site]:
    async with serve(database_url, tmp_path, form_rate_limit=0) as served:
        yield served


# --- what a submission stores -------------------------------------------------------------------


@on_shared_app
@pytest.mark.parametrize("encoding", ["urlencoded", "multipart", "json"])
async def test_each_encoding_creates_a_lead_with_its_consent(shared: Site, encoding: str) -> None:
    fields = person(
        first_name=" Zoë ",
        email="Zoe.Ada@Example.COM" if encoding == "json" else unique_email().upper(),
        phone="06 12 34 56 78",
        company="Analytical Engines",
        position="Countess",
        address="12 rue de la Paix, Paris",
        notes="Please call after 5pm",
        consent="on",
        consent_text="I agree that Example Shop contacts me about my quote.",
    )
    sent: dict[str, Any] = (
        {"json": fields}
        if encoding == "json"
        else {"data": multipart(fields) if encoding == "multipart" else fields}
    )
    before = datetime.now(timezone.utc)
    response = await shared.submit(**sent)
    assert response.status == 201, await response.text()
    # The public gets no lead data back.
    assert await response.json() == {"status": "received"}
    (lead,) = shared.leads(email=fields["email"].strip().lower())
    assert (lead.first_name, lead.last_name, lead.phone, lead.company, lead.position) == (
        "Zoë",
        "Lovelace",
        "+33612345678",
        "Analytical Engines",
        "Countess",
    )
    assert (lead.address, lead.source, lead.status) == (
        "12 rue de la Paix, Paris",
        "web_form",
        "New",
    )
    assert lead.consent_text == "I agree that Example Shop contacts me about my quote."
    assert before <= lead.consent_at <= datetime.now(timezone.utc)
    with shared.engine.connect() as connection:
        notes = connection.execute(
            select(LeadNote.__table__).where(LeadNote.__table__.c.lead_id == lead.id)
        ).all()
    assert [(note.author, note.text) for note in notes] == [("web form", "Please call after 5pm")]


@on_shared_app
async def test_consent_wording_defaults(shared: Site) -> None:
    fields = person()
    assert (await shared.submit(data=fields)).status == 201
    (lead,) = shared.leads(email=fields["email"])
    assert lead.consent_text == DEFAULT_CONSENT_TEXT


@on_shared_app
@pytest.mark.parametrize(
    ("consent", "accepted"),
    [
        ("yes", True),
        ("on", True),  # what a ticked HTML checkbox sends
        ("true", True),
        ("1", True),
        (" YES ", True),
        (True, True),  # JSON
        (None, False),  # not sent: the box was not ticked
        ("", False),
        ("no", False),
        ("off", False),
        ("false", False),
        ("0", False),
        (False, False),
        (1, False),  # a JSON number is not a yes
        (["yes"], False),
    ],
)
async def test_consent_is_required(shared: Site, consent: Any, accepted: bool) -> None:
    fields: dict[str, Any] = person()
    if consent is None:
        del fields["consent"]
    else:
        fields["consent"] = consent
    response = await shared.submit(json=fields)
    if accepted:
        assert response.status == 201
        assert len(shared.leads(email=fields["email"])) == 1
        return
    assert response.status == 400
    error = (await response.json())["error"]
    assert "'consent'" in error["message"]
    assert error["errors"] == [{"field": "consent", "message": "required"}]
    assert shared.leads(email=fields["email"]) == []


@on_shared_app
@pytest.mark.parametrize("redirect", [None, "/thanks"])
async def test_honeypot_looks_accepted_but_stores_nothing(
    shared: Site, redirect: str | None
) -> None:
    fields = person(website="http://spam.example")
    if redirect is not None:
        fields["redirect"] = redirect
    count = shared.count()
    response = await shared.submit(data=fields)
    if redirect is None:
        assert response.status == 201
        assert await response.json() == {"status": "received"}
    else:
        assert response.status == 303
        assert response.headers["Location"] == redirect
    assert shared.count() == count
    assert shared.leads(email=fields["email"]) == []


@on_shared_app
async def test_empty_honeypot_is_a_person(shared: Site) -> None:
    fields = person(website="")
    assert (await shared.submit(data=fields)).status == 201
    assert len(shared.leads(email=fields["email"])) == 1


# --- redirects ----------------------------------------------------------------------------------


@on_shared_app
@pytest.mark.parametrize(
    "target",
    [
        "/thanks",  # a path of this site
        "/thanks?form=quote#top",
        f"{PUBLIC_URL}/merci",  # the host of PUBLIC_URL
        "https://SHOP.example.com/merci",  # host names have no case
        "http://shop.example.com:8443/merci",  # another scheme or port of that host
        f"https://{OTHER_HOST}/ok",  # a host of FORM_REDIRECT_HOSTS
    ],
)
async def test_redirect_to_an_allowed_place_is_303(shared: Site, target: str) -> None:
    fields = person(redirect=target)
    response = await shared.submit(data=fields)
    assert response.status == 303
    assert URL(response.headers["Location"]) == URL(target)  # the host in lower case
    assert len(shared.leads(email=fields["email"])) == 1


@on_shared_app
@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example/phish",  # another host
        "//evil.example/phish",  # scheme-relative: another host
        "\\\\evil.example/phish",
        "https://shop.example.com.evil.example/",  # a longer host name
        "https://shop.example.com@evil.example/",  # user info before the real host
        "javascript:alert(1)",
        "ftp://shop.example.com/file",  # not http(s)
        "thanks",  # relative to the endpoint: not what a form means
        # Browsers read "\\" as "/" in http(s) URLs: this one goes to evil.example,
        # although urlsplit reads shop.example.com.
        "http://evil.example\\@shop.example.com/",
        "/\\evil.example/phish",  # "/\\" is "//" to a browser: another host
        "https://user@shop.example.com/",  # user info, even before an allowed host
        "http://shop.example.com:99999/",  # no such port (yarl refused it after storing)
        "/thanks\r\nSet-Cookie: session=stolen",  # no header injection
        "/thanks\tx",  # browsers drop tabs and newlines anywhere in a URL
        "https://shop.example.com/a b",
        "https://shop.example.com/\x7f",
    ],
)
@pytest.mark.parametrize("encoding", ["json", "urlencoded"])
async def test_open_redirect_is_refused(shared: Site, target: str, encoding: str) -> None:
    fields = person(redirect=target)
    response = await shared.submit(**{"json" if encoding == "json" else "data": fields})
    assert response.status == 400, response.headers.get("Location")
    assert "field 'redirect'" in (await response.json())["error"]["message"]
    # Refused before anything is stored.
    assert shared.leads(email=fields["email"]) == []


# --- bad submissions ----------------------------------------------------------------------------


@on_shared_app
@pytest.mark.parametrize(
    ("sent", "status", "fragment"),
    [
        # unknown fields are named
        ({"data": person(colour="red")}, 400, "unknown field(s): colour"),
        ({"json": person(source="ads", status="Won")}, 400, "unknown field(s): source, status"),
        # a field sent twice (two inputs with one name)
        (
            {"data": [*person().items(), ("email", "other@example.com")]},
            400,
            "field 'email' was sent 2 times",
        ),
        # a file where text was expected
        (
            {"data": {**person(), "first_name": b"Ada"}},  # bytes: uploaded as a file
            400,
            "field 'first_name': files are not accepted",
        ),
        # the lead's own rules
        ({"data": person(email="ada@")}, 400, "email: expected an e-mail address"),
        ({"data": person(phone="12")}, 400, "phone: expected a valid phone number"),
        ({"data": person(last_name="")}, 400, "last_name: required"),
        ({"json": {**person(), "first_name": 5}}, 400, "first_name: expected a string, got int"),
        ({"data": person(company="x" * 161)}, 400, "company: expected at most 160"),
        # the form's own fields
        ({"data": person(consent_text="x" * 1001)}, 400, "field 'consent_text'"),
        ({"data": person(session_id="s" * 129)}, 400, "field 'session_id'"),
        ({"json": {**person(), "session_id": 42}}, 400, "field 'session_id': expected a string"),
        ({"data": person(session_id="a\x00b")}, 400, "field 'session_id'"),
        # text no database can store (a lone surrogate, "\ud800" in JSON)
        ({"json": person(session_id="s\ud800")}, 400, "field 'session_id'"),
        ({"json": person(consent_text="I agree \ud800")}, 400, "field 'consent_text'"),
        ({"json": person(company="Acme \ud800")}, 400, "company: expected valid Unicode"),
        # a staff-entered lead's session: nobody outside may write to it
        ({"json": person(session_id="lead-0a1b2c")}, 400, "reserved for leads entered by staff"),
        ({"json": person(session_id="s\r\nx")}, 400, "without control characters"),
        # bodies
        ({"json": [person()]}, 400, "body must be a JSON object, got list"),
        (
            {"data": "{not json", "headers": {"Content-Type": "application/json"}},
            400,
            "body must be JSON",
        ),
        # content types
        ({"data": "first_name=Ada", "headers": {"Content-Type": "text/plain"}}, 415, "text/plain"),
        (
            {"data": "<lead/>", "headers": {"Content-Type": "application/xml"}},
            415,
            "send the form as application/x-www-form-urlencoded, multipart/form-data",
        ),
        ({"data": b"first_name=Ada"}, 415, "not application/octet-stream"),
    ],
)
async def test_bad_submissions_are_refused(
    shared: Site, sent: dict[str, Any], status: int, fragment: str
) -> None:
    count = shared.count()
    response = await shared.submit(**sent)
    body = await response.json()
    assert response.status == status, body
    assert fragment in body["error"]["message"]
    assert shared.count() == count


@on_shared_app
async def test_form_needs_no_token_and_ignores_one(shared: Site) -> None:
    fields = person()
    response = await shared.submit(data=fields, headers={"Authorization": "Bearer wrong"})
    assert response.status == 201
    assert len(shared.leads(email=fields["email"])) == 1


# --- sessions and repeat submissions (SQLite and PostgreSQL) ------------------------------------


async def test_session_id_joins_the_chat_lead(site: Site) -> None:
    repository = LeadService(site.engine)
    repository.apply(
        [
            RecordAnswer(
                session_id="shop-42",
                answer_id="shop-42:budget",
                key="budget",
                raw="about 300 euros",
                value={"amount": Decimal("300"), "currency": "EUR"},
                status="answered",
                answered_at=T0,
            ),
            RecordEvent(
                session_id="shop-42",
                event_id="shop-42:view",
                type="product_view",
                ts=T0,
                source="storefront",
                product_id="hoodie-classic",
            ),
        ],
        now=T0,
    )
    (chat_lead,) = site.leads(session_id="shop-42")
    fields = person(session_id="shop-42", phone="+33 6 12 34 56 78", company="Acme")
    response = await site.submit(data=fields)
    assert response.status == 201
    (lead,) = site.leads()  # no second lead
    assert lead.id == chat_lead.id and lead.session_id == "shop-42"
    assert (lead.first_name, lead.email, lead.phone, lead.company) == (
        "Ada",
        fields["email"],
        "+33612345678",
        "Acme",
    )
    assert lead.consent_text == DEFAULT_CONSENT_TEXT and lead.consent_at is not None
    # What the chat and the storefront recorded stays.
    stored = repository.get_lead(lead.id)
    assert stored is not None
    assert stored["answers"]["budget"]["raw"] == "about 300 euros"
    assert [event["event_id"] for event in repository.events(lead.id)] == ["shop-42:view"]
    assert stored["source"] == "chat"  # the session's lead keeps where it came from
    assert stored["lifecycle"] == "lead"


async def test_session_id_of_a_new_visitor_makes_a_web_form_lead(site: Site) -> None:
    fields = person(session_id="shop-new")
    assert (await site.submit(json=fields)).status == 201
    (lead,) = site.leads()
    assert (lead.session_id, lead.email, lead.source) == ("shop-new", fields["email"], "web_form")


async def test_session_naming_a_known_email_is_linked_not_merged(site: Site) -> None:
    email = unique_email()
    first = person(email=email, consent_text="first wording")
    assert (await site.submit(data=first)).status == 201
    (earlier,) = site.leads()
    # Later, in a new storefront session, the same person fills the form again.
    LeadService(site.engine).apply(
        [
            RecordEvent(
                session_id="shop-later",
                event_id="shop-later:view",
                type="product_view",
                ts=datetime.now(timezone.utc),
                source="storefront",
            )
        ]
    )
    again = person(
        email=email.upper(), session_id="shop-later", last_name="King", consent_text="v2"
    )
    assert (await site.submit(data=again)).status == 201
    # A public form proves nobody's identity: the earlier lead is left as it was ...
    (kept,) = site.leads(id=earlier.id)
    assert kept._mapping == earlier._mapping
    # ... and the session's lead holds the submission, linked as a likely duplicate.
    (later,) = site.leads(session_id="shop-later")
    assert later.merged_into is None
    assert (later.last_name, later.consent_text) == ("King", "v2")
    lead = LeadService(site.engine).get_lead(later.id)
    assert lead is not None
    assert [link["id"] for link in lead["possible_duplicates"]] == [earlier.id]


async def test_second_submission_with_the_same_email_is_a_linked_lead(site: Site) -> None:
    email = unique_email()
    assert (await site.submit(data=person(email=email, company="Old Co"))).status == 201
    (first,) = site.leads()
    response = await site.submit(
        json=person(
            email=f"  {email.upper()} ",
            phone="0612345678",
            company="New Co",
            consent_text="second wording",
        )
    )
    assert response.status == 201
    # The first lead is not overwritten; the second submission is not lost.
    (kept,) = site.leads(id=first.id)
    assert kept._mapping == first._mapping
    (lead,) = [lead for lead in site.leads() if lead.id != first.id]
    assert (lead.email, lead.phone, lead.company, lead.consent_text) == (
        email,
        "+33612345678",
        "New Co",
        "second wording",
    )
    stored = LeadService(site.engine).get_lead(lead.id)
    assert stored is not None
    assert [link["id"] for link in stored["possible_duplicates"]] == [first.id]


# --- rate limits --------------------------------------------------------------------------------


async def test_form_submissions_are_rate_limited(sqlite_url: str, tmp_path: Path) -> None:
    upgrade(sqlite_url)
    async with serve(sqlite_url, tmp_path, form_rate_limit=3) as site:
        # Every submission counts: stored, refused or caught by the honeypot.
        assert (await site.submit(data=person())).status == 201
        assert (await site.submit(data=person(consent="no"))).status == 400
        assert (await site.submit(data=person(website="x"))).status == 201
        count = site.count()
        response = await site.submit(data=person())
        assert response.status == 429
        retry = int(response.headers["Retry-After"])
        assert 1 <= retry <= 20  # one submission comes back every 20 s at 3 a minute
        error = (await response.json())["error"]
        assert error["retry_after"] == retry
        assert "at most 3 per minute" in error["message"]
        assert site.count() == count
        # The limit is the form's: the API is not limited by it.
        api = await site.client.get("/api/v2/leads", headers={"Authorization": f"Bearer {TOKEN}"})
        assert api.status == 200


def _event(session: str = "shop-1") -> dict[str, Any]:
    return {
        "event_id": uuid.uuid4().hex,
        "session_id": session,
        "type": "product_view",
        "ts": (datetime.now(timezone.utc) - timedelta(seconds=5)).isoformat(),
    }


async def test_storefront_events_are_rate_limited_per_address(
    sqlite_url: str, tmp_path: Path
) -> None:
    upgrade(sqlite_url)
    engine = create_db_engine(sqlite_url)
    events_only = TokenStore(engine).create("shop-2", ["events:write"])[0]
    engine.dispose()

    async with serve(sqlite_url, tmp_path, events_rate_limit=3) as served:

        async def post(token: str) -> ClientResponse:
            return await served.client.post(
                EVENTS, json=_event(), headers={"Authorization": f"Bearer {token}"}
            )

        # The full-access token is a server's: never limited.
        for _ in range(5):
            assert (await post(TOKEN)).status == 202
        for _ in range(3):
            assert (await post(SHOP_TOKEN)).status == 202
        limited = await post(SHOP_TOKEN)
        assert limited.status == 429
        assert int(limited.headers["Retry-After"]) >= 1
        assert "too many event requests" in (await limited.json())["error"]["message"]
        # Any token that may only write events is public like the storefront's.
        assert (await post(events_only)).status == 429
        assert (await post(TOKEN)).status == 202
        accepted = LeadService(served.engine).events(served.leads(session_id="shop-1")[0].id)
        assert len(accepted) == 5 + 3 + 1


async def test_no_limit_when_set_to_zero(sqlite_url: str, tmp_path: Path) -> None:
    upgrade(sqlite_url)
    async with serve(sqlite_url, tmp_path, form_rate_limit=0, events_rate_limit=0) as site:
        for _ in range(15):
            assert (await site.submit(data=person())).status == 201
        for _ in range(15):
            response = await site.client.post(
                EVENTS, json=_event(), headers={"Authorization": f"Bearer {SHOP_TOKEN}"}
            )
            assert response.status == 202
