"""A sales team that is always open, for tests whose handoffs must not depend on the clock."""

from __future__ import annotations

HOURS = (
    '{mon: "00:00-24:00", tue: "00:00-24:00", wed: "00:00-24:00", thu: "00:00-24:00",\n'
    '            fri: "00:00-24:00", sat: "00:00-24:00", sun: "00:00-24:00"}'
)


def always_open_team(capacity: int = 100) -> str:
    """The ``teams:`` block of a handoff file: team ``sales``, rep Camille, always open."""
    return f"""teams:
  sales:
    timezone: UTC
    hours: {HOURS}
    reps:
      - {{name: Camille, capacity: {capacity}}}
"""
