"""A play sent through a shop's webhook channel (SMS / WhatsApp provider), and a mail server that
drops an idle connection."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from types import MappingProxyType

import pytest
from aiohttp import web
from sqlalchemy.engine import Engine
from standardwebhooks.webhooks import Webhook

from bot.followups.delivery import SmtpConnections, email_message
from bot.handoff.config import Channel, Smtp
from tests.followups.shop import Stack, free_port, smtp_server

SECRET = "whsec_" + base64.b64encode(b"a-secret-for-the-sms-provider-32").decode()


@pytest.fixture
async def provider() -> AsyncIterator[tuple[str, list[tuple[bytes, dict[str, str]]]]]:
    """An SMS provider's endpoint on 127.0.0.1 that keeps every request."""
    received: list[tuple[bytes, dict[str, str]]] = []

    async def hook(request: web.Request) -> web.Response:
        received.append((await request.read(), dict(request.headers)))
        return web.json_response({"queued": True})

    app = web.Application()
    app.router.add_post("/sms", hook)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield f"http://127.0.0.1:{port}/sms", received
    finally:
        await runner.cleanup()


async def test_a_webhook_play_is_signed_and_carries_the_message(
    engine: Engine, provider: tuple[str, list[tuple[bytes, dict[str, str]]]]
) -> None:
    url, received = provider
    base = Stack(engine, free_port())
    sms = Channel("sms", "webhook", url=url, secrets=(SECRET,))
    plays = tuple(
        replace(play, channel="sms") if play.name == "cart_recovery" else play
        for play in base.config.plays
    )
    stack = Stack(
        engine,
        base.smtp_port,
        # No quiet hours: the test runs at the real time of day.
        config=replace(
            base.config, plays=plays, channels=MappingProxyType({"sms": sms}), quiet_hours=None
        ),
    )
    # At the real time: receivers check a webhook's timestamp against their clock.
    stack.clock.now = datetime.now(timezone.utc) - timedelta(hours=4)
    lead_id = stack.shopper()
    stack.clock.advance(hours=4)
    assert await stack.run() == 1
    [(body, headers)] = received
    data = Webhook(SECRET).verify(body, headers)
    assert data["type"] == "followup.webhook"
    assert data["play"] == "cart_recovery"
    assert data["lead"]["id"] == lead_id and data["lead"]["first_name"] == "Alice"
    assert "59.00 EUR" in data["text"]
    assert data["unsubscribe_url"].startswith("http://leads.test/u/")


async def test_a_connection_the_mail_server_dropped_is_replaced() -> None:
    port = free_port()
    connections = SmtpConnections(Smtp(host="127.0.0.1", port=port))
    payload = {
        "subject": "Hello",
        "sender": "Shop <hello@shop.example>",
        "to": "alice@example.com",
        "unsubscribe_url": "http://leads.test/u/token",
        "text": "Hello Alice",
        "html": "<p>Hello Alice</p>",
    }
    with smtp_server(port) as inbox:
        assert (await connections.send(email_message(payload, "msg_1"), 5)).delivered
        assert len(inbox.envelopes) == 1
    # The server restarted: the connection kept open since is dead; a new one is opened.
    with smtp_server(port) as inbox:
        outcome = await connections.send(email_message(payload, "msg_2"), 5)
        assert outcome.delivered, outcome.error
        [message] = inbox.messages
        assert message["Message-ID"] == "<msg_2@shop.example>"
        assert message["List-Unsubscribe"] == "<http://leads.test/u/token>"
    await connections.close()
    # No server at all: a failed attempt, never an exception.
    outcome = await connections.send(email_message(payload, "msg_3"), 2)
    assert not outcome.delivered and outcome.error
