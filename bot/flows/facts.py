"""What the answers so far say, read the same way by the flow, interpreter and replies."""

from __future__ import annotations

from typing import Any

from bot.catalog import Catalog, Product, Variant

CONSENT_KEY = "contact_consent"


def _value(answers: dict[str, Any], key: str) -> Any:
    answer = answers.get(key)
    return answer.get("value") if isinstance(answer, dict) else None


def consented(answers: dict[str, Any]) -> bool:
    """Whether the shopper agreed to share contact details."""
    return _value(answers, CONSENT_KEY) is True


def answered_location(answers: dict[str, Any]) -> dict[str, Any] | None:
    """The normalised delivery location, if answered."""
    value = _value(answers, "location")
    return value if isinstance(value, dict) else None


def chosen_item(
    catalog: Catalog, answers: dict[str, Any], product_id: str | None
) -> tuple[Product | None, Variant | None]:
    """The chosen variant and its product, else the product of the page (or nothing)."""
    variant_id = _value(answers, "variant")
    if isinstance(variant_id, str) and (found := catalog.variant(variant_id)):
        return found
    return (catalog.product(product_id) if product_id else None), None
