"""`python -m bot run` (what `make run` starts): URLs, masked tokens; Ctrl-C stops all."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from bot.devstack import StackPorts
from bot.settings import PROJECT_ROOT

pytestmark = pytest.mark.e2e
MODEL = PROJECT_ROOT / "models" / "current.tar.gz"
START_DEADLINE_SECONDS = 240
STOP_DEADLINE_SECONDS = 30


def _port_open(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.5)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def _processes_mentioning(text: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if text in cmdline:
            found.append(int(entry.name))
    return found


def test_run_prints_urls_and_ctrl_c_stops_all_processes(tmp_path: Path) -> None:
    if not MODEL.exists():
        pytest.fail(f"no trained model at {MODEL}: run `make train` first", pytrace=False)
    ports = StackPorts.free()
    env = {
        **os.environ,
        "RASA_PORT": str(ports.rasa),
        "ACTIONS_PORT": str(ports.actions),
        "WEB_PORT": str(ports.web),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'leads.db'}",
        "TRACKER_STORE_URL": f"sqlite:///{tmp_path / 'tracker.db'}",
        "LEADS_SPOOL_DIR": str(tmp_path / "spool"),
        "LEADS_API_TOKEN": "run-test-token",
        "STOREFRONT_TOKEN": "run-test-storefront",
        "SESSION_SECRET": "run-test-session-secret",
        "ACTIONS_TOKEN": "run-test-actions-token",
        "SUPERVISOR_STATUS_FILE": str(tmp_path / "supervisor.json"),
    }
    subprocess.run([sys.executable, "-m", "bot", "migrate"], env=env, cwd=PROJECT_ROOT, check=True)
    output = tmp_path / "run.out"
    with open(output, "wb") as sink:
        supervisor = subprocess.Popen(
            [sys.executable, "-m", "bot", "run", "--model", str(MODEL)],
            env=env,
            cwd=PROJECT_ROOT,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + START_DEADLINE_SECONDS
        while time.monotonic() < deadline and supervisor.poll() is None:
            try:
                web_up = requests.get(f"http://127.0.0.1:{ports.web}/healthz", timeout=1).ok
                rasa_up = requests.get(f"http://127.0.0.1:{ports.rasa}/", timeout=1).ok
            except requests.RequestException:
                web_up = rasa_up = False
            if web_up and rasa_up and _port_open(ports.actions):
                break
            time.sleep(1)
        else:
            pytest.fail(f"stack did not come up:\n{output.read_text()[-3000:]}")
        printed = output.read_text()
        assert f"http://localhost:{ports.rasa}/webhooks/rest/webhook" in printed
        assert f"http://localhost:{ports.web}/api/v2/leads" in printed
        # Tokens given in the environment are never printed in full.
        assert "run-test-token" not in printed and "run-test-storefront" not in printed
        assert "run-…  (from LEADS_API_TOKEN)" in printed
        assert (tmp_path / "supervisor.json").exists()

        supervisor.send_signal(signal.SIGINT)
        assert supervisor.wait(timeout=STOP_DEADLINE_SECONDS) == 0
        assert "All processes stopped." in output.read_text()
        assert not (tmp_path / "supervisor.json").exists()
        for port in (ports.rasa, ports.actions, ports.web):
            assert not _port_open(port), f"port {port} still served after Ctrl-C"
            assert _processes_mentioning(f"--port {port}") == []
    finally:
        if supervisor.poll() is None:
            supervisor.kill()
            supervisor.wait()
