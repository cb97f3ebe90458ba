"""Query parameters of the API: each wrong one is a 400 naming it and what was expected."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from bot.web.errors import WebError


def known_params(query: Any, allowed: frozenset[str]) -> None:
    """400 naming the query parameters that are not in ``allowed``."""
    unknown = sorted(set(query) - allowed)
    if unknown:
        raise WebError(
            400, f"unknown query parameter(s): {', '.join(unknown)}", allowed=sorted(allowed)
        )


def int_param(query: Any, name: str, *, minimum: int, maximum: int) -> int | None:
    """An integer query parameter within bounds (``None`` if absent)."""
    raw = query.get(name)
    if raw is None:
        return None
    try:
        value = int(raw)
    except ValueError:
        raise WebError(400, f"query parameter '{name}' must be an integer, got {raw!r}") from None
    if not minimum <= value <= maximum:
        raise WebError(
            400, f"query parameter '{name}' must be between {minimum} and {maximum}, got {value}"
        )
    return value


def choice_param(query: Any, name: str, choices: tuple[str, ...]) -> str | None:
    """A query parameter that must be one of ``choices`` (``None`` if absent)."""
    raw = query.get(name)
    if raw is not None and raw not in choices:
        raise WebError(
            400, f"query parameter '{name}' must be one of {', '.join(choices)}, got {raw!r}"
        )
    return raw


def bool_param(query: Any, name: str) -> bool:
    """``true``/``false`` (also 1/0, yes/no); false when absent."""
    raw = query.get(name)
    if raw is None:
        return False
    value = raw.strip().lower()
    if value in ("true", "1", "yes"):
        return True
    if value in ("false", "0", "no"):
        return False
    raise WebError(400, f"query parameter '{name}' must be true or false, got {raw!r}")


def time_param(query: Any, name: str) -> datetime | None:
    """An ISO 8601 time with a timezone, in UTC (``None`` if absent); 400 naming ``name``."""
    raw = query.get(name)
    if raw is None:
        return None
    try:
        value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
        # In UTC, which a time at the very edge of the calendar does not fit.
        utc = value.astimezone(timezone.utc) if value.tzinfo is not None else None
    except (ValueError, OverflowError):
        utc = None
    if utc is None:
        raise WebError(
            400,
            f"query parameter '{name}' must be an ISO 8601 time with a timezone, "
            f"like 2026-11-30T09:00:00Z; got {raw!r}",
        )
    return utc
