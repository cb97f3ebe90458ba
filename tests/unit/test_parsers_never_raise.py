"""Whatever a shopper types, no parser raises."""

from datetime import datetime, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.answers import (
    parse_budget,
    parse_contact,
    parse_email,
    parse_location,
    parse_name,
    parse_phone,
    parse_timeline,
)
from bot.catalog import DEMO_CATALOG, Catalog, load_catalog, match_variant

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=timezone.utc)

# Fragments the parsers react to, so that generated text reaches their inner branches.
FRAGMENTS = [
    "next week",
    "in 2-3 weeks",
    "by Friday",
    "Q1",
    "31/02",
    "2026-13-45",
    "before Christmas",
    "€1.2k",
    "between 200 and 400",
    "200-",
    "-400",
    "1.200,50",
    "$",
    "CHF",
    "five hundred and",
    "Paris",
    "NYC",
    "uk",
    "Nice",
    "I'm",
    "São",
    "blue",
    "hoodie",
    "30L",
    "2 person",
    "XL",
    "jane@",
    "@example.com",
    "+33",
    "06 12",
    "Dr.",
    "my name is",
    "<",
    ">",
    "'",
    "-",
    "9" * 40,
]
texts = st.one_of(
    st.text(max_size=120),
    st.lists(st.sampled_from(FRAGMENTS) | st.text(max_size=5), max_size=12).map(" ".join),
)


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog(DEMO_CATALOG)


@pytest.fixture(scope="module", autouse=True)
def _warm_up() -> None:
    # Build the city index once so that examples are timed on parsing, not loading.
    parse_location("Lyon")


@settings(
    max_examples=300,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(text=texts, strict=st.booleans())
def test_no_parser_raises(catalog: Catalog, text: str, strict: bool) -> None:
    parse_timeline(text, NOW, strict=strict)
    parse_budget(text, default_currency="EUR", strict=strict)
    parse_location(text, strict=strict)
    parse_email(text)
    parse_phone(text, region="FR")
    parse_contact(text, region=None)
    parse_name(text)
    match_variant(text, catalog, strict=strict)
    match_variant(text, catalog, product_id="hoodie-classic")


# Their CPU time is measured by `python -m bench answers` (every parser on every answer).
@pytest.mark.parametrize(
    "text",
    [
        "in 2-3 weeks",
        "before Christmas",
        "around 300 bucks",
        "between 200 and 400",
        "I live in Berlin",
        "zip 75001 Paris",
        "blue hoodie medium",
        "the 2 person tent",
        "jane@example.com",
        "I'm Jane Doe",
    ],
)
def test_every_parser_reads_everyday_answers(text: str, catalog: Catalog) -> None:
    parse_timeline(text, NOW)
    parse_budget(text, default_currency="EUR")
    parse_location(text)
    parse_contact(text, region="FR")
    parse_name(text)
    match_variant(text, catalog)
