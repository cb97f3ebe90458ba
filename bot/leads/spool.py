"""Durable local spool for writes the database could not take.

When the lead database is unreachable, or stays locked longer than the
process's lock wait, commands are appended to a JSON-lines file (fsync'd before
the shopper gets a reply) and replayed, in order, as soon as the database
answers again. Commands are idempotent, so a replay interrupted half-way is
simply replayed again.

The action server and the web app share the spool. Appending takes a short
file lock; replaying takes another one, so one process replays at a time while
every writer keeps appending: a replay reads the batches waiting when it
starts, writes them without holding the append lock, and then removes exactly
those from the front of the file.

A batch the database *refuses* (a constraint or data error, not an outage) would
block the spool forever if it were retried; it goes to ``rejected.jsonl`` next to
the spool instead (kept for inspection, never silently dropped) and the rest
carries on.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from bot.leads.commands import Command, encode, from_payload
from bot.leads.results import ApplyResult
from bot.leads.service import LeadService
from bot.store.db import lock_wait, wait_until

logger = logging.getLogger(__name__)

# The database is down, unreachable or busy: worth retrying later.
UNAVAILABLE_ERRORS = (OperationalError, InterfaceError, PoolTimeoutError)
# Once the store was found unavailable, writes go straight to the spool for this
# long instead of each waiting out the lock wait again (a chat turn makes
# several writes); the web app's flusher replays them meanwhile.
RETRY_AFTER_SECONDS = 5.0


@dataclass
class Replay:
    """What one replay wrote: the count, and each written batch's result by its spool line."""

    written: int = 0
    results: dict[str, ApplyResult] = field(default_factory=dict)


class Spool:
    """An append-only file of pending commands, one JSON batch per line."""

    def __init__(self, directory: Path) -> None:
        self._path = directory / "pending.jsonl"
        self.rejected_path = directory / "rejected.jsonl"
        self._lock_path = directory / "pending.lock"
        self._replay_lock_path = directory / "replay.lock"
        self._thread_lock = threading.Lock()
        directory.mkdir(parents=True, exist_ok=True)

    @contextmanager
    def _locked(self) -> Iterator[None]:
        with self._thread_lock, open(self._lock_path, "a") as lock_file:
            fcntl.flock(lock_file, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock_file, fcntl.LOCK_UN)

    @contextmanager
    def _replaying(self) -> Iterator[bool]:
        """Whether this caller is the one replaying (never waits for another replay).

        flock locks belong to an open file, so two threads of one process
        opening the lock file exclude each other as two processes do.
        """
        with open(self._replay_lock_path, "a") as lock_file:
            try:
                fcntl.flock(lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                yield False
                return
            try:
                yield True
            finally:
                fcntl.flock(lock_file, fcntl.LOCK_UN)

    def append(self, commands: Sequence[Command]) -> str:
        """Persist one batch; returns (its spool line) only once it is on disk."""
        line = _encode_batch(commands)
        with self._locked():
            _append_line(self._path, line)
        return line

    def reject(self, commands: Sequence[Command]) -> None:
        """Keep a batch the database refused in ``rejected.jsonl``."""
        with self._locked():
            _append_line(self.rejected_path, _encode_batch(commands))

    def rejected(self) -> int:
        """Number of batches the database refused."""
        return _count_lines(self.rejected_path)

    def pending(self) -> int:
        """Number of batches waiting."""
        return _count_lines(self._path)

    def has_pending(self) -> bool:
        """Whether any batch is waiting (one ``stat``, for the path every write takes)."""
        try:
            return self._path.stat().st_size > 0
        except FileNotFoundError:
            return False

    def drain(self, service: LeadService) -> int:
        """Replay pending batches in order; returns how many were written.

        Stops at the first batch the database refuses because it is unavailable
        (raising that error) and keeps that batch and the rest for the next try.
        Returns 0 at once if another thread or process is replaying.
        """
        return self.replay(service).written

    def replay(self, service: LeadService, *, deadline: float | None = None) -> Replay:
        """:meth:`drain`, stopping at ``deadline`` (``time.monotonic()``) if given.

        The deadline also bounds each write's wait for a locked store.
        """
        replay = Replay()
        with self._replaying() as replaying:
            if not replaying:
                return replay
            with self._locked():
                batches = _read_lines(self._path)
            done = 0
            try:
                for line in batches:
                    if deadline is not None and time.monotonic() >= deadline:
                        break
                    result = self._replay_one(service, line, deadline)
                    if result is not None:
                        replay.results[line] = result
                        replay.written += 1
                    done += 1
            finally:
                if done:
                    with self._locked():
                        # Only a replay removes lines and writers only append,
                        # so the first ``done`` lines are the ones just written.
                        self._rewrite(_read_lines(self._path)[done:])
        return replay

    def _replay_one(
        self, service: LeadService, line: str, deadline: float | None
    ) -> ApplyResult | None:
        """Write one spooled batch; ``None`` if it was set aside as rejected."""
        try:
            commands = _decode_batch(line)
        except (ValueError, KeyError, TypeError) as exc:
            # A line torn by a crash in mid-append: never acknowledged, kept for inspection.
            self._set_aside(line, type(exc).__name__)
            return None
        try:
            with wait_until(deadline) if deadline is not None else contextlib.nullcontext():
                return service.apply(commands)
        except UNAVAILABLE_ERRORS:
            raise
        except DBAPIError as exc:
            self._set_aside(line, type(exc).__name__)
            return None

    def _set_aside(self, line: str, reason: str) -> None:
        with self._locked():
            _append_line(self.rejected_path, line)
        logger.error(
            "the lead store refused a spooled batch (%s); kept in %s", reason, self.rejected_path
        )

    def _rewrite(self, remaining: list[str]) -> None:
        if not remaining:
            self._path.unlink(missing_ok=True)
            return
        temporary = self._path.with_suffix(".tmp")
        with open(temporary, "w", encoding="utf-8") as spool_file:
            spool_file.write("\n".join(remaining) + "\n")
            spool_file.flush()
            os.fsync(spool_file.fileno())
        os.replace(temporary, self._path)


def _encode_batch(commands: Sequence[Command]) -> str:
    return "[" + ",".join(encode(command) for command in commands) + "]"


def _append_line(path: Path, line: str) -> None:
    """Append ``line`` (without its end) and sync it to disk."""
    with open(path, "a+b") as spool_file:
        # A crash in mid-append leaves a line without its end; ending it here
        # keeps the next batch on a line of its own instead of glued to it.
        if spool_file.seek(0, os.SEEK_END):
            spool_file.seek(-1, os.SEEK_END)
            if spool_file.read(1) != b"\n":
                spool_file.write(b"\n")
        spool_file.write(line.encode("utf-8") + b"\n")
        spool_file.flush()
        os.fsync(spool_file.fileno())


def _read_lines(path: Path) -> list[str]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return []
    return [line for line in lines if line.strip()]


def _count_lines(path: Path) -> int:
    try:
        with open(path, encoding="utf-8") as spool_file:
            return sum(1 for line in spool_file if line.strip())
    except FileNotFoundError:
        return 0


def _decode_batch(line: str) -> list[Command]:
    return [from_payload(item) for item in json.loads(line)]


class LeadRecorder:
    """Writes commands through the lead service, spooling them when the store is unavailable.

    ``repository`` is the lead service the commands go to. Every :meth:`record`
    waits at most the engine's lock wait (:func:`bot.store.db.lock_wait`) for a
    locked store, replays included; for ``retry_after`` seconds after one found
    it unavailable, records spool without waiting.
    """

    def __init__(
        self,
        repository: LeadService,
        spool: Spool,
        *,
        retry_after: float = RETRY_AFTER_SECONDS,
    ) -> None:
        self.repository = repository
        self.spool = spool
        self.retry_after = retry_after
        # time.monotonic() before which the store is not tried again.
        self._retry_at = 0.0

    def record(self, commands: Sequence[Command]) -> ApplyResult | None:
        """Write ``commands``; ``None`` means they were spooled for later.

        While batches are spooled, new ones queue behind them so answers keep
        their order: a session's write that starts after its previous one
        returned never overtakes it.
        """
        if not commands:
            return ApplyResult()
        now = time.monotonic()
        if now < self._retry_at:
            self.spool.append(commands)
            return None
        deadline = now + lock_wait(self.repository.engine)
        if self.spool.has_pending():
            return self._behind_spooled(commands, deadline)
        try:
            with wait_until(deadline):
                return self.repository.apply(commands)
        except UNAVAILABLE_ERRORS as exc:
            self._unavailable(exc, len(commands))
            self.spool.append(commands)
            return None
        except DBAPIError as exc:
            # Retrying would fail the same way and block every later write.
            logger.error(
                "the lead store refused %d command(s) (%s); kept in %s",
                len(commands),
                type(exc).__name__,
                self.spool.rejected_path,
            )
            self.spool.reject(commands)
            return None

    def _behind_spooled(self, commands: Sequence[Command], deadline: float) -> ApplyResult | None:
        """Spool ``commands`` behind the waiting batches, then replay what the deadline allows."""
        line = self.spool.append(commands)
        try:
            replay = self.spool.replay(self.repository, deadline=deadline)
        except UNAVAILABLE_ERRORS as exc:
            self._unavailable(exc, len(commands))
            return None
        return replay.results.get(line)

    def _unavailable(self, exc: Exception, count: int) -> None:
        self._retry_at = time.monotonic() + self.retry_after
        # Exception class only: messages can carry SQL parameters, i.e. PII.
        logger.error(
            "lead store unavailable (%s); %d command(s) spooled, and the next ones for %.0f s",
            type(exc).__name__,
            count,
            self.retry_after,
        )

    def flush(self) -> int:
        """Replay spooled batches now; returns how many were written (0 if still down)."""
        try:
            return self.spool.drain(self.repository)
        except UNAVAILABLE_ERRORS as exc:
            logger.warning("lead store still unavailable (%s)", type(exc).__name__)
            return 0
