"""``python -m bot cluster`` (``make run-cluster``): the profile for shops that outgrow one process.

One machine, or several, each running the same files::

    HAProxy  :RASA_PORT  chat (REST + socket.io) → N Rasa servers, a shopper pinned by sender id
             :WEB_PORT   shop, APIs, lead pages  → K web apps (each also runs the outbox worker)
             :ACTIONS_PORT (loopback)            → M action servers, for the Rasa servers
    PostgreSQL  lead store (DATABASE_URL) and Rasa's tracker store (TRACKER_STORE_URL)
    Redis       the atomic lock store (rasa_ext.lock_store) and the shared rate limits
    RabbitMQ    Rasa's event broker, read by the conversation-events consumer

:class:`ClusterConfig` reads every address and count from the environment;
:func:`haproxy_config` writes HAProxy's file from it; :func:`cluster_children`
lists the processes this machine runs, and :func:`run` supervises them with the
same :class:`~bot.supervisor.Supervisor` as ``make run`` (restarts with backoff,
liveness checks, clean Ctrl-C).

Stickiness. Rasa 3.6's socket.io channel keeps a shopper's socket in one
process's memory and has no message queue between processes, so all requests of
one socket.io session must reach the same replica; the REST channel works from
any replica (the tracker is shared and the lock store serialises turns), and is
pinned too so a replica's tracker reads stay warm. HAProxy hashes the ``sender``
query parameter (the widget adds it to the socket.io URL) or, for the REST
channel, the ``sender`` field of the JSON body (``option http-buffer-request``
makes the body readable, up to ``tune.bufsize``; a larger body is spread round
robin, which is still correct). Hashing is consistent: when a replica fails its
health check only its shoppers move, and they come back when it is up again.
"""

from __future__ import annotations

import ipaddress
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from bot.settings import VAR_DIR, Settings, mask_url_password
from bot.supervisor import (
    CHILD_TIMINGS,
    Child,
    Liveness,
    LivenessCheck,
    Supervisor,
    Timing,
    child_environment,
    notification_lines,
    token_lines,
    unavailable_ports,
)

DEFAULT_RASA_REPLICAS = 2
DEFAULT_ACTION_SERVERS = 2
DEFAULT_WEB_APPS = 2
# Where one machine's own members listen, counted up from these.
DEFAULT_RASA_BASE_PORT = 5105
DEFAULT_ACTIONS_BASE_PORT = 5155
DEFAULT_WEB_BASE_PORT = 8100
DEFAULT_HEALTH_PORT = 8404
DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/storefront"
DEFAULT_TRACKER_STORE_URL = "postgresql://postgres@127.0.0.1:5432/storefront_tracker"
ROLES = ("haproxy", "rasa", "actions", "web", "consumer")
# A turn's action call ends (HAProxy answers 504) well before the conversation's ticket
# lock expires (Rasa's TICKET_LOCK_LIFETIME, 60 s by default, rasa/core/lock_store.py):
# Rasa's own action timeout is 300 s (DEFAULT_REQUEST_TIMEOUT, rasa/core/constants.py),
# and a lock that expired under a running turn would let the next turn run beside it.
DEFAULT_ACTION_TIMEOUT_SECONDS = 20
DEFAULT_TICKET_LOCK_LIFETIME = 60
# Rasa's SQL tracker store pools 50 + 100 overflow connections per process by default
# (SQL_POOL_SIZE, SQL_MAX_OVERFLOW in rasa/core/tracker_store.py); PostgreSQL's default
# max_connections is 100 for every process of the cluster together.
RASA_SQL_POOL_SIZE = 4
RASA_SQL_MAX_OVERFLOW = 6


# Requests a server works on at once; more wait in HAProxy's queue (timeout queue). A Rasa
# server runs one event loop: beyond a few turns at once it only answers everything
# later, its liveness checks included (200 shoppers on 2 cores got it restarted as hung).
RASA_MAXCONN = 8
ACTIONS_MAXCONN = 16
WEB_MAXCONN = 64
# A Rasa server of the cluster is taken for hung after 6 checks of 10 s without an answer:
# HAProxy routes around a slow one meanwhile, and a restart costs its model load.
CLUSTER_RASA_TIMING = Timing(startup_grace=300.0, liveness_timeout=10.0, liveness_failures=6)


class ClusterConfigError(ValueError):
    """A cluster setting that is not what it must be; the message names the variable."""


@dataclass(frozen=True)
class Address:
    """Where one member listens."""

    host: str
    port: int

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


@dataclass(frozen=True)
class ClusterConfig:
    """The topology, from the environment (see :meth:`from_env` for each variable)."""

    rasa: tuple[Address, ...]
    actions: tuple[Address, ...]
    web: tuple[Address, ...]
    chat_port: int
    web_port: int
    actions_port: int
    health_port: int
    public_host: str
    local_host: str
    roles: frozenset[str]
    database_url: str
    tracker_store_url: str
    # HAProxy's written file; Rasa's endpoints file (relative to the project).
    state_dir: Path = VAR_DIR / "cluster"
    endpoints: str = "endpoints-cluster.yml"
    action_timeout: int = DEFAULT_ACTION_TIMEOUT_SECONDS
    ticket_lock_lifetime: int = DEFAULT_TICKET_LOCK_LIFETIME
    extra_env: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> ClusterConfig:
        """Read the cluster's variables; :class:`ClusterConfigError` names a wrong one.

        ``RASA_REPLICAS``, ``ACTION_SERVERS``, ``WEB_APPS``: how many of each run on this
        machine (2 each), on ports counted up from ``CLUSTER_RASA_BASE_PORT`` (5105),
        ``CLUSTER_ACTIONS_BASE_PORT`` (5155) and ``CLUSTER_WEB_BASE_PORT`` (8100) on
        ``CLUSTER_HOST`` (127.0.0.1). On several machines, ``CLUSTER_RASA_SERVERS``,
        ``CLUSTER_ACTION_SERVERS`` and ``CLUSTER_WEB_SERVERS`` list every member as
        ``host:port,…``; a machine starts those whose host is its ``CLUSTER_HOST``.
        ``CLUSTER_ROLES`` says which kinds this machine runs (all by default).
        """
        local_host = env.get("CLUSTER_HOST") or "127.0.0.1"
        _check_host("CLUSTER_HOST", local_host)
        rasa = _members(
            env,
            "CLUSTER_RASA_SERVERS",
            "RASA_REPLICAS",
            DEFAULT_RASA_REPLICAS,
            "CLUSTER_RASA_BASE_PORT",
            DEFAULT_RASA_BASE_PORT,
            local_host,
        )
        actions = _members(
            env,
            "CLUSTER_ACTION_SERVERS",
            "ACTION_SERVERS",
            DEFAULT_ACTION_SERVERS,
            "CLUSTER_ACTIONS_BASE_PORT",
            DEFAULT_ACTIONS_BASE_PORT,
            local_host,
        )
        web = _members(
            env,
            "CLUSTER_WEB_SERVERS",
            "WEB_APPS",
            DEFAULT_WEB_APPS,
            "CLUSTER_WEB_BASE_PORT",
            DEFAULT_WEB_BASE_PORT,
            local_host,
        )
        defaults = Settings()
        roles_text = env.get("CLUSTER_ROLES") or ",".join(ROLES)
        roles = frozenset(part.strip() for part in roles_text.split(",") if part.strip())
        unknown = sorted(roles - set(ROLES))
        if unknown or not roles:
            raise ClusterConfigError(
                f"CLUSTER_ROLES must list some of {', '.join(ROLES)}; got {roles_text!r}"
            )
        config = cls(
            rasa=rasa,
            actions=actions,
            web=web,
            chat_port=_port(env, "RASA_PORT", defaults.rasa_port),
            web_port=_port(env, "WEB_PORT", defaults.web_port),
            actions_port=_port(env, "ACTIONS_PORT", defaults.actions_port),
            health_port=_port(env, "CLUSTER_HEALTH_PORT", DEFAULT_HEALTH_PORT),
            public_host=env.get("WEB_HOST") or defaults.web_host,
            local_host=local_host,
            roles=roles,
            database_url=env.get("DATABASE_URL") or DEFAULT_DATABASE_URL,
            tracker_store_url=env.get("TRACKER_STORE_URL") or DEFAULT_TRACKER_STORE_URL,
            state_dir=Path(env.get("CLUSTER_STATE_DIR") or VAR_DIR / "cluster"),
            endpoints=env.get("CLUSTER_ENDPOINTS") or "endpoints-cluster.yml",
            action_timeout=_positive(env, "CLUSTER_ACTION_TIMEOUT", DEFAULT_ACTION_TIMEOUT_SECONDS),
            ticket_lock_lifetime=_positive(
                env, "TICKET_LOCK_LIFETIME", DEFAULT_TICKET_LOCK_LIFETIME
            ),
        )
        for name, url in (
            ("DATABASE_URL", config.database_url),
            ("TRACKER_STORE_URL", config.tracker_store_url),
        ):
            if not url.startswith(("postgresql://", "postgresql+psycopg2://")):
                raise ClusterConfigError(
                    f"{name} must be a PostgreSQL URL (postgresql://user@host:port/db) in the "
                    f"cluster profile: every machine shares it; got {mask_url_password(url)!r}"
                )
        if config.action_timeout >= config.ticket_lock_lifetime:
            raise ClusterConfigError(
                f"CLUSTER_ACTION_TIMEOUT ({config.action_timeout} s) must be shorter than "
                f"TICKET_LOCK_LIFETIME ({config.ticket_lock_lifetime} s): a turn still waiting "
                "for its action must not outlive the conversation's lock"
            )
        config.check_ports()
        return config

    def local(self, members: tuple[Address, ...]) -> list[Address]:
        """The members this machine runs."""
        return [member for member in members if member.host == self.local_host]

    def check_ports(self) -> None:
        """Each port this machine listens on is used once."""
        seen: dict[int, str] = {}
        mine: list[tuple[str, int]] = []
        if "haproxy" in self.roles:
            mine += [
                ("RASA_PORT", self.chat_port),
                ("WEB_PORT", self.web_port),
                ("ACTIONS_PORT", self.actions_port),
                ("CLUSTER_HEALTH_PORT", self.health_port),
            ]
        for kind, members in (("rasa", self.rasa), ("actions", self.actions), ("web", self.web)):
            if kind in self.roles:
                mine += [(f"{kind} member {member}", member.port) for member in self.local(members)]
        for name, port in mine:
            if port in seen:
                raise ClusterConfigError(f"{name} uses port {port}, which {seen[port]} uses too")
            seen[port] = name

    def environment(self, base: Mapping[str, str]) -> dict[str, str]:
        """What every process of the cluster reads (``base`` wins where it sets a value)."""
        env = child_environment(dict(base))
        defaults = {
            "DATABASE_URL": self.database_url,
            "TRACKER_STORE_URL": self.tracker_store_url,
            "TRACKER_STORE_DIALECT": "postgresql",
            "ACTIONS_URL": f"http://127.0.0.1:{self.actions_port}/webhook",
            "REDIS_HOST": "127.0.0.1",
            "REDIS_PORT": "6379",
            "REDIS_LOCK_DB": "1",
            "REDIS_PASSWORD": "",
            "REDIS_LOCK_PREFIX": "storefront",
            "REDIS_LOCK_LEASE_SECONDS": "5",
            "RATE_LIMIT_REDIS_URL": "redis://127.0.0.1:6379/2",
            "RABBITMQ_HOST": "127.0.0.1",
            "RABBITMQ_PORT": "5672",
            "RABBITMQ_USER": "guest",
            "RABBITMQ_PASSWORD": "guest",
            "RABBITMQ_QUEUE": "storefront_events",
            "SQL_POOL_SIZE": str(RASA_SQL_POOL_SIZE),
            "SQL_MAX_OVERFLOW": str(RASA_SQL_MAX_OVERFLOW),
            "TICKET_LOCK_LIFETIME": str(self.ticket_lock_lifetime),
        }
        for name, value in defaults.items():
            if not base.get(name):
                env[name] = value
        # child_environment defaulted these for one machine; the cluster's own win.
        env["TRACKER_STORE_URL"] = base.get("TRACKER_STORE_URL") or self.tracker_store_url
        env["TRACKER_STORE_DIALECT"] = "postgresql"
        env["SANIC_HOST"] = self.local_host
        env.update(self.extra_env)
        return env


def _check_host(name: str, host: str) -> None:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        if not host or any(char in host for char in " /:,"):
            raise ClusterConfigError(
                f"{name} must be a host name or IP address; got {host!r}"
            ) from None


def _positive(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ClusterConfigError(f"{name} must be a whole number; got {raw!r}") from None
    if value < 1:
        raise ClusterConfigError(f"{name} must be at least 1; got {value}")
    return value


def _port(env: Mapping[str, str], name: str, default: int) -> int:
    value = _positive(env, name, default)
    if value > 65535:
        raise ClusterConfigError(f"{name} must be a port number (1-65535); got {value}")
    return value


def _members(
    env: Mapping[str, str],
    list_name: str,
    count_name: str,
    default_count: int,
    base_name: str,
    default_base: int,
    local_host: str,
) -> tuple[Address, ...]:
    listed = env.get(list_name, "").strip()
    if not listed:
        count = _positive(env, count_name, default_count)
        base = _port(env, base_name, default_base)
        if base + count - 1 > 65535:
            raise ClusterConfigError(f"{base_name} + {count_name} go past port 65535")
        return tuple(Address(local_host, base + index) for index in range(count))
    members = []
    for part in listed.split(","):
        text = part.strip()
        host, sep, port_text = text.rpartition(":")
        host = host.strip("[]")
        if not sep or not host or not port_text.isdigit() or not 0 < int(port_text) < 65536:
            raise ClusterConfigError(
                f"{list_name} must list members as host:port separated by commas; got {text!r}"
            )
        _check_host(list_name, host)
        members.append(Address(host, int(port_text)))
    if len(set(members)) != len(members):
        raise ClusterConfigError(f"{list_name} lists a member twice: {listed!r}")
    return tuple(members)


def haproxy_config(config: ClusterConfig) -> str:
    """HAProxy's configuration for ``config`` (HAProxy 2.6, Debian 12's package)."""

    def servers(prefix: str, members: tuple[Address, ...], maxconn: int) -> str:
        return "".join(
            f"    server {prefix}-{index} {member} check maxconn {maxconn}\n"
            for index, member in enumerate(members, start=1)
        )

    public = config.public_host or "0.0.0.0"  # noqa: S104 - the operator's choice (WEB_HOST)
    bind_public = f"[{public}]" if ":" in public else public
    return f"""# Written by `python -m bot cluster` from the environment; edits are overwritten.
global
    # Two descriptors per connection must fit the process limit (often 20,000 here).
    maxconn 4000

defaults
    mode http
    timeout connect 2s
    timeout client 75s
    timeout server 75s
    timeout http-request 10s
    # Requests past a server's maxconn wait here, in order, instead of piling up in its
    # one event loop (where its health checks would time out and get it restarted).
    timeout queue 30s
    # socket.io keeps a websocket open for the whole chat.
    timeout tunnel 1h
    # A replica that died between the health checks: try another for the same request
    # only when the connection could not be made (nothing reached the dead one).
    retries 2
    option redispatch 1
    # A refused connection (a killed server) fails a check at once: down after three
    # (~1.5 s). A busy server may answer a check late: it has 5 s before that counts.
    timeout check 5s
    default-server inter 1s fastinter 500ms fall 3 rise 2

frontend health
    bind 127.0.0.1:{config.health_port}
    monitor-uri /healthz

frontend chat
    bind {bind_public}:{config.chat_port}
    option http-buffer-request
    # The socket.io URL carries ?sender=<session id>; the REST body {{"sender": …}}.
    http-request set-var(txn.sender) url_param(sender)
    acl has_sender var(txn.sender) -m found
    http-request set-var(txn.sender) req.body,json_query('$.sender') if !has_sender METH_POST
    default_backend rasa

backend rasa
    balance hash var(txn.sender)
    hash-type consistent
    option httpchk GET /
    http-check expect status 200
    # Which replica answered (rasa-1, rasa-2…): for operators following one shopper.
    http-response set-header X-Served-By %[srv_name]
{servers("rasa", config.rasa, RASA_MAXCONN)}
frontend web
    bind {bind_public}:{config.web_port}
    default_backend web

backend web
    balance roundrobin
    option httpchk GET /healthz
    http-check expect status 200
{servers("web", config.web, WEB_MAXCONN)}
frontend actions
    bind 127.0.0.1:{config.actions_port}
    default_backend actions

backend actions
    balance leastconn
    # Shorter than the conversation's ticket lock (TICKET_LOCK_LIFETIME).
    timeout server {config.action_timeout}s
    option httpchk GET /health
    http-check expect status 200
{servers("actions", config.actions, ACTIONS_MAXCONN)}"""


class ProcessOnly:
    """A child with no HTTP port: alive while its process runs (the supervisor restarts it)."""

    def check(self, timeout: float) -> bool:
        """Always true: an exited process is noticed by the supervisor itself."""
        return True


def cluster_children(
    config: ClusterConfig, settings: Settings, model: Path, haproxy_file: Path, bin_dir: Path
) -> tuple[list[Child], dict[str, LivenessCheck], dict[str, Timing]]:
    """The processes this machine runs, their liveness checks and timings."""
    python = str(bin_dir / "python")
    children: list[Child] = []
    liveness: dict[str, LivenessCheck] = {}
    timings: dict[str, Timing] = {}

    def add(name: str, kind: str, command: list[str], check: LivenessCheck, **env: str) -> None:
        children.append(Child(name, command, env=env))
        liveness[name] = check
        timings[name] = CLUSTER_RASA_TIMING if kind == "rasa" else CHILD_TIMINGS.get(kind, Timing())

    if "haproxy" in config.roles:
        add(
            "haproxy",
            "haproxy",
            [_haproxy_binary(), "-db", "-f", str(haproxy_file)],
            Liveness("127.0.0.1", config.health_port, "/healthz"),
        )
    if "actions" in config.roles:
        for index, member in enumerate(config.local(config.actions), start=1):
            add(
                f"actions-{index}",
                "actions",
                [python, "-m", "actions.server", "--port", str(member.port)],
                Liveness(member.host, member.port, "/health"),
            )
    if "rasa" in config.roles:
        for index, member in enumerate(config.local(config.rasa), start=1):
            add(
                f"rasa-{index}",
                "rasa",
                [
                    python,
                    "-m",
                    "rasa_ext",
                    "run",
                    "--model",
                    str(model),
                    "--port",
                    str(member.port),
                    "--interface",
                    member.host,
                    "--endpoints",
                    config.endpoints,
                    "--credentials",
                    "credentials.yml",
                    "--cors",
                    *settings.cors_origins,
                ],
                Liveness(member.host, member.port, "/"),
            )
    if "web" in config.roles:
        for index, member in enumerate(config.local(config.web), start=1):
            add(
                f"web-{index}",
                "web",
                [python, "-m", "bot", "web"],
                Liveness(member.host, member.port, "/healthz"),
                WEB_PORT=str(member.port),
                WEB_HOST=member.host,
            )
    if "consumer" in config.roles:
        add("consumer", "consumer", [python, "-m", "bot", "events", "consume"], ProcessOnly())
    return children, liveness, timings


def _haproxy_binary() -> str:
    for candidate in ("/usr/sbin/haproxy", "/usr/bin/haproxy"):
        if os.access(candidate, os.X_OK):
            return candidate
    return "haproxy"


def ensure_database(url: str) -> bool:
    """Create the PostgreSQL database ``url`` names if it does not exist; True if it was created.

    Connects to the server's ``postgres`` database as the URL's user, who needs the
    CREATEDB right (or an administrator creates the databases beforehand).
    """
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    target = make_url(url)
    name = target.database
    if not name:
        raise ClusterConfigError(f"{mask_url_password(url)} names no database")
    admin = create_engine(
        target.set(database="postgres"), isolation_level="AUTOCOMMIT", future=True
    )
    try:
        with admin.connect() as connection:
            exists = connection.execute(
                text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name}
            ).first()
            if exists:
                return False
            quoted = admin.dialect.identifier_preparer.quote(name)
            connection.execute(text(f"CREATE DATABASE {quoted}"))
            return True
    finally:
        admin.dispose()


def run(model: Path) -> int:
    """Start this machine's part of the cluster and keep it up until Ctrl-C or SIGTERM."""
    from sqlalchemy.exc import SQLAlchemyError

    from bot.secrets import TokenFileError, ensure_tokens, make_data_private
    from bot.store.migrate import upgrade
    from bot.supervisor import config_problem, serve

    base = dict(os.environ)
    given = {name for name in ("LEADS_API_TOKEN", "STOREFRONT_TOKEN") if base.get(name)}
    try:
        config = ClusterConfig.from_env(base)
    except ClusterConfigError as exc:
        print(f"cannot start: {exc}", file=sys.stderr)
        return 1
    env = config.environment(base)
    # Links in notifications and pages point at HAProxy, not at one web app.
    env.setdefault("PUBLIC_URL", f"http://localhost:{config.web_port}")
    settings = Settings.from_env(env)
    problem = config_problem(settings)
    if problem is not None:
        print(f"cannot start: {problem}", file=sys.stderr)
        return 1
    busy = ports_in_use(config)
    if busy:
        for line in busy:
            print(f"cannot start: {line}", file=sys.stderr)
        return 1
    make_data_private(settings)
    try:
        created = ensure_tokens(env)
    except TokenFileError as exc:
        print(f"cannot start: {exc}", file=sys.stderr)
        return 1
    try:
        for url in (config.database_url, config.tracker_store_url):
            if ensure_database(url):
                print(f"created database {mask_url_password(url)}", flush=True)
        if config.roles & {"web", "actions", "consumer"}:
            upgrade(config.database_url)
    except SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        print(
            f"cannot start: PostgreSQL at {mask_url_password(config.database_url)} "
            f"is not usable: {reason}",
            file=sys.stderr,
        )
        return 1
    haproxy_file = config.state_dir / "haproxy.cfg"
    haproxy_file.parent.mkdir(parents=True, exist_ok=True)
    haproxy_file.write_text(haproxy_config(config), encoding="utf-8")
    if "haproxy" in config.roles and not os.access(_haproxy_binary(), os.X_OK):
        print(
            "cannot start: haproxy is not installed (`make run-cluster` installs Debian's "
            "package; or set CLUSTER_ROLES without haproxy on machines behind another one)",
            file=sys.stderr,
        )
        return 1
    children, liveness, timings = cluster_children(
        config, settings, model, haproxy_file, Path(sys.executable).parent
    )
    supervisor = Supervisor(
        children,
        env=env,
        liveness=liveness,
        status_file=settings.supervisor_status_file,
        timings=timings,
    )
    from bot.handoff import handoff_config_for

    handoffs = handoff_config_for(settings)

    def banner() -> str:
        members = ", ".join(child.name for child in children)
        lines = [
            "\nStorefront lead assistant, cluster profile, starting "
            "(each Rasa server takes ~30 s or more to load its model):\n",
            f"  processes       {members}\n",
        ]
        if "haproxy" in config.roles:
            lines += [
                f"  chat (REST)     http://localhost:{config.chat_port}/webhooks/rest/webhook\n",
                f"  chat (socket)   http://localhost:{config.chat_port}/socket.io\n",
                f"  web app / API   http://localhost:{config.web_port}/api/v2/leads\n",
                f"  lead pages      http://localhost:{config.web_port}/leads (log in: API token)\n",
            ]
        lines += [
            f"  lead store      {mask_url_password(config.database_url)}\n",
            f"  tracker store   {mask_url_password(config.tracker_store_url)}\n",
            f"  HAProxy file    {haproxy_file}\n",
            *token_lines(env, created, given),
            *notification_lines(handoffs, settings.handoff_config_path),
            "A process that exits or stops answering is restarted; Ctrl-C stops everything.\n",
        ]
        return "".join(lines)

    return serve(supervisor, banner)


def ports_in_use(config: ClusterConfig) -> list[str]:
    """Why each port this machine would listen on cannot be used (empty when all are free)."""
    wanted: list[tuple[str, str, int]] = []
    if "haproxy" in config.roles:
        public = config.public_host or "0.0.0.0"  # noqa: S104 - as HAProxy binds it
        wanted += [
            ("RASA_PORT", public, config.chat_port),
            ("WEB_PORT", public, config.web_port),
            ("ACTIONS_PORT", "127.0.0.1", config.actions_port),
            ("CLUSTER_HEALTH_PORT", "127.0.0.1", config.health_port),
        ]
    for kind, members, variable in (
        ("rasa", config.rasa, "CLUSTER_RASA_BASE_PORT"),
        ("actions", config.actions, "CLUSTER_ACTIONS_BASE_PORT"),
        ("web", config.web, "CLUSTER_WEB_BASE_PORT"),
    ):
        if kind in config.roles:
            wanted += [(variable, member.host, member.port) for member in config.local(members)]
    return unavailable_ports(wanted)
