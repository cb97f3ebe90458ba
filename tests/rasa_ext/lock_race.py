"""Several OS processes taking turns on one conversation's lock, counting what went wrong.

Each process enters the critical section ``iterations`` times. Inside, a Redis
counter is incremented on entry and decremented on exit: a process that finds
it at anything but 1 after its INCR shares the section with another process (an
overlap). A wait longer than ``stall_seconds`` is a stall (Rasa's turn would hang
that long); the process stops there, as everyone behind the stuck ticket would.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import queue
import random
import time
from dataclasses import dataclass, field
from typing import Any

import redis
from rasa.core.lock_store import LockError, LockStore, RedisLockStore

from rasa_ext.lock_store import AtomicRedisLockStore

REDIS_HOST = "127.0.0.1"
REDIS_PORT = 6379
REDIS_DB = 0


@dataclass(frozen=True)
class Race:
    store: str  # "atomic" (AtomicRedisLockStore) or "stock" (Rasa's RedisLockStore)
    key_prefix: str
    processes: int = 3
    iterations: int = 100
    conversation_id: str = "shopper-1"
    poll_seconds: float = 0.02
    max_hold_seconds: float = 0.003
    lock_lifetime: float = 60.0
    stall_seconds: float = 5.0
    run_seconds: float = 40.0

    @property
    def guard_key(self) -> str:
        return f"{self.key_prefix}:guard"

    def make_store(self) -> LockStore:
        where: dict[str, Any] = {"host": REDIS_HOST, "port": REDIS_PORT, "db": REDIS_DB}
        if self.store == "atomic":
            return AtomicRedisLockStore(
                **where, key_prefix=self.key_prefix, poll_seconds=self.poll_seconds
            )
        return RedisLockStore(**where, key_prefix=self.key_prefix)


@dataclass
class Outcome:
    sections: int = 0
    overlaps: int = 0
    lock_errors: int = 0
    stalled: bool = False
    waits_ns: list[int] = field(default_factory=list)


@dataclass
class RaceResult:
    outcomes: list[Outcome]
    # Processes that sent no outcome in time (killed): counted as stalls.
    lost: int

    @property
    def sections(self) -> int:
        return sum(o.sections for o in self.outcomes)

    @property
    def overlaps(self) -> int:
        return sum(o.overlaps for o in self.outcomes)

    @property
    def lock_errors(self) -> int:
        return sum(o.lock_errors for o in self.outcomes)

    @property
    def stalls(self) -> int:
        return sum(o.stalled for o in self.outcomes) + self.lost

    def wait_ms(self, quantile: float) -> float:
        waits = sorted(w for o in self.outcomes for w in o.waits_ns)
        return waits[min(len(waits) - 1, int(quantile * len(waits)))] / 1e6

    def summary(self) -> str:
        return (
            f"{self.sections} sections, {self.overlaps} overlaps, {self.lock_errors} LockErrors, "
            f"{self.stalls} stalls; wait p50 {self.wait_ms(0.5):.1f} ms, "
            f"p99 {self.wait_ms(0.99):.1f} ms"
        )


async def _take_turns(race: Race, seed: int) -> Outcome:
    store = race.make_store()
    guard = redis.StrictRedis(host=REDIS_HOST, port=REDIS_PORT, db=REDIS_DB)
    rng = random.Random(seed)
    outcome = Outcome()

    async def section(asked: int) -> None:
        async with store.lock(
            race.conversation_id,
            lock_lifetime=race.lock_lifetime,
            wait_time_in_seconds=race.poll_seconds,
        ):
            outcome.waits_ns.append(time.perf_counter_ns() - asked)
            try:
                if guard.incr(race.guard_key) != 1:
                    outcome.overlaps += 1
                await asyncio.sleep(rng.uniform(0, race.max_hold_seconds))
            finally:
                guard.decr(race.guard_key)
        outcome.sections += 1

    deadline = time.monotonic() + race.run_seconds
    for _ in range(race.iterations):
        if time.monotonic() > deadline:
            outcome.stalled = True
            break
        try:
            await asyncio.wait_for(section(time.perf_counter_ns()), race.stall_seconds)
        except LockError:
            outcome.lock_errors += 1
        except asyncio.TimeoutError:
            outcome.stalled = True
            break
    return outcome


def _worker(race: Race, seed: int, start: Any, results: Any) -> None:
    start.wait(timeout=30)
    results.put(asyncio.run(_take_turns(race, seed)))


def run_race(race: Race, seed: int = 0) -> RaceResult:
    """Run ``race`` in fresh (spawned) processes; returns within ``run_seconds`` + ~40 s."""
    context = multiprocessing.get_context("spawn")
    start = context.Barrier(race.processes)
    results = context.Queue()
    workers = [
        context.Process(target=_worker, args=(race, seed * 1000 + n, start, results), daemon=True)
        for n in range(race.processes)
    ]
    for worker in workers:
        worker.start()
    outcomes: list[Outcome] = []
    # Start-up (spawn + imports) is a few seconds; the run itself is bounded by run_seconds
    # and the stall timeout.
    deadline = time.monotonic() + 30 + race.run_seconds + race.stall_seconds
    while len(outcomes) < race.processes:
        try:
            outcomes.append(results.get(timeout=max(0.1, deadline - time.monotonic())))
        except queue.Empty:
            break
    for worker in workers:
        worker.join(timeout=5)
        if worker.is_alive():
            worker.kill()
            worker.join()
    return RaceResult(outcomes, lost=race.processes - len(outcomes))
