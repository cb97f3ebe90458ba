"""Per-client rate limits of the public endpoints (token buckets, in memory).

Each web-app process keeps its own buckets: a limit is per process, which is
what a single-host deployment runs. Clients are told when to come back
(``Retry-After``).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

from aiohttp import web

from bot.web.errors import WebError

# Buckets idle this long are full again and can be forgotten.
IDLE_SECONDS = 120.0
MAX_CLIENTS = 50_000


class RateLimiter:
    """``per_minute`` requests per client, in bursts of up to ``per_minute``."""

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_minute = per_minute
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}

    def check(self, client: str) -> float | None:
        """Take one request from ``client``'s bucket; seconds to wait if it is empty."""
        wait = self.wait(client)
        if wait is not None or self.per_minute <= 0:
            return wait
        now = self._clock()
        if len(self._buckets) >= MAX_CLIENTS:
            self._forget_idle(now)
        self._buckets[client] = (self._tokens(client, now) - 1.0, now)
        return None

    def wait(self, client: str) -> float | None:
        """Seconds until ``client`` may make a request again (``None``: now); takes none."""
        if self.per_minute <= 0:
            return None
        tokens = self._tokens(client, self._clock())
        if tokens < 1.0:
            return (1.0 - tokens) / (self.per_minute / 60.0)
        return None

    def _tokens(self, client: str, now: float) -> float:
        tokens, seen = self._buckets.get(client, (float(self.per_minute), now))
        return min(float(self.per_minute), tokens + (now - seen) * self.per_minute / 60.0)

    def _forget_idle(self, now: float) -> None:
        self._buckets = {
            client: state
            for client, state in self._buckets.items()
            if now - state[1] < IDLE_SECONDS
        }

    def enforce(self, request: web.Request, what: str, *, take: bool = True) -> None:
        """429 with ``Retry-After`` when the request's client is over the limit.

        With ``take=False`` the request is not counted: for limits on failures,
        which the caller counts with :meth:`check` once it knows.
        """
        client = request.remote or "unknown"
        wait = self.check(client) if take else self.wait(client)
        if wait is not None:
            seconds = max(1, math.ceil(wait))
            raise WebError(
                429,
                f"too many {what} from this address: at most {self.per_minute} per minute; "
                f"retry in {seconds} s",
                headers={"Retry-After": str(seconds)},
                retry_after=seconds,
            )
