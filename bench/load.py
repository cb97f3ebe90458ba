"""``python -m bench load``: the cluster profile under Locust's shoppers, 1 and 2 Rasa replicas.

For each count of Rasa replicas (``--replicas``, 1 and 2) a cluster is started with
:class:`bot.devstack.ClusterStack` (HAProxy, the Rasa replicas, ``--action-servers``
action servers, ``--web-apps`` web apps and the events consumer) on scratch PostgreSQL
databases, its own RabbitMQ queue and Redis prefixes, all removed afterwards. Against it,
for each number of shoppers (``--users``, 10, 50 and 200, in that order) Locust runs
``bench/locustfile.py`` in its own process (Locust patches the standard library for
gevent when it is imported, so it stays out of this one): every shopper holds a
qualification conversation over the REST channel through HAProxy, one message a second
(``constant_pacing(1)``), each message with a fresh ``message_id``; a reply that is not
200 with a non-empty list of messages is a failure.

Each cluster first serves ``--warm-up`` seconds of unmeasured shoppers (every process loads
what its first turns load). For each number of shoppers, once every shopper has started
(``--ramp`` seconds) and ``--settle`` seconds more, the steady window (``--window`` seconds)
is measured: turns/s, p50/p99 latency of the
answered turns and errors, from one line per message the locustfile writes; CPU seconds
of each cluster process (its process group, from ``/proc``), of the PostgreSQL backends
serving the cluster's two databases, and of Locust itself; peak resident memory of each
process; how busy the whole machine was; and the broker events the consumer had not yet
taken. Then Locust is stopped (SIGTERM: replies still on their way are not counted), and
the cluster finishes what they left before the next number of shoppers. From the CPU per
turn of the Rasa servers and the action servers follows how many turns/s one more machine
running them would add. The defaults take about 11 minutes.

Prints a Markdown report and writes the figures to ``var/bench/load.json``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench.stats import percentile
from bot.settings import PROJECT_ROOT, VAR_DIR

# The cluster, database and /proc helpers are imported where they are used: the
# locustfile imports this module into Locust's gevent-patched process, which needs only
# the shopper's script and the samples.
if TYPE_CHECKING:
    from bot.devstack import ClusterStack

OUTPUT = VAR_DIR / "bench" / "load.json"
LOCUSTFILE = Path(__file__).with_name("locustfile.py")
CHAT_PATH = "/webhooks/rest/webhook"
PACING_SECONDS = 1.0
# What the locustfile reads from its environment.
SAMPLES_ENV = "LOAD_SAMPLES"
READY_ENV = "LOAD_READY"
SEED_ENV = "LOAD_SEED"
DEFAULT_REPLICAS = (1, 2)
DEFAULT_USERS = (10, 50, 200)
# Two cores: two action servers keep one slow action from holding every turn behind it;
# one web app, as no shopper's chat goes through it (it runs the outbox worker here).
DEFAULT_ACTION_SERVERS = 2
DEFAULT_WEB_APPS = 1
# "One more machine" is a machine like this one: two cores for Rasa and the actions.
DEFAULT_MACHINE_CORES = 2
LOCUST_START_TIMEOUT_SECONDS = 60.0
LOCUST_STOP_TIMEOUT_SECONDS = 30.0
COOL_DOWN_SECONDS = 5.0

# The shopper's messages, in the order the default flow asks (data/flows/default.yml:
# timeline, variant, location, budget, consent, name, contact), each picked per conversation.
GREETINGS = (
    "Hi! I'm interested in your products",
    "hello",
    "hi there, I have a question about a hoodie",
    "good morning",
)
TIMELINES = (
    "within two weeks",
    "probably within the next two weeks",
    "next month maybe",
    "as soon as possible",
    "in 3 weeks",
)
VARIANTS = (
    "the black hoodie in XL",
    "I'd like the black hoodie in XL",
    "the blue hoodie in M",
    "the grey hoodie in M",
    "the red rain jacket in S",
)
LOCATIONS = ("Lyon, France", "deliver to Lyon, France", "Paris", "Brussels", "Berlin, Germany")
BUDGETS = (
    "around 80 euros",
    "my budget is around 80 euros",
    "about 120",
    "under 100 euros",
    "around 300 bucks",
)
# Questions a shopper asks between answers.
QUESTIONS = (
    "what materials is it made of?",
    "do you ship to Belgium?",
    "how long does delivery take?",
    "is there a discount?",
    "can I pay by card?",
    "what sizes do you have?",
    "do you have it in stock?",
    "what colours are there?",
)
NAMES = ("Jane Doe", "Marc Petit", "Anna Schmidt", "Luca Rossi")


def shopper_script(rng: random.Random, tag: str) -> list[str]:
    """One shopper's messages: a greeting, the four answers with up to two questions among
    them, consent, a name and an email address made unique by ``tag``."""
    answers = [
        rng.choice(TIMELINES),
        rng.choice(VARIANTS),
        rng.choice(LOCATIONS),
        rng.choice(BUDGETS),
    ]
    # A question goes before one of the answers: while the form waits for that answer,
    # the bot answers the question and asks again (during the consent question it would
    # only ask for a yes or a no).
    for question in rng.sample(QUESTIONS, rng.randint(0, 2)):
        answers.insert(rng.randint(0, len(answers) - 1), question)
    name = rng.choice(NAMES)
    email = f"{name.split()[0].lower()}.{tag}@example.com"
    return [rng.choice(GREETINGS), *answers, "yes", name, email]


def reply_problem(status: int, body: str, error: str = "") -> str | None:
    """Why a chat reply is a failure (``None`` if it is an answer): not 200, or no messages."""
    if status != 200:
        return f"HTTP {status}: {error}" if error else f"HTTP {status}"
    try:
        messages = json.loads(body)
    except ValueError:
        return "reply is not JSON"
    if not isinstance(messages, list):
        return "reply is not a list of messages"
    if not messages:
        return "empty reply"
    return None


@dataclass(frozen=True)
class Sample:
    """One message as the shopper saw it: when the reply ended (Unix time), how long it took."""

    at: float
    ms: float
    ok: bool
    message_id: str
    error: str = ""


def format_sample(sample: Sample) -> str:
    """The sample as one tab-separated line (tabs and newlines in the error become spaces)."""
    error = " ".join(sample.error.split())
    return f"{sample.at:.6f}\t{sample.ms:.3f}\t{int(sample.ok)}\t{sample.message_id}\t{error}\n"


def read_samples(path: Path) -> list[Sample]:
    """The samples the locustfile wrote to ``path`` (none if it wrote nothing)."""
    if not path.exists():
        return []
    samples = []
    for line in path.read_text(encoding="utf-8").splitlines():
        at, ms, ok, message_id, error = line.split("\t", 4)
        samples.append(Sample(float(at), float(ms), ok == "1", message_id, error))
    return samples


@dataclass(frozen=True)
class TurnFigures:
    """The turns whose reply ended inside a window; latency of the answered ones only."""

    turns: int
    errors: int
    turns_per_second: float
    p50_ms: float
    p99_ms: float
    max_ms: float


def turn_figures(samples: Sequence[Sample], start: float, end: float) -> TurnFigures:
    """Turns/s, latency and errors of the samples that ended in ``[start, end)``."""
    if end <= start:
        raise ValueError("the window must end after it starts")
    inside = [sample for sample in samples if start <= sample.at < end]
    answered = [sample.ms for sample in inside if sample.ok]
    return TurnFigures(
        turns=len(answered),
        errors=len(inside) - len(answered),
        turns_per_second=round(len(answered) / (end - start), 2),
        p50_ms=round(percentile(answered, 50), 1) if answered else 0.0,
        p99_ms=round(percentile(answered, 99), 1) if answered else 0.0,
        max_ms=round(max(answered), 1) if answered else 0.0,
    )


def error_counts(samples: Sequence[Sample]) -> dict[str, int]:
    """How many failures of each kind."""
    return dict(Counter(sample.error or "unknown" for sample in samples if not sample.ok))


def role_of(name: str) -> str:
    """The kind of process a member name is: ``rasa-2`` → ``rasa``."""
    head, _, index = name.rpartition("-")
    return head if head and index.isdigit() else name


@dataclass(frozen=True)
class Usage:
    """What one process (with its process group) used over the window."""

    name: str
    cpu_seconds: float
    rss_mb_peak: float


def cpu_ms_per_turn(usage: Sequence[Usage], turns: int) -> dict[str, float]:
    """CPU milliseconds per answered turn of each kind of process, summed over its members."""
    totals: dict[str, float] = {}
    for entry in usage:
        role = role_of(entry.name)
        totals[role] = totals.get(role, 0.0) + entry.cpu_seconds
    if turns == 0:
        return {role: 0.0 for role in totals}
    return {role: round(seconds * 1000 / turns, 2) for role, seconds in totals.items()}


@dataclass(frozen=True)
class MachineEstimate:
    """Turns/s one more machine running Rasa and the action servers would add.

    ``turns_per_second`` = ``cores`` CPU-seconds per second over the Rasa and action
    servers' measured CPU per turn. ``central_cores`` is what those turns would cost the
    machine that keeps HAProxy, PostgreSQL and the consumer, at their measured CPU per turn.
    """

    cores: int
    rasa_actions_ms_per_turn: float
    turns_per_second: float
    central_ms_per_turn: float
    central_cores: float


def one_more_machine(per_turn: Mapping[str, float], cores: int) -> MachineEstimate | None:
    """The estimate from a run's CPU per turn (``None`` if the run answered no turn)."""
    worker = per_turn.get("rasa", 0.0) + per_turn.get("actions", 0.0)
    if worker <= 0:
        return None
    added = cores * 1000 / worker
    central = sum(per_turn.get(role, 0.0) for role in ("haproxy", "postgres", "consumer"))
    return MachineEstimate(
        cores=cores,
        rasa_actions_ms_per_turn=round(worker, 2),
        turns_per_second=round(added, 1),
        central_ms_per_turn=round(central, 2),
        central_cores=round(added * central / 1000, 2),
    )


@dataclass(frozen=True)
class LevelResult:
    """One number of shoppers against one cluster."""

    replicas: int
    users: int
    window_seconds: float
    turns: TurnFigures
    run_turns: int
    run_errors: int
    errors_by_kind: dict[str, int]
    usage: list[Usage]
    cpu_ms_per_turn: dict[str, float]
    machine_busy_percent: float
    load_average_before: tuple[float, float, float]
    locust_exit_code: int | None
    estimate: MachineEstimate | None = None
    shared_services_cpu_seconds: dict[str, float] = field(default_factory=dict)
    # Broker events the consumer had not yet taken when the window ended.
    consumer_backlog: int | None = None
    # Members the supervisor restarted during the window.
    restarted: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class LeadCheck:
    """What the shoppers left in the lead store: their leads, and those with all four
    core answers (timeline, variant, location, budget) and with contact details."""

    leads: int
    four_answers: int
    contact_details: int


@dataclass(frozen=True)
class ClusterNotes:
    """One cluster's run as a whole: failures while warming up, and the leads left."""

    replicas: int
    warm_up_errors: int
    leads: LeadCheck


def basis(results: Sequence[LevelResult]) -> LevelResult | None:
    """The run the one-more-machine estimate is stated from: the error-free run with the
    most replicas and, among those, the most turns/s (the machine at its fullest)."""
    candidates = [result for result in results if result.estimate and result.run_errors == 0]
    if not candidates:
        candidates = [result for result in results if result.estimate]
    if not candidates:
        return None
    return max(candidates, key=lambda r: (r.replicas, r.turns.turns_per_second))


MEMORY_COLUMNS = ("haproxy", "rasa-1", "rasa-2", "actions-1", "actions-2", "web-1", "consumer")


def render(
    results: Sequence[LevelResult],
    clusters: Sequence[ClusterNotes],
    *,
    machine: str,
    action_servers: int,
    web_apps: int,
    ramp: float,
    settle: float,
) -> str:
    """The report as Markdown."""
    window = results[0].window_seconds if results else 0.0
    lines = [
        f"Cluster profile under Locust shoppers ({machine}): HAProxy, N Rasa servers, "
        f"{action_servers} action servers, {web_apps} web app(s), the events consumer, "
        "PostgreSQL, Redis and RabbitMQ on this one machine, Locust too. Each shopper sends "
        f"one message a second; measured over {window:.0f} s after a {ramp:.0f} s ramp and "
        f"{settle:.0f} s more.",
        "",
        "| Rasa replicas | shoppers | offered turns/s | turns/s | p50 ms | p99 ms | errors "
        "(window / run) | CPU ms per turn: Rasa | actions | HAProxy | PostgreSQL | consumer "
        "| Locust | machine CPU busy | events not yet consumed |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for result in results:
        turns, per_turn = result.turns, result.cpu_ms_per_turn
        lines.append(
            f"| {result.replicas} | {result.users} | {result.users / PACING_SECONDS:.0f} "
            f"| {turns.turns_per_second:.1f} | {turns.p50_ms:.0f} | {turns.p99_ms:.0f} "
            f"| {turns.errors} / {result.run_errors} "
            + "".join(
                f"| {per_turn[role]:.1f} " if role in per_turn else "| — "
                for role in ("rasa", "actions", "haproxy", "postgres", "consumer", "locust")
            )
            + f"| {result.machine_busy_percent:.0f} % "
            + f"| {'?' if result.consumer_backlog is None else result.consumer_backlog} |"
        )
    lines += [
        "",
        "Peak resident memory over the window, MB (each process with its process group):",
        "",
        "| Rasa replicas | shoppers | " + " | ".join(MEMORY_COLUMNS) + " | Locust |",
        "|---:|---:|" + "---:|" * (len(MEMORY_COLUMNS) + 1),
    ]
    for result in results:
        peaks = {entry.name: entry.rss_mb_peak for entry in result.usage}
        cells = [
            f"{peaks[name]:.0f}" if name in peaks else "—" for name in (*MEMORY_COLUMNS, "locust")
        ]
        lines.append(f"| {result.replicas} | {result.users} | " + " | ".join(cells) + " |")
    restarts = [
        f"{result.replicas} replica(s), {result.users} shoppers: {', '.join(result.restarted)}"
        for result in results
        if result.restarted
    ]
    if restarts:
        lines += [
            "",
            "Restarted by the supervisor during the window (their CPU is not shown): "
            + "; ".join(restarts)
            + ".",
        ]
    chosen = basis(results)
    if chosen is not None and chosen.estimate is not None:
        estimate = chosen.estimate
        lines += [
            "",
            f"One more {estimate.cores}-core machine running Rasa and the action servers would "
            f"add about **{estimate.turns_per_second:.0f} turns/s** ({estimate.cores} CPU-seconds "
            f"per second over {estimate.rasa_actions_ms_per_turn:.1f} ms of Rasa + action-server "
            f"CPU per turn, measured with {chosen.replicas} replica(s) and {chosen.users} "
            f"shoppers); those turns would cost the machine keeping HAProxy, PostgreSQL and the "
            f"consumer {estimate.central_ms_per_turn:.1f} ms each, about "
            f"{estimate.central_cores:.2f} cores. An estimate: it assumes the new machine's "
            "cores are as fast as these and fully usable, and nothing else shares them.",
        ]
    if clusters:
        lines += ["", "What the shoppers left in the lead store, per cluster:", ""]
        lines += [
            f"- {cluster.replicas} replica(s): {cluster.leads.leads} leads, "
            f"{cluster.leads.four_answers} with all four core answers, "
            f"{cluster.leads.contact_details} with contact details; "
            f"{cluster.warm_up_errors} failures while warming up"
            for cluster in clusters
        ]
    failures: Counter[str] = Counter()
    for result in results:
        failures.update(result.errors_by_kind)
    if failures:
        lines += ["", "Failures (whole runs):", ""]
        lines += [f"- {kind}: {count}" for kind, count in failures.most_common(10)]
    return "\n".join(lines)


def parse_args(argv: list[str]) -> argparse.Namespace:
    """The benchmark's options; ``--quick`` is a smoke run of a few seconds."""
    parser = argparse.ArgumentParser(
        prog="python -m bench load",
        description="the cluster profile under Locust's shoppers, 1 and 2 Rasa replicas",
    )
    parser.add_argument(
        "--replicas", type=_counts, default=None, help="Rasa replica counts, e.g. 1,2"
    )
    parser.add_argument(
        "--users", type=_counts, default=None, help="numbers of shoppers, e.g. 10,50,200"
    )
    parser.add_argument("--window", type=float, default=60.0, help="measured seconds")
    parser.add_argument("--ramp", type=float, default=10.0, help="seconds to start the shoppers")
    parser.add_argument(
        "--settle", type=float, default=10.0, help="seconds between the ramp and the window"
    )
    parser.add_argument(
        "--warm-up",
        type=float,
        default=30.0,
        help="seconds of unmeasured shoppers after the cluster starts",
    )
    parser.add_argument("--action-servers", type=int, default=DEFAULT_ACTION_SERVERS)
    parser.add_argument("--web-apps", type=int, default=DEFAULT_WEB_APPS)
    parser.add_argument(
        "--machine-cores",
        type=int,
        default=DEFAULT_MACHINE_CORES,
        help="cores of the machine the one-more-machine estimate adds",
    )
    parser.add_argument("--seed", type=int, default=42, help="seed of the shoppers' scripts")
    parser.add_argument("--quick", action="store_true", help="a smoke run of a few seconds")
    parser.add_argument("--model", type=Path, default=PROJECT_ROOT / "models" / "current.tar.gz")
    parser.add_argument("--out", type=Path, default=OUTPUT)
    args = parser.parse_args(argv)
    if args.quick:
        args.window, args.ramp, args.settle = min(args.window, 5.0), 1.0, 1.0
        args.warm_up = min(args.warm_up, 5.0)
        args.replicas = args.replicas or (1,)
        args.users = args.users or (10,)
    args.replicas = args.replicas or DEFAULT_REPLICAS
    args.users = args.users or DEFAULT_USERS
    for name in ("window", "ramp"):
        if getattr(args, name) <= 0:
            parser.error(f"--{name} must be more than 0 seconds")
    for name in ("settle", "warm_up"):
        if getattr(args, name) < 0:
            parser.error(f"--{name.replace('_', '-')} must be 0 seconds or more")
    for name in ("action_servers", "web_apps", "machine_cores"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    return args


def _counts(text: str) -> tuple[int, ...]:
    try:
        values = tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected whole numbers separated by commas, got {text!r}"
        ) from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"expected numbers of at least 1, got {text!r}")
    return values


# --- measuring (processes, /proc) -------------------------------------------------------


def group_cpu_seconds(pid: int) -> float:
    """CPU seconds of ``pid``'s process group so far."""
    from bot.devstack import cpu_seconds, process_group_members

    return sum(cpu_seconds(member) for member in process_group_members(pid))


def group_rss_mb(pid: int) -> float:
    """Resident memory of ``pid``'s process group, MB."""
    from bot.devstack import process_group_members, rss_mb

    return sum(rss_mb(member) for member in process_group_members(pid))


def machine_cpu_ticks() -> tuple[int, int]:
    """(busy, total) CPU ticks of the whole machine so far (``/proc/stat``)."""
    fields = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    total = sum(fields[:8])  # guest time is already inside user time
    return total - idle, total


def pids_named(command: str) -> list[int]:
    """Pids of the processes whose command name is ``command``."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if (entry / "comm").read_text().strip() == command:
                    pids.append(int(entry.name))
    return pids


SHARED_SERVICES = {"postgres (all)": "postgres", "redis": "redis-server", "rabbitmq": "beam.smp"}


def shared_cpu_seconds() -> dict[str, dict[int, float]]:
    """CPU seconds so far of each process of the machine's PostgreSQL, Redis and RabbitMQ."""
    from bot.devstack import cpu_seconds

    return {
        label: {pid: cpu_seconds(pid) for pid in pids_named(command)}
        for label, command in SHARED_SERVICES.items()
    }


def cpu_between(before: Mapping[int, float], after: Mapping[int, float]) -> float:
    """CPU seconds processes used between two readings; one that began since counts whole."""
    return sum(seconds - before.get(pid, 0.0) for pid, seconds in after.items())


def backend_pids(admin_url: str, databases: Sequence[str]) -> list[int]:
    """Pids of the PostgreSQL backends connected to ``databases``."""
    from sqlalchemy import text

    from bot.store.db import create_db_engine

    engine = create_db_engine(admin_url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                text("SELECT pid FROM pg_stat_activity WHERE datname = ANY(:names)"),
                {"names": list(databases)},
            ).all()
    finally:
        engine.dispose()
    return [int(row[0]) for row in rows]


# --- Locust -------------------------------------------------------------------------------


def start_locust(
    host: str,
    *,
    users: int,
    spawn_rate: float,
    samples: Path,
    ready: Path,
    log: Path,
    seed: int,
    csv_prefix: Path | None = None,
) -> subprocess.Popen[bytes]:
    """Locust, headless, running the locustfile's shoppers against ``host`` until stopped."""
    for path in (samples, ready):
        path.unlink(missing_ok=True)
    command = [
        sys.executable,
        "-m",
        "locust",
        "--headless",
        "--locustfile",
        str(LOCUSTFILE),
        "--host",
        host,
        "--users",
        str(users),
        "--spawn-rate",
        f"{spawn_rate:g}",
        "--stop-timeout",
        f"{LOCUST_STOP_TIMEOUT_SECONDS:g}",
        "--only-summary",
        "--loglevel",
        "WARNING",
    ]
    if csv_prefix is not None:
        command += ["--csv", str(csv_prefix)]
    env = {
        **os.environ,
        "PYTHONPATH": str(PROJECT_ROOT),
        SAMPLES_ENV: str(samples),
        READY_ENV: str(ready),
        SEED_ENV: str(seed),
    }
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as output:
        return subprocess.Popen(
            command,
            cwd=PROJECT_ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def wait_until_spawned(locust: subprocess.Popen[bytes], ready: Path, timeout: float) -> float:
    """When Locust had started every shopper (Unix time, from the locustfile's marker)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ready.exists() and ready.read_text().strip():
            return float(ready.read_text())
        if locust.poll() is not None:
            raise RuntimeError(f"Locust exited with {locust.returncode} before every shopper ran")
        time.sleep(0.2)
    raise RuntimeError(f"Locust did not start every shopper within {timeout:.0f} s")


def stop_locust(locust: subprocess.Popen[bytes]) -> int | None:
    """SIGTERM (Locust stops its shoppers and writes its summary); SIGKILL if it hangs."""
    if locust.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(locust.pid, signal.SIGTERM)
    try:
        return locust.wait(timeout=LOCUST_STOP_TIMEOUT_SECONDS + 15)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(locust.pid, signal.SIGKILL)
        locust.wait()
        return None


def sleep_until(moment: float) -> None:
    """Sleep until Unix time ``moment``."""
    time.sleep(max(0.0, moment - time.time()))


# --- the cluster ----------------------------------------------------------------------------


@contextlib.contextmanager
def scratch_cluster(
    base: Path, admin_url: str, model: Path, *, replicas: int, action_servers: int, web_apps: int
) -> Iterator[ClusterStack]:
    """A started cluster on scratch databases, queue and Redis keys, all removed after."""
    from bench.clusters import scratch_cluster as started

    with started(
        base,
        admin_url,
        model,
        "bench_load",
        rasa_replicas=replicas,
        action_servers=action_servers,
        web_apps=web_apps,
    ) as stack:
        yield stack


def database_names(stack: ClusterStack) -> list[str]:
    """The names of the cluster's lead store and tracker store databases."""
    from sqlalchemy.engine import make_url

    return [
        str(make_url(stack.env[name]).database) for name in ("DATABASE_URL", "TRACKER_STORE_URL")
    ]


def lead_check(stack: ClusterStack) -> LeadCheck:
    """Count the Locust shoppers' leads in the cluster's lead store."""
    from sqlalchemy import text

    from bot.store.db import create_db_engine

    engine = create_db_engine(stack.env["DATABASE_URL"])
    answered = (
        "SELECT count(*) FROM (SELECT a.lead_id FROM answers a JOIN leads l ON l.id = a.lead_id "
        "WHERE l.session_id LIKE 'load-%' AND a.superseded_at IS NULL "
        "AND a.status = 'answered' AND a.key = ANY(:keys) "
        "GROUP BY a.lead_id HAVING count(DISTINCT a.key) = :count) AS complete"
    )
    try:
        with engine.connect() as connection:
            leads = connection.execute(
                text("SELECT count(*) FROM leads WHERE session_id LIKE 'load-%'")
            ).scalar_one()
            four = connection.execute(
                text(answered), {"keys": ["timeline", "variant", "location", "budget"], "count": 4}
            ).scalar_one()
            contact = connection.execute(
                text(answered), {"keys": ["contact_details"], "count": 1}
            ).scalar_one()
    finally:
        engine.dispose()
    return LeadCheck(leads=int(leads), four_answers=int(four), contact_details=int(contact))


def queue_depth(name: str) -> int | None:
    """Messages waiting in RabbitMQ queue ``name`` (``None`` if it cannot be read)."""
    import asyncio

    import aio_pika

    async def depth() -> int | None:
        connection = await aio_pika.connect("amqp://guest:guest@127.0.0.1:5672/", timeout=5)
        async with connection:
            channel = await connection.channel()
            queue = await channel.declare_queue(name, passive=True)
            count = queue.declaration_result.message_count
            return None if count is None else int(count)

    try:
        return asyncio.run(depth())
    # A figure of the report, not a condition of the run.
    except Exception:
        return None


def member_pids(stack: ClusterStack) -> dict[str, int]:
    """Each cluster member's pid (from the supervisor's status file), and the supervisor's."""
    status = json.loads(stack.status_file.read_text(encoding="utf-8"))
    pids = {name: stack.member_pid(name) for name in status["processes"]}
    if stack.process is not None:
        pids["supervisor"] = stack.process.pid
    return pids


def warm_up(stack: ClusterStack, args: argparse.Namespace, scratch: Path, log_dir: Path) -> int:
    """Unmeasured shoppers for ``--warm-up`` seconds, so every process has loaded what its
    first turns load (the model's pipeline, the parsers' data) before any window; the
    number of failures they saw."""
    users = min(args.users)
    samples, ready = scratch / "warm-up.samples", scratch / "warm-up.ready"
    locust = start_locust(
        stack.chat_url,
        users=users,
        spawn_rate=users / args.ramp,
        samples=samples,
        ready=ready,
        log=log_dir / "locust-warm-up.log",
        seed=args.seed + 1,
    )
    try:
        spawned = wait_until_spawned(locust, ready, LOCUST_START_TIMEOUT_SECONDS + args.ramp * 3)
        sleep_until(spawned + args.warm_up)
    finally:
        stop_locust(locust)
    return sum(1 for sample in read_samples(samples) if not sample.ok)


def measure_level(
    stack: ClusterStack,
    *,
    admin_url: str,
    replicas: int,
    users: int,
    args: argparse.Namespace,
    scratch: Path,
    log_dir: Path,
) -> LevelResult:
    """``users`` shoppers against the cluster: ramp, settle, then the measured window."""
    name = f"r{replicas}-u{users}"
    databases = database_names(stack)
    samples_path, ready_path = scratch / f"{name}.samples", scratch / f"{name}.ready"
    load_before = os.getloadavg()
    locust = start_locust(
        stack.chat_url,
        users=users,
        spawn_rate=users / args.ramp,
        samples=samples_path,
        ready=ready_path,
        log=log_dir / f"locust-{name}.log",
        seed=args.seed,
        csv_prefix=log_dir / f"locust-{name}",
    )
    try:
        spawned = wait_until_spawned(
            locust, ready_path, LOCUST_START_TIMEOUT_SECONDS + args.ramp * 3
        )
        sleep_until(spawned + args.settle)
        pids = {**member_pids(stack), "locust": locust.pid}
        start = time.time()
        cpu_before = {name: group_cpu_seconds(pid) for name, pid in pids.items()}
        backends_before = {pid: _cpu(pid) for pid in backend_pids(admin_url, databases)}
        shared_before = shared_cpu_seconds()
        busy_before, total_before = machine_cpu_ticks()
        peaks = {name: group_rss_mb(pid) for name, pid in pids.items()}
        end = start + args.window
        while time.time() < end:
            time.sleep(min(2.0, max(0.0, end - time.time())))
            for name, pid in pids.items():
                peaks[name] = max(peaks[name], group_rss_mb(pid))
        end = time.time()
        cpu_after = {name: group_cpu_seconds(pid) for name, pid in pids.items()}
        backends_after = {pid: _cpu(pid) for pid in backend_pids(admin_url, databases)}
        shared_after = shared_cpu_seconds()
        busy_after, total_after = machine_cpu_ticks()
        pids_after = {**member_pids(stack), "locust": locust.pid}
        backlog = queue_depth(stack.env["RABBITMQ_QUEUE"])
    finally:
        exit_code = stop_locust(locust)
    samples = read_samples(samples_path)
    figures = turn_figures(samples, start, end)
    # A member the supervisor restarted in the window has a new pid: its CPU cannot be
    # told, so its kind of process gets no CPU per turn.
    restarted = sorted(name for name in pids if pids_after.get(name) != pids[name])
    usage = [
        Usage(name, round(cpu_after[name] - cpu_before[name], 2), round(peaks[name], 1))
        for name in pids
        if name not in restarted
    ]
    usage.append(Usage("postgres", round(cpu_between(backends_before, backends_after), 2), 0.0))
    per_turn = {
        role: value
        for role, value in cpu_ms_per_turn(usage, figures.turns).items()
        if role not in {role_of(name) for name in restarted}
    }
    return LevelResult(
        replicas=replicas,
        users=users,
        window_seconds=round(end - start, 1),
        turns=figures,
        run_turns=sum(1 for sample in samples if sample.ok),
        run_errors=sum(1 for sample in samples if not sample.ok),
        errors_by_kind=error_counts(samples),
        usage=usage,
        cpu_ms_per_turn=per_turn,
        machine_busy_percent=round(
            100 * (busy_after - busy_before) / max(1, total_after - total_before), 1
        ),
        load_average_before=(
            round(load_before[0], 2),
            round(load_before[1], 2),
            round(load_before[2], 2),
        ),
        locust_exit_code=exit_code,
        estimate=one_more_machine(per_turn, args.machine_cores),
        consumer_backlog=backlog,
        restarted=restarted,
        shared_services_cpu_seconds={
            label: round(cpu_between(shared_before[label], shared_after[label]), 2)
            for label in SHARED_SERVICES
        },
    )


def _cpu(pid: int) -> float:
    from bot.devstack import cpu_seconds

    return cpu_seconds(pid)


def cool_down(stack: ClusterStack) -> None:
    """Let turns the last shoppers left behind finish: a pause, then one answered turn."""
    time.sleep(COOL_DOWN_SECONDS)
    stack.chat(f"bench-load-cool-down-{uuid.uuid4().hex}", "hello", timeout=120)


def code_version() -> dict[str, Any]:
    """The commit measured, and files of the running code that differ from it."""

    def git(*arguments: str) -> str:
        try:
            return subprocess.run(
                ["git", *arguments],
                cwd=PROJECT_ROOT,
                capture_output=True,
                text=True,
                timeout=30,
                check=True,
            ).stdout
        except (OSError, subprocess.SubprocessError):
            return ""

    changed = git("status", "--porcelain", "--", "bot", "actions", "rasa_ext", "data")
    return {
        "commit": git("rev-parse", "HEAD").strip() or None,
        "uncommitted": [line[3:] for line in changed.splitlines()],
    }


def main(argv: list[str], *, machine: str) -> int:
    """Run the benchmark; 1 if any shopper saw a failure."""
    from bench.databases import DEFAULT_POSTGRES_URL

    args = parse_args(argv)
    if not args.model.exists():
        print(f"no trained model at {args.model}: run `make train` first", file=sys.stderr)
        return 1
    log_dir = args.out.parent / "logs"
    results: list[LevelResult] = []
    clusters: list[ClusterNotes] = []
    load_before = os.getloadavg()
    version = code_version()
    started = time.monotonic()
    for replicas in args.replicas:
        with tempfile.TemporaryDirectory(prefix="bench-load-") as folder:
            scratch = Path(folder)
            print(
                f"starting the cluster with {replicas} Rasa replica(s) …",
                file=sys.stderr,
                flush=True,
            )
            with scratch_cluster(
                scratch / "cluster",
                DEFAULT_POSTGRES_URL,
                args.model.resolve(),
                replicas=replicas,
                action_servers=args.action_servers,
                web_apps=args.web_apps,
            ) as stack:
                print(f"warming up for {args.warm_up:.0f} s …", file=sys.stderr, flush=True)
                warm_up_errors = warm_up(stack, args, scratch, log_dir) if args.warm_up else 0
                for users in args.users:
                    cool_down(stack)
                    print(f"{users} shoppers …", file=sys.stderr, flush=True)
                    result = measure_level(
                        stack,
                        admin_url=DEFAULT_POSTGRES_URL,
                        replicas=replicas,
                        users=users,
                        args=args,
                        scratch=scratch,
                        log_dir=log_dir,
                    )
                    results.append(result)
                    print(
                        f"  {result.turns.turns_per_second:.1f} turns/s, p50 "
                        f"{result.turns.p50_ms:.0f} ms, p99 {result.turns.p99_ms:.0f} ms, "
                        f"{result.run_errors} errors",
                        file=sys.stderr,
                        flush=True,
                    )
                clusters.append(ClusterNotes(replicas, warm_up_errors, lead_check(stack)))
    elapsed = time.monotonic() - started
    print(
        render(
            results,
            clusters,
            machine=machine,
            action_servers=args.action_servers,
            web_apps=args.web_apps,
            ramp=args.ramp,
            settle=args.settle,
        )
        + "\n"
    )
    chosen = basis(results)
    report: dict[str, Any] = {
        "measured_at": datetime.now(timezone.utc).isoformat(),
        "machine": machine,
        "load_average_before": [round(value, 2) for value in load_before],
        "code": version,
        "seconds": round(elapsed),
        "pacing_seconds": PACING_SECONDS,
        "action_servers": args.action_servers,
        "web_apps": args.web_apps,
        "warm_up_seconds": args.warm_up,
        "ramp_seconds": args.ramp,
        "settle_seconds": args.settle,
        "runs": [asdict(result) for result in results],
        "clusters": [asdict(cluster) for cluster in clusters],
        "one_more_machine": None
        if chosen is None or chosen.estimate is None
        else {"replicas": chosen.replicas, "users": chosen.users, **asdict(chosen.estimate)},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"written to {args.out} ({elapsed / 60:.1f} minutes)", file=sys.stderr)
    failed = any(result.run_errors for result in results)
    return 1 if failed or any(cluster.warm_up_errors for cluster in clusters) else 0
