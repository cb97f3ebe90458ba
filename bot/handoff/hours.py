"""Business hours: when a team works, SLA deadlines in working time, and what to tell the shopper.

Pure functions of the team's hours and ``now`` (timezone-aware); the team's
time zone decides what "today", "tomorrow" and "9:00" mean, daylight saving
included.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone

from bot.handoff.config import END_OF_DAY, Sla, Team

# A team is open at least one weekday, so an opening is found within a week of
# holidays; this bound only stops a loop over a year made entirely of holidays.
_MAX_DAYS_AHEAD = 400


class NeverOpen(ValueError):
    """The team has no opening in the next year (every open day is a holiday)."""


def _open_span(team: Team, day: date) -> tuple[datetime, datetime] | None:
    """Opening and closing (UTC) of ``day`` in the team's zone, or ``None`` if closed."""
    if day in team.holidays:
        return None
    hours = team.hours.get(day.weekday())
    if hours is None:
        return None
    opens = datetime.combine(day, hours.opens, tzinfo=team.timezone)
    if hours.closes == END_OF_DAY:
        closes = datetime.combine(day + timedelta(days=1), time(0), tzinfo=team.timezone)
    else:
        closes = datetime.combine(day, hours.closes, tzinfo=team.timezone)
    return opens.astimezone(timezone.utc), closes.astimezone(timezone.utc)


def _spans_from(team: Team, at: datetime):  # type: ignore[no-untyped-def]
    """Opening spans that end after ``at``, in order."""
    day = at.astimezone(team.timezone).date()
    for offset in range(_MAX_DAYS_AHEAD):
        span = _open_span(team, day + timedelta(days=offset))
        if span is not None and span[1] > at:
            yield span
    raise NeverOpen(f"team {team.name!r} is never open in the next {_MAX_DAYS_AHEAD} days")


def is_open(team: Team, at: datetime) -> bool:
    """Whether the team is working at ``at``."""
    span = _open_span(team, at.astimezone(team.timezone).date())
    return span is not None and span[0] <= at < span[1]


def next_opening(team: Team, at: datetime) -> datetime:
    """``at`` if the team is working then, else when it next opens (UTC)."""
    opens, _ = next(_spans_from(team, at))
    return max(opens, at)


def add_business_minutes(team: Team, start: datetime, minutes: float) -> datetime:
    """``start`` plus ``minutes`` of the team's working time (UTC)."""
    left = timedelta(minutes=minutes)
    for opens, closes in _spans_from(team, start):
        begin = max(opens, start)
        if begin + left <= closes:
            return begin + left
        left -= closes - begin
    raise AssertionError("unreachable: _spans_from raises when it runs out")


def end_of_business_day(team: Team, at: datetime) -> datetime:
    """Closing time of the working day ``at`` falls in, or of the next one if closed (UTC)."""
    _, closes = next(_spans_from(team, at))
    return closes


def sla_due(team: Team, sla: Sla, now: datetime) -> datetime:
    """When a rep must have answered a handoff made at ``now``."""
    if sla.respond_within_minutes is not None:
        return add_business_minutes(team, now, sla.respond_within_minutes)
    return end_of_business_day(team, now)


@dataclass(frozen=True)
class Promise:
    """When the shopper will hear back, and the sentence that says it."""

    contact_by: datetime
    due_at: datetime
    text: str


def _day_phrase(team: Team, now: datetime, when: datetime) -> str:
    today = now.astimezone(team.timezone).date()
    day = when.astimezone(team.timezone).date()
    if day == today:
        return "today"
    if day == today + timedelta(days=1):
        return "tomorrow"
    if day - today < timedelta(days=7):
        return f"on {day.strftime('%A')}"
    return f"on {day.strftime('%A')} {day.day} {day.strftime('%B')}"


def _clock(team: Team, when: datetime) -> str:
    local = when.astimezone(team.timezone)
    return f"{local.hour}:{local.minute:02d}"


def _zone_label(team: Team) -> str:
    key = getattr(team.timezone, "key", str(team.timezone))
    return key.rsplit("/", 1)[-1].replace("_", " ") + " time"


def promise(team: Team, sla: Sla, now: datetime, reach: str) -> Promise:
    """What happens next, truthfully from the SLA and the team's hours.

    ``reach`` is how the specialist will get in touch ("email you", "call you",
    "get back to you").
    """
    due = sla_due(team, sla, now)
    if is_open(team, now):
        start = now
        local_now, local_due = now.astimezone(team.timezone), due.astimezone(team.timezone)
        minutes = sla.respond_within_minutes
        same_day = local_due.date() == local_now.date()
        # Open without a break until the due time (the business minutes are wall-clock
        # minutes): "within 15 minutes" stays true across midnight too. A day open until
        # "24:00" closes at 23:59:59.999999, hence the second of slack.
        unbroken = (
            minutes is not None
            and minutes <= 60
            and due - now <= timedelta(minutes=minutes, seconds=1)
        )
        if minutes is not None and (same_day or unbroken):
            span = (
                "within the hour"
                if minutes == 60
                else (f"within {minutes} minutes" if minutes < 60 else f"by {_clock(team, due)}")
            )
            text = f"A specialist will {reach} {span}."
        elif same_day:
            text = f"A specialist will {reach} today, before {_clock(team, due)}."
        else:
            # "by tomorrow", "by Monday" (not "by on Monday").
            day = _day_phrase(team, now, due).removeprefix("on ")
            text = (
                f"A specialist will {reach} by {day} at {_clock(team, due)} ({_zone_label(team)})."
            )
    else:
        start = next_opening(team, now)
        text = (
            f"Our team is away right now. A specialist will {reach} first thing "
            f"{_day_phrase(team, now, start)} at {_clock(team, start)} ({_zone_label(team)})."
        )
    return Promise(contact_by=start, due_at=due, text=text)
