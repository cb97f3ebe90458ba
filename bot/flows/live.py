"""The flows files as they are now: picked up within seconds of saving, no restart.

Marketers edit ``data/flows/*.yml`` while the bot runs. Each turn asks
:meth:`LiveFlows.current`, which looks at the folder at most every
``check_every`` seconds and reloads it when a file was added, removed or
changed. An edit that does not validate never takes the bot down: the last good
flows stay active and the error is logged once (with file, line and the fix, as
``flows check`` prints it).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

from bot.flows.loader import FlowContext, load_flows
from bot.flows.model import FlowError, FlowSet

logger = logging.getLogger(__name__)

CHECK_EVERY_SECONDS = 1.0


class LiveFlows:
    """The flows folder, reloaded when it changes; the last good version on a bad edit."""

    def __init__(
        self,
        directory: Path,
        context: FlowContext | None = None,
        *,
        check_every: float = CHECK_EVERY_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.directory = directory
        self.context = context
        self.check_every = check_every
        self._clock = clock
        self._lock = threading.Lock()
        # Raises FlowError: a bot must not start on broken flows.
        self._flow = load_flows(directory, context)
        self._signature = self._stat()
        self._checked_at = clock()
        self.error: str | None = None

    def _stat(self) -> tuple[tuple[str, int, int], ...] | None:
        try:
            with os.scandir(self.directory) as entries:
                stats = [
                    (entry.name, entry.stat())
                    for entry in entries
                    if entry.name.endswith(".yml") and not entry.name.startswith(".")
                ]
            return tuple(sorted((name, st.st_mtime_ns, st.st_size) for name, st in stats))
        except OSError:
            return None

    def current(self) -> FlowSet:
        """The flows to use for this turn."""
        now = self._clock()
        if now - self._checked_at < self.check_every:
            return self._flow
        with self._lock:
            if now - self._checked_at >= self.check_every:
                self._checked_at = now
                self._reload_if_changed()
            return self._flow

    def reload(self) -> FlowSet:
        """Reload now, whatever the time since the last check."""
        with self._lock:
            self._checked_at = self._clock()
            self._signature = None
            self._reload_if_changed()
            return self._flow

    def _reload_if_changed(self) -> None:
        signature = self._stat()
        if signature == self._signature:
            return
        self._signature = signature
        try:
            flows = load_flows(self.directory, self.context)
        except (FlowError, OSError) as exc:
            self.error = str(exc)
            logger.error("flows not reloaded, the last good version stays active: %s", exc)
            return
        self._flow, self.error = flows, None
        logger.info(
            "flows reloaded from %s: %s",
            self.directory,
            ", ".join(f"{flow.name} ({len(flow.questions)} questions)" for flow in flows.flows),
        )
