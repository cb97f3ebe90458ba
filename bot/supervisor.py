"""``python -m bot run``: starts Rasa, the action server and the web app, and keeps them up.

Each child runs in its own process group. A child that exits is started again
after a backoff (1 s, 2 s, 4 s … at most 30 s; back to 1 s once it had stayed
healthy for a minute). A child that stops answering its liveness URL (frozen,
deadlocked, spinning) is killed with its whole group and restarted the same way.
The others keep serving meanwhile. Each child's state and restarts are written to
a status file that the web app's ``/healthz`` shows.

Ctrl-C (or SIGTERM) stops all of them, escalating to SIGKILL for any that does
not exit in time, and nothing is restarted while stopping.

:class:`ChildPolicy` decides what to do for one child from what was observed
and the time (an injected clock), without touching processes;
:class:`Supervisor` runs the processes and the liveness checks and follows it.
"""

from __future__ import annotations

import contextlib
import enum
import http.client
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from bot import clock
from bot.catalog import CatalogError, RatesError
from bot.flows import FlowError, load_flows
from bot.flows.loader import flow_context
from bot.handoff import HandoffConfig, HandoffConfigError, handoff_config_for
from bot.scoring import ScoringConfigError, scorer_for
from bot.secrets import TOKENS_FILE, TokenFileError, ensure_tokens, make_data_private
from bot.settings import PROJECT_ROOT, VAR_DIR, Settings

logger = logging.getLogger(__name__)

STOP_GRACE_SECONDS = 10.0
LOOP_SECONDS = 0.5
# SIGKILL is not ignorable; this only bounds the wait for the kernel to reap.
REAP_TIMEOUT_SECONDS = 5.0
LOOPBACK = "127.0.0.1"
WILDCARD_HOSTS = frozenset({"", "0.0.0.0", "::"})  # noqa: S104 - names, nothing is bound


@dataclass(frozen=True)
class Timing:
    """How one child is watched and restarted (seconds)."""

    backoff_first: float = 1.0
    backoff_max: float = 30.0
    # A child that answered for this long before failing starts again at backoff_first.
    stable_after: float = 60.0
    liveness_interval: float = 3.0
    liveness_timeout: float = 3.0
    # Consecutive failed checks (after the child first answered) that mean "wedged".
    liveness_failures: int = 3
    # How long a started child may take to answer its first check.
    startup_grace: float = 120.0


# Rasa loads its model before it listens (Rasa 3.6.21 loads the agent in a
# "before_server_start" listener): ~30 s on 2 free cores, minutes on a busy machine.
CHILD_TIMINGS = {"rasa": Timing(startup_grace=300.0), "actions": Timing(), "web": Timing()}


class Action(enum.Enum):
    """What the supervisor should do for a child now."""

    WAIT = "wait"
    START = "start"
    CHECK = "check"


def describe_exit(returncode: int) -> str:
    """``exited with code 1`` or ``killed by SIGKILL`` (Popen gives -N for signal N)."""
    if returncode < 0:
        try:
            return f"killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"killed by signal {-returncode}"
    return f"exited with code {returncode}"


class ChildPolicy:
    """When to check, kill and restart one child, from observations and a clock.

    The process loop reports what happened (:meth:`started`, :meth:`exited`,
    :meth:`checked`) and asks :meth:`next_action`; nothing here touches a process.
    """

    def __init__(
        self,
        name: str,
        timing: Timing,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], datetime] = clock.now,
    ) -> None:
        self.name = name
        self.timing = timing
        self._clock = clock
        self._wall_clock = wall_clock
        self.state = "stopped"
        self.pid: int | None = None
        self.restarts = 0
        self.last_restart_at: datetime | None = None
        self.last_reason: str | None = None
        # Consecutive failures without a stable run in between: drives the backoff.
        self.attempt = 0
        self.restart_at: float | None = None
        self._started_at = 0.0
        self._healthy_since: float | None = None
        self._failed_checks = 0
        self._next_check = 0.0
        self.kill_reason: str | None = None

    def started(self, pid: int) -> None:
        """The child was (re)started as ``pid``."""
        now = self._clock()
        if self.state == "backoff":
            self.restarts += 1
            self.last_restart_at = self._wall_clock()
        self.state = "starting"
        self.pid = pid
        self.restart_at = None
        self._started_at = now
        self._healthy_since = None
        self._failed_checks = 0
        self._next_check = now
        self.kill_reason = None

    def checked(self, alive: bool) -> bool:
        """Result of a liveness check; true when the child must be killed as wedged."""
        now = self._clock()
        self._next_check = now + self.timing.liveness_interval
        if alive:
            self._failed_checks = 0
            if self.state == "starting":
                self.state = "running"
                self._healthy_since = now
            return False
        if self.state == "starting":
            if now - self._started_at < self.timing.startup_grace:
                return False
            self.kill_reason = (
                f"not answering {self.timing.startup_grace:.0f} s after start (liveness check)"
            )
            return True
        self._failed_checks += 1
        if self._failed_checks < self.timing.liveness_failures:
            return False
        self.kill_reason = f"wedged: liveness check failed {self._failed_checks} times in a row"
        return True

    def exited(self, returncode: int) -> float:
        """The child's process ended; schedules its restart and returns the backoff (s)."""
        return self._schedule_restart(self.kill_reason or describe_exit(returncode))

    def not_started(self, error: str) -> float:
        """Starting the child failed (``error``); schedules another try, returns the backoff (s)."""
        return self._schedule_restart(f"could not start: {error}")

    def _schedule_restart(self, reason: str) -> float:
        now = self._clock()
        if self._healthy_since is not None and now - self._healthy_since >= (
            self.timing.stable_after
        ):
            self.attempt = 0
        self.attempt += 1
        delay = min(
            self.timing.backoff_first * 2 ** min(self.attempt - 1, 32), self.timing.backoff_max
        )
        self.last_reason = reason
        self.state = "backoff"
        self.pid = None
        self.restart_at = now + delay
        self._healthy_since = None
        return delay

    def next_action(self) -> Action:
        """What to do for this child now."""
        now = self._clock()
        if self.state == "backoff":
            assert self.restart_at is not None
            return Action.START if now >= self.restart_at else Action.WAIT
        if self.state in ("starting", "running") and now >= self._next_check:
            return Action.CHECK
        return Action.WAIT

    def status(self) -> dict[str, Any]:
        """JSON-ready state for the status file (and ``/healthz``)."""
        return {
            "state": self.state,
            "pid": self.pid,
            "restarts": self.restarts,
            "last_restart_at": (
                self.last_restart_at.isoformat() if self.last_restart_at is not None else None
            ),
            "last_reason": self.last_reason,
        }


@dataclass
class Child:
    """A supervised process."""

    name: str
    command: list[str]
    # Variables of this child only, over the supervisor's environment (a web app's port).
    env: Mapping[str, str] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None


def child_environment(settings_env: dict[str, str]) -> dict[str, str]:
    """Environment shared by the three processes.

    Every setting a child reads from the environment itself is exported with its
    default: Rasa substitutes ``${ACTIONS_PORT}`` and the tracker-store variables in
    ``endpoints.yml`` and fails on a variable that is not set.
    """
    env = dict(settings_env)
    env.setdefault("RASA_TELEMETRY_ENABLED", "false")
    env.setdefault("SQLALCHEMY_SILENCE_UBER_WARNING", "1")
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    defaults = Settings()
    for name, port in (
        ("RASA_PORT", defaults.rasa_port),
        ("ACTIONS_PORT", defaults.actions_port),
        ("WEB_PORT", defaults.web_port),
    ):
        env[name] = env.get(name) or str(port)
    env["SUPERVISOR_STATUS_FILE"] = env.get("SUPERVISOR_STATUS_FILE") or str(
        defaults.supervisor_status_file
    )
    tracker_url = env.get("TRACKER_STORE_URL") or f"sqlite:///{VAR_DIR / 'tracker.db'}"
    env["TRACKER_STORE_URL"] = tracker_url
    env.setdefault("TRACKER_STORE_DIALECT", tracker_url.split(":", 1)[0].split("+", 1)[0])
    env["SANIC_HOST"] = LOOPBACK
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PROJECT_ROOT), env.get("PYTHONPATH")]))
    return env


def build_children(settings: Settings, model: Path, bin_dir: Path) -> list[Child]:
    """The three processes of ``make run``."""
    return [
        # `rasa run actions` with a token check (the Rasa server sends ACTIONS_TOKEN).
        Child(
            "actions",
            [
                str(bin_dir / "python"),
                "-m",
                "actions.server",
                "--port",
                str(settings.actions_port),
            ],
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


class LivenessCheck(Protocol):
    """Something that tells whether a child still answers."""

    def check(self, timeout: float) -> bool:
        """True when the child answered within ``timeout`` seconds."""


@dataclass(frozen=True)
class Liveness:
    """Where a child answers when it is alive: ``GET http://host:port/path`` → 2xx."""

    host: str
    port: int
    path: str

    def check(self, timeout: float) -> bool:
        """One check; a refused, reset, slow or non-2xx answer is a failure."""
        connection = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
        try:
            connection.request("GET", self.path)
            return 200 <= connection.getresponse().status < 300
        except (OSError, http.client.HTTPException):
            return False
        finally:
            connection.close()


def liveness_checks(settings: Settings) -> dict[str, Liveness]:
    """Each child's liveness URL: Rasa's ``/``, the action server's ``/health``, ``/healthz``."""
    web_host = LOOPBACK if settings.web_host in WILDCARD_HOSTS else settings.web_host
    return {
        "rasa": Liveness(LOOPBACK, settings.rasa_port, "/"),
        "actions": Liveness(LOOPBACK, settings.actions_port, "/health"),
        "web": Liveness(web_host, settings.web_port, "/healthz"),
    }


def write_status(path: Path, status: dict[str, Any]) -> None:
    """Replace ``path`` with ``status`` as JSON; readers never see a half-written file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text(json.dumps(status, indent=2), encoding="utf-8")
    os.replace(temporary, path)


def _kill_group(pid: int, signum: signal.Signals) -> None:
    # The group outlives its leader while anything the child spawned still runs.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signum)


class Supervisor:
    """Runs the children, checks their liveness, and restarts them as their policies say."""

    def __init__(
        self,
        children: list[Child],
        *,
        env: dict[str, str],
        liveness: Mapping[str, LivenessCheck],
        status_file: Path,
        timings: dict[str, Timing] | None = None,
        cwd: Path = PROJECT_ROOT,
    ) -> None:
        self.children = children
        self.env = env
        self.liveness = liveness
        self.status_file = status_file
        self.cwd = cwd
        chosen = timings or CHILD_TIMINGS
        self.policies = {
            child.name: ChildPolicy(child.name, chosen[child.name]) for child in children
        }
        # Checks run in threads so a child that hangs a check never delays the others.
        self._checker = ThreadPoolExecutor(max_workers=len(children), thread_name_prefix="liveness")
        self._checks: dict[str, tuple[int, Future[bool]]] = {}
        self._written: dict[str, Any] | None = None

    def start(self) -> None:
        """Start every child."""
        for child in self.children:
            self._spawn(child)
        self._write_status()

    def serve(self, stopping: Callable[[], bool]) -> None:
        """Keep the children up until ``stopping()`` is true."""
        while not stopping():
            self.step(stopping)
            time.sleep(LOOP_SECONDS)

    def step(self, stopping: Callable[[], bool] = lambda: False) -> None:
        """One round: notice exits and check results, then start or check as the policies say.

        ``stopping`` is asked again before each start: a Ctrl-C that arrives
        during the round starts nothing more.
        """
        for child in self.children:
            policy = self.policies[child.name]
            self._reap(child)
            self._collect_check(child)
            action = policy.next_action()
            if action is Action.START and stopping():
                continue
            if action is Action.START:
                self._spawn(child)
                if policy.pid is not None:
                    logger.info(
                        "%s restarted as pid %d (restart %d)",
                        child.name,
                        policy.pid,
                        policy.restarts,
                    )
            elif action is Action.CHECK and child.name not in self._checks:
                assert child.process is not None
                timeout = policy.timing.liveness_timeout
                future = self._checker.submit(self.liveness[child.name].check, timeout)
                self._checks[child.name] = (child.process.pid, future)
        self._write_status()

    def stop(self) -> None:
        """SIGTERM every child's group, SIGKILL after the grace period; removes the status file."""
        running = [c.process for c in self.children if c.process is not None]
        for process in running:
            if process.poll() is None:
                _kill_group(process.pid, signal.SIGTERM)
                # A stopped (SIGSTOP) child only acts on SIGTERM once continued.
                _kill_group(process.pid, signal.SIGCONT)
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        for process in running:
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                logger.warning(
                    "pid %d did not stop within %.0f s; killing it", process.pid, STOP_GRACE_SECONDS
                )
            _kill_group(process.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=REAP_TIMEOUT_SECONDS)
        for child in self.children:
            child.process = None
        self._checker.shutdown(wait=False, cancel_futures=True)
        with contextlib.suppress(FileNotFoundError):
            self.status_file.unlink()

    def _spawn(self, child: Child) -> None:
        policy = self.policies[child.name]
        try:
            child.process = subprocess.Popen(  # noqa: S603 - fixed argument lists
                child.command,
                cwd=self.cwd,
                env={**self.env, **child.env},
                start_new_session=True,
            )
        except OSError as exc:  # out of processes or memory, a missing interpreter
            delay = policy.not_started(str(exc))
            logger.error("%s %s; trying again in %g s", child.name, policy.last_reason, delay)
            return
        policy.started(child.process.pid)

    def _reap(self, child: Child) -> None:
        process = child.process
        if process is None or process.poll() is None:
            return
        _kill_group(process.pid, signal.SIGKILL)
        child.process = None
        self._checks.pop(child.name, None)
        policy = self.policies[child.name]
        delay = policy.exited(process.returncode)
        logger.warning(
            "%s (pid %d) %s; restarting it in %g s (attempt %d)",
            child.name,
            process.pid,
            policy.last_reason,
            delay,
            policy.attempt,
        )

    def _collect_check(self, child: Child) -> None:
        pending = self._checks.get(child.name)
        if pending is None or not pending[1].done():
            return
        del self._checks[child.name]
        pid, future = pending
        process = child.process
        if process is None or process.pid != pid:
            return  # a check of a process that has since been replaced
        policy = self.policies[child.name]
        was_starting = policy.state == "starting"
        if policy.checked(future.result()):
            logger.warning(
                "%s (pid %d) is not answering its liveness check; killing it", child.name, pid
            )
            _kill_group(pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=REAP_TIMEOUT_SECONDS)
            self._reap(child)
        elif was_starting and policy.state == "running" and policy.restarts:
            logger.info("%s (pid %d) answers again", child.name, pid)

    def _write_status(self) -> None:
        status = {
            "supervisor_pid": os.getpid(),
            "processes": {name: policy.status() for name, policy in self.policies.items()},
        }
        if status == self._written:
            return
        try:
            write_status(self.status_file, status)
        except OSError as exc:
            # A full disk must not take the supervision (and so the product) down.
            logger.error("cannot write %s: %s", self.status_file, exc)
            return
        self._written = status


def ports_in_use(settings: Settings) -> list[str]:
    """Why each configured port cannot be listened on (empty when all are free)."""
    return unavailable_ports(
        [
            ("RASA_PORT", LOOPBACK, settings.rasa_port),
            ("ACTIONS_PORT", LOOPBACK, settings.actions_port),
            ("WEB_PORT", settings.web_host, settings.web_port),
        ]
    )


def unavailable_ports(wanted: list[tuple[str, str, int]]) -> list[str]:
    """Why each (variable, host, port) cannot be listened on; empty when all are free."""
    problems = []
    for variable, host, port in wanted:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        with socket.socket(family) as probe:
            # As the servers do: a port left in TIME_WAIT by a previous run is free.
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind((host, port))
            except OSError as exc:
                problems.append(
                    f"port {port} on {host} ({variable}) is not available: {exc.strerror}; "
                    f"stop what uses it or set {variable}"
                )
    return problems


def token_lines(environ: dict[str, str], created: set[str], from_env: set[str]) -> list[str]:
    """How the tokens are printed: a new one in full (once), others masked with their source."""
    try:
        store = str(TOKENS_FILE.relative_to(PROJECT_ROOT))
    except ValueError:
        store = str(TOKENS_FILE)
    lines = []
    for label, name in (("API token", "LEADS_API_TOKEN"), ("storefront token", "STOREFRONT_TOKEN")):
        value = environ[name]
        if name in created:
            shown = f"{value}  (new: shown this once, kept in {store})"
        elif name in from_env:
            shown = f"{value[:4]}…  (from {name})"
        else:
            shown = f"{value[:4]}…  (full value in {store})"
        lines.append(f"  {label + ':':<18}{shown}\n")
    return lines


def notification_lines(config: HandoffConfig, config_path: Path) -> list[str]:
    """Which channels announce handoffs, or, with none, one line on how to add one."""
    used = {name for team in config.teams.values() for name in (*team.channels, *team.escalate_to)}
    on = [channel for name, channel in config.channels.items() if name in used]
    if on:
        shown = ", ".join(f"{channel.name} ({channel.type})" for channel in on)
        return [f"  {'notifications:':<18}{shown}\n"]
    try:
        shown_path = str(config_path.relative_to(PROJECT_ROOT))
    except ValueError:
        shown_path = str(config_path)
    return [
        f"  {'notifications:':<18}off: handoffs show on the lead pages only; add a channel with "
        "HANDOFF_WEBHOOK_URL + HANDOFF_WEBHOOK_SECRET, HANDOFF_SLACK_WEBHOOK_URL or "
        f"HANDOFF_EMAIL_TO (or channels: in {shown_path})\n"
    ]


def config_problem(settings: Settings) -> str | None:
    """Why the processes would refuse the scoring, catalog, handoff or flow files, if they would."""
    try:
        scorer = scorer_for(settings)
        handoff_config_for(settings)
        load_flows(settings.flows_dir, flow_context(scorer.catalog))
    except (ScoringConfigError, CatalogError, RatesError, HandoffConfigError, FlowError) as exc:
        return str(exc)
    return None


def serve(supervisor: Supervisor, banner: Callable[[], str]) -> int:
    """Start the children, print ``banner()``, keep them up until Ctrl-C or SIGTERM."""
    stopping = False

    def request_stop(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    try:
        supervisor.start()
        print(banner(), flush=True)
        supervisor.serve(lambda: stopping)
        return 0
    finally:
        supervisor.stop()
        print("All processes stopped.", flush=True)


def run(model: Path) -> int:
    """Start everything and keep it up until Ctrl-C or SIGTERM; returns the exit status."""
    env = dict(os.environ)
    given = {name for name in ("LEADS_API_TOKEN", "STOREFRONT_TOKEN") if env.get(name)}
    env = child_environment(env)
    settings = Settings.from_env(env)
    # Fail before starting anything: each process would refuse the same files.
    problem = config_problem(settings)
    if problem is not None:
        print(f"cannot start: {problem}", file=sys.stderr)
        return 1
    problems = ports_in_use(settings)
    if problems:
        for problem in problems:
            print(f"cannot start: {problem}", file=sys.stderr)
        return 1
    # Before the first file is written: the tokens, the stores and the children's files.
    make_data_private(settings)
    try:
        created = ensure_tokens(env)
    except TokenFileError as exc:
        print(f"cannot start: {exc}", file=sys.stderr)
        return 1
    handoffs = handoff_config_for(settings)
    children = build_children(settings, model, Path(sys.executable).parent)
    supervisor = Supervisor(
        children,
        env=env,
        liveness=liveness_checks(settings),
        status_file=settings.supervisor_status_file,
    )

    def banner() -> str:
        host = "localhost"
        shop = (
            f"  demo shop       http://{host}:{settings.web_port}/  (chat widget + tracking)\n"
            if settings.demo_shop
            else ""
        )
        return (
            "\nStorefront lead assistant starting (Rasa takes ~30 s to load its model):\n"
            f"{shop}"
            f"  chat (REST)     http://{host}:{settings.rasa_port}/webhooks/rest/webhook\n"
            f"  chat (socket)   http://{host}:{settings.rasa_port}/socket.io\n"
            f"  web app / API   http://{host}:{settings.web_port}/api/v2/leads\n"
            f"  events API      http://{host}:{settings.web_port}/api/v2/events\n"
            f"  lead pages      http://{host}:{settings.web_port}/leads (log in: API token)\n"
            f"  actions         http://127.0.0.1:{settings.actions_port}/webhook\n"
            f"{''.join(token_lines(env, created, given))}"
            f"{''.join(notification_lines(handoffs, settings.handoff_config_path))}"
            "A process that exits or stops answering is restarted; Ctrl-C stops everything.\n"
        )

    return serve(supervisor, banner)
