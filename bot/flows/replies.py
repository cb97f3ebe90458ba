"""Replies built from the catalog and the flow: shop questions and answer summaries."""

from __future__ import annotations

from typing import Any

from bot.catalog import Catalog, Product, Variant
from bot.flows.model import Flow

SUMMARY_KEYS = ("timeline", "variant", "location", "budget")


def _chosen(
    catalog: Catalog, answers: dict[str, Any], product_id: str | None
) -> tuple[Product | None, Variant | None]:
    answer = answers.get("variant")
    variant_id = answer.get("value") if isinstance(answer, dict) else None
    if isinstance(variant_id, str) and (found := catalog.variant(variant_id)):
        return found
    return (catalog.product(product_id) if product_id else None), None


def _location(answers: dict[str, Any]) -> dict[str, Any] | None:
    answer = answers.get("location")
    value = answer.get("value") if isinstance(answer, dict) else None
    return value if isinstance(value, dict) else None


def shop_answer(
    flow: Flow, catalog: Catalog, topic: str, answers: dict[str, Any], product_id: str | None
) -> str:
    """Answer a shopper's question about ``topic`` as specifically as the chat allows."""
    product, variant = _chosen(catalog, answers, product_id)
    fallback = flow.faq.get(topic) or "Let me put you in touch with our team for that."
    if product is None:
        return fallback
    if topic == "shipping":
        return _shipping_answer(product, _location(answers), answers) or fallback
    if topic == "price":
        if variant is not None:
            return f"The {product.variant_label(variant)} costs {variant.price} {variant.currency}."
        low = min(v.price for v in product.variants)
        return f"The {product.name} starts at {low} {product.currency}."
    if topic == "stock":
        if variant is None:
            in_stock = [product.variant_label(v) for v in product.variants if v.in_stock]
            if not in_stock:
                return f"The {product.name} is out of stock right now."
            return f"In stock right now: {', '.join(in_stock[:5])}."
        if variant.in_stock:
            return f"Yes, the {product.variant_label(variant)} is in stock."
        return f"Sorry, the {product.variant_label(variant)} is out of stock right now."
    return fallback


def _shipping_answer(
    product: Product, location: dict[str, Any] | None, answers: dict[str, Any]
) -> str | None:
    days = product.delivery_days
    if location is None:
        return f"The {product.name} usually arrives within {days} working days."
    place = answers["location"].get("display") or location["country"]
    if product.delivers_to(location["country"], location.get("region")):
        return f"Yes, we deliver the {product.name} to {place}, usually within {days} working days."
    return f"Sorry, the {product.name} can't be delivered to {place}."


def summary(flow: Flow, answers: dict[str, Any]) -> str:
    """One line listing the core answers ("timeline: in about 7 days; …")."""
    parts = []
    for key in SUMMARY_KEYS:
        if flow.question(key) is None:
            continue
        answer = answers.get(key)
        shown = answer.get("display") if isinstance(answer, dict) else None
        parts.append(f"{key}: {shown or 'not given'}")
    return "; ".join(parts) + "."
