"""The rate table: the shipped one loads; every problem names file, line and field."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from bot.catalog import NO_RATES, RatesError, load_rates
from bot.catalog.rates import DEFAULT_RATES
from bot.cli import main
from bot.settings import Settings

TEST_RATES = Path(__file__).with_name("rates.yml")


def test_the_shipped_table_converts_the_currencies_shoppers_write() -> None:
    table = load_rates()
    assert table.currency == "EUR"
    assert isinstance(table.as_of, date)
    needed = [
        "RUB",
        "BRL",
        "PLN",
        "CZK",
        "CHF",
        "GBP",
        "USD",
        "CAD",
        "AUD",
        "JPY",
        "SEK",
        "DKK",
        "NOK",
        "INR",
    ]
    assert sorted(set(needed) - set(table.rates)) == []
    assert all(rate > 0 for rate in table.rates.values())


@pytest.mark.parametrize(
    ("amount", "currency", "to", "expected"),
    [
        ("3000", "RUB", "EUR", "33"),  # into the table's currency
        ("33", "EUR", "RUB", "3000"),  # out of it
        ("117", "GBP", "USD", "148.793478260870"),  # across it: 117 x 1.17 / 0.92
        ("50", "USD", "USD", "50"),  # the same currency needs no rate
        ("50", "MXN", "EUR", None),  # not in the table
        ("50", "EUR", "MXN", None),
    ],
)
def test_convert(amount: str, currency: str, to: str, expected: str | None) -> None:
    converted = load_rates(TEST_RATES).convert(Decimal(amount), currency, to)
    if expected is None:
        assert converted is None
    else:
        assert converted is not None
        assert round(converted, 12) == Decimal(expected)


def test_no_rates_converts_only_within_a_currency() -> None:
    assert NO_RATES.convert(Decimal(5), "EUR", "EUR") == Decimal(5)
    assert NO_RATES.convert(Decimal(5), "USD", "EUR") is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "currency: EUR\nas_of: 2026-11-30\nrates:\n  USD: 0.92\n  GBP: -1\n",
            "rates.yml:5: rates.GBP: ensure this value is greater than 0",
        ),
        (
            "currency: EUR\nas_of: 2026-11-30\nrates:\n  USD: lots\n",
            "rates.yml:4: rates.USD: value is not a valid decimal",
        ),
        (
            "currency: EUR\nas_of: 2026-11-30\nrates:\n  USD: 1\n  XYZ: 1.5\n",
            "rates.yml:5: rates.XYZ: 'XYZ' is not an ISO 4217 currency code (e.g. USD)",
        ),
        (
            "currency: EUR\nas_of: 2026-11-30\nrates:\n  USD: 1\n  EUR: 1\n",
            "rates.yml:5: rates.EUR: EUR is the table's currency: its rate is 1",
        ),
        ("currency: EUR\nrates: {USD: 1}\n", "rates.yml:1: as_of: field required"),
        (
            "currency: eur\nas_of: 2026-11-30\nrates: {USD: 1}\n",
            "rates.yml:1: currency: 'eur' is not an ISO 4217 currency code (e.g. USD)",
        ),
        (
            "currency: EUR\nas_of: 2026-11-30\nrates: {USD: 1}\nextra: 1\n",
            "rates.yml:4: extra: extra fields not permitted",
        ),
        (
            "currency: EUR\nas_of: 2026-11-30\nrates:\n  USD: 1\n  USD: 2\n",
            "rates.yml:5: invalid YAML: 'USD' is given twice (first on line 4)",
        ),
        ("- USD\n", "rates.yml:1: expected a mapping with currency, as_of and rates"),
    ],
)
def test_problems_name_the_line_and_field(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "rates.yml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(RatesError) as raised:
        load_rates(path)
    assert f"{tmp_path}/{message}" in str(raised.value)


def test_rates_path_setting() -> None:
    assert Settings.from_env({}).rates_path == DEFAULT_RATES
    assert Settings.from_env({"RATES_PATH": "/srv/shop/rates.yml"}).rates_path == Path(
        "/srv/shop/rates.yml"
    )


def test_rates_check_command(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert main(["rates", "check", str(TEST_RATES)]) == 0
    assert "3 currencies in EUR, rates of 2026-11-30: GBP, RUB, USD" in capsys.readouterr().out
    broken = tmp_path / "rates.yml"
    broken.write_text("currency: EUR\nas_of: 2026-11-30\nrates: {USD: 0}\n", encoding="utf-8")
    monkeypatch.setenv("RATES_PATH", str(broken))
    assert main(["rates", "check"]) == 1
    assert f"rate table error: {broken}:3: rates.USD" in capsys.readouterr().err
