"""A flow's budget rules name amounts in the shop currency; other currencies are converted."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pytest

from bot.answers import parse_budget
from bot.catalog import NO_RATES, RateTable
from bot.flows import Flow, load_flow
from bot.flows.loader import flow_context
from bot.flows.rules import Money

RATES = RateTable(
    "EUR", date(2026, 11, 30), MappingProxyType({"RUB": Decimal("0.011"), "USD": Decimal("0.92")})
)
FLOW = """\
questions:
  - key: budget
    answer_type: budget
    prompt: What budget do you have in mind?
    why: x
    reask: y
    fit_points:
      - {when: {gte: 500}, points: 10, reason: A big budget}
  - key: premium
    answer_type: yes_no
    prompt: Would you like the premium range?
    why: x
    reask: y
    ask_if:
      budget: {gte: 500}
"""


def flow(tmp_path: Path, money: Money | None) -> Flow:
    path = tmp_path / "budget.yml"
    path.write_text(FLOW, encoding="utf-8")
    return load_flow(path, flow_context(None, money=money))


def answered(value: Any) -> dict[str, Any]:
    return {"budget": {"value": value, "status": "answered"}}


@pytest.mark.parametrize(
    ("text", "points"),
    [
        ("600 euros", 10),
        ("300 euros", 0),
        # 3000 RUB is 33 EUR: a big number, no big budget
        ("3000 rubles", 0),
        # 60,000 RUB is 660 EUR
        ("60000 rubles", 10),
        # 600 USD is 552 EUR
        ("$600", 10),
        # no rate for Mexican pesos in the table: nothing to compare
        ("600 MXN", 0),
    ],
)
def test_fit_points_compare_in_the_shop_currency(tmp_path: Path, text: str, points: int) -> None:
    question = flow(tmp_path, Money("EUR", RATES)).question("budget")
    assert question is not None
    parsed = parse_budget(text, default_currency="EUR")
    assert parsed is not None
    assert question.points_for(parsed.value) == (points, "A big budget" if points else None)


@pytest.mark.parametrize(("text", "asked"), [("3000 rubles", False), ("60000 rubles", True)])
def test_ask_if_compares_in_the_shop_currency(tmp_path: Path, text: str, asked: bool) -> None:
    parsed = parse_budget(text, default_currency="EUR")
    assert parsed is not None
    remaining = flow(tmp_path, Money("EUR", RATES)).to_ask(answered(parsed.value))
    assert remaining == (["premium"] if asked else [])


def test_without_rates_another_currency_measures_nothing(tmp_path: Path) -> None:
    question = flow(tmp_path, Money("EUR", NO_RATES)).question("budget")
    assert question is not None
    assert question.points_for({"amount": Decimal(3000), "currency": "RUB"}) == (0, None)
    assert question.points_for({"amount": Decimal(3000), "currency": "EUR"}) == (
        10,
        "A big budget",
    )
