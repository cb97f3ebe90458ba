"""The sales pages: sign-in, the lead page and its forms, acknowledgement links, escaping.

Most cases run on SQLite; the status and acknowledgement flows also run on
PostgreSQL. Stories are written at the real time: the app's outbox worker runs
on the wall clock, and nothing of a story is due while a test runs.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy.engine import Engine

from bot.handoff import ack_token
from bot.leads.book import LeadBook
from bot.leads.commands import UpdateContact
from bot.settings import Settings
from bot.store.db import create_db_engine
from bot.store.sales import SalesDesk
from bot.store.tokens import TokenStore
from bot.store.websessions import SalesSessions
from bot.web import create_app
from bot.web.pages.sessions import SESSION_COOKIE
from tests.store.test_sales_desk import SLACK_ERROR, Story, handoff_settings, tell_story

TOKEN = "sales-token-123"
SHOP_TOKEN = "storefront-token-456"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
XSS_IMG = "<img src=x onerror=alert(1)>"
XSS_SCRIPT = "<script>alert(1)</script>"
CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def _settings(database_url: str, tmp_path: Path) -> Settings:
    return handoff_settings(
        database_url=database_url,
        leads_api_token=TOKEN,
        storefront_token=SHOP_TOKEN,
        spool_dir=tmp_path / "spool",
    )


@dataclass
class Site:
    """The web app with one story told, and direct access to its database."""

    client: TestClient
    settings: Settings
    engine: Engine
    story: Story

    @property
    def desk(self) -> SalesDesk:
        return SalesDesk(self.engine)

    def page(self, lead_id: str | None = None) -> dict[str, Any]:
        page = self.desk.lead_page(lead_id or self.story.lead_id)
        assert page is not None
        return page

    def handoff(self) -> dict[str, Any]:
        handoff = self.desk.handoff(self.story.handoff_id)
        assert handoff is not None
        return handoff

    @property
    def lead_url(self) -> str:
        return f"/leads/{self.story.lead_id}"

    def ack_url(self, handoff_id: str | None = None) -> str:
        handoff_id = handoff_id or self.story.handoff_id
        return (
            f"/handoffs/{handoff_id}/ack?token={ack_token(self.settings.signing_key, handoff_id)}"
        )


async def _site(database_url: str, tmp_path: Path, **story: Any) -> AsyncIterator[Site]:
    settings = _settings(database_url, tmp_path)
    engine = create_db_engine(database_url)
    told = tell_story(engine, settings, datetime.now(timezone.utc), **story)
    try:
        async with TestClient(TestServer(create_app(settings))) as client:
            yield Site(client, settings, engine, told)
    finally:
        engine.dispose()


@pytest.fixture
async def site(migrated_sqlite_url: str, tmp_path: Path) -> AsyncIterator[Site]:
    async for built in _site(migrated_sqlite_url, tmp_path):
        yield built


@pytest.fixture
async def any_db_site(database_url: str, tmp_path: Path) -> AsyncIterator[Site]:
    async for built in _site(database_url, tmp_path):
        yield built


@pytest.fixture
async def hostile_site(migrated_sqlite_url: str, tmp_path: Path) -> AsyncIterator[Site]:
    """A shopper who typed markup into every field they could."""
    async for built in _site(
        migrated_sqlite_url, tmp_path, first_name=XSS_IMG, budget_raw=XSS_IMG, chat_text=XSS_SCRIPT
    ):
        yield built


async def _sign_in(client: TestClient, name: str = "Camille Martin", token: str = TOKEN) -> str:
    """Sign in; the session cookie's value."""
    response = await client.post(
        "/login", data={"token": token, "name": name, "next": "/leads"}, allow_redirects=False
    )
    assert response.status == 303, await response.text()
    return response.cookies[SESSION_COOKIE].value


async def _status_with_cookie(client: TestClient, path: str, cookie: str) -> int:
    """The status of a GET sending only ``cookie`` as the session (a browser replaying it)."""
    client.session.cookie_jar.clear()
    response = await client.get(
        path, headers={"Cookie": f"{SESSION_COOKIE}={cookie}"}, allow_redirects=False
    )
    return response.status


async def _csrf(site: Site) -> str:
    response = await site.client.get(site.lead_url)
    assert response.status == 200
    found = CSRF.search(await response.text())
    assert found is not None
    return found.group(1)


async def _text(response: Any, status: int) -> str:
    body: str = await response.text()
    assert response.status == status, body
    assert response.content_type == "text/html"
    return body


# --- signing in ---------------------------------------------------------------------------------


async def test_login_form_and_wrong_token(site: Site) -> None:
    form = await _text(await site.client.get("/login?next=/leads/abc"), 200)
    assert 'name="token"' in form and 'name="name"' in form
    assert 'name="next" value="/leads/abc"' in form

    response = await site.client.post(
        "/login",
        data={"token": "guess", "name": "Mallory", "next": "/leads"},
        allow_redirects=False,
    )
    body = await _text(response, 401)
    assert "Wrong token" in body and 'name="token"' in body
    assert SESSION_COOKIE not in response.headers.get("Set-Cookie", "")
    assert len(site.client.session.cookie_jar) == 0


async def test_login_sets_a_signed_cookie_and_goes_to_next(site: Site) -> None:
    response = await site.client.post(
        "/login",
        data={"token": TOKEN, "name": "Camille Martin", "next": site.lead_url},
        allow_redirects=False,
    )
    assert response.status == 303
    assert response.headers["Location"] == site.lead_url
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith(f"{SESSION_COOKIE}=")
    for attribute in ("HttpOnly", "SameSite=Strict", "Path=/", "Max-Age=43200"):
        assert attribute in cookie
    body = await _text(await site.client.get(site.lead_url), 200)
    assert "Ada Lovelace" in body and "Camille Martin" in body


async def test_login_without_a_name_is_refused(site: Site) -> None:
    response = await site.client.post(
        "/login", data={"token": TOKEN, "name": "  ", "next": "/leads"}, allow_redirects=False
    )
    assert "Your name: expected 1 to 120 characters" in await _text(response, 400)
    assert len(site.client.session.cookie_jar) == 0


@pytest.mark.parametrize(
    "target",
    ["//evil.com", "//evil.com/leads", "https://evil.com", "/\\evil.com", "evil.com", ""],
)
async def test_next_never_leaves_the_site(site: Site, target: str) -> None:
    response = await site.client.post(
        "/login", data={"token": TOKEN, "name": "Hugo", "next": target}, allow_redirects=False
    )
    assert response.status == 303
    assert response.headers["Location"] == "/leads"


async def test_logout_ends_the_session_on_the_server(site: Site) -> None:
    cookie = await _sign_in(site.client)
    other_browser = await _sign_in(site.client, "Hugo")
    site.client.session.cookie_jar.clear()
    response = await site.client.post(
        "/logout", headers={"Cookie": f"{SESSION_COOKIE}={cookie}"}, allow_redirects=False
    )
    assert (response.status, response.headers["Location"]) == (303, "/login")
    assert f'{SESSION_COOKIE}=""' in response.headers["Set-Cookie"]
    # A copy of the cookie kept from before signing out opens nothing.
    assert await _status_with_cookie(site.client, site.lead_url, cookie) == 303
    # Other sessions stay open.
    assert await _status_with_cookie(site.client, site.lead_url, other_browser) == 200


async def test_a_changed_sales_token_ends_the_sessions_it_opened(
    site: Site, tmp_path: Path
) -> None:
    cookie = await _sign_in(site.client)
    assert await _status_with_cookie(site.client, site.lead_url, cookie) == 200
    changed = replace(site.settings, leads_api_token="a-new-sales-token")
    async with TestClient(TestServer(create_app(changed))) as restarted:
        assert await _status_with_cookie(restarted, site.lead_url, cookie) == 303
        # The new token signs in.
        fresh = await _sign_in(restarted, token="a-new-sales-token")
        assert await _status_with_cookie(restarted, site.lead_url, fresh) == 200


async def test_created_tokens_sign_in_by_scope_and_revoking_ends_their_sessions(
    site: Site,
) -> None:
    tokens = TokenStore(site.engine)
    writer, _ = tokens.create("sales desk", ["leads:read", "leads:write"])
    reader, _ = tokens.create("reporting", ["leads:read"])
    events_only, _ = tokens.create("shop", ["events:write"])

    cookie = await _sign_in(site.client, "Camille", token=writer)
    site.client.session.cookie_jar.clear()
    csrf = CSRF.search(
        await _text(
            await site.client.get(site.lead_url, headers={"Cookie": f"{SESSION_COOKIE}={cookie}"}),
            200,
        )
    )
    assert csrf is not None
    response = await site.client.post(
        f"{site.lead_url}/notes",
        data={"text": "Called back", "csrf": csrf.group(1)},
        headers={"Cookie": f"{SESSION_COOKIE}={cookie}"},
        allow_redirects=False,
    )
    assert response.status == 303
    assert [note["author"] for note in site.page()["notes"]] == ["Camille"]

    # leads:read opens the pages but not the forms, signed in or as a bearer.
    read_only = {"Authorization": f"Bearer {reader}"}
    assert (await site.client.get(site.lead_url, headers=read_only)).status == 200
    response = await site.client.post(
        f"{site.lead_url}/notes", data={"text": "no"}, headers=read_only
    )
    assert "Read-only token" in await _text(response, 403)
    assert len(site.page()["notes"]) == 1

    # An events-only token opens nothing.
    response = await site.client.post(
        "/login", data={"token": events_only, "name": "Shop", "next": "/leads"}
    )
    assert "Wrong token" in await _text(response, 401)

    tokens.revoke("sales desk")
    assert await _status_with_cookie(site.client, site.lead_url, cookie) == 303


async def test_failed_sign_ins_are_rate_limited_per_address(site: Site) -> None:
    for _ in range(site.settings.login_rate_limit):
        response = await site.client.post("/login", data={"token": "guess", "name": "M"})
        assert response.status == 401
    response = await site.client.post("/login", data={"token": TOKEN, "name": "M"})
    body = await _text(response, 429)
    assert "Too many failed sign-ins" in body and 'name="token"' in body
    assert 1 <= int(response.headers["Retry-After"]) <= 60
    assert SESSION_COOKIE not in response.headers.get("Set-Cookie", "")


async def test_successful_sign_ins_are_not_limited(site: Site) -> None:
    for _ in range(site.settings.login_rate_limit * 2):
        await _sign_in(site.client)


# --- who may see the pages ----------------------------------------------------------------------


async def test_pages_send_a_browser_without_session_to_sign_in(site: Site) -> None:
    for path in (site.lead_url, "/leads", f"{site.lead_url}?tab=notes"):
        response = await site.client.get(path, allow_redirects=False)
        assert response.status == 303
        location = urlsplit(response.headers["Location"])
        assert location.path == "/login"
        assert parse_qs(location.query) == {"next": [path]}


@pytest.mark.parametrize("kind", ["garbage", "unknown", "expired", "too-long"])
async def test_bad_or_expired_cookies_are_no_session(site: Site, kind: str) -> None:
    cookie = {
        "garbage": "forged",
        "unknown": secrets.token_urlsafe(32),
        "too-long": secrets.token_urlsafe(64),
        "expired": SalesSessions(site.engine).open(
            name="Camille",
            token_hash=hashlib.sha256(TOKEN.encode()).hexdigest(),
            now=datetime.now(timezone.utc) - timedelta(hours=13),
            lifetime=timedelta(hours=12),
        ),
    }[kind]
    site.client.session.cookie_jar.update_cookies({SESSION_COOKIE: cookie})
    response = await site.client.get(site.lead_url, allow_redirects=False)
    assert response.status == 303
    assert response.headers["Location"].startswith("/login?")


async def test_a_posted_form_without_session_is_refused(site: Site) -> None:
    response = await site.client.post(f"{site.lead_url}/notes", data={"text": "hello"})
    assert "Sign-in required" in await _text(response, 401)
    assert site.page()["notes"] == []


async def test_bearer_token_opens_the_pages(site: Site) -> None:
    body = await _text(await site.client.get(site.lead_url, headers=AUTH), 200)
    assert "Ada Lovelace" in body
    assert 'name="csrf"' not in body  # bearer clients need no CSRF token
    wrong = {"Authorization": "Bearer nope"}
    response = await site.client.get(site.lead_url, headers=wrong, allow_redirects=False)
    assert response.status == 303
    storefront = {"Authorization": f"Bearer {SHOP_TOKEN}"}
    response = await site.client.get(site.lead_url, headers=storefront, allow_redirects=False)
    assert response.status == 303


# --- the lead page ------------------------------------------------------------------------------


async def test_lead_page_shows_the_whole_story(site: Site) -> None:
    body = await _text(await site.client.get(site.lead_url, headers=AUTH), 200)
    response = await site.client.get(site.lead_url, headers=AUTH)
    assert "script-src" not in response.headers["Content-Security-Policy"]
    assert "default-src 'none'" in response.headers["Content-Security-Policy"]
    # contact and consent
    for text in ("ada@example.com", "+33612345678", "You may contact me about my order"):
        assert text in body
    # answers: raw, normalised and the earlier answer
    assert "<td>800 EUR</td>" in body
    assert "{&quot;amount&quot;:800,&quot;currency&quot;:&quot;EUR&quot;}" in body
    assert "about 500 euros" in body and "1 earlier" in body
    assert "{&quot;country&quot;:&quot;FR&quot;,&quot;region&quot;:&quot;Lyon&quot;}" in body
    # score reasons with their points
    reasons = site.page()["score"]["reasons"]
    assert reasons
    for reason in reasons:
        assert f"<td>{reason['points']:+d}</td>" in body
        assert reason["rule"] in body
    # timeline and transcript
    assert "<td>product_view</td>" in body and "<td>human_requested</td>" in body
    assert "<strong>user</strong>: Does the hoodie run small?" in body
    assert "<strong>bot</strong>: It runs true to size." in body
    # the handoff and its deliveries
    assert f"Handoff {site.story.handoff_id}" in body
    assert "<dd>human_requested</dd>" in body and "<dd>immediate</dd>" in body
    assert "<dd>Camille Martin</dd>" in body and "<dd>open</dd>" in body
    assert re.search(
        r"<td>env-webhook</td><td>lead\.handoff</td><td>delivered</td><td>1</td>", body
    )
    assert re.search(r"<td>env-slack</td><td>lead\.handoff</td><td>pending</td><td>1</td>", body)
    assert f"503 {SLACK_ERROR}" in body
    assert f'action="/handoffs/{site.story.handoff_id}/ack"' in body


async def test_unknown_lead_is_a_404_page(site: Site) -> None:
    response = await site.client.get("/leads/nope<b>", headers=AUTH)
    body = await _text(response, 404)
    assert "There is no lead with id nope&lt;b&gt;." in body
    response = await site.client.post("/leads/nope/status", data={"status": "Won"}, headers=AUTH)
    assert "There is no lead with id nope." in await _text(response, 404)
    response = await site.client.post("/leads/nope/notes", data={"text": "hi"}, headers=AUTH)
    await _text(response, 404)


async def test_merged_lead_id_shows_the_survivor(site: Site) -> None:
    later = tell_story(
        site.engine,
        site.settings,
        datetime.now(timezone.utc),
        session="again",
        email=None,
        deliver=False,
    )
    site.story.repository.apply([UpdateContact(session_id="again", email="ada@example.com")])
    LeadBook(site.story.repository).merge(site.story.lead_id, later.lead_id, by="Hugo")
    body = await _text(await site.client.get(f"/leads/{later.lead_id}", headers=AUTH), 200)
    assert f"Lead {later.lead_id} was merged into this lead" in body
    assert f'action="/leads/{site.story.lead_id}/status"' in body
    assert f"Handoff {later.handoff_id}" in body and f"Handoff {site.story.handoff_id}" in body


async def test_lead_list_links_the_newest_leads(site: Site) -> None:
    body = await _text(await site.client.get("/leads", headers=AUTH), 200)
    assert f'<a href="/leads/{site.story.lead_id}">Ada Lovelace</a>' in body
    assert "open, due <time" in body and "<td>New</td>" in body


async def test_shopper_markup_is_escaped_everywhere(hostile_site: Site) -> None:
    site = hostile_site
    await _sign_in(site.client)
    response = await site.client.post(
        f"{site.lead_url}/notes", data={"text": XSS_SCRIPT, "csrf": await _csrf(site)}
    )
    assert response.status == 200  # followed the redirect back to the page
    pages = [
        await _text(await site.client.get(site.lead_url), 200),
        await _text(await site.client.get("/leads"), 200),
        await _text(await site.client.get(site.ack_url()), 200),
    ]
    for body in pages:
        assert "&lt;img src=x onerror=alert(1)&gt;" in body
        assert "<img src=x" not in body
        assert "<script" not in body
    lead_page = pages[0]
    assert "<td>&lt;img src=x onerror=alert(1)&gt;</td>" in lead_page  # the raw answer
    assert lead_page.count("&lt;script&gt;alert(1)&lt;/script&gt;") == 2  # chat and note


# --- sales forms --------------------------------------------------------------------------------


async def test_status_change_acknowledges_then_won_closes(any_db_site: Site) -> None:
    site = any_db_site
    await _sign_in(site.client, "Hugo Bernard")
    csrf = await _csrf(site)
    response = await site.client.post(
        f"{site.lead_url}/status",
        data={"status": "Contacted", "reason": "called, will order", "csrf": csrf},
        allow_redirects=False,
    )
    assert (response.status, response.headers["Location"]) == (303, site.lead_url)
    page = site.page()
    assert page["lead"]["status"] == "Contacted"
    (change,) = page["status_history"]
    assert (change["to_status"], change["changed_by"], change["reason"]) == (
        "Contacted",
        "Hugo Bernard",
        "called, will order",
    )
    assert (site.handoff()["status"], site.handoff()["acknowledged_by"]) == (
        "acknowledged",
        "Hugo Bernard",
    )
    body = await _text(await site.client.get(site.lead_url), 200)
    assert "<td>New</td><td>Contacted</td><td>Hugo Bernard</td><td>called, will order</td>" in body

    response = await site.client.post(
        f"{site.lead_url}/status", data={"status": "Won", "csrf": csrf}, allow_redirects=False
    )
    assert response.status == 303
    handoff = site.handoff()
    assert handoff["status"] == "closed" and handoff["closed_at"] is not None
    assert [c["to_status"] for c in site.page()["status_history"]] == ["Won", "Contacted"]
    # Won from the page makes a customer, as the API's convert does.
    lead = site.page()["lead"]
    assert (lead["lifecycle"], lead["converted_at"]) == ("customer", handoff["closed_at"])


async def test_bearer_forms_need_no_csrf(site: Site) -> None:
    response = await site.client.post(
        f"{site.lead_url}/status",
        data={"status": "Qualified"},
        headers=AUTH,
        allow_redirects=False,
    )
    assert response.status == 303
    (change,) = site.page()["status_history"]
    assert (change["to_status"], change["changed_by"]) == ("Qualified", "API token")


@pytest.mark.parametrize("csrf", [None, "", "forged-token"], ids=["missing", "empty", "wrong"])
async def test_forms_without_the_right_csrf_token_are_refused(site: Site, csrf: str | None) -> None:
    await _sign_in(site.client)
    extra = {} if csrf is None else {"csrf": csrf}
    posts = [
        (f"{site.lead_url}/status", {"status": "Won", **extra}),
        (f"{site.lead_url}/notes", {"text": "hello", **extra}),
        (f"/handoffs/{site.story.handoff_id}/ack", extra),
    ]
    for path, data in posts:
        response = await site.client.post(path, data=data, allow_redirects=False)
        assert "CSRF token is missing or wrong" in await _text(response, 403)
    page = site.page()
    assert (page["lead"]["status"], page["notes"], page["status_history"]) == ("New", [], [])
    assert site.handoff()["status"] == "open"


async def test_csrf_token_of_another_session_is_refused(site: Site) -> None:
    await _sign_in(site.client, "Camille")
    stolen = await _csrf(site)
    site.client.session.cookie_jar.clear()
    await _sign_in(site.client, "Hugo")
    response = await site.client.post(
        f"{site.lead_url}/status", data={"status": "Won", "csrf": stolen}, allow_redirects=False
    )
    await _text(response, 403)


@pytest.mark.parametrize("status", ["Bogus", "won", ""])
async def test_invalid_status_is_a_400_naming_the_field(site: Site, status: str) -> None:
    await _sign_in(site.client)
    response = await site.client.post(
        f"{site.lead_url}/status", data={"status": status, "csrf": await _csrf(site)}
    )
    body = await _text(response, 400)
    assert "Field <strong>status</strong>: expected one of New, Contacted, In Progress" in body
    assert site.page()["status_history"] == []


async def test_notes_empty_is_400_and_a_note_is_shown(site: Site) -> None:
    await _sign_in(site.client, "Camille Martin")
    csrf = await _csrf(site)
    for text in ("", "  \n  ", "x" * 5001):
        response = await site.client.post(
            f"{site.lead_url}/notes", data={"text": text, "csrf": csrf}, allow_redirects=False
        )
        body = await _text(response, 400)
        assert "Field <strong>text</strong>: expected a note of 1 to 5000 characters" in body
    response = await site.client.post(
        f"{site.lead_url}/notes",
        data={"text": "Wants the blue one in M.", "csrf": csrf},
        allow_redirects=False,
    )
    assert (response.status, response.headers["Location"]) == (303, site.lead_url)
    body = await _text(await site.client.get(site.lead_url), 200)
    assert "<pre>Wants the blue one in M.</pre>" in body
    assert [note["author"] for note in site.page()["notes"]] == ["Camille Martin"]


# --- acknowledging ------------------------------------------------------------------------------


async def test_ack_link_confirms_first_then_acknowledges(any_db_site: Site) -> None:
    site = any_db_site
    url = site.ack_url()
    body = await _text(await site.client.get(url), 200)
    # Opening the link (a preview, a mail scanner) changes nothing.
    assert site.handoff()["status"] == "open"
    assert f'<form method="post" action="/handoffs/{site.story.handoff_id}/ack">' in body
    token = ack_token(site.settings.signing_key, site.story.handoff_id)
    assert f'name="token" value="{token}"' in body
    assert 'name="name" value="Camille Martin"' in body  # the assigned rep

    response = await site.client.post(
        f"/handoffs/{site.story.handoff_id}/ack", data={"token": token, "name": "Camille Martin"}
    )
    assert "Acknowledged by Camille Martin" in await _text(response, 200)
    handoff = site.handoff()
    assert (handoff["status"], handoff["acknowledged_by"]) == ("acknowledged", "Camille Martin")

    again = await _text(await site.client.get(url), 200)
    assert "Already acknowledged by Camille Martin" in again
    assert 'name="token"' not in again


async def test_ack_link_needs_a_name(site: Site) -> None:
    token = ack_token(site.settings.signing_key, site.story.handoff_id)
    response = await site.client.post(
        f"/handoffs/{site.story.handoff_id}/ack", data={"token": token, "name": " "}
    )
    assert "Field <strong>name</strong>" in await _text(response, 400)
    assert site.handoff()["status"] == "open"


async def test_bad_ack_token_is_403_and_unknown_handoff_404(site: Site) -> None:
    handoff_id = site.story.handoff_id
    for token in ("", "0" * 32, ack_token(b"another key", handoff_id)):
        response = await site.client.get(f"/handoffs/{handoff_id}/ack", params={"token": token})
        assert "not valid" in await _text(response, 403)
        response = await site.client.post(
            f"/handoffs/{handoff_id}/ack", data={"token": token, "name": "Mallory"}
        )
        await _text(response, 403)
    assert site.handoff()["status"] == "open"
    response = await site.client.get(site.ack_url("no-such-handoff"))
    assert "There is no handoff with id no-such-handoff" in await _text(response, 404)
    token = ack_token(site.settings.signing_key, "no-such-handoff")
    response = await site.client.post(
        "/handoffs/no-such-handoff/ack", data={"token": token, "name": "Hugo"}
    )
    await _text(response, 404)


async def test_acknowledge_button_on_the_lead_page(any_db_site: Site) -> None:
    site = any_db_site
    await _sign_in(site.client, "Hugo Bernard")
    response = await site.client.post(
        f"/handoffs/{site.story.handoff_id}/ack",
        data={"csrf": await _csrf(site)},
        allow_redirects=False,
    )
    assert (response.status, response.headers["Location"]) == (303, site.lead_url)
    assert (site.handoff()["status"], site.handoff()["acknowledged_by"]) == (
        "acknowledged",
        "Hugo Bernard",
    )
    body = await _text(await site.client.get(site.lead_url), 200)
    assert f'action="/handoffs/{site.story.handoff_id}/ack"' not in body
    assert "by Hugo Bernard" in body


@pytest.mark.parametrize(
    "path", ["/leads/a%00b", "/handoffs/a%00b/ack", "/api/v2/handoffs/a%00b", "/api/v2/leads/x%00"]
)
async def test_a_nul_in_the_path_is_a_404_on_every_database(any_db_site: Site, path: str) -> None:
    response = await any_db_site.client.get(path, headers=AUTH)
    assert response.status == 404
    assert "NUL" in (await response.json())["error"]["message"]


@pytest.mark.parametrize(
    ("content_type", "body", "says"),
    [
        # Each was a 500 (aiohttp's form reader raised).
        ("application/x-www-form-urlencoded", b"text=\xff\xfe", "not valid utf-8 (byte 0xff"),
        (
            "application/x-www-form-urlencoded; charset=foo",
            b"text=x",
            "unknown charset &#x27;foo&#x27;",
        ),
        ("multipart/form-data", b"text=x", "needs a boundary"),
    ],
    ids=["invalid-utf8", "unknown-charset", "multipart-without-boundary"],
)
async def test_unreadable_forms_are_a_400_page_naming_the_problem(
    site: Site, content_type: str, body: bytes, says: str
) -> None:
    for path, headers in (
        ("/login", {}),
        (f"{site.lead_url}/notes", AUTH),
        (f"{site.lead_url}/status", AUTH),
        (f"/handoffs/{site.story.handoff_id}/ack", AUTH),
    ):
        response = await site.client.post(
            path, data=body, headers={**headers, "Content-Type": content_type}
        )
        page = await _text(response, 400)
        assert says in page, (path, page)
    assert site.page()["notes"] == []
