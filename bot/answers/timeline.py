"""Purchase-timeline answers: "next week", "before Christmas", "in 2-3 weeks" → days from now.

The value is ``{"days": N}``, the whole days from ``now`` (its UTC date, *today*) to the
intended purchase, or ``{"days": None, "browsing": True}`` for "just browsing", "no
plans", "not sure yet". How a phrase becomes a day, applied the same way everywhere:

* A day (today, tomorrow, Friday, 5 December, Christmas) → that day.
* A duration ("in 3 weeks", "within 10 days", "a couple of months") → today plus the
  duration (months and years are calendar months and years).
* A range ("in 2-3 weeks", "a week or two") → the midpoint of its two ends, rounded down.
* A period (this/next week, this weekend, next month, December, Q1, the spring, next
  year) → the midpoint of the part still ahead, ``(first day + last day) // 2``, where
  the first day is today once the period has begun. "early", "mid" and "late" narrow a
  period to its first, middle or last third (for a month: days 1-10, 11-20, 21-end).
* Deadlines: "by/until X" → the first day of X, or today if X has begun ("by Friday"
  → Friday, "by summer" → 1 June); "before X" → the day before X; "after X" → the day
  after X ends; "end of X" → the last day of X; "start of X" → its first day.
* Which one: "next week/weekend/month/quarter/year" is the calendar unit after the
  current one ("this" or "coming" week is the current one). A named day, month,
  season, quarter or holiday is its nearest occurrence not yet over ("Friday" on a
  Friday is today); "next <name>" is the nearest one starting after today.
* Weeks run Monday to Sunday. Seasons are meteorological, northern hemisphere (spring
  = March-May, summer = June-August, autumn = September-November, winter =
  December-February). Numeric dates are read day first (European).
* Vague words: "soon"/"shortly" → 7 days, "in the coming days" → 3, "coming weeks" →
  21, "coming months" → 3 months; "a few" = 3, "a couple" = 2, "several" = 4.
* Anything in the past ("yesterday", "2 weeks ago", a past date) gives no day, so
  None; days are never negative. A bare number ("2") is not a timeline.
* Chat shorthand ("nxt wk", "tmrw", "xmas") is expanded; outside strict mode a typo
  of one letter in a long time word ("tomorow", "firday") is corrected.

``strict`` mode (scanning a message that answers another question) reads only explicit
time expressions: no browsing phrases and no "now".
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

from dateparser.search import search_dates
from dateutil.easter import easter
from dateutil.relativedelta import relativedelta
from rapidfuzz.distance import OSA

from bot.answers.text import NUMBER_WORDS, fold, usable
from bot.answers.types import Parsed

Span = tuple[date, date]

_MONTHS = {
    name: number
    for number, names in enumerate(
        (
            ("january", "jan"),
            ("february", "feb"),
            ("march", "mar"),
            ("april", "apr"),
            ("may",),
            ("june", "jun"),
            ("july", "jul"),
            ("august", "aug"),
            ("september", "sept", "sep"),
            ("october", "oct"),
            ("november", "nov"),
            ("december", "dec"),
        ),
        start=1,
    )
    for name in names
}
# Month words that are also everyday words: they count only next to a time cue.
_AMBIGUOUS_MONTHS = frozenset({"may", "march", "mar", "jan"})
_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_SEASONS = {"spring": 3, "summer": 6, "autumn": 9, "fall": 9, "winter": 12}
_QUARTER_WORDS = {"first": 1, "1st": 1, "second": 2, "2nd": 2, "third": 3, "3rd": 3}
_QUARTER_WORDS |= {"fourth": 4, "4th": 4}
_VAGUE_COUNTS = {"a couple of": 2, "couple of": 2, "a couple": 2, "a few": 3, "few": 3}
_VAGUE_COUNTS |= {"several": 4, "a": 1, "an": 1}

_NUM = "|".join(
    [
        r"(?<![\d.,])\d{1,3}(?:[.,]\d)?",
        *sorted(_VAGUE_COUNTS, key=len, reverse=True),
        *sorted(NUMBER_WORDS, key=len, reverse=True),
    ]
)
_UNIT = r"(?P<unit>days?|weeks?|fortnights?|months?|years?)"
_MONTH = "|".join(sorted(_MONTHS, key=len, reverse=True))
_PREP = r"(?:(?P<prep>before|by|until|till|til|after|for|in|on|at|around|during)\s+)?"
_MOD = r"(?:(?P<mod>end of|start of|beginning of|middle of|early|mid|late)\s+)?"
_DEADLINE = ("by", "until", "till", "til")
_NEXT = ("next", "following")  # "this" and "coming" mean the current or nearest one
_WHICH = r"(?:(?P<the>the)\s+)?(?:(?P<which>this|next|coming|following)\s+)?"

_PAST = re.compile(
    rf"\b(?:(?:{_NUM})\s+{_UNIT}\s+ago|yesterday|the other day|last\s+(?:night|week|weekend"
    rf"|month|year|quarter|{'|'.join(_WEEKDAYS)}|{'|'.join(_SEASONS)}|{_MONTH}|christmas))\b"
)
_BROWSING = re.compile(
    r"\b(?:just (?:browsing|looking)|only (?:browsing|looking)|browsing|window shopping"
    r"|no (?:plans?|rush|hurry|idea)|not sure|unsure|dont know|dunno|undecided"
    r"|havent decided|whenever|some ?day|one day|eventually|no time ?frame)\b"
)
_DATE_HINT = re.compile(
    rf"\b\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?(?:{_MONTH})\b"
    rf"|\b(?:{_MONTH})\s+\d{{1,2}}(?:st|nd|rd|th)?\b"
)
_SHORTHAND = {
    "nxt": "next",
    "wk": "week",
    "wks": "weeks",
    "wknd": "weekend",
    "wkend": "weekend",
    "mth": "month",
    "mths": "months",
    "mnth": "month",
    "mnths": "months",
    "yr": "year",
    "yrs": "years",
    "2day": "today",
    "2morrow": "tomorrow",
    "2moro": "tomorrow",
    "tmrw": "tomorrow",
    "tmr": "tomorrow",
    "xmas": "christmas",
}
# Long time words a typo may be corrected to; short or everyday-looking ones ("march",
# "easter" next to "eastern") are left out.
_TYPO_TARGETS = (
    "tomorrow",
    "weekend",
    "christmas",
    "fortnight",
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
    "january",
    "february",
    "august",
    "september",
    "october",
    "november",
    "december",
)
_DATEPARSER_SETTINGS = {
    "PREFER_DATES_FROM": "future",
    "RETURN_AS_TIMEZONE_AWARE": True,
    "TIMEZONE": "UTC",
    "TO_TIMEZONE": "UTC",
    "DATE_ORDER": "DMY",
}


@dataclass(frozen=True)
class _Rule:
    pattern: re.Pattern[str]
    resolve: Callable[[re.Match[str], date], date | None]
    immediate: bool = False
    loose: bool = False  # read only outside strict mode


def parse_timeline(text: str, now: datetime, *, strict: bool = False) -> Parsed | None:
    """Read when the shopper means to buy; see the module docstring for the rules."""
    try:
        cleaned = usable(text)
        if cleaned is None:
            return None
        if now.tzinfo is None:
            now = now.replace(tzinfo=timezone.utc)
        today = now.astimezone(timezone.utc).date()
        normalised = _PAST.sub(" ", _normalise(cleaned, strict=strict))
        browsing = _BROWSING.search(normalised) is not None
        day = None
        if _DATE_HINT.search(normalised):
            day = _from_dateparser(normalised, now, today)
        if day is None:
            day = _from_rules(normalised, today, strict=strict, browsing=browsing)
    except (ValueError, OverflowError):
        # Absurd dates ("31/02", "in 999 years") are simply not timelines.
        return None
    if day is not None and day >= today:
        days = (day - today).days
        return Parsed(value={"days": days}, display=_display(days, day))
    if browsing and not strict:
        return Parsed(value={"days": None, "browsing": True}, display="just browsing")
    return None


def _normalise(text: str, *, strict: bool) -> str:
    # Apostrophes go: "new year's" and "new years" are the same phrase.
    text = fold(text).replace("\u2019", "").replace("'", "")
    text = re.sub(r"(?<=[a-z])-(?=[a-z])", " ", text)
    return re.sub(r"[a-z0-9]+", lambda m: _spelling(m.group(0), fuzzy=not strict), text)


def _spelling(word: str, *, fuzzy: bool) -> str:
    """Expand chat shorthand ("nxt wk") and, outside strict mode, fix typos ("tomorow")."""
    if word in _SHORTHAND:
        return _SHORTHAND[word]
    if fuzzy and len(word) >= 6 and word not in _TYPO_TARGETS:
        for target in _TYPO_TARGETS:
            if abs(len(target) - len(word)) <= 1 and OSA.distance(word, target) <= 1:
                return target
    return word


def _from_rules(text: str, today: date, *, strict: bool, browsing: bool) -> date | None:
    for rule in _RULES:
        if strict and rule.loose:
            continue
        if rule.immediate and browsing:
            continue  # "just browsing today" is browsing, not a purchase today
        for match in rule.pattern.finditer(text):
            day = rule.resolve(match, today)
            if day is not None:
                return day
    return None


def _from_dateparser(text: str, now: datetime, today: date) -> date | None:
    base = now.astimezone(timezone.utc).replace(tzinfo=None)
    settings = {**_DATEPARSER_SETTINGS, "RELATIVE_BASE": base}
    found = search_dates(text, languages=["en"], settings=settings) or []
    for phrase, moment in found:
        if not _DATE_HINT.search(phrase):
            continue  # dateparser also reads "M" or "2" as dates
        day = moment.date()
        if day < today and not re.search(r"\b\d{4}\b", phrase):
            day += relativedelta(years=1)
        position = text.find(phrase)
        if re.search(r"\bbefore\s*$", text[:position]):
            day -= timedelta(days=1)
        return day
    return None


def _count(word: str) -> float:
    if word[0].isdigit():
        return float(word.replace(",", "."))
    return _VAGUE_COUNTS.get(word) or NUMBER_WORDS[word]


_UNIT_DAYS = {"day": 1, "week": 7, "fortnight": 14, "month": 30, "year": 365}


def _shift(today: date, count: float, unit: str) -> date:
    """Today plus ``count`` units; whole months and years follow the calendar."""
    unit = unit.rstrip("s")
    if unit in ("month", "year"):
        whole = int(count)
        shifted = today + relativedelta(**{unit + "s": whole})
        return shifted + timedelta(days=round((count - whole) * _UNIT_DAYS[unit]))
    return today + timedelta(days=round(count * _UNIT_DAYS[unit]))


def _midpoint(first: date, last: date) -> date:
    return first + (last - first) // 2


def _pick(span: Span, match: re.Match[str], today: date) -> date | None:
    """Apply the modifier ("early", "end of") and preposition ("by", "before") to a span."""
    first, last = span
    mod = match.groupdict().get("mod")
    prep = match.groupdict().get("prep")
    length = (last - first).days + 1
    if mod == "end of":
        first = last
    elif mod in ("start of", "beginning of"):
        last = first
    elif mod == "early":
        last = first + timedelta(days=length // 3 - 1)
    elif mod in ("mid", "middle of"):
        first, last = (
            first + timedelta(days=length // 3),
            first + timedelta(days=2 * length // 3 - 1),
        )
    elif mod == "late":
        first = first + timedelta(days=2 * length // 3)
    if prep in _DEADLINE:
        return max(first, today) if last >= today else None
    if prep == "before":
        return first - timedelta(days=1)
    if prep == "after":
        return last + timedelta(days=1)
    if last < today:
        return None
    return _midpoint(max(first, today), last)


def _occurrence(spans: Callable[[int], Span], match: re.Match[str], today: date) -> Span:
    """Find the nearest span not over, or (with "next") the nearest starting after today."""
    wants_next = match.groupdict().get("which") in _NEXT
    for year in range(today.year - 1, today.year + 3):
        first, last = spans(year)
        if (first > today) if wants_next else (last >= today):
            return first, last
    raise ValueError("no occurrence")  # unreachable for yearly spans


def _month_span(year: int, month: int) -> Span:
    return date(year, month, 1), date(year, month, calendar.monthrange(year, month)[1])


def _season_span(season: str, year: int) -> Span:
    start = _SEASONS[season]
    first = date(year, start, 1)
    end = first + relativedelta(months=3) - timedelta(days=1)
    return first, end


def _thanksgiving(year: int) -> date:
    first = date(year, 11, 1)
    return first + timedelta(days=(3 - first.weekday()) % 7 + 21)


_HOLIDAYS: dict[str, Callable[[int], date]] = {
    "christmas eve": lambda y: date(y, 12, 24),
    "christmas": lambda y: date(y, 12, 25),
    "new years eve": lambda y: date(y, 12, 31),
    "new years day": lambda y: date(y, 1, 1),
    "new years": lambda y: date(y, 1, 1),
    "new year": lambda y: date(y, 1, 1),
    "valentines day": lambda y: date(y, 2, 14),
    "valentines": lambda y: date(y, 2, 14),
    "easter": easter,
    "halloween": lambda y: date(y, 10, 31),
    "black friday": lambda y: _thanksgiving(y) + timedelta(days=1),
    "cyber monday": lambda y: _thanksgiving(y) + timedelta(days=4),
}


def _range(match: re.Match[str], today: date) -> date | None:
    low, high = _count(match["low"]), _count(match["high"])
    if not 0 < low < high:
        return None
    return _midpoint(_shift(today, low, match["unit"]), _shift(today, high, match["unit"]))


def _duration(match: re.Match[str], today: date) -> date | None:
    if match.group(0) == "one day" and not re.search(
        r"\b(?:in|within)\s$", match.string[: match.start()]
    ):
        return None  # "one day I'll treat myself" is some day, not tomorrow
    count = _count(match["count"])
    return _shift(today, count, match["unit"]) if count > 0 else None


def _relative_unit(match: re.Match[str], today: date) -> date | None:
    which, unit = match["which"], match["unit"]
    if which is None and match["mod"] is None and match["prep"] not in _DEADLINE:
        return None  # "the week" alone says nothing
    step = 1 if which in _NEXT else 0
    monday = today - timedelta(days=today.weekday())
    span: Span
    if unit == "week":
        first = monday + timedelta(weeks=step)
        span = first, first + timedelta(days=6)
    elif unit == "weekend":
        saturday = monday + timedelta(weeks=step, days=5)
        span = saturday, saturday + timedelta(days=1)
    elif unit == "month":
        start = date(today.year, today.month, 1) + relativedelta(months=step)
        span = _month_span(start.year, start.month)
    elif unit == "quarter":
        start = date(today.year, 3 * ((today.month - 1) // 3) + 1, 1) + relativedelta(
            months=3 * step
        )
        span = start, start + relativedelta(months=3) - timedelta(days=1)
    else:
        span = date(today.year + step, 1, 1), date(today.year + step, 12, 31)
    return _pick(span, match, today)


def _holiday(match: re.Match[str], today: date) -> date | None:
    day_of = _HOLIDAYS[match["holiday"]]
    return _pick(_occurrence(lambda y: (day_of(y), day_of(y)), match, today), match, today)


def _season(match: re.Match[str], today: date) -> date | None:
    season = match["season"]
    if season == "fall" and not (match["which"] or match["prep"] or match["the"] or match["mod"]):
        return None  # "fall" is also a verb
    return _pick(_occurrence(lambda y: _season_span(season, y), match, today), match, today)


def _quarter(match: re.Match[str], today: date) -> date | None:
    number = int(match["q"]) if match["q"] else _QUARTER_WORDS[match["ordinal"]]

    def spans(year: int) -> Span:
        first = date(year, 3 * number - 2, 1)
        return first, first + relativedelta(months=3) - timedelta(days=1)

    if match["year"]:
        return _pick(spans(int(match["year"])), match, today)
    return _pick(_occurrence(spans, match, today), match, today)


def _month(match: re.Match[str], today: date) -> date | None:
    word = match["month"]
    cue = match["prep"] or match["mod"] or match["which"] or match["year"]
    if word in _AMBIGUOUS_MONTHS and not cue:
        return None
    number = _MONTHS[word]
    if match["year"]:
        return _pick(_month_span(int(match["year"]), number), match, today)
    return _pick(_occurrence(lambda y: _month_span(y, number), match, today), match, today)


def _weekday(match: re.Match[str], today: date) -> date | None:
    target = _WEEKDAYS.index(match["weekday"])
    ahead = (target - today.weekday()) % 7
    if ahead == 0 and match["which"] in _NEXT:
        ahead = 7
    day = today + timedelta(days=ahead)
    return _pick((day, day), match, today)


def _day_of_month(match: re.Match[str], today: date) -> date | None:
    number = int(match["day"])
    if not 1 <= number <= 31:
        return None
    for step in range(3):
        start = date(today.year, today.month, 1) + relativedelta(months=step)
        if number <= calendar.monthrange(start.year, start.month)[1]:
            day = start.replace(day=number)
            if day >= today:
                return _pick((day, day), match, today)
    return None


def _numeric_date(match: re.Match[str], today: date) -> date | None:
    if match["iso_year"]:
        day = date(int(match["iso_year"]), int(match["iso_month"]), int(match["iso_day"]))
        return _pick((day, day), match, today)
    if match["sep"] == "." and not match["year"]:
        return None  # "1.5" is a decimal number, not 1 May
    first, second = int(match["first"]), int(match["second"])
    # Day first (European), unless only month-first can be a date ("12/15").
    day_number, month = (second, first) if second > 12 >= first else (first, second)
    if match["year"]:
        year = int(match["year"])
        day = date(year + 2000 if year < 100 else year, month, day_number)
    else:
        day = date(today.year, month, day_number)
        if day < today:
            day = date(today.year + 1, month, day_number)
    return _pick((day, day), match, today)


def _fixed(days: int) -> Callable[[re.Match[str], date], date | None]:
    return lambda _match, today: today + timedelta(days=days)


def _fixed_months(months: int) -> Callable[[re.Match[str], date], date | None]:
    return lambda _match, today: today + relativedelta(months=months)


_HOLIDAY = "|".join(sorted(_HOLIDAYS, key=len, reverse=True))
_RULES: tuple[_Rule, ...] = (
    _Rule(
        re.compile(
            rf"\b{_PREP}(?:(?P<iso_year>\d{{4}})-(?P<iso_month>\d{{1,2}})-(?P<iso_day>\d{{1,2}})"
            r"|(?P<first>\d{1,2})(?P<sep>[/.])(?P<second>\d{1,2})(?:(?P=sep)(?P<year>\d{4}|\d{2}))?)"
            r"\b(?![/.]\d)"
        ),
        _numeric_date,
    ),
    _Rule(
        re.compile(rf"\b(?P<low>{_NUM})\s*(?:-|\u2013|to|or|and)\s*(?P<high>{_NUM})\s+{_UNIT}\b"),
        _range,
    ),
    _Rule(
        re.compile(
            r"\b(?P<low>a|one)\s+(?P<unit>day|week|month|year)\s+or\s+(?P<high>two|2|three|3)\b"
        ),
        _range,
    ),
    _Rule(re.compile(rf"\b(?P<count>{_NUM})\s+{_UNIT}\b"), _duration),
    _Rule(re.compile(r"\b(?:coming|next few) days\b"), _fixed(3)),
    _Rule(re.compile(r"\b(?:coming|next few) weeks\b"), _fixed(21)),
    _Rule(re.compile(r"\b(?:coming|next few) months\b"), _fixed_months(3)),
    _Rule(re.compile(r"\bday after tomorrow\b"), _fixed(2)),
    _Rule(re.compile(r"\btomorrow\b"), _fixed(1)),
    _Rule(
        re.compile(
            r"\b(?:asap|a\.s\.a\.p|as soon as possible|right away|straight away|immediately"
            r"|urgent(?:ly)?|today|tonight|this (?:morning|afternoon|evening))\b"
        ),
        _fixed(0),
        immediate=True,
    ),
    _Rule(
        re.compile(r"(?<!for )(?<!not )(?<!back )\b(?:right )?now\b"),
        _fixed(0),
        immediate=True,
        loose=True,
    ),
    _Rule(re.compile(r"\b(?:very )?(?:soon|shortly)\b"), _fixed(7), loose=True),
    _Rule(
        re.compile(rf"\b{_PREP}{_WHICH}(?P<holiday>{_HOLIDAY})\b"),
        _holiday,
    ),
    _Rule(
        re.compile(
            rf"\b{_PREP}{_MOD}(?:the\s+)?(?:(?P<which>this|next|coming)\s+)?(?:q(?P<q>[1-4])"
            r"|(?P<ordinal>first|1st|second|2nd|third|3rd|fourth|4th) quarter)"
            r"(?:\s+(?:of\s+)?(?P<year>20\d\d))?\b"
        ),
        _quarter,
    ),
    _Rule(
        re.compile(
            rf"\b{_PREP}{_MOD}(?:the\s+)?(?:(?P<which>this|next|coming|following)\s+)?"
            r"(?P<unit>weekend|week|month|quarter|year)\b"
        ),
        _relative_unit,
    ),
    _Rule(re.compile(rf"\b{_PREP}{_MOD}{_WHICH}(?P<season>{'|'.join(_SEASONS)})\b"), _season),
    _Rule(
        re.compile(
            rf"\b{_PREP}{_MOD}{_WHICH}(?P<month>{_MONTH})\b(?!\s*\d{{1,2}}\b)(?:\s+(?P<year>20\d\d))?"
        ),
        _month,
    ),
    _Rule(re.compile(rf"\b{_PREP}{_WHICH}(?P<weekday>{'|'.join(_WEEKDAYS)})s?\b"), _weekday),
    _Rule(
        re.compile(
            rf"\b{_PREP}the\s+(?P<day>\d{{1,2}})(?:st|nd|rd|th)\b(?!\s+(?:of\s+)?(?:{_MONTH})\b)"
        ),
        _day_of_month,
    ),
)


def _display(days: int, day: date) -> str:
    if days == 0:
        relative = "right away"
    elif days == 1:
        relative = "tomorrow"
    elif days < 14:
        relative = f"in {days} days"
    elif days < 60:
        relative = f"in about {round(days / 7)} weeks"
    elif days < 730:
        relative = f"in about {round(days / 30.44)} months"
    else:
        relative = f"in about {round(days / 365.25)} years"
    return f"{relative} ({day:%a} {day.day} {day:%b %Y})"
