"""`make run`'s supervisor keeps the product up: kill -9 or freeze (SIGSTOP) any one process.

One ``python -m bot run`` serves the whole test. For each child in turn it is
killed with SIGKILL, then frozen with SIGSTOP; the test measures the time until
it answers again (printed for the README) while checking that the other two
keep answering all along, and that nothing acknowledged before the fault is lost:
chat answers stored before the action server dies, storefront events answered
202 before the web app dies, a conversation across a Rasa restart.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from bot.devstack import StackPorts
from bot.settings import PROJECT_ROOT
from tests.e2e.supervised import SupervisedRun, answers

pytestmark = pytest.mark.e2e

MODEL = PROJECT_ROOT / "models" / "current.tar.gz"
API_TOKEN = "faults-api-token"
STOREFRONT_TOKEN = "faults-storefront-token"
# Back within: Rasa reloads its model; a freeze is first noticed by the liveness check.
BACK_WITHIN_SECONDS = {"rasa": 120.0, "actions": 45.0, "web": 45.0}
# The neighbours of a failed child must answer every check, with this much patience
# (Rasa loading its model keeps the CPU busy).
NEIGHBOUR_TIMEOUT_SECONDS = 5.0
EVENTS_BEFORE_KILL = 20
SPOOL_SETTLE_SECONDS = 15.0


class Faults:
    """The running supervisor, its status file and the faults injected into its children."""

    def __init__(self, run: SupervisedRun, status_file: Path) -> None:
        self.run = run
        self.status_file = status_file
        self.times: dict[str, float] = {}

    def status(self, name: str) -> dict[str, Any]:
        processes: dict[str, dict[str, Any]] = json.loads(self.status_file.read_text())["processes"]
        return processes[name]

    def inject(self, name: str, signum: signal.Signals) -> float:
        """Send ``signum`` to child ``name``; wait until it is restarted and answers again.

        Meanwhile the two other children must answer every liveness request.
        Returns (and records) the seconds from the fault to the first answer.
        """
        before = self.status(name)
        assert before["state"] == "running", before
        os.kill(before["pid"], signum)
        started = time.monotonic()
        urls = self.run.health_urls()
        neighbours = {other: url for other, url in urls.items() if other != name}
        unanswered: list[str] = []

        def back() -> bool:
            for other, url in neighbours.items():
                if not answers(url, timeout=NEIGHBOUR_TIMEOUT_SECONDS):
                    unanswered.append(f"{other} at {time.monotonic() - started:.1f} s")
            restarted = self.status(name)["restarts"] == before["restarts"] + 1
            return restarted and answers(urls[name])

        self.run.wait_until(f"{name} back after {signum.name}", back, BACK_WITHIN_SECONDS[name])
        took = time.monotonic() - started
        assert unanswered == [], f"while {name} was down, no answer from {unanswered}"
        self.run.wait_until(
            f"the supervisor seeing {name} answer",
            lambda: self.status(name)["state"] == "running",
            BACK_WITHIN_SECONDS[name],
        )
        self.times[f"{name} {signum.name}"] = round(took, 1)
        return took


def _event(session: str, index: int) -> dict[str, Any]:
    return {
        "event_id": f"{session}-{index}",
        "session_id": session,
        "type": "page_view",
        "ts": datetime.now(timezone.utc).isoformat().replace("+00:00", "Z"),
        "product_id": "hoodie-classic",
    }


def _lead(run: SupervisedRun, session: str) -> dict[str, Any]:
    deadline = time.monotonic() + SPOOL_SETTLE_SECONDS
    while run.api("GET", "/healthz", API_TOKEN).json().get("spooled_batches"):
        assert time.monotonic() < deadline, "spooled writes not flushed in time"
        time.sleep(0.5)
    page = run.api("GET", "/api/v2/leads", API_TOKEN, params={"session_id": session}).json()
    assert len(page["items"]) == 1, page
    lead: dict[str, Any] = page["items"][0]
    return lead


def _says(run: SupervisedRun, sender: str) -> Callable[[str], list[str]]:
    def say(text: str) -> list[str]:
        texts = run.chat(sender, text)
        assert texts and all(texts), f"empty reply to {text!r}\n{run.output()[-3000:]}"
        return texts

    return say


def test_every_child_comes_back_after_kill_and_freeze_with_nothing_lost(tmp_path: Path) -> None:
    if not MODEL.exists():
        pytest.fail(f"no trained model at {MODEL}: run `make train` first", pytrace=False)
    ports = StackPorts.free()
    status_file = tmp_path / "run" / "supervisor.json"
    env = {
        **os.environ,
        "RASA_PORT": str(ports.rasa),
        "ACTIONS_PORT": str(ports.actions),
        "WEB_PORT": str(ports.web),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'leads.db'}",
        "TRACKER_STORE_URL": f"sqlite:///{tmp_path / 'tracker.db'}",
        "LEADS_SPOOL_DIR": str(tmp_path / "spool"),
        "LEADS_API_TOKEN": API_TOKEN,
        "STOREFRONT_TOKEN": STOREFRONT_TOKEN,
        "SESSION_SECRET": "faults-session-secret",
        "ACTIONS_TOKEN": "faults-actions-token",
        "SUPERVISOR_STATUS_FILE": str(status_file),
    }
    env.pop("TRACKER_STORE_DIALECT", None)
    subprocess.run(
        [sys.executable, "-m", "bot", "migrate"], env=env, cwd=PROJECT_ROOT, check=True, timeout=120
    )
    run = SupervisedRun(PROJECT_ROOT, env, ports, MODEL, tmp_path / "run.out")
    with run:
        run.wait_ready()
        faults = Faults(run, status_file)
        run.wait_until(
            "every child running",
            lambda: (
                status_file.exists()
                and all(
                    faults.status(name)["state"] == "running" for name in ("rasa", "actions", "web")
                )
            ),
            30,
        )

        # Action server: answers stored before it dies are kept; the chat goes on after.
        shopper = f"faults-{uuid.uuid4()}"
        say = _says(run, shopper)
        for text in ("hi", "sometime next month", "the blue hoodie in M"):
            say(text)
        faults.inject("actions", signal.SIGKILL)
        answered = _lead(run, shopper)["answers"]
        assert {"timeline", "variant"} <= set(answered), answered

        # Web app: storefront events acknowledged (202) just before it dies are all stored.
        session = f"faults-events-{uuid.uuid4()}"
        for index in range(EVENTS_BEFORE_KILL):
            response = run.api(
                "POST", "/api/v2/events", STOREFRONT_TOKEN, json=_event(session, index)
            )
            assert response.status_code == 202, response.text
        faults.inject("web", signal.SIGKILL)
        lead = _lead(run, session)
        events = run.api("GET", f"/api/v2/leads/{lead['id']}/events", API_TOKEN).json()["items"]
        stored = {event["event_id"] for event in events}
        assert {f"{session}-{index}" for index in range(EVENTS_BEFORE_KILL)} <= stored

        # Rasa: the conversation survives (tracker store), the next question follows on.
        faults.inject("rasa", signal.SIGKILL)
        say("Lyon")
        assert set(_lead(run, shopper)["answers"]) >= {"timeline", "variant", "location"}

        # Frozen processes are found by their liveness check and replaced.
        for name in ("actions", "web", "rasa"):
            faults.inject(name, signal.SIGSTOP)
        say("around 300 bucks")
        assert "budget" in _lead(run, shopper)["answers"]

        processes = run.api("GET", "/healthz", API_TOKEN).json()["processes"]
        assert {name: p["restarts"] for name, p in processes.items()} == {
            "rasa": 2,
            "actions": 2,
            "web": 2,
        }
        assert all(p["last_reason"].startswith("wedged:") for p in processes.values()), processes
        printed = run.output()
        assert "actions (pid" in printed and "killed by SIGKILL; restarting it in" in printed
        print(f"\nrestart times (fault → answering again, s): {json.dumps(faults.times)}")
        assert run.interrupt() == 0
