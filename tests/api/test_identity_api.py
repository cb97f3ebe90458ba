"""Identity without takeover, over HTTP: the public form, the lead JSON, the lead page, merges.

A stranger posting a customer's e-mail address to ``POST /api/create-lead``
changes nothing on the customer's lead; the submission becomes a lead of its
own, linked as a likely duplicate in both leads' JSON and on the lead page.
``POST /api/v2/leads/{id}/merge`` is how sales merge two leads, and the
``session_id`` filter finds a lead by every session it ever had. Runs on SQLite
and PostgreSQL; request checks that store nothing run on SQLite only.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.leads import LeadService
from bot.leads.commands import RecordEvent, UpdateContact
from tests.api.test_leads_crud_api import LEADS, T0, TOKEN, Api, serve

FORM = "/api/create-lead"
CUSTOMER = {
    "first_name": "Ada",
    "last_name": "Lovelace",
    "email": "ada@example.com",
    "phone": "+33 6 12 34 56 78",
    "company": "Analytical Engines",
}
STRANGER = {
    "first_name": "Eve",
    "last_name": "Mallory",
    "email": "ADA@example.com",
    "phone": "+49 151 12345678",
    "company": "Evil Corp",
    "consent": "yes",
}
sqlite_only = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@pytest.fixture
async def api(database_url: str, tmp_path: Path) -> AsyncIterator[Api]:
    async with serve(database_url, tmp_path) as served:
        yield served


async def customer(api: Api) -> dict[str, Any]:
    lead: dict[str, Any] = await api.ok("POST", LEADS, 201, json=CUSTOMER)
    return lead


def without_links(lead: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in lead.items() if name != "possible_duplicates"}


async def test_public_form_with_a_customers_email_changes_nothing_and_is_linked(api: Api) -> None:
    ada = await customer(api)
    response = await api.client.post(FORM, data=STRANGER)
    assert response.status == 201, await response.text()

    after = await api.ok("GET", f"{LEADS}/{ada['id']}")
    assert without_links(after) == without_links(ada)
    # The submission is not lost: it is a lead of its own, with the form's values.
    page = await api.ok("GET", LEADS, params={"q": "Mallory"})
    (eve,) = page["items"]
    assert eve["id"] != ada["id"]
    assert (eve["first_name"], eve["phone"], eve["company"], eve["source"]) == (
        "Eve",
        "+4915112345678",
        "Evil Corp",
        "web_form",
    )
    (link,) = eve["possible_duplicates"]
    assert (link["id"], link["matched_on"]) == (ada["id"], ["email"])
    assert link["differs"] == ["first_name", "last_name", "phone", "company"]
    (back,) = after["possible_duplicates"]
    assert (back["id"], back["first_name"], back["phone"]) == (eve["id"], "Eve", "+4915112345678")

    # Sales see it on the customer's page, with a link to the other lead.
    response = await api.client.get(
        f"/leads/{ada['id']}", headers={"Authorization": f"Bearer {TOKEN}"}
    )
    body = await response.text()
    assert response.status == 200, body
    assert "Possible duplicates" in body
    assert f'<a href="/leads/{eve["id"]}">Eve Mallory</a>' in body
    assert "first name, last name, phone, company" in body


async def test_stranger_in_chat_keeps_the_customers_answers(api: Api) -> None:
    ada = await customer(api)
    LeadService(api.engine).apply(
        [
            RecordEvent(
                session_id="eve-chat",
                event_id="eve-chat:view",
                type="product_view",
                ts=T0,
                source="storefront",
            ),
            UpdateContact(session_id="eve-chat", first_name="Eve", email="ada@example.com"),
        ],
        now=T0,
    )
    after = await api.ok("GET", f"{LEADS}/{ada['id']}")
    assert without_links(after) == without_links(ada)
    (eve,) = (await api.ok("GET", LEADS, params={"session_id": "eve-chat"}))["items"]
    assert eve["first_name"] == "Eve" and eve["id"] != ada["id"]
    assert [link["id"] for link in eve["possible_duplicates"]] == [ada["id"]]


async def test_sales_merge_and_every_session_finds_the_lead(api: Api) -> None:
    repository = LeadService(api.engine)
    repository.apply(
        [UpdateContact(session_id="s1", first_name="Ada", email="ada@example.com")], now=T0
    )
    repository.apply(
        [UpdateContact(session_id="s2", first_name="Ada L.", email="ada@example.com")],
        now=T0 + timedelta(hours=1),
    )
    (first,) = (await api.ok("GET", LEADS, params={"session_id": "s1"}))["items"]
    (second,) = (await api.ok("GET", LEADS, params={"session_id": "s2"}))["items"]
    assert first["id"] != second["id"]

    await api.error("POST", f"{LEADS}/{first['id']}/merge", 403, as_="reader", json={})
    merged = await api.ok(
        "POST", f"{LEADS}/{first['id']}/merge", as_="editor", json={"duplicate_id": second["id"]}
    )
    assert (merged["id"], merged["first_name"], merged["possible_duplicates"]) == (
        first["id"],
        "Ada",
        [],
    )
    for session in ("s1", "s2"):
        page = await api.ok("GET", LEADS, params={"session_id": session})
        assert [lead["id"] for lead in page["items"]] == [first["id"]], session
    assert (await api.ok("GET", LEADS, params={"session_id": "s3"}))["items"] == []
    assert (await api.ok("GET", f"{LEADS}/{second['id']}"))["id"] == first["id"]
    # Repeating the merge changes nothing.
    again = await api.ok(
        "POST", f"{LEADS}/{first['id']}/merge", json={"duplicate_id": second["id"]}
    )
    assert again["id"] == first["id"]


@sqlite_only
@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        # No duplicate named.
        ({}, 400, "field 'duplicate_id'"),
        # Not a string.
        ({"duplicate_id": 7}, 400, "field 'duplicate_id'"),
        # Longer than any lead id.
        ({"duplicate_id": "x" * 65}, 400, "1 to 64 characters"),
        # A field the operation does not know.
        ({"duplicate_id": "x", "force": True}, 400, "unknown field(s): force"),
        # The lead itself.
        ("self", 400, "is the lead itself"),
        # No such lead.
        ({"duplicate_id": "no-such-lead"}, 404, "duplicate_id: no lead"),
    ],
)
async def test_merge_refuses_bad_requests(api: Api, body: Any, status: int, message: str) -> None:
    ada = await customer(api)
    payload = {"duplicate_id": ada["id"]} if body == "self" else body
    error = await api.error("POST", f"{LEADS}/{ada['id']}/merge", status, json=payload)
    assert message in error["message"]
    await api.error("POST", f"{LEADS}/no-such-lead/merge", 404, json={"duplicate_id": ada["id"]})
    await api.error("POST", f"{LEADS}/{ada['id']}/merge", 400, json=["not", "an", "object"])


async def test_every_session_a_lead_ever_had_finds_it_after_merges_of_merges(api: Api) -> None:
    repository = LeadService(api.engine)
    for hour, session in enumerate(("s1", "s2", "s3")):
        repository.apply(
            [UpdateContact(session_id=session, first_name="Ada", email="ada@example.com")],
            now=T0 + timedelta(hours=hour),
        )
    ids = {}
    for session in ("s1", "s2", "s3"):
        (lead,) = (await api.ok("GET", LEADS, params={"session_id": session}))["items"]
        ids[session] = lead["id"]
    # s2 into s1, then s1 (holding s2) into the newest lead, s3's.
    await api.ok("POST", f"{LEADS}/{ids['s1']}/merge", json={"duplicate_id": ids["s2"]})
    await api.ok("POST", f"{LEADS}/{ids['s3']}/merge", json={"duplicate_id": ids["s1"]})

    for session in ("s1", "s2", "s3"):
        for params in ({}, {"stage": "cold"}, {"q": "ada", "sort": "-updated_at"}):
            page = await api.ok("GET", LEADS, params={"session_id": session, **params})
            assert [lead["id"] for lead in page["items"]] == [ids["s3"]], (session, params)
        assert (await api.ok("GET", f"{LEADS}/{ids[session]}"))["id"] == ids["s3"]
        found = repository.get_lead_by_session(session)
        assert found is not None and found["id"] == ids["s3"], session
        state = repository.lead_state(session)
        assert state is not None and state.lead_id == ids["s3"], session
    # The list shows the person once.
    assert [lead["id"] for lead in (await api.ok("GET", LEADS))["items"]] == [ids["s3"]]
