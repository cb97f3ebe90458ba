"""Seeded synthetic lead histories with known outcomes, for demos, benchmarks and ``evaluate``.

Each synthetic lead is one shopper: storefront events and sometimes a chat
(questions, answers, a request for a person) spread over the 30 days before
``now``, and whether they bought. Journeys, by share of leads:

- browser (52 %): a page view and up to three product views;
- comparer (16 %): several products of one category, a variant picked, a comparison;
- cart abandoner (15 %): adds to cart, sometimes checks shipping, stops there;
- checkout starter (9 %): goes on to checkout, a third also enter payment details;
- buyer (8 %): product view, variant, cart, shipping, checkout and payment details.

About a quarter come back on later days, and a quarter open the chat. An
out-of-stock variant or a country the product does not ship to often ends the
journey early, as it would in the shop.

Whether a lead buys is drawn: the chance grows with the deepest step reached
(under 1 % after browsing, 55 % after entering payment details) and is scaled by
the shopper's fit (can the product ship there, is the variant in stock, does the
budget cover the price, how soon they want it, whether they said so in the chat
or not) and by coming back or asking for a person. So a good scorer has signal,
with the noise of real shops: most deep journeys do not end in a purchase, and
some buyers skip the tracked checkout steps (another device, a buy-now link) and
never look hot. Buyers get a ``purchase`` event and the status Won; a share of
the others are Lost, Contacted, In Progress or Qualified.

Some shoppers leave their e-mail address with consent to be followed up at the
end of their last visit (the chat's contact question, the cart's "send me my
cart" box, the checkout's e-mail field): more of them the deeper they went or if
they chatted (:data:`CONSENT_CHANCE_BY_DEPTH`). Each lead carries that
``contact``; :func:`write_history` does not store it, the follow-up simulation
(:mod:`bot.leads.synthetic_followups`) stores it with the lead. It is drawn from
a random stream of its own, so the journeys are the same with or without it.

Three generating rules for the outcome (``outcomes``), each a known ground truth:

- ``shop`` (the default): the rule above.
- ``planted``: a truth the scoring rules get wrong in places, to show what a score
  learned from outcomes (the challenger, :mod:`bot.scoring.challenger`) can find.
  The log-odds of buying are :data:`PLANTED_BASE` plus :data:`PLANTED_WEIGHTS` for
  each thing the shopper did or said (each counted once); every one of them is
  visible in the history before the purchase. Against the shipped rules:
  comparing products (rules: 5 points), asking about returns (3) and coming back
  (3 a visit) matter far more; a started checkout (30) lowers the chance (here a
  checkout left unfinished mostly means price shock) and entered payment details
  (40) add nothing; asking about a discount (+4) lowers the chance; a budget short
  of the price (0) lowers it too.
- ``rules``: the scoring rules are the truth. The chance of buying is
  ``1 / (1 + exp(-(RULES_TRUTH_BASE + RULES_TRUTH_SLOPE x score)))`` of the rule
  score (the ``scorer`` passed in) just after the shopper's last step, so no score
  can rank buyers better than the rules, beyond noise (a control).

Under ``planted`` and ``rules`` a buyer buys right after the last step (a buy-now
link), adding no checkout steps, so what is known before the purchase is exactly
what the truth was drawn from.

The same seed, ``now``, catalogue and outcome rule always give the same leads,
commands and ids, so a run can be reproduced and two seeds can share one database.
"""

from __future__ import annotations

import bisect
import math
import random
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from itertools import accumulate
from typing import Generic, TypeVar

from sqlalchemy.engine import Engine

from bot.catalog import Catalog, Product, Variant
from bot.leads.commands import RecordAnswer, RecordEvent, UpdateContact
from bot.leads.service import LeadService
from bot.scoring import Scorer, facts_from_history
from bot.store.sales import load_statuses

HISTORY_DAYS = 30
# The funnel, shallowest first; ``SyntheticLead.depth`` indexes it (a comparison
# counts as the variant step: both mean the shopper is evaluating).
FUNNEL = (
    "page_view",
    "product_view",
    "variant_select",
    "add_to_cart",
    "shipping_check",
    "checkout_start",
    "payment_info",
)
_DEPTH = {name: depth for depth, name in enumerate(FUNNEL)} | {"compare": 2}
_BROWSING = frozenset({"page_view", "product_view"})
_PRICED = frozenset({"add_to_cart", "checkout_start", "payment_info"})
_BUY_CHANCE_BY_DEPTH = (0.004, 0.012, 0.04, 0.10, 0.18, 0.30, 0.55)
_CHAT_CHANCE = {
    "browser": 0.15,
    "comparer": 0.3,
    "cart_abandoner": 0.35,
    "checkout_starter": 0.3,
    "buyer": 0.3,
}
_COUNTRY_NAMES = {
    "FR": "France",
    "DE": "Germany",
    "BE": "Belgium",
    "ES": "Spain",
    "IT": "Italy",
    "NL": "the Netherlands",
    "GB": "the UK",
    "CH": "Switzerland",
    "NO": "Norway",
    "US": "the US",
    "CA": "Canada",
    "BR": "Brazil",
    "AU": "Australia",
}
# Budget as a share of the wanted item's price: covers it, close, short, far below;
# and how each changes the chance of buying.
_BUDGET_RATIOS = ((1.0, 1.6), (0.8, 0.99), (0.5, 0.79), (0.2, 0.49))
_BUDGET_EFFECT = (1.2, 0.9, 0.6, 0.25)
# What a budget answer of each band shows, for the planted truth (close: nothing).
_BUDGET_FACTS: tuple[tuple[str, ...], ...] = (
    ("budget_covers",),
    (),
    ("budget_short",),
    ("budget_far_below",),
)
OUTCOME_RULES = ("shop", "planted", "rules")
# The planted truth (``outcomes="planted"``): log-odds of buying.
PLANTED_BASE = -5.0
PLANTED_WEIGHTS = {
    # Storefront steps, each once however often.
    "product_view": 0.3,
    "compare": 1.5,
    "variant_select": 0.5,
    "add_to_cart": 1.5,
    "shipping_check": 0.8,
    "checkout_start": -1.0,
    "payment_info": 0.0,
    # More than one visit.
    "came_back": 1.5,
    # Chat questions and requests.
    "asked_returns": 2.0,
    "asked_discount": -1.5,
    "human_requested": 1.0,
    # Answers: the budget against the item's price, when said.
    "budget_covers": 1.0,
    "budget_short": -1.5,
    "budget_far_below": -2.5,
    # Cannot be delivered where they said (a place answered, a shipping check: outside the zones).
    "not_serviceable": -2.5,
    # Answered a purchase date.
    "buying_within_week": 0.8,
    "buying_after_90_days": -1.0,
}
# The chance a shopper leaves an e-mail address with consent, by the deepest step
# reached, and at least this after a chat.
CONSENT_CHANCE_BY_DEPTH = (0.03, 0.05, 0.15, 0.4, 0.45, 0.65, 0.75)
CONSENT_CHANCE_AFTER_CHAT = 0.5
CONSENT_TEXT = "Yes, e-mail me about my cart and order."
CONTACT_DOMAIN = "shoppers.example"
# The rules as the truth (``outcomes="rules"``): log-odds = base + slope x rule score.
RULES_TRUTH_BASE = -5.0
RULES_TRUTH_SLOPE = 0.07

_T = TypeVar("_T")


class _Weighted(Generic[_T]):
    """Options drawn with the given weights (``random.choices`` without its per-call setup)."""

    def __init__(self, weighted: Sequence[tuple[_T, float]]) -> None:
        self.options = tuple(option for option, _ in weighted)
        self._cumulative = tuple(accumulate(weight for _, weight in weighted))

    def draw(self, rng: random.Random) -> _T:
        point = rng.random() * self._cumulative[-1]
        return self.options[bisect.bisect(self._cumulative, point)]


_JOURNEYS = _Weighted(
    (
        ("browser", 52),
        ("comparer", 16),
        ("cart_abandoner", 15),
        ("checkout_starter", 9),
        ("buyer", 8),
    )
)
JOURNEYS = _JOURNEYS.options
# Where shoppers are: mostly the EU, some places that only some products (or none)
# ship to, and regions that bulky products exclude.
_PLACES: _Weighted[tuple[str, str | None]] = _Weighted(
    (
        (("FR", None), 20),
        (("FR", "Lyon"), 8),
        (("FR", "Paris"), 8),
        (("FR", "Corsica"), 2),
        (("DE", None), 14),
        (("BE", None), 6),
        (("ES", None), 5),
        (("ES", "Canary Islands"), 1),
        (("IT", None), 6),
        (("NL", None), 5),
        (("GB", None), 5),
        (("CH", None), 3),
        (("NO", None), 1),
        (("US", None), 8),
        (("CA", None), 2),
        (("BR", None), 4),
        (("AU", None), 2),
    )
)
_VISITS = _Weighted(((1, 75), (2, 17), (3, 8)))
_TIMELINE_DAYS = _Weighted(
    ((1, 8), (3, 12), (7, 18), (14, 15), (30, 17), (60, 12), (120, 10), (180, 8))
)
_BUDGET_BANDS = _Weighted(((0, 50), (1, 20), (2, 10), (3, 20)))
_TOPICS = _Weighted(
    (("shipping", 35), ("price", 25), ("stock", 20), ("returns", 10), ("discount", 10))
)
_ENGAGED_STATUS = _Weighted(
    (("Lost", 35), ("Contacted", 25), ("In Progress", 10), ("Qualified", 5), ("New", 25))
)
_BROWSER_STATUS = _Weighted((("Lost", 10), ("New", 90)))


@dataclass(frozen=True)
class SyntheticLead:
    """One synthetic shopper: their commands, in time order, and the known outcome.

    ``depth`` is the deepest step of :data:`FUNNEL` reached before deciding
    whether to buy (a buyer's own checkout steps do not count), ``status`` the
    lead status sales would have set (Won for every buyer), ``contact`` the
    e-mail address and consent the shopper left, if any.
    """

    session_id: str
    commands: tuple[RecordEvent | RecordAnswer, ...]
    journey: str
    depth: int
    purchased: bool
    purchased_at: datetime | None
    status: str
    contact: UpdateContact | None = None


@dataclass
class WriteSummary:
    """What :func:`write_history` wrote: leads, new and already stored events, buyers."""

    leads: int = 0
    events: int = 0
    duplicate_events: int = 0
    purchases: int = 0
    statuses: dict[str, int] = field(default_factory=dict)


def generate(
    n_leads: int,
    *,
    seed: int,
    now: datetime,
    catalog: Catalog,
    outcomes: str = "shop",
    scorer: Scorer | None = None,
) -> Iterator[SyntheticLead]:
    """Yield ``n_leads`` synthetic leads, lazily, all active in the 30 days before ``now``.

    ``outcomes`` picks the rule that draws who buys (see the module docstring);
    ``rules`` needs the ``scorer`` whose rule score is the truth.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware UTC")
    if n_leads < 0:
        raise ValueError(f"n_leads must not be negative, got {n_leads}")
    if not catalog.products:
        raise ValueError("the catalogue has no products")
    if outcomes not in OUTCOME_RULES:
        raise ValueError(f"outcomes must be one of {', '.join(OUTCOME_RULES)}, got {outcomes!r}")
    if outcomes == "rules" and scorer is None:
        raise ValueError("outcomes='rules' needs the scorer whose rule score is the truth")
    rng = random.Random(seed)
    contact_rng = random.Random(f"{seed}:contacts")
    for index in range(n_leads):
        shopper = _Shopper(rng, catalog, f"syn{seed}-{index:07d}", now, contact_rng)
        shopper.outcomes, shopper.scorer = outcomes, scorer
        yield shopper.lead()


def write_history(
    service: LeadService,
    leads: Iterable[SyntheticLead],
    batch_size: int = 1000,
    *,
    now: datetime | None = None,
    progress: Callable[[int], None] | None = None,
) -> WriteSummary:
    """Store the leads' histories, ``batch_size`` leads per ``apply``, then their status.

    Consumes ``leads`` lazily, so memory stays flat for any number of leads, and
    is idempotent: a re-run with the same seed stores no new events. ``now`` is
    when the store records and scores each batch (pass the generator's ``now``
    so scores match the histories); ``progress`` gets the number of leads
    written after each batch.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    summary = WriteSummary()
    batch: list[SyntheticLead] = []
    for lead in leads:
        batch.append(lead)
        if len(batch) >= batch_size:
            _write_batch(service, batch, now, summary)
            if progress is not None:
                progress(len(batch))
            batch = []
    if batch:
        _write_batch(service, batch, now, summary)
        if progress is not None:
            progress(len(batch))
    return summary


def _write_batch(
    service: LeadService,
    batch: Sequence[SyntheticLead],
    now: datetime | None,
    summary: WriteSummary,
) -> None:
    result = service.apply([command for lead in batch for command in lead.commands], now=now)
    set_statuses(service.engine, {lead.session_id: lead.status for lead in batch})
    summary.leads += len(batch)
    summary.events += result.accepted_events
    summary.duplicate_events += result.duplicate_events
    summary.purchases += sum(lead.purchased for lead in batch)
    for lead in batch:
        summary.statuses[lead.status] = summary.statuses.get(lead.status, 0) + 1


def set_statuses(engine: Engine, statuses: Mapping[str, str]) -> None:
    """Set the sales status of the leads of these sessions (``{session_id: status}``).

    Sales set statuses by hand; the lead service has no command for it, so a
    bulk load writes them directly, in one statement.
    """
    with engine.begin() as connection:
        # New is what every lead starts with.
        load_statuses(
            connection, {session: status for session, status in statuses.items() if status != "New"}
        )


@dataclass
class _Step:
    """A storefront event before it gets its time and id."""

    type: str
    product: Product | None = None
    variant: Variant | None = None
    properties: dict[str, object] = field(default_factory=dict)


class _Shopper:
    """Draws one shopper's journey, chat, fit and outcome from the shared random stream."""

    def __init__(
        self,
        rng: random.Random,
        catalog: Catalog,
        session_id: str,
        now: datetime,
        contact_rng: random.Random,
    ) -> None:
        self.rng = rng
        self.contact_rng = contact_rng
        self.catalog = catalog
        self.session_id = session_id
        self.now = now
        self.commands: list[RecordEvent | RecordAnswer] = []
        self.product = rng.choice(catalog.products)
        self.variant = rng.choice(self.product.variants) if self.product.variants else None
        self.country, self.region = _PLACES.draw(rng)
        self.ships = catalog.ships_to(self.product, self.country, self.region)
        self.days = _TIMELINE_DAYS.draw(rng)
        self.budget_band = _BUDGET_BANDS.draw(rng)
        self.journey = _JOURNEYS.draw(rng)
        self.depth = 0
        self.outcomes = "shop"
        self.scorer: Scorer | None = None

    def lead(self) -> SyntheticLead:
        sessions = self._session_starts()
        steps = self._journey_steps()
        chat_in = self.rng.randrange(len(sessions)) if self._chats() else None
        chatted = chat_in is not None
        human = False
        clock = sessions[0]
        for number, start in enumerate(sessions):
            clock = max(start, clock)
            for step in self._steps_of_session(steps, number, len(sessions)):
                clock = self._emit(step, clock)
                if chat_in == number and step.type == "product_view":
                    clock, human = self._chat(clock)
                    chat_in = None
            if chat_in == number:
                clock, human = self._chat(clock)
                chat_in = None
        contact = self._contact(clock, chatted)
        purchased_at = self._maybe_buy(clock, returned=len(sessions) > 1, human=human)
        return SyntheticLead(
            session_id=self.session_id,
            commands=tuple(self.commands),
            journey=self.journey,
            depth=self.depth,
            purchased=purchased_at is not None,
            purchased_at=purchased_at,
            status=self._status(purchased_at is not None),
            contact=contact,
        )

    def _contact(self, clock: datetime, chatted: bool) -> UpdateContact | None:
        """The e-mail address and consent left at the end of the last visit, if any."""
        chance = CONSENT_CHANCE_BY_DEPTH[self.depth]
        if chatted:
            chance = max(chance, CONSENT_CHANCE_AFTER_CHAT)
        if self.contact_rng.random() >= chance:
            return None
        return UpdateContact(
            session_id=self.session_id,
            email=f"{self.session_id}@{CONTACT_DOMAIN}",
            consent_text=CONSENT_TEXT,
            consent_at=clock + timedelta(seconds=30),
        )

    def _session_starts(self) -> list[datetime]:
        rng = self.rng
        # Visits start two hours before ``now`` at the latest: a visit with a chat
        # lasts under an hour, and a purchase must still fit in before ``now``.
        last_start = self.now - timedelta(hours=2)
        first = self.now - timedelta(seconds=rng.uniform(2 * 3600, HISTORY_DAYS * 86_400))
        starts = [first]
        for _ in range(_VISITS.draw(rng) - 1):
            later = starts[-1] + timedelta(days=rng.uniform(0.5, 6))
            if later > last_start:
                break
            starts.append(later)
        return starts

    def _journey_steps(self) -> list[_Step]:
        """The journey's events, shallowest first, cut short by stock or shipping."""
        rng, product = self.rng, self.product
        views = [_Step("page_view", properties={"path": f"/collections/{product.category}"})]
        if self.journey == "browser":
            for _ in range(rng.randint(0, 2)):
                views.append(_Step("product_view", rng.choice(self.catalog.products)))
            if rng.random() < 0.6:
                views.append(_Step("product_view", product))
            return views
        views.append(_Step("product_view", product))
        if self.journey == "comparer":
            others = [p for p in self.catalog.products if p.category == product.category]
            compared = rng.sample(others, min(len(others), rng.randint(2, 3)))
            views += [_Step("product_view", other) for other in compared if other != product]
            ids = sorted({product.id, *(other.id for other in compared)})
            views.append(_Step("compare", product, properties={"products": ids}))
            if rng.random() < 0.5:
                views.append(_Step("variant_select", product, self.variant))
            return views
        steps = [*views, _Step("variant_select", product, self.variant)]
        variant = self.variant
        if variant is not None and not variant.in_stock:
            in_stock = [v for v in product.variants if v.in_stock]
            # Half switch to another variant; the others cannot buy and leave.
            if not in_stock or rng.random() < 0.5:
                return steps
            variant = rng.choice(in_stock)
            steps.append(_Step("variant_select", product, variant))
        steps.append(_Step("add_to_cart", product, variant))
        if self.journey == "cart_abandoner":
            if rng.random() < 0.4:
                steps.append(_Step("shipping_check", product, properties={"country": self.country}))
            return steps
        steps.append(_Step("shipping_check", product, properties={"country": self.country}))
        if not self.ships and rng.random() < 0.85:
            return steps
        steps.append(_Step("checkout_start", product, variant))
        if self.journey == "buyer" or rng.random() < 0.35:
            steps.append(_Step("payment_info", product, variant))
        return steps

    def _steps_of_session(self, steps: list[_Step], number: int, count: int) -> list[_Step]:
        """Browsing opens the first visit, the deeper steps end the last one."""
        if count == 1:
            return steps
        split = next((i for i, s in enumerate(steps) if s.type not in _BROWSING), len(steps))
        if number == 0:
            return steps[:split]
        if number == count - 1:
            return [_Step("product_view", self.product), *steps[split:]]
        return [_Step("page_view", properties={"path": "/"})]

    def _chats(self) -> bool:
        return self.rng.random() < _CHAT_CHANCE[self.journey]

    def _emit(self, step: _Step, clock: datetime) -> datetime:
        at = clock + timedelta(seconds=self.rng.uniform(20, 240))
        self.depth = max(self.depth, _DEPTH[step.type])
        self._event(
            step.type,
            at,
            source="storefront",
            product_id=step.product.id if step.product is not None else None,
            variant_id=step.variant.id if step.variant is not None else None,
            value=step.variant.price if step.type in _PRICED and step.variant else None,
            properties=step.properties,
        )
        return at

    def _event(
        self,
        kind: str,
        at: datetime,
        *,
        source: str = "chat",
        product_id: str | None = None,
        variant_id: str | None = None,
        value: Decimal | None = None,
        properties: dict[str, object] | None = None,
    ) -> None:
        self.commands.append(
            RecordEvent(
                session_id=self.session_id,
                event_id=f"{self.session_id}-e{len(self.commands):02d}",
                type=kind,
                ts=at,
                source=source,
                product_id=product_id,
                variant_id=variant_id,
                value=value,
                properties=dict(properties or {}),
            )
        )

    def _answer(self, key: str, raw: str, value: object, at: datetime) -> None:
        self.commands.append(
            RecordAnswer(
                session_id=self.session_id,
                answer_id=f"{self.session_id}-a-{key}",
                key=key,
                raw=raw,
                value=value,
                status="answered",
                answered_at=at,
            )
        )

    def _chat(self, clock: datetime) -> tuple[datetime, bool]:
        """A chat: a question about the product, some answers, maybe a request for a person."""
        rng, product = self.rng, self.product

        def tick() -> datetime:
            nonlocal clock
            clock += timedelta(seconds=rng.uniform(10, 90))
            return clock

        topic = _TOPICS.draw(rng)
        question = f"Quick question about the {product.name}: {topic}?"
        self._event("chat_message", tick(), properties={"sender": "user", "text": question})
        self._event("shopper_question", tick(), properties={"topic": topic})
        self._event("chat_message", tick(), properties={"sender": "bot", "text": "Happy to help!"})
        answered: list[str] = []
        if rng.random() < 0.7:
            self._answer("timeline", f"within {self.days} days", {"days": self.days}, tick())
            answered.append("timeline")
        if self.variant is not None and rng.random() < 0.6:
            self._answer("variant", product.variant_label(self.variant), self.variant.id, tick())
            answered.append("variant")
        if rng.random() < 0.6:
            place = _COUNTRY_NAMES.get(self.country, self.country)
            self._answer(
                "location",
                f"{self.region}, {place}" if self.region else place,
                {"country": self.country, "region": self.region, "serviceable": self.ships},
                tick(),
            )
            answered.append("location")
        if rng.random() < 0.5:
            amount = self._budget()
            self._answer(
                "budget",
                f"about {amount} {product.currency}",
                {"amount": amount, "currency": product.currency},
                tick(),
            )
            answered.append("budget")
        if len(answered) == 4:
            self._event(
                "qualification_completed", tick(), properties={"answered": sorted(answered)}
            )
        human = rng.random() < (0.15 if self.depth >= 3 else 0.05)
        if human:
            self._event("human_requested", tick(), properties={"during_question": None})
        return clock, human

    def _budget(self) -> Decimal:
        low, high = _BUDGET_RATIOS[self.budget_band]
        price = self.variant.price if self.variant is not None else self.product.price
        ratio = Decimal(str(round(self.rng.uniform(low, high), 2)))
        return max(Decimal(1), (price * ratio).quantize(Decimal(1)))

    def _buy_chance(self, *, returned: bool, human: bool) -> float:
        chance = _BUY_CHANCE_BY_DEPTH[self.depth] * _BUDGET_EFFECT[self.budget_band]
        if not self.ships:
            chance *= 0.05
        if self.variant is not None and not self.variant.in_stock:
            chance *= 0.5
        if self.days <= 7:
            chance *= 1.4
        elif self.days > 90:
            chance *= 0.4
        elif self.days > 30:
            chance *= 0.7
        if returned:
            chance *= 1.25
        if human:
            chance *= 1.4
        return min(chance, 0.95)

    def _planted_chance(self, *, returned: bool) -> float:
        """The planted truth: :data:`PLANTED_WEIGHTS` of what the history shows."""
        shown: set[str] = {"came_back"} if returned else set()
        for command in self.commands:
            if isinstance(command, RecordAnswer):
                shown.update(self._answer_facts(command))
            elif command.type == "shopper_question":
                shown.add(f"asked_{command.properties.get('topic')}")
            elif command.type == "shipping_check" and not self.ships:
                shown.update((command.type, "not_serviceable"))
            else:
                shown.add(command.type)
        logit = PLANTED_BASE + sum(PLANTED_WEIGHTS.get(name, 0.0) for name in shown)
        return 1.0 / (1.0 + math.exp(-logit))

    def _answer_facts(self, answer: RecordAnswer) -> tuple[str, ...]:
        if answer.key == "budget":
            return _BUDGET_FACTS[self.budget_band]
        if answer.key == "location" and not self.ships:
            return ("not_serviceable",)
        if answer.key == "timeline" and self.days <= 7:
            return ("buying_within_week",)
        if answer.key == "timeline" and self.days > 90:
            return ("buying_after_90_days",)
        return ()

    def _rules_chance(self, clock: datetime) -> float:
        """The rules as the truth: the logistic of the rule score just after the last step."""
        assert self.scorer is not None
        facts = facts_from_history(
            (c for c in self.commands if isinstance(c, RecordEvent)),
            (c for c in self.commands if isinstance(c, RecordAnswer)),
        )
        points = self.scorer.rules(facts, clock + timedelta(minutes=1)).score
        return 1.0 / (1.0 + math.exp(-(RULES_TRUTH_BASE + RULES_TRUTH_SLOPE * points)))

    def _maybe_buy(self, clock: datetime, *, returned: bool, human: bool) -> datetime | None:
        rng = self.rng
        if self.outcomes == "planted":
            chance = self._planted_chance(returned=returned)
        elif self.outcomes == "rules":
            chance = self._rules_chance(clock)
        else:
            chance = self._buy_chance(returned=returned, human=human)
        if rng.random() >= chance:
            return None
        latest = self.now - timedelta(minutes=1)
        product = self.product
        variant = self.variant
        if variant is None or not variant.in_stock:
            in_stock = [v for v in product.variants if v.in_stock]
            variant = rng.choice(in_stock) if in_stock else variant
        if self.outcomes == "shop" and self.depth < FUNNEL.index("payment_info"):
            # Shallow buyers come back to buy, within minutes or days (and early
            # enough for the checkout steps to happen before ``now``).
            room = self.now - timedelta(minutes=20)
            clock = max(clock, min(clock + timedelta(seconds=rng.uniform(600, 3 * 86_400)), room))
            if rng.random() < 0.6 and clock <= room:
                decided_at = self.depth
                for kind in ("add_to_cart", "checkout_start", "payment_info"):
                    clock = self._emit(_Step(kind, product, variant), clock)
                # ``depth`` is how far the shopper went before deciding to buy.
                self.depth = decided_at
        at = min(clock + timedelta(seconds=rng.uniform(30, 300)), latest)
        price = variant.price if variant is not None else product.price
        self._event(
            "purchase",
            at,
            source="storefront",
            product_id=product.id,
            variant_id=variant.id if variant is not None else None,
            value=price,
            properties={"order_id": f"{self.session_id}-order", "currency": product.currency},
        )
        if rng.random() < 0.1:
            # Order-status visits after buying say nothing about intent to buy.
            later = min(at + timedelta(hours=rng.uniform(1, 48)), latest)
            self._event(
                "page_view", later, source="storefront", properties={"path": "/account/orders"}
            )
        return at

    def _status(self, purchased: bool) -> str:
        if purchased:
            return "Won"
        engaged = self.depth >= FUNNEL.index("add_to_cart") or any(
            isinstance(command, RecordAnswer) for command in self.commands
        )
        return (_ENGAGED_STATUS if engaged else _BROWSER_STATUS).draw(self.rng)
