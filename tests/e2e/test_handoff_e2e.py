"""Handoff end to end: a shopper asks for a person, sales' webhook hears about it, once.

Runs the real processes with a webhook channel pointing at a receiver in this
test process (loopback), on a team that is always open so the promise the bot
makes does not depend on when the suite runs. A second test kills the web app
(SIGKILL) while a delivery is in flight and checks that the restarted worker
delivers the same message (same ``webhook-id``) exactly once.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import secrets
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests
from standardwebhooks.webhooks import Webhook

from bot.devstack import DevStack, StackPorts
from bot.settings import PROJECT_ROOT
from tests.handoff.always_open import always_open_team

pytestmark = pytest.mark.e2e

MODEL = PROJECT_ROOT / "models" / "current.tar.gz"
SECRET = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
WAIT_SECONDS = 30.0
ALWAYS_OPEN = (
    """
slas:
  immediate: {respond_within_minutes: 15}
  same_business_day: {by: end_of_business_day}
"""
    + always_open_team()
    + """triggers:
  - {name: human_requested, when: {event: human_requested}, sla: immediate, team: sales}
  - {name: cart_add, when: {event: add_to_cart}, sla: immediate, team: sales}
delivery:
  timeout: 2s
  retry_schedule: [0s, 1s, 2s, 5s]
  jitter: 0
"""
)


class Receiver:
    """A webhook endpoint on loopback that records every request.

    ``hang_first`` makes the first request wait (until released) without answering,
    as a receiver would while the sender is killed mid-delivery.
    """

    def __init__(self, *, hang_first: bool = False) -> None:
        self.requests: list[dict[str, Any]] = []
        self.release = threading.Event()
        self.hang_first = hang_first
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                receiver.requests.append({"headers": dict(self.headers), "body": body})
                if receiver.hang_first and len(receiver.requests) == 1:
                    receiver.release.wait(timeout=WAIT_SECONDS)
                    return
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                """Quiet."""

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hooks/leads"

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()

    def wait_for(self, count: int) -> list[dict[str, Any]]:
        deadline = time.monotonic() + WAIT_SECONDS
        while time.monotonic() < deadline and len(self.requests) < count:
            time.sleep(0.1)
        assert len(self.requests) >= count, f"got {len(self.requests)} request(s), want {count}"
        return self.requests


def _delivered_after_now(stack: DevStack) -> None:
    """Return once the outbox worker has delivered a notification queued after this call.

    The probe is another shopper's cart add, an ``immediate`` handoff like a human request.
    The worker claims due notifications most urgent and oldest first, so by the time the
    probe's delivery is recorded, every notification queued before it has been claimed and
    shows in its handoff's ``deliveries`` (pending while in flight).
    """
    session = f"probe-{uuid.uuid4()}"
    response = stack.post_events(
        [
            {
                "event_id": f"{session}-cart",
                "session_id": session,
                "type": "add_to_cart",
                "ts": datetime.now(timezone.utc).isoformat(),
                "product_id": "hoodie-classic",
                "variant_id": "hoodie-classic-blue-m",
            }
        ]
    )
    assert response.status_code == 202, response.text
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        leads = stack.api_get("/api/v2/leads", {"session_id": session})["items"]
        params = {"lead_id": leads[0]["id"]} if leads else None
        handoffs = stack.api_get("/api/v2/handoffs", params)["items"] if params else []
        if handoffs and handoffs[0]["deliveries"].get("delivered") == 1:
            return
        assert time.monotonic() < deadline, f"the probe was not delivered: {handoffs}"
        time.sleep(0.1)


def _verified(request: dict[str, Any]) -> dict[str, Any]:
    """The JSON body, after checking its signature with the spec's reference library."""
    headers = {key.lower(): value for key, value in request["headers"].items()}
    payload: dict[str, Any] = Webhook(SECRET).verify(request["body"], headers)
    return payload


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    with Receiver() as running:
        yield running


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, receiver: Receiver) -> Iterator[DevStack]:
    if not MODEL.exists():
        pytest.fail(f"no trained model at {MODEL}: run `make train` first", pytrace=False)
    base = tmp_path_factory.mktemp("handoff-e2e")
    config = base / "handoff.yml"
    config.write_text(ALWAYS_OPEN, encoding="utf-8")
    environ = {
        **os.environ,
        "HANDOFF_CONFIG": str(config),
        "HANDOFF_WEBHOOK_URL": receiver.url,
        "HANDOFF_WEBHOOK_SECRET": SECRET,
    }
    with DevStack.in_folder(
        PROJECT_ROOT,
        base,
        model=MODEL,
        environ=environ,
    ) as running:
        yield running


def test_asking_for_a_person_notifies_sales_once_with_a_truthful_promise(
    stack: DevStack, receiver: Receiver
) -> None:
    sender = f"handoff-{uuid.uuid4()}"
    stack.chat(sender, "hello")
    replies = [
        reply.get("text") or "" for reply in stack.chat(sender, "can I talk to a real person?")
    ]

    # The team is always open and the SLA is 15 minutes: that is what the shopper hears.
    assert any(
        "I've passed your request to our sales team. A specialist will get back to you "
        "within 15 minutes." in text
        for text in replies
    ), replies
    stack.chat(sender, "can I talk to a real person?")  # asking twice hands off once

    requests_seen = receiver.wait_for(1)
    payload = _verified(requests_seen[0])
    assert payload["type"] == "lead.handoff"
    assert payload["trigger"] == "human_requested"
    assert payload["lead"]["session_id"] == sender
    assert payload["handoff"]["assigned_to"] == "Camille"
    assert payload["lead_url"].endswith(f"/leads/{payload['lead']['id']}")
    _delivered_after_now(stack)  # a second handoff would have been claimed by now
    mine = [r for r in receiver.requests if _verified(r)["lead"]["session_id"] == sender]
    assert len(mine) == 1

    handoffs = stack.api_get("/api/v2/handoffs", {"lead_id": payload["lead"]["id"]})["items"]
    assert [h["trigger"] for h in handoffs] == ["human_requested"]
    assert handoffs[0]["deliveries"] == {"delivered": 1, "pending": 0, "dead": 0}


class WebApp:
    """``python -m bot web`` in its own process group."""

    def __init__(self, base: Path, env: dict[str, str]) -> None:
        self.port = StackPorts.free().web
        self.env = {**env, "WEB_PORT": str(self.port), "WEB_HOST": "127.0.0.1"}
        self.log = base / f"web-{self.port}.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

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
        http = requests.Session()
        http.trust_env = False
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.log.read_text(errors="replace")[-3000:]
            with contextlib.suppress(requests.RequestException):
                if http.get(f"{self.url}/healthz", timeout=2).status_code == 200:
                    return
            time.sleep(0.2)
        pytest.fail("web app did not start")

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)


def test_killing_the_worker_mid_delivery_resumes_with_the_same_webhook_id(
    tmp_path: Path,
) -> None:
    from bot.store.migrate import upgrade

    database = tmp_path / "leads.db"
    upgrade(f"sqlite:///{database}")
    config = tmp_path / "handoff.yml"
    config.write_text(ALWAYS_OPEN, encoding="utf-8")
    shop_token = f"shop-{uuid.uuid4().hex}"
    with Receiver(hang_first=True) as receiver:
        env = {
            **os.environ,
            "DATABASE_URL": f"sqlite:///{database}",
            "LEADS_API_TOKEN": f"api-{uuid.uuid4().hex}",
            "STOREFRONT_TOKEN": shop_token,
            "SESSION_SECRET": uuid.uuid4().hex,
            "LEADS_SPOOL_DIR": str(tmp_path / "spool"),
            "HANDOFF_CONFIG": str(config),
            "HANDOFF_WEBHOOK_URL": receiver.url,
            "HANDOFF_WEBHOOK_SECRET": SECRET,
            "PYTHONPATH": str(PROJECT_ROOT),
            "RASA_TELEMETRY_ENABLED": "false",
        }
        first = WebApp(tmp_path, env)
        second = WebApp(tmp_path, env)
        try:
            first.start()
            http = requests.Session()
            http.trust_env = False
            response = http.post(
                f"{first.url}/api/v2/events",
                json={
                    "event_id": f"cart-{uuid.uuid4().hex}",
                    "session_id": f"shopper-{uuid.uuid4().hex}",
                    "type": "add_to_cart",
                    "ts": datetime.now(timezone.utc).isoformat(),
                    "product_id": "hoodie-classic",
                    "variant_id": "hoodie-classic-blue-m",
                    "value": "59.00",
                },
                headers={"Authorization": f"Bearer {shop_token}"},
                timeout=10,
            )
            assert response.status_code == 202, response.text
            receiver.wait_for(1)  # the delivery is in flight: the receiver holds it
            first.kill()
            receiver.release.set()
            second.start()
            # The dead worker's lease (timeout + 5 s) runs out, then the new one retries.
            received = receiver.wait_for(2)
        finally:
            first.kill()
            second.kill()
    ids = [request["headers"]["webhook-id"] for request in received]
    assert ids[0] == ids[1]
    assert _verified(received[1])["type"] == "lead.handoff"
    # The receiver answers before the worker records the delivery: wait for the record.
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        with contextlib.closing(sqlite3.connect(database)) as connection:
            rows = connection.execute("SELECT message_id, status FROM outbox").fetchall()
        if rows != [(ids[0], "pending")] or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert rows == [(ids[0], "delivered")]
    assert (
        json.loads(received[1]["body"])["handoff"]["id"]
        == json.loads(received[0]["body"])["handoff"]["id"]
    )


def test_asking_for_a_person_first_starts_the_questions_to_reach_them(
    stack: DevStack, receiver: Receiver
) -> None:
    from bot.flows import load_flow
    from bot.settings import Settings

    flow = load_flow(Settings().flows_dir / "default.yml")
    sender = f"handoff-first-{uuid.uuid4()}"
    replies = [reply.get("text") or "" for reply in stack.chat(sender, "can I speak to someone")]

    assert replies[0].startswith("I've passed your request to our sales team.")
    # The questions start at once, so sales get a way to reach the shopper.
    first = flow.questions[0]
    assert replies[-1] in first.prompts, replies
