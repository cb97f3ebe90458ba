"""Engine creation: one engine per process, created by the caller (never at import time)."""

from __future__ import annotations

import contextlib
import threading
import time
import weakref
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine, create_engine, make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.pool import QueuePool

from bot.store.types import dumps

# How long a write waits for a locked store unless its process asks for less.
DEFAULT_LOCK_WAIT_SECONDS = 30.0


class StoreBusyError(OperationalError):
    """The store stayed locked by other writers for the whole lock wait.

    An :class:`~sqlalchemy.exc.OperationalError`, like SQLite's own "database is
    locked": whatever handles an unavailable store (the spool, a 503) handles it.
    """

    def __init__(self, waited: float) -> None:
        super().__init__(
            None, None, TimeoutError(f"the lead store's write lock stayed busy for {waited:.1f} s")
        )


def create_db_engine(
    database_url: str, *, lock_wait: float = DEFAULT_LOCK_WAIT_SECONDS, **kwargs: Any
) -> Engine:
    """Create an engine for ``database_url``.

    SQLite gets WAL (readers never block the writer), enforced foreign keys and a
    busy timeout so the action server and the web app can share one file.

    ``lock_wait`` (seconds) bounds how long one statement, and one
    :func:`write_transaction` in all, waits for a store other writers hold
    locked, and how long a checkout waits for a pooled connection; then the
    call fails with an :class:`~sqlalchemy.exc.OperationalError` (or SQLAlchemy's
    pool ``TimeoutError``). The action server keeps it short so a locked store
    spools a chat turn's writes instead of holding the shopper.
    """
    if lock_wait <= 0:
        raise ValueError(f"lock_wait must be positive, got {lock_wait!r}")
    url = make_url(database_url)
    options: dict[str, Any] = {
        "future": True,
        "json_serializer": dumps,
        "pool_timeout": lock_wait,
        **kwargs,
    }
    wait_ms = _milliseconds(lock_wait)
    if url.get_backend_name() == "sqlite":
        if url.database and url.database != ":memory:":
            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        options.setdefault("connect_args", {"timeout": lock_wait, "check_same_thread": False})
        # Keep connections open (SQLAlchemy 1.4 defaults to NullPool for SQLite
        # files): reconnecting and re-running the PRAGMAs costs more than a write.
        options.setdefault("poolclass", QueuePool)
        engine = create_engine(url, **options)

        def on_connect(dbapi_connection: Any, _record: Any) -> None:
            _sqlite_pragmas(dbapi_connection, wait_ms)

        def on_checkout(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
            # A write transaction shortens the busy timeout to what is left of
            # its wait; whoever uses the connection next gets the full one back.
            _set_busy_timeout(dbapi_connection, wait_ms)

        event.listen(engine, "connect", on_connect)
        event.listen(engine, "checkout", on_checkout)
    else:
        options.setdefault("pool_pre_ping", True)
        engine = create_engine(url, **options)
    _LOCK_WAITS[engine] = lock_wait
    return engine


_LOCK_WAITS: weakref.WeakKeyDictionary[Engine, float] = weakref.WeakKeyDictionary()
_WRITE_LOCKS: weakref.WeakKeyDictionary[Engine, threading.Lock] = weakref.WeakKeyDictionary()
_LOCKS_GUARD = threading.Lock()
_WRITING = threading.local()
_DEADLINE = threading.local()


def lock_wait(engine: Engine) -> float:
    """The longest wait (seconds) of ``engine``'s writes for a locked store."""
    return _LOCK_WAITS.get(engine, DEFAULT_LOCK_WAIT_SECONDS)


@contextlib.contextmanager
def wait_until(deadline: float) -> Iterator[None]:
    """Make write transactions of this thread stop waiting at ``deadline`` (``time.monotonic()``).

    For a caller running several transactions under one time budget, such as
    a chat turn replaying spooled writes before its own.
    """
    outer: float | None = getattr(_DEADLINE, "at", None)
    _DEADLINE.at = deadline if outer is None else min(outer, deadline)
    try:
        yield
    finally:
        _DEADLINE.at = outer


def _wait_left(engine: Engine, started: float) -> float:
    """Seconds a write transaction started at ``started`` may still wait for locks."""
    deadline = started + lock_wait(engine)
    shared: float | None = getattr(_DEADLINE, "at", None)
    if shared is not None:
        deadline = min(deadline, shared)
    return deadline - time.monotonic()


@contextlib.contextmanager
def write_transaction(engine: Engine) -> Iterator[Any]:
    """``engine.begin()`` for a transaction that writes, waiting at most the engine's lock wait.

    SQLite has one writer at a time, and a thread waiting for it retries on a
    backing-off sleep that favours whoever writes most often: under a stream of
    storefront writes the outbox worker could wait seconds. Threads of one
    process therefore queue on a lock first; PostgreSQL locks rows and needs none.
    The lock wait covers both queues: the in-process lock, then SQLite's busy
    timeout (or PostgreSQL's ``lock_timeout``) set to what is left of it.
    A second write transaction on the same engine from inside the first would
    wait for itself, so it is refused.
    """
    started = time.monotonic()
    if engine.dialect.name != "sqlite":
        with engine.begin() as connection:
            # SET LOCAL ends with the transaction, so pooled connections keep
            # the server's default for everything else.
            connection.exec_driver_sql(
                f"SET LOCAL lock_timeout = {_milliseconds(_wait_left(engine, started))}"
            )
            yield connection
        return
    writing: set[int] = _WRITING.__dict__.setdefault("engines", set())
    if id(engine) in writing:
        raise RuntimeError("a write transaction is already open on this engine in this thread")
    with _LOCKS_GUARD:
        lock = _WRITE_LOCKS.setdefault(engine, threading.Lock())
    if not lock.acquire(timeout=max(0.0, _wait_left(engine, started))):
        raise StoreBusyError(time.monotonic() - started)
    writing.add(id(engine))
    try:
        with engine.begin() as connection:
            # pysqlite (Python 3.10's sqlite3) opens SQLite's transaction at the
            # first write statement, so the busy timeout set here governs the
            # wait for the write lock.
            _set_busy_timeout(
                connection.connection.dbapi_connection,
                _milliseconds(_wait_left(engine, started)),
            )
            yield connection
    finally:
        writing.discard(id(engine))
        lock.release()


def _milliseconds(seconds: float) -> int:
    # At least 1 ms: SQLite reads 0 as "never wait" and PostgreSQL as "wait forever".
    return max(1, round(seconds * 1000))


def _set_busy_timeout(dbapi_connection: Any, milliseconds: int) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA busy_timeout={int(milliseconds)}")
    cursor.close()


def _sqlite_pragmas(dbapi_connection: Any, busy_timeout_ms: int) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
    # A 64 MB page cache: scans (rescore, evaluate) and batch writes touch far
    # more pages than SQLite's 2 MB default holds.
    cursor.execute("PRAGMA cache_size=-65536")
    cursor.close()
