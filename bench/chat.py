"""Drives chat turns against a running stack over the REST channel and times them."""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import aiohttp

TURN_TIMEOUT_SECONDS = 60.0
BARE_MESSAGE = "are you a bot?"
TURNS_PER_SCRIPT = 8


def qualification_script(index: int) -> list[str]:
    """The shopper's messages of one full qualification (8 turns)."""
    return [
        "hi",
        "sometime next month",
        "the blue hoodie in M",
        "Lyon",
        "around 300 bucks",
        "yes",
        "Jane Doe",
        f"jane.{index}@example.com",
    ]


@dataclass
class PhaseResult:
    """Per-turn latencies (seconds) of one phase, its wall time and its failures."""

    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    wall_seconds: float = 0.0


class ChatClient:
    """Sends REST messages and records how long each turn took.

    ``think_seconds`` is the shopper's average pause before the next message
    (drawn uniformly from half to one and a half times it; 0 = no pause).
    """

    def __init__(
        self, session: aiohttp.ClientSession, rasa_url: str, *, think_seconds: float = 0.0
    ) -> None:
        self.session = session
        self.url = f"{rasa_url}/webhooks/rest/webhook"
        self.think_seconds = think_seconds
        self._random = random.Random(42)

    async def think(self) -> None:
        """Pause like a shopper reading the reply and typing the next message."""
        if self.think_seconds > 0:
            await asyncio.sleep(self.think_seconds * self._random.uniform(0.5, 1.5))

    async def turn(self, sender: str, text: str) -> tuple[float, list[dict[str, Any]]]:
        """One message; returns (latency in seconds, the bot's replies)."""
        started = time.perf_counter()
        async with self.session.post(self.url, json={"sender": sender, "message": text}) as reply:
            reply.raise_for_status()
            messages: list[dict[str, Any]] = await reply.json()
        return time.perf_counter() - started, messages


def new_session() -> aiohttp.ClientSession:
    """An HTTP client session for the benchmark."""
    return aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=TURN_TIMEOUT_SECONDS))


async def bare_phase(
    client: ChatClient, *, concurrency: int, sessions: int, turns_per_session: int, expected: str
) -> PhaseResult:
    """ "are you a bot?" turns: ``sessions`` sessions of ``turns_per_session`` measured turns.

    Every session is opened with one unmeasured message first, so measured
    turns do no session-start work and the reply comes from a rule alone.
    Sessions are as long as a full qualification, so both kinds of turn load
    trackers of the same size.
    """
    senders = [f"bench-bare-{uuid.uuid4().hex}" for _ in range(sessions)]
    opening = asyncio.Semaphore(concurrency)

    async def open_session(sender: str) -> None:
        async with opening:
            await client.turn(sender, BARE_MESSAGE)

    await asyncio.gather(*(open_session(sender) for sender in senders))
    result = PhaseResult()
    pending: asyncio.Queue[str] = asyncio.Queue()
    for sender in senders:
        pending.put_nowait(sender)

    async def talk(sender: str) -> None:
        for _ in range(turns_per_session):
            await client.think()
            try:
                latency, replies = await client.turn(sender, BARE_MESSAGE)
            except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
                result.errors.append(f"{sender}: {exc!r}")
                return
            result.latencies.append(latency)
            texts = [reply.get("text") for reply in replies]
            if texts != [expected]:
                result.errors.append(f"{sender}: expected the utter_iamabot reply, got {texts!r}")

    async def worker() -> None:
        while not pending.empty():
            await talk(pending.get_nowait())

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    result.wall_seconds = time.perf_counter() - started
    return result


async def full_phase(
    client: ChatClient, *, concurrency: int, conversations: int, first_index: int = 0
) -> PhaseResult:
    """``conversations`` scripted qualifications, ``concurrency`` of them at a time."""
    result = PhaseResult()
    pending: asyncio.Queue[int] = asyncio.Queue()
    for index in range(first_index, first_index + conversations):
        pending.put_nowait(index)

    async def converse(script: Sequence[str], sender: str) -> None:
        for position, text in enumerate(script):
            if position:
                await client.think()
            try:
                latency, replies = await client.turn(sender, text)
            except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
                result.errors.append(f"{sender} {text!r}: {exc!r}")
                return
            result.latencies.append(latency)
            if not replies or not all(reply.get("text") for reply in replies):
                result.errors.append(f"{sender} {text!r}: empty reply {replies!r}")

    async def worker() -> None:
        while not pending.empty():
            index = pending.get_nowait()
            await converse(qualification_script(index), f"bench-full-{uuid.uuid4().hex}")

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    result.wall_seconds = time.perf_counter() - started
    return result


async def warm_up(client: ChatClient, *, conversations: int, expected: str) -> None:
    """Run a few unmeasured conversations so every code path is loaded and cached."""
    bare = await bare_phase(
        client, concurrency=2, sessions=2, turns_per_session=2, expected=expected
    )
    full = await full_phase(
        client, concurrency=2, conversations=conversations, first_index=1_000_000
    )
    problems = bare.errors + full.errors
    if problems:
        raise RuntimeError("warm-up chats failed:\n" + "\n".join(problems[:10]))


@dataclass
class CpuPerTurn:
    """CPU milliseconds per turn of each process, one turn at a time."""

    turns: int
    bare: dict[str, float]
    full: dict[str, float]


async def cpu_per_turn(
    client: ChatClient,
    cpu_seconds: Callable[[str], float],
    *,
    conversations: int,
    expected: str,
    processes: Sequence[str] = ("rasa", "actions"),
) -> CpuPerTurn:
    """CPU each process spends per turn, over ``conversations`` of 8 turns of each kind.

    One turn at a time, so the figure is the turn's own cost, not queueing: read from
    ``/proc`` (user + system time of the process group) before and after each phase.
    Every message counted, session openings included.
    """
    turns = conversations * TURNS_PER_SCRIPT

    async def bare() -> None:
        for _ in range(conversations):
            sender = f"bench-cpu-bare-{uuid.uuid4().hex}"
            for _ in range(TURNS_PER_SCRIPT):
                _, replies = await client.turn(sender, BARE_MESSAGE)
                if [reply.get("text") for reply in replies] != [expected]:
                    raise RuntimeError(f"bare turn answered {replies!r}")

    async def full() -> None:
        result = await full_phase(client, concurrency=1, conversations=conversations)
        if result.errors:
            raise RuntimeError("full turns failed:\n" + "\n".join(result.errors[:5]))

    figures: dict[str, dict[str, float]] = {}
    for kind, phase in (("bare", bare), ("full", full)):
        before = {name: cpu_seconds(name) for name in processes}
        await phase()
        figures[kind] = {
            name: round((cpu_seconds(name) - before[name]) * 1000 / turns, 2) for name in processes
        }
    return CpuPerTurn(turns=turns, bare=figures["bare"], full=figures["full"])
