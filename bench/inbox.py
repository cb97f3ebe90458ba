"""``python -m bench inbox``: the sales inbox's first page, each filter and a search at scale.

A seeded store of ``--leads`` leads (1,000,000 by default) is written in bulk: names,
e-mails, phones and companies on two leads in three, one or two answers on two in
five, 70 % cold, 20 % warm, 10 % hot, every hot lead and one warm lead in ten handed
off to one of three teams and eight reps (a fifth still open, some overdue). Then
:meth:`bot.store.queries.LeadQueries.inbox` (counts per stage and a page of 50, in
the inbox order) runs ``--runs`` times for the first page, for each filter and for
searches; p50 and p99 are reported against the targets (150 ms, 300 ms for a search).

On a fresh temporary SQLite file and on a PostgreSQL database it creates and drops
(``--postgres-url``, default ``TEST_POSTGRES_URL`` or the tests' server); ``--backends``
picks them. The full-text triggers are off while PostgreSQL loads, then one
statement indexes every lead, as a bulk import would do.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from sqlalchemy import insert
from sqlalchemy.engine import Engine

from bench.databases import BACKENDS, DEFAULT_POSTGRES_URL, scratch_database
from bench.stats import percentile
from bot.settings import VAR_DIR
from bot.store.db import create_db_engine
from bot.store.migrate import upgrade
from bot.store.models import Answer, Handoff, Lead
from bot.store.queries import LeadFilters, LeadQueries

TARGET_P99_MS = 150.0
SEARCH_TARGET_P99_MS = 300.0
DEFAULT_LEADS = 1_000_000
BATCH = 20_000
PAGE = 50
OUTPUT = VAR_DIR / "bench" / "inbox.json"
NOW = datetime(2026, 12, 1, tzinfo=timezone.utc)
FIRST = ("Ada", "Grace", "Alan", "Lena", "Hugo", "Noa", "Camille", "Yann", "Zoe", "Marc")
LAST = tuple(
    f"{stem}{suffix}"
    for stem in ("Martin", "Bernard", "Petit", "Durand")
    for suffix in ("", "eau", "ier", "ot", "ard", "in", "el", "on", "ez", "ay")
)
COMPANIES = tuple(
    f"{word} {kind}"
    for word in ("Blue", "North", "Atelier", "Nova", "Urban")
    for kind in ("Shop", "Studio", "Labs", "Goods")
)
ANSWERS = (
    "the black hoodie in XL",
    "within two weeks",
    "delivery to Nantes please",
    "about 80 euros",
    "the navy scarf, medium",
    "before Christmas",
)
TEAMS = ("sales", "vip", "wholesale")
REPS = tuple(f"rep-{number}" for number in range(1, 9))
SOURCES = (("chat", 70), ("storefront", 20), ("web_form", 8), ("import", 2))
STATUSES = (("New", 80), ("Contacted", 8), ("Qualified", 5), ("Lost", 4), ("Won", 3))
# What is measured: name → the filters of the inbox query (a search is a filter too).
CASES: dict[str, LeadFilters] = {
    "first page": LeadFilters(),
    "stage=hot": LeadFilters(stage="hot"),
    "status=Contacted": LeadFilters(status="Contacted"),
    "source=web_form": LeadFilters(source="web_form"),
    "team=vip": LeadFilters(team="vip"),
    "rep (mine)": LeadFilters(rep="rep-3"),
    "created last 7 days": LeadFilters(created_since=NOW - timedelta(days=7)),
    "updated last 30 days": LeadFilters(updated_since=NOW - timedelta(days=30)),
    "search: surname": LeadFilters(q="durandez"),
    "search: e-mail": LeadFilters(q="camille.petitot"),
    "search: answer words": LeadFilters(q="navy scarf"),
    "search: phone": LeadFilters(q="33612345"),
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench inbox", description="the sales inbox's queries at scale"
    )
    parser.add_argument("--leads", type=int, default=DEFAULT_LEADS, help="leads to generate")
    parser.add_argument("--runs", type=int, default=30, help="measured runs of each query")
    parser.add_argument("--seed", type=int, default=18)
    parser.add_argument("--backends", default="sqlite,postgres", help="sqlite, postgres or both")
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES_URL)
    parser.add_argument("--out", type=Path, default=OUTPUT)
    args = parser.parse_args(argv)
    args.backends = [name.strip() for name in args.backends.split(",") if name.strip()]
    if args.leads < 1 or args.runs < 2 or not set(args.backends) <= set(BACKENDS):
        parser.error("--leads ≥ 1, --runs ≥ 2, --backends among sqlite,postgres")
    return args


def _weighted(rng: random.Random, pairs: tuple[tuple[str, int], ...]) -> str:
    return rng.choices([name for name, _ in pairs], weights=[weight for _, weight in pairs])[0]


def _rows(index: int, leads: int, rng: random.Random) -> tuple[dict[str, Any], list, list]:
    """Lead ``index``, its answers and its handoffs."""
    lead_id = uuid.UUID(int=rng.getrandbits(128)).hex
    created = NOW - timedelta(seconds=365 * 86400 * (leads - index) / leads)
    stage = rng.choices(("cold", "warm", "hot"), weights=(70, 20, 10))[0]
    intent = {"cold": rng.randint(0, 20), "warm": rng.randint(20, 45), "hot": rng.randint(45, 70)}
    fit = rng.randint(0, 30)
    source = _weighted(rng, SOURCES)
    lead: dict[str, Any] = {
        "id": lead_id,
        "session_id": f"bench-{index}",
        "stage": stage,
        "intent_score": intent[stage],
        "fit_score": fit,
        "score": intent[stage] + fit,
        "status": _weighted(rng, STATUSES),
        "source": source,
        "chatted_at": created if source == "chat" else None,
        "reasons": [],
        **dict.fromkeys(("first_name", "last_name", "email", "phone", "company")),
        "created_at": created,
        "updated_at": created + timedelta(hours=rng.uniform(0, 72)),
    }
    if rng.random() < 2 / 3:
        first, last = rng.choice(FIRST), rng.choice(LAST)
        lead.update(
            first_name=first,
            last_name=last,
            email=f"{first}.{last}{index}@example.com".lower(),
            phone=f"+336{rng.randint(10_000_000, 99_999_999)}",
            company=rng.choice(COMPANIES),
        )
    answers = [
        {
            "lead_id": lead_id,
            "answer_id": f"{lead_id}-{number}",
            "key": f"q{number}",
            "raw": rng.choice(ANSWERS),
            "answered_at": created,
        }
        for number in range(rng.choice((1, 2)) if rng.random() < 0.4 else 0)
    ]
    handoffs = []
    if stage == "hot" or (stage == "warm" and rng.random() < 0.1):
        opened = created + timedelta(minutes=rng.uniform(1, 60))
        # The newest fifth of the year's handoffs still wait; some are overdue.
        waiting = created > NOW - timedelta(days=73) and rng.random() < 0.2
        due = NOW + timedelta(hours=rng.uniform(-48, 24)) if waiting else opened
        handoffs.append(
            {
                "id": uuid.UUID(int=rng.getrandbits(128)).hex,
                "lead_id": lead_id,
                "trigger": "bench",
                "team": rng.choice(TEAMS),
                "assigned_to": rng.choice(REPS),
                "sla": "hot-15m",
                "priority": 1,
                "status": "open" if waiting else "acknowledged",
                "contact_by": due,
                "due_at": due,
                "created_at": opened,
            }
        )
    return lead, answers, handoffs


def generate(engine: Engine, leads: int, seed: int) -> dict[str, int]:
    """Write ``leads`` leads, their answers and handoffs in batches; the counts written."""
    rng = random.Random(seed)
    counts = {"leads": leads, "answers": 0, "handoffs": 0}
    postgres = engine.dialect.name == "postgresql"
    if postgres:
        with engine.begin() as connection:
            connection.exec_driver_sql("ALTER TABLE leads DISABLE TRIGGER lead_search_lead")
            connection.exec_driver_sql("ALTER TABLE answers DISABLE TRIGGER lead_search_answer")
    for start in range(0, leads, BATCH):
        batch = [_rows(index, leads, rng) for index in range(start, min(start + BATCH, leads))]
        answers = [row for _, rows, _ in batch for row in rows]
        handoffs = [row for _, _, rows in batch for row in rows]
        with engine.begin() as connection:
            connection.execute(insert(Lead.__table__), [lead for lead, _, _ in batch])
            if answers:
                connection.execute(insert(Answer.__table__), answers)
            if handoffs:
                connection.execute(insert(Handoff.__table__), handoffs)
        counts["answers"] += len(answers)
        counts["handoffs"] += len(handoffs)
        print(f"  {start + len(batch):,} leads", file=sys.stderr, end="\r", flush=True)
    print(file=sys.stderr)
    if postgres:
        with engine.begin() as connection:
            connection.exec_driver_sql(
                "UPDATE leads SET search_document = lead_search_document(id, concat_ws(' ',"
                " first_name, last_name, email, phone, company))"
            )
            connection.exec_driver_sql("ALTER TABLE leads ENABLE TRIGGER lead_search_lead")
            connection.exec_driver_sql("ALTER TABLE answers ENABLE TRIGGER lead_search_answer")
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.exec_driver_sql("VACUUM ANALYZE")
    else:
        with engine.connect() as connection:
            connection.exec_driver_sql("ANALYZE")
    return counts


def measure(queries: LeadQueries, filters: LeadFilters, runs: int) -> dict[str, float]:
    """p50/p99/max ms of an inbox page (counts included), after one warm-up run."""
    found = queries.inbox(filters, limit=PAGE)
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        queries.inbox(filters, limit=PAGE)
        timings.append((time.perf_counter() - started) * 1000)
    return {
        "p50_ms": round(percentile(timings, 50), 1),
        "p99_ms": round(percentile(timings, 99), 1),
        "max_ms": round(max(timings), 1),
        "matched": found.total,
    }


def run(url: str, args: argparse.Namespace) -> dict[str, Any]:
    upgrade(url)
    engine = create_db_engine(url)
    try:
        print(f"generating {args.leads:,} leads …", file=sys.stderr, flush=True)
        started = time.perf_counter()
        generated = generate(engine, args.leads, args.seed)
        generate_seconds = round(time.perf_counter() - started, 1)
        print("measuring …", file=sys.stderr, flush=True)
        queries = LeadQueries(engine)
        measured = {name: measure(queries, filters, args.runs) for name, filters in CASES.items()}
        return {
            "backend": engine.dialect.name,
            "generated": generated,
            "generate_seconds": generate_seconds,
            "cases": measured,
        }
    finally:
        engine.dispose()


def _target(case: str) -> float:
    return SEARCH_TARGET_P99_MS if case.startswith("search") else TARGET_P99_MS


def render(report: dict[str, Any]) -> str:
    """The report as a Markdown table per backend."""
    lines = []
    for result in report["results"]:
        generated = result["generated"]
        lines += [
            f"Inbox over {generated['leads']:,} leads ({generated['answers']:,} answers, "
            f"{generated['handoffs']:,} handoffs) on {result['backend']}, generated in "
            f"{result['generate_seconds']} s; {report['runs']} runs, {report['machine']}",
            "",
            "| query (counts + page of 50) | matched | p50 ms | p99 ms | max ms | target p99 |",
            "|---|---|---|---|---|---|",
        ]
        for case, row in result["cases"].items():
            lines.append(
                f"| {case} | {row['matched']:,} | {row['p50_ms']} | {row['p99_ms']} | "
                f"{row['max_ms']} | ≤ {_target(case):.0f} ms |"
            )
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None, *, machine: str = "") -> int:
    """Run the inbox benchmark on each backend; prints Markdown and writes JSON."""
    args = parse_args(argv)
    results = []
    for backend in args.backends:
        with scratch_database(backend, args.postgres_url, "bench-inbox") as url:
            results.append(run(url, args))
    report = {
        "measured_at": datetime.now(timezone.utc).isoformat(),
        "machine": machine,
        "load_average_1m": round(os.getloadavg()[0], 2),
        "seed": args.seed,
        "runs": args.runs,
        "results": results,
    }
    print(render(report))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"written to {args.out}", file=sys.stderr)
    met = all(
        row["p99_ms"] <= _target(case)
        for result in results
        for case, row in result["cases"].items()
    )
    return 0 if met else 1
