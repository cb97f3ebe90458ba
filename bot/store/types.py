"""Column types that behave the same on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, DateTime, String
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.types import TypeDecorator

JSONType = JSON().with_variant(JSONB(), "postgresql")


def json_default(obj: Any) -> Any:
    """Serialise values the standard json module does not know.

    Decimals become JSON numbers: a float's repr round-trips every amount of up to
    15 significant digits, so ``Decimal(str(number))`` restores the exact amount.
    """
    if isinstance(obj, Decimal):
        return int(obj) if obj == obj.to_integral_value() else float(obj)
    if isinstance(obj, datetime):
        return obj.isoformat()
    raise TypeError(f"{type(obj).__name__} is not JSON serialisable")


def dumps(obj: Any) -> str:
    """``json.dumps`` that knows Decimal and datetime (used by the engines too)."""
    return json.dumps(obj, default=json_default, ensure_ascii=False, separators=(",", ":"))


# Keys of an answer value that hold an amount of money.
MONEY_KEYS = frozenset({"amount", "min", "max"})


def restore_decimals(value: Any) -> Any:
    """Turn money numbers read back from JSON into exact Decimals."""
    if isinstance(value, dict):
        return {
            key: Decimal(str(item))
            if key in MONEY_KEYS and isinstance(item, (int, float)) and not isinstance(item, bool)
            else restore_decimals(item)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [restore_decimals(item) for item in value]
    return value


class UTCDateTime(TypeDecorator):
    """Timezone-aware UTC datetimes on every backend (SQLite keeps no offset)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        """Reject naive datetimes and store UTC."""
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use timezone-aware UTC")
        value = value.astimezone(timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        """Return aware UTC datetimes."""
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


class DecimalString(TypeDecorator):
    """Exact decimal amounts stored as text (SQLite has no decimal type)."""

    impl = String(40)
    cache_ok = True

    def process_bind_param(self, value: Decimal | None, dialect: Any) -> str | None:
        """Store the canonical string form."""
        return None if value is None else str(Decimal(value))

    def process_result_value(self, value: str | None, dialect: Any) -> Decimal | None:
        """Read back the exact Decimal."""
        return None if value is None else Decimal(value)
