"""``python -m bench turns``: what one chat turn costs the Rasa server, and whether that stays flat.

Starts the real stack (:class:`bot.devstack.DevStack`) on fresh temporary SQLite databases,
warms it up, then measures:

- CPU per turn, one turn at a time (user + system time of each process group, read from
  ``/proc`` before and after): bare turns ("are you a bot?", answered by a rule with no custom
  action) and answer turns (the 8 messages of a full qualification: the form, the answer
  parsers and the lead store), for the Rasa server and the action server;
- full-turn latency of qualification conversations, ``--concurrency`` of them at a time with
  no pause between messages, on one Rasa server;
- one long conversation of ``--long-turns`` messages, one at a time: the qualification, then
  a bare question and a shop question (a custom action) in turn. Its first and last windows
  of ``--window`` turns with the same messages (the first window starts right after the
  qualification) are compared by Rasa CPU per turn and latency.

Prints a Markdown report and writes the figures to ``var/bench/turns.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import yaml

from bench.chat import (
    BARE_MESSAGE,
    ChatClient,
    CpuPerTurn,
    cpu_per_turn,
    full_phase,
    new_session,
    qualification_script,
    warm_up,
)
from bench.stats import LatencySummary, percentile, summarize
from bot.devstack import DevStack
from bot.settings import PROJECT_ROOT, VAR_DIR

OUTPUT = VAR_DIR / "bench" / "turns.json"
SHOP_QUESTION = "do you ship to France?"
# Targets of a cheaper turn (README, "Performance").
RASA_CPU_PER_ANSWER_TURN_MAX_MS = 12.0
CONCURRENT_P50_MAX_MS = 120.0
CONCURRENT_P99_MAX_MS = 200.0
# The last window may cost this much more than the first and still count as flat:
# /proc counts CPU in 10 ms ticks, and a window's turns are few.
FLAT_TOLERANCE = 1.15


def iamabot_text() -> str:
    """The text of ``utter_iamabot`` in domain.yml (what a bare turn must answer)."""
    domain = yaml.safe_load((PROJECT_ROOT / "domain.yml").read_text(encoding="utf-8"))
    text: str = domain["responses"]["utter_iamabot"][0]["text"]
    return text


def long_script(turns: int) -> list[str]:
    """The long conversation: the qualification, then a bare and a shop question in turn."""
    opening = qualification_script(0)
    rest = [BARE_MESSAGE if index % 2 == 0 else SHOP_QUESTION for index in range(turns)]
    return (opening + rest)[:turns]


@dataclass(frozen=True)
class Window:
    """Turns ``first``..``last`` (1-based) of the long conversation."""

    first: int
    last: int
    rasa_cpu_ms_per_turn: float
    actions_cpu_ms_per_turn: float
    p50_ms: float
    max_ms: float


@dataclass(frozen=True)
class LongConversation:
    """The long conversation's first and last comparable windows."""

    turns: int
    early: Window
    late: Window


async def long_conversation(
    client: ChatClient,
    cpu_seconds: Callable[[str], float],
    *,
    turns: int,
    window: int,
) -> LongConversation:
    """One conversation of ``turns`` messages, one at a time; CPU read around every turn."""
    script = long_script(turns)
    sender = f"bench-long-{uuid.uuid4().hex}"
    rasa_cpu: list[float] = []
    actions_cpu: list[float] = []
    latencies: list[float] = []
    for text in script:
        rasa_before, actions_before = cpu_seconds("rasa"), cpu_seconds("actions")
        started = time.perf_counter()
        _, replies = await client.turn(sender, text)
        latencies.append(time.perf_counter() - started)
        rasa_cpu.append(cpu_seconds("rasa") - rasa_before)
        actions_cpu.append(cpu_seconds("actions") - actions_before)
        if not replies or not all(reply.get("text") for reply in replies):
            raise RuntimeError(f"turn {len(latencies)} ({text!r}) answered {replies!r}")

    def summary(first: int) -> Window:
        span = slice(first - 1, first - 1 + window)
        millis = [value * 1000 for value in latencies[span]]
        return Window(
            first=first,
            last=first + window - 1,
            rasa_cpu_ms_per_turn=round(sum(rasa_cpu[span]) * 1000 / window, 2),
            actions_cpu_ms_per_turn=round(sum(actions_cpu[span]) * 1000 / window, 2),
            p50_ms=round(percentile(millis, 50), 1),
            max_ms=round(max(millis), 1),
        )

    opening = len(qualification_script(0))
    # The last window starts on the same message of the cycle as the first one.
    late_first = turns - window + 1
    late_first -= (late_first - (opening + 1)) % 2
    return LongConversation(turns=turns, early=summary(opening + 1), late=summary(late_first))


@dataclass(frozen=True)
class Figures:
    """Everything the benchmark measured."""

    cpu: CpuPerTurn
    concurrent: LatencySummary
    concurrent_errors: list[str]
    long: LongConversation


async def measure(stack: DevStack, args: argparse.Namespace) -> Figures:
    """Warm up, then the CPU per turn, the concurrent run and the long conversation."""
    expected = iamabot_text()
    async with new_session() as session:
        client = ChatClient(session, stack.rasa_url)
        await warm_up(client, conversations=1 if args.quick else 4, expected=expected)
        cpu = await cpu_per_turn(
            client, stack.cpu_seconds, conversations=args.cpu_conversations, expected=expected
        )
        concurrent = await full_phase(
            client, concurrency=args.concurrency, conversations=args.conversations
        )
        long = await long_conversation(
            client, stack.cpu_seconds, turns=args.long_turns, window=args.window
        )
    return Figures(
        cpu=cpu,
        concurrent=summarize(concurrent.latencies, concurrent.wall_seconds, len(concurrent.errors)),
        concurrent_errors=concurrent.errors[:20],
        long=long,
    )


def _verdict(ok: bool) -> str:
    return "met" if ok else "**missed**"


def targets(figures: Figures) -> dict[str, bool]:
    """Which targets the figures meet."""
    early, late = figures.long.early, figures.long.late
    return {
        "rasa_cpu_per_answer_turn": figures.cpu.full["rasa"] <= RASA_CPU_PER_ANSWER_TURN_MAX_MS,
        "concurrent_p50": figures.concurrent.p50_ms <= CONCURRENT_P50_MAX_MS,
        "concurrent_p99": figures.concurrent.p99_ms <= CONCURRENT_P99_MAX_MS,
        "long_cpu_flat": late.rasa_cpu_ms_per_turn <= early.rasa_cpu_ms_per_turn * FLAT_TOLERANCE,
        "long_latency_flat": late.p50_ms <= early.p50_ms * FLAT_TOLERANCE,
    }


def render(figures: Figures, *, concurrency: int, machine: str) -> str:
    """The report as Markdown."""
    cpu, concurrent, long = figures.cpu, figures.concurrent, figures.long
    met = targets(figures)
    early, late = long.early, long.late
    lines = [
        f"Chat-turn cost ({machine})",
        "",
        f"| CPU per turn, one at a time ({cpu.turns} turns of each kind) | Rasa ms "
        "| action server ms |",
        "|---|---:|---:|",
        f"| bare turn (rule, no custom action) | {cpu.bare['rasa']:.1f} "
        f"| {cpu.bare['actions']:.1f} |",
        f"| answer turn (full qualification) | {cpu.full['rasa']:.1f} "
        f"| {cpu.full['actions']:.1f} |",
        "",
        f"| {long.turns}-turn conversation | Rasa CPU ms/turn | action server CPU ms/turn "
        "| p50 ms | max ms |",
        "|---|---:|---:|---:|---:|",
    ]
    for window in (early, late):
        lines.append(
            f"| turns {window.first}-{window.last} | {window.rasa_cpu_ms_per_turn:.1f} "
            f"| {window.actions_cpu_ms_per_turn:.1f} | {window.p50_ms:.1f} "
            f"| {window.max_ms:.1f} |"
        )
    lines += [
        "",
        "| target | measured | |",
        "|---|---:|---|",
        f"| Rasa CPU per answer turn ≤ {RASA_CPU_PER_ANSWER_TURN_MAX_MS:.0f} ms "
        f"| {cpu.full['rasa']:.1f} ms | {_verdict(met['rasa_cpu_per_answer_turn'])} |",
        f"| {concurrency} concurrent, no pause: full-turn p50 ≤ {CONCURRENT_P50_MAX_MS:.0f} ms "
        f"| {concurrent.p50_ms:.1f} ms | {_verdict(met['concurrent_p50'])} |",
        f"| {concurrency} concurrent, no pause: full-turn p99 ≤ {CONCURRENT_P99_MAX_MS:.0f} ms "
        f"| {concurrent.p99_ms:.1f} ms ({concurrent.turns} turns, {concurrent.errors} errors) "
        f"| {_verdict(met['concurrent_p99'])} |",
        f"| last turns' Rasa CPU ≤ first turns' (x{FLAT_TOLERANCE}) "
        f"| {late.rasa_cpu_ms_per_turn:.1f} vs {early.rasa_cpu_ms_per_turn:.1f} ms "
        f"| {_verdict(met['long_cpu_flat'])} |",
        f"| last turns' p50 ≤ first turns' (x{FLAT_TOLERANCE}) "
        f"| {late.p50_ms:.1f} vs {early.p50_ms:.1f} ms | {_verdict(met['long_latency_flat'])} |",
    ]
    return "\n".join(lines)


def parse_args(argv: list[str]) -> argparse.Namespace:
    """The benchmark's options."""
    parser = argparse.ArgumentParser(
        prog="python -m bench turns", description="what one chat turn costs the Rasa server"
    )
    parser.add_argument("--concurrency", type=int, default=10, help="concurrent conversations")
    parser.add_argument(
        "--conversations", type=int, default=40, help="qualifications in the concurrent run"
    )
    parser.add_argument(
        "--cpu-conversations",
        type=int,
        default=40,
        help="conversations of each kind run one turn at a time for the CPU per turn",
    )
    parser.add_argument("--long-turns", type=int, default=200, help="turns of the long chat")
    parser.add_argument("--window", type=int, default=20, help="turns in each compared window")
    parser.add_argument("--quick", action="store_true", help="small numbers, for a smoke test")
    parser.add_argument("--model", type=Path, default=PROJECT_ROOT / "models" / "current.tar.gz")
    parser.add_argument("--out", type=Path, default=OUTPUT)
    args = parser.parse_args(argv)
    if args.quick:
        args.concurrency = min(args.concurrency, 3)
        args.conversations, args.cpu_conversations = 3, 2
        args.long_turns, args.window = 40, 10
    if min(args.concurrency, args.conversations, args.cpu_conversations, args.window) < 1:
        parser.error("--concurrency, --conversations, --cpu-conversations and --window must be ≥ 1")
    opening = len(qualification_script(0))
    if args.long_turns < opening + 2 * args.window + 1:
        parser.error(f"--long-turns must be at least {opening + 2 * args.window + 1}")
    return args


def main(argv: list[str], *, machine: str) -> int:
    """Run the benchmark; 1 if a turn failed."""
    args = parse_args(argv)
    if not args.model.exists():
        print(f"no trained model at {args.model}: run `make train` first", file=sys.stderr)
        return 1
    log_dir = args.out.parent / "logs"
    with tempfile.TemporaryDirectory(prefix="bench-turns-") as scratch:
        print(f"starting the stack (logs in {log_dir}) …", file=sys.stderr, flush=True)
        with DevStack.in_folder(
            PROJECT_ROOT, Path(scratch), model=args.model.resolve(), log_dir=log_dir
        ) as stack:
            figures = asyncio.run(measure(stack, args))
    print(render(figures, concurrency=args.concurrency, machine=machine) + "\n")
    for error in figures.concurrent_errors[:5]:
        print(f"concurrent run error: {error}", file=sys.stderr)
    report: dict[str, Any] = {
        "measured_at": datetime.now(timezone.utc).isoformat(),
        "machine": machine,
        "concurrency": args.concurrency,
        "cpu_ms_per_turn": asdict(figures.cpu),
        "concurrent": asdict(figures.concurrent),
        "concurrent_errors": figures.concurrent_errors,
        "long_conversation": asdict(figures.long),
        "targets_met": targets(figures),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"written to {args.out}", file=sys.stderr)
    return 1 if figures.concurrent_errors else 0
