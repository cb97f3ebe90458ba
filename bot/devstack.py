"""The real stack (action server, Rasa server, web app) on free loopback ports.

Used by the end-to-end tests and the benchmark: the processes are the ones
``make run`` starts (:func:`bot.supervisor.build_children`), with their own
databases, spool, tracker store, tokens and log files::

    with DevStack(root, model=model, database_url=url, spool_dir=spool,
                  tracker_store_url=tracker_url, log_dir=logs) as stack:
        replies = stack.chat("session-1", "hi")

Each process runs in its own process group so that stopping it also stops
anything it spawned.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, Any

import requests

from bot.settings import Settings
from bot.store.migrate import upgrade
from bot.supervisor import Child, build_children, child_environment

STARTUP_TIMEOUT_SECONDS = 180.0
STOP_GRACE_SECONDS = 10.0
POLL_INTERVAL_SECONDS = 0.5
PROBE_TIMEOUT_SECONDS = 5.0
CHAT_TIMEOUT_SECONDS = 60.0
LOG_TAIL_CHARS = 4000
LOOPBACK = "127.0.0.1"
# Rasa answers this intent with a response only (no custom action), so the
# readiness probe leaves nothing in the lead store.
PROBE_MESSAGE = "/bot_challenge"


class DevStackError(RuntimeError):
    """A process of the stack did not start, or exited; the message holds its log tail."""


@dataclass(frozen=True)
class StackPorts:
    """Loopback ports of the three processes."""

    rasa: int
    actions: int
    web: int

    @classmethod
    def free(cls) -> StackPorts:
        """Three distinct ports that are free on 127.0.0.1 right now."""
        with contextlib.ExitStack() as stack:
            sockets = [stack.enter_context(socket.socket()) for _ in range(3)]
            for sock in sockets:
                sock.bind((LOOPBACK, 0))
            rasa, actions, web = (sock.getsockname()[1] for sock in sockets)
        return cls(rasa=rasa, actions=actions, web=web)


def process_group_members(pgid: int) -> list[int]:
    """Pids of the live processes in process group ``pgid`` (Linux ``/proc``)."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # The command name is in parentheses and may itself contain spaces.
        fields = stat[stat.rindex(")") + 2 :].split()
        if int(fields[2]) == pgid and fields[0] != "Z":
            members.append(int(entry.name))
    return members


def rss_mb(pid: int) -> float:
    """Resident set size of ``pid`` in MB (``VmRSS``), 0 if it is gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0.0
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) ``pid`` has used so far, in seconds; 0 if it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    # After the parenthesised command name: state is field 3, utime and stime 14 and 15.
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _tail(path: Path, chars: int = LOG_TAIL_CHARS) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return "(no log)"
    return text[-chars:]


def _request(method: str, url: str, *, timeout: float, **kwargs: Any) -> requests.Response:
    # A fresh connection per call: no pooled connection outlives a restarted
    # server, and proxy settings from the environment never apply to loopback.
    with requests.Session() as http:
        http.trust_env = False
        return http.request(method, url, timeout=timeout, **kwargs)


def _http_ok(url: str) -> bool:
    try:
        return _request("GET", url, timeout=PROBE_TIMEOUT_SECONDS).status_code == 200
    except requests.RequestException:
        return False


class DevStack:
    """Starts, probes and stops the action server, the Rasa server and the web app.

    ``ports`` defaults to free loopback ports. Tokens are generated for the
    stack unless given, so nothing is read from or written to ``var/``.
    """

    def __init__(
        self,
        root: Path,
        *,
        model: Path,
        database_url: str,
        spool_dir: Path,
        tracker_store_url: str,
        log_dir: Path,
        ports: StackPorts | None = None,
        api_token: str | None = None,
        environ: Mapping[str, str] | None = None,
        startup_timeout: float = STARTUP_TIMEOUT_SECONDS,
    ) -> None:
        self.root = root
        self.model = model
        self.database_url = database_url
        self.spool_dir = spool_dir
        self.tracker_store_url = tracker_store_url
        self.log_dir = log_dir
        self.ports = ports or StackPorts.free()
        self.api_token = api_token or secrets.token_urlsafe(32)
        self.storefront_token = secrets.token_urlsafe(32)
        self.startup_timeout = startup_timeout
        self.env = self._environment(dict(os.environ if environ is None else environ))
        settings = Settings.from_env(self.env)
        self.children: dict[str, Child] = {
            child.name: child
            for child in build_children(settings, model, Path(sys.executable).parent)
        }
        self._logs: dict[str, IO[bytes]] = {}

    @classmethod
    def in_folder(
        cls, root: Path, base: Path, *, model: Path, log_dir: Path | None = None, **options: Any
    ) -> DevStack:
        """A stack whose lead store, conversations, spool and logs live under ``base``.

        ``options`` are the other keyword arguments of the constructor.
        """
        return cls(
            root,
            model=model,
            database_url=f"sqlite:///{base / 'leads.db'}",
            spool_dir=base / "spool",
            tracker_store_url=f"sqlite:///{base / 'tracker.db'}",
            log_dir=log_dir or base / "logs",
            **options,
        )

    def _environment(self, base: dict[str, str]) -> dict[str, str]:
        # A dialect left over from the caller's configuration would not match our URL.
        base.pop("TRACKER_STORE_DIALECT", None)
        base.update(
            {
                "DATABASE_URL": self.database_url,
                "LEADS_SPOOL_DIR": str(self.spool_dir),
                "TRACKER_STORE_URL": self.tracker_store_url,
                "RASA_PORT": str(self.ports.rasa),
                "ACTIONS_PORT": str(self.ports.actions),
                "WEB_PORT": str(self.ports.web),
                "WEB_HOST": LOOPBACK,
                "LEADS_API_TOKEN": self.api_token,
                "STOREFRONT_TOKEN": self.storefront_token,
                "SESSION_SECRET": base.get("SESSION_SECRET") or secrets.token_urlsafe(32),
                "ACTIONS_TOKEN": base.get("ACTIONS_TOKEN") or secrets.token_urlsafe(32),
                "PUBLIC_URL": f"http://{LOOPBACK}:{self.ports.web}",
                "RASA_TELEMETRY_ENABLED": "false",
                "SQLALCHEMY_SILENCE_UBER_WARNING": "1",
                "TF_CPP_MIN_LOG_LEVEL": "2",
            }
        )
        return child_environment(base)

    @property
    def rasa_url(self) -> str:
        """Base URL of the Rasa server."""
        return f"http://{LOOPBACK}:{self.ports.rasa}"

    @property
    def web_url(self) -> str:
        """Base URL of the web app."""
        return f"http://{LOOPBACK}:{self.ports.web}"

    @property
    def actions_url(self) -> str:
        """Base URL of the action server."""
        return f"http://{LOOPBACK}:{self.ports.actions}"

    def log_path(self, name: str) -> Path:
        """Path of the log (stdout and stderr) of child ``name``."""
        return self.log_dir / f"{name}.log"

    def pid(self, name: str) -> int:
        """Pid (and process group id) of the running child ``name``."""
        process = self.children[name].process
        if process is None or process.poll() is not None:
            raise DevStackError(f"{name} is not running")
        return process.pid

    def rss_mb(self, name: str) -> float:
        """Resident memory in MB of child ``name`` and every process in its group."""
        return sum(rss_mb(pid) for pid in process_group_members(self.pid(name)))

    def cpu_seconds(self, name: str) -> float:
        """CPU seconds used so far by child ``name`` and every process in its group."""
        return sum(cpu_seconds(pid) for pid in process_group_members(self.pid(name)))

    def __enter__(self) -> DevStack:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self) -> None:
        """Migrate the lead store, start the three processes and wait until they answer.

        Raises :class:`DevStackError` (after stopping whatever started) if a
        process exits or is not ready within ``startup_timeout`` seconds.
        """
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.spool_dir.mkdir(parents=True, exist_ok=True)
        upgrade(self.database_url)
        try:
            for name in self.children:
                self._spawn(name)
            self._wait_ready(list(self.children))
        except BaseException:
            self.stop()
            raise

    def restart(self, name: str) -> None:
        """Stop child ``name`` (e.g. ``"rasa"``), start it again and wait until it answers."""
        self._stop_children([self.children[name]])
        self._spawn(name)
        try:
            self._wait_ready([name])
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """SIGTERM every process group, SIGKILL after 10 s; safe to call twice."""
        self._stop_children(list(self.children.values()))

    def _spawn(self, name: str) -> None:
        child = self.children[name]
        log = self._logs.get(name)
        if log is None or log.closed:
            log = self._logs[name] = open(self.log_path(name), "ab")  # noqa: SIM115 - kept open
        log.write(f"--- starting {' '.join(child.command)}\n".encode())
        log.flush()
        child.process = subprocess.Popen(  # noqa: S603 - fixed argument lists
            child.command,
            cwd=self.root,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def _stop_children(self, children: list[Child]) -> None:
        running = [c.process for c in children if c.process is not None]
        for process in running:
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        for process in running:
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait()
            # Anything the child spawned that outlived it.
            for straggler in process_group_members(process.pid):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(straggler, signal.SIGKILL)
        for child in children:
            child.process = None
            log = self._logs.pop(child.name, None)
            if log is not None:
                log.close()

    def _probe(self, name: str) -> bool:
        if name == "actions":
            return _http_ok(f"{self.actions_url}/health")
        if name == "web":
            return _http_ok(f"{self.web_url}/healthz")
        if not _http_ok(f"{self.rasa_url}/"):
            return False
        try:
            replies = self.chat(f"devstack-probe-{uuid.uuid4().hex}", PROBE_MESSAGE)
        except (requests.RequestException, ValueError):
            return False
        return isinstance(replies, list)

    def _wait_ready(self, names: list[str]) -> None:
        deadline = time.monotonic() + self.startup_timeout
        waiting = list(names)
        while waiting:
            for name in list(waiting):
                process = self.children[name].process
                if process is None or process.poll() is not None:
                    code = None if process is None else process.returncode
                    raise DevStackError(
                        f"{name} exited with {code} while starting; "
                        f"end of {self.log_path(name)}:\n{_tail(self.log_path(name))}"
                    )
                if self._probe(name):
                    waiting.remove(name)
            if not waiting:
                return
            if time.monotonic() > deadline:
                tails = "\n".join(
                    f"--- end of {self.log_path(name)}:\n{_tail(self.log_path(name))}"
                    for name in waiting
                )
                raise DevStackError(
                    f"not ready after {self.startup_timeout:.0f} s: {', '.join(waiting)}\n{tails}"
                )
            time.sleep(POLL_INTERVAL_SECONDS)

    def chat(
        self,
        sender: str,
        text: str,
        metadata: dict[str, Any] | None = None,
        *,
        timeout: float = CHAT_TIMEOUT_SECONDS,
    ) -> list[dict[str, Any]]:
        """Send ``text`` as ``sender`` over the REST channel; returns the bot's messages."""
        body: dict[str, Any] = {"sender": sender, "message": text}
        if metadata is not None:
            body["metadata"] = metadata
        response = _request(
            "POST", f"{self.rasa_url}/webhooks/rest/webhook", json=body, timeout=timeout
        )
        response.raise_for_status()
        replies: list[dict[str, Any]] = response.json()
        return replies

    def post_events(self, events: list[dict[str, Any]]) -> requests.Response:
        """``POST /api/v2/events`` with the storefront token (as the shop's pages do)."""
        return _request(
            "POST",
            f"{self.web_url}/api/v2/events",
            json={"events": events},
            headers={"Authorization": f"Bearer {self.storefront_token}"},
            timeout=CHAT_TIMEOUT_SECONDS,
        )

    def api_get(self, path: str, params: dict[str, str] | None = None) -> Any:
        """``GET`` a web-app path with the API token; returns the decoded JSON."""
        response = _request(
            "GET",
            f"{self.web_url}{path}",
            params=params,
            headers={"Authorization": f"Bearer {self.api_token}"},
            timeout=CHAT_TIMEOUT_SECONDS,
        )
        response.raise_for_status()
        return response.json()


def free_ports(count: int) -> list[int]:
    """``count`` distinct ports that are free on 127.0.0.1 right now."""
    with contextlib.ExitStack() as stack:
        sockets = [stack.enter_context(socket.socket()) for _ in range(count)]
        for sock in sockets:
            sock.bind((LOOPBACK, 0))
        return [sock.getsockname()[1] for sock in sockets]


class ClusterStack:
    """``python -m bot cluster`` (what ``make run-cluster`` runs) on free loopback ports.

    Everything it writes (HAProxy's file, the status file, tokens' absence from
    ``var/``) stays under ``base``; the databases, Redis prefixes and the broker
    queue are the caller's, so tests and benchmarks run side by side::

        with ClusterStack(root, base, model=model, database_url=…, tracker_store_url=…,
                          environ={"RABBITMQ_QUEUE": "…"}) as cluster:
            cluster.chat("session-1", "hi")            # through HAProxy
            cluster.chat("session-1", "hi", replica=2)  # straight to rasa-2
    """

    def __init__(
        self,
        root: Path,
        base: Path,
        *,
        model: Path,
        database_url: str,
        tracker_store_url: str,
        rasa_replicas: int = 2,
        action_servers: int = 1,
        web_apps: int = 1,
        roles: str = "haproxy,rasa,actions,web,consumer",
        environ: Mapping[str, str] | None = None,
        startup_timeout: float = STARTUP_TIMEOUT_SECONDS,
        command: Sequence[str] | None = None,
    ) -> None:
        """``command`` starts it: ``python -m bot cluster`` unless given (``make run-cluster``)."""
        self.root = root
        self.base = base
        self.command = list(
            command or [sys.executable, "-m", "bot", "cluster", "--model", str(model)]
        )
        self.startup_timeout = startup_timeout
        ports = free_ports(4 + rasa_replicas + action_servers + web_apps)
        self.chat_port, self.web_port, self.actions_port, self.health_port = ports[:4]
        members = ports[4:]
        self.rasa_ports = members[:rasa_replicas]
        self.actions_ports = members[rasa_replicas : rasa_replicas + action_servers]
        self.web_ports = members[rasa_replicas + action_servers :]
        self.api_token = secrets.token_urlsafe(32)
        self.status_file = base / "supervisor.json"
        self.log_path = base / "cluster.log"

        def listed(member_ports: list[int]) -> str:
            return ",".join(f"{LOOPBACK}:{port}" for port in member_ports)

        self.env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": os.environ.get("HOME", str(base)),
            **(environ or {}),
            "DATABASE_URL": database_url,
            "TRACKER_STORE_URL": tracker_store_url,
            "RASA_PORT": str(self.chat_port),
            "WEB_PORT": str(self.web_port),
            "WEB_HOST": LOOPBACK,
            "ACTIONS_PORT": str(self.actions_port),
            "CLUSTER_HEALTH_PORT": str(self.health_port),
            "CLUSTER_RASA_SERVERS": listed(self.rasa_ports),
            "CLUSTER_ACTION_SERVERS": listed(self.actions_ports),
            "CLUSTER_WEB_SERVERS": listed(self.web_ports),
            "CLUSTER_ROLES": roles,
            "CLUSTER_STATE_DIR": str(base / "state"),
            "SUPERVISOR_STATUS_FILE": str(self.status_file),
            "LEADS_SPOOL_DIR": str(base / "spool"),
            "LEADS_API_TOKEN": self.api_token,
            "STOREFRONT_TOKEN": secrets.token_urlsafe(32),
            "SESSION_SECRET": secrets.token_urlsafe(32),
            "ACTIONS_TOKEN": secrets.token_urlsafe(32),
            "PUBLIC_URL": f"http://{LOOPBACK}:{self.web_port}",
            "RASA_TELEMETRY_ENABLED": "false",
        }
        if "haproxy" not in roles.split(",") and self.actions_ports:
            # Nothing balances the action servers: the Rasa servers call the first one.
            self.env.setdefault("ACTIONS_URL", f"http://{LOOPBACK}:{self.actions_ports[0]}/webhook")
        self.model = model
        self.process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def chat_url(self) -> str:
        """HAProxy's chat frontend."""
        return f"http://{LOOPBACK}:{self.chat_port}"

    @property
    def web_url(self) -> str:
        """HAProxy's web frontend."""
        return f"http://{LOOPBACK}:{self.web_port}"

    def replica_url(self, replica: int) -> str:
        """Rasa server ``replica`` (1-based), straight, not through HAProxy."""
        return f"http://{LOOPBACK}:{self.rasa_ports[replica - 1]}"

    def __enter__(self) -> ClusterStack:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self) -> None:
        """Start the supervisor and wait until HAProxy, every replica and web app answer."""
        self.base.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("ab")
        self.process = subprocess.Popen(  # noqa: S603 - the caller's argument list
            self.command,
            cwd=self.root,
            env=self.env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.startup_timeout
        roles = set(self.env["CLUSTER_ROLES"].split(","))
        urls = []
        if "haproxy" in roles:
            urls.append(f"http://{LOOPBACK}:{self.health_port}/healthz")
        if "rasa" in roles:
            urls += [f"{self.replica_url(index)}/" for index in range(1, len(self.rasa_ports) + 1)]
        if "actions" in roles:
            urls += [f"http://{LOOPBACK}:{port}/health" for port in self.actions_ports]
        if "web" in roles:
            urls += [f"http://{LOOPBACK}:{port}/healthz" for port in self.web_ports]
        waiting = list(urls)
        while waiting:
            assert self.process is not None
            if self.process.poll() is not None:
                raise DevStackError(
                    f"the cluster exited ({self.process.returncode}):\n{_tail(self.log_path)}"
                )
            if time.monotonic() > deadline:
                raise DevStackError(
                    f"no answer from {', '.join(waiting)} within {self.startup_timeout:.0f} s:\n"
                    f"{_tail(self.log_path)}"
                )
            waiting = [url for url in waiting if not _http_ok(url)]
            if waiting:
                time.sleep(POLL_INTERVAL_SECONDS)
        if "haproxy" not in roles or "rasa" not in roles:
            return
        # HAProxy marks a server up after two checks a second apart.
        while time.monotonic() < deadline:
            try:
                if self.chat("readiness-probe", PROBE_MESSAGE):
                    return
            except requests.RequestException:
                pass
            time.sleep(POLL_INTERVAL_SECONDS)
        raise DevStackError(f"HAProxy does not pass chat through:\n{_tail(self.log_path)}")

    def member_pid(self, name: str) -> int:
        """The pid of member ``name`` (``rasa-1``, ``web-2``…) from the supervisor's status."""
        status = json.loads(self.status_file.read_text(encoding="utf-8"))
        pid = status["processes"][name]["pid"]
        if not isinstance(pid, int):
            raise DevStackError(f"{name} is not running: {status['processes'][name]}")
        return pid

    def kill_member(self, name: str) -> int:
        """SIGKILL member ``name``'s process group (the supervisor restarts it); its old pid."""
        pid = self.member_pid(name)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)
        return pid

    def stop(self) -> None:
        """Ctrl-C the supervisor (it stops every member), SIGKILL whatever is left."""
        process = self.process
        if process is not None and process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGINT)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=STOP_GRACE_SECONDS * 3)
        if process is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=STOP_GRACE_SECONDS)
            # Members run in their own groups; anything the status names is ended too.
            with contextlib.suppress(OSError, ValueError, KeyError):
                status = json.loads(self.status_file.read_text(encoding="utf-8"))
                for member in status["processes"].values():
                    if isinstance(member.get("pid"), int):
                        with contextlib.suppress(ProcessLookupError):
                            os.killpg(member["pid"], signal.SIGKILL)
        self.process = None
        if self._log is not None:
            self._log.close()
            self._log = None

    def chat(
        self,
        sender: str,
        text: str,
        *,
        replica: int | None = None,
        timeout: float = CHAT_TIMEOUT_SECONDS,
        **fields: Any,
    ) -> list[dict[str, Any]]:
        """Send one REST message through HAProxy, or straight to Rasa server ``replica``."""
        base = self.chat_url if replica is None else self.replica_url(replica)
        response = _request(
            "POST",
            f"{base}/webhooks/rest/webhook",
            json={"sender": sender, "message": text, **fields},
            timeout=timeout,
        )
        response.raise_for_status()
        replies: list[dict[str, Any]] = response.json()
        return replies
