"""Delivering handoff notifications: signed webhooks, retries, dead letters, Slack and email.

Every test talks to a real receiver on 127.0.0.1 (aiohttp, or aiosmtpd for
email) and stores into SQLite and PostgreSQL. Waits between attempts are
checked with an injected clock, never by sleeping through them.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import email
import hashlib
import hmac
import inspect
import json
import re
import socket
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from email import policy
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiohttp import web
from aiosmtpd.controller import Controller
from sqlalchemy import select
from sqlalchemy.engine import Engine
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from bot.handoff.channels import parse_retry_after, sign, slack_message
from bot.handoff.config import (
    Channel,
    Delivery,
    HandoffConfig,
    Smtp,
    load_handoff_config,
)
from bot.handoff.outbox import OutboxStore
from bot.handoff.planner import HandoffPlanner
from bot.handoff.worker import OutboxWorker
from bot.leads import LeadService
from bot.leads.commands import Command, RecordAnswer, RecordEvent, UpdateContact
from bot.scoring import scorer_for
from bot.settings import Settings
from bot.store.models import OutboxMessage
from tests.handoff import HANDOFF_CONFIG
from tests.scoring import SCORING_CONFIG

PUBLIC_URL = "http://shop.test"
SECRET_NEW = "whsec_" + base64.b64encode(b"new-secret-for-the-tests-32bytes").decode()
SECRET_OLD = "whsec_" + base64.b64encode(b"old-secret-for-the-tests-32bytes").decode()
SECRET_OTHER = "whsec_" + base64.b64encode(b"not-a-secret-of-this-channel-32b").decode()
# Jitter off: the waits are exactly the schedule.
FAST = Delivery(timeout_seconds=1, retry_schedule=(0, 5, 30, 60), jitter=0, concurrency=8)


# -- helpers -----------------------------------------------------------------------------


def free_port() -> int:
    """A TCP port nobody listens on (right now)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def at(value: str | None) -> datetime:
    assert value is not None
    return datetime.fromisoformat(value)


def close_to(value: datetime, expected: datetime) -> bool:
    return abs((value - expected).total_seconds()) < 0.01


async def eventually(condition: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll ``condition`` until true; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(0.05)


class Clock:
    """An injected clock: starts at the current second and moves only when told."""

    def __init__(self) -> None:
        self.now = datetime.now(timezone.utc).replace(microsecond=0)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@dataclass
class Received:
    """One request as the receiver saw it."""

    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def webhook_id(self) -> str:
        return self.headers.get("webhook-id", "")

    def json(self) -> Any:
        return json.loads(self.body)


Responder = Callable[[Received, int], Any]


def ok(_request: Received, _n: int) -> web.Response:
    return web.Response(text="ok")


def statuses(*codes: int) -> Responder:
    """Answer the n-th request with ``codes[n-1]`` (the last code from then on)."""

    def respond(_request: Received, n: int) -> web.Response:
        return web.Response(status=codes[min(n, len(codes)) - 1], text="from the test receiver")

    return respond


class Receiver:
    """A loopback HTTP endpoint recording every request; ``respond`` decides the answer."""

    def __init__(self, respond: Responder = ok, port: int | None = None) -> None:
        self.respond = respond
        self.port = port or free_port()
        self.requests: list[Received] = []
        self.release = asyncio.Event()
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/leads"

    async def hang(self, seconds: float = 20.0) -> web.Response:
        """Answer late: after ``seconds`` or when the test ends, whichever is first."""
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self.release.wait(), seconds)
        return web.Response(text="late")

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        seen = Received(
            request.path,
            {key.lower(): value for key, value in request.headers.items()},
            await request.read(),
        )
        self.requests.append(seen)
        answer = self.respond(seen, len(self.requests))
        if inspect.isawaitable(answer):
            answer = await answer
        return answer

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        self.release.set()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None


StartReceiver = Callable[..., Awaitable[Receiver]]


@pytest.fixture
async def receivers() -> AsyncIterator[StartReceiver]:
    """Start receivers; all are stopped when the test ends."""
    started: list[Receiver] = []

    async def start(respond: Responder = ok, port: int | None = None) -> Receiver:
        receiver = Receiver(respond, port)
        started.append(receiver)
        await receiver.start()
        return receiver

    yield start
    for receiver in started:
        await receiver.stop()


class Inbox:
    """aiosmtpd handler keeping every envelope."""

    def __init__(self) -> None:
        self.envelopes: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.envelopes.append(envelope)
        return "250 Message accepted for delivery"


class SlowInbox(Inbox):
    """Answers every recipient just inside the client's per-command timeout."""

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        await asyncio.sleep(0.7)
        envelope.rcpt_tos.append(address)
        return "250 OK"


@contextlib.contextmanager
def smtp_server(port: int, inbox: Inbox | None = None) -> Iterator[Inbox]:
    inbox = inbox or Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox
    finally:
        controller.stop()


@dataclass
class Shop:
    """The lead store with handoffs switched on, and the outbox it fills."""

    engine: Engine
    config: HandoffConfig
    clock: Clock = field(default_factory=Clock)

    def __post_init__(self) -> None:
        self.planner = HandoffPlanner(
            self.config, public_url=PUBLIC_URL, signing_key=b"test-signing-key"
        )
        # Handoffs and their outbox rows are made by the write, as in the app.
        self.repository = LeadService(
            self.engine, scorer_for(Settings(scoring_config_path=SCORING_CONFIG)), self.planner
        )
        self.store = OutboxStore(self.engine, self.config.delivery)

    def queue(
        self,
        sessions: Sequence[str],
        event: str = "human_requested",
        before: Sequence[Command] = (),
    ) -> list[dict[str, Any]]:
        """One shopper ``event`` per session (a handoff each); the outbox messages it queued."""
        known = {m["message_id"] for m in self.store.messages(limit=10_000)}
        events = [
            RecordEvent(
                session_id=session,
                event_id=f"{session}-{event}-{uuid.uuid4().hex[:8]}",
                type=event,
                ts=self.clock.now,
                source="chat",
            )
            for session in sessions
        ]
        self.repository.apply([*before, *events], now=self.clock.now)
        queued = [m for m in self.store.messages(limit=10_000) if m["message_id"] not in known]
        assert len(queued) == len(sessions) * len(self.config.teams["sales"].channels)
        return queued

    def message(self, message_id: str) -> dict[str, Any]:
        [found] = [m for m in self.store.messages(limit=10_000) if m["message_id"] == message_id]
        return found

    def worker(self) -> OutboxWorker:
        return OutboxWorker(self.engine, self.config, clock=self.clock)

    async def drain(self) -> int:
        """Deliver whatever is due at the clock's time; how many were delivered."""
        return await self.worker().run_until_idle(timeout=8)


MakeShop = Callable[..., Shop]


@pytest.fixture
def shop(engine: Engine) -> MakeShop:
    def make(
        *channels: Channel,
        delivery: Delivery = FAST,
        smtp: Smtp | None = None,
        config: HandoffConfig | None = None,
    ) -> Shop:
        config = config or load_handoff_config(HANDOFF_CONFIG)
        for channel in channels:
            config = config.with_channel(channel)
        return Shop(engine, replace(config, delivery=delivery, smtp=smtp or config.smtp))

    return make


def hook(receiver: Receiver, *secrets: str) -> Channel:
    return Channel("hook", "webhook", url=receiver.url, secrets=secrets or (SECRET_NEW,))


def log_of(message: dict[str, Any]) -> list[tuple[int | None, str]]:
    return [(entry["status_code"], entry["outcome"]) for entry in message["log"]]


# -- the outbox is filled by the write that makes the handoff -------------------------------


def test_a_human_request_queues_one_message_per_channel(engine: Engine) -> None:
    config = (
        load_handoff_config(HANDOFF_CONFIG)
        .with_channel(Channel("hook", "webhook", url="http://127.0.0.1:9/", secrets=(SECRET_NEW,)))
        .with_channel(Channel("managers", "email", to=("sales@shop.example",)))
    )
    planner = HandoffPlanner(config, public_url=PUBLIC_URL, signing_key=b"test-signing-key")
    repository = LeadService(
        engine, scorer_for(Settings(scoring_config_path=SCORING_CONFIG)), planner
    )
    now = datetime.now(timezone.utc)

    result = repository.apply(
        [RecordEvent(session_id="s1", event_id="e1", type="human_requested", ts=now)], now=now
    )

    assert result.leads["s1"].handoff is not None
    messages = OutboxStore(engine, config.delivery).messages()
    assert sorted(m["channel"] for m in messages) == ["hook", "managers"]
    assert {m["status"] for m in messages} == {"pending"}
    assert {m["kind"] for m in messages} == {"lead.handoff"}
    assert len({m["message_id"] for m in messages}) == 2


# -- signatures --------------------------------------------------------------------------


def test_sign_matches_a_hand_computed_hmac_of_the_spec_vector() -> None:
    # The example of the Standard Webhooks specification.
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    message_id, timestamp, body = (
        "msg_p5jXN8AQM9LWM0D4loKWxJek",
        1614265330,
        b'{"test": 2432232314}',
    )
    digest = hmac.new(
        base64.b64decode("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"),
        b"msg_p5jXN8AQM9LWM0D4loKWxJek.1614265330." + body,
        hashlib.sha256,
    ).digest()
    expected = "v1," + base64.b64encode(digest).decode()
    assert expected == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    assert sign((secret,), message_id, timestamp, body) == expected
    # Two secrets while rotating: one signature each, in the order given.
    other = sign((SECRET_OLD,), message_id, timestamp, body)
    assert sign((secret, SECRET_OLD), message_id, timestamp, body) == f"{expected} {other}"
    assert other != expected


async def test_webhook_verifies_with_each_rotated_secret(
    shop: MakeShop, receivers: StartReceiver
) -> None:
    receiver = await receivers()
    s = shop(hook(receiver, SECRET_NEW, SECRET_OLD))
    [message] = s.queue(["ada"])

    # The real clock: the signed timestamp must be the current time.
    assert await OutboxWorker(s.engine, s.config).run_until_idle(timeout=8) == 1

    [request] = receiver.requests
    assert request.webhook_id == message["message_id"]
    assert abs(int(request.headers["webhook-timestamp"]) - time.time()) < 60
    assert request.headers["content-type"].startswith("application/json")
    for secret in (SECRET_NEW, SECRET_OLD):
        data = Webhook(secret).verify(request.body, request.headers)
        assert data["type"] == "lead.handoff"
        assert data["lead"]["id"] == message["lead_id"]
        assert data["lead_url"] == f"{PUBLIC_URL}/leads/{message['lead_id']}"
    with pytest.raises(WebhookVerificationError):
        Webhook(SECRET_OTHER).verify(request.body, request.headers)
    tampered = request.body.replace(message["lead_id"].encode(), b"f" * 32)
    assert tampered != request.body
    with pytest.raises(WebhookVerificationError):
        Webhook(SECRET_NEW).verify(tampered, request.headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(SECRET_NEW).verify(request.body, {**request.headers, "webhook-id": "msg_other"})


# -- outcomes and retries ------------------------------------------------------------------


async def test_a_200_delivers_in_one_attempt(shop: MakeShop, receivers: StartReceiver) -> None:
    receiver = await receivers()
    s = shop(hook(receiver))
    [message] = s.queue(["ada"])

    assert await s.drain() == 1

    stored = s.message(message["message_id"])
    assert stored["status"] == "delivered"
    assert stored["attempts"] == 1
    assert stored["delivered_at"] is not None
    assert [(e["attempt"], e["status_code"], e["outcome"]) for e in stored["log"]] == [
        (1, 200, "delivered")
    ]
    assert s.store.counts() == {"pending": 0, "delivered": 1, "dead": 0}
    # Delivered is final: nothing is sent again.
    s.clock.advance(3600)
    assert await s.drain() == 0
    assert len(receiver.requests) == 1


async def test_retries_follow_the_schedule_with_the_same_webhook_id(
    shop: MakeShop, receivers: StartReceiver
) -> None:
    receiver = await receivers(statuses(500, 500, 200))
    s = shop(hook(receiver))  # schedule 0, 5, 30, 60
    [message] = s.queue(["ada"])
    start = s.clock.now

    assert await s.drain() == 0
    first = s.message(message["message_id"])
    assert first["status"] == "pending"
    assert first["last_status_code"] == 500
    assert close_to(at(first["next_attempt_at"]), start + timedelta(seconds=5))

    s.clock.advance(4.5)  # not due yet
    assert await s.drain() == 0
    assert len(receiver.requests) == 1

    s.clock.advance(0.5)
    assert await s.drain() == 0
    second = s.message(message["message_id"])
    assert close_to(at(second["next_attempt_at"]), start + timedelta(seconds=5 + 30))

    s.clock.advance(30)
    assert await s.drain() == 1

    stored = s.message(message["message_id"])
    assert stored["status"] == "delivered"
    assert stored["attempts"] == 3
    assert log_of(stored) == [(500, "retry"), (500, "retry"), (200, "delivered")]
    assert [at(e["at"]) for e in stored["log"]] == [
        start,
        start + timedelta(seconds=5),
        start + timedelta(seconds=35),
    ]
    assert [r.webhook_id for r in receiver.requests] == [message["message_id"]] * 3
    # Each attempt is signed anew (its own timestamp) and verifies.
    for request in receiver.requests:
        Webhook(SECRET_NEW).verify(request.body, request.headers)
    assert len({r.headers["webhook-timestamp"] for r in receiver.requests}) == 3


@pytest.mark.parametrize("form", ["seconds", "http-date"])
async def test_retry_after_longer_than_the_schedule_wins(
    shop: MakeShop, receivers: StartReceiver, form: str
) -> None:
    s: Shop  # made once the receiver runs; read when the request comes

    def respond(_request: Received, n: int) -> web.Response:
        if n > 1:
            return web.Response(text="ok")
        value = (
            "120"
            if form == "seconds"
            else format_datetime(s.clock.now + timedelta(seconds=120), usegmt=True)
        )
        return web.Response(status=429, headers={"Retry-After": value}, text="slow down")

    receiver = await receivers(respond)
    s = shop(hook(receiver))
    [message] = s.queue(["ada"])
    start = s.clock.now

    assert await s.drain() == 0
    stored = s.message(message["message_id"])
    assert stored["last_status_code"] == 429
    assert log_of(stored) == [(429, "retry")]
    # The schedule says 5 s; the receiver asked for 120 s.
    assert close_to(at(stored["next_attempt_at"]), start + timedelta(seconds=120))

    s.clock.advance(60)
    assert await s.drain() == 0
    assert len(receiver.requests) == 1

    s.clock.advance(60)
    assert await s.drain() == 1
    assert [r.webhook_id for r in receiver.requests] == [message["message_id"]] * 2


async def test_retry_after_shorter_than_the_schedule_does_not_shorten_it(
    shop: MakeShop, receivers: StartReceiver
) -> None:
    def respond(_request: Received, _n: int) -> web.Response:
        return web.Response(status=503, headers={"Retry-After": "1"})

    receiver = await receivers(respond)
    s = shop(hook(receiver))
    [message] = s.queue(["ada"])

    assert await s.drain() == 0
    stored = s.message(message["message_id"])
    assert close_to(at(stored["next_attempt_at"]), s.clock.now + timedelta(seconds=5))


@pytest.mark.parametrize(
    ("sender", "header"),
    [
        ("leads@shop.example", "<msg_1@shop.example>"),
        ("Atelier Nord <hello@atelier.example>", "<msg_1@atelier.example>"),
        ("not an address", "<msg_1@localhost>"),
    ],
)
def test_an_emails_message_id_is_its_outbox_message_on_every_attempt(
    sender: str, header: str
) -> None:
    from bot.handoff.channels import message_id_header

    assert message_id_header("msg_1", sender) == message_id_header("msg_1", sender) == header


def test_parse_retry_after_reads_seconds_and_http_dates() -> None:
    now = datetime(2026, 11, 23, 12, 0, 0, tzinfo=timezone.utc)
    assert parse_retry_after("120", now) == 120.0
    assert parse_retry_after(" 30 ", now) == 30.0
    assert parse_retry_after("Mon, 23 Nov 2026 12:02:00 GMT", now) == 120.0
    assert parse_retry_after(format_datetime(now + timedelta(hours=1), usegmt=True), now) == 3600
    # A date in the past means "now", never a negative wait.
    assert parse_retry_after("Mon, 23 Nov 2026 11:00:00 GMT", now) == 0.0
    for unusable in (None, "", "soon", "-5", "1.5e3"):
        assert parse_retry_after(unusable, now) is None


async def test_410_kills_the_message_and_disables_the_channel(
    shop: MakeShop, receivers: StartReceiver
) -> None:
    receiver = await receivers(statuses(410, 200))
    s = shop(hook(receiver))
    [first] = s.queue(["ada"])

    assert await s.drain() == 0
    gone = s.message(first["message_id"])
    assert gone["status"] == "dead"
    assert log_of(gone) == [(410, "disabled")]
    disabled = s.store.disabled_channels()
    assert list(disabled) == ["hook"]
    assert "410" in disabled["hook"]

    # A later message to the disabled channel is dead-lettered without any request.
    [second] = s.queue(["bob"])
    assert await s.drain() == 0
    assert len(receiver.requests) == 1
    parked = s.message(second["message_id"])
    assert parked["status"] == "dead"
    assert "disabled" in (parked["last_error"] or "")

    # Re-enabled and retried: delivered, with the message's own webhook-id.
    assert s.store.enable_channel("hook") is True
    assert s.store.disabled_channels() == {}
    assert s.store.retry(second["message_id"], s.clock.now) == 1
    assert await s.drain() == 1
    assert [r.webhook_id for r in receiver.requests] == [first["message_id"], second["message_id"]]
    assert s.message(second["message_id"])["status"] == "delivered"
    assert s.message(first["message_id"])["status"] == "dead"  # only the one asked for


async def test_a_receiver_slower_than_the_timeout_is_retried_later(
    shop: MakeShop, receivers: StartReceiver
) -> None:
    receiver = await receivers()
    receiver.respond = lambda _request, n: receiver.hang() if n == 1 else web.Response()
    s = shop(hook(receiver), delivery=replace(FAST, timeout_seconds=0.5))
    [message] = s.queue(["ada"])
    start = s.clock.now

    started = time.monotonic()
    assert await s.drain() == 0
    assert time.monotonic() - started < 5  # gave up at the timeout, not when the receiver answered

    stored = s.message(message["message_id"])
    assert stored["status"] == "pending"
    assert stored["attempts"] == 1
    [entry] = stored["log"]
    assert entry["outcome"] == "retry"
    assert entry["status_code"] is None
    assert "no response" in entry["error"]
    assert close_to(at(stored["next_attempt_at"]), start + timedelta(seconds=5))

    s.clock.advance(5)
    assert await s.drain() == 1
    assert [r.webhook_id for r in receiver.requests] == [message["message_id"]] * 2


async def test_receiver_down_then_up_gets_every_message_exactly_once(
    shop: MakeShop, receivers: StartReceiver
) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}/hooks/leads"
    s = shop(
        Channel("hook", "webhook", url=url, secrets=(SECRET_NEW,)),
        delivery=Delivery(
            timeout_seconds=0.5, retry_schedule=(0,) + (0.2,) * 60, jitter=0.1, concurrency=8
        ),
    )
    messages = s.queue([f"shopper{i}" for i in range(20)])
    ids = {m["message_id"] for m in messages}
    assert len(ids) == 20

    # The real loop and the real clock.
    task = asyncio.create_task(OutboxWorker(s.engine, s.config).run())
    try:
        # Connection refused: every message fails at least twice.
        await eventually(
            lambda: all(m["attempts"] >= 2 for m in s.store.messages(limit=100)),
            timeout=8,
            what="two failed attempts of every message",
        )
        assert s.store.counts()["delivered"] == 0

        # Up again; its first answers come too late, so those messages arrive twice.
        late: list[str] = []

        async def respond(request: Received, n: int) -> web.Response:
            Webhook(SECRET_NEW).verify(request.body, request.headers)
            if n <= 3:
                late.append(request.webhook_id)
                return await receiver.hang(1.0)
            return web.Response(text="ok")

        receiver = await receivers(respond, port=port)
        await eventually(
            lambda: s.store.counts()["delivered"] == 20, timeout=8, what="all 20 delivered"
        )
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    received = {r.webhook_id for r in receiver.requests}  # the receiver deduplicates
    assert received == ids
    assert len(late) == 3
    assert len(receiver.requests) >= 23  # the late ones were sent again, same webhook-id
    for message in s.store.messages(limit=100):
        assert message["status"] == "delivered"
        outcomes = [entry["outcome"] for entry in message["log"]]
        assert outcomes[-1] == "delivered"
        assert outcomes.count("delivered") == 1
        assert set(outcomes[:-1]) == {"retry"}
        assert len(outcomes) >= 3
        assert any("ClientConnectorError" in (e["error"] or "") for e in message["log"])
    assert s.store.counts() == {"pending": 0, "delivered": 20, "dead": 0}


async def test_dead_letter_after_the_last_scheduled_try_and_retry(
    shop: MakeShop, receivers: StartReceiver
) -> None:
    receiver = await receivers(statuses(500))
    s = shop(hook(receiver), delivery=replace(FAST, retry_schedule=(0, 5, 30)))
    [message] = s.queue(["ada"])

    assert await s.drain() == 0
    s.clock.advance(5)
    assert await s.drain() == 0
    s.clock.advance(30)
    assert await s.drain() == 0

    dead = s.message(message["message_id"])
    assert dead["status"] == "dead"
    assert dead["attempts"] == 3
    assert dead["dead_at"] is not None
    assert dead["next_attempt_at"] is None
    assert log_of(dead) == [(500, "retry"), (500, "retry"), (500, "dead")]
    assert s.store.counts() == {"pending": 0, "delivered": 0, "dead": 1}

    s.clock.advance(24 * 3600)  # a dead letter stays dead
    assert await s.drain() == 0
    assert len(receiver.requests) == 3

    receiver.respond = ok
    assert s.store.retry(message["message_id"], s.clock.now) == 1
    requeued = s.message(message["message_id"])
    assert requeued["status"] == "pending"
    assert requeued["attempts"] == 0
    assert await s.drain() == 1
    delivered = s.message(message["message_id"])
    assert delivered["status"] == "delivered"
    assert log_of(delivered)[-1] == (200, "delivered")
    assert [r.webhook_id for r in receiver.requests] == [message["message_id"]] * 4
    assert s.store.retry(message["message_id"], s.clock.now) == 0  # only dead letters


async def test_retry_all_dead_letters(shop: MakeShop, receivers: StartReceiver) -> None:
    receiver = await receivers(statuses(500, 500, 200))
    s = shop(hook(receiver), delivery=replace(FAST, retry_schedule=(0,)))
    messages = s.queue(["ada", "bob"])
    assert await s.drain() == 0
    assert s.store.counts()["dead"] == 2

    assert s.store.retry(None, s.clock.now, all_dead=True) == 2
    assert await s.drain() == 2
    assert {r.webhook_id for r in receiver.requests} == {m["message_id"] for m in messages}


async def test_an_urgent_message_jumps_a_backlog(
    engine: Engine, tmp_path: Path, receivers: StartReceiver
) -> None:
    receiver = await receivers()
    data = yaml.safe_load(HANDOFF_CONFIG.read_text())
    data["channels"] = {
        "hook": {"type": "webhook", "url": "${HOOK_URL}", "secrets": ["${HOOK_SECRET}"]}
    }
    data["teams"]["sales"]["channels"] = ["hook"]
    data["triggers"] = [
        {"name": "browsing", "when": {"event": "product_view"}, "sla": "same_business_day"},
        {"name": "human_requested", "when": {"event": "human_requested"}, "sla": "immediate"},
    ]
    for trigger in data["triggers"]:
        trigger["team"] = "sales"
    data["delivery"] = {"timeout": "1s", "retry_schedule": ["0s", "5s"], "jitter": 0}
    data["delivery"]["concurrency"] = 1
    path = tmp_path / "handoff.yml"
    path.write_text(yaml.safe_dump(data))
    config = load_handoff_config(path, {"HOOK_URL": receiver.url, "HOOK_SECRET": SECRET_NEW})
    assert config.trigger("human_requested").rank < config.trigger("browsing").rank
    s = Shop(engine, config)

    backlog = s.queue([f"browser{i}" for i in range(50)], event="product_view")
    s.clock.advance(1)  # the urgent one is also the newest
    [urgent] = s.queue(["vip"], event="human_requested")

    [claimed] = s.store.claim(1, s.clock.now)
    assert claimed.message_id == urgent["message_id"]
    assert claimed.payload["handoff"]["priority"] == 0
    assert {m["message_id"] for m in backlog} & {claimed.message_id} == set()

    # The lease runs out; a worker delivering one at a time also starts with it.
    s.clock.advance(s.store.lease.total_seconds() + 1)
    assert await s.drain() == 51
    assert receiver.requests[0].webhook_id == urgent["message_id"]
    assert {r.webhook_id for r in receiver.requests[1:]} == {m["message_id"] for m in backlog}


# -- Slack and email ------------------------------------------------------------------------

SHOPPER = "ada"


def message_payload(s: Any, message: dict[str, Any]) -> dict[str, Any]:
    """The notification body a queued message carries."""
    with s.repository.engine.connect() as connection:
        payload: dict[str, Any] = connection.execute(
            select(OutboxMessage.__table__.c.payload).where(
                OutboxMessage.__table__.c.message_id == message["message_id"]
            )
        ).scalar_one()
    return payload


def shopper_details(now: datetime) -> list[Command]:
    """A shopper whose name and answer contain markup."""
    return [
        UpdateContact(
            session_id=SHOPPER,
            first_name="Ada <b>",
            last_name="Lovelace & Co",
            email="ada@example.com",
        ),
        RecordAnswer(
            session_id=SHOPPER,
            answer_id="ada-timeline",
            key="timeline",
            raw="next week <script>alert(1)</script> & soon",
            value={"days": 7},
            status="answered",
            answered_at=now,
        ),
    ]


def mrkdwn_texts(message: Any) -> list[str]:
    """Every mrkdwn text of a Slack message, at any depth."""
    found: list[str] = []
    if isinstance(message, dict):
        if message.get("type") == "mrkdwn":
            found.append(message["text"])
        for value in message.values():
            found += mrkdwn_texts(value)
    elif isinstance(message, list):
        for item in message:
            found += mrkdwn_texts(item)
    return found


async def test_slack_message_shows_the_lead_and_escapes_shopper_text(
    shop: MakeShop, receivers: StartReceiver
) -> None:
    receiver = await receivers()
    s = shop(Channel("sales-slack", "slack", url=receiver.url))
    [message] = s.queue([SHOPPER], before=shopper_details(s.clock.now))

    assert await s.drain() == 1

    [request] = receiver.requests
    assert request.headers["content-type"].startswith("application/json")
    body = request.json()
    lead = s.repository.get_lead(message["lead_id"])
    assert lead is not None
    assert lead["reasons"], "the scorer gave the lead a reason"
    texts = mrkdwn_texts(body["blocks"])
    everything = "\n".join(texts)
    assert "*Name*\nAda &lt;b&gt; Lovelace &amp; Co" in texts
    assert any(t.startswith("*Stage*\n" + lead["stage"]) for t in texts)
    assert any(t.startswith(f"*Score*\n{lead['score']} ") for t in texts)
    top = lead["reasons"][0]["detail"]
    assert top.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;") in everything
    assert "next week &lt;script&gt;alert(1)&lt;/script&gt; &amp; soon" in everything
    # The brief: the summary paragraph and the next step, escaped like the rest.
    summary = message_payload(s, message)["summary"]
    assert summary.startswith("Ada <b> Lovelace & Co")
    assert summary.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;") in texts
    assert any(t.startswith("Next step: Email Ada &lt;b&gt; Lovelace &amp; Co ") for t in texts)
    # Shopper text never reaches Slack as markup: no raw <, and every & is an entity.
    for text in [*texts, body["text"]]:
        assert "<" not in text
        assert not re.search(r"&(?!amp;|lt;|gt;)", text), text
    buttons = [
        element
        for block in body["blocks"]
        if block["type"] == "actions"
        for element in block["elements"]
        if element["type"] == "button"
    ]
    assert f"{PUBLIC_URL}/leads/{message['lead_id']}" in [b["url"] for b in buttons]
    assert s.message(message["message_id"])["status"] == "delivered"


async def test_email_has_subject_recipients_text_and_escaped_html(shop: MakeShop) -> None:
    port = free_port()
    with smtp_server(port) as inbox:
        s = shop(
            Channel("managers", "email", to=("sales@shop.example", "boss@shop.example")),
            smtp=Smtp(host="127.0.0.1", port=port, sender="leads@shop.example"),
        )
        [message] = s.queue([SHOPPER], before=shopper_details(s.clock.now))
        assert await s.drain() == 1

    [envelope] = inbox.envelopes
    assert envelope.mail_from == "leads@shop.example"
    assert sorted(envelope.rcpt_tos) == ["boss@shop.example", "sales@shop.example"]
    mail = email.message_from_bytes(envelope.original_content, policy=policy.default)
    lead = s.repository.get_lead(message["lead_id"])
    assert lead is not None
    headline = (
        f"New lead for sales: Ada <b> Lovelace & Co ({lead['stage']}, score {lead['score']})"
        " — human requested, answer by "
    )
    # The stdlib folds the long subject before the encoded dash; unfolding leaves two spaces.
    subject = " ".join(str(mail["Subject"]).split())
    assert subject.startswith(headline)
    assert subject.endswith(" UTC")
    assert mail["To"] == "sales@shop.example, boss@shop.example"
    assert mail["From"] == "leads@shop.example"
    # The outbox message's id: a retry of the same notification is the same email.
    assert mail["Message-ID"] == f"<{message['message_id']}@shop.example>"
    text = mail.get_body(("plain",)).get_content()
    html = mail.get_body(("html",)).get_content()
    assert subject in text
    assert f"{PUBLIC_URL}/leads/{message['lead_id']}" in text
    assert "next week <script>alert(1)</script> & soon" in text  # plain text stays as typed
    assert "next week &lt;script&gt;alert(1)&lt;/script&gt; &amp; soon" in html
    assert "Ada &lt;b&gt; Lovelace &amp; Co" in html
    payload = message_payload(s, message)
    assert payload["summary"] in text
    assert f"Next step: {payload['next_step']}" in text
    assert "<script" not in html.lower()
    assert "<b>" not in html
    assert f'href="{PUBLIC_URL}/leads/{message["lead_id"]}"' in html
    assert s.message(message["message_id"])["status"] == "delivered"


async def test_email_with_the_mail_server_down_is_retried(shop: MakeShop) -> None:
    port = free_port()
    s = shop(
        Channel("managers", "email", to=("sales@shop.example",)),
        smtp=Smtp(host="127.0.0.1", port=port, sender="leads@shop.example"),
    )
    [message] = s.queue(["ada"])
    start = s.clock.now

    assert await s.drain() == 0
    stored = s.message(message["message_id"])
    assert stored["status"] == "pending"
    [entry] = stored["log"]
    assert entry["outcome"] == "retry"
    assert entry["error"]
    assert close_to(at(stored["next_attempt_at"]), start + timedelta(seconds=5))

    with smtp_server(port) as inbox:
        s.clock.advance(5)
        assert await s.drain() == 1
    assert len(inbox.envelopes) == 1
    assert s.message(message["message_id"])["status"] == "delivered"


async def test_an_email_attempt_ends_within_the_timeout_however_slow_the_server(
    shop: MakeShop,
) -> None:
    # Each SMTP command is answered within the timeout, the whole dialogue is not:
    # an attempt outliving the lease (timeout + 5 s) could be claimed and sent twice.
    port = free_port()
    with smtp_server(port, SlowInbox()) as inbox:
        s = shop(
            Channel("managers", "email", to=tuple(f"rep{i}@shop.example" for i in range(12))),
            smtp=Smtp(host="127.0.0.1", port=port, sender="leads@shop.example"),
        )
        [message] = s.queue(["ada"])
        started = time.monotonic()
        assert await s.drain() == 0
        elapsed = time.monotonic() - started

    assert elapsed < s.config.delivery.timeout_seconds + 3
    assert inbox.envelopes == []
    stored = s.message(message["message_id"])
    assert stored["status"] == "pending"
    [entry] = stored["log"]
    assert entry["outcome"] == "retry"
    assert "no response within 1 s" in entry["error"]


# -- a worker dying mid-delivery ------------------------------------------------------------


async def test_a_crashed_worker_s_message_is_delivered_after_its_lease(
    shop: MakeShop, receivers: StartReceiver
) -> None:
    receiver = await receivers()
    receiver.respond = lambda _request, n: receiver.hang() if n == 1 else web.Response()
    s = shop(hook(receiver), delivery=replace(FAST, timeout_seconds=5))
    [message] = s.queue(["ada"])

    crashed = asyncio.create_task(s.worker().run())
    try:
        await eventually(lambda: len(receiver.requests) == 1, timeout=5, what="the first request")
    finally:
        crashed.cancel()  # dies mid-delivery: nothing is recorded
        with contextlib.suppress(asyncio.CancelledError):
            await crashed

    stored = s.message(message["message_id"])
    assert stored["status"] == "pending"
    assert stored["log"] == []

    # While the lease runs, no other worker sends it again.
    s.clock.advance(s.store.lease.total_seconds() - 1)
    assert await s.drain() == 0
    assert len(receiver.requests) == 1

    s.clock.advance(2)
    assert await s.drain() == 1
    assert [r.webhook_id for r in receiver.requests] == [message["message_id"]] * 2
    delivered = s.message(message["message_id"])
    assert delivered["status"] == "delivered"
    assert log_of(delivered) == [(200, "delivered")]


def test_slack_sections_stay_within_slacks_limit() -> None:
    """Slack refuses a section over 3,000 characters: long answers are cut, not dead letters."""
    long_answer = "&<" * 2500
    payload = {
        "type": "lead.handoff",
        "action": "created",
        "lead": {
            "first_name": "Ada",
            "last_name": None,
            "email": None,
            "phone": None,
            "stage": "hot",
            "qualification": "SQL",
            "score": 80,
            "intent_score": 60,
            "fit_score": 20,
            "reasons": [{"points": 30, "rule": "intent", "detail": "started checkout"}],
            "answers": {
                key: {"raw": long_answer, "value": None, "status": "answered"}
                for key in ("timeline", "variant", "location", "budget")
            },
        },
        "handoff": {
            "trigger": "human_requested",
            "sla": "immediate",
            "due_at": "2026-11-23T10:15:00+00:00",
            "assigned_to": "Camille",
        },
        "journey": [],
        "lead_url": "https://leads.example/leads/1",
        "ack_url": "https://leads.example/handoffs/1/ack?token=t",
    }
    texts = mrkdwn_texts(slack_message(payload))
    assert texts and all(len(text) <= 3000 for text in texts)
    assert any("&amp;&lt;" in text for text in texts)
