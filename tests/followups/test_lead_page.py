"""The lead page lists the lead's follow-ups: planned, sent, opened by click, stopped, with why."""

from __future__ import annotations

import html
from pathlib import Path

from aiohttp.test_utils import TestClient, TestServer

from bot.store.db import create_db_engine, write_transaction
from bot.web import create_app
from tests.followups.shop import FOLLOWUPS_CONFIG, Stack, free_port
from tests.store.test_sales_desk import handoff_settings

TOKEN = "sales-token-123"


async def test_the_lead_page_lists_followups_with_their_state_and_why(
    migrated_sqlite_url: str, tmp_path: Path
) -> None:
    engine = create_db_engine(migrated_sqlite_url)
    try:
        stack = Stack(engine, free_port())
        clicked = stack.shopper(answers=[("budget", "40", {"amount": "40", "currency": "EUR"})])
        unsubscribed = stack.shopper()
        silent = stack.shopper(consent=False)
        stack.clock.advance(hours=4)
        stack.plan_and_release()
        cart = next(row.id for row in stack.followups(clicked) if row.play == "cart_recovery")
        with write_transaction(engine) as connection:
            stack.planner.record_click(connection, cart, stack.clock.now)
            stack.planner.unsubscribe(connection, unsubscribed, stack.clock.now)
    finally:
        engine.dispose()
    settings = handoff_settings(
        database_url=migrated_sqlite_url,
        leads_api_token=TOKEN,
        spool_dir=tmp_path / "spool",
        followups_config_path=FOLLOWUPS_CONFIG,
    )
    async with TestClient(TestServer(create_app(settings))) as client:
        signed_in = await client.post(
            "/login", data={"token": TOKEN, "name": "Camille Martin", "next": "/leads"}
        )
        assert signed_in.status == 200
        page = html.unescape(await (await client.get(f"/leads/{clicked}")).text())
        section = page[page.index("<h2>Follow-ups</h2>") :]
        assert "cart recovery" in section and "opened by click" in section
        assert "(1\u00d7)" in section
        assert "budget alternatives" in section
        page = html.unescape(await (await client.get(f"/leads/{unsubscribed}")).text())
        section = page[page.index("<h2>Follow-ups</h2>") :]
        assert "stopped" in section and "unsubscribed" in section
        page = html.unescape(await (await client.get(f"/leads/{silent}")).text())
        section = page[page.index("<h2>Follow-ups</h2>") :]
        assert "the shopper has not consented to be contacted" in section
