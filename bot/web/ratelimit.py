"""Per-client rate limits of the public endpoints (token buckets).

A client's bucket holds ``per_minute`` requests and refills at ``per_minute``
a minute; a request takes one, an empty bucket answers 429 with
``Retry-After`` (seconds until one request's worth is back).

:class:`RateLimiter` keeps the buckets in the process: a limit is per process,
which is what a single-host deployment runs. :class:`RedisRateLimiter` keeps
them in Redis (``RATE_LIMIT_REDIS_URL``), so the web apps of a cluster share
one limit per client: each check is one Lua script reading Redis's own clock,
and a bucket's key expires once it would be full again (at most a minute and a
second after the client's last request).

When Redis does not answer within ``RATE_LIMIT_REDIS_TIMEOUT_MS`` (200 ms by
default) or refuses the connection, the limits fail open to the process's own
buckets: a warning is logged (once per outage), requests are counted per
process, and Redis is asked again after :data:`REDIS_RETRY_SECONDS`. A Redis
outage thus neither fails nor stalls requests; it makes the limit per process
until Redis is back. A web app opens :data:`REDIS_CONNECTIONS` connections
when it starts; a check waits at most the timeout for a free one, then the
timeout for the answer, so a burst larger than Redis can check in that time
is counted per process too.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import AsyncIterator, Callable

import redis
import redis.asyncio
from aiohttp import web

from bot.settings import Settings, mask_url_password
from bot.web.errors import WebError

logger = logging.getLogger(__name__)

# Buckets idle this long are full again and can be forgotten.
IDLE_SECONDS = 120.0
MAX_CLIENTS = 50_000
# After Redis failed, requests are counted per process for this long before Redis is tried again.
REDIS_RETRY_SECONDS = 5.0
# Connections to Redis per web app: a burst of requests queues for them instead of
# opening one connection each.
REDIS_CONNECTIONS = 16

# KEYS: the client's bucket. ARGV: its size (requests per minute), then 1 to take a
# request or 0 to only look. Returns -1 when a request may go now (taken if asked),
# else the milliseconds until it may. The time is Redis's, the same for every web app.
_BUCKET = """
local size = tonumber(ARGV[1])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local per_ms = size / 60000
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = size
if state[1] then
  local elapsed = math.max(0, now - tonumber(state[2]))
  tokens = math.min(size, tonumber(state[1]) + elapsed * per_ms)
end
if tokens < 1 then
  return math.ceil((1 - tokens) / per_ms)
end
if ARGV[2] == '1' then
  tokens = tokens - 1
  redis.call('HSET', KEYS[1], 'tokens', string.format('%.17g', tokens),
             'at', string.format('%d', now))
  redis.call('PEXPIRE', KEYS[1], math.ceil((size - tokens) / per_ms) + 1000)
end
return -1
"""


class RateLimiter:
    """``per_minute`` requests per client, in bursts of up to ``per_minute``; buckets in memory."""

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_minute = per_minute
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}

    async def check(self, client: str) -> float | None:
        """Take one request from ``client``'s bucket; seconds to wait if it is empty."""
        return self._take(client)

    async def wait(self, client: str) -> float | None:
        """Seconds until ``client`` may make a request again (``None``: now); takes none."""
        return self._wait(client)

    def _take(self, client: str) -> float | None:
        wait = self._wait(client)
        if wait is not None or self.per_minute <= 0:
            return wait
        now = self._clock()
        if len(self._buckets) >= MAX_CLIENTS:
            self._forget_idle(now)
        self._buckets[client] = (self._tokens(client, now) - 1.0, now)
        return None

    def _wait(self, client: str) -> float | None:
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

    async def enforce(self, request: web.Request, what: str, *, take: bool = True) -> None:
        """429 with ``Retry-After`` when the request's client is over the limit.

        With ``take=False`` the request is not counted: for limits on failures,
        which the caller counts with :meth:`check` once it knows.
        """
        client = request.remote or "unknown"
        wait = await (self.check(client) if take else self.wait(client))
        if wait is not None:
            seconds = max(1, math.ceil(wait))
            raise WebError(
                429,
                f"too many {what} from this address: at most {self.per_minute} per minute; "
                f"retry in {seconds} s",
                headers={"Retry-After": str(seconds)},
                retry_after=seconds,
            )


class RedisUnavailable(Exception):
    """Redis did not answer in time, refused the connection or failed the script."""


class RedisBuckets:
    """The Redis that the limiters of one web app share, and whether it answers."""

    def __init__(
        self,
        url: str,
        prefix: str,
        timeout_seconds: float,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.url = url
        self.prefix = prefix
        self.timeout_seconds = timeout_seconds
        self._clock = clock
        self._client: redis.asyncio.Redis | None = None
        self._script: redis.commands.core.AsyncScript | None = None
        self._down_until: float | None = None
        self._failing = False

    def _connect(self) -> redis.commands.core.AsyncScript:
        # Made on first use, inside the running loop whose connections it pools.
        if self._script is None:
            pool = redis.asyncio.BlockingConnectionPool.from_url(
                self.url,
                max_connections=REDIS_CONNECTIONS,
                timeout=self.timeout_seconds,
                socket_timeout=self.timeout_seconds,
                socket_connect_timeout=self.timeout_seconds,
            )
            self._client = redis.asyncio.Redis(connection_pool=pool)
            self._script = self._client.register_script(_BUCKET)
        return self._script

    async def bucket(self, name: str, client: str, size: int, *, take: bool) -> float | None:
        """Take (or look at) a request of ``client``'s bucket in limit ``name``; seconds to wait.

        Raises :class:`RedisUnavailable` while Redis is down or was down moments ago.
        """
        if self._down_until is not None:
            if self._clock() < self._down_until:
                raise RedisUnavailable("Redis was unreachable moments ago")
            self._down_until = None
        try:
            waited = await self._connect()(
                keys=[f"{self.prefix}{name}:{client}"], args=[size, 1 if take else 0]
            )
        except (redis.RedisError, OSError, asyncio.TimeoutError) as error:
            # Checks under way when Redis failed fail too: the first one tells.
            first = self._down_until is None
            self._down_until = self._clock() + REDIS_RETRY_SECONDS
            self._failing = True
            if first:
                logger.warning(
                    "rate limits: Redis at %s failed (%s: %s); each web app counts "
                    "requests alone for %.0f s",
                    mask_url_password(self.url),
                    type(error).__name__,
                    error,
                    REDIS_RETRY_SECONDS,
                )
            raise RedisUnavailable(str(error)) from error
        if self._failing:
            self._failing = False
            logger.info("rate limits: Redis at %s answers again", mask_url_password(self.url))
        return None if int(waited) < 0 else int(waited) / 1000.0

    async def open(self) -> bool:
        """Open the connections and load the script now, before requests come.

        Returns whether Redis answered. A burst of requests then finds its
        connections open instead of opening them all within the timeout.
        """
        script = self._connect()
        # As many checks at once as connections: each opens one.
        answers = await asyncio.gather(
            *(
                script(keys=[f"{self.prefix}startup:check"], args=[1, 0])
                for _ in range(REDIS_CONNECTIONS)
            ),
            return_exceptions=True,
        )
        errors = [answer for answer in answers if isinstance(answer, BaseException)]
        if errors:
            logger.warning(
                "rate limits: Redis at %s failed at start (%s: %s); each web app counts "
                "requests alone until it answers",
                mask_url_password(self.url),
                type(errors[0]).__name__,
                errors[0],
            )
            return False
        logger.info("rate limits: shared in Redis at %s", mask_url_password(self.url))
        return True

    async def close(self) -> None:
        """Close the connections to Redis."""
        if self._client is not None:
            client, self._client, self._script = self._client, None, None
            await client.close(close_connection_pool=True)


class RedisRateLimiter(RateLimiter):
    """The same limit with the buckets in Redis, shared by every web app using ``buckets``.

    Falls back to the in-memory buckets it inherits while Redis is unavailable.
    """

    def __init__(
        self,
        per_minute: int,
        buckets: RedisBuckets,
        name: str,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(per_minute, clock)
        self.buckets = buckets
        self.name = name

    async def check(self, client: str) -> float | None:
        """Take one request from ``client``'s bucket; seconds to wait if it is empty."""
        if self.per_minute <= 0:
            return None
        try:
            return await self.buckets.bucket(self.name, client, self.per_minute, take=True)
        except RedisUnavailable:
            return self._take(client)

    async def wait(self, client: str) -> float | None:
        """Seconds until ``client`` may make a request again (``None``: now); takes none."""
        if self.per_minute <= 0:
            return None
        try:
            return await self.buckets.bucket(self.name, client, self.per_minute, take=False)
        except RedisUnavailable:
            return self._wait(client)


class RateLimits:
    """Makes a web app's limiters: in Redis when ``RATE_LIMIT_REDIS_URL`` is set, else in memory."""

    def __init__(self, settings: Settings) -> None:
        self.buckets = (
            RedisBuckets(
                settings.rate_limit_redis_url,
                settings.rate_limit_prefix,
                settings.rate_limit_redis_timeout_ms / 1000.0,
            )
            if settings.rate_limit_redis_url
            else None
        )

    def limiter(self, name: str, per_minute: int) -> RateLimiter:
        """The limit ``name`` (a part of its Redis keys) at ``per_minute`` requests per client."""
        if self.buckets is None:
            return RateLimiter(per_minute)
        return RedisRateLimiter(per_minute, self.buckets, name)

    async def serving(self, _app: web.Application) -> AsyncIterator[None]:
        """Connect to Redis when the app starts, close when it stops (a ``cleanup_ctx``)."""
        if self.buckets is not None:
            await self.buckets.open()
        yield
        if self.buckets is not None:
            await self.buckets.close()
