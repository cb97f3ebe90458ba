"""The brief sales read first: one paragraph about a lead, and what to do next.

Pure functions over plain data, shared by the handoff notifications (the
planner builds them inside the write) and the lead page: ``lead`` is the lead
JSON (:func:`bot.store.views.lead_view`: names, contact, ``answers`` by key with
``raw``, ``value``, ``status`` and ``answered_at``), ``events`` the lead's shop
events oldest first (``type``, ``ts``, ``product_id``, ``variant_id``),
``messages`` its chat oldest first (``sender``, ``text``), and ``catalog`` the
shop catalogue that names products and variants with price and stock. Times are
shown in ``zone``, the handling team's time zone (:class:`bot.handoff.config.Team`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from bot.answers import amount_text, place_name, plain_amount, timeline_display
from bot.catalog import Catalog, Product, Variant
from bot.handoff.config import Sla

UTC = ZoneInfo("UTC")
# Budgets with more digits are no amount anybody said (the parsers stop far below).
MAX_AMOUNT_DIGITS = 15
# Chat questions quoted in a summary, newest last, each cut to this many characters.
QUOTED_QUESTIONS = 2
MAX_QUOTE_CHARS = 140
# What a shop event says the shopper did, in the summary's words.
DID = {
    "product_view": "viewed",
    "variant_select": "chose",
    "compare": "compared",
    "add_to_cart": "added to the cart",
    "checkout_start": "started checkout",
    "purchase": "bought",
}
# Why a trigger hands a lead to sales, completing "<first name> …".
TRIGGER_REASONS = {
    "human_requested": "asked for a person",
    "checkout_hesitation": "started checkout and has not bought",
    "became_hot": "became a hot lead",
    "big_budget": "has a big budget",
    "cart_add": "added to the cart",
    "returning_lead": "came back to the shop",
}


def summary(
    lead: Mapping[str, Any],
    *,
    events: Sequence[Mapping[str, Any]] = (),
    messages: Sequence[Mapping[str, Any]] = (),
    catalog: Catalog | None = None,
    zone: ZoneInfo = UTC,
) -> str:
    """One paragraph: who, what (by name, price, stock), when, where, budget, shop, chat."""
    answers = _answered(lead)
    product, variant = wanted(catalog, answers, events)
    price = _price(product, variant)
    sentences = [_who_wants(lead, product, variant, answers, zone, catalog)]
    budget = _budget(answers.get("budget"), price)
    if budget:
        sentences.append(budget)
    shop = _shop(events, catalog, zone)
    if shop:
        sentences.append(shop)
    sentences.append(_chat(messages, events))
    return " ".join(sentences)


def next_step(
    lead: Mapping[str, Any],
    handoff: Mapping[str, Any],
    *,
    sla: Sla | None = None,
    zone: ZoneInfo = UTC,
    now: datetime,
) -> str:
    """What to do given the trigger and SLA: "Call Ada Lovelace before 14:30 CET (SLA 15 min): …".

    ``handoff`` has ``trigger``, ``sla`` and ``due_at`` (ISO), and ``status``
    (a closed handoff needs nothing more).
    """
    name = display_name(lead)
    if handoff.get("status") == "closed":
        return f"Nothing due: the handoff of {name} is closed."
    due = _moment(handoff["due_at"])
    sla_words = sla_label(sla) if sla is not None else f"SLA {handoff.get('sla') or '—'}"
    trigger = str(handoff.get("trigger") or "")
    reason = f"{lead.get('first_name') or 'the shopper'} " + TRIGGER_REASONS.get(
        trigger, trigger.replace("_", " ")
    )
    if lead.get("phone"):
        action = f"Call {name}"
    elif lead.get("email"):
        action = f"Email {name}"
    else:
        action = f"Reach {name}"
    if due <= now:
        step = f"{action} now, overdue since {local_time(due, zone, now)} ({sla_words}): {reason}."
    else:
        step = f"{action} before {local_time(due, zone, now)} ({sla_words}): {reason}."
    if not (lead.get("phone") or lead.get("email")):
        step += " No contact details yet: the bot asks for them, and an update follows."
    return step


def sla_label(sla: Sla) -> str:
    """The SLA in words: "SLA 15 min", "SLA 1 h", "SLA same business day"."""
    minutes = sla.respond_within_minutes
    if minutes is None:
        return "SLA same business day"
    if minutes % 60 == 0:
        return f"SLA {minutes // 60} h"
    return f"SLA {minutes} min"


def display_name(lead: Mapping[str, Any]) -> str:
    """The lead's full name, else "an anonymous shopper"."""
    name = " ".join(str(part) for part in (lead.get("first_name"), lead.get("last_name")) if part)
    return name or "an anonymous shopper"


def local_time(moment: datetime, zone: ZoneInfo, now: datetime) -> str:
    """A time in ``zone``: "14:30 CET" on the day of ``now``, else "Tue 8 Dec 09:50 CET"."""
    local = moment.astimezone(zone)
    if local.date() == now.astimezone(zone).date():
        return f"{local:%H:%M} {local.tzname()}"
    return f"{local:%a} {local.day} {local:%b %H:%M} {local.tzname()}"


def money(amount: Any, currency: str) -> str:
    """An amount as the bot reads it back: "1,299 EUR"."""
    return f"{amount_text(plain_amount(Decimal(str(amount))))} {currency}"


def variant_line(product: Product, variant: Variant) -> str:
    """The variant by name, price and stock: "Classic Hoodie — black, XL at 129 EUR, 4 in stock"."""
    stock = f"{variant.stock} in stock" if variant.in_stock else "out of stock"
    return f"{product.variant_label(variant)} at {money(variant.price, variant.currency)}, {stock}"


def wanted(
    catalog: Catalog | None, answers: Mapping[str, Any], events: Sequence[Mapping[str, Any]]
) -> tuple[Product | None, Variant | None]:
    """The variant answered, else the last variant or product seen on the shop."""
    if catalog is None:
        return None, None
    variant_id = (answers.get("variant") or {}).get("value")
    if isinstance(variant_id, str) and (found := catalog.variant(variant_id)):
        return found
    for event in reversed(events):
        if event.get("variant_id") and (found := catalog.variant(str(event["variant_id"]))):
            return found
        if event.get("product_id") and (product := catalog.product(str(event["product_id"]))):
            return product, None
    return None, None


# -- the sentences -------------------------------------------------------------------------


def _answered(lead: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    return {
        key: answer
        for key, answer in (lead.get("answers") or {}).items()
        if isinstance(answer, Mapping) and answer.get("status", "answered") == "answered"
    }


def _price(product: Product | None, variant: Variant | None) -> tuple[Decimal, str] | None:
    if variant is not None:
        return variant.price, variant.currency
    if product is not None:
        return product.price, product.currency
    return None


def _who_wants(
    lead: Mapping[str, Any],
    product: Product | None,
    variant: Variant | None,
    answers: Mapping[str, Mapping[str, Any]],
    zone: ZoneInfo,
    catalog: Catalog | None,
) -> str:
    who = display_name(lead)
    who = who[0].upper() + who[1:]
    if lead.get("company"):
        who += f" ({lead['company']})"
    reach = [name for name in ("email", "phone") if lead.get(name)]
    who += f", reachable by {' and '.join(reach)}," if reach else " (no contact details yet)"
    if product is not None and variant is not None:
        what = f"wants {variant_line(product, variant)}"
    elif product is not None:
        what = f"looked at {product.name} (from {money(product.price, product.currency)})"
    else:
        what = "has not named a product yet"
    parts = [f"{who} {what}"]
    when = _when(answers.get("timeline"), zone)
    if when:
        parts.append(when)
    where = _where(answers.get("location"), catalog, product)
    if where:
        parts.append(where)
    return ", ".join(parts) + "."


def _when(answer: Mapping[str, Any] | None, zone: ZoneInfo) -> str | None:
    """When: "to buy in 3 days (Thu 10 Dec 2026)", the days counted from the day it was said."""
    value = (answer or {}).get("value")
    if not isinstance(value, Mapping):
        return None
    if value.get("browsing"):
        return "just browsing"
    days = value.get("days")
    answered_at = (answer or {}).get("answered_at")
    if not isinstance(days, int) or isinstance(days, bool) or not answered_at:
        return None
    said = _moment(answered_at).astimezone(zone).date()
    try:
        shown = timeline_display(days, said + timedelta(days=days))
    except OverflowError:  # a date past the calendar's end is no plan
        return None
    return f"to buy {'maybe ' if value.get('uncertain') else ''}{shown}"


def _where(
    answer: Mapping[str, Any] | None, catalog: Catalog | None, product: Product | None
) -> str | None:
    """Where: "delivered to Nantes, France (we deliver there, about 3 days)"."""
    said = place_said((answer or {}).get("value"), catalog, product)
    if said is None:
        return None
    if said.delivers is None:
        return f"delivered to {said.text}"
    if not said.delivers:
        return f"delivered to {said.text} (we do not deliver there)"
    if said.delivery_days is not None:
        return f"delivered to {said.text} (we deliver there, about {said.delivery_days} days)"
    return f"delivered to {said.text} (we deliver there)"


@dataclass(frozen=True)
class PlaceSaid:
    """A stored location in words, with whether the shop delivers there."""

    text: str  # "Nantes, France", as the bot read it back
    delivers: bool | None  # None: not stored, and no catalogue to ask
    delivery_days: int | None  # about how long the product takes there, when it is delivered


def place_said(value: Any, catalog: Catalog | None, product: Product | None) -> PlaceSaid | None:
    """A stored location value in words; ``None`` for a value without a country.

    Whether the shop delivers there is the stored ``serviceable``, else the catalogue's
    answer for ``product`` (for any product when it is ``None``).
    """
    if not isinstance(value, Mapping) or not value.get("country"):
        return None
    country = str(value["country"])
    region, area = (
        text if isinstance(text := value.get(name), str) else None for name in ("region", "area")
    )
    delivers = value.get("serviceable")
    if not isinstance(delivers, bool):
        delivers = None if catalog is None else catalog.ships_to(product, country, region, area)
    days = product.delivery_days if delivers and product is not None else None
    return PlaceSaid(place_name(country, region), delivers, days)


@dataclass(frozen=True)
class BudgetSaid:
    """A stored budget in words, with what a price is held against."""

    text: str  # "up to 150 EUR", "100 EUR to 150 EUR", "about 80 EUR"
    currency: str
    ceiling: Decimal  # the most they said they would spend


def budget_said(value: Any) -> BudgetSaid | None:
    """A stored budget value in words; ``None`` for a value no budget parser makes."""
    if not isinstance(value, Mapping) or "currency" not in value:
        return None
    currency = str(value["currency"])
    try:
        low = Decimal(str(value["min"])) if value.get("min") is not None else None
        high = Decimal(str(value["max"])) if value.get("max") is not None else None
        amount = Decimal(str(value.get("amount", high or low or 0)))
        # Shown as money: finite, and small enough to write out.
        if any(
            not number.is_finite() or number.adjusted() >= MAX_AMOUNT_DIGITS
            for number in (low, high, amount)
            if number is not None
        ):
            return None
    except InvalidOperation:
        return None
    if low is not None and high is not None:
        text = f"{money(low, currency)} to {money(high, currency)}"
    elif high is not None:
        text = f"up to {money(high, currency)}"
    elif low is not None:
        text = f"at least {money(low, currency)}"
    else:
        text = f"about {money(amount, currency)}"
    return BudgetSaid(text, currency, high if high is not None else amount)


def _budget(answer: Mapping[str, Any] | None, price: tuple[Decimal, str] | None) -> str | None:
    """The budget against the price: "Budget up to 150 EUR against a price of 129 EUR: …"."""
    said = budget_said((answer or {}).get("value"))
    if said is None:
        return None
    if price is None:
        return f"Budget {said.text}."
    cost, cost_currency = price
    against = f"Budget {said.text} against a price of {money(cost, cost_currency)}"
    if cost_currency != said.currency:
        return f"{against} (another currency)."
    if cost <= said.ceiling:
        return f"{against}: within budget."
    return f"{against}: {money(cost - said.ceiling, said.currency)} over."


def _shop(
    events: Sequence[Mapping[str, Any]], catalog: Catalog | None, zone: ZoneInfo
) -> str | None:
    """What they did on the shop: "On the shop they viewed Classic Hoodie — blue, M and …"."""
    steps: list[str] = []
    last: datetime | None = None
    for event in events:
        did = DID.get(str(event.get("type")))
        if did is None:
            continue
        what = _named(catalog, event.get("product_id"), event.get("variant_id"))
        step = f"{did} {what}" if what and event.get("type") != "checkout_start" else did
        if not steps or steps[-1] != step:
            steps.append(step)
        at = event.get("ts") or event.get("at")
        if at:
            last = _moment(at)
    if not steps:
        return None
    shown = steps[-4:]
    earlier = f" (after {len(steps) - len(shown)} earlier steps)" if len(steps) > len(shown) else ""
    when = f", last on {_day_time(last, zone)}" if last is not None else ""
    return f"On the shop{earlier} they {_and(shown)}{when}."


def _chat(messages: Sequence[Mapping[str, Any]], events: Sequence[Mapping[str, Any]]) -> str:
    """What they asked in the chat, quoted, and whether they asked for a person."""
    asked = [
        _clip(" ".join(str(m.get("text") or "").split()), MAX_QUOTE_CHARS)
        for m in messages
        if m.get("sender") == "user" and "?" in str(m.get("text") or "")
    ]
    person = any(event.get("type") == "human_requested" for event in events)
    parts = []
    if asked:
        quoted = ", ".join(f"“{text}”" for text in asked[-QUOTED_QUESTIONS:])
        parts.append(f"asked {quoted}")
    if person:
        parts.append("asked for a person")
    if parts:
        return f"In the chat they {' and '.join(parts)}."
    said = sum(1 for m in messages if m.get("sender") == "user")
    return f"In the chat they sent {said} message(s), no question." if said else "No chat yet."


def _named(catalog: Catalog | None, product_id: Any, variant_id: Any) -> str | None:
    if catalog is None:
        return str(variant_id or product_id or "") or None
    if variant_id and (found := catalog.variant(str(variant_id))):
        return found[0].variant_label(found[1])
    if product_id and (product := catalog.product(str(product_id))):
        return product.name
    return None


def _day_time(moment: datetime, zone: ZoneInfo) -> str:
    local = moment.astimezone(zone)
    return f"{local:%a} {local.day} {local:%b %Y, %H:%M} {local.tzname()}"


def _and(items: Sequence[str]) -> str:
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _moment(text: Any) -> datetime:
    """A stored ISO time (Python 3.10 reads no trailing ``Z``)."""
    raw = str(text)
    return datetime.fromisoformat(raw[:-1] + "+00:00" if raw.endswith("Z") else raw)
