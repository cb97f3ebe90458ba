"""Conditions and fit-point rules of the flows, and the facts they are checked against.

A condition compares one *subject* with a value: an answer of the flow (by its
question key) or a fact of the page the shopper is on (``page_type``,
``product.category``…). The marketer writes it as YAML::

    ask_if:
      timeline: {lt: 90}          # an operator map
      product.has_variants: true  # a plain value means "equals"
      page_type: [product, cart]  # a list means "in"

A fit-point rule is a condition on the question's own answer with the points it
is worth (``{when: {lt: 30}, points: 10, reason: Buying within a month}``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from bot.catalog import NO_RATES, Catalog, RateTable

OPERATORS = ("equals", "not", "in", "not_in", "lt", "lte", "gt", "gte")
NUMERIC_OPERATORS = frozenset({"lt", "lte", "gt", "gte"})
# Page facts: the widget sends page_type, product_id, variant_id and cart_value
# with each message; the product facts are looked up in the catalogue.
PAGE_FACTS = (
    "page_type",
    "product_id",
    "variant_id",
    "cart_value",
    "product.category",
    "product.has_variants",
    "product.in_stock",
)
PAGE_TYPES = ("home", "product", "category", "cart", "checkout", "other")
NUMERIC_FACTS = frozenset({"cart_value"})
BOOLEAN_FACTS = frozenset({"product.has_variants", "product.in_stock"})
# What an answer of each type is compared as.
NUMERIC_ANSWERS = frozenset({"timeline", "budget"})
BOOLEAN_ANSWERS = frozenset({"yes_no"})


@dataclass(frozen=True)
class Condition:
    """``subject <operator> value``; ``line`` is where the marketer wrote it."""

    subject: str
    operator: str
    value: Any
    line: int | None = None

    def holds(self, measured: Any) -> bool:
        """Whether the measured value of the subject satisfies the condition."""
        if measured is None:
            return False
        operator, expected = self.operator, self.value
        if operator == "equals":
            return _same(measured, expected)
        if operator == "not":
            return not _same(measured, expected)
        if operator == "in":
            return any(_same(measured, item) for item in expected)
        if operator == "not_in":
            return not any(_same(measured, item) for item in expected)
        number = _number(measured)
        if number is None:
            return False
        bound = float(expected)
        return {
            "lt": number < bound,
            "lte": number <= bound,
            "gt": number > bound,
            "gte": number >= bound,
        }[operator]

    def describe(self) -> str:
        """The condition as the marketer wrote it: ``timeline lt 90``."""
        return f"{self.subject} {self.operator} {self.value}"


@dataclass(frozen=True)
class PointRule:
    """Fit points for an answer that meets ``conditions`` (all of them)."""

    conditions: tuple[Condition, ...]
    points: int
    reason: str | None = None

    def matches(self, measured: Any) -> bool:
        """Whether the measured answer meets every condition of the rule."""
        return all(condition.holds(measured) for condition in self.conditions)


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float, Decimal)):
        number = float(value)
        return number if math.isfinite(number) else None
    return None


def _same(measured: Any, expected: Any) -> bool:
    if isinstance(measured, bool) or isinstance(expected, bool):
        return measured is expected
    if isinstance(measured, str) and isinstance(expected, str):
        return measured.casefold() == expected.casefold()
    left, right = _number(measured), _number(expected)
    if left is not None and right is not None:
        return left == right
    return bool(measured == expected)


@dataclass(frozen=True)
class Money:
    """The shop's currency, in which a flow's budget rules name their amounts, and its rates."""

    currency: str
    rates: RateTable = NO_RATES


def answer_measure(answer_type: str, value: Any, money: Money | None = None) -> Any:
    """The value an answer is compared as: days, an amount, a country, an id or a text.

    A budget is its amount in the shop's currency (``money``): one in another currency
    is converted through the rate table, and measures nothing without a rate.
    """
    if value is None:
        return None
    if answer_type == "timeline" and isinstance(value, dict):
        return value.get("days")
    if answer_type == "budget" and isinstance(value, dict):
        return _budget_measure(value, money)
    if answer_type == "location" and isinstance(value, dict):
        return value.get("country")
    if answer_type == "contact" and isinstance(value, dict):
        return value.get("email") or value.get("phone")
    if answer_type == "name" and isinstance(value, dict):
        return " ".join(part for part in (value.get("first_name"), value.get("last_name")) if part)
    return value


def _budget_measure(value: dict[str, Any], money: Money | None) -> float | None:
    amount = value.get("amount")
    if amount is None and value.get("max") is not None:
        amount = value.get("max")
    try:
        figure = Decimal(str(amount)) if amount is not None else None
    except InvalidOperation:
        return None
    currency = value.get("currency")
    if figure is not None and money is not None and isinstance(currency, str):
        figure = money.rates.convert(figure, currency, money.currency)
    return _number(figure) if figure is not None else None


def page_facts(context: dict[str, Any], catalog: Catalog | None) -> dict[str, Any]:
    """The page facts of the latest message's metadata (unknown facts are None)."""
    facts: dict[str, Any] = dict.fromkeys(PAGE_FACTS)
    page_type = context.get("page_type")
    if isinstance(page_type, str) and page_type:
        facts["page_type"] = page_type
    for key in ("product_id", "variant_id"):
        value = context.get(key)
        if isinstance(value, str) and value:
            facts[key] = value
    cart_value = _number(context.get("cart_value"))
    if cart_value is not None:
        facts["cart_value"] = cart_value
    product = None
    if catalog is not None:
        if facts["product_id"]:
            product = catalog.product(facts["product_id"])
        if product is None and facts["variant_id"]:
            found = catalog.variant(facts["variant_id"])
            product = found[0] if found else None
    if product is not None:
        facts["product_id"] = product.id
        facts["product.category"] = product.category
        facts["product.has_variants"] = len(product.variants) > 1
        facts["product.in_stock"] = any(variant.in_stock for variant in product.variants)
    return facts
