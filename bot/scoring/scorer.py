"""The intent + fit scorer: a pure function of a lead's facts, the config and ``now``.

Every point comes with a reason ``{points, rule, detail}``; reasons are ranked
by how much they move the score and always sum exactly to it (points are
rounded per reason, and the score is their sum).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from decimal import Decimal
from functools import lru_cache
from itertools import chain
from typing import TYPE_CHECKING, Any

from bot.answers.budget import Budget
from bot.catalog import NO_RATES, Catalog, Product, RateTable, Variant
from bot.scoring.config import ANSWER_TIMELINE_DAYS, ScoringConfig
from bot.scoring.facts import LeadFacts

if TYPE_CHECKING:
    from bot.scoring.challenger import ChallengerModel

logger = logging.getLogger(__name__)
SECONDS_PER_DAY = 86_400.0

_LABELS = {
    "page_view": "viewed a page",
    "product_view": "viewed a product",
    "variant_select": "picked a variant",
    "compare": "compared products",
    "add_to_cart": "added to cart",
    "shipping_check": "checked shipping",
    "checkout_start": "started checkout",
    "payment_info": "entered payment details",
    "email_click": "clicked a marketing email",
    "asked_shipping": "asked about shipping in chat",
    "asked_price": "asked about price in chat",
    "asked_stock": "asked about stock in chat",
    "asked_discount": "asked about discounts in chat",
    "asked_returns": "asked about returns in chat",
    "human_requested": "asked to talk to a person",
    "qualification_completed": "answered all questions",
    **{name: f"said they plan to buy within {days} days" for name, days in ANSWER_TIMELINE_DAYS},
    "answered_variant": "chose an item in chat",
    "answered_location": "gave a delivery place the shop serves",
    "answered_contact": "agreed to be contacted and gave an e-mail or phone",
}


@dataclass(frozen=True)
class Reason:
    """Why the score moved by ``points``."""

    points: int
    rule: str
    detail: str

    def as_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {"points": self.points, "rule": self.rule, "detail": self.detail}


@dataclass(frozen=True)
class ScoreResult:
    """The score of a lead at one moment."""

    score: int
    intent_score: int
    fit_score: int
    stage: str
    reasons: tuple[Reason, ...]
    # Set by a scorer that knows whether its score can change with time alone (the
    # challenger); ``None`` for the rules, where ``changes_with_time`` works it out.
    time_dependent: bool | None = None

    def reasons_json(self) -> list[dict[str, Any]]:
        """Reasons as JSON-ready dicts."""
        return [reason.as_dict() for reason in self.reasons]

    @property
    def changes_with_time(self) -> bool:
        """Whether this score can still change as time passes, with no new facts.

        Intent only decays (once it rounds to 0 it stays 0) and fit depends on
        time only through the timeline, so a lead with no intent and no live
        timeline keeps its score until something new happens (or the
        configuration or catalogue changes).
        """
        if self.time_dependent is not None:
            return self.time_dependent
        return self.intent_score > 0 or any(r.rule == "fit.timeline" for r in self.reasons)


def _when(epoch: float) -> str:
    # Absolute, so a stored reason stays true as time passes (and rescoring
    # rewrites a lead only when its points change). Minutes are enough.
    return _minute_text(int(epoch // 60))


@lru_cache(maxsize=8192)
def _minute_text(minute: int) -> str:
    return datetime.fromtimestamp(minute * 60, timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def _intent(facts: LeadFacts, config: ScoringConfig, now: float) -> list[Reason]:
    reasons: list[Reason] = []
    # An answer signal is one occurrence, at the answer that shows it; it then decays
    # and caps like any event signal.
    answered = {name: [at] for name, at in facts.answer_signals().items()}
    for name, stamps in chain(facts.signals.items(), answered.items()):
        signal = config.signals.get(name)
        if signal is None or not stamps or signal.points == 0:
            continue
        rate = signal.decay_rate
        # Newest first: once the cap is reached, older occurrences cannot matter.
        enough = signal.cap / signal.points
        weight = 0.0
        for ts in reversed(stamps):
            age = now - ts
            weight += 1.0 if age <= 0 else math.exp(-rate * age)
            if weight >= enough:
                break
        raw = signal.points * weight
        points = round(min(raw, float(signal.cap)))
        if points <= 0:
            continue
        times = 1 if name in answered else facts.count(name)
        detail = f"{_LABELS.get(name, name)}"
        detail += f" {times}\u00d7" if times > 1 else ""
        detail += f", {'answered' if name in answered else 'last'} {_when(stamps[-1])}"
        if raw >= signal.cap and times * signal.points > signal.cap:
            detail += f" (capped at {signal.cap})"
        reasons.append(Reason(points, f"intent.{name}", detail))
    visits = _return_visit_reason(facts, config, now)
    if visits is not None:
        reasons.append(visits)
    return reasons


def count_visits(activity: list[float], since: float, gap_seconds: float) -> int:
    """Visits (runs of activity separated by more than ``gap_seconds``) after ``since``."""
    visits, previous = 0, None
    for ts in activity:
        if ts < since:
            continue
        if previous is None or ts - previous > gap_seconds:
            visits += 1
        previous = ts
    return visits


def _return_visit_reason(facts: LeadFacts, config: ScoringConfig, now: float) -> Reason | None:
    rule = config.return_visits
    if rule.points == 0:
        return None
    visits = count_visits(
        facts.activity, now - rule.window_days * SECONDS_PER_DAY, rule.gap_minutes * 60
    )
    if visits < 2:
        return None
    points = min(rule.points * (visits - 1), rule.cap)
    window = f"{rule.window_days:g} days"
    return Reason(points, "intent.return_visits", f"came back {visits - 1}\u00d7 in {window}")


def _item(facts: LeadFacts, catalog: Catalog) -> tuple[Product | None, Variant | None, str]:
    """The item the lead wants: chosen in chat, else last picked in the shop, else viewed."""
    chosen = facts.answer("variant")
    if chosen is not None and (found := catalog.variant(str(chosen["value"]))):
        return found[0], found[1], "chosen in chat"
    if facts.variant is not None and (found := catalog.variant(facts.variant[0])):
        return found[0], found[1], "picked in the shop"
    if facts.product is not None and (product := catalog.product(facts.product[0])):
        return product, None, "viewed"
    return None, None, ""


def _money(amount: Decimal, currency: str) -> str:
    return f"{amount:,.2f} {currency}".replace(".00 ", " ")


def budget_fit(budget: Budget, price: Decimal, config: ScoringConfig) -> str | None:
    """How a budget, in the price's currency, meets the price: the one rule for all budgets.

    * ``"covers"``: the most the shopper will spend (``Budget.top``: a range's or an upper
      bound's max, a plain amount, a lower bound's min) is at or above the price;
    * ``"near"``: a budget with a ceiling (not "at least X") below the price, but at least
      ``budget_near_ratio`` x price;
    * ``"far_below"``: a budget with a ceiling under ``budget_far_ratio`` x price;
    * None otherwise, and for a lower bound alone below the price: the shopper set no
      limit, so the price may still fit.
    """
    if budget.top >= price:
        return "covers"
    if budget.open_ended:
        return None
    if budget.top >= price * Decimal(str(config.budget_near_ratio)):
        return "near"
    if budget.top < price * Decimal(str(config.budget_far_ratio)):
        return "far_below"
    return None


def _budget_reason(
    facts: LeadFacts,
    config: ScoringConfig,
    product: Product | None,
    variant: Variant | None,
    rates: RateTable,
) -> Reason | None:
    answer = facts.answer("budget")
    if answer is None or product is None:
        return None
    said = Budget.of(answer["value"])
    if said is None:
        return None
    price = variant.price if variant is not None else product.price
    item_currency = variant.currency if variant is not None else product.currency
    name = product.variant_label(variant) if variant is not None else product.name
    costs = _money(price, item_currency)
    shown = _money(said.top, said.currency)
    budget = said.in_currency(item_currency, rates)
    as_of = f"rates of {rates.as_of.isoformat()}" if rates.as_of is not None else ""
    if budget is None:
        table = f"the rate table ({as_of})" if as_of else "the rate table"
        return Reason(
            0,
            "fit.budget",
            f"budget {shown} not compared with {name} ({costs}): no {said.currency} to "
            f"{item_currency} rate in {table}",
        )
    if said.currency != item_currency:
        shown += f" (\u2248 {_money(_rounded(budget.top), item_currency)}"
        shown += f", {as_of})" if as_of else ")"
    verdict = budget_fit(budget, price, config)
    if verdict == "covers":
        return Reason(config.budget_covers, "fit.budget", f"budget {shown} covers {name} ({costs})")
    if verdict == "near":
        return Reason(config.budget_near, "fit.budget", f"budget {shown} is close to {costs}")
    if verdict == "far_below":
        return Reason(
            config.budget_far_below, "fit.budget", f"budget {shown} is far below {name} ({costs})"
        )
    return None


def _rounded(amount: Decimal) -> Decimal:
    """A converted amount as a person would say it: whole units, cents below 10."""
    return amount.quantize(Decimal(1) if amount >= 10 else Decimal("0.01"))


def _location_reason(
    facts: LeadFacts, config: ScoringConfig, catalog: Catalog, product: Product | None
) -> Reason | None:
    answer = facts.answer("location")
    country: str | None = None
    region: str | None = None
    area: str | None = None
    source = "delivery to"
    if answer is not None and isinstance(answer["value"], dict):
        country = answer["value"].get("country")
        region = answer["value"].get("region")
        area = answer["value"].get("area")
    elif facts.country is not None:
        country, source = facts.country[0], "checked shipping to"
    if not isinstance(country, str) or not country:
        return None
    if not isinstance(region, str):
        region = None
    if not isinstance(area, str):
        area = None
    place = f"{region}, {country}" if region else country
    if catalog.ships_to(product, country, region, area):
        return Reason(config.location_serviceable, "fit.location", f"{source} {place} is possible")
    target = product.name if product is not None else "any product"
    return Reason(
        config.location_not_serviceable,
        "fit.location",
        f"{source} {place}: outside the shipping zones of {target}",
    )


def _variant_reason(
    config: ScoringConfig, product: Product | None, variant: Variant | None, how: str
) -> Reason | None:
    if product is None or variant is None:
        return None
    label = product.variant_label(variant)
    if variant.in_stock:
        return Reason(config.variant_in_stock, "fit.variant", f"{label} ({how}) is in stock")
    return Reason(config.variant_out_of_stock, "fit.variant", f"{label} ({how}) is out of stock")


def _timeline_reason(facts: LeadFacts, config: ScoringConfig, now: float) -> Reason | None:
    answer = facts.answer("timeline")
    if answer is None or not isinstance(answer["value"], dict):
        return None
    days = answer["value"].get("days")
    if not isinstance(days, int) or isinstance(days, bool):
        return None
    left = days - (now - float(answer["at"])) / SECONDS_PER_DAY
    if left < -config.timeline_stale_after_days:
        return None
    left = max(left, 0.0)
    when = "now" if left < 1 else f"in {math.ceil(left)} days"
    # A hedged answer ("maybe next week") counts for less than a firm one.
    uncertain = answer["value"].get("uncertain") is True
    factor = config.timeline_uncertain_factor if uncertain else 1.0
    plans = "maybe plans" if uncertain else "plans"
    for band in config.timeline_bands:
        if left <= band.within_days:
            return Reason(
                round(band.points * factor),
                "fit.timeline",
                f"{plans} to buy {when} (within {band.within_days})",
            )
    last = config.timeline_bands[-1].within_days
    return Reason(
        round(config.timeline_beyond * factor),
        "fit.timeline",
        f"{plans} to buy {when} (after {last})",
    )


def _fit(
    facts: LeadFacts, config: ScoringConfig, catalog: Catalog, rates: RateTable, now: float
) -> list[Reason]:
    product, variant, how = _item(facts, catalog)
    found = (
        _budget_reason(facts, config, product, variant, rates),
        _location_reason(facts, config, catalog, product),
        _variant_reason(config, product, variant, how),
        _timeline_reason(facts, config, now),
    )
    flow_points = [
        Reason(entry["p"], f"fit.flow.{key}", entry.get("r") or f"answered {key}")
        for key, entry in sorted(facts.points.items())
    ]
    # A budget that could not be compared says so, with no points.
    return [
        reason
        for reason in (*found, *flow_points)
        if reason is not None and (reason.points != 0 or reason.rule == "fit.budget")
    ]


def score(
    facts: LeadFacts,
    config: ScoringConfig,
    catalog: Catalog,
    now: datetime,
    rates: RateTable = NO_RATES,
) -> ScoreResult:
    """Score a lead. Pure: no I/O, the same inputs always give the same result.

    ``rates`` convert a budget in another currency than the item's; without them such a
    budget is not compared with the price.
    """
    at = now.timestamp()
    intent = _intent(facts, config, at)
    fit = _fit(facts, config, catalog, rates, at)
    intent_score = sum(reason.points for reason in intent)
    fit_score = sum(reason.points for reason in fit)
    ranked = sorted([*intent, *fit], key=lambda reason: (-abs(reason.points), reason.rule))
    return ScoreResult(
        score=intent_score + fit_score,
        intent_score=intent_score,
        fit_score=fit_score,
        stage=config.stage(intent_score, fit_score),
        reasons=tuple(ranked),
    )


@dataclass(frozen=True)
class Scorer:
    """The scoring configuration, catalogue and exchange rates, ready to score facts.

    Leads are scored by the rules unless the configuration's ``score_source`` is
    ``challenger``: then by ``challenger``, the model given or else the newest one
    trained into the configuration's model directory. Switched without a usable
    model, the rules score, a warning is logged and every result carries a reason
    saying so.
    """

    config: ScoringConfig
    catalog: Catalog
    rates: RateTable = NO_RATES
    challenger: ChallengerModel | None = None
    fallback: Reason | None = field(default=None, init=False, compare=False)

    def __post_init__(self) -> None:
        if self.config.score_source != "challenger" or self.challenger is not None:
            return
        from bot.scoring.challenger import ChallengerModelError, latest_model

        directory = self.config.challenger.model_dir
        try:
            model = latest_model(directory)
            problem = f"no trained challenger model in {directory}"
        except ChallengerModelError as exc:
            model, problem = None, str(exc)
        if model is not None:
            object.__setattr__(self, "challenger", model)
            return
        logger.warning("score_source is challenger but %s: leads are scored by the rules", problem)
        detail = f"scored by the rules: {problem} (python -m bot scoring challenger train)"
        object.__setattr__(self, "fallback", Reason(0, "score_source", detail))

    def score(self, facts: LeadFacts, now: datetime) -> ScoreResult:
        """Score ``facts`` at ``now`` (by the configured score source)."""
        if self.config.score_source == "challenger" and self.challenger is not None:
            return self.challenger.score(facts, now, self.config, self.catalog, self.rates)
        result = self.rules(facts, now)
        if self.fallback is not None:
            return replace(result, reasons=(*result.reasons, self.fallback))
        return result

    def rules(self, facts: LeadFacts, now: datetime) -> ScoreResult:
        """Score ``facts`` at ``now`` by the rules, whatever the score source."""
        return score(facts, self.config, self.catalog, now, self.rates)
