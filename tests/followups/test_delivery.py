"""Follow-ups over the real stack: lead store, planner, outbox worker and a local SMTP receiver.

Every test stores into SQLite and PostgreSQL and moves time with an injected
clock; "nothing was sent" is read from the receiver after a worker pass that
ran until nothing was due, never by sleeping.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select
from sqlalchemy.engine import Engine

from bot.followups.config import FrequencyCap, Holdout
from bot.followups.links import unsubscribe_token
from bot.handoff.outbox import OutboxStore
from bot.leads.commands import RecordEvent
from bot.store.db import create_db_engine, write_transaction
from bot.store.models import Lead, OutboxMessage
from bot.web import followups as followup_pages
from bot.web.keys import LEADS
from tests.followups.shop import (
    BLUE_M,
    CONSENT,
    HOODIE,
    KEY,
    PUBLIC_URL,
    T0,
    Inbox,
    Stack,
    free_port,
    parts,
    smtp_server,
)


@pytest.fixture
def smtp() -> Iterator[tuple[int, Inbox]]:
    port = free_port()
    with smtp_server(port) as inbox:
        yield port, inbox


@pytest.fixture
def stack(engine: Engine, smtp: tuple[int, Inbox]) -> Stack:
    return Stack(engine, smtp[0])


@pytest.fixture
def inbox(smtp: tuple[int, Inbox]) -> Inbox:
    return smtp[1]


async def test_an_abandoned_cart_gets_one_recovery_email_after_the_delay(
    stack: Stack, inbox: Inbox
) -> None:
    lead_id = stack.shopper()
    stack.clock.advance(hours=3, minutes=59)
    await stack.run()
    assert inbox.envelopes == []  # the cart is left for 4 hours before it counts
    stack.clock.advance(minutes=1)
    assert await stack.run() == 1
    [message] = inbox.messages
    assert message["Subject"] == "Your Classic Hoodie — blue, M is still waiting"
    assert message["From"] == "Atelier Nord <hello@shop.example>"
    text, html = parts(message)
    assert "You left Classic Hoodie — blue, M in your cart. It is 59.00 EUR" in text
    assert "we have 12 in stock" in text
    assert "Delivery to France: about 3 days (around 13 March 2027)." in text
    assert "Hello Alice," in text and CONSENT in text
    assert "Classic Hoodie — blue, M" in html and "59.00 EUR" in html
    # RFC 8058 one-click unsubscribe, signed for this lead.
    unsubscribe = f"{PUBLIC_URL}/u/{unsubscribe_token(KEY, lead_id)}"
    assert message["List-Unsubscribe"] == f"<{unsubscribe}>"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert unsubscribe in text
    # Links go through the click-tracking redirect to the shop.
    assert re.search(r"http://leads\.test/c/[0-9a-f]{32}\.[0-9a-f]{32}\?to=http", text)
    [followup] = stack.followups(lead_id)
    assert (followup.play, followup.status) == ("cart_recovery", "queued")
    # Later passes send nothing more: each play once per lead.
    stack.clock.advance(days=1)
    assert await stack.run() == 0
    assert len(inbox.envelopes) == 1


async def test_shopper_text_is_escaped_in_the_html_part(stack: Stack, inbox: Inbox) -> None:
    stack.shopper(first_name="<b>Bob</b>")
    stack.clock.advance(hours=4)
    await stack.run()
    text, html = parts(inbox.messages[0])
    assert "Hello <b>Bob</b>," in text
    assert "&lt;b&gt;Bob&lt;/b&gt;" in html and "<b>Bob</b>" not in html


async def test_no_email_without_consent(stack: Stack, inbox: Inbox) -> None:
    lead_id = stack.shopper(consent=False)
    stack.clock.advance(hours=5)
    await stack.run()
    assert inbox.envelopes == []
    assert stack.followups(lead_id) == []


async def test_no_email_after_a_purchase(stack: Stack, inbox: Inbox) -> None:
    bought_first = stack.shopper()
    planned_first = stack.shopper()
    stack.clock.advance(hours=1)
    # Bought before the cart counted as left: nothing is planned.
    stack.apply(purchase(stack, bought_first))
    stack.clock.advance(hours=3)
    stack.planner.plan_all(stack.engine, stack.clock.now)
    assert stack.followups(bought_first) == []
    [planned] = stack.followups(planned_first)
    assert planned.status == "planned"
    # Bought after the play was planned: it is stopped when it comes due.
    stack.clock.advance(minutes=1)
    stack.apply(purchase(stack, planned_first))
    await stack.run()
    assert inbox.envelopes == []
    [stopped] = stack.followups(planned_first)
    assert (stopped.status, stopped.stop_reason) == ("stopped", "purchase")


def purchase(stack: Stack, lead_id: str) -> RecordEvent:
    with stack.engine.connect() as connection:
        session = connection.execute(
            select(Lead.__table__.c.session_id).where(Lead.__table__.c.id == lead_id)
        ).scalar_one()
    return RecordEvent(
        session_id=session,
        event_id=f"{session}-purchase",
        type="purchase",
        ts=stack.clock.now,
        source="storefront",
        product_id=HOODIE,
        variant_id=BLUE_M,
        value=Decimal("59.00"),
        properties={"currency": "EUR", "order_id": f"order-{session}"},
    )


async def test_no_email_in_the_shoppers_quiet_hours_but_when_they_end(
    stack: Stack, inbox: Inbox
) -> None:
    # 19:30 in Paris, 14:30 in New York: the carts count as left at 23:30 and 18:30.
    stack.clock.now = datetime(2027, 3, 10, 18, 30, tzinfo=timezone.utc)
    in_paris = stack.shopper(country="FR")
    in_new_york = stack.shopper(country="US")
    stack.clock.advance(hours=4)
    assert await stack.run() == 1
    [message] = inbox.messages
    assert message["To"].startswith(session_of(stack, in_new_york))
    [waiting] = stack.followups(in_paris)
    # Held until 08:00 in Paris (07:00 UTC in March).
    assert waiting.status == "planned"
    assert waiting.due_at == datetime(2027, 3, 11, 7, 0, tzinfo=timezone.utc)
    stack.clock.now = datetime(2027, 3, 11, 6, 59, tzinfo=timezone.utc)
    assert await stack.run() == 0
    stack.clock.advance(minutes=1)
    assert await stack.run() == 1
    assert inbox.messages[1]["To"].startswith(session_of(stack, in_paris))


def session_of(stack: Stack, lead_id: str) -> str:
    with stack.engine.connect() as connection:
        return str(
            connection.execute(
                select(Lead.__table__.c.session_id).where(Lead.__table__.c.id == lead_id)
            ).scalar_one()
        )


async def test_a_crash_between_planning_and_sending_sends_once(stack: Stack, inbox: Inbox) -> None:
    crashed_before_queueing = stack.shopper()
    crashed_while_sending = stack.shopper()
    stack.clock.advance(hours=4)
    # Planned only: the process died before the release.
    with write_transaction(stack.engine) as connection:
        stack.planner.plan_batch(connection, stack.clock.now, after=None)
    # Queued in the outbox and claimed by a worker that died mid-delivery (its lease runs out).
    with write_transaction(stack.engine) as connection:
        released = stack.planner.release_due(connection, stack.clock.now)
    assert released.queued == 2
    outbox = OutboxStore(stack.engine, stack.handoffs.delivery)
    claimed = outbox.claim(1, stack.clock.now)
    assert len(claimed) == 1
    # A new worker right away sends the message nobody holds; the leased one waits.
    assert await stack.run() == 1
    stack.clock.advance(seconds=stack.handoffs.delivery.timeout_seconds + 6)
    assert await stack.run() == 1
    stack.clock.advance(hours=1)
    assert await stack.run() == 0
    recipients = sorted(message["To"] for message in inbox.messages)
    assert recipients == sorted(
        f"{session_of(stack, lead)}@example.com"
        for lead in (crashed_before_queueing, crashed_while_sending)
    )


async def test_the_frequency_cap_holds_a_second_play_until_it_fits(
    engine: Engine, smtp: tuple[int, Inbox]
) -> None:
    port, inbox = smtp
    base = Stack(engine, port)
    stack = Stack(engine, port, config=replace(base.config, frequency_cap=FrequencyCap(1, 7)))
    # Budget 40 EUR under the hoodie's 59.00: budget alternatives 2 h later; checkout left 1 h.
    lead_id = stack.shopper(
        steps=("checkout_start",),
        answers=[("budget", "40 euros", {"amount": "40", "currency": "EUR"})],
    )
    stack.clock.advance(hours=1)
    assert await stack.run() == 1
    stack.clock.advance(hours=1)
    assert await stack.run() == 0
    held = {row.play: row for row in stack.followups(lead_id)}
    assert held["budget_alternatives"].status == "planned"
    assert held["budget_alternatives"].due_at == T0 + timedelta(hours=1, days=7)
    stack.clock.now = T0 + timedelta(hours=1, days=7)
    assert await stack.run() == 1
    subjects = [message["Subject"] for message in inbox.messages]
    assert subjects[0] == "Your Classic Hoodie — blue, M is still waiting"
    assert subjects[1].endswith("within your budget")
    text, _ = parts(inbox.messages[1])
    # Only in-stock variants at or under 40 EUR, of the hoodie's category (apparel).
    for price in re.findall(r": (\d+\.\d\d) EUR \(", text):
        assert Decimal(price) <= 40


async def test_a_held_out_lead_is_recorded_and_never_sent(
    engine: Engine, smtp: tuple[int, Inbox]
) -> None:
    port, inbox = smtp
    base = Stack(engine, port)
    stack = Stack(engine, port, config=replace(base.config, holdout=Holdout(0.5, "lift-test")))
    leads = [stack.shopper() for _ in range(12)]
    stack.clock.advance(hours=4)
    sent = await stack.run()
    statuses = {lead: stack.followups(lead)[0].status for lead in leads}
    held = {lead for lead, status in statuses.items() if status == "held_out"}
    assert 0 < len(held) < len(leads)
    assert sent == len(leads) - len(held) == len(inbox.envelopes)
    mailed = {message["To"] for message in inbox.messages}
    assert not any(f"{session_of(stack, lead)}@example.com" in mailed for lead in held)


# -- the unsubscribe link -------------------------------------------------------------------


async def client_for(stack: Stack) -> TestClient:
    app = web.Application()
    app[LEADS] = stack.service
    app[followup_pages.FOLLOWUPS] = stack.planner
    followup_pages.setup(app)
    client = TestClient(TestServer(app))
    await client.start_server()
    return client


async def test_unsubscribe_page_then_one_click_post_stops_every_play(
    stack: Stack, inbox: Inbox
) -> None:
    lead_id = stack.shopper()
    stack.clock.advance(hours=4)
    stack.planner.plan_all(stack.engine, stack.clock.now)
    assert [row.status for row in stack.followups(lead_id)] == ["planned"]
    path = f"/u/{unsubscribe_token(KEY, lead_id)}"
    client = await client_for(stack)
    try:
        page = await client.get(path)
        assert page.status == 200
        body = await page.text()
        assert f'action="{path}"' in body and "Unsubscribe" in body
        # The page alone changes nothing (mail scanners open links).
        assert [row.status for row in stack.followups(lead_id)] == ["planned"]
        done = await client.post(path, data={"List-Unsubscribe": "One-Click"})
        assert done.status == 200
        assert "You are unsubscribed" in await done.text()
        forged = await client.post(f"/u/{lead_id}.{'0' * 32}")
        assert forged.status == 404
    finally:
        await client.close()
    [stopped] = stack.followups(lead_id)
    assert (stopped.status, stopped.stop_reason) == ("stopped", "unsubscribed")
    with stack.engine.connect() as connection:
        opted_out = connection.execute(
            select(Lead.__table__.c.opted_out_at).where(Lead.__table__.c.id == lead_id)
        ).scalar_one()
    assert opted_out is not None
    # Nothing is planned or sent any more, whatever the shopper does next.
    stack.clock.advance(days=1)
    await stack.run()
    assert inbox.envelopes == []


async def test_a_tracked_click_is_recorded_and_redirects_only_to_the_shop(
    stack: Stack, inbox: Inbox
) -> None:
    lead_id = stack.shopper()
    stack.clock.advance(hours=4)
    await stack.run()
    text, _ = parts(inbox.messages[0])
    link = re.search(r"http://leads\.test(/c/\S+)", text)
    assert link is not None
    client = await client_for(stack)
    try:
        clicked = await client.get(link.group(1), allow_redirects=False)
        assert clicked.status == 302
        assert clicked.headers["Location"].startswith("http://shop.test/")
        token = link.group(1).split("?")[0]
        elsewhere = await client.get(
            token, params={"to": "https://evil.example/"}, allow_redirects=False
        )
        assert elsewhere.status == 404
    finally:
        await client.close()
    [followup] = stack.followups(lead_id)
    assert followup.clicks == 1 and followup.clicked_at is not None
    [event] = stack.service.events(lead_id, ["email_click"])
    assert event["properties"]["play"] == "cart_recovery"


# -- stops -----------------------------------------------------------------------------------


async def test_a_reply_in_the_chat_stops_a_planned_play(stack: Stack, inbox: Inbox) -> None:
    lead_id = stack.shopper()
    stack.clock.advance(hours=4)
    stack.planner.plan_all(stack.engine, stack.clock.now)
    stack.clock.advance(minutes=1)
    session = session_of(stack, lead_id)
    stack.apply(
        RecordEvent(
            session_id=session,
            event_id=f"{session}-reply",
            type="chat_message",
            ts=stack.clock.now,
            properties={"sender": "user", "text": "Is it warm enough for winter?"},
        )
    )
    await stack.run()
    assert inbox.envelopes == []
    [stopped] = stack.followups(lead_id)
    assert stopped.stop_reason == "shopper replied in the chat"


async def test_an_erased_lead_takes_its_followups_and_messages_with_it(
    stack: Stack, inbox: Inbox
) -> None:
    from bot.store.entries import erase_rows

    lead_id = stack.shopper()
    stack.clock.advance(hours=4)
    stack.plan_and_release()
    with write_transaction(stack.engine) as connection:
        erase_rows(connection, [lead_id])
    assert await stack.run() == 0
    assert inbox.envelopes == []
    assert OutboxStore(stack.engine, stack.handoffs.delivery).counts()["pending"] == 0


async def test_an_unsubscribe_stops_a_message_queued_but_not_yet_sent(
    stack: Stack, inbox: Inbox
) -> None:
    lead_id = stack.shopper()
    stack.clock.advance(hours=4)
    stack.plan_and_release()
    with write_transaction(stack.engine) as connection:
        assert stack.planner.unsubscribe(connection, lead_id, stack.clock.now) == 1
    assert await stack.run() == 0
    assert inbox.envelopes == []
    [stopped] = stack.followups(lead_id)
    assert (stopped.status, stopped.stop_reason) == ("stopped", "unsubscribed")


def test_two_processes_releasing_at_once_queue_each_message_once(
    migrated_sqlite_url: str,
) -> None:
    # Two engines on one SQLite file: two web apps' workers (no lock shared in-process).
    engines = [create_db_engine(migrated_sqlite_url) for _ in range(2)]
    try:
        stack = Stack(engines[0], free_port())
        leads = [stack.shopper() for _ in range(60)]
        stack.clock.advance(hours=4)
        stack.planner.plan_all(engines[0], stack.clock.now)

        def release(engine: Engine) -> None:
            while True:
                with write_transaction(engine) as connection:
                    done = stack.planner.release_due(connection, stack.clock.now, limit=7)
                if done.queued + done.stopped + done.postponed == 0:
                    return

        with ThreadPoolExecutor(2) as pool:
            list(pool.map(release, engines))
        with engines[0].connect() as connection:
            queued = list(
                connection.execute(
                    select(OutboxMessage.__table__.c.followup_id).where(
                        OutboxMessage.__table__.c.followup_id.is_not(None)
                    )
                ).scalars()
            )
        assert len(queued) == len(set(queued)) == len(leads)
    finally:
        for engine in engines:
            engine.dispose()
