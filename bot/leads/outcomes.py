"""Purchases: an order marks its lead Won with its revenue and closes its open handoffs.

Orders come from two places: the shop platform's order webhook
(``POST /api/v2/orders``, :class:`Orders`) and ``purchase`` storefront events (the
lead service calls :func:`record_purchase` in the events' transaction). Both end
in :func:`record_purchase`, inside a transaction holding the lead's row lock:

- the order is stored once per (source, order id): the same order again changes
  nothing and answers the stored result; the same id with another value, currency,
  variant, sku, product, quantity or time raises :class:`OrderConflict` naming the field;
- the lead's revenue becomes the sum of its orders in the shop's currency (orders in
  another currency are converted with the shop's exchange rates, ``bot/catalog/rates.yml``);
- the lead becomes Won (kept in its status history, like a salesperson's change)
  with ``converted_at`` the order's time (the first order's), and its open or
  acknowledged handoffs close with the outcome ``won``.

An order no lead matches is stored too, unattributed (``lead_id`` empty): the
revenue is real, and a shop platform retrying a refused order would only repeat it.

Other code asks :func:`bot.store.orders.has_purchased` (or
:func:`bot.store.orders.purchased_leads` for many leads) whether a lead bought.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError, OperationalError

from bot import clock
from bot.catalog import NO_RATES, RateTable
from bot.leads.commands import RecordEvent
from bot.store import orders as store
from bot.store.contacts import normalise_email
from bot.store.db import write_transaction
from bot.store.entries import mark_converted
from bot.store.models import Lead
from bot.store.sales import record_status_change, surviving_lead
from bot.store.writes import KNOWN_EVENT_IDS, known_ids

# Amounts in the shop's currency are kept to 4 decimal places (the column's scale).
SHOP_VALUE_PLACES = Decimal("0.0001")
WON = "Won"
# The outcome a purchase gives the handoffs it closes.
WON_OUTCOME = "won"
RETRIES = 3
# Where a ``purchase`` event's order details go in its ``properties``.
ORDER_ID_PROPERTY = "order_id"
ORDER_SOURCE_PROPERTY = "order_source"
CURRENCY_PROPERTY = "currency"
SKU_PROPERTY = "sku"
QUANTITY_PROPERTY = "quantity"
# Limits of an order's fields (the store's columns).
ORDER_DECIMALS = 4
MAX_ORDER_ID_CHARS = 160
MAX_SKU_CHARS = 120
MAX_QUANTITY = 10_000
# The source of the order webhook's orders that name none.
WEBHOOK_ORDER_SOURCE = "shop"
# The source of orders reported by storefront ``purchase`` events without ``order_source``.
EVENT_ORDER_SOURCE = "storefront"
_RETRY_CODES = frozenset({"40P01", "40001"})
_LEADS = Lead.__table__


class NoExchangeRate(ValueError):
    """An order in a currency the shop's rate table cannot convert to the shop's currency."""

    def __init__(self, currency: str, shop_currency: str) -> None:
        super().__init__(
            f"currency: no exchange rate from {currency} to the shop's currency "
            f"{shop_currency}; add {currency} to the shop's rate table (RATES_PATH)"
        )
        self.currency = currency


class OrderConflict(ValueError):
    """An order id already stored with a different ``field``."""

    def __init__(self, source: str, order_id: str, field: str, stored: Any, given: Any) -> None:
        super().__init__(
            f"{field}: order {order_id!r} of source {source!r} is already stored with "
            f"{field} {stored!r}, not {given!r}; an order id names one order"
        )
        self.field = field


@dataclass(frozen=True)
class Revenue:
    """The shop's currency and the rates that convert order amounts into it.

    ``currency`` empty: no shop currency known (a store used without the catalogue);
    each order then counts in its own currency.
    """

    currency: str = ""
    rates: RateTable = NO_RATES

    def convertible(self, currency: str) -> bool:
        """Whether an order in ``currency`` can be counted."""
        return (
            not self.currency or self.rates.convert(Decimal(1), currency, self.currency) is not None
        )

    def in_shop_currency(self, value: Decimal, currency: str) -> tuple[Decimal, str]:
        """``value`` of ``currency`` in the shop's currency (:class:`NoExchangeRate` if none)."""
        if not self.currency or currency == self.currency:
            return value, currency
        converted = self.rates.convert(value, currency, self.currency)
        if converted is None:
            raise NoExchangeRate(currency, self.currency)
        return converted.quantize(SHOP_VALUE_PLACES), self.currency


@dataclass(frozen=True)
class Purchase:
    """One order: who sold it (``source``), its id there, and what was bought."""

    source: str
    order_id: str
    value: Decimal
    currency: str
    ordered_at: datetime
    product_id: str | None = None
    variant_id: str | None = None
    sku: str | None = None
    quantity: int = 1

    def fields(self) -> dict[str, Any]:
        """The order-defining fields (:data:`bot.store.orders.ORDER_FIELDS`)."""
        return {name: getattr(self, name) for name in store.ORDER_FIELDS}


@dataclass(frozen=True)
class Customer:
    """What the shop knows of the buyer; the first that names a lead wins.

    Precedence: ``lead_id`` (an id this app gave the shop), then ``session_id``
    (the storefront/chat session), then ``email`` (the most recently updated lead
    with that address).
    """

    lead_id: str | None = None
    session_id: str | None = None
    email: str | None = None


@dataclass(frozen=True)
class OrderResult:
    """What recording an order did (``duplicate``: it was stored already)."""

    order: dict[str, Any]
    duplicate: bool
    lead_id: str | None
    status: str | None
    revenue: Decimal | None
    revenue_currency: str | None
    closed_handoffs: tuple[str, ...] = ()

    def as_json(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "duplicate": self.duplicate,
            "matched": self.lead_id is not None,
            "matched_by": self.order["matched_by"],
            "lead_id": self.lead_id,
            "status": self.status,
            "revenue": self.revenue.normalize() if self.revenue is not None else None,
            "revenue_currency": self.revenue_currency,
            "closed_handoffs": list(self.closed_handoffs),
            "order": self.order,
        }


def purchase_of_event(event: RecordEvent, revenue: Revenue) -> Purchase | None:
    """The order a ``purchase`` event reports; ``None`` without a value or a currency.

    The order id is ``properties.order_id`` (the event id without one), its source
    ``properties.order_source`` (default ``storefront``); the currency is
    ``properties.currency``, else the shop's.
    """
    properties = event.properties
    currency = properties.get(CURRENCY_PROPERTY) or revenue.currency
    if event.type != "purchase" or event.value is None or not isinstance(currency, str):
        return None
    quantity = properties.get(QUANTITY_PROPERTY)
    sku = properties.get(SKU_PROPERTY)
    return Purchase(
        source=str(properties.get(ORDER_SOURCE_PROPERTY) or EVENT_ORDER_SOURCE),
        order_id=str(properties.get(ORDER_ID_PROPERTY) or event.event_id),
        value=event.value,
        currency=currency,
        ordered_at=event.ts,
        product_id=event.product_id,
        variant_id=event.variant_id,
        sku=sku if isinstance(sku, str) else None,
        quantity=quantity if isinstance(quantity, int) and quantity >= 1 else 1,
    )


def find_customer(connection: Connection, customer: Customer) -> tuple[str | None, str | None]:
    """The surviving lead ``customer`` names and how it was found, or ``(None, None)``."""
    if customer.lead_id:
        row = connection.execute(
            select(_LEADS.c.id, _LEADS.c.merged_into).where(_LEADS.c.id == customer.lead_id)
        ).one_or_none()
        if row is not None:
            return str(row.merged_into or row.id), "lead_id"
    if customer.session_id:
        row = connection.execute(
            select(_LEADS.c.id, _LEADS.c.merged_into).where(
                _LEADS.c.session_id == customer.session_id
            )
        ).one_or_none()
        if row is not None:
            return str(row.merged_into or row.id), "session_id"
    if customer.email:
        try:
            email = normalise_email(customer.email)
        except ValueError:
            return None, None
        row = connection.execute(
            select(_LEADS.c.id)
            .where(_LEADS.c.email == email, _LEADS.c.merged_into.is_(None))
            .order_by(_LEADS.c.updated_at.desc(), _LEADS.c.id)
            .limit(1)
        ).one_or_none()
        if row is not None:
            return str(row.id), "email"
    return None, None


def record_purchase(
    connection: Connection,
    purchase: Purchase,
    *,
    lead_id: str | None,
    matched_by: str | None,
    revenue: Revenue,
    by: str,
    now: datetime,
) -> OrderResult:
    """Store ``purchase`` for lead ``lead_id`` (``None``: unattributed) in this transaction.

    Raises :class:`OrderConflict` for an order id stored with other fields and
    :class:`NoExchangeRate` for a currency the shop cannot count.
    """
    lead = surviving_lead(connection, lead_id) if lead_id is not None else None
    stored = store.find_order(connection, purchase.source, purchase.order_id)
    if stored is None:
        shop_value, shop_currency = revenue.in_shop_currency(purchase.value, purchase.currency)
        inserted = store.insert_order(
            connection,
            {
                **purchase.fields(),
                "source": purchase.source,
                "order_id": purchase.order_id,
                "lead_id": lead.id if lead is not None else None,
                "matched_by": matched_by if lead is not None else None,
                "shop_value": shop_value,
                "shop_currency": shop_currency,
                "received_at": now,
                "payload_hash": store.order_hash(purchase.fields()),
            },
        )
        stored = store.find_order(connection, purchase.source, purchase.order_id)
        if inserted:
            return _won(connection, stored, lead, by, now)
    _check_same(stored, purchase)
    return _stored_result(connection, stored)


def _check_same(stored: Any, purchase: Purchase) -> None:
    field = store.differing_field(stored, purchase.fields())
    if field is not None:
        raise OrderConflict(
            purchase.source,
            purchase.order_id,
            field,
            store.order_view(stored)[field],
            getattr(purchase, field),
        )


def _won(connection: Connection, order: Any, lead: Any, by: str, now: datetime) -> OrderResult:
    """The order's lead (locked) becomes Won with its revenue; open handoffs close."""
    if lead is None:
        return OrderResult(store.order_view(order), False, None, None, None, None)
    total, currency = store.recompute_revenue(connection, lead.id, now)
    # The order's time is when the shopper became a customer (kept if they already were).
    mark_converted(connection, [lead.id], min(order.ordered_at, now))
    # Closed here first so they carry the outcome; the status change then finds none open.
    closed = store.close_open_handoffs(
        connection, store.owners(connection, lead.id), WON_OUTCOME, now
    )
    record_status_change(connection, lead, WON, by, f"order {order.order_id} ({order.source})", now)
    return OrderResult(store.order_view(order), False, lead.id, WON, total, currency, tuple(closed))


def _stored_result(connection: Connection, order: Any) -> OrderResult:
    """A stored order with its lead as it is now (the lead it was merged into, if it was)."""
    lead = None
    if order.lead_id is not None:
        survivor = surviving_lead(connection, order.lead_id, lock=False)
        lead = connection.execute(
            select(_LEADS.c.id, _LEADS.c.status, _LEADS.c.revenue, _LEADS.c.revenue_currency).where(
                _LEADS.c.id == survivor.id
            )
        ).one()
    return OrderResult(
        store.order_view(order),
        True,
        lead.id if lead is not None else None,
        lead.status if lead is not None else None,
        Decimal(lead.revenue) if lead is not None and lead.revenue is not None else None,
        lead.revenue_currency if lead is not None else None,
    )


def _retryable(exc: IntegrityError | OperationalError) -> bool:
    return isinstance(exc, IntegrityError) or getattr(exc.orig, "pgcode", None) in _RETRY_CODES


class Orders:
    """Orders from a shop platform (the order webhook): each call is one transaction."""

    def __init__(self, engine: Engine, revenue: Revenue) -> None:
        self._engine = engine
        self.revenue = revenue

    def record(
        self,
        purchase: Purchase,
        customer: Customer,
        *,
        by: str,
        now: datetime | None = None,
    ) -> OrderResult:
        """Record ``purchase`` for the lead ``customer`` names (see :func:`record_purchase`).

        A transaction PostgreSQL aborts for a deadlock or serialization failure
        wrote nothing and is tried again.
        """
        now = now or clock.now()
        for attempt in range(1, RETRIES + 1):
            try:
                with write_transaction(self._engine) as connection:
                    lead_id, matched_by = find_customer(connection, customer)
                    return record_purchase(
                        connection,
                        purchase,
                        lead_id=lead_id,
                        matched_by=matched_by,
                        revenue=self.revenue,
                        by=by,
                        now=now,
                    )
            except (IntegrityError, OperationalError) as exc:
                if attempt == RETRIES or not _retryable(exc):
                    raise
        raise AssertionError("unreachable")

    def event_conflicts(self, events: Sequence[RecordEvent]) -> dict[int, OrderConflict]:
        """Of ``events``, the new purchases whose order id is stored with other fields, by index.

        An event already stored is a duplicate the lead service drops whatever it
        says (a confirmation page reloaded sends its purchase again, later): never
        a conflict.
        """
        purchases = {
            index: purchase
            for index, event in enumerate(events)
            if (purchase := purchase_of_event(event, self.revenue)) is not None
        }
        if not purchases:
            return {}
        with self._engine.connect() as connection:
            seen = known_ids(
                connection, KNOWN_EVENT_IDS, [events[index].event_id for index in purchases]
            )
            stored = store.find_orders(
                connection,
                [(purchase.source, purchase.order_id) for purchase in purchases.values()],
            )
        found: dict[int, OrderConflict] = {}
        for index, purchase in purchases.items():
            row = stored.get((purchase.source, purchase.order_id))
            if row is not None and events[index].event_id not in seen:
                try:
                    _check_same(row, purchase)
                except OrderConflict as exc:
                    found[index] = exc
        return found

    def lead_orders(self, lead_id: str) -> dict[str, Any]:
        """The lead's ``orders`` (newest first), ``revenue`` and its totals per currency.

        See :func:`bot.store.orders.lead_purchases`.
        """
        with self._engine.connect() as connection:
            return store.lead_purchases(connection, lead_id)
