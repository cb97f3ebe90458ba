"""The synthetic history's outcome rules: the default, the planted truth and the rules as truth."""

from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone

import pytest

from bot.catalog import DEMO_CATALOG, Catalog, load_catalog
from bot.leads.commands import RecordAnswer, RecordEvent
from bot.leads.synthetic import (
    FUNNEL,
    PLANTED_WEIGHTS,
    SyntheticLead,
    generate,
)
from bot.scoring import Scorer, facts_from_history, load_scoring_config
from tests.scoring import SCORING_CONFIG

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=timezone.utc)
# How deep each step goes into the funnel (a comparison is the variant step).
DEPTHS = {name: depth for depth, name in enumerate(FUNNEL)} | {
    "compare": FUNNEL.index("variant_select")
}


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog(DEMO_CATALOG)


@pytest.fixture(scope="module")
def scorer(catalog: Catalog) -> Scorer:
    return Scorer(load_scoring_config(SCORING_CONFIG), catalog)


def _types(lead: SyntheticLead) -> set[str]:
    return {c.type for c in lead.commands if isinstance(c, RecordEvent)}


def _rate(leads: list[SyntheticLead]) -> float:
    return sum(lead.purchased for lead in leads) / len(leads)


def test_the_default_is_the_shop_rule(catalog: Catalog) -> None:
    default = list(generate(400, seed=3, now=NOW, catalog=catalog))
    assert default == list(generate(400, seed=3, now=NOW, catalog=catalog, outcomes="shop"))
    # The shop rule adds the tracked checkout steps to most shallow buyers.
    shallow_buyers = [
        lead for lead in default if lead.purchased and lead.depth < FUNNEL.index("payment_info")
    ]
    assert any("payment_info" in _types(lead) for lead in shallow_buyers)


@pytest.mark.parametrize(
    ("outcomes", "message"),
    [
        # Not a rule the generator knows.
        ("magic", "outcomes must be one of shop, planted, rules, got 'magic'"),
        # The rules as truth need the rules.
        ("rules", "needs the scorer"),
    ],
)
def test_unknown_rules_and_missing_scorer_are_refused(
    catalog: Catalog, outcomes: str, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        next(generate(1, seed=1, now=NOW, catalog=catalog, outcomes=outcomes))


def test_planted_buyers_buy_right_after_their_last_step(catalog: Catalog) -> None:
    leads = list(generate(3000, seed=12, now=NOW, catalog=catalog, outcomes="planted"))
    buyers = [lead for lead in leads if lead.purchased]
    assert len(buyers) > 60
    for lead in buyers:
        assert lead.purchased_at is not None
        before = [c for c in lead.commands if _at(c) < lead.purchased_at]
        # No checkout steps are added after deciding: the depth is the history's.
        deepest = max(
            (DEPTHS[c.type] for c in before if isinstance(c, RecordEvent) and c.type in DEPTHS),
            default=0,
        )
        assert deepest == lead.depth
        assert lead.purchased_at - _at(before[-1]) <= timedelta(minutes=5)


def _at(command: RecordEvent | RecordAnswer) -> datetime:
    return command.ts if isinstance(command, RecordEvent) else command.answered_at


def test_the_planted_truth_shows_in_who_buys(catalog: Catalog) -> None:
    leads = list(generate(8000, seed=13, now=NOW, catalog=catalog, outcomes="planted"))
    carts = [lead for lead in leads if "add_to_cart" in _types(lead)]
    # A started checkout adds nothing over the cart (the rules give it 30 points) ...
    checkout = [lead for lead in carts if "checkout_start" in _types(lead)]
    no_checkout = [lead for lead in carts if "checkout_start" not in _types(lead)]
    assert PLANTED_WEIGHTS["checkout_start"] <= 0
    assert _rate(checkout) < _rate(no_checkout) * 1.5
    # ... while comparing products more than doubles the odds among browsers.
    browsing = [lead for lead in leads if "add_to_cart" not in _types(lead)]
    compared = [lead for lead in browsing if "compare" in _types(lead)]
    not_compared = [lead for lead in browsing if "compare" not in _types(lead)]
    assert _rate(compared) > 2 * _rate(not_compared)


def test_under_the_rules_as_truth_buyers_follow_the_rule_score(
    catalog: Catalog, scorer: Scorer
) -> None:
    leads = list(generate(3000, seed=14, now=NOW, catalog=catalog, outcomes="rules", scorer=scorer))
    bands: dict[bool, list[SyntheticLead]] = {True: [], False: []}
    for lead in leads:
        end = lead.purchased_at or NOW
        before = [c for c in lead.commands if _at(c) < end]
        facts = facts_from_history(
            (c for c in before if isinstance(c, RecordEvent)),
            (c for c in before if isinstance(c, RecordAnswer)),
        )
        bands[scorer.rules(facts, _at(before[-1])).score >= 45].append(lead)
    # Below 45 points the truth is under 1 / (1 + e^(5 - 0.07 x 45)) = 14 %.
    assert _rate(bands[False]) < 1 / (1 + math.exp(5 - 0.07 * 45))
    assert _rate(bands[True]) > 2 * _rate(bands[False])
