"""What an event is, to the store and to the scorer: protocols only, no database code.

The chat's and storefront's write commands, the store's rows and the scorer's own
facts all have these fields, so :mod:`bot.scoring` reads events through them without
importing the store's SQL.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol


class EventLike(Protocol):
    """What any event says: what happened, when, to which product (a row, a command, a fact)."""

    @property
    def type(self) -> str:
        """What happened (``product_view``, ``chat_message``…)."""

    @property
    def ts(self) -> datetime:
        """When it happened (aware UTC)."""

    @property
    def product_id(self) -> str | None:
        """The storefront product, if any."""

    @property
    def variant_id(self) -> str | None:
        """The storefront variant, if any."""

    @property
    def properties(self) -> dict[str, Any] | None:
        """Anything else the event says."""


class EventRecord(EventLike, Protocol):
    """An event as the store keeps it: an :class:`EventLike` with its id, source and value."""

    @property
    def event_id(self) -> str:
        """Its idempotency key: an event already stored is not stored again."""

    @property
    def source(self) -> str:
        """Where it happened, e.g. ``chat`` or ``storefront``."""

    @property
    def value(self) -> Decimal | None:
        """An amount, if the event has one."""

    @property
    def properties(self) -> dict[str, Any]:
        """Anything else the event says (``{}`` when nothing)."""
