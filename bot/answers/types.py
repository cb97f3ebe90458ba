"""Shared result type of the answer parsers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Parsed:
    """A normalised answer.

    ``value`` is what the lead store keeps under ``answers[key].value`` (JSON-ready
    except for ``Decimal`` amounts, which the store serialises as numbers);
    ``display`` is a short text the bot can echo back to confirm ("in about 4 weeks",
    "300 USD", "Lyon, France").
    """

    value: Any
    display: str
