"""Orders and the revenue they make a lead: persistence only.

An order is stored once per (``source``, ``order_id``): :func:`insert_order`
does nothing when a concurrent writer stored it first, and the caller compares
the stored order with the one it was given (:func:`differing_field`). A lead's
revenue is recomputed from its orders (:func:`recompute_revenue`) by a writer
holding the lead's row lock, so concurrent orders never lose one another's sums.
The service layer (:mod:`bot.leads.outcomes`) decides what an order means.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import exists, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection

from bot.store.models import OPEN_STATUSES, Handoff, Lead, LeadEvent, Order

ORDERS = Order.__table__
_LEADS = Lead.__table__
_HANDOFFS = Handoff.__table__
_EVENTS = LeadEvent.__table__

# What makes an order the same order: a redelivery with any of these changed is
# another order reusing the id. Matching keys (session, e-mail) are not among them:
# a shop may add the customer's e-mail to a later delivery of the same order.
ORDER_FIELDS = (
    "value",
    "currency",
    "product_id",
    "variant_id",
    "sku",
    "quantity",
    "ordered_at",
)


def _canonical(name: str, value: Any) -> Any:
    if value is None:
        return None
    if name == "value":
        # 59.9 and 59.90 are the same amount.
        return format(Decimal(value).normalize(), "f")
    if name == "ordered_at":
        return value.isoformat()
    return value


def order_hash(fields: Mapping[str, Any]) -> str:
    """SHA-256 (hex) of the order-defining ``fields`` (:data:`ORDER_FIELDS`), canonicalised."""
    canonical = {name: _canonical(name, fields.get(name)) for name in ORDER_FIELDS}
    text = json.dumps(canonical, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def find_order(connection: Connection, source: str, order_id: str) -> Any:
    """The stored order ``order_id`` of ``source``, or ``None``."""
    return connection.execute(
        select(ORDERS).where(ORDERS.c.source == source, ORDERS.c.order_id == order_id)
    ).one_or_none()


def find_orders(
    connection: Connection, keys: Iterable[tuple[str, str]]
) -> dict[tuple[str, str], Any]:
    """The stored orders among ``keys`` (``(source, order_id)`` pairs), by key."""
    wanted = set(keys)
    if not wanted:
        return {}
    rows = connection.execute(
        select(ORDERS).where(
            ORDERS.c.order_id.in_({order_id for _, order_id in wanted}),
            ORDERS.c.source.in_({source for source, _ in wanted}),
        )
    )
    return {(row.source, row.order_id): row for row in rows if (row.source, row.order_id) in wanted}


def differing_field(stored: Any, fields: Mapping[str, Any]) -> str | None:
    """The first order-defining field in which ``fields`` differ from order row ``stored``."""
    if stored.payload_hash == order_hash(fields):
        return None
    for name in ORDER_FIELDS:
        if _canonical(name, getattr(stored, name)) != _canonical(name, fields.get(name)):
            return name
    # Hashed under an older canonical form; every field agrees.
    return None


def insert_order(connection: Connection, row: Mapping[str, Any]) -> bool:
    """Store order ``row`` unless its (source, order_id) is stored; whether it was inserted.

    ON CONFLICT DO NOTHING: a concurrent delivery of the same order waits for the
    first one's transaction on PostgreSQL, then inserts nothing, instead of failing.
    """
    statement = (
        pg_insert(ORDERS) if connection.dialect.name == "postgresql" else sqlite_insert(ORDERS)
    ).on_conflict_do_nothing(index_elements=["source", "order_id"])
    return bool(connection.execute(statement, [dict(row)]).rowcount == 1)


def owners(connection: Connection, lead_id: str) -> list[str]:
    """The lead and the leads merged into it: the rows its orders may hang on."""
    absorbed = connection.execute(select(_LEADS.c.id).where(_LEADS.c.merged_into == lead_id))
    return [lead_id, *absorbed.scalars()]


def recompute_revenue(
    connection: Connection, lead_id: str, now: datetime
) -> tuple[Decimal | None, str | None]:
    """Set the lead's revenue to the sum of its orders; ``(revenue, currency)``.

    Orders count in the shop's currency (``shop_value``). A lead whose orders were
    recorded under different shop currencies (the shop changed its currency) keeps
    the sum of those in the currency of its first order. Call with the lead's row locked.
    """
    rows = connection.execute(
        select(ORDERS.c.shop_value, ORDERS.c.shop_currency)
        .where(ORDERS.c.lead_id.in_(owners(connection, lead_id)))
        .order_by(ORDERS.c.id)
    ).all()
    if not rows:
        return None, None
    currency = rows[0].shop_currency
    total = sum(
        (Decimal(row.shop_value) for row in rows if row.shop_currency == currency), Decimal(0)
    )
    connection.execute(
        update(_LEADS)
        .where(_LEADS.c.id == lead_id)
        .values(revenue=total, revenue_currency=currency, updated_at=now)
    )
    return total, currency


def close_open_handoffs(
    connection: Connection, lead_ids: Sequence[str], outcome: str, now: datetime
) -> list[str]:
    """Close the open and acknowledged handoffs of ``lead_ids`` with ``outcome``; their ids."""
    ids = list(
        connection.execute(
            select(_HANDOFFS.c.id)
            .where(_HANDOFFS.c.lead_id.in_(lead_ids), _HANDOFFS.c.status.in_(OPEN_STATUSES))
            .with_for_update()
        ).scalars()
    )
    if ids:
        connection.execute(
            update(_HANDOFFS)
            .where(_HANDOFFS.c.id.in_(ids))
            .values(status="closed", closed_at=now, outcome=outcome)
        )
    return ids


def purchased_leads(connection: Connection, lead_ids: Sequence[str]) -> set[str]:
    """Those of ``lead_ids`` that bought: an order, or a ``purchase`` event, on them.

    A lead counts as having bought when any lead merged into it did.
    """
    if not lead_ids:
        return set()
    wanted = list(dict.fromkeys(lead_ids))
    pairs = connection.execute(
        select(_LEADS.c.id, _LEADS.c.merged_into).where(
            or_(_LEADS.c.id.in_(wanted), _LEADS.c.merged_into.in_(wanted))
        )
    ).all()
    # Each row's id stands for the wanted lead it is, or was merged into.
    stands_for: dict[str, str] = {}
    for row in pairs:
        if row.id in wanted:
            stands_for[row.id] = row.id
        if row.merged_into in wanted:
            stands_for.setdefault(row.id, row.merged_into)
    if not stands_for:
        return set()
    ids = list(stands_for)
    ordered = connection.execute(
        select(ORDERS.c.lead_id).where(ORDERS.c.lead_id.in_(ids)).distinct()
    ).scalars()
    bought = connection.execute(
        select(_EVENTS.c.lead_id)
        .where(_EVENTS.c.lead_id.in_(ids), _EVENTS.c.type == "purchase")
        .distinct()
    ).scalars()
    return {stands_for[lead_id] for lead_id in (*ordered, *bought)}


def has_purchased(connection: Connection, lead_id: str) -> bool:
    """Whether lead ``lead_id`` (or a lead merged into it) bought: an order or a purchase event."""
    ids = owners(connection, lead_id)
    ordered = connection.execute(select(exists().where(ORDERS.c.lead_id.in_(ids)))).scalar()
    if ordered:
        return True
    return bool(
        connection.execute(
            select(exists().where(_EVENTS.c.lead_id.in_(ids), _EVENTS.c.type == "purchase"))
        ).scalar()
    )


def order_view(row: Any) -> dict[str, Any]:
    """An order's JSON form (money as Decimal, times as ISO 8601)."""
    return {
        "source": row.source,
        "order_id": row.order_id,
        "lead_id": row.lead_id,
        "matched_by": row.matched_by,
        "value": Decimal(row.value).normalize() if row.value is not None else None,
        "currency": row.currency,
        "shop_value": Decimal(row.shop_value).normalize(),
        "shop_currency": row.shop_currency,
        "product_id": row.product_id,
        "variant_id": row.variant_id,
        "sku": row.sku,
        "quantity": row.quantity,
        "ordered_at": row.ordered_at.isoformat(),
        "received_at": row.received_at.isoformat(),
    }


def lead_orders(connection: Connection, lead_id: str) -> list[dict[str, Any]]:
    """The orders of lead ``lead_id`` and the leads merged into it, newest first."""
    rows = connection.execute(
        select(ORDERS)
        .where(ORDERS.c.lead_id.in_(owners(connection, lead_id)))
        .order_by(ORDERS.c.ordered_at.desc(), ORDERS.c.id.desc())
    )
    return [order_view(row) for row in rows]


def lead_revenue(connection: Connection, lead_id: str) -> tuple[Decimal | None, str | None]:
    """The lead's stored revenue and its currency (``(None, None)`` before any order)."""
    row = connection.execute(
        select(_LEADS.c.revenue, _LEADS.c.revenue_currency).where(_LEADS.c.id == lead_id)
    ).one_or_none()
    if row is None or row.revenue is None:
        return None, None
    return Decimal(row.revenue), row.revenue_currency


def lead_purchases(connection: Connection, lead_id: str) -> dict[str, Any]:
    """What lead ``lead_id`` (and the leads merged into it) bought, as its JSON shows it.

    ``revenue``/``revenue_currency``: the stored revenue in the shop's currency (the
    lead's Won revenue); ``revenue_by_currency``: the order totals in the currency
    each order was paid in; ``orders``: newest first (:func:`order_view`).
    """
    orders = lead_orders(connection, lead_id)
    revenue, currency = lead_revenue(connection, lead_id)
    paid: dict[str, Decimal] = {}
    for order in orders:
        if order["value"] is not None:
            paid[order["currency"]] = paid.get(order["currency"], Decimal(0)) + order["value"]
    return {
        "order_count": len(orders),
        "revenue": revenue.normalize() if revenue is not None else None,
        "revenue_currency": currency,
        "revenue_by_currency": {code: paid[code] for code in sorted(paid)},
        "orders": orders,
    }
