"""The lead page as a brief: answers in words, the team's time zone, links, intent, fit, escaping.

The story is the sales pages' story (Ada, a hoodie, a handoff); each case adds the
answers or events it reads. The handoff file's team works in Europe/Paris.
"""

from __future__ import annotations

import html
import re
from collections.abc import AsyncIterator
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bot.leads.commands import RecordAnswer, RecordEvent
from bot.web.teamtime import TeamClock
from tests.api.test_lead_pages import AUTH, XSS_IMG, XSS_SCRIPT, Site, _csrf, _sign_in, _site, _text

PARIS = ZoneInfo("Europe/Paris")
# Answered on a Monday morning (UTC): "in 3 days" is Thursday.
ANSWERED = datetime(2026, 12, 7, 9, 30, tzinfo=timezone.utc)
# Breaks out of the mailto: attribute unless it is escaped.
XSS_EMAIL = '"><script>alert(2)</script>@example.com'


@pytest.fixture
async def site(migrated_sqlite_url: str, tmp_path: Path) -> AsyncIterator[Site]:
    async for built in _site(migrated_sqlite_url, tmp_path):
        yield built


def _answer(site: Site, key: str, raw: str, value: Any) -> None:
    """A later answer to ``key`` (the story's own are half an hour old)."""
    site.story.repository.apply(
        [
            RecordAnswer(
                session_id="s-story",
                answer_id=f"s-story-{key}-{len(raw)}-{abs(hash(raw))}",
                key=key,
                raw=raw,
                value=value,
                status="answered",
                answered_at=ANSWERED if key == "timeline" else datetime.now(timezone.utc),
            )
        ]
    )


def _words_cell(body: str, raw: str) -> str:
    """The "In words" cell of the answer typed as ``raw``."""
    found = re.search(rf"<td>{re.escape(html.escape(raw))}</td><td>([^<]*)</td>", body)
    assert found is not None, body
    return html.unescape(found.group(1))


@pytest.mark.parametrize(
    ("key", "raw", "value", "words"),
    [
        # a number of days, from the answer's day
        ("timeline", "in 3 days", {"days": 3}, "in 3 days (Thu 10 Dec 2026)"),
        # a hedge stays a hedge
        (
            "timeline",
            "maybe friday",
            {"days": 4, "uncertain": True},
            "maybe in 4 days (Fri 11 Dec 2026)",
        ),
        # no plan at all
        ("timeline", "just looking", {"days": None, "browsing": True}, "just browsing"),
        # the variant by name, with price and stock from the catalogue
        (
            "variant",
            "black XL",
            "hoodie-classic-black-m",
            "Classic Hoodie — black, M at 59 EUR, 9 in stock",
        ),
        # a variant the catalogue no longer has: the stored id only
        ("variant", "old one", "gone-variant", "—"),
        # a place the shop delivers to, with the product's delivery time
        (
            "location",
            "Nantes",
            {"country": "FR", "region": "Nantes", "serviceable": True},
            "Nantes, France — we deliver there (about 3 days)",
        ),
        # a place it does not
        (
            "location",
            "Nowhere",
            {"country": "US", "region": None},
            "United States — we do not deliver there",
        ),
        # a ceiling against the viewed hoodie's price
        (
            "budget",
            "up to 150",
            {"amount": Decimal("150"), "currency": "EUR", "max": Decimal("150")},
            "up to 150 EUR (price 59 EUR: within budget)",
        ),
        # too little
        (
            "budget",
            "40 euros",
            {"amount": Decimal("40"), "currency": "EUR"},
            "about 40 EUR (price 59 EUR: 19 EUR over)",
        ),
        # another currency is not compared
        (
            "budget",
            "100 dollars",
            {"amount": Decimal("100"), "currency": "USD"},
            "about 100 USD (price 59 EUR, another currency)",
        ),
        # yes/no answers
        ("newsletter", "sure", True, "yes"),
    ],
)
async def test_answers_read_in_words(
    site: Site, key: str, raw: str, value: Any, words: str
) -> None:
    _answer(site, key, raw, value)
    body = await _text(await site.client.get(site.lead_url, headers=AUTH), 200)
    assert _words_cell(body, raw) == words
    if words != "—" and key in {"timeline", "variant", "location", "budget"}:
        brief = body.split('<section class="brief">')[1].split("</section>")[0]
        assert html.escape(words) in brief


async def test_brief_names_what_they_viewed_and_what_is_next(site: Site) -> None:
    body = await _text(await site.client.get(site.lead_url, headers=AUTH), 200)
    brief = body.split('<section class="brief">')[1].split("</section>")[0]
    # no variant answer: the viewed variant, by name, with price and stock
    assert "<dt>Wants</dt><dd>Classic Hoodie — blue, M at 59 EUR, 12 in stock</dd>" in brief
    assert "viewed <strong>Classic Hoodie — blue, M</strong>" in brief
    assert "asked for a person" in brief
    assert "2 message(s), 1 question(s) asked" in brief
    # the shared brief's paragraph and next step, times in the team's zone
    summary = re.search(r'<p class="summary">([^<]*)</p>', brief)
    assert summary is not None
    assert summary.group(1).startswith(
        "Ada Lovelace, reachable by email and phone, wants Classic Hoodie — blue, M at 59 EUR"
    )
    assert "asked “Does the hoodie run small?”" in summary.group(1)
    handoff = site.handoff()
    due = datetime.fromisoformat(handoff["due_at"]).astimezone(PARIS)
    step = re.search(r'<dd class="next">Call Ada Lovelace before ([^(]*) \(', brief)
    assert step is not None and step.group(1).endswith(f"{due:%H:%M} {due.tzname()}")
    assert f'Due <time datetime="{handoff["due_at"]}"' in brief
    assert "immediate SLA, trigger human_requested" in brief


async def test_times_are_in_the_team_zone_with_utc_on_hover(site: Site) -> None:
    body = await _text(await site.client.get(site.lead_url, headers=AUTH), 200)
    created = site.page()["lead"]["created_at"]
    moment = datetime.fromisoformat(created)
    local = moment.astimezone(PARIS)
    shown = f"{local:%a} {local.day} {local:%b %Y, %H:%M} {local.tzname()}"
    utc = f"{moment.astimezone(timezone.utc):%Y-%m-%d %H:%M} UTC"
    assert (
        f'<dt>Created</dt><dd><time datetime="{created}" title="{utc}">{shown}</time></dd>' in body
    )
    assert local.tzname() in {"CET", "CEST"}
    assert " UTC</time>" not in body  # no time is shown in UTC only


async def test_contact_details_are_links(site: Site) -> None:
    body = await _text(await site.client.get(site.lead_url, headers=AUTH), 200)
    assert '<dd><a href="mailto:ada@example.com">ada@example.com</a></dd>' in body
    assert '<dd><a href="tel:+33612345678">+33612345678</a></dd>' in body


async def test_intent_and_fit_side_by_side_explain_the_stage(site: Site) -> None:
    body = await _text(await site.client.get(site.lead_url, headers=AUTH), 200)
    score = site.page()["score"]
    assert f"Intent</span> <strong>{score['intent_score']}</strong>" in body
    assert f"Fit</span> <strong>{score['fit_score']}</strong>" in body
    assert f"Score</span> <strong>{score['score']}</strong>" in body
    why = re.search(r'<p class="why">([^<]*)</p>', body)
    assert why is not None
    assert why.group(1).startswith(f"{score['stage'].capitalize()}: ")
    assert f"intent {score['intent_score']}" in why.group(
        1
    ) or f"({score['intent_score']} and" in why.group(1)


@pytest.fixture
async def hostile_site(migrated_sqlite_url: str, tmp_path: Path) -> AsyncIterator[Site]:
    """Markup in the name, the e-mail, the raw answers, the chat; more added by the test."""
    async for built in _site(
        migrated_sqlite_url,
        tmp_path,
        first_name=XSS_IMG,
        email=XSS_EMAIL,
        budget_raw=XSS_IMG,
        chat_text=f"{XSS_SCRIPT}?",
    ):
        yield built


async def test_markup_in_every_shopper_field_is_text(hostile_site: Site) -> None:
    site = hostile_site
    _answer(site, "location", XSS_SCRIPT, {"country": "FR", "region": XSS_IMG})
    _answer(site, "variant", XSS_IMG, XSS_SCRIPT)
    site.story.repository.apply(
        [
            RecordEvent(
                session_id="s-story",
                event_id="s-story-hostile",
                type="product_view",
                ts=ANSWERED,
                source="storefront",
                product_id=XSS_SCRIPT,
                variant_id=XSS_IMG,
                properties={"title": XSS_SCRIPT, XSS_IMG: "key"},
            )
        ]
    )
    await _sign_in(site.client)
    response = await site.client.post(
        f"{site.lead_url}/notes", data={"text": XSS_IMG, "csrf": await _csrf(site)}
    )
    body = await _text(response, 200)
    assert "<img" not in body and "<script" not in body
    assert f'href="mailto:{html.escape(XSS_EMAIL)}"' in body
    # the chat question quoted in the summary, as text
    summary = re.search(r'<p class="summary">([^<]*)</p>', body)
    assert summary is not None and html.escape(f"“{XSS_SCRIPT}?”", quote=False) in summary.group(1)
    assert "Nantes" not in body and f"{html.escape(XSS_IMG)}, France" in body  # the region
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body
    # the name in the title, the heading, the brief and the next step
    assert body.count(f"{html.escape(XSS_IMG)} Lovelace") >= 4


@pytest.mark.parametrize(
    ("stored", "shown"),
    [
        # winter: CET, one hour ahead of UTC
        ("2026-12-07T09:30:00+00:00", "Mon 7 Dec 2026, 10:30 CET"),
        # summer: CEST, two hours ahead
        ("2026-07-01T12:00:00+00:00", "Wed 1 Jul 2026, 14:00 CEST"),
        # past midnight in Paris, still the day before in UTC
        ("2026-12-07T23:30:00+00:00", "Tue 8 Dec 2026, 00:30 CET"),
        # unreadable: shown as stored
        ("not a time", "not a time"),
    ],
)
def test_team_clock_shows_local_time(stored: str, shown: str) -> None:
    assert TeamClock(PARIS).local(stored) == shown
