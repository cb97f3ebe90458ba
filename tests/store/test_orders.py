"""Orders: a purchase marks the lead Won with its revenue and closes its handoffs, once.

Every test runs on SQLite and PostgreSQL (the ``database_url`` fixture), with the
real lead service, handoff planner and store.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from types import MappingProxyType
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from bot.catalog import RateTable
from bot.handoff import planner_for
from bot.leads import LeadService
from bot.leads.book import LeadBook
from bot.leads.commands import RecordEvent
from bot.leads.outcomes import (
    Customer,
    NoExchangeRate,
    OrderConflict,
    OrderResult,
    Orders,
    Purchase,
    Revenue,
)
from bot.scoring import scorer_for
from bot.store.models import Handoff, Lead, LeadStatusChange, Order
from bot.store.orders import has_purchased, purchased_leads
from bot.store.tracker import ConversationStore
from tests.store.test_sales_desk import NOW, handoff_settings, tell_story

ORDERED_AT = NOW - timedelta(minutes=5)
# One USD is worth 0.9 EUR, one GBP 1.2 EUR; the shop sells in EUR.
RATES = RateTable(
    currency="EUR",
    as_of=date(2026, 3, 1),
    rates=MappingProxyType({"USD": Decimal("0.9"), "GBP": Decimal("1.2")}),
)
EUR_SHOP = Revenue("EUR", RATES)


def purchase(order_id: str = "1001", **changes: Any) -> Purchase:
    fields: dict[str, Any] = {
        "source": "shopify",
        "order_id": order_id,
        "value": Decimal("129.90"),
        "currency": "EUR",
        "ordered_at": ORDERED_AT,
        "product_id": "hoodie-classic",
        "variant_id": "hoodie-classic-blue-m",
        "sku": "HC-BLU-M",
        "quantity": 1,
    }
    fields.update(changes)
    return Purchase(**fields)


@pytest.fixture
def orders(engine: Engine) -> Orders:
    return Orders(engine, EUR_SHOP)


def count(engine: Engine, table: Any, **where: Any) -> int:
    query = select(func.count()).select_from(table.__table__)
    for name, value in where.items():
        query = query.where(table.__table__.c[name] == value)
    with engine.connect() as connection:
        return int(connection.execute(query).scalar_one())


def lead_row(engine: Engine, lead_id: str) -> Any:
    with engine.connect() as connection:
        return connection.execute(select(Lead.__table__).where(Lead.id == lead_id)).one()


def handoff_row(engine: Engine, handoff_id: str) -> Any:
    with engine.connect() as connection:
        return connection.execute(select(Handoff.__table__).where(Handoff.id == handoff_id)).one()


# --- a purchase --------------------------------------------------------------------------------


def test_an_order_makes_the_lead_won_with_revenue_and_closes_its_handoff(
    engine: Engine, orders: Orders
) -> None:
    story = tell_story(engine, handoff_settings(), NOW)
    assert handoff_row(engine, story.handoff_id).status == "open"

    result = orders.record(
        purchase(), Customer(session_id="s-story"), by="order webhook (shopify)", now=NOW
    )

    assert (result.duplicate, result.lead_id, result.status) == (False, story.lead_id, "Won")
    assert (result.revenue, result.revenue_currency) == (Decimal("129.90"), "EUR")
    assert result.closed_handoffs == (story.handoff_id,)
    assert result.order["matched_by"] == "session_id"
    lead = lead_row(engine, story.lead_id)
    assert (lead.status, lead.lifecycle_stage) == ("Won", "customer")
    assert (Decimal(lead.revenue), lead.revenue_currency) == (Decimal("129.90"), "EUR")
    # The shopper became a customer when they ordered, not when the shop told us.
    assert lead.converted_at == ORDERED_AT
    handoff = handoff_row(engine, story.handoff_id)
    assert (handoff.status, handoff.outcome, handoff.closed_at) == ("closed", "won", NOW)
    with engine.connect() as connection:
        [change] = connection.execute(
            select(LeadStatusChange.__table__).where(LeadStatusChange.lead_id == story.lead_id)
        ).all()
    assert (change.from_status, change.to_status) == ("New", "Won")
    assert change.changed_by == "order webhook (shopify)"
    assert change.reason == "order 1001 (shopify)"
    with engine.connect() as connection:
        assert has_purchased(connection, story.lead_id)


def test_the_same_order_again_changes_nothing_and_answers_the_stored_result(
    engine: Engine, orders: Orders
) -> None:
    story = tell_story(engine, handoff_settings(), NOW)
    first = orders.record(purchase(), Customer(session_id="s-story"), by="shop", now=NOW)
    again = orders.record(
        # 129.9 is the amount 129.90 is; a later delivery may add the buyer's e-mail.
        purchase(value=Decimal("129.9")),
        Customer(session_id="s-story", email="ada@example.com"),
        by="shop",
        now=NOW + timedelta(minutes=1),
    )
    assert again.duplicate and not first.duplicate
    assert (again.lead_id, again.status, again.revenue) == (story.lead_id, "Won", Decimal("129.9"))
    assert again.order == first.order
    assert count(engine, Order) == 1
    assert count(engine, LeadStatusChange, lead_id=story.lead_id) == 1


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"value": Decimal("99")}, "value"),  # another amount
        ({"currency": "USD"}, "currency"),  # same figure, other money
        ({"variant_id": "hoodie-classic-black-l"}, "variant_id"),  # another variant
        ({"quantity": 2}, "quantity"),  # more items
        ({"ordered_at": ORDERED_AT + timedelta(days=1)}, "ordered_at"),  # another day
    ],
)
def test_an_order_id_reused_with_another_body_is_a_conflict_naming_the_field(
    engine: Engine, orders: Orders, change: dict[str, Any], field: str
) -> None:
    tell_story(engine, handoff_settings(), NOW)
    orders.record(purchase(), Customer(session_id="s-story"), by="shop", now=NOW)
    with pytest.raises(OrderConflict) as raised:
        orders.record(purchase(**change), Customer(session_id="s-story"), by="shop", now=NOW)
    assert raised.value.field == field
    assert str(raised.value).startswith(f"{field}: order '1001' of source 'shopify'")
    assert count(engine, Order) == 1


def test_revenue_sums_the_leads_orders_in_the_shop_currency(engine: Engine, orders: Orders) -> None:
    story = tell_story(engine, handoff_settings(), NOW)
    orders.record(purchase("1"), Customer(lead_id=story.lead_id), by="shop", now=NOW)
    second = orders.record(
        purchase("2", value=Decimal("100"), currency="USD"),
        Customer(lead_id=story.lead_id),
        by="shop",
        now=NOW,
    )
    # 129.90 EUR + 100 USD at 0.9 EUR.
    assert (second.revenue, second.revenue_currency) == (Decimal("219.90"), "EUR")
    assert second.order["value"] == Decimal("100") and second.order["currency"] == "USD"
    assert second.order["shop_value"] == Decimal("90")
    # The second order finds the lead Won already: no second status change.
    assert count(engine, LeadStatusChange, lead_id=story.lead_id) == 1


def test_an_order_in_a_currency_the_shop_cannot_convert_is_refused(
    engine: Engine, orders: Orders
) -> None:
    story = tell_story(engine, handoff_settings(), NOW)
    with pytest.raises(NoExchangeRate, match=r"currency: no exchange rate from JPY to .* EUR"):
        orders.record(
            purchase(currency="JPY", value=Decimal("20000")),
            Customer(lead_id=story.lead_id),
            by="shop",
            now=NOW,
        )
    assert count(engine, Order) == 0
    assert lead_row(engine, story.lead_id).status == "New"


# --- finding the buyer -------------------------------------------------------------------------


def test_lead_id_comes_before_session_and_session_before_email(
    engine: Engine, orders: Orders
) -> None:
    ada = tell_story(engine, handoff_settings(), NOW, session="s-ada", email="ada@example.com")
    bob = tell_story(engine, handoff_settings(), NOW, session="s-bob", email="bob@example.com")
    by_id = orders.record(
        purchase("1"),
        Customer(lead_id=bob.lead_id, session_id="s-ada", email="ada@example.com"),
        by="shop",
        now=NOW,
    )
    by_session = orders.record(
        purchase("2"),
        Customer(lead_id="0" * 32, session_id="s-ada", email="bob@example.com"),
        by="shop",
        now=NOW,
    )
    by_email = orders.record(
        purchase("3"), Customer(session_id="s-nobody", email="BOB@Example.com"), by="shop", now=NOW
    )
    assert (by_id.lead_id, by_id.order["matched_by"]) == (bob.lead_id, "lead_id")
    assert (by_session.lead_id, by_session.order["matched_by"]) == (ada.lead_id, "session_id")
    assert (by_email.lead_id, by_email.order["matched_by"]) == (bob.lead_id, "email")


def test_an_order_no_lead_matches_is_kept_unattributed(engine: Engine, orders: Orders) -> None:
    result = orders.record(
        purchase(), Customer(session_id="s-unknown", email="nobody@example.com"), by="shop", now=NOW
    )
    assert (result.lead_id, result.status, result.revenue) == (None, None, None)
    assert result.order["matched_by"] is None
    assert count(engine, Order) == 1
    again = orders.record(purchase(), Customer(session_id="s-unknown"), by="shop", now=NOW)
    assert again.duplicate and again.lead_id is None
    assert count(engine, Order) == 1


# --- concurrent deliveries ---------------------------------------------------------------------


def _deliver_at_once(orders: Orders, customer: Customer, times: int) -> list[OrderResult]:
    """``times`` threads deliver the same order, released together."""
    start = threading.Barrier(times)
    results: list[OrderResult] = []
    failures: list[BaseException] = []
    lock = threading.Lock()

    def deliver() -> None:
        start.wait()
        try:
            result = orders.record(purchase(), customer, by="shop", now=NOW)
        except BaseException as exc:  # reported below, with the others
            with lock:
                failures.append(exc)
            return
        with lock:
            results.append(result)

    threads = [threading.Thread(target=deliver) for _ in range(times)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    return results


@pytest.mark.parametrize("matched", [True, False], ids=["of-a-lead", "unattributed"])
def test_concurrent_deliveries_of_one_order_store_it_once(
    engine: Engine, orders: Orders, matched: bool
) -> None:
    story = tell_story(engine, handoff_settings(), NOW)
    customer = Customer(session_id="s-story" if matched else "s-unknown")
    results = _deliver_at_once(orders, customer, 4)
    assert sorted(result.duplicate for result in results) == [False, True, True, True]
    assert count(engine, Order) == 1
    if matched:
        assert {result.revenue for result in results} == {Decimal("129.90")}
        assert Decimal(lead_row(engine, story.lead_id).revenue) == Decimal("129.90")
        assert count(engine, LeadStatusChange, lead_id=story.lead_id) == 1


def test_concurrent_orders_of_one_lead_all_count(engine: Engine, orders: Orders) -> None:
    story = tell_story(engine, handoff_settings(), NOW)
    start = threading.Barrier(4)
    failures: list[BaseException] = []

    def deliver(order_id: str) -> None:
        start.wait()
        try:
            orders.record(
                purchase(order_id, value=Decimal("10")),
                Customer(lead_id=story.lead_id),
                by="shop",
                now=NOW,
            )
        except BaseException as exc:  # reported below
            failures.append(exc)

    threads = [threading.Thread(target=deliver, args=(f"o-{n}",)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert Decimal(lead_row(engine, story.lead_id).revenue) == Decimal("40")


# --- purchase events ---------------------------------------------------------------------------


def _purchase_event(session: str, event_id: str, **properties: Any) -> RecordEvent:
    return RecordEvent(
        session_id=session,
        event_id=event_id,
        type="purchase",
        ts=ORDERED_AT,
        source="storefront",
        product_id="hoodie-classic",
        variant_id="hoodie-classic-blue-m",
        value=Decimal("129.90"),
        properties=properties,
    )


def test_a_purchase_event_records_its_order_and_closes_the_handoff(engine: Engine) -> None:
    story = tell_story(engine, handoff_settings(), NOW)
    service = story.repository
    event = _purchase_event("s-story", "p-1", order_id="A-7", currency="EUR")
    service.apply([event], now=NOW)
    # The same event again, and another event naming the same order: still one order.
    service.apply([event, _purchase_event("s-story", "p-2", order_id="A-7")], now=NOW)
    with engine.connect() as connection:
        [order] = connection.execute(select(Order.__table__)).all()
    assert (order.source, order.order_id, order.lead_id) == ("storefront", "A-7", story.lead_id)
    lead = lead_row(engine, story.lead_id)
    assert (lead.status, Decimal(lead.revenue), lead.revenue_currency) == (
        "Won",
        Decimal("129.90"),
        "EUR",
    )
    handoff = handoff_row(engine, story.handoff_id)
    assert (handoff.status, handoff.outcome) == ("closed", "won")


def test_a_purchase_event_without_a_value_records_no_order(engine: Engine) -> None:
    story = tell_story(engine, handoff_settings(), NOW)
    event = RecordEvent(
        session_id="s-story", event_id="p-0", type="purchase", ts=ORDERED_AT, source="storefront"
    )
    story.repository.apply([event], now=NOW)
    assert count(engine, Order) == 0
    assert lead_row(engine, story.lead_id).status == "New"
    # Still a purchase: follow-ups stop on it.
    with engine.connect() as connection:
        assert has_purchased(connection, story.lead_id)


def test_purchased_leads_finds_buyers_among_many(engine: Engine, orders: Orders) -> None:
    buyer = tell_story(engine, handoff_settings(), NOW, session="s-buyer", email="b@example.com")
    browser = tell_story(engine, handoff_settings(), NOW, session="s-browse", email="c@example.com")
    orders.record(purchase(), Customer(lead_id=buyer.lead_id), by="shop", now=NOW)
    with engine.connect() as connection:
        assert purchased_leads(connection, [buyer.lead_id, browser.lead_id]) == {buyer.lead_id}
        assert not has_purchased(connection, browser.lead_id)
        assert purchased_leads(connection, []) == set()


def test_a_service_without_a_scorer_counts_orders_in_their_own_currency(engine: Engine) -> None:
    service = LeadService(engine)
    service.apply([_purchase_event("s-plain", "p-1", currency="GBP")], now=NOW)
    lead = service.get_lead_by_session("s-plain")
    assert lead is not None
    row = lead_row(engine, lead["id"])
    assert (row.status, Decimal(row.revenue), row.revenue_currency) == (
        "Won",
        Decimal("129.90"),
        "GBP",
    )


# --- erasure -----------------------------------------------------------------------------------


@pytest.fixture
def book(engine: Engine, tracker_store_url: str) -> Iterator[LeadBook]:
    settings = handoff_settings()
    repository = LeadService(engine, scorer_for(settings), planner_for(settings))
    conversations = ConversationStore(tracker_store_url)
    yield LeadBook(repository, conversations, region="FR")
    conversations.dispose()


def test_erasure_removes_the_leads_orders_and_counts_them(
    engine: Engine, orders: Orders, book: LeadBook
) -> None:
    story = tell_story(engine, handoff_settings(), NOW)
    other = tell_story(engine, handoff_settings(), NOW, session="s-other", email="o@example.com")
    orders.record(purchase("1"), Customer(lead_id=story.lead_id), by="shop", now=NOW)
    orders.record(purchase("2"), Customer(lead_id=story.lead_id), by="shop", now=NOW)
    orders.record(purchase("3"), Customer(lead_id=other.lead_id), by="shop", now=NOW)
    result = book.erase(story.lead_id, by="dpo@shop", now=NOW + timedelta(days=1))
    assert result["removed"]["orders"] == 2
    assert count(engine, Order, lead_id=story.lead_id) == 0
    assert count(engine, Order, lead_id=other.lead_id) == 1


def test_money_is_exact_on_every_database(engine: Engine, orders: Orders) -> None:
    story = tell_story(engine, handoff_settings(), NOW)
    # Floats would make 0.1 + 0.2 = 0.30000000000000004.
    orders.record(
        purchase("a", value=Decimal("0.1")), Customer(lead_id=story.lead_id), by="s", now=NOW
    )
    result = orders.record(
        purchase("b", value=Decimal("0.2")), Customer(lead_id=story.lead_id), by="s", now=NOW
    )
    assert result.revenue == Decimal("0.3")
    assert datetime.fromisoformat(result.order["ordered_at"]) == ORDERED_AT.astimezone(timezone.utc)


def test_a_merged_leads_orders_count_for_the_lead_it_was_merged_into(
    engine: Engine, orders: Orders, book: LeadBook
) -> None:
    ada = tell_story(engine, handoff_settings(), NOW, session="s-ada", email="ada@example.com")
    twin = tell_story(engine, handoff_settings(), NOW, session="s-twin", email="twin@example.com")
    orders.record(purchase("1"), Customer(lead_id=twin.lead_id), by="shop", now=NOW)
    book.merge(ada.lead_id, twin.lead_id, by="rep", now=NOW)
    assert Decimal(lead_row(engine, ada.lead_id).revenue) == Decimal("129.90")
    with engine.connect() as connection:
        assert has_purchased(connection, ada.lead_id)
        assert purchased_leads(connection, [ada.lead_id]) == {ada.lead_id}
    # An order naming the absorbed lead goes to the lead it stands for, with both orders.
    later = orders.record(
        purchase("2", value=Decimal("10")), Customer(lead_id=twin.lead_id), by="shop", now=NOW
    )
    assert (later.lead_id, later.revenue) == (ada.lead_id, Decimal("139.90"))
    # The first order again answers with the lead it now belongs to.
    again = orders.record(purchase("1"), Customer(lead_id=twin.lead_id), by="shop", now=NOW)
    assert (again.duplicate, again.lead_id, again.revenue) == (True, ada.lead_id, Decimal("139.90"))
    shown = orders.lead_orders(ada.lead_id)
    assert [order["order_id"] for order in shown["orders"]] == ["2", "1"]
    assert shown["revenue"] == Decimal("139.90")
