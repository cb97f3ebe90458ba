"""Durable local spool for writes the database could not take.

When the lead database is unreachable, commands are appended to a JSON-lines
file (fsync'd before the shopper gets a reply) and replayed, in order, as soon as
the database answers again. Commands are idempotent, so a replay interrupted
half-way is simply replayed again. A file lock serialises the action server and
the web app, which both drain the same spool.

A batch the database *refuses* (a constraint or data error, not an outage) would
block the spool forever if it were retried; it goes to ``rejected.jsonl`` next to
the spool instead (kept for inspection, never silently dropped) and the rest
carries on.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from bot.store.commands import Command, encode, from_payload
from bot.store.repository import ApplyResult, LeadRepository

logger = logging.getLogger(__name__)

# The database is down or unreachable: worth retrying later.
UNAVAILABLE_ERRORS = (OperationalError, InterfaceError)


class Spool:
    """An append-only file of pending commands, one JSON batch per line."""

    def __init__(self, directory: Path) -> None:
        self._path = directory / "pending.jsonl"
        self.rejected_path = directory / "rejected.jsonl"
        self._lock_path = directory / "pending.lock"
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

    def append(self, commands: Sequence[Command]) -> None:
        """Persist one batch; returns only once it is on disk."""
        with self._locked():
            _append_line(self._path, _encode_batch(commands))

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

    def drain(self, repository: LeadRepository) -> int:
        """Replay pending batches in order; returns how many were written.

        Stops at the first batch the database refuses because it is unavailable
        and keeps that batch and the rest for the next try.
        """
        with self._locked():
            try:
                lines = self._path.read_text(encoding="utf-8").splitlines()
            except FileNotFoundError:
                return 0
            batches = [line for line in lines if line.strip()]
            done = written = 0
            try:
                for line in batches:
                    try:
                        repository.apply(_decode_batch(line))
                        written += 1
                    except UNAVAILABLE_ERRORS:
                        raise
                    except DBAPIError as exc:
                        _append_line(self.rejected_path, line + "\n")
                        logger.error(
                            "the lead store refused a spooled batch (%s); kept in %s",
                            type(exc).__name__,
                            self.rejected_path,
                        )
                    done += 1
            finally:
                self._rewrite(batches[done:])
            return written

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
    return "[" + ",".join(encode(command) for command in commands) + "]\n"


def _append_line(path: Path, line: str) -> None:
    with open(path, "a", encoding="utf-8") as spool_file:
        spool_file.write(line)
        spool_file.flush()
        os.fsync(spool_file.fileno())


def _count_lines(path: Path) -> int:
    try:
        with open(path, encoding="utf-8") as spool_file:
            return sum(1 for line in spool_file if line.strip())
    except FileNotFoundError:
        return 0


def _decode_batch(line: str) -> list[Command]:
    return [from_payload(item) for item in json.loads(line)]


class LeadRecorder:
    """Writes commands to the store, spooling them when the store is unavailable."""

    def __init__(self, repository: LeadRepository, spool: Spool) -> None:
        self.repository = repository
        self.spool = spool

    def record(self, commands: Sequence[Command]) -> ApplyResult | None:
        """Write ``commands``; ``None`` means they were spooled for later.

        Pending spooled batches are written first so answers keep their order.
        """
        if not commands:
            return ApplyResult()
        try:
            if self.spool.pending():
                self.spool.drain(self.repository)
            return self.repository.apply(commands)
        except UNAVAILABLE_ERRORS as exc:
            # Exception class only: messages can carry SQL parameters, i.e. PII.
            logger.error(
                "lead store unavailable (%s); %d command(s) spooled",
                type(exc).__name__,
                len(commands),
            )
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

    def flush(self) -> int:
        """Replay spooled batches now; returns how many were written (0 if still down)."""
        try:
            return self.spool.drain(self.repository)
        except UNAVAILABLE_ERRORS as exc:
            logger.warning("lead store still unavailable (%s)", type(exc).__name__)
            return 0
