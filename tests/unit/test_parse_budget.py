from decimal import Decimal

import pytest

from bot.answers.budget import parse_budget


@pytest.mark.parametrize(
    ("text", "amount", "currency"),
    [
        ("500", "500", "EUR"),
        ("500 EUR", "500", "EUR"),
        ("500 eur", "500", "EUR"),
        ("500usd", "500", "USD"),
        ("80€", "80", "EUR"),
        ("€ 80", "80", "EUR"),
        ("€1.2k", "1200", "EUR"),
        ("1,200 euros", "1200", "EUR"),
        ("1.200,50 €", "1200.50", "EUR"),  # European separators
        ("1\u00a0200 €", "1200", "EUR"),  # no-break space as thousands separator
        ("1 200 €", "1200", "EUR"),  # a plain space, right before the currency
        ("£50", "50", "GBP"),
        ("$99.99", "99.99", "USD"),
        ("around 300 bucks", "300", "USD"),
        ("300 quid", "300", "GBP"),
        ("CHF 200", "200", "CHF"),
        ("CHF200", "200", "CHF"),
        ("SEK 500", "500", "SEK"),
        ("five hundred", "500", "EUR"),
        ("two thousand five hundred euros", "2500", "EUR"),
        ("two hundred and fifty", "250", "EUR"),
        ("fifty quid", "50", "GBP"),
        ("a few hundred", "300", "EUR"),  # "a few" is 3 everywhere
        ("about 150", "150", "EUR"),
        ("actually my budget is 500", "500", "EUR"),
        ("I can spend 300 on this", "300", "EUR"),
        ("I have 2 kids and 300 euros", "300", "EUR"),  # "2 kids" counts kids
        ("500 sounds fine", "500", "EUR"),
        ("€2m", "2000000", "EUR"),
        ("my budget is 300 and I need it in 2 weeks", "300", "EUR"),
    ],
)
def test_parse_budget_amounts(text: str, amount: str, currency: str) -> None:
    parsed = parse_budget(text, default_currency="EUR")
    assert parsed is not None
    assert parsed.value == {"amount": Decimal(amount), "currency": currency}


@pytest.mark.parametrize(
    ("text", "low", "high", "currency"),
    [
        ("between 200 and 400", "200", "400", "EUR"),
        ("200-400€", "200", "400", "EUR"),
        ("200 to 400", "200", "400", "EUR"),
        ("£200 \u2013 £400", "200", "400", "GBP"),
        ("between two hundred and four hundred", "200", "400", "EUR"),
        ("between 400 and 200", "200", "400", "EUR"),  # ends in either order
        ("$99.99-150", "99.99", "150", "USD"),
    ],
)
def test_parse_budget_ranges_use_the_midpoint(
    text: str, low: str, high: str, currency: str
) -> None:
    parsed = parse_budget(text, default_currency="EUR")
    assert parsed is not None
    middle = ((Decimal(low) + Decimal(high)) / 2).quantize(Decimal("0.01"))
    assert parsed.value["amount"] == middle
    assert parsed.value["min"] == Decimal(low)
    assert parsed.value["max"] == Decimal(high)
    assert parsed.value["currency"] == currency


@pytest.mark.parametrize(
    ("text", "amount", "bound"),
    [
        ("no more than 250", "250", "max"),
        ("under 100", "100", "max"),
        ("up to 1k", "1000", "max"),
        ("max 80", "80", "max"),
        ("300 tops", "300", "max"),
        ("at least 200", "200", "min"),
        ("500+", "500", "min"),
        # The flow's own buttons: the currency sits between the bound word and the number.
        ("Under €50", "50", "max"),
        ("Over €150", "150", "min"),
        ("at least € 200", "200", "min"),
        # ... or between the number and the bound word.
        ("30 euros tops", "30", "max"),
        ("80€ max", "80", "max"),
        ("200 EUR or more", "200", "min"),
    ],
)
def test_parse_budget_bounds(text: str, amount: str, bound: str) -> None:
    parsed = parse_budget(text, default_currency="EUR")
    assert parsed is not None
    assert parsed.value == {"amount": Decimal(amount), "currency": "EUR", bound: Decimal(amount)}


@pytest.mark.parametrize(
    "text",
    [
        "size 42",
        "EU 42",
        "in 2 weeks",
        "in 2-3 weeks",
        "2 to 3 weeks",
        "30L backpack",
        "2 person tent",
        "100%",
        "20 years old",
        "zip 75001",
        "0612345678",  # a phone number
        "+33 6 12 34 56 78",
        "on 2026-12-20",
        "10:30",
        "15/12",
        "the 2nd",
        "the blue one",
        "0",
        "€0",
        "20000000",  # 10 million or more
        "12,000,000 €",
        "1m",  # metres, most likely
        "",
        "🙂",
        "<b>500</b>",
        "500 " * 200,
    ],
)
def test_parse_budget_none(text: str) -> None:
    assert parse_budget(text, default_currency="EUR") is None


@pytest.mark.parametrize(
    ("text", "amount"),
    [
        ("actually my budget is 500", "500"),
        ("500 EUR", "500"),
        ("around 300", "300"),
        ("I could afford 250", "250"),
        ("max 80", "80"),
        ("blue hoodie in M, up to 70€", "70"),
        ("I need 3 hoodies, budget 100", "100"),  # "3 hoodies" counts hoodies
        ("budget 500 max", "500"),
        ("500", None),  # a bare number may answer another question
        ("five hundred", None),
        ("between 200 and 400", None),
        ("size 42", None),
        ("in 2 weeks", None),
        ("30L backpack", None),
        ("2 person tent", None),
    ],
)
def test_parse_budget_strict(text: str, amount: str | None) -> None:
    parsed = parse_budget(text, default_currency="EUR", strict=True)
    assert (parsed.value["amount"] if parsed else None) == (Decimal(amount) if amount else None)


def test_parse_budget_default_currency_and_display() -> None:
    parsed = parse_budget("1200", default_currency="gbp")
    assert parsed is not None
    assert parsed.value == {"amount": Decimal(1200), "currency": "GBP"}
    assert parsed.display == "1,200 GBP"


def test_parse_budget_currency_named_elsewhere_in_the_text() -> None:
    parsed = parse_budget("in dollars, about 300", default_currency="EUR")
    assert parsed is not None
    assert parsed.value["currency"] == "USD"


def test_parse_budget_range_display() -> None:
    parsed = parse_budget("200-400€", default_currency="EUR")
    assert parsed is not None
    assert parsed.display == "200\u2013400 EUR"
