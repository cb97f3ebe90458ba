"""Two web apps on one PostgreSQL lead store and one Redis: deliveries once, one rate limit.

Two real ``python -m bot web`` processes (their own ports, the same ``DATABASE_URL``
and ``RATE_LIMIT_REDIS_URL`` with this module's key prefix) run for the whole
module. Each runs an outbox worker; the handoff webhook channel
(``HANDOFF_WEBHOOK_URL``) points at a receiver in this test process, which checks
every signature and records who sent what.

- 2,000 handoffs written by the lead service in this process (as the action server
  and the events API write them) reach the receiver exactly once each: counted by
  ``webhook-id`` and by handoff id, while both workers deliver, and still after both
  web apps stopped (no late second copy).
- The form's limit is one limit across both apps: of N + k submissions sent
  alternately to each, exactly N are accepted; failed sign-ins at either app count
  against one sign-in limit.

Marked ``postgres`` (through the database fixture) and ``redis``.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import pytest
import redis
import requests
from aiohttp import web
from sqlalchemy import func, select
from standardwebhooks.webhooks import Webhook

from bench.databases import scratch_database
from bot.handoff import ENV_WEBHOOK, planner_for
from bot.handoff.outbox import OutboxStore
from bot.leads import LeadService
from bot.leads.commands import RecordEvent
from bot.scoring import scorer_for
from bot.settings import PROJECT_ROOT, Settings
from bot.store.db import create_db_engine
from bot.store.migrate import upgrade
from bot.store.models import DeliveryAttempt
from tests.conftest import SCRATCH_PREFIX
from tests.handoff.always_open import always_open_team
from tests.scoring import SCORING_CONFIG

pytestmark = [pytest.mark.redis]

HANDOFFS = 2000
BATCH = 100
FORM_LIMIT = 4
LOGIN_LIMIT = 3
START_SECONDS = 90.0
DELIVERY_SECONDS = 300.0
SECRET = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
# Always open, one rep with room for every handoff: the promise and the assignment
# do not depend on when the suite runs.
HANDOFF_YAML = (
    """
slas:
  immediate: {respond_within_minutes: 15}
"""
    + always_open_team(10000)
    + """triggers:
  - {name: human_requested, when: {event: human_requested}, sla: immediate, team: sales}
delivery:
  timeout: 10s
  retry_schedule: [0s, 1s, 2s, 5s]
  jitter: 0
  concurrency: 16
"""
)


@dataclass(frozen=True)
class Delivery:
    """One webhook request as the receiver saw it (signature already verified)."""

    webhook_id: str
    handoff_id: str
    session_id: str
    peer_port: int


class Receiver:
    """An aiohttp webhook endpoint on loopback, on its own thread and event loop."""

    def __init__(self) -> None:
        self.deliveries: list[Delivery] = []
        self.rejected: list[str] = []
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._runner: web.AppRunner | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/leads"

    def snapshot(self) -> list[Delivery]:
        with self._lock:
            return list(self.deliveries)

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        try:
            payload = Webhook(SECRET).verify(body, dict(request.headers))
        except Exception as error:
            with self._lock:
                self.rejected.append(f"{type(error).__name__}: {error}")
            return web.Response(status=400)
        peer = request.transport.get_extra_info("peername") if request.transport else None
        with self._lock:
            self.deliveries.append(
                Delivery(
                    request.headers["webhook-id"],
                    payload["handoff"]["id"],
                    payload["lead"]["session_id"],
                    peer[1] if peer else 0,
                )
            )
        return web.Response(text="ok")

    async def _start(self) -> None:
        app = web.Application()
        app.router.add_post("/hooks/leads", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]

    def __enter__(self) -> Receiver:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(30)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(30)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(30)
        self._loop.close()


def _http() -> requests.Session:
    http = requests.Session()
    http.trust_env = False  # no proxy for loopback
    return http


class WebApp:
    """``python -m bot web`` in its own process group, logging to a file."""

    def __init__(self, base: Path, env: dict[str, str]) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = int(probe.getsockname()[1])
        self.env = {**env, "WEB_PORT": str(self.port), "WEB_HOST": "127.0.0.1"}
        self.log = base / f"web-{self.port}.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def log_tail(self) -> str:
        try:
            return self.log.read_text(errors="replace")[-3000:]
        except OSError:
            return "(no log)"

    def start(self) -> None:
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "bot", "web"],
                cwd=PROJECT_ROOT,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def wait_healthy(self, http: requests.Session) -> None:
        assert self.process is not None
        deadline = time.monotonic() + START_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"web app exited with {self.process.returncode}:\n{self.log_tail()}")
            with contextlib.suppress(requests.RequestException):
                if http.get(f"{self.url}/healthz", timeout=2).status_code == 200:
                    return
            time.sleep(0.2)
        pytest.fail(f"web app not healthy after {START_SECONDS:.0f} s:\n{self.log_tail()}")

    def stop(self) -> None:
        """Ctrl-C (the worker stops, the app cleans up), SIGKILL if that does not end it."""
        if self.process is None or self.process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGINT)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)


@dataclass
class Cluster:
    """Two web apps, their shared database and Redis prefix, and the webhook receiver."""

    apps: tuple[WebApp, WebApp]
    settings: Settings
    receiver: Receiver
    redis_url: str
    prefix: str
    env: dict[str, str]


@pytest.fixture(scope="module")
def database(postgres_admin_url: str) -> Iterator[str]:
    """A migrated PostgreSQL database of this module's own."""
    with scratch_database("postgres", postgres_admin_url, SCRATCH_PREFIX) as url:
        upgrade(url)
        yield url


@pytest.fixture(scope="module")
def cluster(
    database: str, redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Cluster]:
    base = tmp_path_factory.mktemp("web-apps")
    config = base / "handoff.yml"
    config.write_text(HANDOFF_YAML, encoding="utf-8")
    prefix = f"test:{uuid.uuid4().hex}:"
    with Receiver() as receiver:
        env = {
            **os.environ,
            "DATABASE_URL": database,
            "TRACKER_STORE_URL": f"sqlite:///{base / 'tracker.db'}",
            "LEADS_API_TOKEN": f"api-{uuid.uuid4().hex}",
            "STOREFRONT_TOKEN": f"shop-{uuid.uuid4().hex}",
            "SESSION_SECRET": uuid.uuid4().hex,
            "ACTIONS_TOKEN": uuid.uuid4().hex,
            "LEADS_SPOOL_DIR": str(base / "spool"),
            "HANDOFF_CONFIG": str(config),
            "HANDOFF_WEBHOOK_URL": receiver.url,
            "HANDOFF_WEBHOOK_SECRET": SECRET,
            "RATE_LIMIT_REDIS_URL": redis_url,
            "RATE_LIMIT_PREFIX": prefix,
            "FORM_RATE_LIMIT": str(FORM_LIMIT),
            "LOGIN_RATE_LIMIT": str(LOGIN_LIMIT),
            "SCORING_CONFIG": str(SCORING_CONFIG),
            "DEMO_SHOP": "0",
            "PYTHONPATH": str(PROJECT_ROOT),
            "RASA_TELEMETRY_ENABLED": "false",
        }
        apps = (WebApp(base, env), WebApp(base, env))
        try:
            for app in apps:
                app.start()
            http = _http()
            for app in apps:
                app.wait_healthy(http)
            yield Cluster(apps, Settings.from_env(env), receiver, redis_url, prefix, env)
        finally:
            for app in apps:
                app.stop()
            client = redis.Redis.from_url(redis_url)
            try:
                leftovers = list(client.scan_iter(match=f"{prefix}*"))
                if leftovers:
                    client.delete(*leftovers)
            finally:
                client.close()


def _socket_owners(pids: list[int], remote_port: int) -> dict[int, int]:
    """Local port → pid of each of ``pids``' TCP connections to ``remote_port`` (Linux /proc)."""
    inode_pid: dict[str, int] = {}
    for pid in pids:
        fd_dir = Path(f"/proc/{pid}/fd")
        for fd in fd_dir.iterdir():
            with contextlib.suppress(OSError):
                found = re.fullmatch(r"socket:\[(\d+)\]", os.readlink(fd))
                if found:
                    inode_pid[found.group(1)] = pid
    owners: dict[int, int] = {}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                fields = line.split()
                local, remote, inode = fields[1], fields[2], fields[9]
                if int(remote.rsplit(":", 1)[1], 16) == remote_port and inode in inode_pid:
                    owners[int(local.rsplit(":", 1)[1], 16)] = inode_pid[inode]
    return owners


def _settled(outbox: OutboxStore) -> dict[str, int]:
    """The outbox's counts once nothing is pending (or ``DELIVERY_SECONDS`` passed)."""
    deadline = time.monotonic() + DELIVERY_SECONDS
    while time.monotonic() < deadline and outbox.counts()["pending"]:
        time.sleep(0.5)
    return outbox.counts()


def test_two_web_apps_share_one_form_rate_limit(cluster: Cluster) -> None:
    http = _http()
    extra = 4
    answers = []
    for n in range(FORM_LIMIT + extra):
        app = cluster.apps[n % 2]
        response = http.post(
            f"{app.url}/api/create-lead",
            data={
                "first_name": "Ada",
                "last_name": "Lovelace",
                "email": f"ada-{uuid.uuid4().hex[:10]}@example.com",
                "consent": "yes",
            },
            allow_redirects=False,
            timeout=30,
        )
        answers.append(response)

    statuses = [response.status_code for response in answers]
    assert statuses.count(201) == FORM_LIMIT
    assert statuses.count(429) == extra
    # Each app accepted its share: alone, each would have accepted FORM_LIMIT.
    assert statuses[:FORM_LIMIT] == [201] * FORM_LIMIT
    for response in answers[FORM_LIMIT:]:
        # One submission comes back every 60 / FORM_LIMIT s.
        assert 1 <= int(response.headers["Retry-After"]) <= 60 // FORM_LIMIT
        assert f"at most {FORM_LIMIT} per minute" in response.json()["error"]["message"]
    client = redis.Redis.from_url(cluster.redis_url)
    try:
        assert client.exists(f"{cluster.prefix}form:127.0.0.1") == 1
    finally:
        client.close()


def test_two_web_apps_share_one_sign_in_limit(cluster: Cluster) -> None:
    http = _http()
    token = cluster.env["LEADS_API_TOKEN"]

    def sign_in(app: WebApp, with_token: str) -> requests.Response:
        return http.post(
            f"{app.url}/login",
            data={"token": with_token, "name": "Mia"},
            allow_redirects=False,
            timeout=30,
        )

    # Failed sign-ins spread over both apps count against one limit.
    failures = [sign_in(cluster.apps[n % 2], "guess").status_code for n in range(LOGIN_LIMIT)]
    assert failures == [401] * LOGIN_LIMIT
    for app in cluster.apps:
        refused = sign_in(app, token)  # even the right token waits
        assert refused.status_code == 429
        # The sign-in page rounds its wait up by a whole second.
        assert 1 <= int(refused.headers["Retry-After"]) <= 60 // LOGIN_LIMIT + 1
        assert "Too many failed sign-ins" in refused.text


def test_two_web_apps_deliver_2000_handoffs_exactly_once(cluster: Cluster) -> None:
    settings = cluster.settings
    engine = create_db_engine(settings.database_url)
    try:
        service = LeadService(
            engine,
            scorer_for(settings),
            planner_for(settings),
        )
        outbox = OutboxStore(engine, planner_for(settings).config.delivery)
        already = _settled(outbox)["delivered"]
        run = uuid.uuid4().hex[:8]
        sessions = [f"cluster-{run}-{n}" for n in range(HANDOFFS)]
        # Written while both workers deliver, as shoppers' writes arrive.
        for start in range(0, HANDOFFS, BATCH):
            now = datetime.now(timezone.utc)
            service.apply(
                [
                    RecordEvent(
                        session_id=session,
                        event_id=f"{session}-human",
                        type="human_requested",
                        ts=now,
                        source="chat",
                    )
                    for session in sessions[start : start + BATCH]
                ],
                now=now,
            )

        counts = _settled(outbox)
        mine = [d for d in cluster.receiver.snapshot() if d.session_id.startswith(f"cluster-{run}")]
        owners = _socket_owners([app.pid for app in cluster.apps], cluster.receiver.port)

        assert counts == {"pending": 0, "delivered": already + HANDOFFS, "dead": 0}
        assert cluster.receiver.rejected == []
        assert len(mine) == HANDOFFS
        assert len({d.webhook_id for d in mine}) == HANDOFFS
        assert len({d.handoff_id for d in mine}) == HANDOFFS
        assert {d.session_id for d in mine} == set(sessions)
        # Both workers delivered (a sender is known while its keep-alive connection is open).
        senders = {owners[d.peer_port] for d in mine if d.peer_port in owners}
        assert senders == {app.pid for app in cluster.apps}
        with engine.connect() as connection:
            attempts = connection.execute(
                select(DeliveryAttempt.outcome, DeliveryAttempt.attempt, func.count()).group_by(
                    DeliveryAttempt.outcome, DeliveryAttempt.attempt
                )
            ).all()
        # One attempt per message: no lease ran out and no message was claimed twice.
        assert [tuple(row) for row in attempts] == [("delivered", 1, already + HANDOFFS)]

        # Stopped, the workers leave nothing in flight: still one request per handoff.
        for app in cluster.apps:
            app.stop()
        mine = [d for d in cluster.receiver.snapshot() if d.session_id.startswith(f"cluster-{run}")]
        assert len(mine) == HANDOFFS
        assert {m["channel"] for m in outbox.messages(limit=5)} == {ENV_WEBHOOK}
    finally:
        engine.dispose()
