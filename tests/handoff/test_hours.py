"""Business hours: opening, SLA deadlines in working time (DST included) and the shopper's promise.

The team is the ``sales`` team of tests/handoff/handoff.yml (Europe/Paris; Mon-Thu
9-18, Fri 9-17, Sat 10-13, Sunday closed, French holidays). Paris is UTC+1 in winter (CET)
and UTC+2 in summer (CEST, 2026-03-29 to 2026-10-25). Expected times are UTC.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, time, timezone
from zoneinfo import ZoneInfo

import pytest

from bot.handoff.config import (
    END_OF_DAY,
    OpeningHours,
    Rep,
    Sla,
    Team,
    load_handoff_config,
)
from bot.handoff.hours import (
    add_business_minutes,
    end_of_business_day,
    is_open,
    next_opening,
    promise,
    sla_due,
)
from tests.handoff import HANDOFF_CONFIG

CONFIG = load_handoff_config(HANDOFF_CONFIG, environ={})
SALES = CONFIG.teams["sales"]
IMMEDIATE = CONFIG.slas["immediate"]  # 15 business minutes
WITHIN_1H = CONFIG.slas["within_1h"]  # 60 business minutes
SAME_DAY = CONFIG.slas["same_business_day"]  # by closing time
WITHIN_90 = Sla("within_90", respond_within_minutes=90, by_end_of_business_day=False, rank=9)

PARIS = ZoneInfo("Europe/Paris")
NEW_YORK = ZoneInfo("America/New_York")

# Mon-Fri 9-17 in New York; Thanksgiving (Thu 2026-11-26) off. No Saturday.
US = Team(
    name="us",
    timezone=NEW_YORK,
    hours={day: OpeningHours(time(9), time(17)) for day in range(5)},
    holidays=frozenset({date(2026, 11, 26)}),
    reps=(Rep("Ann", None, 5),),
    channels=(),
    escalate_to=(),
)
# A Sunday night shift 01:00-04:00 Paris time: crosses both DST changes of 2026.
NIGHT = Team(
    name="night",
    timezone=PARIS,
    hours={6: OpeningHours(time(1), time(4))},
    holidays=frozenset(),
    reps=(Rep("Ann", None, 5),),
    channels=(),
    escalate_to=(),
)
# Open on Mondays only, with Monday 2026-11-30 off: the next opening is two weeks away.
MONDAYS = replace(US, name="mondays", timezone=PARIS, hours={0: OpeningHours(time(9), time(18))})
MONDAYS = replace(MONDAYS, holidays=frozenset({date(2026, 11, 30)}))


def utc(year: int, month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=timezone.utc)


def paris(year: int, month: int, day: int, hour: int, minute: int = 0) -> datetime:
    """A Paris wall-clock time, as UTC."""
    local = datetime(year, month, day, hour, minute, tzinfo=PARIS)
    return local.astimezone(timezone.utc)


def new_york(year: int, month: int, day: int, hour: int, minute: int = 0) -> datetime:
    local = datetime(year, month, day, hour, minute, tzinfo=NEW_YORK)
    return local.astimezone(timezone.utc)


# --- is_open ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("at", "expected"),
    [
        # Monday 2026-11-23 11:00 Paris (10:00 UTC): open.
        (utc(2026, 11, 23, 10), True),
        # Monday 09:00 Paris sharp (08:00 UTC): opening time is inside.
        (utc(2026, 11, 23, 8), True),
        # Monday 08:59 Paris: not yet.
        (utc(2026, 11, 23, 7, 59), False),
        # Monday 12:30 Paris: no lunch break, open straight through.
        (paris(2026, 11, 23, 12, 30), True),
        # Monday 17:59 Paris: still open.
        (paris(2026, 11, 23, 17, 59), True),
        # Monday 18:00 Paris sharp (17:00 UTC): closing time is outside.
        (utc(2026, 11, 23, 17), False),
        # Friday 16:59 Paris: open (Friday closes at 17:00).
        (paris(2026, 11, 27, 16, 59), True),
        # Friday 17:30 Paris: closed, though Monday-Thursday would be open.
        (paris(2026, 11, 27, 17, 30), False),
        # Saturday 10:30 Paris: the short Saturday shift.
        (paris(2026, 11, 28, 10, 30), True),
        # Saturday 13:30 Paris: after the Saturday shift.
        (paris(2026, 11, 28, 13, 30), False),
        # Sunday 11:00 Paris: closed all day.
        (paris(2026, 11, 29, 11), False),
        # Christmas (Friday 2026-12-25) 11:00 Paris: holiday.
        (paris(2026, 12, 25, 11), False),
        # Summer: 07:30 UTC is 09:30 CEST on Monday 2026-06-15: open...
        (utc(2026, 6, 15, 7, 30), True),
        # ...but the same 07:30 UTC in winter is 08:30 CET: closed.
        (utc(2026, 11, 23, 7, 30), False),
        # Monday 2026-03-30 08:30 CEST, first working day of summer time: not yet open...
        (utc(2026, 3, 30, 6, 30), False),
        # ...and 09:30 CEST (07:30 UTC): open.
        (utc(2026, 3, 30, 7, 30), True),
    ],
)
def test_is_open(at: datetime, expected: bool) -> None:
    assert is_open(SALES, at) is expected


def test_is_open_in_another_zone() -> None:
    # 15:00 UTC on Monday 2026-11-23: 10:00 in New York (open) and 16:00 in Paris (open).
    assert is_open(US, utc(2026, 11, 23, 15))
    assert is_open(SALES, utc(2026, 11, 23, 15))
    # 13:30 UTC: 08:30 in New York (closed), 14:30 in Paris (open).
    assert not is_open(US, utc(2026, 11, 23, 13, 30))
    assert is_open(SALES, utc(2026, 11, 23, 13, 30))
    # 21:30 UTC: 16:30 in New York (open), 22:30 in Paris (closed).
    assert is_open(US, utc(2026, 11, 23, 21, 30))
    assert not is_open(SALES, utc(2026, 11, 23, 21, 30))
    # Thanksgiving, Thursday 2026-11-26 11:00 New York: holiday.
    assert not is_open(US, new_york(2026, 11, 26, 11))


# --- next_opening -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("team", "at", "expected"),
    [
        # Open now: the answer is now.
        (SALES, utc(2026, 11, 23, 10), utc(2026, 11, 23, 10)),
        # Monday 07:00 Paris, before opening: 09:00 Paris the same day (08:00 UTC).
        (SALES, paris(2026, 11, 23, 7), utc(2026, 11, 23, 8)),
        # Monday 18:30 Paris: Tuesday 09:00 Paris.
        (SALES, paris(2026, 11, 23, 18, 30), utc(2026, 11, 24, 8)),
        # Friday evening 17:30 Paris: the Saturday shift, 10:00 Paris (09:00 UTC).
        (SALES, paris(2026, 11, 27, 17, 30), utc(2026, 11, 28, 9)),
        # Saturday 13:30 Paris: Sunday is closed, so Monday 09:00 Paris.
        (SALES, paris(2026, 11, 28, 13, 30), utc(2026, 11, 30, 8)),
        # Christmas Eve (Thursday) 18:30: Christmas Friday is skipped, Saturday 10:00 Paris.
        (SALES, paris(2026, 12, 24, 18, 30), utc(2026, 12, 26, 9)),
        # New Year's Eve (Thursday) 18:30: New Year's Day skipped, Saturday 2027-01-02 10:00.
        (SALES, paris(2026, 12, 31, 18, 30), utc(2027, 1, 2, 9)),
        # New York, Friday evening 18:00 EST: no Saturday, so Monday 09:00 EST (14:00 UTC).
        (US, new_york(2026, 11, 27, 18), utc(2026, 11, 30, 14)),
        # New York, Wednesday 17:30 before Thanksgiving: Friday 09:00 EST (14:00 UTC).
        (US, new_york(2026, 11, 25, 17, 30), utc(2026, 11, 27, 14)),
    ],
)
def test_next_opening(team: Team, at: datetime, expected: datetime) -> None:
    assert next_opening(team, at) == expected


# --- add_business_minutes ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("team", "start", "minutes", "expected"),
    [
        # Monday 10:00 Paris + 60: 11:00 Paris (10:00 UTC).
        (SALES, paris(2026, 11, 23, 10), 60, utc(2026, 11, 23, 10)),
        # Monday 12:00 Paris + 90: 13:30, no lunch break to skip.
        (SALES, paris(2026, 11, 23, 12), 90, paris(2026, 11, 23, 13, 30)),
        # Monday 17:00 + 60 ends exactly at closing, 18:00 Paris (17:00 UTC).
        (SALES, paris(2026, 11, 23, 17), 60, utc(2026, 11, 23, 17)),
        # Monday 17:50 + 60 spans closing: 10 min Monday, 50 min Tuesday -> 09:50 Paris.
        (SALES, paris(2026, 11, 23, 17, 50), 60, utc(2026, 11, 24, 8, 50)),
        # Monday 10:00 + 600 (10 h): 8 h Monday, 2 h Tuesday -> Tuesday 11:00 Paris.
        (SALES, paris(2026, 11, 23, 10), 600, utc(2026, 11, 24, 10)),
        # Monday 07:00, before opening, + 15: the clock starts at 09:00 -> 09:15 Paris.
        (SALES, paris(2026, 11, 23, 7), 15, utc(2026, 11, 23, 8, 15)),
        # Friday 16:30 + 60: 30 min Friday (closes 17:00), 30 min Saturday -> 10:30 Paris.
        (SALES, paris(2026, 11, 27, 16, 30), 60, utc(2026, 11, 28, 9, 30)),
        # Saturday 12:45 + 60: 15 min Saturday, Sunday closed, 45 min Monday -> 09:45 Paris.
        (SALES, paris(2026, 11, 28, 12, 45), 60, utc(2026, 11, 30, 8, 45)),
        # Sunday 11:00 + 15: Monday 09:15 Paris.
        (SALES, paris(2026, 11, 29, 11), 15, utc(2026, 11, 30, 8, 15)),
        # Christmas Eve 17:30 + 60: 30 min Thursday, Christmas skipped, Saturday 10:30 Paris.
        (SALES, paris(2026, 12, 24, 17, 30), 60, utc(2026, 12, 26, 9, 30)),
        # DST starts Sunday 2026-03-29: Saturday 12:30 CET (11:30 UTC) + 60 = 30 min Saturday
        # + 30 min Monday 2026-03-30 from 09:00 CEST -> 09:30 CEST = 07:30 UTC.
        (SALES, utc(2026, 3, 28, 11, 30), 60, utc(2026, 3, 30, 7, 30)),
        # DST ends Sunday 2026-10-25: Saturday 12:30 CEST (10:30 UTC) + 60 -> Monday
        # 2026-10-26 09:30 CET = 08:30 UTC.
        (SALES, utc(2026, 10, 24, 10, 30), 60, utc(2026, 10, 26, 8, 30)),
        # Friday 2026-03-27 16:50 CET + 15: 10 min Friday, 5 min Saturday (still CET)
        # -> 10:05 CET = 09:05 UTC.
        (SALES, utc(2026, 3, 27, 15, 50), 15, utc(2026, 3, 28, 9, 5)),
        # The night shift 01:00-04:00 on 2026-03-29 lasts 2 h (02:00 CET -> 03:00 CEST):
        # from 01:00 CET (00:00 UTC), 120 minutes end at 04:00 CEST = 02:00 UTC...
        (NIGHT, utc(2026, 3, 29, 0), 120, utc(2026, 3, 29, 2)),
        # ...and 150 minutes run into the next Sunday: 30 min from 01:00 CEST -> 2026-04-05
        # 01:30 CEST = 2026-04-04 23:30 UTC.
        (NIGHT, utc(2026, 3, 29, 0), 150, utc(2026, 4, 4, 23, 30)),
        # On 2026-10-25 the same shift lasts 4 h (03:00 CEST -> 02:00 CET): from 01:00 CEST
        # (2026-10-24 23:00 UTC), 240 minutes end at 04:00 CET = 03:00 UTC.
        (NIGHT, utc(2026, 10, 24, 23), 240, utc(2026, 10, 25, 3)),
        # New York, Friday 16:30 EST + 60: 30 min Friday, Monday 09:30 EST (14:30 UTC).
        (US, new_york(2026, 11, 27, 16, 30), 60, utc(2026, 11, 30, 14, 30)),
    ],
)
def test_add_business_minutes(
    team: Team, start: datetime, minutes: int, expected: datetime
) -> None:
    assert add_business_minutes(team, start, minutes) == expected


# --- end_of_business_day ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("team", "at", "expected"),
    [
        # Monday 10:00 Paris: Monday 18:00 Paris (17:00 UTC).
        (SALES, paris(2026, 11, 23, 10), utc(2026, 11, 23, 17)),
        # Monday 07:00, before opening: still Monday's closing.
        (SALES, paris(2026, 11, 23, 7), utc(2026, 11, 23, 17)),
        # Monday 18:30, after closing: Tuesday 18:00 Paris.
        (SALES, paris(2026, 11, 23, 18, 30), utc(2026, 11, 24, 17)),
        # Friday 10:00: Friday closes at 17:00 Paris (16:00 UTC).
        (SALES, paris(2026, 11, 27, 10), utc(2026, 11, 27, 16)),
        # Friday 17:30: Saturday 13:00 Paris (12:00 UTC).
        (SALES, paris(2026, 11, 27, 17, 30), utc(2026, 11, 28, 12)),
        # Summer Monday 2026-06-15 10:00: 18:00 CEST = 16:00 UTC.
        (SALES, paris(2026, 6, 15, 10), utc(2026, 6, 15, 16)),
        # Christmas Eve 18:30: Christmas skipped, Saturday 13:00 Paris.
        (SALES, paris(2026, 12, 24, 18, 30), utc(2026, 12, 26, 12)),
        # New York Monday 10:00 EST: 17:00 EST = 22:00 UTC.
        (US, new_york(2026, 11, 23, 10), utc(2026, 11, 23, 22)),
    ],
)
def test_end_of_business_day(team: Team, at: datetime, expected: datetime) -> None:
    assert end_of_business_day(team, at) == expected


def test_sla_due_uses_minutes_or_closing_time() -> None:
    monday_1750 = paris(2026, 11, 23, 17, 50)
    # 15 business minutes from 17:50: 10 today, 5 tomorrow -> Tuesday 09:05 Paris.
    assert sla_due(SALES, IMMEDIATE, monday_1750) == utc(2026, 11, 24, 8, 5)
    # By closing time: Monday 18:00 Paris.
    assert sla_due(SALES, SAME_DAY, monday_1750) == utc(2026, 11, 23, 17)


# --- promise ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("team", "sla", "now", "reach", "text", "contact_by", "due_at"),
    [
        # In hours, 15 minutes, due the same day.
        (
            SALES,
            IMMEDIATE,
            paris(2026, 11, 23, 10),
            "email you",
            "A specialist will email you within 15 minutes.",
            paris(2026, 11, 23, 10),
            paris(2026, 11, 23, 10, 15),
        ),
        # In hours, 60 minutes, same day: "within the hour".
        (
            SALES,
            WITHIN_1H,
            paris(2026, 11, 23, 10),
            "call you",
            "A specialist will call you within the hour.",
            paris(2026, 11, 23, 10),
            paris(2026, 11, 23, 11),
        ),
        # In hours, 90 minutes, same day: a clock time.
        (
            SALES,
            WITHIN_90,
            paris(2026, 11, 23, 10),
            "email you",
            "A specialist will email you by 11:30.",
            paris(2026, 11, 23, 10),
            paris(2026, 11, 23, 11, 30),
        ),
        # In hours, by end of business day.
        (
            SALES,
            SAME_DAY,
            paris(2026, 11, 23, 10),
            "get back to you",
            "A specialist will get back to you today, before 18:00.",
            paris(2026, 11, 23, 10),
            paris(2026, 11, 23, 18),
        ),
        # In hours but the 60 minutes run into tomorrow: next day with the time and zone.
        (
            SALES,
            WITHIN_1H,
            paris(2026, 11, 23, 17, 50),
            "email you",
            "A specialist will email you by tomorrow at 9:50 (Paris time).",
            paris(2026, 11, 23, 17, 50),
            paris(2026, 11, 24, 9, 50),
        ),
        # In hours on Saturday, the 60 minutes run into Monday: "by Monday", named.
        (
            SALES,
            WITHIN_1H,
            paris(2026, 11, 28, 12, 45),
            "email you",
            "A specialist will email you by Monday at 9:45 (Paris time).",
            paris(2026, 11, 28, 12, 45),
            paris(2026, 11, 30, 9, 45),
        ),
        # Out of hours in the evening: first thing tomorrow.
        (
            SALES,
            WITHIN_1H,
            paris(2026, 11, 23, 18, 30),
            "email you",
            "Our team is away right now. A specialist will email you first thing tomorrow "
            "at 9:00 (Paris time).",
            paris(2026, 11, 24, 9),
            paris(2026, 11, 24, 10),
        ),
        # Out of hours early in the morning: first thing today.
        (
            SALES,
            IMMEDIATE,
            paris(2026, 11, 23, 7, 30),
            "email you",
            "Our team is away right now. A specialist will email you first thing today "
            "at 9:00 (Paris time).",
            paris(2026, 11, 23, 9),
            paris(2026, 11, 23, 9, 15),
        ),
        # Friday evening: the Saturday shift opens at 10:00.
        (
            SALES,
            SAME_DAY,
            paris(2026, 11, 27, 17, 30),
            "call you",
            "Our team is away right now. A specialist will call you first thing tomorrow "
            "at 10:00 (Paris time).",
            paris(2026, 11, 28, 10),
            paris(2026, 11, 28, 13),
        ),
        # Saturday afternoon: Monday, named.
        (
            SALES,
            IMMEDIATE,
            paris(2026, 11, 28, 13, 30),
            "email you",
            "Our team is away right now. A specialist will email you first thing on Monday "
            "at 9:00 (Paris time).",
            paris(2026, 11, 30, 9),
            paris(2026, 11, 30, 9, 15),
        ),
        # Saturday after closing on the DST weekend of October: Monday 09:00 CET (08:00 UTC).
        (
            SALES,
            IMMEDIATE,
            paris(2026, 10, 24, 13, 30),
            "email you",
            "Our team is away right now. A specialist will email you first thing on Monday "
            "at 9:00 (Paris time).",
            utc(2026, 10, 26, 8),
            utc(2026, 10, 26, 8, 15),
        ),
        # New York, Friday evening: no Saturday shift, Monday 09:00 EST (14:00 UTC).
        (
            US,
            WITHIN_1H,
            new_york(2026, 11, 27, 17, 30),
            "call you",
            "Our team is away right now. A specialist will call you first thing on Monday "
            "at 9:00 (New York time).",
            utc(2026, 11, 30, 14),
            utc(2026, 11, 30, 15),
        ),
        # New York, in hours: same-day wording does not mention the zone.
        (
            US,
            IMMEDIATE,
            new_york(2026, 11, 23, 10),
            "email you",
            "A specialist will email you within 15 minutes.",
            utc(2026, 11, 23, 15),
            utc(2026, 11, 23, 15, 15),
        ),
        # Next opening more than a week away: weekday with date.
        (
            MONDAYS,
            IMMEDIATE,
            paris(2026, 11, 23, 18, 30),
            "email you",
            "Our team is away right now. A specialist will email you first thing on Monday "
            "7 December at 9:00 (Paris time).",
            paris(2026, 12, 7, 9),
            paris(2026, 12, 7, 9, 15),
        ),
    ],
)
def test_promise(
    team: Team,
    sla: Sla,
    now: datetime,
    reach: str,
    text: str,
    contact_by: datetime,
    due_at: datetime,
) -> None:
    made = promise(team, sla, now, reach)
    assert made.text == text
    assert made.contact_by == contact_by
    assert made.due_at == due_at
    assert made.due_at == sla_due(team, sla, now)


# Open around the clock, as a handoff file's "00:00-24:00" on every day reads.
ALWAYS = replace(
    US,
    name="always",
    timezone=timezone.utc,
    hours={day: OpeningHours(time(0), END_OF_DAY) for day in range(7)},
    holidays=frozenset(),
)
# Open until midnight on Monday only.
MONDAY_NIGHT = replace(ALWAYS, name="monday", hours={0: OpeningHours(time(18), END_OF_DAY)})


@pytest.mark.parametrize(
    ("team", "now", "text"),
    [
        # Open around the clock: due 00:12 the next day, still "within 15 minutes".
        (ALWAYS, utc(2026, 12, 7, 23, 57), "A specialist will email you within 15 minutes."),
        (ALWAYS, utc(2026, 12, 7, 23, 59), "A specialist will email you within 15 minutes."),
        # Closed after midnight: the due time is a week later, and the promise says so.
        (
            MONDAY_NIGHT,
            utc(2026, 12, 7, 23, 57),
            "A specialist will email you by Monday 14 December at 18:12 (UTC time).",
        ),
    ],
)
def test_a_promise_across_midnight(team: Team, now: datetime, text: str) -> None:
    made = promise(team, IMMEDIATE, now, "email you")
    assert made.text == text
    assert made.due_at == sla_due(team, IMMEDIATE, now)
