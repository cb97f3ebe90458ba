"""Which time zone the sales pages show a lead's times in: its handling team's.

The lead page and the inbox read a lead's times through :func:`team_clock`, so
they read the same on both (the team's zone, UTC on hover, drawn by
``templates/leads/lead/time.html``); the dashboard counts days in that zone.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo

from bot.handoff.config import HandoffConfig, load_handoff_config

DEFAULT_ZONE = ZoneInfo("Europe/Paris")


@dataclass(frozen=True)
class TeamClock:
    """Times in the sales team's time zone."""

    zone: ZoneInfo = DEFAULT_ZONE

    def moment(self, value: str | None) -> datetime | None:
        """The stored ISO time in the team's zone (``None`` when absent or unreadable)."""
        if not value:
            return None
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            return None
        return parsed.astimezone(self.zone)

    def local(self, value: str | None) -> str:
        """A stored ISO time as "Mon 7 Dec 2026, 11:14 CET"; the stored text when unreadable."""
        moment = self.moment(value)
        if moment is None:
            return value or "—"
        return f"{moment:%a} {moment.day} {moment:%b %Y, %H:%M} {moment.tzname()}"


@lru_cache(maxsize=4)
def handoff_config(path: Path) -> HandoffConfig:
    """The handoff file, read once per process (it names each team's time zone)."""
    return load_handoff_config(path)


def team_clock(handoffs: HandoffConfig, teams: Iterable[object]) -> TeamClock:
    """The zone of the first of ``teams`` the file knows, else of its first team, else Paris.

    ``teams`` are the team names of a lead's handoffs (any may be missing).
    """
    for name in [*teams, *handoffs.teams]:
        team = handoffs.teams.get(name) if isinstance(name, str) else None
        if team is not None:
            return TeamClock(team.timezone)
    return TeamClock(DEFAULT_ZONE)
