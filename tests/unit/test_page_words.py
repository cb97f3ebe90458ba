from decimal import Decimal

import pytest

from bot.handoff.brief import _budget
from bot.web.pages.words import budget_words


@pytest.mark.parametrize(
    "value",
    [
        {"currency": "EUR", "max": "NaN"},
        {"currency": "EUR", "max": "1e400"},
        {"currency": "EUR", "min": "not a number"},
        {"max": 150},
        "150 EUR",
    ],
)
def test_a_budget_no_parser_makes_is_left_out_of_the_page_and_the_brief(value):
    assert budget_words(value, (Decimal(129), "EUR")) is None
    assert _budget({"value": value}, (Decimal(129), "EUR")) is None


def test_the_page_and_the_brief_say_a_budget_in_the_same_words():
    value = {"currency": "EUR", "min": 100, "max": 150}
    assert budget_words(value, (Decimal(129), "EUR")) == (
        "100 EUR to 150 EUR (price 129 EUR: within budget)"
    )
    assert _budget({"value": value}, (Decimal(129), "EUR")) == (
        "Budget 100 EUR to 150 EUR against a price of 129 EUR: within budget."
    )
    assert budget_words({"currency": "EUR", "max": 100}, (Decimal(129), "EUR")) == (
        "up to 100 EUR (price 129 EUR: 29 EUR over)"
    )
