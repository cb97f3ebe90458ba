"""The flows file as it is now: picked up within seconds of saving, no restart.

Marketers edit ``data/flows/*.yml`` while the bot runs. Each turn asks
:meth:`LiveFlow.current`, which looks at the file at most every
``check_every`` seconds and reloads it when it changed. An edit that does not
validate never takes the bot down: the last good flow stays active and the
error is logged once (with file, line and the fix, as ``flows check`` prints it).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

from bot.flows.model import Flow, FlowError, load_flow

logger = logging.getLogger(__name__)

CHECK_EVERY_SECONDS = 1.0


class LiveFlow:
    """One flows file, reloaded when it changes; the last good version on a bad edit."""

    def __init__(
        self,
        path: Path,
        *,
        check_every: float = CHECK_EVERY_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.path = path
        self.check_every = check_every
        self._clock = clock
        self._lock = threading.Lock()
        # Raises FlowError: a bot must not start on a broken flow.
        self._flow = load_flow(path)
        self._signature = self._stat()
        self._checked_at = clock()
        self.error: str | None = None

    def _stat(self) -> tuple[int, int] | None:
        try:
            stat = os.stat(self.path)
        except OSError:
            return None
        return stat.st_mtime_ns, stat.st_size

    def current(self) -> Flow:
        """The flow to use for this turn."""
        now = self._clock()
        if now - self._checked_at < self.check_every:
            return self._flow
        with self._lock:
            if now - self._checked_at >= self.check_every:
                self._checked_at = now
                self._reload_if_changed()
            return self._flow

    def reload(self) -> Flow:
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
            flow = load_flow(self.path)
        except FlowError as exc:
            self.error = str(exc)
            logger.error("flows file not reloaded, the last good version stays active: %s", exc)
            return
        self._flow, self.error = flow, None
        logger.info("flows file reloaded: %s (%d questions)", self.path, len(flow.questions))
