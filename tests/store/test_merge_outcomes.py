"""A merge moves the absorbed lead's orders and follow-ups to the survivor.

The survivor's revenue is the sum of both leads' orders, its follow-ups are the
person's (one row per play), and the outcome report counts the absorbed lead's
order against the survivor's follow-ups. Runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import insert, select
from sqlalchemy.engine import Engine

from bot.catalog import DEMO_CATALOG, load_catalog
from bot.handoff import planner_for
from bot.leads import LeadService
from bot.leads.book import LeadBook
from bot.leads.outcomes import Customer, Orders
from bot.leads.outcomes_report import outcome_report
from bot.scoring import scorer_for
from bot.store.models import Followup, Lead, Order
from bot.store.tracker import ConversationStore
from tests.store.test_orders import EUR_SHOP, ORDERED_AT, purchase
from tests.store.test_sales_desk import NOW, handoff_settings, tell_story

SIGNAL = ORDERED_AT - timedelta(days=1)


@pytest.fixture
def book(engine: Engine, tracker_store_url: str) -> Iterator[LeadBook]:
    settings = handoff_settings()
    repository = LeadService(engine, scorer_for(settings), planner_for(settings))
    conversations = ConversationStore(tracker_store_url)
    yield LeadBook(repository, conversations, region="FR")
    conversations.dispose()


def add_followup(engine: Engine, lead_id: str, play: str, status: str) -> str:
    followup_id = f"f-{lead_id[:8]}-{play}"
    with engine.begin() as connection:
        connection.execute(
            insert(Followup.__table__).values(
                id=followup_id,
                lead_id=lead_id,
                play=play,
                status=status,
                channel="email",
                template=play,
                priority=1,
                signal_at=SIGNAL,
                due_at=SIGNAL + timedelta(hours=4),
                planned_at=SIGNAL,
                queued_at=SIGNAL + timedelta(hours=4) if status == "queued" else None,
            )
        )
    return followup_id


def rows(engine: Engine, table: Any) -> list[Any]:
    with engine.connect() as connection:
        return connection.execute(select(table.__table__)).all()


def lead_row(engine: Engine, lead_id: str) -> Any:
    with engine.connect() as connection:
        return connection.execute(select(Lead.__table__).where(Lead.id == lead_id)).one()


def test_orders_and_followups_move_to_the_survivor(engine: Engine, book: LeadBook) -> None:
    ada = tell_story(engine, handoff_settings(), NOW, session="s-ada", email="ada@example.com")
    twin = tell_story(engine, handoff_settings(), NOW, session="s-twin", email="twin@example.com")
    orders = Orders(engine, EUR_SHOP)
    orders.record(purchase("1"), Customer(lead_id=ada.lead_id), by="shop", now=NOW)
    earlier = ORDERED_AT - timedelta(hours=2)
    orders.record(
        purchase("2", value=Decimal("10.00"), ordered_at=earlier),
        Customer(lead_id=twin.lead_id),
        by="shop",
        now=NOW,
    )
    # Plays only the twin had move; for a play both had, a decision beats a plan.
    sent = add_followup(engine, twin.lead_id, "cart", "queued")
    held = add_followup(engine, twin.lead_id, "price", "held_out")
    stopped = add_followup(engine, twin.lead_id, "reminder", "stopped")
    twin_sent = add_followup(engine, twin.lead_id, "sla", "queued")
    ada_planned = add_followup(engine, ada.lead_id, "sla", "planned")
    ada_sent = add_followup(engine, ada.lead_id, "restock", "queued")
    twin_planned = add_followup(engine, twin.lead_id, "restock", "planned")
    ada_plan = add_followup(engine, ada.lead_id, "timeline", "planned")
    twin_plan = add_followup(engine, twin.lead_id, "timeline", "planned")

    merged = book.merge(ada.lead_id, twin.lead_id, by="rep", now=NOW)
    assert merged["id"] == ada.lead_id

    assert {row.order_id: row.lead_id for row in rows(engine, Order)} == {
        "1": ada.lead_id,
        "2": ada.lead_id,
    }
    survivor, absorbed = lead_row(engine, ada.lead_id), lead_row(engine, twin.lead_id)
    assert (Decimal(survivor.revenue), survivor.revenue_currency) == (Decimal("139.90"), "EUR")
    assert (absorbed.revenue, absorbed.revenue_currency) == (None, None)
    # A customer since the twin's (earlier) order.
    assert survivor.converted_at == earlier
    shown = orders.lead_orders(ada.lead_id)
    assert [order["order_id"] for order in shown["orders"]] == ["1", "2"]

    followups = {row.id: row for row in rows(engine, Followup)}
    on_survivor = {row.play: row.id for row in followups.values() if row.lead_id == ada.lead_id}
    assert on_survivor == {
        "cart": sent,
        "price": held,
        "reminder": stopped,
        "sla": twin_sent,  # sent to the twin: the survivor's plan of it goes
        "restock": ada_sent,
        "timeline": ada_plan,
    }
    assert ada_planned not in followups
    # The twin's plans of plays the survivor has stay on the twin, stopped, never sent.
    for left in (twin_planned, twin_plan):
        row = followups[left]
        assert (row.lead_id, row.status, row.stop_reason) == (
            twin.lead_id,
            "stopped",
            "merged into another lead",
        )


def test_the_report_counts_the_absorbed_leads_order_for_the_survivors_followup(
    engine: Engine, book: LeadBook
) -> None:
    ada = tell_story(engine, handoff_settings(), NOW, session="s-ada", email="ada@example.com")
    twin = tell_story(engine, handoff_settings(), NOW, session="s-twin", email="twin@example.com")
    add_followup(engine, ada.lead_id, "cart", "queued")
    add_followup(engine, twin.lead_id, "price", "held_out")
    Orders(engine, EUR_SHOP).record(
        purchase("9", value=Decimal("25.00")), Customer(lead_id=twin.lead_id), by="shop", now=NOW
    )
    book.merge(ada.lead_id, twin.lead_id, by="rep", now=NOW)

    report = outcome_report(engine, load_catalog(DEMO_CATALOG), now=NOW)
    plays = {row.play: row for row in report.plays}
    assert set(plays) == {"cart", "price"}
    for row in plays.values():
        group = row.assigned if row.play == "cart" else row.held_out
        assert (group.leads, group.converted, group.revenue) == (1, 1, Decimal("25.00"))
