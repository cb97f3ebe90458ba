"""``python -m bench [chat|turns|scoring|handoff|csv|nlu|answers|conversations|dashboard|inbox|
load|events|challenger|followups|outcomes|all]``.

``make bench`` runs them all.

``chat``: chat-turn latency of the real stack. ``scoring``: events API
throughput, score update latency and full rescore (see ``bench/scoring.py``).
``handoff``: trigger → webhook latency under a backlog and outbox throughput
(see ``bench/handoff.py``). ``csv``: CSV import of 100,000 leads (see
``bench/csvimport.py``). ``nlu``: the trained model on the held-out shopper
messages (see ``bench/nlu.py``). ``answers``: the held-out shopper answers through
the form validation action (see ``bench/answers.py``). ``conversations``: seeded whole shopper
conversations and the leads they leave (see ``bench/conversations.py``). ``dashboard``: the
sales dashboard's queries over a year of 1,000,000 leads (see ``bench/dashboard.py``).
``inbox``: the sales inbox's first page, filters and searches over 1,000,000 leads (see
``bench/inbox.py``). ``turns``: the Rasa server's CPU per turn, 10 concurrent conversations'
latency and a 200-turn conversation's first and last turns (see ``bench/turns.py``). ``load``:
the cluster profile (1 and 2 Rasa replicas) under 10, 50 and 200 Locust shoppers (see
``bench/load.py``; about 11 minutes with its default 60 s window). ``events``: the
conversation-events consumer's throughput through the local RabbitMQ on SQLite and PostgreSQL
(see ``bench/events.py``). ``challenger``: training the challenger score on 100,000 and
1,000,000 synthetic leads, time and peak memory (see ``bench/challenger.py``). ``followups``:
planning follow-ups for consenting leads (time, peak memory) and sending them through the outbox
to a local SMTP receiver (see ``bench/followups.py``). ``outcomes``: the outcome report over
1,000,000 seeded leads with follow-ups, orders and handoffs (see ``bench/outcomes.py``).

The chat benchmark starts the three processes on fresh temporary SQLite databases, warms them up,
then measures (back to back, at the same concurrency) bare Rasa turns, whose
prediction runs no custom action, and full qualification turns, which run the
form, the answer parsers and the lead store. Prints a Markdown table and writes
the numbers to ``var/bench/chat.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import yaml

from bench import (
    answers,
    challenger,
    conversations,
    csvimport,
    dashboard,
    events,
    followups,
    handoff,
    inbox,
    load,
    nlu,
    outcomes,
    scoring,
    turns,
)
from bench.chat import (
    ChatClient,
    CpuPerTurn,
    bare_phase,
    cpu_per_turn,
    full_phase,
    new_session,
    warm_up,
)
from bench.stats import (
    FULL_P99_MAX_MS,
    FULL_TO_BARE_P50_MAX,
    LatencySummary,
    p50_ratio,
    render_markdown,
    summarize,
)
from bot.devstack import DevStack
from bot.settings import PROJECT_ROOT, VAR_DIR

SUITES = (
    "chat",
    "turns",
    "scoring",
    "handoff",
    "csv",
    "nlu",
    "answers",
    "conversations",
    "dashboard",
    "inbox",
    "load",
    "events",
    "challenger",
    "followups",
    "outcomes",
    "all",
)
TURNS_PER_CONVERSATION = 8
OUTPUT = VAR_DIR / "bench" / "chat.json"


def machine_description() -> str:
    """CPU model and core count, e.g. "2 cores, AMD EPYC"."""
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{os.cpu_count()} cores, {model}"


def iamabot_text() -> str:
    """The text of ``utter_iamabot`` in domain.yml (what a bare turn must answer)."""
    domain = yaml.safe_load((PROJECT_ROOT / "domain.yml").read_text(encoding="utf-8"))
    text: str = domain["responses"]["utter_iamabot"][0]["text"]
    return text


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench chat", description="chat-turn latency of the real stack"
    )
    parser.add_argument("--concurrency", type=int, default=10, help="concurrent conversations")
    parser.add_argument("--conversations", type=int, default=50, help="full conversations")
    parser.add_argument("--quick", action="store_true", help="small numbers, for a smoke test")
    parser.add_argument(
        "--think-ms",
        type=int,
        default=1000,
        help="average shopper pause between messages in the paced run (0 skips that run)",
    )
    parser.add_argument(
        "--cpu-conversations",
        type=int,
        default=40,
        help="conversations of each kind run one turn at a time for the CPU per turn",
    )
    parser.add_argument("--model", type=Path, default=PROJECT_ROOT / "models" / "current.tar.gz")
    parser.add_argument("--out", type=Path, default=OUTPUT)
    args = parser.parse_args(argv)
    if args.quick:
        args.concurrency, args.conversations = min(args.concurrency, 3), 3
        args.cpu_conversations = min(args.cpu_conversations, 2)
    if args.concurrency < 1 or args.conversations < 1:
        parser.error("--concurrency and --conversations must be at least 1")
    return args


async def measure(
    stack: DevStack, args: argparse.Namespace, *, think_seconds: float
) -> dict[str, Any]:
    expected = iamabot_text()
    async with new_session() as session:
        warm = ChatClient(session, stack.rasa_url)
        await warm_up(warm, conversations=1 if args.quick else 4, expected=expected)
        client = ChatClient(session, stack.rasa_url, think_seconds=think_seconds)
        bare = await bare_phase(
            client,
            concurrency=args.concurrency,
            sessions=args.conversations,
            turns_per_session=TURNS_PER_CONVERSATION,
            expected=expected,
        )
        full = await full_phase(
            client, concurrency=args.concurrency, conversations=args.conversations
        )
    return {"bare": bare, "full": full}


def main(argv: list[str] | None = None) -> int:
    """Dispatch to the chat, scoring, handoff, CSV import and/or understanding benchmarks."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    suite = arguments.pop(0) if arguments and arguments[0] in SUITES else "all"
    status = 0
    if suite in ("chat", "all"):
        status |= chat_main(arguments if suite == "chat" else [])
    if suite in ("turns", "all"):
        status |= turns.main(arguments if suite == "turns" else [], machine=machine_description())
    if suite in ("scoring", "all"):
        status |= scoring.main(
            arguments if suite == "scoring" else [], machine=machine_description()
        )
    if suite in ("handoff", "all"):
        status |= handoff.main(
            arguments if suite == "handoff" else [], machine=machine_description()
        )
    if suite in ("csv", "all"):
        status |= csvimport.main(arguments if suite == "csv" else [], machine=machine_description())
    if suite in ("conversations", "all"):
        status |= conversations.main(
            arguments if suite == "conversations" else [], machine=machine_description()
        )
    if suite in ("nlu", "all"):
        status |= nlu.main(arguments if suite == "nlu" else [], machine=machine_description())
    if suite in ("answers", "all"):
        status |= answers.main(
            arguments if suite == "answers" else [], machine=machine_description()
        )
    if suite in ("dashboard", "all"):
        status |= dashboard.main(
            arguments if suite == "dashboard" else [], machine=machine_description()
        )
    if suite in ("inbox", "all"):
        status |= inbox.main(arguments if suite == "inbox" else [], machine=machine_description())
    if suite in ("load", "all"):
        status |= load.main(arguments if suite == "load" else [], machine=machine_description())
    if suite in ("events", "all"):
        status |= events.main(arguments if suite == "events" else [], machine=machine_description())
    if suite in ("challenger", "all"):
        status |= challenger.main(
            arguments if suite == "challenger" else [], machine=machine_description()
        )
    if suite in ("followups", "all"):
        status |= followups.main(
            arguments if suite == "followups" else [], machine=machine_description()
        )
    if suite in ("outcomes", "all"):
        status |= outcomes.main(
            arguments if suite == "outcomes" else [], machine=machine_description()
        )
    return status


async def measure_cpu(stack: DevStack, conversations: int) -> CpuPerTurn:
    """CPU milliseconds per turn of the Rasa server and the action server."""
    async with new_session() as session:
        return await cpu_per_turn(
            ChatClient(session, stack.rasa_url),
            stack.cpu_seconds,
            conversations=conversations,
            expected=iamabot_text(),
        )


def chat_main(argv: list[str]) -> int:
    """The chat-turn latency benchmark."""
    args = parse_args(argv)
    if not args.model.exists():
        print(f"no trained model at {args.model}: run `make train` first", file=sys.stderr)
        return 1
    log_dir = args.out.parent / "logs"
    with tempfile.TemporaryDirectory(prefix="bench-") as scratch:
        base = Path(scratch)
        print(f"starting the stack (logs in {log_dir}) …", file=sys.stderr, flush=True)
        with DevStack.in_folder(
            PROJECT_ROOT,
            base,
            model=args.model.resolve(),
            log_dir=log_dir,
        ) as stack:
            runs = [("closed", 0.0)]
            if args.think_ms > 0:
                runs.append(("paced", args.think_ms / 1000))
            results: dict[str, dict[str, Any]] = {}
            for mode, think_seconds in runs:
                print(f"measuring ({mode}) …", file=sys.stderr, flush=True)
                results[mode] = asyncio.run(measure(stack, args, think_seconds=think_seconds))
            print("measuring CPU per turn, one turn at a time …", file=sys.stderr, flush=True)
            cpu = asyncio.run(measure_cpu(stack, args.cpu_conversations))
            rss_mb = {name: stack.rss_mb(name) for name in ("rasa", "actions", "web")}

    machine = machine_description()
    report: dict[str, Any] = {
        "measured_at": datetime.now(timezone.utc).isoformat(),
        "machine": machine,
        "concurrency": args.concurrency,
        "conversations": args.conversations,
        "turns_per_conversation": TURNS_PER_CONVERSATION,
        "rss_mb": rss_mb,
        "cpu_ms_per_turn": asdict(cpu),
        "runs": {},
    }
    failed = False
    for mode, phases in results.items():
        summaries: dict[str, LatencySummary] = {
            name: summarize(phase.latencies, phase.wall_seconds, len(phase.errors))
            for name, phase in phases.items()
        }
        bare, full = summaries["bare"], summaries["full"]
        pacing = (
            "no pause between turns"
            if mode == "closed"
            else f"shoppers pause ~{args.think_ms} ms between messages"
        )
        last = mode == list(results)[-1]
        print(
            render_markdown(
                bare,
                full,
                rss_mb if last else {},
                concurrency=args.concurrency,
                machine=machine,
                pacing=pacing,
            )
            + "\n"
        )
        for name, phase in phases.items():
            failed = failed or bool(phase.errors)
            for error in phase.errors[:5]:
                print(f"{mode} {name} error: {error}", file=sys.stderr)
        ratio = p50_ratio(full, bare)
        report["runs"][mode] = {
            "pacing": pacing,
            "bare": asdict(bare),
            "full": asdict(full),
            "full_to_bare_p50": ratio,
            "targets": {
                "full_to_bare_p50_max": FULL_TO_BARE_P50_MAX,
                "full_to_bare_p50_met": ratio <= FULL_TO_BARE_P50_MAX,
                "full_p99_max_ms": FULL_P99_MAX_MS,
                "full_p99_met": full.p99_ms <= FULL_P99_MAX_MS,
            },
            "errors": {name: phase.errors[:20] for name, phase in phases.items()},
        }
    print(
        f"CPU per turn, one at a time ({cpu.turns} turns of each kind): Rasa "
        f"{cpu.bare['rasa']:.1f} ms bare, {cpu.full['rasa']:.1f} ms full; action server "
        f"{cpu.full['actions']:.1f} ms full\n"
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"written to {args.out}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
