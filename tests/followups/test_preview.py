"""Previewing a play for a lead: the right product or its category, never a blank or another one."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, insert, select
from sqlalchemy.engine import Engine

from bot import clock
from bot.cli import main
from bot.store.db import create_db_engine, write_transaction
from bot.store.models import Followup, Handoff, OutboxMessage
from tests.followups.shop import FOLLOWUPS_CONFIG, Stack, free_port


@pytest.fixture
def stack(engine: Engine) -> Stack:
    return Stack(engine, free_port())


def preview(stack: Stack, lead_id: str, play: str) -> tuple[str, str, str]:
    with stack.engine.connect() as connection:
        rendered = stack.planner.preview(connection, lead_id, play, stack.clock.now)
    return rendered.subject, rendered.text, rendered.html


def test_cart_recovery_names_the_variant_price_stock_and_delivery(stack: Stack) -> None:
    lead_id = stack.shopper(country="DE")
    subject, text, html = preview(stack, lead_id, "cart_recovery")
    assert subject == "Your Classic Hoodie — blue, M is still waiting"
    assert "59.00 EUR" in text and "12 in stock" in text
    assert "Delivery to Germany: about 3 days" in text
    assert "Unsubscribe with one click: http://leads.test/u/" in text
    assert "<strong>Classic Hoodie — blue, M</strong>" in html


def test_a_product_that_does_not_ship_there_says_so(stack: Stack) -> None:
    lead_id = stack.shopper(country="JP")
    _, text, _ = preview(stack, lead_id, "cart_recovery")
    assert "We do not deliver Classic Hoodie to Japan yet" in text
    assert "Delivery to Japan" not in text


def test_an_unknown_variant_falls_back_to_the_products_category(stack: Stack) -> None:
    lead_id = stack.shopper(variant="hoodie-classic-discontinued")
    subject, text, _ = preview(stack, lead_id, "cart_recovery")
    # The product viewed is known (the event named it): its category, no variant, no price.
    assert subject == "Still looking for apparel?"
    assert "You were looking at our apparel." in text
    assert "EUR" not in text


def test_no_product_at_all_falls_back_to_the_shop(stack: Stack) -> None:
    lead_id = stack.shopper(steps=())
    subject, text, _ = preview(stack, lead_id, "timeline_reminder")
    assert subject == "A quick reminder from Atelier Nord"
    assert "Our shop: http://leads.test/c/" in text
    assert text.strip()


def test_not_forgotten_names_the_rep(stack: Stack) -> None:
    lead_id = stack.shopper()
    now = stack.clock.now
    with write_transaction(stack.engine) as connection:
        connection.execute(
            insert(Handoff.__table__).values(
                id="f" * 32,
                lead_id=lead_id,
                trigger="became_hot",
                team="sales",
                assigned_to="Camille Martin",
                sla="within_1h",
                priority=0,
                status="open",
                contact_by=now + timedelta(hours=1),
                due_at=now + timedelta(hours=1),
                created_at=now,
            )
        )
    subject, text, _ = preview(stack, lead_id, "not_forgotten")
    assert subject == "We have not forgotten you"
    assert "Camille Martin from our team will be in touch very soon about Classic Hoodie" in text


def test_preview_command_prints_the_message_and_sends_nothing(
    migrated_sqlite_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    engine = create_db_engine(migrated_sqlite_url)
    try:
        stack = Stack(engine, free_port())
        lead_id = stack.shopper()
    finally:
        engine.dispose()
    for name, value in {
        "DATABASE_URL": migrated_sqlite_url,
        "FOLLOWUPS_CONFIG": str(FOLLOWUPS_CONFIG),
        "PUBLIC_URL": "http://leads.test",
        "LEADS_API_TOKEN": "t" * 20,
        "STOREFRONT_TOKEN": "s" * 20,
        "SESSION_SECRET": "k" * 20,
        "ACTIONS_TOKEN": "a" * 20,
    }.items():
        monkeypatch.setenv(name, value)
    assert main(["followups", "preview", "--lead", lead_id, "--play", "cart_recovery"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Subject: Your Classic Hoodie — blue, M is still waiting\n")
    assert "59.00 EUR" in out
    assert main(["followups", "preview", "--lead", lead_id, "--play", "nope"]) == 1
    assert "no play 'nope'" in capsys.readouterr().err
    assert main(["followups", "preview", "--lead", "0" * 32, "--play", "cart_recovery"]) == 1
    assert f"no lead with id {'0' * 32!r}" in capsys.readouterr().err
    engine = create_db_engine(migrated_sqlite_url)
    try:
        with engine.connect() as connection:
            assert connection.execute(select(func.count()).select_from(Followup)).scalar() == 0
            assert connection.execute(select(func.count()).select_from(OutboxMessage)).scalar() == 0
    finally:
        engine.dispose()


def test_plan_command_plans_the_due_plays(
    migrated_sqlite_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    engine = create_db_engine(migrated_sqlite_url)
    try:
        stack = Stack(engine, free_port())
        stack.shopper()
        stack.shopper(consent=False)
    finally:
        engine.dispose()
    for name, value in {
        "DATABASE_URL": migrated_sqlite_url,
        "FOLLOWUPS_CONFIG": str(FOLLOWUPS_CONFIG),
        "LEADS_API_TOKEN": "t" * 20,
        "STOREFRONT_TOKEN": "s" * 20,
        "SESSION_SECRET": "k" * 20,
        "ACTIONS_TOKEN": "a" * 20,
    }.items():
        monkeypatch.setenv(name, value)
    with clock.frozen(stack.clock.now + timedelta(hours=4)):
        # Two processes sharing the leads by id, then one alone.
        assert main(["followups", "plan", "--batch", "1", "--workers", "2"]) == 0
        assert "1 consenting leads read: 1 follow-ups planned, 0 held out" in (
            capsys.readouterr().out
        )
        # Planned once: a second run plans nothing more.
        assert main(["followups", "plan", "--workers", "1"]) == 0
        assert "0 follow-ups planned" in capsys.readouterr().out
