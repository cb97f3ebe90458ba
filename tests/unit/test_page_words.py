from decimal import Decimal

import pytest

from bot.catalog import DEMO_CATALOG, load_catalog
from bot.handoff.brief import PlaceSaid, _budget, _where, place_said
from bot.web.pages.words import budget_words, location_words

CATALOG = load_catalog(DEMO_CATALOG)
HOODIE = CATALOG.product("hoodie-classic")
TENT = CATALOG.product("tent-dome")


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


@pytest.mark.parametrize(
    ("value", "page", "brief"),
    [
        # the stored verdict wins, with the product's lead time
        (
            {"country": "FR", "region": "Nantes", "serviceable": True},
            "Nantes, France — we deliver there (about 3 days)",
            "delivered to Nantes, France (we deliver there, about 3 days)",
        ),
        (
            {"country": "FR", "region": "Nantes", "serviceable": False},
            "Nantes, France — we do not deliver there",
            "delivered to Nantes, France (we do not deliver there)",
        ),
        # no stored verdict: the catalogue says (the hoodie ships to Europe, not Japan)
        (
            {"country": "JP"},
            "Japan — we do not deliver there",
            "delivered to Japan (we do not deliver there)",
        ),
        # a region of the wrong shape is left out, not shown
        (
            {"country": "FR", "region": ["Nantes"], "serviceable": True},
            "France — we deliver there (about 3 days)",
            "delivered to France (we deliver there, about 3 days)",
        ),
        # no country: no place
        ({"region": "Nantes"}, None, None),
    ],
)
def test_the_page_and_the_brief_say_a_place_in_the_same_words(value, page, brief):
    assert location_words(value, CATALOG, HOODIE) == page
    assert _where({"value": value}, CATALOG, HOODIE) == brief


@pytest.mark.parametrize(
    ("value", "catalog", "product", "said"),
    [
        # a stored verdict, and the product's lead time when it is delivered
        ({"country": "DE", "serviceable": True}, None, HOODIE, PlaceSaid("Germany", True, 3)),
        ({"country": "DE", "serviceable": False}, None, HOODIE, PlaceSaid("Germany", False, None)),
        # no product: no lead time
        ({"country": "DE", "serviceable": True}, None, None, PlaceSaid("Germany", True, None)),
        # no stored verdict and no catalogue: unknown
        (
            {"country": "US", "region": "Texas"},
            None,
            HOODIE,
            PlaceSaid("Texas, United States", None, None),
        ),
        # no stored verdict: the catalogue's, for any product when none is named
        ({"country": "US"}, CATALOG, HOODIE, PlaceSaid("United States", False, None)),
        ({"country": "US"}, CATALOG, None, PlaceSaid("United States", True, None)),
        # the catalogue reads the area: the tent does not go to Corsica
        ({"country": "FR", "area": "Corsica"}, CATALOG, TENT, PlaceSaid("France", False, None)),
        ({"country": "FR"}, CATALOG, TENT, PlaceSaid("France", True, 7)),
        # nothing to say
        ({"country": ""}, CATALOG, HOODIE, None),
        ("FR", CATALOG, HOODIE, None),
    ],
)
def test_place_said(value, catalog, product, said):
    assert place_said(value, catalog, product) == said
