"""Engine creation: one engine per process, created by the caller (never at import time)."""

from __future__ import annotations

import contextlib
import threading
import weakref
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine, create_engine, make_url
from sqlalchemy.pool import QueuePool

from bot.store.types import dumps


def create_db_engine(database_url: str, **kwargs: Any) -> Engine:
    """Create an engine for ``database_url``.

    SQLite gets WAL (readers never block the writer), enforced foreign keys and a
    busy timeout so the action server and the web app can share one file.
    """
    url = make_url(database_url)
    options: dict[str, Any] = {"future": True, "json_serializer": dumps, **kwargs}
    if url.get_backend_name() == "sqlite":
        if url.database and url.database != ":memory:":
            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        options.setdefault("connect_args", {"timeout": 30, "check_same_thread": False})
        # Keep connections open (SQLAlchemy 1.4 defaults to NullPool for SQLite
        # files): reconnecting and re-running the PRAGMAs costs more than a write.
        options.setdefault("poolclass", QueuePool)
        engine = create_engine(url, **options)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    options.setdefault("pool_pre_ping", True)
    return create_engine(url, **options)


_WRITE_LOCKS: weakref.WeakKeyDictionary[Engine, threading.Lock] = weakref.WeakKeyDictionary()
_LOCKS_GUARD = threading.Lock()
_WRITING = threading.local()


@contextlib.contextmanager
def write_transaction(engine: Engine) -> Iterator[Any]:
    """``engine.begin()`` for a transaction that writes.

    SQLite has one writer at a time, and a thread waiting for it retries on a
    backing-off sleep that favours whoever writes most often: under a stream of
    storefront writes the outbox worker could wait seconds. Threads of one
    process therefore queue on a lock first; PostgreSQL locks rows and needs none.
    A second write transaction on the same engine from inside the first would
    wait for itself, so it is refused.
    """
    if engine.dialect.name != "sqlite":
        with engine.begin() as connection:
            yield connection
        return
    writing: set[int] = _WRITING.__dict__.setdefault("engines", set())
    if id(engine) in writing:
        raise RuntimeError("a write transaction is already open on this engine in this thread")
    with _LOCKS_GUARD:
        lock = _WRITE_LOCKS.setdefault(engine, threading.Lock())
    with lock:
        writing.add(id(engine))
        try:
            with engine.begin() as connection:
                yield connection
        finally:
            writing.discard(id(engine))


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    # A 64 MB page cache: scans (rescore, evaluate) and batch writes touch far
    # more pages than SQLite's 2 MB default holds.
    cursor.execute("PRAGMA cache_size=-65536")
    cursor.close()
