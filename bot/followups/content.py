"""What a follow-up says about one lead: the template context, from the catalogue as it is now.

Prices, stock and delivery are read from the catalogue when the message is
rendered (not when the play was planned), so the shopper sees today's figures.
Whatever is unknown stays out: an unknown variant never becomes another
product; the message falls back to the product's category, or to the shop.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from bot.answers.budget import Budget
from bot.catalog import Catalog, Product, Variant
from bot.catalog.delivery import delivery_estimate
from bot.catalog.rates import RateTable
from bot.followups.links import Links

MAX_ALTERNATIVES = 3
DEFAULT_CONSENT_TEXT = "I agree to be contacted about my purchase."


@dataclass(frozen=True)
class Recipient:
    """What the templates may say about one lead (read just before rendering)."""

    lead_id: str
    first_name: str | None
    email: str | None
    phone: str | None
    consent_text: str | None
    country: str | None = None
    region: str | None = None
    # The variant the shopper chose (answer, else the latest one picked on the shop).
    variant_id: str | None = None
    # The latest product they looked at (for the category fallback).
    product_id: str | None = None
    timeline_days: int | None = None
    timeline_at: datetime | None = None
    budget: Budget | None = None
    # The rep assigned to the lead's latest handoff.
    rep: str | None = None


def money(amount: Decimal, currency: str) -> str:
    """``59.00 EUR``."""
    return f"{amount.quantize(Decimal('0.01'))} {currency}"


def _variant_words(product: Product, variant: Variant, url: str) -> dict[str, Any]:
    return {
        "id": variant.id,
        "label": product.variant_label(variant),
        "price": money(variant.price, variant.currency),
        "stock": variant.stock,
        "in_stock": variant.in_stock,
        "url": url,
    }


def alternatives(
    catalog: Catalog,
    chosen: tuple[Product, Variant] | None,
    category: str | None,
    budget: Budget | None,
    rates: RateTable,
) -> list[tuple[Product, Variant]]:
    """In-stock variants within the budget, nearest first: the chosen product's, then others.

    "Nearest" is the price closest under the budget: the most of what they asked
    for that they can afford.
    """
    if budget is None or budget.open_ended:
        return []
    found: list[tuple[int, Decimal, str, Product, Variant]] = []
    for product, variant in catalog.all_variants():
        if not variant.in_stock or (chosen is not None and variant.id == chosen[1].id):
            continue
        same_product = chosen is not None and product.id == chosen[0].id
        if not same_product and product.category != category:
            continue
        price = rates.convert(variant.price, variant.currency, budget.currency)
        if price is None or price > budget.top:
            continue
        found.append((0 if same_product else 1, budget.top - price, variant.id, product, variant))
    found.sort(key=lambda item: item[:3])
    return [(product, variant) for *_, product, variant in found[:MAX_ALTERNATIVES]]


def build_context(
    recipient: Recipient,
    *,
    catalog: Catalog,
    rates: RateTable,
    currency: str,
    links: Links,
    now: datetime,
    zone_name: str = "UTC",
) -> dict[str, Any]:
    """The variables every template reads (see ``templates/``)."""
    chosen = catalog.variant(recipient.variant_id) if recipient.variant_id else None
    product = chosen[0] if chosen is not None else None
    if product is None and recipient.product_id:
        product = catalog.product(recipient.product_id)
    context: dict[str, Any] = {
        "shop_name": catalog.shop_name,
        "shop_link": links.shop(),
        "shop_link_text": links.shop_url.split("://", 1)[-1],
        "first_name": recipient.first_name,
        "consent_text": recipient.consent_text or DEFAULT_CONSENT_TEXT,
        "unsubscribe_url": links.unsubscribe(recipient.lead_id),
        "cart_url": links.cart(),
        "variant": None,
        "product": None,
        "category": None,
        "delivery": None,
        "stated_date": None,
        "budget": None,
        "alternatives": [],
        "rep": recipient.rep,
        "zone": zone_name,
    }
    if product is not None:
        product_url = links.product(product.id)
        context["product"] = {"id": product.id, "name": product.name, "url": product_url}
        context["category"] = {"name": product.category, "url": product_url}
        estimate = delivery_estimate(product, recipient.country, recipient.region, now)
        context["delivery"] = {
            "ships": estimate.ships,
            "days": estimate.days,
            "by": f"{estimate.by.day} {estimate.by:%B %Y}",
            "place": estimate.place,
        }
    if chosen is not None:
        context["variant"] = _variant_words(*chosen, context["product"]["url"])
    if recipient.timeline_days is not None and recipient.timeline_at is not None:
        stated = recipient.timeline_at + timedelta(days=recipient.timeline_days)
        context["stated_date"] = f"{stated.day} {stated:%B %Y}"
    budget = recipient.budget.in_currency(currency, rates) if recipient.budget else None
    if budget is not None:
        context["budget"] = money(budget.top, budget.currency)
        context["alternatives"] = [
            _variant_words(p, v, links.product(p.id))
            for p, v in alternatives(
                catalog, chosen, product.category if product else None, budget, rates
            )
        ]
    return context
