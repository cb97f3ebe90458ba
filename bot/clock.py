"""The one clock: every "now" in the product comes from :func:`now`.

Times are timezone-aware UTC. Tests (and replays) move time with :func:`frozen`
or :func:`ticking` instead of patching ``datetime`` in each module.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone


def _system() -> datetime:
    return datetime.now(timezone.utc)


_source: Callable[[], datetime] = _system


def now() -> datetime:
    """The current time, timezone-aware UTC."""
    return _source()


def _aware(moment: datetime) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"the clock keeps aware times only, got naive {moment.isoformat()}")
    return moment.astimezone(timezone.utc)


@contextmanager
def frozen(at: datetime) -> Iterator[None]:
    """Within the block, :func:`now` returns ``at`` (aware; shown in UTC)."""
    fixed = _aware(at)
    with _using(lambda: fixed):
        yield


@contextmanager
def ticking(start: datetime, step: timedelta) -> Iterator[None]:
    """Within the block, :func:`now` returns ``start``, then ``start + step`` and so on."""
    calls = itertools.count()
    first = _aware(start)
    with _using(lambda: first + step * next(calls)):
        yield


@contextmanager
def _using(source: Callable[[], datetime]) -> Iterator[None]:
    global _source
    previous, _source = _source, source
    try:
        yield
    finally:
        _source = previous
