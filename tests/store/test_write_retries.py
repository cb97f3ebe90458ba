"""A lead write PostgreSQL aborts for a deadlock or a serialization failure is tried again."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError

from bot.leads.commands import RecordEvent
from bot.leads.service import LeadService

AT = datetime(2026, 12, 1, tzinfo=timezone.utc)


class _DriverError(Exception):
    def __init__(self, pgcode: str) -> None:
        super().__init__(pgcode)
        self.pgcode = pgcode


def _aborting(service: LeadService, pgcode: str, times: int) -> list[int]:
    """Make ``service``'s transaction fail ``times`` times with ``pgcode``; the tries made."""
    tries: list[int] = []
    real = service._apply

    def apply(commands: Any, now: datetime) -> Any:
        tries.append(1)
        if len(tries) <= times:
            raise OperationalError("UPDATE lead_counts …", {}, _DriverError(pgcode))
        return real(commands, now)

    service._apply = apply  # type: ignore[method-assign]
    return tries


EVENT = RecordEvent(session_id="s1", event_id="e1", type="product_view", ts=AT)


@pytest.mark.parametrize("pgcode", ["40P01", "40001"])
def test_an_aborted_write_is_retried_and_lands_once(engine: Engine, pgcode: str) -> None:
    service = LeadService(engine)
    tries = _aborting(service, pgcode, times=2)
    result = service.apply([EVENT], now=AT)
    assert (len(tries), result.accepted_events) == (3, 1)
    assert service.apply([EVENT], now=AT).duplicate_events == 1


def test_other_database_errors_are_not_retried(engine: Engine) -> None:
    service = LeadService(engine)
    tries = _aborting(service, "57014", times=1)  # query cancelled
    with pytest.raises(OperationalError):
        service.apply([EVENT], now=AT)
    assert len(tries) == 1
