"""Rate limits in memory and in Redis: one token-bucket behaviour, shared across web apps.

The Redis tests (marker ``redis``) use the local Redis under a key prefix of their
own; each "web app" is its own :class:`RedisBuckets` (its own connection pool), as
two processes would hold. Redis down is played by a port nobody listens on and by a
server that accepts connections and never answers.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from pathlib import Path

import pytest
import redis
from aiohttp.test_utils import TestClient, TestServer

from bot.settings import Settings
from bot.web import create_app
from bot.web.keys import FORM_LIMITER
from bot.web.ratelimit import RateLimiter, RateLimits, RedisBuckets, RedisRateLimiter

TIMEOUT = 0.2


class Clock:
    """A monotonic clock that moves only when told."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@contextlib.asynccontextmanager
async def buckets(url: str, prefix: str) -> AsyncIterator[RedisBuckets]:
    shared = RedisBuckets(url, prefix, TIMEOUT)
    try:
        yield shared
    finally:
        await shared.close()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.contextmanager
def silent_server() -> Iterator[tuple[str, list[socket.socket]]]:
    """A TCP server that accepts connections and never answers (a Redis stuck or blackholed)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    listener.setblocking(False)
    accepted: list[socket.socket] = []

    def accept() -> None:
        with contextlib.suppress(BlockingIOError):
            while True:
                accepted.append(listener.accept()[0])

    loop = asyncio.get_running_loop()
    loop.add_reader(listener, accept)
    try:
        yield f"redis://127.0.0.1:{listener.getsockname()[1]}/0", accepted
    finally:
        loop.remove_reader(listener)
        for connection in accepted:
            connection.close()
        listener.close()


# -- settings (no Redis needed) -------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "accepted"),
    [
        ("", True),  # not set: limits in memory
        ("redis://127.0.0.1:6379/2", True),
        ("rediss://:secret@cache.internal:6380/0", True),  # TLS, password
        ("unix:///run/redis.sock?db=2", True),
        ("http://127.0.0.1:6379", False),  # not Redis
        ("127.0.0.1:6379", False),  # no scheme
    ],
)
def test_the_redis_url_setting_is_checked(value: str, accepted: bool) -> None:
    env = {"RATE_LIMIT_REDIS_URL": value}
    if accepted:
        assert Settings.from_env(env).rate_limit_redis_url == value
    else:
        with pytest.raises(ValueError, match="RATE_LIMIT_REDIS_URL"):
            Settings.from_env(env)


def test_rate_limit_settings_default_to_memory_and_mask_the_password() -> None:
    assert Settings.from_env({}).rate_limit_redis_url == ""
    assert Settings.from_env({}).rate_limit_prefix == "storefront:ratelimit:"
    settings = Settings.from_env(
        {
            "RATE_LIMIT_REDIS_URL": "redis://:hunter2@cache:6379/2",
            "RATE_LIMIT_PREFIX": "shop-7:",
            "RATE_LIMIT_REDIS_TIMEOUT_MS": "50",
        }
    )
    assert settings.rate_limit_prefix == "shop-7:"
    assert settings.rate_limit_redis_timeout_ms == 50
    assert "hunter2" not in repr(settings)
    with pytest.raises(ValueError, match="RATE_LIMIT_REDIS_TIMEOUT_MS"):
        Settings.from_env({"RATE_LIMIT_REDIS_TIMEOUT_MS": "0"})


def test_without_a_redis_url_the_limiters_are_in_memory() -> None:
    limits = RateLimits(Settings())
    limiter = limits.limiter("form", 3)
    assert type(limiter) is RateLimiter
    assert limits.buckets is None


async def test_memory_buckets_refill_at_the_limit_per_minute() -> None:
    clock = Clock()
    limiter = RateLimiter(3, clock)
    assert [await limiter.check("a") for _ in range(3)] == [None, None, None]
    assert await limiter.check("a") == pytest.approx(20.0)
    assert await limiter.check("b") is None  # per client
    clock.now += 20.0
    assert await limiter.wait("a") is None  # looking takes nothing
    assert await limiter.check("a") is None
    assert await limiter.check("a") == pytest.approx(20.0)


# -- Redis ------------------------------------------------------------------------------------


@pytest.mark.redis
async def test_redis_buckets_behave_as_the_memory_buckets(redis_url: str, redis_prefix: str):
    async with buckets(redis_url, redis_prefix) as shared:
        limiter = RedisRateLimiter(3, shared, "form")
        assert [await limiter.check("10.0.0.1") for _ in range(3)] == [None, None, None]
        wait = await limiter.check("10.0.0.1")
        # One request comes back every 20 s; the time since the first take passed already.
        assert wait is not None
        assert 19.0 < wait <= 20.0
        peeked = await limiter.wait("10.0.0.1")
        assert peeked is not None
        assert 19.0 < peeked <= 20.0
        assert await limiter.check("10.0.0.2") is None  # per client
        assert await RedisRateLimiter(3, shared, "login").check("10.0.0.1") is None  # per limit
        # No limit: Redis is not asked.
        assert await RedisRateLimiter(0, shared, "events").check("10.0.0.1") is None
    client = redis.Redis.from_url(redis_url)
    try:
        keys = sorted(key.decode() for key in client.scan_iter(match=f"{redis_prefix}*"))
        assert keys == [
            f"{redis_prefix}form:10.0.0.1",
            f"{redis_prefix}form:10.0.0.2",
            f"{redis_prefix}login:10.0.0.1",
        ]
        # A bucket lives until it is full again, plus a second: here 3 requests' worth.
        assert 59_000 < client.pttl(f"{redis_prefix}form:10.0.0.1") <= 61_000
        assert 19_000 < client.pttl(f"{redis_prefix}form:10.0.0.2") <= 21_000
    finally:
        client.close()


@pytest.mark.redis
async def test_looking_takes_nothing_and_writes_nothing(redis_url: str, redis_prefix: str):
    async with buckets(redis_url, redis_prefix) as shared:
        limiter = RedisRateLimiter(2, shared, "login")
        for _ in range(5):
            assert await limiter.wait("10.0.0.1") is None
        assert await limiter.check("10.0.0.1") is None
        assert await limiter.check("10.0.0.1") is None
        assert await limiter.wait("10.0.0.1") is not None
    client = redis.Redis.from_url(redis_url)
    try:
        assert list(client.scan_iter(match=f"{redis_prefix}*")) == [
            f"{redis_prefix}login:10.0.0.1".encode()
        ]
    finally:
        client.close()


@pytest.mark.redis
async def test_two_web_apps_share_one_bucket_per_client(redis_url: str, redis_prefix: str):
    async with (
        buckets(redis_url, redis_prefix) as first,
        buckets(redis_url, redis_prefix) as second,
        buckets(redis_url, f"{redis_prefix}other:") as elsewhere,
    ):
        apps = [RedisRateLimiter(5, first, "form"), RedisRateLimiter(5, second, "form")]
        # Concurrent checks from both apps: each script runs alone in Redis.
        results = await asyncio.gather(*(apps[n % 2].check("10.0.0.9") for n in range(12)))
        assert sum(result is None for result in results) == 5
        assert all(result > 0 for result in results if result is not None)
        # Another prefix is another deployment: its own buckets.
        assert await RedisRateLimiter(5, elsewhere, "form").check("10.0.0.9") is None


@pytest.mark.redis
async def test_an_empty_bucket_refills_on_redis_time(redis_url: str, redis_prefix: str):
    async with buckets(redis_url, redis_prefix) as shared:
        # 60 a minute: one request back every second.
        limiter = RedisRateLimiter(60, shared, "events")
        for _ in range(60):
            assert await limiter.check("10.0.0.1") is None
        wait = await limiter.check("10.0.0.1")
        assert wait is not None
        assert 0 < wait <= 1.0
        for _ in range(300):
            if await limiter.wait("10.0.0.1") is None:
                break
            await asyncio.sleep(0.01)
        assert await limiter.check("10.0.0.1") is None
        assert await limiter.check("10.0.0.1") is not None


async def test_redis_refusing_connections_falls_back_to_the_process(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = Clock()
    shared = RedisBuckets(f"redis://127.0.0.1:{free_port()}/0", "x:", TIMEOUT, clock=clock)
    limiter = RedisRateLimiter(2, shared, "form", clock)
    with caplog.at_level(logging.WARNING, logger="bot.web.ratelimit"):
        assert await limiter.check("10.0.0.1") is None
        assert await limiter.check("10.0.0.1") is None
        # Counted in the process meanwhile: the same limit, per web app.
        assert await limiter.check("10.0.0.1") == pytest.approx(30.0)
        assert await limiter.wait("10.0.0.1") == pytest.approx(30.0)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    # One warning per outage: Redis is not asked again until REDIS_RETRY_SECONDS passed.
    assert len(warnings) == 1
    assert "counts requests alone" in warnings[0]
    await shared.close()


async def test_a_silent_redis_costs_one_timeout_then_is_skipped(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = Clock()
    with silent_server() as (url, accepted):
        shared = RedisBuckets(url, "x:", TIMEOUT, clock=clock)
        limiter = RedisRateLimiter(10, shared, "form", clock)
        with caplog.at_level(logging.WARNING, logger="bot.web.ratelimit"):
            # Requests under way when Redis fails each wait for it once (its timeout).
            burst = await asyncio.gather(*(limiter.check("10.0.0.1") for _ in range(5)))
            assert burst == [None] * 5
            connections = len(accepted)
            # Then Redis is not asked: the process's own bucket of 10 counts.
            for _ in range(5):
                assert await limiter.check("10.0.0.1") is None
            assert await limiter.check("10.0.0.1") is not None
            assert len(accepted) == connections
            clock.now += 5.0  # REDIS_RETRY_SECONDS later Redis is tried again
            assert await limiter.check("10.0.0.2") is None
        assert len(accepted) == connections + 1
        # One warning per outage, and one for the retry that failed.
        warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
        assert len(warnings) == 2
        assert all("TimeoutError" in warning for warning in warnings)
        await shared.close()


async def test_opening_tells_whether_redis_answers(caplog: pytest.LogCaptureFixture) -> None:
    shared = RedisBuckets(f"redis://127.0.0.1:{free_port()}/0", "x:", TIMEOUT)
    with caplog.at_level(logging.WARNING, logger="bot.web.ratelimit"):
        assert await shared.open() is False
    assert "failed at start" in caplog.text
    await shared.close()


@pytest.mark.redis
async def test_opening_writes_nothing(redis_url: str, redis_prefix: str) -> None:
    async with buckets(redis_url, redis_prefix) as shared:
        assert await shared.open() is True
    client = redis.Redis.from_url(redis_url)
    try:
        assert list(client.scan_iter(match=f"{redis_prefix}*")) == []
    finally:
        client.close()


async def test_a_web_app_with_redis_down_answers_with_its_own_limit(
    migrated_sqlite_url: str, tmp_path: Path
) -> None:
    settings = replace(
        Settings(),
        database_url=migrated_sqlite_url,
        spool_dir=tmp_path / "spool",
        tracker_store_url=f"sqlite:///{tmp_path / 'tracker.db'}",
        form_rate_limit=2,
        rate_limit_redis_url=f"redis://127.0.0.1:{free_port()}/0",
    )
    app = create_app(settings)
    assert isinstance(app[FORM_LIMITER], RedisRateLimiter)
    async with TestClient(TestServer(app)) as client:
        statuses = []
        for n in range(3):
            response = await client.post(
                "/api/create-lead",
                data={
                    "first_name": "Ada",
                    "last_name": "Lovelace",
                    "email": f"ada{n}@example.com",
                    "consent": "yes",
                },
                allow_redirects=False,
            )
            statuses.append(response.status)
        assert statuses == [201, 201, 429]
        assert response.headers["Retry-After"] == "30"
