"""The inbox at ``/leads``: who to call now first, filters, mine, acknowledge, escaping."""

from __future__ import annotations

import html
import re
from collections.abc import AsyncIterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from bot.store.models import Handoff
from tests.api.test_lead_inbox_api import NOW as STORED
from tests.api.test_lead_inbox_api import add_answer, add_handoff, add_lead
from tests.api.test_lead_pages import AUTH, XSS_IMG, XSS_SCRIPT, Site, _sign_in, _site, _text

CSRF = re.compile(r'name="csrf" value="([^"]+)"')
NOW = datetime.now(timezone.utc)


@pytest.fixture
async def site(migrated_sqlite_url: str, tmp_path: Path) -> AsyncIterator[Site]:
    """The story's lead (Ada, an open handoff) and a lead of each kind the inbox orders."""
    async for built in _site(migrated_sqlite_url, tmp_path):
        engine = built.engine
        add_lead(engine, "late", first_name="Lena", last_name="Late", stage="warm", score=20)
        add_handoff(engine, "late", due_at=NOW - timedelta(hours=1), assigned_to="Noa Petit")
        add_lead(engine, "hot", first_name="Hugo", company="Hot Shop", stage="hot", score=75)
        add_lead(engine, "warm", email="wanda@warm.example", stage="warm", score=43)
        add_lead(engine, "cold", phone="+33611111111", stage="cold", score=70)
        add_lead(engine, "anon", stage="cold", score=5, source="storefront")
        add_answer(engine, "anon", "variant", "the black hoodie in XL")
        yield built


def _order(body: str, *lead_ids: str) -> list[int]:
    return [body.index(f'href="/leads/{lead_id}"') for lead_id in lead_ids]


def _row(body: str, lead_id: str) -> str:
    """The inbox row of ``lead_id``."""
    link = body.index(f'href="/leads/{lead_id}"', body.index("<tbody>"))
    return body[body.rindex("<tr", 0, link) : body.index("</tr>", link)]


def _time(moment: datetime) -> str:
    """A time as the lead page shows it: the team's zone (Paris), UTC on hover."""
    local = moment.astimezone(ZoneInfo("Europe/Paris"))
    return (
        f'<time datetime="{moment.isoformat()}" title="{moment:%Y-%m-%d %H:%M} UTC">'
        f"{local:%a} {local.day} {local:%b %Y, %H:%M} {local.tzname()}</time>"
    )


async def test_overdue_handoff_first_then_handoffs_then_hot_warm_cold(site: Site) -> None:
    body = await _text(await site.client.get("/leads", headers=AUTH), 200)
    positions = _order(body, "late", site.story.lead_id, "hot", "warm", "cold", "anon")
    assert positions == sorted(positions)
    late_row = body[body.rindex("<tr", 0, positions[0]) : positions[0]]
    assert 'class="overdue"' in late_row
    assert "Overdue handoff" in body
    # Rows say why: score as intent + fit, and the stage's thresholds.
    assert "intent 0 + fit 0" in body and "warm needs intent" in body
    # Who: a name, else a contact, else what the shopper asked about.
    assert ">Hugo</a>" in body and ">wanda@warm.example</a>" in body
    assert ">+33611111111</a>" in body
    assert "Shopper asking about “the black hoodie in XL”" in body
    assert "Anonymous shopper" not in body


async def test_times_are_in_the_team_zone_with_utc_on_hover(site: Site) -> None:
    body = await _text(await site.client.get("/leads", headers=AUTH), 200)
    # Updated 10:00 UTC: 11:00 in Paris, the team's zone, as on the lead page.
    assert _time(STORED) in _row(body, "hot")
    with site.engine.connect() as connection:
        due = connection.execute(select(Handoff.due_at).where(Handoff.id == "h-late")).scalar_one()
    assert f"due {_time(due.replace(tzinfo=timezone.utc))}" in _row(body, "late")
    assert " UTC</time>" not in body  # no time is shown in UTC only


@pytest.mark.parametrize(
    "query, shown, hidden",
    [
        ("stage=hot", ["hot"], ["warm", "cold", "late"]),
        ("status=New&stage=warm", ["warm", "late"], ["hot"]),
        ("q=hoodie", ["anon"], ["hot", "cold"]),
        ("q=wanda", ["warm"], ["anon"]),
        ("source=storefront", ["anon"], ["hot"]),
        ("rep=Noa+Petit", ["late"], ["hot", "warm"]),
        ("team=sales", ["late"], ["hot"]),
        ("sort=-score", ["hot", "cold"], []),
        # The leads are stored as created on STORED's day (whatever day the suite runs).
        (f"created_since={STORED.date().isoformat()}&created_until=", ["hot"], []),
        ("created_until=2000-01-01", [], ["hot", "late", "anon"]),
        ("updated_since=2999-01-01", [], ["hot"]),
    ],
)
async def test_filters(site: Site, query: str, shown: list[str], hidden: list[str]) -> None:
    body = await _text(await site.client.get(f"/leads?{query}", headers=AUTH), 200)
    for lead_id in shown:
        assert f'href="/leads/{lead_id}"' in body, (query, lead_id)
    for lead_id in hidden:
        assert f'href="/leads/{lead_id}"' not in body, (query, lead_id)


async def test_counts_per_stage_and_pages(site: Site) -> None:
    for number in range(55):
        add_lead(site.engine, f"bulk{number:02}", stage="cold", score=1)
    body = await _text(await site.client.get("/leads", headers=AUTH), 200)
    assert "61 leads" in body and "cold 57</a>" in body and "hot 1</a>" in body
    assert "Page 1 of 2" in body and 'href="/leads?page=2"' in body
    second = await _text(await site.client.get("/leads?page=2", headers=AUTH), 200)
    assert second.count('<tr class="') == 11
    assert 'href="/leads/bulk54"' in second or 'href="/leads/bulk00"' in second
    filtered = await _text(await site.client.get("/leads?stage=hot", headers=AUTH), 200)
    assert "1 lead ·" in filtered and "Page 1 of" not in filtered


async def test_mine_shows_the_signed_in_reps_leads(site: Site) -> None:
    await _sign_in(site.client, "Noa Petit")
    body = await _text(await site.client.get("/leads?mine=1"), 200)
    assert 'href="/leads/late"' in body
    assert 'href="/leads/hot"' not in body
    assert 'name="mine" value="1" checked' in body


async def test_acknowledge_from_the_list_with_csrf(site: Site) -> None:
    await _sign_in(site.client, "Camille Martin")
    body = await _text(await site.client.get("/leads"), 200)
    assert 'action="/handoffs/h-late/ack"' in body
    found = CSRF.search(body)
    assert found is not None
    refused = await site.client.post("/handoffs/h-late/ack", data={}, allow_redirects=False)
    assert refused.status == 403
    response = await site.client.post(
        "/handoffs/h-late/ack", data={"csrf": found.group(1)}, allow_redirects=False
    )
    assert (response.status, response.headers["Location"]) == (303, "/leads/late")
    with site.engine.connect() as connection:
        handoff = connection.execute(select(Handoff).where(Handoff.id == "h-late")).one()
    assert (handoff.status, handoff.acknowledged_by) == ("acknowledged", "Camille Martin")
    after = await _text(await site.client.get("/leads"), 200)
    assert 'action="/handoffs/h-late/ack"' not in after
    assert "by Camille Martin" in after


async def test_acknowledging_from_the_list_returns_to_the_same_filters_and_page(
    site: Site,
) -> None:
    for number in range(50):
        add_lead(site.engine, f"bulk{number:02}", stage="cold", score=50)
    await _sign_in(site.client, "Camille Martin")
    inbox = "/leads?status=New&sort=-score&page=2"
    body = await _text(await site.client.get(inbox), 200)
    # Nothing was acknowledged yet: no notice, whatever the address says.
    assert 'class="notice"' not in await _text(
        await site.client.get(f"{inbox}&acknowledged=h-late"), 200
    )
    row = _row(body, "late")
    assert f'<input type="hidden" name="next" value="{html.escape(inbox)}">' in row
    found = CSRF.search(row)
    assert found is not None
    refused = await site.client.post(
        "/handoffs/h-late/ack", data={"next": inbox}, allow_redirects=False
    )
    assert refused.status == 403
    response = await site.client.post(
        "/handoffs/h-late/ack", data={"csrf": found.group(1), "next": inbox}, allow_redirects=False
    )
    assert response.status == 303
    assert response.headers["Location"] == f"{inbox}&acknowledged=h-late"
    back = await _text(await site.client.get(response.headers["Location"]), 200)
    assert (
        '<p class="notice" role="status">Handoff of <a href="/leads/late">Lena Late</a> '
        "acknowledged by Camille Martin.</p>"
    ) in back
    assert "Page 2 of 2" in back and "<option selected>New</option>" in back
    assert "by Camille Martin" in _row(back, "late")


@pytest.mark.parametrize(
    "sent",
    [
        # another site
        "https://evil.example/leads",
        # a host, to a browser
        "//evil.example/leads",
        # another page of this site
        "/logout",
        # nothing: the lead page's button
        "",
    ],
)
async def test_acknowledging_goes_back_to_nothing_but_the_inbox(site: Site, sent: str) -> None:
    await _sign_in(site.client, "Camille Martin")
    found = CSRF.search(await _text(await site.client.get("/leads"), 200))
    assert found is not None
    response = await site.client.post(
        "/handoffs/h-late/ack", data={"csrf": found.group(1), "next": sent}, allow_redirects=False
    )
    assert (response.status, response.headers["Location"]) == (303, "/leads/late")


async def test_a_bearer_gets_the_button_without_a_csrf_field(site: Site) -> None:
    body = await _text(await site.client.get("/leads", headers=AUTH), 200)
    # The bearer of the sales token may write: the button is there, without a CSRF field.
    assert 'action="/handoffs/h-late/ack"' in body and 'name="csrf"' not in body


async def test_shopper_text_is_escaped_in_the_list(site: Site) -> None:
    add_lead(site.engine, "evil", company=XSS_SCRIPT, stage="hot", score=99, source="x<b>y")
    add_lead(site.engine, "evil2", stage="hot", score=98)
    add_answer(site.engine, "evil2", "variant", XSS_IMG)
    body = await _text(await site.client.get(f"/leads?q={XSS_SCRIPT}", headers=AUTH), 200)
    body += await _text(await site.client.get("/leads?stage=hot", headers=AUTH), 200)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body
    assert "&lt;img src=x onerror=alert(1)&gt;" in body
    assert "<script" not in body and "<img" not in body and "x<b>y" not in body


@pytest.mark.parametrize(
    "query, field",
    [("created_since=yesterday", "created_since"), ("stage=boiling", "stage"), ("page=0", "page")],
)
async def test_bad_filters_are_a_400_page(site: Site, query: str, field: str) -> None:
    body = await _text(await site.client.get(f"/leads?{query}", headers=AUTH), 400)
    assert field in body
