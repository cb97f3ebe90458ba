"""The lead page's facts in words: answers, products, money and times as a salesperson reads them.

Presentation only: each helper takes stored values (the answers' JSON, catalogue
ids, ISO times) and returns plain text that the templates escape. The phrasing
reuses the answer parsers' own read-backs, so the page says what the bot said.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from bot.answers import timeline_display
from bot.catalog import Catalog, Product, Variant
from bot.handoff.brief import budget_said, money, place_said, variant_line
from bot.handoff.brief import wanted as brief_wanted


@dataclass(frozen=True)
class Wanted:
    """The catalogue's product and variant a lead asked about (either may be unknown)."""

    product: Product | None
    variant: Variant | None

    @property
    def price(self) -> tuple[Decimal, str] | None:
        """The variant's price, else the product's."""
        if self.variant is not None:
            return self.variant.price, self.variant.currency
        if self.product is not None:
            return self.product.price, self.product.currency
        return None

    @property
    def words(self) -> str | None:
        """The variant with price and stock, or the product with its starting price."""
        if self.product is None:
            return None
        if self.variant is not None:
            return variant_line(self.product, self.variant)
        return f"{self.product.name} from {money(self.product.price, self.product.currency)}"


def wanted(catalog: Catalog, answers: dict[str, Any], events: list[dict[str, Any]]) -> Wanted:
    """The variant answer, else the last product or variant seen on the shop (as the brief says)."""
    return Wanted(*brief_wanted(catalog, answers, events))


def product_words(catalog: Catalog, product_id: Any, variant_id: Any) -> str | None:
    """The catalogue's name of an event's variant or product, ``None`` if it has none."""
    if variant_id and (found := catalog.variant(str(variant_id))):
        return found[0].variant_label(found[1])
    if product_id and (product := catalog.product(str(product_id))):
        return product.name
    return None


def variant_words(catalog: Catalog, variant_id: Any) -> str | None:
    """A variant id as "Classic Hoodie — black, XL at 129 EUR, 4 in stock"."""
    found = catalog.variant(str(variant_id))
    if found is None:
        return None
    return variant_line(*found)


def timeline_words(value: Any, answered_at: str | None) -> str | None:
    """A timeline as "in 3 days (Thu 10 Dec 2026)", or "just browsing".

    The days count from the answer's UTC day, as the timeline parser counted them.
    """
    if not isinstance(value, dict):
        return None
    if value.get("browsing"):
        return "just browsing"
    days = value.get("days")
    if not isinstance(days, int) or not answered_at:
        return "no date given"
    start = datetime.fromisoformat(answered_at).astimezone(timezone.utc).date()
    shown = timeline_display(days, start + timedelta(days=days))
    return f"maybe {shown}" if value.get("uncertain") else shown


def location_words(value: Any, catalog: Catalog, product: Product | None) -> str | None:
    """A place as "Nantes, France — we deliver there (about 3 days)" or "… we do not"."""
    said = place_said(value, catalog, product)
    if said is None:
        return None
    if not said.delivers:
        return f"{said.text} — we do not deliver there"
    if said.delivery_days is not None:
        return f"{said.text} — we deliver there (about {said.delivery_days} days)"
    return f"{said.text} — we deliver there"


def budget_words(value: Any, price: tuple[Decimal, str] | None) -> str | None:
    """A budget as "up to 150 EUR (price 129 EUR: within budget)"."""
    said = budget_said(value)
    if said is None:
        return None
    if price is None:
        return said.text
    cost, cost_currency = price
    if cost_currency != said.currency:
        return f"{said.text} (price {money(cost, cost_currency)}, another currency)"
    over = cost - said.ceiling
    verdict = "within budget" if over <= 0 else f"{money(over, said.currency)} over"
    return f"{said.text} (price {money(cost, cost_currency)}: {verdict})"


def answer_words(
    key: str,
    value: Any,
    answered_at: str | None,
    *,
    catalog: Catalog,
    want: Wanted,
) -> str | None:
    """One answer in words; ``None`` when the value is already plain (the page shows it as is)."""
    if key == "timeline":
        return timeline_words(value, answered_at)
    if key == "variant":
        return variant_words(catalog, value)
    if key == "location":
        return location_words(value, catalog, want.product)
    if key == "budget":
        return budget_words(value, want.price)
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dict) and {"first_name", "last_name"} >= value.keys():
        return " ".join(str(part) for part in value.values() if part) or None
    return None
