"""Replies built from the catalog and the flow: shop questions and answer summaries."""

from __future__ import annotations

from typing import Any

from bot.answers import parse_location
from bot.catalog import Catalog, Product
from bot.flows.facts import answered_location, chosen_item
from bot.flows.model import CONTACT_TYPES, Flow

SUMMARY_KEYS = ("timeline", "variant", "location", "budget")


def shop_answer(
    flow: Flow,
    catalog: Catalog,
    topic: str,
    answers: dict[str, Any],
    product_id: str | None,
    question: str = "",
) -> str:
    """Answer a shopper's question about ``topic`` as specifically as the chat allows.

    A place named in the question ("do you ship to Switzerland?") takes precedence
    over the delivery location answered earlier.
    """
    product, variant = chosen_item(catalog, answers, product_id)
    fallback = flow.faq.get(topic) or "Let me put you in touch with our team for that."
    if topic == "shipping":
        asked = parse_location(question) if question else None
        if asked is not None:
            return _shipping_answer(catalog, product, asked.value, asked.display)
        location = answered_location(answers)
        if location is not None:
            return _shipping_answer(catalog, product, location, answers["location"]["display"])
        if product is not None:
            return (
                f"The {product.name} usually arrives within {product.delivery_days} working days."
            )
        return fallback
    if product is None:
        return fallback
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
    catalog: Catalog, product: Product | None, location: dict[str, Any], place: str | None
) -> str:
    place = place or location["country"]
    if product is None:
        if catalog.ships_to(None, location["country"], location.get("region")):
            return f"Yes, we deliver to {place}. Delivery times depend on the product."
        return f"Sorry, we don't deliver to {place} at the moment."
    days = product.delivery_days
    if product.delivers_to(location["country"], location.get("region")):
        return f"Yes, we deliver the {product.name} to {place}, usually within {days} working days."
    return f"Sorry, the {product.name} can't be delivered to {place}."


def summary(flow: Flow, answers: dict[str, Any]) -> str:
    """One line listing the answers ("timeline: in about 7 days; …").

    The core answers are always listed; the flow's other questions (not contact
    details) when they were answered.
    """
    parts = []
    for question in flow.questions:
        if question.answer_type in CONTACT_TYPES or question.answer_type == "yes_no":
            continue
        answer = answers.get(question.key)
        shown = answer.get("display") if isinstance(answer, dict) else None
        if shown or question.key in SUMMARY_KEYS:
            parts.append(f"{question.key.replace('_', ' ')}: {shown or 'not given'}")
    return "; ".join(parts) + "."
