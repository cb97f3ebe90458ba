"""Replies built from the catalog and the flow: shop questions and answer summaries."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.answers import parse_location
from bot.catalog import Catalog, Product, Variant, mentioned_item
from bot.flows.facts import answered_location, chosen_item
from bot.flows.model import CONTACT_TYPES, Flow

SUMMARY_KEYS = ("timeline", "variant", "location", "budget")
# In-stock options listed in one reply at most (a long list reads badly in a chat).
MAX_LISTED = 8


@dataclass(frozen=True)
class _Subject:
    """What a shop question is about: a product and the variants in question."""

    product: Product
    variants: tuple[Variant, ...]
    # Option values named that no variant of the product has ("the green hoodie").
    unavailable: bool = False

    @property
    def variant(self) -> Variant | None:
        return self.variants[0] if len(self.variants) == 1 else None

    @property
    def name(self) -> str:
        """The product, with the option values all the variants in question share."""
        if len(self.variants) == len(self.product.variants):
            return self.product.name
        shared = " ".join(_shared(self.variants).values())
        return f"{self.product.name} in {shared}" if shared else self.product.name


def _shared(variants: tuple[Variant, ...]) -> dict[str, str]:
    """Option values every one of ``variants`` has (the colour of "the black hoodie")."""
    if not variants:
        return {}
    return {
        name: value
        for name, value in variants[0].options.items()
        if all(v.options.get(name) == value for v in variants)
    }


def _subject(
    catalog: Catalog,
    answers: dict[str, Any],
    question: str,
    product_id: str | None,
    picked_variant: str | None,
) -> _Subject | None:
    """The product (and variants) asked about.

    The message's own words first; else the page's product; else the item chosen
    (answered in the chat, or picked on the storefront). A chosen variant of the
    page's product stays the subject on that page.
    """
    mention = mentioned_item(question, catalog, product_id=product_id) if question else None
    if mention is not None:
        if mention.narrowed and not mention.variants:
            return _Subject(mention.product, mention.product.variants, unavailable=True)
        return _Subject(mention.product, mention.variants)
    product, variant = chosen_item(catalog, answers, None)
    if variant is None and picked_variant and (found := catalog.variant(picked_variant)):
        product, variant = found
    page = catalog.product(product_id) if product_id else None
    if page is not None and (product is None or product.id != page.id):
        return _Subject(page, page.variants)
    if product is None:
        return None
    return _Subject(product, (variant,) if variant is not None else product.variants)


def shop_answer(
    flow: Flow,
    catalog: Catalog,
    topic: str,
    answers: dict[str, Any],
    product_id: str | None,
    question: str = "",
    picked_variant: str | None = None,
) -> str:
    """Answer a shopper's question about ``topic`` as specifically as the chat allows.

    The product is the one the question names (the black hoodie), else the page's,
    else the one chosen (``picked_variant``: picked on the storefront). A place named
    in the question ("do you ship to Switzerland?") takes precedence over the
    delivery location answered earlier. Nothing known: the flow's FAQ text.
    """
    subject = _subject(catalog, answers, question, product_id, picked_variant)
    fallback = flow.faq.get(topic) or "Let me put you in touch with our team for that."
    if topic == "shipping":
        product = subject.product if subject is not None else None
        asked = (
            parse_location(question, default_country=catalog.default_country) if question else None
        )
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
    if subject is None:
        return fallback
    if topic == "price":
        return _price_answer(subject)
    if topic == "stock":
        return _stock_answer(subject)
    return fallback


def _price_answer(subject: _Subject) -> str:
    product, variant = subject.product, subject.variant
    if variant is not None:
        return f"The {product.variant_label(variant)} costs {variant.price} {variant.currency}."
    low = min(v.price for v in subject.variants)
    high = max(v.price for v in subject.variants)
    if low == high:
        return f"The {subject.name} costs {low} {product.currency}."
    return f"The {subject.name} costs {low} to {high} {product.currency}, depending on the option."


def _stock_answer(subject: _Subject) -> str:
    product, variant = subject.product, subject.variant
    if variant is not None and not subject.unavailable:
        label = product.variant_label(variant)
        if variant.in_stock:
            return f"Yes, the {label} is in stock."
        others = _in_stock_options(product.variants)
        return f"Sorry, the {label} is out of stock right now." + (
            f" In stock: {others}." if others else ""
        )
    in_stock = _in_stock_options(subject.variants)
    if subject.unavailable:
        return f"The {product.name} doesn't come in that option." + (
            f" In stock: {in_stock}." if in_stock else ""
        )
    if not in_stock:
        return f"Sorry, the {subject.name} is out of stock right now."
    if len(product.variants) == 1:
        return f"Yes, the {product.name} is in stock."
    return f"Yes, the {subject.name} is in stock in {in_stock}."


def _in_stock_options(variants: tuple[Variant, ...]) -> str:
    """The in-stock variants by the option values that tell them apart ("S, M, XL")."""
    shared = _shared(variants) if len(variants) > 1 else {}
    shown = [
        " ".join(value for name, value in v.options.items() if name not in shared) or v.name
        for v in variants
        if v.in_stock
    ]
    return ", ".join(shown[:MAX_LISTED])


def _shipping_answer(
    catalog: Catalog, product: Product | None, location: dict[str, Any], place: str | None
) -> str:
    place = place or location["country"]
    if product is None:
        if catalog.ships_to(
            None, location["country"], location.get("region"), location.get("area")
        ):
            return f"Yes, we deliver to {place}. Delivery times depend on the product."
        return f"Sorry, we don't deliver to {place} at the moment."
    days = product.delivery_days
    if product.delivers_to(location["country"], location.get("region"), location.get("area")):
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


# How an answer taken from a message reads back to the shopper, by answer type.
_CONFIRM_PHRASES = {
    "timeline": "buying {display}",
    "budget": "a budget of {display}",
    "location": "delivery to {display}",
    "variant": "the {display}",
}


def confirmation(flow: Flow, answers: dict[str, Any], confirm: dict[str, str]) -> str | None:
    """What the bot says about answers it took from a message not asked for them.

    ``confirm`` maps a question key to "noted" (volunteered) or "changed" (a
    correction): "Got it — delivery to Lyon, France." / "Changed — the Classic
    Hoodie, Black, M." The shopper sees every such reading and can correct it.
    """
    phrases: dict[str, list[str]] = {"changed": [], "noted": []}
    for key, kind in confirm.items():
        answer = answers.get(key)
        question = flow.question(key)
        display = answer.get("display") if isinstance(answer, dict) else None
        if question is None or not display:
            continue
        template = _CONFIRM_PHRASES.get(question.answer_type)
        phrase = (
            template.format(display=display) if template else f"{key.replace('_', ' ')}: {display}"
        )
        phrases.setdefault(kind, []).append(phrase)
    lines = []
    if phrases["changed"]:
        lines.append("Changed — " + "; ".join(phrases["changed"]) + ".")
    if phrases["noted"]:
        lines.append("Got it — " + "; ".join(phrases["noted"]) + ".")
    return " ".join(lines) or None
