"""Which time zone the sales pages show a lead's times in: its handling team's.

The lead page, the inbox and the dashboard read times through :func:`team_clock`, so a
lead's times read the same on both (the team's zone, UTC on hover, drawn by
``templates/leads/lead/time.html``).
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path

from bot.handoff.config import HandoffConfig, load_handoff_config
from bot.web.pages.words import DEFAULT_ZONE, TeamClock


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
