"""The shop's exchange rates (see ``rates.yml`` for the format) and conversions with them."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path
from types import MappingProxyType

import pycountry
from pydantic import BaseModel, Extra, ValidationError, condecimal, validator

from bot.yamlconf import Location, describe, load_document

DEFAULT_RATES = Path(__file__).with_name("rates.yml")


class RatesError(ValueError):
    """A rate table that cannot be used; the message names the file, line and field."""


def _currency(value: str) -> str:
    if not re.fullmatch(r"[A-Z]{3}", value) or pycountry.currencies.get(alpha_3=value) is None:
        raise ValueError(f"{value!r} is not an ISO 4217 currency code (e.g. USD)")
    return value


class _RatesIn(BaseModel):
    class Config:
        extra = Extra.forbid

    currency: str
    as_of: date
    rates: dict[str, condecimal(gt=0, lt=1_000_000)]  # type: ignore[valid-type]

    _check_currency = validator("currency", allow_reuse=True)(_currency)


def _problems(table: _RatesIn) -> list[tuple[Location, str]]:
    """Rates are keyed by ISO codes; the table's own currency is worth 1 by definition."""
    problems: list[tuple[Location, str]] = []
    for code in table.rates:
        if code == table.currency:
            problems.append((("rates", code), f"{code} is the table's currency: its rate is 1"))
        else:
            try:
                _currency(code)
            except ValueError as exc:
                problems.append((("rates", code), str(exc)))
    return problems


@dataclass(frozen=True)
class RateTable:
    """What one unit of each currency is worth in ``currency``, on ``as_of``."""

    currency: str
    as_of: date | None = None
    rates: Mapping[str, Decimal] = field(default_factory=lambda: MappingProxyType({}))
    source: Path | None = None

    def rate(self, currency: str) -> Decimal | None:
        """One unit of ``currency`` in the table's currency; None if the table lacks it."""
        return Decimal(1) if currency == self.currency else self.rates.get(currency)

    def convert(self, amount: Decimal, currency: str, to: str) -> Decimal | None:
        """``amount`` of ``currency`` in ``to`` (through the table's currency), or None."""
        if currency == to:
            return amount
        rate, target = self.rate(currency), self.rate(to)
        if rate is None or target is None:
            return None
        return amount * rate / target


# No rates: only amounts already in the same currency compare.
NO_RATES = RateTable(currency="")


def load_rates(path: Path = DEFAULT_RATES) -> RateTable:
    """Read and validate the rate table at ``path``; raises :class:`RatesError`."""
    data, root = load_document(path, RatesError, "rate table")
    if not isinstance(data, dict):
        raise RatesError(f"{path}:1: expected a mapping with currency, as_of and rates")
    try:
        parsed = _RatesIn.parse_obj(data)
    except ValidationError as exc:
        problems = [(tuple(error["loc"]), error["msg"]) for error in exc.errors()]
        raise RatesError(describe(path, root, problems, "rate table")) from exc
    problems = _problems(parsed)
    if problems:
        raise RatesError(describe(path, root, problems, "rate table"))
    return RateTable(
        currency=parsed.currency,
        as_of=parsed.as_of,
        rates=MappingProxyType(dict(parsed.rates)),
        source=path,
    )
