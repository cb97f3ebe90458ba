"""Every rule of the tests' scoring configuration, case by case, on the demo catalogue."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from bot.answers import parse_budget
from bot.catalog import DEMO_CATALOG, NO_RATES, Catalog, RateTable, load_catalog, load_rates
from bot.scoring import LeadFacts, Scorer, ScoreResult, ScoringConfig, load_scoring_config, score
from tests.scoring import SCORING_CONFIG

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=timezone.utc)
HOODIE = "hoodie-classic"
BLUE_M = "hoodie-classic-blue-m"  # 59 EUR, in stock
BLUE_L = "hoodie-classic-blue-l"  # 59 EUR, stock 0
TENT = "tent-dome"  # ships to FR/DE/BE only, not to Corsica
RATES = Path(__file__).with_name("rates.yml")  # RUB 0.011, USD 0.92, GBP 1.17 EUR


@pytest.fixture(scope="module")
def config() -> ScoringConfig:
    return load_scoring_config(SCORING_CONFIG)


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog(DEMO_CATALOG)


# An event is (kind, age, fold_event keywords); an answer is (key, value, status, age).
Event = tuple[Any, ...]


def ev(kind: str, ago: timedelta = timedelta(0), **fields: Any) -> Event:
    return (kind, ago, fields)


def ans(key: str, value: Any, ago: timedelta = timedelta(0), status: str = "answered") -> Event:
    return (key, value, status, ago)


def facts_of(events: Sequence[Event] = (), answers: Sequence[Event] = ()) -> LeadFacts:
    facts = LeadFacts()
    for kind, ago, fields in events:
        facts.fold_event(kind, NOW - ago, **fields)
    for key, value, status, ago in answers:
        facts.fold_answer(key, value, status, NOW - ago)
    return facts


def run(
    config: ScoringConfig,
    catalog: Catalog,
    events: Sequence[Event] = (),
    answers: Sequence[Event] = (),
    now: datetime = NOW,
    rates: RateTable = NO_RATES,
) -> ScoreResult:
    return score(facts_of(events, answers), config, catalog, now, rates)


def points(result: ScoreResult, rule: str) -> int | None:
    """Points of ``rule`` (None when the rule gave no reason)."""
    found = [reason for reason in result.reasons if reason.rule == rule]
    assert len(found) <= 1
    return found[0].points if found else None


def detail(result: ScoreResult, rule: str) -> str:
    (found,) = [reason.detail for reason in result.reasons if reason.rule == rule]
    return found


def days(value: float) -> timedelta:
    return timedelta(days=value)


# --- intent signals ------------------------------------------------------------------------

SIGNAL_CASES = [
    # (signal, points at age 0, points after exactly one half-life)
    # Python rounds halves to even: 0.5 -> 0, 2.5 -> 2, 1.5 -> 2, 7.5 -> 8.
    ("page_view", 1, None),  # 1 x 0.5 = 0.5 rounds to 0: no reason at all
    ("product_view", 3, 2),  # 1.5 -> 2
    ("variant_select", 5, 2),  # 2.5 -> 2
    ("compare", 5, 2),  # 2.5 -> 2
    ("add_to_cart", 12, 6),
    ("shipping_check", 15, 8),  # 7.5 -> 8
    ("checkout_start", 30, 15),
    ("payment_info", 40, 20),
    ("email_click", 4, 2),
    ("asked_shipping", 8, 4),
    ("asked_price", 6, 3),
    ("asked_stock", 8, 4),
    ("asked_discount", 4, 2),
    ("asked_returns", 3, 2),  # 1.5 -> 2
    ("human_requested", 20, 10),
    ("qualification_completed", 10, 5),
]


def signal_event(signal: str, ago: timedelta) -> Event:
    """The event that stands for ``signal`` (chat questions are shopper_question + topic)."""
    if signal.startswith("asked_"):
        return ev("shopper_question", ago, properties={"topic": signal.removeprefix("asked_")})
    return ev(signal, ago)


@pytest.mark.parametrize(("signal", "fresh", "half"), SIGNAL_CASES)
def test_signal_points_fresh_and_after_one_half_life(
    config: ScoringConfig, catalog: Catalog, signal: str, fresh: int, half: int | None
) -> None:
    assert config.signals[signal].points == fresh
    now_result = run(config, catalog, [signal_event(signal, timedelta(0))])
    assert points(now_result, f"intent.{signal}") == fresh
    assert now_result.intent_score == fresh
    half_life = days(config.signals[signal].half_life_days)
    later = run(config, catalog, [signal_event(signal, half_life)])
    assert points(later, f"intent.{signal}") == half
    assert later.intent_score == (half or 0)


@pytest.mark.parametrize(
    ("signal", "occurrences", "expected", "capped"),
    [
        # 10 product views x 3 = 30, capped at 9
        ("product_view", 10, 9, True),
        # 3 product views x 3 = 9 = the cap exactly: not marked as capped
        ("product_view", 3, 9, False),
        # 2 cart adds x 12 = 24 = cap
        ("add_to_cart", 2, 24, False),
        # 5 cart adds x 12 = 60, capped at 24
        ("add_to_cart", 5, 24, True),
        # 50 page views x 1, capped at 3
        ("page_view", 50, 3, True),
        # asking about shipping twice is worth one question (cap 8)
        ("asked_shipping", 2, 8, True),
    ],
)
def test_cap_reached_after_many_occurrences(
    config: ScoringConfig,
    catalog: Catalog,
    signal: str,
    occurrences: int,
    expected: int,
    capped: bool,
) -> None:
    events = [signal_event(signal, timedelta(seconds=index)) for index in range(occurrences)]
    result = run(config, catalog, events)
    assert points(result, f"intent.{signal}") == expected
    text = detail(result, f"intent.{signal}")
    assert (f"(capped at {config.signals[signal].cap})" in text) is capped
    assert f"{occurrences}\u00d7" in text


def test_occurrences_decay_separately(config: ScoringConfig, catalog: Catalog) -> None:
    # add_to_cart now (12) + one 5 days ago (6) = 18.
    result = run(config, catalog, [ev("add_to_cart"), ev("add_to_cart", days(5))])
    assert points(result, "intent.add_to_cart") == 18


def test_unknown_topic_and_purchase_score_nothing(config: ScoringConfig, catalog: Catalog) -> None:
    # A purchase is the outcome, not an input; "asked_colour" is not a configured signal.
    result = run(
        config,
        catalog,
        [ev("purchase"), ev("shopper_question", properties={"topic": "colour"})],
    )
    assert result.reasons == ()
    assert result.score == 0


# --- return visits -------------------------------------------------------------------------


def visits(*starts: timedelta) -> list[Event]:
    """Chat messages by the shopper (activity without a scored signal) at these ages."""
    return [ev("chat_message", ago, properties={"sender": "user"}) for ago in starts]


@pytest.mark.parametrize(
    ("ages", "expected"),
    [
        # one visit: no bonus
        ([timedelta(hours=1)], None),
        # 2 visits a day apart: came back once, 3 points
        ([days(1), timedelta(0)], 3),
        # 5 visits: 4 x 3 = 12, capped at 9
        ([days(4), days(3), days(2), days(1), timedelta(0)], 9),
        # 4 visits: 3 x 3 = 9
        ([days(3), days(2), days(1), timedelta(0)], 9),
        # a visit 20 days ago is outside the 14-day window: only one visit counts
        ([days(20), timedelta(0)], None),
        # 15 and 20 days ago outside, 2 inside: one return
        ([days(20), days(15), days(2), timedelta(0)], 3),
        # activity exactly 30 minutes apart is the same visit (a visit needs > 30 min of gap)
        ([timedelta(minutes=30), timedelta(0)], None),
        # 31 minutes apart: a new visit
        ([timedelta(minutes=31), timedelta(0)], 3),
        # a long session with a message every 20 minutes stays one visit
        ([timedelta(minutes=m) for m in range(0, 200, 20)], None),
    ],
)
def test_return_visits(
    config: ScoringConfig, catalog: Catalog, ages: list[timedelta], expected: int | None
) -> None:
    result = run(config, catalog, visits(*ages))
    assert points(result, "intent.return_visits") == expected
    assert result.intent_score == (expected or 0)


def test_return_visit_detail(config: ScoringConfig, catalog: Catalog) -> None:
    result = run(config, catalog, visits(days(2), days(1), timedelta(0)))
    assert detail(result, "intent.return_visits") == "came back 2\u00d7 in 14 days"


def test_bot_messages_are_not_visits(config: ScoringConfig, catalog: Catalog) -> None:
    events = [
        ev("chat_message", days(1), properties={"sender": "bot"}),
        ev("chat_message", timedelta(0), properties={"sender": "user"}),
    ]
    assert points(run(config, catalog, events), "intent.return_visits") is None


# --- fit: budget ---------------------------------------------------------------------------


def picked(variant: str = BLUE_M) -> list[Event]:
    """The shopper picked ``variant`` in the shop (no intent worth mentioning besides it)."""
    return [ev("variant_select", product_id=HOODIE, variant_id=variant)]


def budget(amount: str, currency: str = "EUR", **extra: str) -> dict[str, Any]:
    return {"amount": Decimal(amount), "currency": currency} | {
        key: Decimal(value) for key, value in extra.items()
    }


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        # 59 >= 59: covers the price
        (budget("59"), 20),
        # 300 covers 59
        (budget("300"), 20),
        # 50 >= 0.8 x 59 = 47.2: near the price
        (budget("50"), 8),
        # exactly 47.2: near (inclusive)
        (budget("47.20"), 8),
        # 47.19 is below near but not below 0.5 x 59 = 29.5: no reason
        (budget("47.19"), None),
        # 40: between far and near, no reason
        (budget("40"), None),
        # exactly 29.5 is not "below" the far ratio: no reason
        (budget("29.50"), None),
        # 20 < 29.5: far below the price
        (budget("20"), -20),
        # another currency than the item's and no rate table: not compared, no points
        (budget("300", "USD"), 0),
        (budget("20", "GBP"), 0),
        # a range uses its max: 60 covers 59 (its amount, the midpoint 45, would not)
        (budget("45", min="30", max="60"), 20),
        # a range whose max (45) is between far and near: no reason, whatever its min (25)
        (budget("35", min="25", max="45"), None),
        # an upper bound "under 50": max 50 is near
        (budget("50", max="50"), 8),
        # a lower bound "at least 20": no ceiling, so the price may still fit
        (budget("20", min="20"), None),
        # a lower bound at or above the price covers it
        (budget("59", min="59"), 20),
        # amount that is not a number
        ({"amount": "lots", "currency": "EUR"}, None),
    ],
)
def test_budget(
    config: ScoringConfig, catalog: Catalog, value: dict[str, Any], expected: int | None
) -> None:
    result = run(config, catalog, picked(), [ans("budget", value)])
    assert points(result, "fit.budget") == expected


def test_budget_range_max_far_below(config: ScoringConfig, catalog: Catalog) -> None:
    # max 25 < 29.5 -> far below, although the amount (35) is between far and near.
    result = run(config, catalog, picked(), [ans("budget", budget("35", min="25", max="25"))])
    assert points(result, "fit.budget") == -20


def test_budget_uses_the_variant_price(config: ScoringConfig, catalog: Catalog) -> None:
    # The black XL costs 64: a budget of 60 is near it (>= 51.2), not covering.
    result = run(
        config,
        catalog,
        picked("hoodie-classic-black-xl"),
        [ans("budget", budget("60"))],
    )
    assert points(result, "fit.budget") == 8
    assert detail(result, "fit.budget") == "budget 60 EUR is close to 64 EUR"


def test_budget_uses_the_viewed_product_without_a_variant(
    config: ScoringConfig, catalog: Catalog
) -> None:
    # Only the tent page was viewed: its price (249) is the reference.
    result = run(
        config, catalog, [ev("product_view", product_id=TENT)], [ans("budget", budget("100"))]
    )
    assert points(result, "fit.budget") == -20
    assert detail(result, "fit.budget") == "budget 100 EUR is far below Dome Tent (249 EUR)"


def test_budget_covers_detail(config: ScoringConfig, catalog: Catalog) -> None:
    result = run(config, catalog, picked(), [ans("budget", budget("1200"))])
    assert detail(result, "fit.budget") == (
        "budget 1,200 EUR covers Classic Hoodie \u2014 blue, M (59 EUR)"
    )


@pytest.fixture(scope="module")
def rates() -> RateTable:
    return load_rates(RATES)


@pytest.mark.parametrize(
    ("value", "expected", "said"),
    [
        # 3000 x 0.011 = 33 EUR < 29.5? no: 33 is between far (29.5) and near (47.2)
        (budget("3000", "RUB"), None, None),
        # 2000 RUB = 22 EUR < 29.5: far below, shown in both currencies
        (
            budget("2000", "RUB"),
            -20,
            "budget 2,000 RUB (\u2248 22 EUR, rates of 2026-11-30) is far below "
            "Classic Hoodie \u2014 blue, M (59 EUR)",
        ),
        # 10,000 RUB = 110 EUR: covers, although 10,000 is no big EUR budget
        (
            budget("10000", "RUB"),
            20,
            "budget 10,000 RUB (\u2248 110 EUR, rates of 2026-11-30) covers "
            "Classic Hoodie \u2014 blue, M (59 EUR)",
        ),
        # 60 USD = 55.2 EUR: close to 59 (>= 47.2)
        (
            budget("60", "USD"),
            8,
            "budget 60 USD (\u2248 55 EUR, rates of 2026-11-30) is close to 59 EUR",
        ),
        # a range in pounds: its max, 50 GBP = 58.5 EUR, is close, whatever its min
        (budget("40", "GBP", min="30", max="50"), 8, None),
        # "at least 60 dollars" = 55.2 EUR: no ceiling and below the price, no verdict
        (budget("60", "USD", min="60"), None, None),
        # "at least 70 dollars" = 64.4 EUR: covers
        (budget("70", "USD", min="70"), 20, None),
        # a currency the table lacks: no points, and the reason says so
        (
            budget("1000", "MXN"),
            0,
            "budget 1,000 MXN not compared with Classic Hoodie \u2014 blue, M (59 EUR): "
            "no MXN to EUR rate in the rate table (rates of 2026-11-30)",
        ),
    ],
)
def test_budget_in_another_currency_is_converted(
    config: ScoringConfig,
    catalog: Catalog,
    rates: RateTable,
    value: dict[str, Any],
    expected: int | None,
    said: str | None,
) -> None:
    result = run(config, catalog, picked(), [ans("budget", value)], rates=rates)
    assert points(result, "fit.budget") == expected
    if said is not None:
        assert detail(result, "fit.budget") == said


def test_budget_in_another_currency_without_rates_says_so(
    config: ScoringConfig, catalog: Catalog
) -> None:
    result = run(config, catalog, picked(), [ans("budget", budget("300", "USD"))])
    assert points(result, "fit.budget") == 0
    assert detail(result, "fit.budget") == (
        "budget 300 USD not compared with Classic Hoodie \u2014 blue, M (59 EUR): "
        "no USD to EUR rate in the rate table"
    )
    assert result.fit_score == 10  # the variant in stock, nothing for the budget


def test_a_ruble_answer_is_scored_in_euros(
    config: ScoringConfig, catalog: Catalog, rates: RateTable
) -> None:
    parsed = parse_budget("3000 rubles", default_currency="EUR")
    assert parsed is not None
    assert parsed.value == {"amount": Decimal(3000), "currency": "RUB"}
    scorer = Scorer(config, catalog, rates)
    # The tent costs 249 EUR; 3000 RUB is 33 EUR, far below it (33 < 124.5).
    facts = facts_of([ev("product_view", product_id=TENT)], [ans("budget", parsed.value)])
    result = scorer.score(facts, NOW)
    assert points(result, "fit.budget") == -20
    assert detail(result, "fit.budget") == (
        "budget 3,000 RUB (\u2248 33 EUR, rates of 2026-11-30) is far below Dome Tent (249 EUR)"
    )


def test_budget_without_an_item_scores_nothing(config: ScoringConfig, catalog: Catalog) -> None:
    result = run(config, catalog, [], [ans("budget", budget("20"))])
    assert points(result, "fit.budget") is None


def test_unknown_budget_scores_nothing(config: ScoringConfig, catalog: Catalog) -> None:
    result = run(config, catalog, picked(), [ans("budget", None, status="unknown")])
    assert points(result, "fit.budget") is None


@pytest.mark.parametrize(
    ("key", "value"),
    [
        # a location that is a bare string, not {"country", "region"}
        ("location", "FR"),
        # a timeline whose days are text, a bool, a float
        ("timeline", {"days": "7"}),
        ("timeline", {"days": True}),
        ("timeline", {"days": 3.5}),
        # "just browsing" has no days
        ("timeline", {"days": None, "browsing": True}),
        # a budget that is not a mapping (a flow asking key "budget" with another answer type)
        ("budget", "300"),
        ("budget", 300),
    ],
)
def test_malformed_answer_values_are_ignored(
    config: ScoringConfig, catalog: Catalog, key: str, value: Any
) -> None:
    # Answers the scorer cannot read give no reason (and never an exception, which would
    # fail every later write of the lead and the whole rescore).
    result = run(config, catalog, picked(), [ans(key, value)])
    assert points(result, f"fit.{key}") is None
    assert result.fit_score == config.variant_in_stock


# --- fit: location -------------------------------------------------------------------------


def place(country: str, region: str | None = None, area: str | None = None) -> dict[str, Any]:
    return {"country": country, "region": region, "area": area}


@pytest.mark.parametrize(
    ("events", "answers", "expected", "text"),
    [
        # hoodie ships to the EU: France is serviceable
        (picked(), [ans("location", place("FR"))], 10, "delivery to FR is possible"),
        # ... and to Norway (europe_non_eu zone)
        (picked(), [ans("location", place("NO"))], 10, "delivery to NO is possible"),
        # ... but not to the US
        (
            picked(),
            [ans("location", place("US"))],
            -40,
            "delivery to US: outside the shipping zones of Classic Hoodie",
        ),
        # a town in Corsica is in the excluded area, whatever its name
        (
            [ev("product_view", product_id=TENT)],
            [ans("location", place("FR", "Lumio", "Corsica"))],
            -40,
            "delivery to Lumio, FR: outside the shipping zones of Dome Tent",
        ),
        # the tent ships to France, but not to Corsica (excluded region)
        (
            [ev("product_view", product_id=TENT)],
            [ans("location", place("FR", "Corsica"))],
            -40,
            "delivery to Corsica, FR: outside the shipping zones of Dome Tent",
        ),
        # the tent to Paris, France is fine
        (
            [ev("product_view", product_id=TENT)],
            [ans("location", place("FR", "Paris"))],
            10,
            "delivery to Paris, FR is possible",
        ),
        # the excluded region is matched case- and accent-insensitively ("corse")
        (
            [ev("product_view", product_id=TENT)],
            [ans("location", place("FR", "corse"))],
            -40,
            "delivery to corse, FR: outside the shipping zones of Dome Tent",
        ),
        # the blanket does not go to the Canary Islands (Spain otherwise fine)
        (
            [ev("product_view", product_id="blanket-wool")],
            [ans("location", place("ES", "Canary Islands"))],
            -40,
            "delivery to Canary Islands, ES: outside the shipping zones of Wool Throw Blanket",
        ),
        # no item yet: serviceable if any product ships there (the tee ships to the US)
        ([], [ans("location", place("US"))], 10, "delivery to US is possible"),
        # no item and no product ships to Japan
        (
            [],
            [ans("location", place("JP"))],
            -40,
            "delivery to JP: outside the shipping zones of any product",
        ),
        # no answer: the country of a shipping check is used (lower-case code accepted)
        (
            [ev("shipping_check", product_id=HOODIE, properties={"country": "gb"})],
            [],
            10,
            "checked shipping to GB is possible",
        ),
        (
            [ev("shipping_check", product_id=HOODIE, properties={"country": "US"})],
            [],
            -40,
            "checked shipping to US: outside the shipping zones of Classic Hoodie",
        ),
        # the latest shipping check wins
        (
            [
                ev("shipping_check", days(1), product_id=HOODIE, properties={"country": "US"}),
                ev("shipping_check", product_id=HOODIE, properties={"country": "DE"}),
            ],
            [],
            10,
            "checked shipping to DE is possible",
        ),
        # an answered location overrides the shipping check
        (
            [ev("shipping_check", product_id=HOODIE, properties={"country": "US"})],
            [ans("location", place("FR"))],
            10,
            "delivery to FR is possible",
        ),
        # a shipping check without a two-letter country says nothing about the location
        (
            [ev("shipping_check", product_id=HOODIE, properties={"country": "France"})],
            [],
            None,
            None,
        ),
        # a location answered "unknown" is ignored
        (picked(), [ans("location", None, status="unknown")], None, None),
    ],
)
def test_location(
    config: ScoringConfig,
    catalog: Catalog,
    events: list[Event],
    answers: list[Event],
    expected: int | None,
    text: str | None,
) -> None:
    result = run(config, catalog, events, answers)
    assert points(result, "fit.location") == expected
    if text is not None:
        assert detail(result, "fit.location") == text


# --- fit: variant --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("events", "answers", "expected", "text"),
    [
        # picked in the shop, in stock
        (picked(BLUE_M), [], 10, "Classic Hoodie \u2014 blue, M (picked in the shop) is in stock"),
        # picked in the shop, out of stock
        (
            picked(BLUE_L),
            [],
            -5,
            "Classic Hoodie \u2014 blue, L (picked in the shop) is out of stock",
        ),
        # added to cart counts as picking
        (
            [ev("add_to_cart", product_id=HOODIE, variant_id=BLUE_L)],
            [],
            -5,
            "Classic Hoodie \u2014 blue, L (picked in the shop) is out of stock",
        ),
        # the last variant picked wins
        (
            [
                ev("variant_select", days(1), product_id=HOODIE, variant_id=BLUE_L),
                ev("variant_select", product_id=HOODIE, variant_id=BLUE_M),
            ],
            [],
            10,
            "Classic Hoodie \u2014 blue, M (picked in the shop) is in stock",
        ),
        # chosen in chat overrides the shop pick (even an older chat answer)
        (
            picked(BLUE_L),
            [ans("variant", BLUE_M, days(1))],
            10,
            "Classic Hoodie \u2014 blue, M (chosen in chat) is in stock",
        ),
        (
            picked(BLUE_M),
            [ans("variant", BLUE_L)],
            -5,
            "Classic Hoodie \u2014 blue, L (chosen in chat) is out of stock",
        ),
        # an unknown variant chosen in chat falls back to the shop pick
        (
            picked(BLUE_L),
            [ans("variant", "no-such-variant")],
            -5,
            "Classic Hoodie \u2014 blue, L (picked in the shop) is out of stock",
        ),
        # a product view alone names no variant
        ([ev("product_view", product_id=HOODIE)], [], None, None),
        # a product view's variant id is not a pick
        ([ev("product_view", product_id=HOODIE, variant_id=BLUE_M)], [], None, None),
        # an unknown variant id from the shop
        ([ev("variant_select", variant_id="gone-variant")], [], None, None),
    ],
)
def test_variant(
    config: ScoringConfig,
    catalog: Catalog,
    events: list[Event],
    answers: list[Event],
    expected: int | None,
    text: str | None,
) -> None:
    result = run(config, catalog, events, answers)
    assert points(result, "fit.variant") == expected
    if text is not None:
        assert detail(result, "fit.variant") == text


# --- fit: timeline -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("days_left", "expected", "text"),
    [
        # today
        (0, 20, "plans to buy now (within 7)"),
        # the 7-day band includes day 7
        (7, 20, "plans to buy in 7 days (within 7)"),
        # day 8: second band
        (8, 12, "plans to buy in 8 days (within 30)"),
        (30, 12, "plans to buy in 30 days (within 30)"),
        # day 31: third band
        (31, 4, "plans to buy in 31 days (within 90)"),
        (90, 4, "plans to buy in 90 days (within 90)"),
        # later than every band
        (91, -5, "plans to buy in 91 days (after 90)"),
        (365, -5, "plans to buy in 365 days (after 90)"),
    ],
)
def test_timeline_bands(
    config: ScoringConfig, catalog: Catalog, days_left: int, expected: int, text: str
) -> None:
    result = run(config, catalog, [], [ans("timeline", {"days": days_left})])
    assert points(result, "fit.timeline") == expected
    assert detail(result, "fit.timeline") == text


@pytest.mark.parametrize(
    ("days_left", "expected", "text"),
    [
        # a hedged answer scores half its band (uncertain_factor 0.5)
        (0, 10, "maybe plans to buy now (within 7)"),
        (8, 6, "maybe plans to buy in 8 days (within 30)"),
        (365, -2, "maybe plans to buy in 365 days (after 90)"),
    ],
)
def test_timeline_uncertain(
    config: ScoringConfig, catalog: Catalog, days_left: int, expected: int, text: str
) -> None:
    result = run(config, catalog, [], [ans("timeline", {"days": days_left, "uncertain": True})])
    assert points(result, "fit.timeline") == expected
    assert detail(result, "fit.timeline") == text


@pytest.mark.parametrize(
    ("said", "answered_ago", "expected", "text"),
    [
        # answered 10 days ago "in 30 days": 20 days left
        (30, 10, 12, "plans to buy in 20 days (within 30)"),
        # answered 10 days ago "in 35 days": 25 left -> second band (was the third when said)
        (35, 10, 12, "plans to buy in 25 days (within 30)"),
        # answered 25 days ago "in 30 days": 5 left -> first band
        (30, 25, 20, "plans to buy in 5 days (within 7)"),
        # answered 100 days ago "in 120 days": 20 left (was beyond every band)
        (120, 100, 12, "plans to buy in 20 days (within 30)"),
        # the intended date passed 10 days ago: still "now"
        (7, 17, 20, "plans to buy now (within 7)"),
        # passed exactly 14 days ago: the last day before it is stale
        (7, 21, 20, "plans to buy now (within 7)"),
        # passed 15 days ago: stale, ignored
        (7, 22, None, None),
        (0, 15, None, None),
    ],
)
def test_timeline_counts_down_and_goes_stale(
    config: ScoringConfig,
    catalog: Catalog,
    said: int,
    answered_ago: int,
    expected: int | None,
    text: str | None,
) -> None:
    result = run(config, catalog, [], [ans("timeline", {"days": said}, days(answered_ago))])
    assert points(result, "fit.timeline") == expected
    if text is not None:
        assert detail(result, "fit.timeline") == text


def test_timeline_half_day_left_rounds_up(config: ScoringConfig, catalog: Catalog) -> None:
    # 7.5 days left is shown as 8 days and is past the 7-day band.
    result = run(config, catalog, [], [ans("timeline", {"days": 8}, timedelta(hours=12))])
    assert points(result, "fit.timeline") == 12
    assert detail(result, "fit.timeline") == "plans to buy in 8 days (within 30)"


def test_latest_timeline_answer_wins(config: ScoringConfig, catalog: Catalog) -> None:
    result = run(
        config,
        catalog,
        [],
        [ans("timeline", {"days": 0}), ans("timeline", {"days": 200}, days(1))],
    )
    # The answer given now ("today") beats the one of yesterday, whatever the fold order.
    assert points(result, "fit.timeline") == 20


# --- stages --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("intent", "fit", "stage"),
    [
        # nothing yet
        (0, 0, "cold"),
        # hot needs intent >= 45 and fit >= 10
        (45, 10, "hot"),
        (120, 40, "hot"),
        # enough intent, not enough fit for hot: warm
        (45, 9, "warm"),
        (100, 0, "warm"),
        # enough fit, intent one short of hot: warm
        (44, 50, "warm"),
        # warm needs intent >= 15 and fit >= 0
        (15, 0, "warm"),
        (14, 50, "cold"),
        # a negative fit blocks warm (and hot), however keen
        (15, -1, "cold"),
        (200, -40, "cold"),
    ],
)
def test_stage_thresholds(config: ScoringConfig, intent: int, fit: int, stage: str) -> None:
    assert config.stage(intent, fit) == stage


def keen() -> list[Event]:
    """checkout (30) + payment info (40) + cart add (12) = 82 intent, variant in stock."""
    return [
        ev("add_to_cart", product_id=HOODIE, variant_id=BLUE_M),
        ev("checkout_start", product_id=HOODIE, variant_id=BLUE_M),
        ev("payment_info", product_id=HOODIE, variant_id=BLUE_M),
    ]


@pytest.mark.parametrize(
    ("events", "answers", "intent", "fit", "stage"),
    [
        # keen and in stock (fit 10): hot
        (keen(), [], 82, 10, "hot"),
        # keen, but ships nowhere the shopper lives (fit 10 - 40): cold
        (keen(), [ans("location", place("US"))], 82, -30, "cold"),
        # keen and serviceable: hot
        (keen(), [ans("location", place("DE"))], 82, 20, "hot"),
        # good fit (budget covers the hoodie, delivery possible), one product view: cold
        (
            [ev("product_view", product_id=HOODIE)],
            [ans("location", place("FR")), ans("budget", budget("100"))],
            3,
            30,
            "cold",
        ),
        # ... perfect fit with a chosen variant and "in 2 days": the answers show buying,
        # 3 + answered_variant 4 + answered_within_week 12: warm, not hot (no consent)
        (
            [ev("product_view", product_id=HOODIE)],
            [
                ans("variant", BLUE_M),
                ans("location", place("FR")),
                ans("budget", budget("100")),
                ans("timeline", {"days": 2}),
            ],
            19,
            60,
            "warm",
        ),
        # a cart add plus a variant pick: warm (intent 17, fit 10)
        (
            [
                ev("add_to_cart", product_id=HOODIE, variant_id=BLUE_M),
                ev("variant_select", product_id=HOODIE, variant_id=BLUE_M),
            ],
            [],
            17,
            10,
            "warm",
        ),
        # browsing only (every browsing cap reached: 3 + 9 + 9), with good fit: never hot
        (
            [ev("product_view", timedelta(minutes=m), product_id=HOODIE) for m in range(30)]
            + [ev("page_view", timedelta(minutes=m)) for m in range(5)]
            + [ev("page_view", days(d)) for d in range(1, 6)],
            [ans("variant", BLUE_M), ans("location", place("FR"))],
            3 + 9 + 9 + 4,  # + answered_variant
            20,
            "warm",
        ),
    ],
)
def test_stage_from_score(
    config: ScoringConfig,
    catalog: Catalog,
    events: list[Event],
    answers: list[Event],
    intent: int,
    fit: int,
    stage: str,
) -> None:
    result = run(config, catalog, events, answers)
    assert (result.intent_score, result.fit_score, result.stage) == (intent, fit, stage)
    assert result.score == intent + fit


# --- reasons -------------------------------------------------------------------------------


def test_reasons_ranked_by_absolute_points_then_rule(
    config: ScoringConfig, catalog: Catalog
) -> None:
    result = run(
        config,
        catalog,
        [
            ev("add_to_cart", product_id=HOODIE, variant_id=BLUE_M),
            ev("product_view", product_id=HOODIE),
            ev("shopper_question", properties={"topic": "price"}),
        ],
        [
            ans("location", place("US")),
            ans("budget", budget("20")),
            ans("timeline", {"days": 20}),
        ],
    )
    assert [(reason.points, reason.rule) for reason in result.reasons] == [
        (-40, "fit.location"),
        (-20, "fit.budget"),
        # equal magnitudes: by rule name
        (12, "fit.timeline"),
        (12, "intent.add_to_cart"),
        (10, "fit.variant"),
        (6, "intent.answered_within_month"),
        (6, "intent.asked_price"),
        (3, "intent.product_view"),
    ]
    assert result.intent_score == 27
    assert result.fit_score == -38
    assert result.score == -11
    assert sum(reason.points for reason in result.reasons) == result.score
    assert result.reasons_json()[0] == {
        "points": -40,
        "rule": "fit.location",
        "detail": "delivery to US: outside the shipping zones of Classic Hoodie",
    }


def test_signal_detail_names_count_and_last_time(config: ScoringConfig, catalog: Catalog) -> None:
    result = run(config, catalog, [ev("add_to_cart", days(1)), ev("add_to_cart", days(2))])
    assert (
        detail(result, "intent.add_to_cart") == "added to cart 2\u00d7, last 2026-11-22 10:00 UTC"
    )


def test_empty_facts_score_zero(config: ScoringConfig, catalog: Catalog) -> None:
    result = run(config, catalog)
    assert result == ScoreResult(0, 0, 0, "cold", ())
