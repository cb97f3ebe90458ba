"""``python -m bot run`` (what ``make run`` starts) run by a test, with bounded waits."""

from __future__ import annotations

import signal
import socket
import subprocess
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

import pytest
import requests

from bot.devstack import StackPorts

START_DEADLINE_SECONDS = 300.0
STOP_DEADLINE_SECONDS = 30.0
PROBE_TIMEOUT_SECONDS = 2.0
CHAT_TIMEOUT_SECONDS = 60.0
POLL_SECONDS = 0.5
OUTPUT_TAIL_CHARS = 4000


def port_open(port: int) -> bool:
    """Whether something accepts connections on 127.0.0.1:``port``."""
    with socket.socket() as probe:
        probe.settimeout(0.5)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def request(method: str, url: str, *, timeout: float = CHAT_TIMEOUT_SECONDS, **kw: Any) -> Any:
    """One request on a fresh connection (no pooled connection outlives a restarted server)."""
    with requests.Session() as http:
        http.trust_env = False
        return http.request(method, url, timeout=timeout, **kw)


def answers(url: str, timeout: float = PROBE_TIMEOUT_SECONDS) -> bool:
    """Whether ``GET url`` answers 200 within ``timeout`` seconds."""
    try:
        return bool(request("GET", url, timeout=timeout).status_code == 200)
    except requests.RequestException:
        return False


class SupervisedRun:
    """``python -m bot run --model MODEL`` in ``cwd`` with exactly ``env``, output to a file."""

    def __init__(
        self, cwd: Path, env: Mapping[str, str], ports: StackPorts, model: Path, output: Path
    ) -> None:
        self.cwd = cwd
        self.env = dict(env)
        self.ports = ports
        self.model = model
        self.output_path = output
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def rasa_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.rasa}"

    @property
    def actions_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.actions}"

    @property
    def web_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.web}"

    def health_urls(self) -> dict[str, str]:
        """The liveness URL of each child (the ones the supervisor checks)."""
        return {
            "rasa": f"{self.rasa_url}/",
            "actions": f"{self.actions_url}/health",
            "web": f"{self.web_url}/healthz",
        }

    def output(self) -> str:
        """What the supervisor and its children printed so far."""
        return self.output_path.read_text(encoding="utf-8", errors="replace")

    def __enter__(self) -> SupervisedRun:
        with open(self.output_path, "wb") as sink:
            self.process = subprocess.Popen(
                [
                    str(self.cwd / ".venv" / "bin" / "python"),
                    "-m",
                    "bot",
                    "run",
                    "--model",
                    str(self.model),
                ],
                cwd=self.cwd,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=sink,
                stderr=subprocess.STDOUT,
            )
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=STOP_DEADLINE_SECONDS)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def wait_until(self, what: str, check: Callable[[], bool], timeout: float) -> float:
        """Poll ``check`` until true; the seconds it took (fails after ``timeout``)."""
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            if self.process is not None and self.process.poll() is not None:
                pytest.fail(
                    f"python -m bot run exited with {self.process.returncode} waiting for "
                    f"{what}:\n{self.output()[-OUTPUT_TAIL_CHARS:]}"
                )
            if check():
                return time.monotonic() - started
            time.sleep(POLL_SECONDS)
        pytest.fail(f"{what}: not within {timeout:.0f} s\n{self.output()[-OUTPUT_TAIL_CHARS:]}")

    def wait_ready(self, timeout: float = START_DEADLINE_SECONDS) -> float:
        """Wait until the three children answer their liveness URLs."""
        urls = self.health_urls()
        return self.wait_until(
            "all three processes answering", lambda: all(map(answers, urls.values())), timeout
        )

    def interrupt(self) -> int:
        """Ctrl-C: the supervisor's exit status (bounded wait)."""
        assert self.process is not None
        self.process.send_signal(signal.SIGINT)
        return self.process.wait(timeout=STOP_DEADLINE_SECONDS)

    def chat(self, sender: str, text: str) -> list[str]:
        """Send ``text`` over the REST channel; the reply texts."""
        response = request(
            "POST",
            f"{self.rasa_url}/webhooks/rest/webhook",
            json={"sender": sender, "message": text},
        )
        response.raise_for_status()
        return [reply.get("text") or "" for reply in response.json()]

    def api(self, method: str, path: str, token: str, **kw: Any) -> Any:
        """A web-app request with ``Authorization: Bearer token``."""
        return request(
            method, f"{self.web_url}{path}", headers={"Authorization": f"Bearer {token}"}, **kw
        )
