"""Purchase-timeline answers: "next week", "before Christmas", "in 2-3 weeks" → days from now.

The value is ``{"days": N}``, the whole days from ``now`` (its UTC date, *today*) to the
intended purchase, or ``{"days": None, "browsing": True}`` for "just browsing", "no
plans", "not sure yet". A hedged answer ("maybe next week", "nxt wk prob", "peut-être
le mois prochain", "la semana que viene, creo") keeps its day and adds ``"uncertain":
True`` (the key is absent otherwise); its display starts with "maybe". A hedge counts
anywhere in the message, except Spanish "igual", which is "maybe" only first ("igual
que" is "same as"). How a phrase becomes a day, applied the same way everywhere:

* A day (today, tomorrow, Friday, 5 December, Christmas) → that day. A weekday of a
  named week ("Friday next week", "nächste Woche Freitag") → that day of that week.
  A day of the month alone ("the 15th", "le 15", "am 15.", "dia 15") → the next one
  not yet past; "the 15th of next month" → that month's.
* A duration ("in 3 weeks", "within 10 days", "a couple of months") → today plus the
  duration (months and years are calendar months and years). "in/within/over the next
  month" is a duration of one month, not the calendar month after this one.
* A range ("in 2-3 weeks", "a week or two") → the midpoint of its two ends, rounded down.
* A period (this/next week, this weekend, next month, December, Q1, the spring, Holy
  Week, next year) → the midpoint of the part still ahead, ``(first day + last day) // 2``,
  where the first day is today once the period has begun. "early", "mid" and "late"
  narrow a period to its first, middle or last third (for a month: days 1-10, 11-20,
  21-end). "around May" is May.
* Deadlines: "by/until X" → the first day of X, or today if X has begun ("by Friday"
  → Friday, "by summer" → 1 June); "before X" and "for <holiday>" (a present for
  Christmas) → the day before X; "after X" → the day
  after X ends; "end of X" → the last day of X; "start of X" → its first day.
* Which one: "next week/weekend/month/quarter/year" is the calendar unit after the
  current one ("this" or "coming" week is the current one). A named day, month,
  season, quarter or holiday is its nearest occurrence not yet over ("Friday" on a
  Friday is today); "next <name>" is the nearest one starting after today.
* Weeks run Monday to Sunday. Seasons are meteorological, northern hemisphere (spring
  = March-May, summer = June-August, autumn = September-November, winter =
  December-February). Numeric dates are read day first (European), "20.3." too.
* Holidays: Easter, Holy Week (Palm Sunday to Easter Sunday), Ascension Day (Easter
  + 39), back to school (French "la rentrée": the first days of September, 1-10), and
  Father's and Mother's Day as the shopper's language names them: "Father's Day" and
  "fête des pères" the third Sunday of June, "Vatertag" Ascension Day, "día del
  padre", "festa del papà" and "dia do pai" Saint Joseph's Day (19 March), Brazil's
  "dia dos pais" the second Sunday of August; "Mother's Day", "Muttertag", "festa della
  mamma" and Brazil's "dia das mães" the second Sunday of May, "Mothering Sunday" three
  weeks before Easter, "fête des mères" the last Sunday of May (the first of June when
  that is Pentecost), "día de la madre" and Portugal's "dia da mãe" the first Sunday
  of May.
* Vague words: "soon"/"shortly" → 7 days, "in the coming days" → 3, "coming weeks" →
  21, "coming months" → 3 months; "a few" = 3, "a couple" = 2, "several" = 4. "now"
  alone in Spanish, Portuguese or Italian ("ya", "já" with its accent: "ja" is German
  "yes", "subito") is now.
* Anything in the past ("yesterday", "2 weeks ago", a past date) gives no day, so
  None; days are never negative. A bare number ("2") is not a timeline.
* Chat shorthand ("nxt wk", "tmrw", "xmas", "dm1", "ce we", "finde", "fds", "nä. Woche",
  "la semaine pro", "settimana prox", "la semana q viene") is expanded, and chat
  fillers ending a message ("lol", "haha", "jaja", "mdr", "kkk", "xd") are dropped;
  outside strict mode a typo of one letter in a long time word ("tomorow", "firday")
  is corrected.
* French, German, Spanish, Italian and Portuguese read the same, accents optional
  ("la semaine prochaine", "in zwei Wochen", "antes de Navidad", "entro fine mese",
  "daqui a um mês"): ``bot.answers.timeline_languages`` rewrites them in English first.
  There "8 days" is a week and "15 days" two weeks ("dans quinze jours" → 14), as
  those languages count, and in Portugal "para a semana" is next week.

``strict`` mode (scanning a message that answers another question) reads only explicit
time expressions: no browsing phrases, no "now" (nor "ya", "já", "subito" alone), no
day of the month or "20.3." without a preposition ("by the 15th", "am 20.3." are
read, "the 2nd floor" is not), and in a question no "today", "asap" or "right away"
("what's the weather like in Paris today?" names no purchase day). A hedge alone is no
timeline.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

from dateutil.easter import easter
from dateutil.relativedelta import relativedelta
from rapidfuzz.distance import OSA

from bot.answers.text import NUMBER_WORDS, ONE_ARTICLES, SMALL_NUMBER_WORDS, fold, usable
from bot.answers.timeline_languages import before_folding, to_english, words_pattern
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
# English number words, 1 to 31 in the shop's other languages, vague counts.
_COUNTS: dict[str, float] = {**SMALL_NUMBER_WORDS, **NUMBER_WORDS, **_VAGUE_COUNTS}

_NUM = rf"(?<![\d.,])\d{{1,3}}(?:[.,]\d)?|{words_pattern(_COUNTS)}"
_UNIT = r"(?P<unit>days?|weeks?|fortnights?|months?|years?)"
_MONTH = "|".join(sorted(_MONTHS, key=len, reverse=True))
_PREP = r"(?:(?P<prep>before|by|until|till|til|after|for|in|on|at|around|about|during)\s+)?"
_MOD = r"(?:(?P<mod>end of|start of|beginning of|middle of|early|mid|late)\s+)?"
_DEADLINE = ("by", "until", "till", "til")
_NEXT = ("next", "following")  # "this" and "coming" mean the current or nearest one
_WHICH = r"(?:(?P<the>the)\s+)?(?:(?P<which>this|next|coming|following)\s+)?"

_PAST = re.compile(
    rf"\b(?:(?:{_NUM})\s+{_UNIT}\s+ago|yesterday|the other day|last\s+(?:night|week|weekend"
    rf"|month|year|quarter|{'|'.join(_WEEKDAYS)}|{'|'.join(_SEASONS)}|{_MONTH}|christmas))\b"
)
# Read in the prepared text (see ``_prepare``), before the other languages become English.
_BROWSING = re.compile(
    r"\b(?:just (?:browsing|looking)|only (?:browsing|looking)|browsing|window shopping"
    r"|no (?:plans?|rush|hurry|idea|clue)|not sure|unsure|dont know|dunno|idk|undecided"
    r"|havent decided|some ?day|one day|eventually|no time ?frame|having a look"
    # "whenever" alone is no plan; "whenever the price drops / it is on sale" is a condition
    r"|whenever(?!\s+(?:the|it|its|they|you|i|we|there|prices?|stock|that|this)\b)"
    r"|looking around|just (?:checking|curious|a look)"
    # French
    r"|je (?:ne )?(?:fais que )?regarde(?: juste| seulement)?|juste (?:regarder|un coup d oeil)"
    r"|je jette (?:juste )?un (?:coup d )?oeil|je me renseigne|juste pour voir|je fais un tour"
    r"|je (?:ne )?sais pas|j?sais pas|chais pas|pas (?:presse|pressee|d urgence)|rien ne presse"
    r"|aucune idee|un jour"
    # German
    r"|ich (?:schaue?|gucke?|stobere) nur|nur (?:mal )?(?:schauen|gucken|umsehen|umschauen)"
    r"|nur am (?:schauen|gucken|stobern|umschauen|umsehen)|(?:sehe|schaue|gucke) mich (?:nur )?um"
    r"|ich informiere mich|keine (?:eile|ahnung)|eilt nicht|(?:ich )?weiss (?:es )?nicht"
    r"|irgendwann|eines tages"
    # Spanish
    r"|(?:solo )?estoy (?:solo )?(?:mirando|curioseando|echando un vistazo)|solo (?:estoy )?viendo"
    r"|estoy solo viendo|solo (?:mirando|miro|curioseando|echando un vistazo)|me estoy informando"
    r"|sin prisa"
    r"|no (?:hay|tengo) prisa|ni idea|no (?:lo )?se|algun dia"
    # Italian
    r"|(?:sto (?:solo |solamente )?|solo (?:sto )?)(?:guardando|curiosando"
    r"|dando (?:solo )?un occhiat(?:a|ina))"
    r"|guardo solo|do (?:solo )?un occhiata|mi sto (?:solo )?informando"
    r"|(?:nessuna|senza) fretta|non (?:c e|ho) fretta|non (?:lo )?so|un giorno|prima o poi"
    # Portuguese
    r"|(?:so )?(?:estou|to|tou) (?:so )?(?:a ver|a espreitar|olhando|pesquisando"
    r"|a dar uma (?:olhadela|vista de olhos)|dando uma olhad(?:a|inha))"
    r"|so (?:a ver|a espreitar|olhando|pesquisando|a dar uma (?:olhadela|vista de olhos)"
    r"|dando uma olhad(?:a|inha))|sem pressa|nao (?:tenho|ha) pressa|nao sei|um dia|algum dia)\b"
)
# Hedges, anywhere in the message: the day read stays, marked uncertain ("prob" is no
# "no prob(lem)"; Spanish "igual" is "maybe" only first: "igual que" is "same as").
_HEDGE = re.compile(
    r"\b(?:maybe|mayb|mby|perhaps|possibly|probably|(?<!no )probs?|prolly|likely|might"
    r"|not sure|unsure|i think|i guess|i believe|i reckon|hopefully|normally|idk|dunno"
    r"|dont know|no idea|not certain"
    r"|peut etre|p e|ptet|ptetre|probablement|sans doute|possiblement|normalement|surement"
    r"|(?:je )?(?:ne )?sais pas|chais pas|je pense|je crois|pas sure?"
    r"|vielleicht|vllt|vlt|wahrscheinlich|eventuell|evtl?|mo(?:e)?glicherweise|womo?e?glich"
    r"|vermutlich|normalerweise|ich glaube|ich denke|weiss nicht|keine ahnung|nicht sicher"
    r"|quizas?|tal vez|talvez|a lo mejor|(?:^|(?<=[,.;!?] ))igual(?! (?:que|de|a|al)\b)"
    r"|puede que|puede ser|probablemente|posiblemente|seguramente|normalmente"
    r"|no (?:lo )?se|creo que|no estoy segur[oa]|ni idea"
    r"|forse|magari|probabilmente|puo darsi|penso|credo|non (?:lo )?so|non sono sicur[oa]"
    r"|provavelmente|possivelmente|nao sei|acho|pode ser|quem sabe|se calhar"
    r"|nao tenho (?:a )?certeza|sei la)\b"
)
# A question ("what's the weather like in Paris today?") asks, it names no purchase day.
_QUESTION = re.compile(
    r"\?|^(?:what|whats|when|where|how|why|who|which|is|are|do|does|did|can|could|will"
    r"|would|should|quel|quelle|quand|ou|comment|pourquoi|est ce|was|wann|wo|wie|warum|gibt"
    r"|que|cuando|donde|como|por que|cual|che|quando|dove|come|perche|qual|onde)\b"
)
# Elided articles and pronouns ("l'année", "d'ici", "quest'anno") become separate words.
_ELISION = re.compile(r"\b(l|d|j|m|n|s|t|c|qu|jusqu|lorsqu|quest|dell|all|nell|sull|dall|un)'")
_SHORTHAND = {
    "nxt": "next",
    "wk": "week",
    "wek": "week",
    "wik": "week",
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
    "tmw": "tomorrow",
    "2mrw": "tomorrow",
    "xmas": "christmas",
}
# Chat fillers ending a message ("right now lol", "ya jaja", "já kkkk", "demain mdr").
_FILLER = re.compile(
    r"lo+l+|lmf?ao+|rofl|mdr+|ptdr+|x+d+|k{3,}|(?:rs)+|a?(?:h[aei]|j[aei]|ah){2,}h?"
)
_NON_WORD = re.compile(r"[\W_]+")
_WORD = re.compile(r"[^\W_]+")
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


@dataclass(frozen=True)
class _Rule:
    pattern: re.Pattern[str]
    resolve: Callable[[re.Match[str], date], date | None]
    immediate: bool = False  # not read in a question, when scanning strictly
    loose: bool = False  # read only outside strict mode
    # In strict mode, read only after one of these prepositions ("by the 15th", not "the 2nd").
    strict_preps: frozenset[str] | None = None


def parse_timeline(text: str, now: datetime, *, strict: bool = False) -> Parsed | None:
    """Read when the shopper means to buy; see the module docstring for the rules."""
    try:
        cleaned = usable(text)
        if cleaned is None:
            return None
        if now.tzinfo is None:
            now = now.replace(tzinfo=timezone.utc)
        today = now.astimezone(timezone.utc).date()
        prepared = _prepare(cleaned)
        browsing = _BROWSING.search(prepared) is not None
        asking = strict and _QUESTION.search(prepared) is not None
        normalised = _PAST.sub(" ", _normalise(prepared, strict=strict))
        day = _from_rules(normalised, today, strict=strict, immediate=not (browsing or asking))
    except (ValueError, OverflowError):
        # Absurd dates ("31/02", "in 999 years") are simply not timelines.
        return None
    if day is not None and day >= today:
        days = (day - today).days
        display = timeline_display(days, day)
        if _HEDGE.search(prepared):
            return Parsed(value={"days": days, "uncertain": True}, display=f"maybe {display}")
        return Parsed(value={"days": days}, display=display)
    if browsing and not strict:
        return Parsed(value={"days": None, "browsing": True}, display="just browsing")
    return None


def _prepare(text: str) -> str:
    """Fold ``text`` and even out its apostrophes, hyphens and spaces.

    Chat fillers at the end go ("ya jaja" is "ya"), words only an accent tells apart are
    read (see ``before_folding``). Apostrophes go ("new year's" and "new years" are the
    same phrase) once elided articles are words of their own ("l'année" → "l année");
    "week-end" → "week end".
    """
    text = before_folding(_without_fillers(text.casefold()))
    text = _ELISION.sub(r"\1 ", fold(text).replace("\u2019", "'")).replace("'", "")
    return " ".join(re.sub(r"(?<=[a-z])-(?=[a-z])", " ", text).split())


def _without_fillers(text: str) -> str:
    """``text`` without the chat fillers that end it; their punctuation ("lol?") stays."""
    words = text.split()
    for index in range(len(words) - 1, -1, -1):
        letters = _NON_WORD.sub("", words[index])
        if letters and not _FILLER.fullmatch(letters):
            break
        words[index] = _WORD.sub("", words[index])
    return " ".join(words)


def _normalise(prepared: str, *, strict: bool) -> str:
    """The other languages in English, chat shorthand expanded, typos fixed (not strict)."""
    text = to_english(prepared)
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


def _from_rules(text: str, today: date, *, strict: bool, immediate: bool) -> date | None:
    """The day of the first rule that reads one; ``immediate`` rules ("today") only if allowed.

    "just browsing today" is browsing, not a purchase today; "what's the weather like
    in Paris today?" (a question, scanned strictly) names no purchase day.
    """
    for rule in _RULES:
        if strict and rule.loose:
            continue
        if rule.immediate and not immediate:
            continue
        for match in rule.pattern.finditer(text):
            if strict and rule.strict_preps is not None and match["prep"] not in rule.strict_preps:
                continue
            day = rule.resolve(match, today)
            if day is not None:
                return day
    return None


def _count(word: str) -> float:
    if word[0].isdigit():
        return float(word.replace(",", "."))
    return _COUNTS[" ".join(word.split())]


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


def _nth_weekday(year: int, month: int, weekday: int, nth: int) -> date:
    """The ``nth`` ``weekday`` (0 = Monday) of a month; ``nth`` -1 is the last one."""
    if nth > 0:
        first = date(year, month, 1)
        return first + timedelta(days=(weekday - first.weekday()) % 7 + 7 * (nth - 1))
    last = date(year, month, calendar.monthrange(year, month)[1])
    return last - timedelta(days=(last.weekday() - weekday) % 7)


def _thanksgiving(year: int) -> date:
    return _nth_weekday(year, 11, 3, 4)


def _after_easter(days: int) -> Callable[[int], date]:
    return lambda year: easter(year) + timedelta(days=days)


def _mothers_day_in_france(year: int) -> date:
    """The last Sunday of May, a week later when that Sunday is Pentecost."""
    day = _nth_weekday(year, 5, 6, -1)
    return day + timedelta(weeks=1) if day == easter(year) + timedelta(days=49) else day


def _on(day_of: Callable[[int], date]) -> Callable[[int], Span]:
    return lambda year: (day_of(year), day_of(year))


_HOLIDAYS: dict[str, Callable[[int], Span]] = {
    "christmas eve": _on(lambda y: date(y, 12, 24)),
    "christmas": _on(lambda y: date(y, 12, 25)),
    "new years eve": _on(lambda y: date(y, 12, 31)),
    "new years day": _on(lambda y: date(y, 1, 1)),
    "new years": _on(lambda y: date(y, 1, 1)),
    "new year": _on(lambda y: date(y, 1, 1)),
    "valentines day": _on(lambda y: date(y, 2, 14)),
    "valentines": _on(lambda y: date(y, 2, 14)),
    "easter": _on(easter),
    "holy week": lambda y: (easter(y) - timedelta(days=7), easter(y)),
    "ascension day": _on(_after_easter(39)),
    "back to school": lambda y: (date(y, 9, 1), date(y, 9, 10)),
    "halloween": _on(lambda y: date(y, 10, 31)),
    "black friday": _on(lambda y: _thanksgiving(y) + timedelta(days=1)),
    "cyber monday": _on(lambda y: _thanksgiving(y) + timedelta(days=4)),
    "st josephs day": _on(lambda y: date(y, 3, 19)),
    "fathers day": _on(lambda y: _nth_weekday(y, 6, 6, 3)),
    "fathers day in brazil": _on(lambda y: _nth_weekday(y, 8, 6, 2)),
    "mothers day": _on(lambda y: _nth_weekday(y, 5, 6, 2)),
    "mothering sunday": _on(_after_easter(-21)),
    "mothers day in france": _on(_mothers_day_in_france),
    "mothers day in spain": _on(lambda y: _nth_weekday(y, 5, 6, 1)),
    "mothers day in portugal": _on(lambda y: _nth_weekday(y, 5, 6, 1)),
}


def _range(match: re.Match[str], today: date) -> date | None:
    low = _count(match["low"]) if match["low"] else 1  # "the next week or two"
    high = _count(match["high"])
    if not 0 < low < high:
        return None
    return _midpoint(_shift(today, low, match["unit"]), _shift(today, high, match["unit"]))


def _duration(match: re.Match[str], today: date) -> date | None:
    if (
        match["unit"] == "day"
        and match["count"] in _ONE_DAY
        and not re.search(r"\b(?:in|within|by)\s$", match.string[: match.start()])
    ):
        return None  # "one day I'll treat myself", "un jour" is some day, not tomorrow
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
    span = _occurrence(_HOLIDAYS[match["holiday"]], match, today)
    if match["prep"] == "for" and span[0] > today:
        return span[0] - timedelta(days=1)  # a present for Christmas is there before Christmas
    return _pick(span, match, today)


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


def _weekday_of_week(match: re.Match[str], today: date) -> date | None:
    """That day of that week ("Friday next week", "next week on Friday"), if not past."""
    step = 1 if match["which"] in _NEXT else 0
    monday = today - timedelta(days=today.weekday()) + timedelta(weeks=step)
    day = monday + timedelta(days=_WEEKDAYS.index(match["weekday"]))
    return _pick((day, day), match, today)


def _weekday(match: re.Match[str], today: date) -> date | None:
    target = _WEEKDAYS.index(match["weekday"])
    ahead = (target - today.weekday()) % 7
    if ahead == 0 and match["which"] in _NEXT:
        ahead = 7
    day = today + timedelta(days=ahead)
    return _pick((day, day), match, today)


def _day_month(match: re.Match[str], today: date) -> date | None:
    word, number = match["month"], int(match["day"])
    month = _MONTHS[word]
    if not 1 <= number <= calendar.monthrange(2000, month)[1]:  # 2000 has a 29 February
        raise ValueError(f"no day {number} in {word}")  # "31 April", like "31/02"
    if (
        word in _AMBIGUOUS_MONTHS
        and not (match["prep"] or match["suffix"] or match["year"])
        and re.match(r"\s*\w", match.string[match.end() :])
    ):
        return None  # "may 3 people come" is no date
    if match["year"]:
        day = date(int(match["year"]), month, number)
        return _pick((day, day), match, today)
    year = today.year
    while number > calendar.monthrange(year, month)[1] or date(year, month, number) < today:
        year += 1  # this one is past, or 29 February waits for a leap year
    day = date(year, month, number)
    return _pick((day, day), match, today)


def _day_of_month(match: re.Match[str], today: date) -> date | None:
    number = int(match["day"])
    if not 1 <= number <= 31:
        return None
    if match["which"]:  # "the 15th of next month"
        start = date(today.year, today.month, 1)
        start += relativedelta(months=1 if match["which"] in _NEXT else 0)
        day = start.replace(day=number)  # ValueError for a 31st of a shorter month
        return _pick((day, day), match, today)
    for step in range(3):
        start = date(today.year, today.month, 1) + relativedelta(months=step)
        if number <= calendar.monthrange(start.year, start.month)[1]:
            day = start.replace(day=number)
            if day >= today:
                return _pick((day, day), match, today)
    return None


def _numeric_date(match: re.Match[str], today: date) -> date | None:
    groups = match.groupdict()
    if groups.get("iso_year"):
        day = date(int(match["iso_year"]), int(match["iso_month"]), int(match["iso_day"]))
        return _pick((day, day), match, today)
    year = groups.get("year")
    if match["sep"] == "." and not (year or groups.get("trail")):
        return None  # "1.5" is a decimal number, not 1 May; "1.5." is 1 May
    first, second = int(match["first"]), int(match["second"])
    # Day first (European), unless only month-first can be a date ("12/15").
    day_number, month = (second, first) if second > 12 >= first else (first, second)
    if year:
        day = date(int(year) + 2000 if int(year) < 100 else int(year), month, day_number)
    else:
        day = date(today.year, month, day_number)
        if day < today:
            day = date(today.year + 1, month, day_number)
    return _pick((day, day), match, today)


def _fixed(days: int) -> Callable[[re.Match[str], date], date | None]:
    return lambda _match, today: today + timedelta(days=days)


def _fixed_months(months: int) -> Callable[[re.Match[str], date], date | None]:
    return lambda _match, today: today + relativedelta(months=months)


_ONE_DAY = frozenset({"one", *ONE_ARTICLES})
_HOLIDAY = "|".join(sorted(_HOLIDAYS, key=len, reverse=True))
_WEEKDAY = "|".join(_WEEKDAYS)
_RULES: tuple[_Rule, ...] = (
    _Rule(
        re.compile(
            rf"\b{_PREP}(?:(?P<iso_year>\d{{4}})-(?P<iso_month>\d{{1,2}})-(?P<iso_day>\d{{1,2}})"
            r"|(?P<first>\d{1,2})(?P<sep>[/.])(?P<second>\d{1,2})(?:(?P=sep)(?P<year>\d{4}|\d{2}))?)"
            r"\b(?![/.]\d)"
        ),
        _numeric_date,
    ),
    _Rule(  # "am 20.3.": day and month, each with its dot
        re.compile(
            rf"\b{_PREP}(?P<first>\d{{1,2}})(?P<sep>\.)(?P<second>\d{{1,2}})(?P<trail>\.)(?![\d/.])"
        ),
        _numeric_date,
        strict_preps=frozenset({"on", "by", "until", "till", "til", "before", "after"}),
    ),
    _Rule(
        re.compile(
            rf"\b{_PREP}(?:the\s+)?(?P<day>\d{{1,2}})(?:(?P<suffix>st|nd|rd|th|er|o)\b|\.)?"
            rf"\s+(?:(?:of|de|di)\s+)?(?P<month>{_MONTH})\b(?:,?\s+(?P<year>\d{{4}}))?"
        ),
        _day_month,
    ),
    _Rule(
        re.compile(
            rf"\b{_PREP}(?P<month>{_MONTH})\s+(?:the\s+)?(?P<day>\d{{1,2}})"
            rf"(?P<suffix>st|nd|rd|th)?\b(?![/.:]\d)(?:,?\s+(?P<year>\d{{4}}))?"
        ),
        _day_month,
    ),
    _Rule(
        re.compile(
            rf"\b{_PREP}the\s+(?P<day>\d{{1,2}})(?:st|nd|rd|th)\b"
            rf"(?!\s+(?:of\s+)?(?:{_MONTH}|(?:day|week|weekend|month|quarter|year)s?)\b)"
            r"(?:\s+(?:(?:of|de|del|du|des|di|do|da)\s+)?(?:the\s+)?"
            r"(?P<which>this|next)\s+month\b)?"
        ),
        _day_of_month,
        strict_preps=frozenset({*_DEADLINE, "before", "after"}),
    ),
    _Rule(
        re.compile(rf"\b(?P<low>{_NUM})\s*(?:-|\u2013|to|or|and)\s*(?P<high>{_NUM})\s+{_UNIT}\b"),
        _range,
    ),
    _Rule(
        re.compile(
            r"\b(?:(?P<low>a|one)|the next)\s+(?P<unit>day|week|month|year)\s+or\s+"
            r"(?P<high>two|2|three|3)\b"
        ),
        _range,
    ),
    _Rule(re.compile(rf"\b(?P<count>{_NUM})\s+{_UNIT}\b"), _duration),
    _Rule(  # "within the next month": a month from today, not the calendar month after this one
        re.compile(r"\b(?:in|within|over)\s+the\s+next\s+(?P<unit>day|week|month|year)\b"),
        lambda match, today: _shift(today, 1, match["unit"]),
    ),
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
            rf"\b{_PREP}(?:the\s+)?(?P<weekday>{_WEEKDAY})s?,?\s+"
            r"(?:(?:of|in|de|del|della|di|da|do)\s+)?(?:the\s+)?"
            r"(?P<which>this|next|coming|following)\s+week\b"
        ),
        _weekday_of_week,
    ),
    _Rule(
        re.compile(
            rf"\b{_PREP}(?:the\s+)?(?P<which>this|next|coming|following)\s+week,?\s+"
            rf"(?:(?:on|el|le|il|o|a|na|no)\s+)?(?:the\s+)?(?P<weekday>{_WEEKDAY})\b"
        ),
        _weekday_of_week,
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
    _Rule(re.compile(rf"\b{_PREP}{_WHICH}(?P<weekday>{_WEEKDAY})s?\b"), _weekday),
)


def timeline_display(days: int, day: date) -> str:
    """A timeline as the bot reads it back: "in 3 days (Thu 10 Dec 2026)" (``day``: in ``days``)."""
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
