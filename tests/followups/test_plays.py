"""The play rules and the holdout, over plain values (no database)."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from bot.answers.budget import Budget
from bot.catalog import DEMO_CATALOG, load_catalog
from bot.catalog.rates import load_rates
from bot.followups.config import Holdout, load_followup_config
from bot.followups.plays import LeadSignals, due_plays, held_out
from bot.settings import Settings
from tests.followups.shop import BLUE_M, FOLLOWUPS_CONFIG

NOW = datetime(2027, 3, 10, 12, 0, tzinfo=timezone.utc)
CONFIG = load_followup_config(FOLLOWUPS_CONFIG)
CATALOG = load_catalog(DEMO_CATALOG)
RATES = load_rates(Settings().rates_path)


def due(signals: LeadSignals, now: datetime = NOW) -> dict[str, tuple[datetime, datetime]]:
    return {
        d.play.name: (d.signal_at, d.due_at)
        for d in due_plays(CONFIG, signals, now, catalog=CATALOG, currency="EUR", rates=RATES)
    }


def lead(**fields: object) -> LeadSignals:
    base = LeadSignals(lead_id="a" * 32, stage="warm", score=40, since=NOW - timedelta(days=2))
    return replace(base, **fields)  # type: ignore[arg-type]


H = timedelta(hours=1)


@pytest.mark.parametrize(
    ("signals", "expected"),
    [
        # cart left 5 h ago: cart recovery, due when it had been left 4 h
        (lead(steps={"add_to_cart": NOW - 5 * H}), {"cart_recovery": NOW - H}),
        # cart left 5 h ago by a lead whose stage changed since: still when it had been 4 h
        (
            lead(steps={"add_to_cart": NOW - 5 * H}, since=NOW - H / 2),
            {"cart_recovery": NOW - H},
        ),
        # cart left 3 h ago: not yet
        (lead(steps={"add_to_cart": NOW - 3 * H}), {}),
        # cart, then checkout: the checkout was left, not the cart
        (
            lead(steps={"add_to_cart": NOW - 6 * H, "checkout_start": NOW - 5 * H}),
            {"checkout_recovery": NOW - 4 * H},
        ),
        # bought after the checkout: nothing was left
        (lead(steps={"checkout_start": NOW - 5 * H, "purchase": NOW - 4 * H}), {}),
        # handoff unanswered past its SLA, hot lead: 30 minutes after the deadline
        (
            lead(stage="hot", handoff_due_at=NOW - 2 * H),
            {"not_forgotten": NOW - 2 * H + timedelta(minutes=30)},
        ),
        # the same for a warm lead: the play is for hot leads only
        (lead(handoff_due_at=NOW - 2 * H), {}),
        # SLA not passed yet
        (lead(stage="hot", handoff_due_at=NOW + H), {}),
    ],
)
def test_which_plays_are_due_and_when(signals: LeadSignals, expected: dict[str, datetime]) -> None:
    assert {name: at for name, (_, at) in due(signals).items()} == expected


def test_the_reminder_is_timed_to_the_stated_date() -> None:
    answered = NOW - timedelta(days=1)
    # "in two months": the date is 60 days after the answer; sent 7 days before it.
    signals = lead(timeline_days=60, timeline_at=answered)
    [(signal_at, due_at)] = due(signals).values()
    assert signal_at == answered
    assert due_at == answered + timedelta(days=53)
    # "in ten days" is not three weeks away.
    assert due(lead(timeline_days=10, timeline_at=answered)) == {}


def test_budget_under_the_chosen_variants_price() -> None:
    under = lead(variant_id=BLUE_M, variant_at=NOW - H, budget=Budget(Decimal(40), "EUR", False))
    assert set(due(under)) == {"budget_alternatives"}
    at_price = replace(under, budget=Budget(Decimal(59), "EUR", False))
    assert due(at_price) == {}
    # "at least 40": the price may still fit.
    open_ended = replace(under, budget=Budget(Decimal(40), "EUR", True))
    assert due(open_ended) == {}
    # An unknown variant has no price to compare with.
    assert due(replace(under, variant_id="no-such-variant")) == {}


def test_a_play_already_planned_is_not_due_again() -> None:
    signals = lead(steps={"add_to_cart": NOW - 5 * H})
    found = due_plays(
        CONFIG,
        signals,
        NOW,
        catalog=CATALOG,
        currency="EUR",
        rates=RATES,
        planned=frozenset({"cart_recovery"}),
    )
    assert found == []


def test_the_holdout_is_deterministic_and_near_its_share() -> None:
    ids = [f"{n:032x}" for n in range(4000)]
    first = [held_out("seed-1", "cart_recovery", i, 0.2) for i in ids]
    again = [held_out("seed-1", "cart_recovery", i, 0.2) for i in ids]
    assert first == again
    assert 0.17 < sum(first) / len(ids) < 0.23
    # Another play or seed draws another group; share 0 holds out nobody.
    assert first != [held_out("seed-1", "timeline_reminder", i, 0.2) for i in ids]
    assert first != [held_out("seed-2", "cart_recovery", i, 0.2) for i in ids]
    assert not any(held_out("seed-1", "cart_recovery", i, 0) for i in ids)


def test_due_plays_mark_the_held_out_leads() -> None:
    config = replace(CONFIG, holdout=Holdout(0.5, "seed"))
    signals = [lead(lead_id=f"{n:032x}", steps={"add_to_cart": NOW - 5 * H}) for n in range(200)]
    marks = [
        due_plays(config, s, NOW, catalog=CATALOG, currency="EUR", rates=RATES)[0].held_out
        for s in signals
    ]
    assert marks == [held_out("seed", "cart_recovery", s.lead_id, 0.5) for s in signals]
    assert 60 < sum(marks) < 140
