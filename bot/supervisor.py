"""``python -m bot run``: starts the Rasa server, the action server and the web app.

Each child runs in its own process group; Ctrl-C (or SIGTERM) stops all of them,
escalating to SIGKILL for any that does not exit in time, so nothing is left
running. If one child dies, the others are stopped too.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from bot.catalog import CatalogError
from bot.flows import FlowError, load_flows
from bot.flows.loader import flow_context
from bot.handoff import HandoffConfigError, handoff_config_for
from bot.scoring import ScoringConfigError, scorer_for
from bot.secrets import ensure_tokens
from bot.settings import PROJECT_ROOT, VAR_DIR, Settings

STOP_GRACE_SECONDS = 10.0


@dataclass
class Child:
    """A supervised process."""

    name: str
    command: list[str]
    process: subprocess.Popen[bytes] | None = None


def child_environment(settings_env: dict[str, str]) -> dict[str, str]:
    """Environment shared by the three processes."""
    env = dict(settings_env)
    env.setdefault("RASA_TELEMETRY_ENABLED", "false")
    env.setdefault("SQLALCHEMY_SILENCE_UBER_WARNING", "1")
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    tracker_url = env.get("TRACKER_STORE_URL") or f"sqlite:///{VAR_DIR / 'tracker.db'}"
    env["TRACKER_STORE_URL"] = tracker_url
    env.setdefault("TRACKER_STORE_DIALECT", tracker_url.split(":", 1)[0].split("+", 1)[0])
    env["SANIC_HOST"] = "127.0.0.1"
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PROJECT_ROOT), env.get("PYTHONPATH")]))
    return env


def build_children(settings: Settings, model: Path, bin_dir: Path) -> list[Child]:
    """The three processes of ``make run``."""
    rasa = str(bin_dir / "rasa")
    return [
        Child(
            "actions",
            [rasa, "run", "actions", "--actions", "actions", "--port", str(settings.actions_port)],
        ),
        Child(
            "rasa",
            [
                str(bin_dir / "python"),
                "-m",
                "rasa_ext",
                "run",
                "--model",
                str(model),
                "--port",
                str(settings.rasa_port),
                "--interface",
                "127.0.0.1",
                "--endpoints",
                "endpoints.yml",
                "--credentials",
                "credentials.yml",
                # The widget's socket.io and REST calls come from the shop's pages.
                "--cors",
                *settings.cors_origins,
            ],
        ),
        Child("web", [sys.executable, "-m", "bot", "web"]),
    ]


def _stop(children: list[Child]) -> None:
    running = [c for c in children if c.process is not None and c.process.poll() is None]
    for child in running:
        assert child.process is not None
        os.killpg(child.process.pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_GRACE_SECONDS
    for child in running:
        assert child.process is not None
        try:
            child.process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            os.killpg(child.process.pid, signal.SIGKILL)
            child.process.wait()


def run(model: Path) -> int:
    """Start everything and wait; returns the exit status."""
    env = dict(os.environ)
    generated = ensure_tokens(env)
    env = child_environment(env)
    settings = Settings.from_env(env)
    try:
        # Fail before starting anything: each process would refuse the same files.
        scorer = scorer_for(settings)
        handoff_config_for(settings)
        load_flows(settings.flows_dir, flow_context(scorer.catalog))
    except (ScoringConfigError, CatalogError, HandoffConfigError, FlowError) as exc:
        print(f"cannot start: {exc}", file=sys.stderr)
        return 1
    children = build_children(settings, model, Path(sys.executable).parent)
    stopping = False

    def request_stop(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    try:
        for child in children:
            child.process = subprocess.Popen(  # noqa: S603 - fixed argument lists
                child.command, cwd=PROJECT_ROOT, env=env, start_new_session=True
            )
        host = "localhost"
        note = "  (generated, saved in var/tokens.json)" if "LEADS_API_TOKEN" in generated else ""
        shop = (
            f"  demo shop       http://{host}:{settings.web_port}/  (chat widget + tracking)\n"
            if settings.demo_shop
            else ""
        )
        print(
            "\nStorefront lead assistant starting (Rasa takes ~30 s to load its model):\n"
            f"{shop}"
            f"  chat (REST)     http://{host}:{settings.rasa_port}/webhooks/rest/webhook\n"
            f"  chat (socket)   http://{host}:{settings.rasa_port}/socket.io\n"
            f"  web app / API   http://{host}:{settings.web_port}/api/v2/leads\n"
            f"  events API      http://{host}:{settings.web_port}/api/v2/events\n"
            f"  lead pages      http://{host}:{settings.web_port}/leads (log in: API token)\n"
            f"  actions         http://127.0.0.1:{settings.actions_port}/webhook\n"
            f"  API token       {env['LEADS_API_TOKEN']}{note}\n"
            f"  storefront token {env['STOREFRONT_TOKEN']}\n"
            "Press Ctrl-C to stop.\n",
            flush=True,
        )
        while not stopping:
            for child in children:
                assert child.process is not None
                if child.process.poll() is not None:
                    print(f"{child.name} exited with {child.process.returncode}; stopping.")
                    return child.process.returncode or 1
            time.sleep(0.5)
        return 0
    finally:
        _stop(children)
        print("All processes stopped.", flush=True)
