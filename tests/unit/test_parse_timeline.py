from datetime import datetime, timedelta, timezone

import pytest

from bot.answers.timeline import parse_timeline

# Monday 23 November 2026; Black Friday is the 27th, Christmas 32 days away.
NOW = datetime(2026, 11, 23, 10, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize(
    ("text", "days"),
    [
        ("asap", 0),
        ("Right away please", 0),
        ("today", 0),
        ("tonight if possible", 0),
        ("tomorrow", 1),
        ("the day after tomorrow", 2),
        # weeks run Monday-Sunday; a period means the midpoint of what is left of it
        ("this week", 3),
        ("this weekend", 5),
        ("next week", 10),
        ("next weekend", 12),
        ("by next week", 7),  # deadline: the first day of next week
        ("end of the month", 7),
        ("by the end of the month", 7),
        ("this month", 3),
        ("next month", 23),
        ("early next month", 12),  # 1-10 December
        ("mid-December", 22),  # 11-20 December
        ("late December", 33),  # 21-31 December
        ("end of next month", 38),
        ("in a couple of weeks", 14),
        ("in a few days", 3),
        ("within 10 days", 10),
        ("in 2-3 weeks", 17),  # range: midpoint of 14 and 21, rounded down
        ("in 2 to 3 weeks", 17),
        ("a week or two", 10),
        ("2 weeks", 14),
        ("in two weeks", 14),
        ("in a fortnight", 14),
        ("in a month", 30),
        ("in 3 months", 92),  # calendar months: 23 February
        ("in the coming weeks", 21),
        ("soon", 7),
        ("by Friday", 4),
        ("next Friday", 4),  # a named day: the nearest one after today
        ("before Friday", 3),
        ("on Monday", 0),  # today is Monday
        ("next Monday", 7),
        ("before Christmas", 31),
        ("for Christmas", 32),
        ("Black Friday", 4),
        ("before black friday", 3),
        ("before New Year", 38),
        ("new year's eve", 38),
        ("easter", 125),  # 28 March 2027
        ("after Christmas", 33),
        ("before summer", 189),  # the day before 1 June 2027
        ("in the summer", 235),  # midpoint of June-August 2027
        ("in the spring", 143),
        ("this winter", 52),  # December-February
        ("in the fall", 3),  # autumn ends 30 November
        ("Q1", 83),
        ("q4", 19),  # the rest of this quarter
        ("in Q2 2027", 174),
        ("next quarter", 83),
        ("in December", 23),
        ("in May", 174),
        ("sometime in January 2027", 54),
        ("next year", 221),
        ("end of the year", 38),
        ("December 5th", 12),
        ("on the 5th of December", 12),
        ("by the 15th", 22),  # the next 15th: this month's is past
        ("15/12", 22),  # day first
        ("12/15", 22),  # only month-first makes sense
        ("2026-12-20", 27),
        ("20.12.2026", 27),
        ("before 1.12.2026", 7),
        ("1.5 weeks", 10),
        ("no rush, maybe next month", 23),  # a time beats a browsing phrase
        ("just browsing today, maybe next month", 23),
        ("I need it in Berlin by Friday", 4),
        ("nxt wk", 10),  # chat shorthand
        ("tomorow", 1),  # typo
        ("by firday", 4),
        ("before xmas", 31),
    ],
)
def test_parse_timeline_days(text: str, days: int) -> None:
    parsed = parse_timeline(text, NOW)
    assert parsed is not None
    assert parsed.value == {"days": days}
    day = NOW.date() + timedelta(days=days)
    assert parsed.display.endswith(f"({day:%a} {day.day} {day:%b %Y})")


@pytest.mark.parametrize(
    "text",
    [
        "just browsing",
        "no plans",
        "not sure yet, just looking",
        "I don't know yet",
        "whenever",
        "just browsing today",  # "today" here is not a purchase date
        "one day I'll treat myself",
    ],
)
def test_parse_timeline_browsing(text: str) -> None:
    parsed = parse_timeline(text, NOW)
    assert parsed is not None
    assert parsed.value == {"days": None, "browsing": True}


@pytest.mark.parametrize(
    "text",
    [
        "2",  # a bare number is ambiguous
        "around 300",
        "size M",
        "Lyon",
        "yesterday",
        "2 weeks ago",
        "last week",
        "in 2025",  # past year
        "I may buy one",  # "may" the verb
        "I might fall for the red one",  # "fall" the verb
        "the 2 person tent",
        "30L backpack",
        "",
        "   ",
        "😀🎉",
        "<script>alert('next week')</script>",
        "next week " * 60,  # longer than 500 characters
        "31/02",  # no such date
        "back now, where were we?",  # back from a pause, not "now"
        "I'm back now",
    ],
)
def test_parse_timeline_none(text: str) -> None:
    assert parse_timeline(text, NOW) is None


@pytest.mark.parametrize(
    ("text", "days"),
    [
        ("I need it in Berlin by Friday", 4),
        ("blue hoodie, ideally before Christmas", 31),
        ("300 euros, in 2 weeks", 14),
        ("tomorrow", 1),
        ("2026-12-20", 27),
        ("around 300", None),
        ("size M", None),
        ("2", None),
        ("just browsing", None),  # browsing is only read when the question was the timeline
        ("right now I'm in Lyon", None),  # "now" is too loose outside the timeline question
        ("soon", None),
        ("M, blue", None),
        ("nxt wk", 10),  # shorthand is explicit enough
        ("tomorow", None),  # typos are not
    ],
)
def test_parse_timeline_strict(text: str, days: int | None) -> None:
    parsed = parse_timeline(text, NOW, strict=True)
    assert (parsed.value["days"] if parsed else None) == days


def test_parse_timeline_never_negative_and_display_names_the_day() -> None:
    parsed = parse_timeline("by Friday", NOW)
    assert parsed is not None
    assert parsed.display == "in 4 days (Fri 27 Nov 2026)"


def test_parse_timeline_uses_the_utc_date_of_now() -> None:
    # 23:30 in New York on the 23rd is already the 24th in UTC.
    new_york = timezone(timedelta(hours=-5))
    late_evening = datetime(2026, 11, 23, 23, 30, tzinfo=new_york)
    parsed = parse_timeline("tomorrow", late_evening)
    assert parsed is not None
    assert parsed.display == "tomorrow (Wed 25 Nov 2026)"


def test_parse_timeline_accepts_naive_now_as_utc() -> None:
    parsed = parse_timeline("next week", NOW.replace(tzinfo=None))
    assert parsed is not None
    assert parsed.value == {"days": 10}
