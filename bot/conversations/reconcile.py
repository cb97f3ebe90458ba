"""Square the consumer's events with Rasa's tracker store over a time range.

Rasa publishes a turn's events before the tracker store commits them
(``SQLTrackerStore.save`` calls ``stream_events`` first), and its broker keeps
events it could not publish only in the Rasa process's memory. So after a crash
the two disagree both ways:

- events in the tracker store the consumer never stored (the Rasa process died
  holding them, or the queue was lost) are written from the tracker store's
  rows, with ``source = 'tracker'``;
- events the consumer stored that the tracker store does not have (published,
  then the turn failed before its commit) get ``orphaned_at`` and leave the
  rollups.

The gap is filled from the tracker store's ``events`` rows directly rather than
by ``rasa export``: a row's ``data`` is ``json.dumps(event.as_dict())`` of the very
event object the broker published, so its key is the published one; the fill is
synchronous (the counts printed are what was written), needs neither the broker
nor Rasa in this process, and does not push a replay of the whole range through
the live queue. A ``rasa export`` replay of the same range is harmless too: its
events carry the same keys and are stored as duplicates (nothing).

Events newer than ``settle_seconds`` are never marked orphans: their turn may not
have committed yet.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy.engine import URL

from bot.conversations.keys import ConversationEvent, NotAnEvent, from_dict
from bot.conversations.repository import ConversationEvents
from bot.store.tracker import ConversationStore

# How long after an event its turn may still be committing to the tracker store.
DEFAULT_SETTLE_SECONDS = 60.0
# Events are compared one window at a time, so memory stays bounded on long ranges.
WINDOW_SECONDS = 3600.0
WRITE_CHUNK = 500


class EndpointsError(ValueError):
    """The endpoints file gives no tracker store to read; the text says why."""


@dataclass
class ReconcileResult:
    """What reconcile found and did."""

    tracker_events: int = 0
    stored_events: int = 0
    filled: int = 0
    orphaned: int = 0
    restored: int = 0
    unreadable: int = 0


def reconcile(
    tracker: ConversationStore,
    store: ConversationEvents,
    since: float,
    until: float,
    *,
    now: datetime,
    settle_seconds: float = DEFAULT_SETTLE_SECONDS,
    window_seconds: float = WINDOW_SECONDS,
) -> ReconcileResult:
    """Fill the consumer's gaps and mark its orphans for ``since <= timestamp < until``."""
    result = ReconcileResult()
    settled = now.timestamp() - settle_seconds
    # Windows start at the first event either side holds, not at ``since`` (often 0).
    firsts = [
        first
        for first in (tracker.first_timestamp(since, until), store.first_timestamp(since, until))
        if first is not None
    ]
    start = min(firsts, default=until)
    while start < until:
        end = min(until, start + window_seconds)
        _reconcile_window(tracker, store, start, end, settled, now, result)
        start = end
    return result


def _reconcile_window(
    tracker: ConversationStore,
    store: ConversationEvents,
    since: float,
    until: float,
    settled: float,
    now: datetime,
    result: ReconcileResult,
) -> None:
    kept: dict[str, ConversationEvent] = {}
    for row in tracker.events_between(since, until):
        try:
            data = json.loads(row.data)
            if not isinstance(data, dict):
                raise NotAnEvent("not a JSON object")
            event = from_dict(data, sender_id=row.sender_id)
        except (ValueError, NotAnEvent):
            result.unreadable += 1
            continue
        kept.setdefault(event.dedup_key, event)
    result.tracker_events += len(kept)
    stored = store.keys_between(since, until)
    result.stored_events += len(stored)
    missing = [event for key, event in kept.items() if key not in stored]
    for start in range(0, len(missing), WRITE_CHUNK):
        written = store.write(missing[start : start + WRITE_CHUNK], now=now, source="tracker")
        result.filled += written.stored
    orphans = [
        key
        for key, (orphaned, timestamp) in stored.items()
        if not orphaned and key not in kept and timestamp < settled
    ]
    result.orphaned += store.mark_orphans(orphans, now=now)
    # An event marked before its late commit showed up in the tracker store counts again.
    back = [key for key, (orphaned, _) in stored.items() if orphaned and key in kept]
    result.restored += store.mark_orphans(back, now=now, orphaned=False)


_VARIABLE = re.compile(r"\$\{([^}]*)\}")


def _expand(value: Any, environ: Mapping[str, str], path: Path) -> Any:
    """``${NAME}`` in strings replaced from ``environ``, as Rasa expands its endpoints."""
    if isinstance(value, dict):
        return {key: _expand(item, environ, path) for key, item in value.items()}
    if isinstance(value, list):
        return [_expand(item, environ, path) for item in value]
    if not isinstance(value, str):
        return value

    def variable(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in environ:
            raise EndpointsError(f"{path}: environment variable {name} is not set")
        return environ[name]

    return _VARIABLE.sub(variable, value)


def tracker_url_from_endpoints(path: Path, environ: Mapping[str, str] | None = None) -> str:
    """The SQLAlchemy URL of the SQL tracker store ``path`` configures.

    As ``SQLTrackerStore.get_db_url`` reads it: ``url`` holding ``://`` is the whole
    URL; otherwise ``dialect``, ``url`` (host), ``port``, ``db``, ``username`` and
    ``password`` make it.
    """
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise EndpointsError(f"{path}: cannot read the endpoints file ({exc.strerror})") from exc
    except yaml.YAMLError as exc:
        raise EndpointsError(f"{path}: not valid YAML ({exc})") from exc
    section = document.get("tracker_store") if isinstance(document, dict) else None
    if not isinstance(section, dict):
        raise EndpointsError(f"{path}: no tracker_store section")
    kind = str(section.get("type", "")).lower()
    if kind != "sql":
        raise EndpointsError(
            f"{path}: tracker_store.type must be SQL to be read, got {section.get('type')!r}"
        )
    config = _expand(section, os.environ if environ is None else environ, path)
    host = str(config.get("url") or "")
    if "://" in host:
        return host
    dialect = str(config.get("dialect") or "sqlite")
    port = config.get("port")
    try:
        port_number = int(port) if port not in (None, "") else None
    except ValueError:
        raise EndpointsError(f"{path}: tracker_store.port must be a number, got {port!r}") from None
    url = URL.create(
        dialect,
        username=config.get("username") or None,
        password=config.get("password") or None,
        host=host or None,
        port=port_number,
        database=str(config.get("db") or "rasa.db"),
    )
    return url.render_as_string(hide_password=False)
