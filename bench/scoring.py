"""``python -m bench scoring``: events API throughput, score update latency, full rescore.

Three measurements, each on a fresh temporary SQLite lead store:

1. **Events over HTTP**: the real web app (``python -m bot web``) takes batches
   of 500 storefront events from concurrent clients; every event is validated,
   committed and folded into its lead's score before the 202. Bodies are built
   before the clock starts, so the rate is the server's.
2. **Single-event score update**: ``LeadService.apply`` of one event for a
   lead with history (fold + score + snapshot + commit), in process; and the
   pure fold + score part alone.
3. **Rescore**: ``python -m bot rescore`` over synthetic leads (the seeded
   generator's journeys, folded into facts and inserted directly), reporting
   leads/s and the process's peak memory at two sizes to show it stays flat.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import aiohttp
from sqlalchemy import insert

from bench.stats import percentile
from bot.devstack import StackPorts, rss_mb
from bot.leads import LeadService
from bot.leads.commands import RecordAnswer, RecordEvent
from bot.leads.synthetic import generate
from bot.scoring import LeadFacts, facts_from_history, scorer_for
from bot.settings import PROJECT_ROOT, Settings
from bot.store.db import create_db_engine
from bot.store.ids import new_lead_id
from bot.store.migrate import upgrade
from bot.store.models import Lead

EVENTS_PER_SECOND_TARGET = 5000
SCORE_UPDATE_P99_TARGET_MS = 2.0
RESCORE_SECONDS_TARGET = 60.0
BATCH_SIZE = 500
JOURNEY = (
    ("page_view", 6),
    ("product_view", 8),
    ("variant_select", 3),
    ("compare", 1),
    ("add_to_cart", 2),
    ("shipping_check", 1),
    ("checkout_start", 1),
    ("payment_info", 1),
)
STARTUP_TIMEOUT_SECONDS = 60.0


def _event_bodies(batches: int, seed: int) -> list[bytes]:
    """JSON bodies of ``batches`` batches; each batch covers 50 shoppers, 10 events each."""
    rng = random.Random(seed)
    kinds = [kind for kind, weight in JOURNEY for _ in range(weight)]
    start = datetime.now(timezone.utc) - timedelta(hours=2)
    bodies = []
    for batch in range(batches):
        events = []
        for index in range(BATCH_SIZE):
            session = f"bench-{batch}-{index % 50}"
            events.append(
                {
                    "event_id": f"ev-{batch}-{index}",
                    "session_id": session,
                    "type": rng.choice(kinds),
                    "ts": (start + timedelta(seconds=batch * 10 + index)).isoformat(),
                    "product_id": "hoodie-classic",
                    "variant_id": "hoodie-classic-blue-m",
                    "value": "59.00",
                }
            )
        bodies.append(json.dumps({"events": events}).encode())
    return bodies


def _start_web(base: Path, url: str, port: int, token: str) -> subprocess.Popen[bytes]:
    environment = {
        **os.environ,
        "DATABASE_URL": url,
        "WEB_PORT": str(port),
        "WEB_HOST": "127.0.0.1",
        "LEADS_API_TOKEN": token,
        "STOREFRONT_TOKEN": token + "-storefront",
        "LEADS_SPOOL_DIR": str(base / "spool"),
        "RASA_TELEMETRY_ENABLED": "false",
        # One client address sends a whole shop's traffic here: no per-address limit.
        "EVENTS_RATE_LIMIT": "0",
    }
    log = open(base / "web.log", "wb")  # noqa: SIM115 - closed with the process
    return subprocess.Popen(
        [sys.executable, "-m", "bot", "web"],
        cwd=PROJECT_ROOT,
        env=environment,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


async def _wait_healthy(session: aiohttp.ClientSession, base_url: str) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        try:
            async with session.get(f"{base_url}/healthz") as response:
                if response.status == 200:
                    return
        except aiohttp.ClientError:
            pass
        await asyncio.sleep(0.2)
    raise RuntimeError("the web app did not become healthy")


async def _post_all(
    base_url: str, token: str, bodies: list[bytes], concurrency: int
) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    latencies: list[float] = []
    accepted = 0
    failures: list[str] = []
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    for body in bodies:
        queue.put_nowait(body)
    async with aiohttp.ClientSession(trust_env=False) as session:
        await _wait_healthy(session, base_url)

        async def worker() -> None:
            nonlocal accepted
            while not queue.empty():
                body = queue.get_nowait()
                started = time.perf_counter()
                async with session.post(
                    f"{base_url}/api/v2/events", data=body, headers=headers
                ) as response:
                    payload = await response.json()
                latencies.append(time.perf_counter() - started)
                if response.status == 202:
                    accepted += payload["accepted"]
                else:
                    failures.append(f"{response.status}: {payload}")

        # Warm-up batch (connection, first-write costs), not measured.
        warm = queue.get_nowait()
        async with session.post(f"{base_url}/api/v2/events", data=warm, headers=headers) as r:
            await r.read()
        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        wall = time.perf_counter() - started
    measured_events = (len(bodies) - 1) * BATCH_SIZE
    return {
        "events": measured_events,
        "accepted": accepted,
        "seconds": round(wall, 2),
        "events_per_second": round(measured_events / wall),
        "batch_p50_ms": round(percentile(latencies, 50) * 1000, 1),
        "batch_p99_ms": round(percentile(latencies, 99) * 1000, 1),
        "errors": failures[:5],
    }


def measure_events(base: Path, batches: int, concurrency: int) -> dict[str, Any]:
    """Events/s through the real web app."""
    url = f"sqlite:///{base / 'events.db'}"
    upgrade(url)
    port = StackPorts.free().web
    token = "bench-token"
    bodies = _event_bodies(batches, seed=7)
    process = _start_web(base, url, port, token)
    try:
        result = asyncio.run(_post_all(f"http://127.0.0.1:{port}", token, bodies, concurrency))
        result["web_rss_mb"] = round(rss_mb(process.pid), 1)
    finally:
        os.killpg(process.pid, signal.SIGINT)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    result["concurrency"] = concurrency
    return result


def measure_score_update(base: Path, samples: int) -> dict[str, Any]:
    """Latency of one event's write + incremental rescore, and of fold + score alone."""
    url = f"sqlite:///{base / 'single.db'}"
    upgrade(url)
    settings = Settings()
    scorer = scorer_for(settings)
    service = LeadService(create_db_engine(url), scorer)
    now = datetime.now(timezone.utc)
    kinds = [kind for kind, weight in JOURNEY for _ in range(weight)]
    rng = random.Random(3)
    # A lead with a realistic history: 40 events and the four core answers.
    history = [
        RecordEvent(
            session_id="single",
            event_id=f"h-{index}",
            type=rng.choice(kinds),
            ts=now - timedelta(hours=40 - index),
            source="storefront",
            product_id="hoodie-classic",
            variant_id="hoodie-classic-blue-m",
        )
        for index in range(40)
    ]
    answers = [
        RecordAnswer("single", f"a-{key}", key, raw, value, "answered", now - timedelta(hours=1))
        for key, raw, value in (
            ("timeline", "next week", {"days": 7}),
            ("budget", "80 euros", {"amount": "80", "currency": "EUR"}),
            ("location", "Lyon", {"country": "FR", "region": "Lyon", "serviceable": True}),
            ("variant", "blue M", "hoodie-classic-blue-m"),
        )
    ]
    service.apply([*history, *answers])
    apply_ms: list[float] = []
    for index in range(samples):
        command = RecordEvent(
            session_id="single",
            event_id=f"s-{index}",
            type=rng.choice(kinds),
            ts=datetime.now(timezone.utc),
            source="storefront",
            product_id="hoodie-classic",
        )
        started = time.perf_counter()
        service.apply([command])
        apply_ms.append((time.perf_counter() - started) * 1000)
    lead = service.get_lead_by_session("single")
    assert lead is not None
    with service.engine.connect() as connection:
        facts = service.load_facts(connection, lead["id"])
        facts_json = facts.to_json()
    pure_ms: list[float] = []
    for _ in range(samples):
        started = time.perf_counter()
        current = LeadFacts.from_json(facts_json)
        current.fold_event("add_to_cart", datetime.now(timezone.utc), product_id="hoodie-classic")
        scorer.score(current, datetime.now(timezone.utc))
        current.to_json()
        pure_ms.append((time.perf_counter() - started) * 1000)
    return {
        "samples": samples,
        "apply_p50_ms": round(percentile(apply_ms, 50), 3),
        "apply_p99_ms": round(percentile(apply_ms, 99), 3),
        "fold_score_p50_ms": round(percentile(pure_ms, 50), 3),
        "fold_score_p99_ms": round(percentile(pure_ms, 99), 3),
    }


def _lead_rows(count: int, seed: int, now: datetime) -> Iterator[dict[str, Any]]:
    """Leads rows as a live store would hold them: facts and the score they had at ``now``.

    Journeys come from the seeded synthetic generator (spread over the 30 days
    before ``now``); each lead is scored as its last write would have scored it.
    """
    scorer = scorer_for(Settings())
    for lead in generate(count, seed=seed, now=now, catalog=scorer.catalog):
        facts = facts_from_history(
            (c for c in lead.commands if isinstance(c, RecordEvent)),
            (c for c in lead.commands if isinstance(c, RecordAnswer)),
        )
        result = scorer.score(facts, now)
        yield {
            "id": new_lead_id(),
            "session_id": lead.session_id,
            "source": "storefront",
            "status": "New",
            "stage": result.stage,
            "score": result.score,
            "intent_score": result.intent_score,
            "fit_score": result.fit_score,
            "reasons": result.reasons_json(),
            "score_facts": facts.to_json(),
            "facts_version": 1,
            "decaying": result.changes_with_time,
            "created_at": now,
            "updated_at": now,
        }


def seed_leads(url: str, count: int, seed: int, now: datetime) -> None:
    """Insert ``count`` synthetic leads (facts only) in chunks."""
    engine = create_db_engine(url)
    chunk: list[dict[str, Any]] = []
    with engine.begin() as connection:
        for row in _lead_rows(count, seed, now):
            chunk.append(row)
            if len(chunk) == 10_000:
                connection.execute(insert(Lead.__table__), chunk)
                chunk = []
        if chunk:
            connection.execute(insert(Lead.__table__), chunk)
    engine.dispose()


def run_rescore(url: str, log: Path, *extra: str) -> dict[str, Any]:
    """Run ``python -m bot rescore`` in a child; wall time and the child's own peak RSS."""
    environment = {**os.environ, "DATABASE_URL": url, "RASA_TELEMETRY_ENABLED": "false"}
    started = time.perf_counter()
    with open(log, "wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "bot", "rescore", "--quiet", *extra],
            cwd=PROJECT_ROOT,
            env=environment,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
        # wait4 gives this child's own resource usage (peak RSS), not all children's.
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.perf_counter() - started
    text = log.read_text(encoding="utf-8", errors="replace").strip()
    if process.returncode != 0:
        raise RuntimeError(f"rescore failed: {text[-2000:]}")
    return {
        "seconds": round(seconds, 1),
        "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
        "output": text.splitlines()[-1],
    }


def measure_rescore(base: Path, sizes: list[int]) -> list[dict[str, Any]]:
    """Per size: a decay rescore an hour after the leads were last scored, then a full one."""
    seeded_at = datetime.now(timezone.utc) - timedelta(hours=1)
    results = []
    for size in sizes:
        path = base / f"rescore-{size}.db"
        url = f"sqlite:///{path}"
        upgrade(url)
        print(f"  seeding {size:,} synthetic leads …", file=sys.stderr, flush=True)
        started = time.perf_counter()
        seed_leads(url, size, seed=11, now=seeded_at)
        seed_seconds = round(time.perf_counter() - started, 1)
        for mode, extra in (("decay", ()), ("all", ("--all",))):
            print(f"  rescoring {size:,} leads ({mode}) …", file=sys.stderr, flush=True)
            run = run_rescore(url, base / f"rescore-{size}-{mode}.log", *extra)
            run.update(
                leads=size,
                mode=mode,
                leads_per_second=round(size / run["seconds"]),
                seed_seconds=seed_seconds,
            )
            results.append(run)
        path.unlink(missing_ok=True)
    return results


def render(report: dict[str, Any]) -> str:
    """Markdown table of the scoring benchmark."""
    events = report["events"]
    single = report["score_update"]
    lines = [
        f"Scoring benchmark, {report['machine']}",
        "",
        "| measurement | result | target |",
        "|---|---|---|",
        f"| events over HTTP, batches of {BATCH_SIZE}, {events['concurrency']} clients "
        f"| {events['events_per_second']:,} events/s (batch p50 {events['batch_p50_ms']} ms, "
        f"p99 {events['batch_p99_ms']} ms) | \u2265 {EVENTS_PER_SECOND_TARGET:,} events/s |",
        f"| single-event write + score update (SQLite commit) | p50 {single['apply_p50_ms']} ms, "
        f"p99 {single['apply_p99_ms']} ms | p99 \u2264 {SCORE_UPDATE_P99_TARGET_MS} ms |",
        f"| single-event fold + score (no I/O) | p50 {single['fold_score_p50_ms']} ms, "
        f"p99 {single['fold_score_p99_ms']} ms | |",
    ]
    for run in report["rescore"]:
        command = "rescore --all" if run["mode"] == "all" else "rescore"
        lines.append(
            f"| `{command}` of {run['leads']:,} synthetic leads | {run['seconds']} s "
            f"({run['leads_per_second']:,} leads/s; {run['output'].split(': ', 1)[-1]}), "
            f"peak RSS {run['peak_rss_mb']} MB "
            f"| \u2264 {RESCORE_SECONDS_TARGET:.0f} s for 1,000,000, memory flat |"
        )
    return "\n".join(lines)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench scoring")
    parser.add_argument("--batches", type=int, default=200, help="event batches of 500")
    parser.add_argument("--concurrency", type=int, default=4, help="concurrent event clients")
    parser.add_argument("--samples", type=int, default=2000, help="single-event samples")
    parser.add_argument(
        "--rescore-sizes",
        default="100000,1000000",
        help="comma-separated lead counts for rescore runs",
    )
    parser.add_argument("--quick", action="store_true", help="small numbers, for a smoke test")
    parser.add_argument("--out", type=Path, default=PROJECT_ROOT / "var" / "bench" / "scoring.json")
    args = parser.parse_args(argv)
    if args.quick:
        args.batches, args.samples, args.rescore_sizes = 10, 200, "2000,5000"
    return args


def main(argv: list[str] | None = None, *, machine: str = "") -> int:
    """Run the scoring benchmark; prints Markdown and writes JSON."""
    args = parse_args(argv)
    sizes = [int(size) for size in args.rescore_sizes.split(",") if size.strip()]
    with tempfile.TemporaryDirectory(prefix="bench-scoring-") as scratch:
        base = Path(scratch)
        print("measuring events over HTTP …", file=sys.stderr, flush=True)
        events = measure_events(base, args.batches, args.concurrency)
        print("measuring single-event score updates …", file=sys.stderr, flush=True)
        single = measure_score_update(base, args.samples)
        print("measuring rescore …", file=sys.stderr, flush=True)
        rescore = measure_rescore(base, sizes)
    report = {
        "measured_at": datetime.now(timezone.utc).isoformat(),
        "machine": machine,
        "events": events,
        "score_update": single,
        "rescore": rescore,
    }
    print(render(report) + "\n")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"written to {args.out}", file=sys.stderr)
    return 1 if events["errors"] else 0
