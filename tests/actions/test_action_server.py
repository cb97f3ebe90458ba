"""The action server answers only callers with the shared token (the Rasa server)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from bot.devstack import StackPorts
from bot.leads import LeadService
from bot.settings import PROJECT_ROOT
from bot.store.db import create_db_engine
from bot.store.migrate import upgrade
from tests.actions.conftest import make_tracker
from tests.actions.test_lead_actions import DOMAIN

TOKEN = "the-shared-action-token"
STARTUP_SECONDS = 120.0
REQUEST_SECONDS = 30.0
CONSENT = {"raw": "yes", "value": True, "status": "answered"}


@dataclass
class ActionServer:
    url: str
    repository: LeadService


def _environment(tmp_path: Path, token: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "DATABASE_URL": f"sqlite:///{tmp_path / 'leads.db'}",
            "LEADS_SPOOL_DIR": str(tmp_path / "spool"),
            "ACTIONS_TOKEN": token,
            "SANIC_HOST": "127.0.0.1",
            "PYTHONPATH": str(PROJECT_ROOT),
        }
    )
    return env


def _get(url: str, **kwargs: Any) -> requests.Response:
    with requests.Session() as http:
        http.trust_env = False  # loopback: no proxy from the environment
        return http.get(url, timeout=REQUEST_SECONDS, **kwargs)


def _post(url: str, **kwargs: Any) -> requests.Response:
    with requests.Session() as http:
        http.trust_env = False
        return http.post(url, timeout=REQUEST_SECONDS, **kwargs)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ActionServer]:
    base = tmp_path_factory.mktemp("action-server")
    env = _environment(base, TOKEN)
    upgrade(env["DATABASE_URL"])
    port = StackPorts.free().actions
    log = open(base / "actions.log", "wb")  # noqa: SIM115 - closed below
    process = subprocess.Popen(
        [sys.executable, "-m", "actions.server", "--port", str(port)],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    engine = create_db_engine(env["DATABASE_URL"])
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while True:
            assert process.poll() is None, (base / "actions.log").read_text()
            try:
                if _get(f"{url}/health").status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            assert time.monotonic() < deadline, "the action server did not start"
            time.sleep(0.2)
        yield ActionServer(url, LeadService(engine))
    finally:
        process.terminate()
        try:
            process.wait(timeout=REQUEST_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
        engine.dispose()


def _email_rewrite(sender: str) -> dict[str, Any]:
    """An action call as Rasa sends it: the shopper "gives" an attacker's e-mail."""
    tracker = make_tracker(
        "write to me at attacker@example.com",
        requested="contact_details",
        slots={"contact_consent": CONSENT},
        sender=sender,
    )
    return {
        "next_action": "validate_qualification_form",
        "sender_id": sender,
        "tracker": tracker.current_state(),
        "domain": DOMAIN,
        "version": "3.6.21",
    }


@pytest.mark.parametrize(
    "headers",
    [
        {},  # no token at all
        {"Authorization": "Bearer wrong-token"},  # a guess
        {"Authorization": TOKEN},  # the token without its scheme
        {"Authorization": f"Bearer {TOKEN}x"},  # one character too many
        {"Authorization": f"Bearer {TOKEN}\u00e9".encode().decode("latin-1")},  # odd bytes
    ],
)
def test_forged_action_call_is_refused_and_writes_nothing(
    server: ActionServer, headers: dict[str, str]
) -> None:
    sender = f"forged-{uuid.uuid4().hex}"
    answer = _post(f"{server.url}/webhook", json=_email_rewrite(sender), headers=headers)
    assert answer.status_code == 401
    assert answer.json()["error"] == "unauthorized"
    assert server.repository.get_lead_by_session(sender) is None


def test_action_call_with_the_token_runs(server: ActionServer) -> None:
    answer = _post(
        f"{server.url}/webhook",
        json=_email_rewrite("genuine-1"),
        headers={"Authorization": f"Bearer {TOKEN}"},
    )
    assert answer.status_code == 200, answer.text
    lead = server.repository.get_lead_by_session("genuine-1")
    assert lead is not None and lead["email"] == "attacker@example.com"


def test_action_list_needs_the_token(server: ActionServer) -> None:
    assert _get(f"{server.url}/actions").status_code == 401
    listed = _get(f"{server.url}/actions", headers={"Authorization": f"Bearer {TOKEN}"})
    assert {"name": "validate_qualification_form"} in listed.json()


def test_health_stays_open_for_liveness_checks(server: ActionServer) -> None:
    assert _get(f"{server.url}/health").json() == {"status": "ok"}


def test_the_action_server_refuses_to_start_without_a_token(tmp_path: Path) -> None:
    started = subprocess.run(
        [sys.executable, "-m", "actions.server", "--port", str(StackPorts.free().actions)],
        cwd=PROJECT_ROOT,
        env=_environment(tmp_path, ""),
        capture_output=True,
        text=True,
        timeout=STARTUP_SECONDS,
        check=False,
    )
    assert started.returncode == 2
    assert "ACTIONS_TOKEN is not set" in started.stderr
