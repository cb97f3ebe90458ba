"""``python -m bench followups``: planning follow-ups for many leads, and sending them.

Targets (product issue): planning plays for 1,000,000 leads ≤ 60 s with flat
memory (≤ 300 MB); follow-up sends through the outbox ≥ 200/s to a local SMTP
receiver.

On a fresh scratch lead store (SQLite by default, ``--backend postgres`` for
the local PostgreSQL) migrated to head, ``--leads`` consenting shoppers are
written directly with Core inserts: each has a location answer (France) and an
``add_to_cart`` of the blue M hoodie five hours ago, so every one is due for
the cart-recovery play. The follow-up configuration is the shipped one
without quiet hours (results must not depend on the time of day).

1. **Planning**: a fresh process (spawned, so seeding does not count in its
   memory) plans every lead in batches of ``--batch`` with ``--workers``
   processes sharing the lead ids (``plan_in_parallel``, as ``python -m bot
   followups plan`` does); reported: seconds, leads/s, CPU seconds (of every
   planning process: the cost, whatever else runs), rows planned and held
   out, and the largest planning process's peak RSS (``ru_maxrss``).
2. **Sending**: ``--sends`` of the planned rows are released, rendered and
   delivered by the real outbox worker (its ``run`` loop, as in the web app,
   with the handoff file's delivery concurrency) to an aiosmtpd receiver on 127.0.0.1 in its own
   process, as a mail server would be; the others are set aside first.
   Reported: messages/s from the first release to the last
   message received, and that every message arrived exactly once.

Writes ``var/bench/followups.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing
import os
import resource
import socket
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import yaml
from aiosmtpd.controller import Controller
from sqlalchemy import func, insert, select, update

from bench.databases import DEFAULT_POSTGRES_URL, scratch_database
from bot.followups import followup_planner_for
from bot.followups.delivery import FollowupSender
from bot.handoff import handoff_config_for
from bot.handoff.config import Smtp
from bot.handoff.outbox import OutboxStore
from bot.handoff.worker import OutboxWorker
from bot.leads.planning import plan_in_parallel
from bot.settings import VAR_DIR, Settings
from bot.store.db import create_db_engine, write_transaction
from bot.store.migrate import upgrade
from bot.store.models import Answer, Followup, Lead, LeadEvent

OUTPUT = VAR_DIR / "bench" / "followups.json"
PLAN_SECONDS_TARGET = 60.0
PLAN_RSS_MB_TARGET = 300.0
SENDS_PER_SECOND_TARGET = 200.0
SEED_BATCH = 5000
HOODIE = "hoodie-classic"
BLUE_M = "hoodie-classic-blue-m"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench followups", description=__doc__)
    parser.add_argument("--leads", type=int, default=50_000, help="consenting leads to plan")
    parser.add_argument("--sends", type=int, default=2_000, help="messages to send")
    parser.add_argument("--batch", type=int, default=5_000, help="leads per planning batch")
    parser.add_argument(
        "--workers",
        type=int,
        default=os.cpu_count() or 1,
        help="planning processes (default: cores)",
    )
    parser.add_argument("--backend", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES_URL)
    return parser.parse_args(argv)


def bench_config(directory: Path) -> Path:
    """The shipped follow-up file without quiet hours."""
    settings = Settings()
    data = yaml.safe_load(settings.followups_config_path.read_text(encoding="utf-8"))
    data.pop("quiet_hours", None)
    path = directory / "followups.yml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def seed(url: str, leads: int, now: datetime) -> None:
    """``leads`` consenting shoppers who left the blue M hoodie in their cart 5 hours ago."""
    engine = create_db_engine(url)
    left = now - timedelta(hours=5)
    try:
        for start in range(0, leads, SEED_BATCH):
            ids = [uuid.uuid4().hex for _ in range(min(SEED_BATCH, leads - start))]
            with write_transaction(engine) as connection:
                connection.execute(
                    insert(Lead.__table__),
                    [
                        {
                            "id": lead_id,
                            "session_id": f"bench-{lead_id}",
                            "first_name": "Sam",
                            "email": f"{lead_id}@example.com",
                            "source": "chat",
                            "status": "New",
                            "stage": "warm",
                            "score": 45,
                            "intent_score": 30,
                            "fit_score": 15,
                            "reasons": [],
                            "consent_at": left,
                            "consent_text": "Yes, email me about my order.",
                            "lifecycle_stage": "lead",
                            "facts_version": 0,
                            "decaying": True,
                            "created_at": left,
                            "updated_at": left,
                        }
                        for lead_id in ids
                    ],
                )
                connection.execute(
                    insert(Answer.__table__),
                    [
                        {
                            "lead_id": lead_id,
                            "answer_id": f"{lead_id}-location",
                            "key": "location",
                            "raw": "France",
                            "value": {"country": "FR", "region": None, "serviceable": True},
                            "status": "answered",
                            "answered_at": left,
                        }
                        for lead_id in ids
                    ],
                )
                connection.execute(
                    insert(LeadEvent.__table__),
                    [
                        {
                            "event_id": f"{lead_id}-cart",
                            "lead_id": lead_id,
                            "type": "add_to_cart",
                            "source": "storefront",
                            "ts": left,
                            "product_id": HOODIE,
                            "variant_id": BLUE_M,
                            "properties": {},
                            "created_at": left,
                        }
                        for lead_id in ids
                    ],
                )
            print(f"  seeded {start + len(ids):,} leads", file=sys.stderr, flush=True)
    finally:
        engine.dispose()


def _settings(url: str, config: Path, smtp_port: int = 0) -> Settings:
    environ = {
        "DATABASE_URL": url,
        "FOLLOWUPS_CONFIG": str(config),
        "PUBLIC_URL": "http://localhost:8000",
        "SESSION_SECRET": "bench-signing-key",
        "LEADS_API_TOKEN": "bench-token",
    }
    if smtp_port:
        environ.update(SMTP_HOST="127.0.0.1", SMTP_PORT=str(smtp_port))
    return Settings.from_env(environ)


def _plan_in_child(url: str, config: str, batch: int, workers: int, now: str, results: Any) -> None:
    """Planning in a fresh process: its time and the peak memory of each planning process."""
    settings = _settings(url, Path(config))
    started = time.perf_counter()
    before = os.times()
    stats = plan_in_parallel(
        settings, workers=workers, now=datetime.fromisoformat(now), batch=batch
    )
    seconds = time.perf_counter() - started
    after = os.times()
    # CPU of this process and of the workers (joined by now): what the planning cost,
    # whatever else ran on the machine meanwhile.
    cpu = sum(
        getattr(after, part) - getattr(before, part)
        for part in ("user", "system", "children_user", "children_system")
    )
    # With workers, the largest of them (ru_maxrss of the children is the largest one's).
    peak_kb = max(
        resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,
    )
    results.put(
        {
            "workers": workers,
            "leads": stats.leads,
            "planned": stats.planned,
            "held_out": stats.held_out,
            "seconds": round(seconds, 2),
            "leads_per_second": round(stats.leads / seconds) if seconds else None,
            "cpu_seconds": round(cpu, 1),
            "peak_rss_mb": round(peak_kb / 1024, 1),
        }
    )


def measure_planning(
    url: str, config: Path, batch: int, workers: int, now: datetime
) -> dict[str, Any]:
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    child = context.Process(
        target=_plan_in_child, args=(url, str(config), batch, workers, now.isoformat(), results)
    )
    child.start()
    result: dict[str, Any] = results.get()
    child.join()
    return result


class _Receiver:
    """aiosmtpd handler counting messages by Message-ID and noting the last arrival."""

    def __init__(self) -> None:
        self.ids: Counter[str] = Counter()
        self.last = 0.0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        for line in envelope.content.split(b"\r\n"):
            if line.lower().startswith(b"message-id:"):
                self.ids[line.split(b":", 1)[1].strip().decode()] += 1
                break
        self.last = time.time()
        return "250 OK"


def _receive(port: int, commands: Any, results: Any) -> None:
    """The SMTP receiver, in its own process as a mail server would be: runs until told to stop."""
    receiver = _Receiver()
    # Named: aiosmtpd otherwise looks its own name up (a DNS query) on every connection.
    controller = Controller(receiver, hostname="127.0.0.1", port=port, server_hostname="localhost")
    controller.start()
    results.put("ready")
    commands.get()
    controller.stop()
    results.put((dict(receiver.ids), receiver.last))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def measure_sending(url: str, config: Path, sends: int, now: datetime) -> dict[str, Any]:
    port = _free_port()
    context = multiprocessing.get_context("spawn")
    commands, results = context.Queue(), context.Queue()
    child = context.Process(target=_receive, args=(port, commands, results))
    child.start()
    results.get()
    engine = create_db_engine(url)
    try:
        followups = Followup.__table__
        with write_transaction(engine) as connection:
            keep = select(followups.c.id).where(followups.c.status == "planned").limit(sends)
            kept = list(connection.execute(keep).scalars())
            connection.execute(
                update(followups)
                .where(followups.c.status == "planned", followups.c.id.not_in(kept))
                .values(status="stopped", stop_reason="set aside by the benchmark")
            )
        settings = _settings(url, config, port)
        handoffs = handoff_config_for(settings)
        handoffs = replace(handoffs, smtp=Smtp(host="127.0.0.1", port=port))
        planner = followup_planner_for(settings)
        # Planned already: the worker only releases and sends.
        sender = FollowupSender(engine, planner, handoffs.smtp, plan_every=None)
        worker = OutboxWorker(engine, handoffs, None, clock=lambda: now, extensions=(sender,))
        outbox = OutboxStore(engine, handoffs.delivery)
        started = time.time()
        # The worker loop the web app runs, until every message is delivered (or a deadline).
        running = asyncio.create_task(worker.run())
        deadline = time.monotonic() + max(60.0, sends / 20)
        while time.monotonic() < deadline and not running.done():
            counts = await asyncio.to_thread(outbox.counts)
            if counts["delivered"] + counts["dead"] >= len(kept):
                break
            await asyncio.sleep(0.2)
        running.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await running
        delivered = worker.delivered
        with engine.connect() as connection:
            queued = connection.execute(
                select(func.count()).select_from(followups).where(followups.c.status == "queued")
            ).scalar_one()
    finally:
        engine.dispose()
        commands.put("stop")
        ids, last = results.get()
        child.join()
    seconds = (last or time.time()) - started
    received = sum(ids.values())
    return {
        "messages": len(kept),
        "queued": int(queued),
        "delivered": delivered,
        "received": received,
        "duplicates": sum(count - 1 for count in ids.values() if count > 1),
        "seconds": round(seconds, 2),
        "messages_per_second": round(received / seconds, 1) if seconds > 0 else None,
    }


def main(argv: list[str] | None = None, *, machine: str = "") -> int:
    """Run the benchmark; prints Markdown and writes JSON."""
    args = parse_args(argv)
    now = datetime.now(timezone.utc).replace(microsecond=0)
    with (
        tempfile.TemporaryDirectory(prefix="bench-followups-") as scratch,
        scratch_database(args.backend, args.postgres_url, "bench-followups") as url,
    ):
        config = bench_config(Path(scratch))
        upgrade(url)
        print(f"{args.backend}: seeding {args.leads:,} leads …", file=sys.stderr, flush=True)
        seed(url, args.leads, now)
        print("planning …", file=sys.stderr, flush=True)
        planning = measure_planning(url, config, args.batch, args.workers, now)
        print(f"sending {args.sends:,} …", file=sys.stderr, flush=True)
        sending = asyncio.run(measure_sending(url, config, args.sends, now))
    report = {
        "measured_at": now.isoformat(),
        "machine": machine,
        "load_average_1m": round(os.getloadavg()[0], 2),
        "backend": args.backend,
        "leads": args.leads,
        "batch": args.batch,
        "planning": planning,
        "sending": sending,
        "targets": {
            "planning_1m_leads_seconds": PLAN_SECONDS_TARGET,
            "planning_peak_rss_mb": PLAN_RSS_MB_TARGET,
            "sends_per_second": SENDS_PER_SECOND_TARGET,
        },
    }
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    OUTPUT.write_text(json.dumps(report, indent=2), encoding="utf-8")
    print(f"Follow-ups on {args.backend}, {args.leads:,} consenting leads; {machine}\n")
    print("| part | result |")
    print("|---|---|")
    print(
        f"| planning, {planning['workers']} processes | {planning['leads']:,} leads in "
        f"{planning['seconds']} s "
        f"({planning['leads_per_second']:,} leads/s), {planning['planned']:,} planned, "
        f"{planning['held_out']:,} held out, {planning['cpu_seconds']} CPU s, "
        f"peak RSS {planning['peak_rss_mb']} MB per process |"
    )
    print(
        f"| sending | {sending['received']:,} of {sending['messages']:,} emails in "
        f"{sending['seconds']} s ({sending['messages_per_second']}/s), "
        f"{sending['duplicates']} duplicates |"
    )
    complete = sending["received"] == sending["messages"] and sending["duplicates"] == 0
    return 0 if complete else 1
