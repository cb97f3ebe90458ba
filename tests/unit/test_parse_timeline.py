from datetime import date, datetime, timedelta, timezone

import pytest

from bot.answers.timeline import parse_timeline, timeline_display

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
        ("for Christmas", 31),  # a present for Christmas is there the day before
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
        ("no rush, next month", 23),  # a time beats a browsing phrase
        ("just browsing today, next month", 23),
        ("I need it in Berlin by Friday", 4),
        ("nxt wk", 10),  # chat shorthand
        ("tomorow", 1),  # typo
        ("by firday", 4),
        ("before xmas", 31),
        ("a fortnight", 14),
        ("5 December 2027", 377),
        ("December 5th, 2027", 377),
        ("after December 5th", 13),  # the day after
        ("before the 5th of December", 11),
        ("29 February", 463),  # the next leap year's
        ("may 3", 161),  # "may" with a day is the month
        ("tmw", 1),
    ],
)
def test_parse_timeline_days(text: str, days: int) -> None:
    parsed = parse_timeline(text, NOW)
    assert parsed is not None
    assert parsed.value == {"days": days}
    day = NOW.date() + timedelta(days=days)
    assert parsed.display.endswith(f"({day:%a} {day.day} {day:%b %Y})")


@pytest.mark.parametrize(
    ("text", "days"),
    [
        # the examples shoppers wrote
        ("in zwei Wochen", 14),
        ("la semana que viene", 10),
        ("tra due settimane", 14),
        ("daqui a um mês", 30),  # a calendar month: 23 December
        # French
        ("aujourd'hui", 0),
        ("demain", 1),
        ("après-demain", 2),
        ("cette semaine", 3),
        ("la semaine prochaine", 10),
        ("dans 15 jours", 14),  # "15 days" is the French two weeks
        ("dans quinze jours", 14),
        ("dans huit jours", 7),  # and "8 days" one week
        ("dans 3 jours", 3),
        ("dans 2 semaines", 14),
        ("dans un mois", 30),
        ("dans 3 mois", 92),
        ("ce mois-ci", 3),
        ("le mois prochain", 23),
        ("d'ici la fin du mois", 7),
        ("fin du mois prochain", 38),
        ("avant Noël", 31),
        ("après Noël", 33),
        ("ce week-end", 5),
        ("le week-end prochain", 12),
        ("en avril", 143),
        ("début avril", 129),
        ("mi-avril", 143),
        ("le 15 décembre", 22),
        ("vendredi", 4),
        ("jusqu'à vendredi", 4),
        ("l'année prochaine", 221),
        ("dès que possible", 0),
        ("dans les prochains jours", 3),
        ("une semaine ou deux", 10),
        # German
        ("heute", 0),
        ("morgen", 1),
        ("übermorgen", 2),
        ("diese Woche", 3),
        ("nächste Woche", 10),
        ("in 3 Tagen", 3),
        ("in einer Woche", 7),
        ("zwei bis drei Wochen", 17),
        ("in 2 Monaten", 61),
        ("diesen Monat", 3),
        ("nächsten Monat", 23),
        ("Ende des Monats", 7),
        ("zum Monatsende", 7),
        ("vor Weihnachten", 31),
        ("nach Weihnachten", 33),
        ("am Wochenende", 5),
        ("im April", 143),
        ("Ende April", 158),
        ("am 15. Dezember", 22),
        ("bis Freitag", 4),
        ("so schnell wie möglich", 0),
        ("in den nächsten Wochen", 21),
        # Spanish
        ("hoy", 0),
        ("mañana", 1),
        ("esta semana", 3),
        ("la próxima semana", 10),
        ("en 15 días", 14),
        ("en 3 meses", 92),
        ("este mes", 3),
        ("el mes que viene", 23),
        ("a finales de mes", 7),
        ("antes de Navidad", 31),
        ("este fin de semana", 5),
        ("en abril", 143),
        ("15 de diciembre", 22),
        ("el viernes", 4),
        ("hasta el viernes", 4),
        ("lo antes posible", 0),
        # Italian
        ("oggi", 0),
        ("domani", 1),
        ("questa settimana", 3),
        ("la settimana prossima", 10),
        ("fra 3 giorni", 3),
        ("fra un mese", 30),
        ("questo mese", 3),
        ("il mese prossimo", 23),
        ("entro fine mese", 7),
        ("prima di Natale", 31),
        ("questo weekend", 5),
        ("ad aprile", 143),
        ("venerdì", 4),
        ("il prima possibile", 0),
        # Portuguese
        ("hoje", 0),
        ("amanhã", 1),
        ("esta semana", 3),
        ("semana que vem", 10),
        ("próxima semana", 10),
        ("daqui a 15 dias", 14),
        ("daqui a 3 meses", 92),
        ("este mês", 3),
        ("mês que vem", 23),
        ("no fim do mês", 7),
        ("antes do Natal", 31),
        ("este fim de semana", 5),
        ("em abril", 143),
        ("sexta-feira", 4),
        ("até sexta", 4),
        ("o mais rápido possível", 0),
        # accents are optional
        ("manana", 1),
        ("avant noel", 31),
        ("naechste Woche", 10),
        ("amanha", 1),
        ("des que possible", 0),
        ("so schnell wie moglich", 0),
        ("proxima semana", 10),
        ("venerdi", 4),
    ],
)
def test_parse_timeline_other_languages(text: str, days: int) -> None:
    parsed = parse_timeline(text, NOW)
    assert parsed is not None
    assert parsed.value == {"days": days}


@pytest.mark.parametrize(
    ("text", "days"),
    [
        ("nxt wek prob", 10),
        ("maybe next week", 10),
        ("probably tomorrow", 1),
        ("perhaps before Christmas", 31),
        ("not sure, next week", 10),  # a time beats the browsing phrase, the doubt stays
        ("I think next month", 23),
        ("no rush, maybe next month", 23),
        ("just browsing today, maybe next month", 23),
        ("je sais pas, peut-être le mois prochain", 23),
        ("probablement demain", 1),
        ("vielleicht nächste Woche", 10),
        ("wahrscheinlich morgen", 1),
        ("quizás la próxima semana", 10),
        ("tal vez mañana", 1),
        ("a lo mejor el mes que viene", 23),
        ("forse la settimana prossima", 10),
        ("magari domani", 1),
        ("talvez semana que vem", 10),
        ("provavelmente amanhã", 1),
    ],
)
def test_parse_timeline_uncertain(text: str, days: int) -> None:
    parsed = parse_timeline(text, NOW)
    assert parsed is not None
    assert parsed.value == {"days": days, "uncertain": True}
    assert parsed.display.startswith("maybe ")


def test_parse_timeline_no_problem_is_no_doubt() -> None:
    parsed = parse_timeline("no prob, next week", NOW)
    assert parsed is not None
    assert parsed.value == {"days": 10}


@pytest.mark.parametrize(
    "text",
    [
        "just browsing",
        "no plans",
        "not sure yet, just looking",
        "I don't know yet",
        "whenever",
        "whenever, no rush",
        "just browsing today",  # "today" here is not a purchase date
        "one day I'll treat myself",
        "je regarde juste",
        "pas pressé",
        "je sais pas",
        "un jour peut-être",  # some day, not tomorrow
        "ich schaue nur",
        "keine Eile",
        "keine Ahnung",
        "solo estoy mirando",
        "sin prisa",
        "no sé",
        "sto solo guardando",
        "nessuna fretta",
        "non lo so",
        "só estou a ver",
        "só olhando",
        "sem pressa",
        "não sei",
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
        "31 April",  # no such date
        "I may 3 people",  # "may" the verb
        "Guten Morgen",  # a greeting, not "tomorrow"
        "letzte Woche",
        "la semaine dernière",
        "il y a 2 semaines",
        "vor 2 Wochen",
        "hace un mes",
        "2 settimane fa",
        "ieri",
        "ontem",
        "whenever it goes on sale",  # a condition, no time
        "whenever the price is right",
        "whenever you have it in stock",
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
        ("what's the weather like in Paris today?", None),  # a question names no purchase day
        ("what's the weather like in Paris today", None),
        ("is it in stock today?", None),
        ("can you ship it asap?", None),
        ("can you deliver now?", None),
        ("quel temps fait-il à Paris aujourd'hui ?", None),
        ("I'd like to buy it today", 0),
        ("la semaine prochaine", 10),
        ("vor Weihnachten", 31),
        ("je regarde juste", None),
        ("Julio Iglesias", None),  # a name, not July
        ("Noël Dupont", None),  # a name, not Christmas
        ("sou de Natal", None),  # a town
        ("non compro mai", None),  # "never" in Italian
        ("Marco Rossi", None),
        ("due pezzi", None),  # "due" is two, with no time word
        ("Silvester Stallone", None),
        ("Guten Morgen, ich möchte eine Jacke", None),
        ("sexta", None),  # also "sixth"
    ],
)
def test_parse_timeline_strict(text: str, days: int | None) -> None:
    parsed = parse_timeline(text, NOW, strict=True)
    assert (parsed.value["days"] if parsed else None) == days


def test_parse_timeline_never_negative_and_display_names_the_day() -> None:
    parsed = parse_timeline("by Friday", NOW)
    assert parsed is not None
    assert parsed.display == "in 4 days (Fri 27 Nov 2026)"


@pytest.mark.parametrize(
    ("days", "said"),
    [
        (0, "right away"),
        (1, "tomorrow"),
        (13, "in 13 days"),
        # two weeks and more: rounded weeks, then months, then years
        (14, "in about 2 weeks"),
        (59, "in about 8 weeks"),
        (60, "in about 2 months"),
        (729, "in about 24 months"),
        (730, "in about 2 years"),
    ],
)
def test_timeline_display_says_how_far_and_the_day(days: int, said: str) -> None:
    day = date(2026, 11, 23) + timedelta(days=days)
    assert timeline_display(days, day) == f"{said} ({day:%a} {day.day} {day:%b %Y})"


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


@pytest.mark.parametrize(
    "text",
    ["un cadeau pour Noël", "zu Weihnachten", "para navidad", "per Natale", "é pro Natal"],
)
def test_a_present_for_christmas_is_bought_before_it_in_every_language(text: str) -> None:
    parsed = parse_timeline(text, NOW)
    assert parsed is not None and parsed.value["days"] == 31


@pytest.mark.parametrize(
    ("text", "days"),
    [
        # French: demain, week-end, prochain(e) as texted
        ("dm1 aprem", 1),
        ("dmain matin", 1),
        ("ce we si possible", 5),
        ("le w-e pro", 12),  # "pro" after the noun is "prochain": next weekend
        ("semaine pro", 10),
        ("début du mois pro", 8),  # 1 December
        ("l'an pro", 221),
        # German: "nä." is "nächste", "WE" the weekend after a cue
        ("nä. Monat", 23),
        ("nä Woche", 10),
        ("nächstes WE", 12),
        # Spanish: "finde" is the weekend, "q" is "que"
        ("para el finde", 5),
        ("el finde q viene", 12),
        ("el mes q viene", 23),
        # Portuguese: "fds" is the weekend, "prox"/"próx." is "próximo/próxima"
        ("no fds", 5),
        ("fds q vem", 12),
        ("prox mês", 23),
        ("próx. sexta", 4),
        ("semana q vem", 10),
        # Italian: "prox" and "pross." after the noun
        ("mese prox", 23),
        ("il weekend pross.", 12),
        ("pross. settimana", 10),
    ],
)
def test_texting_abbreviations_are_read_as_the_words_they_stand_for(text: str, days: int) -> None:
    parsed = parse_timeline(text, NOW)
    assert parsed is not None
    assert parsed.value == {"days": days}


@pytest.mark.parametrize(
    ("text", "days"),
    [
        # texted hedges: French p-ê/pê/ptet/ptêt, German vllt/vlt
        ("p-ê dm1", 1),
        ("pê en janvier", 54),
        ("ptet ce we", 5),
        ("ptêt la semaine pro", 10),
        ("vllt übermorgen", 2),
        ("vlt am WE", 5),
        # Spanish "igual" first is "maybe"
        ("igual mañana", 1),
        ("igual el finde", 5),
        # Portuguese "acho", French "normalement"/"sûrement", German "eventuell"/"evtl."
        ("em maio, acho eu", 174),
        ("amanhã, acho", 1),
        ("normalement dm1", 1),
        ("sûrement en janvier", 54),
        ("evtl. am Wochenende", 5),
        # after the time, anywhere in the message
        ("demain normalement", 1),
        ("nächste Woche eventuell", 10),
        ("a dicembre probabilmente", 23),
        ("la semana que viene quizás", 10),
        ("next month probably", 23),
        ("Ende des Monats vllt", 7),
    ],
)
def test_hedges_anywhere_mark_the_day_uncertain(text: str, days: int) -> None:
    parsed = parse_timeline(text, NOW)
    assert parsed is not None
    assert parsed.value == {"days": days, "uncertain": True}


@pytest.mark.parametrize(
    ("text", "days"),
    [
        ("igual que siempre, el mes que viene", 23),  # "igual que" is "same as"
        ("me da igual, mañana", 1),  # "igual" not first
        ("ja, morgen", 1),  # German "yes", not Portuguese "já"
    ],
)
def test_words_that_only_look_like_hedges_leave_the_day_certain(text: str, days: int) -> None:
    parsed = parse_timeline(text, NOW)
    assert parsed is not None
    assert parsed.value == {"days": days}


@pytest.mark.parametrize(
    ("text", "days"),
    [
        # Portugal: "para a semana", "para o mês", "para o ano" are next week, month, year
        ("só para a semana", 10),
        ("para o mês", 23),
        ("para o ano", 221),
        ("para o ano novo", 38),  # for New Year: the day before it
        # "qui vient": the coming one; "dans le ... qui vient": within one from today
        ("la semaine qui vient", 10),
        ("l'année qui vient", 221),
        ("dans la semaine qui vient", 7),
        ("innerhalb der nächsten Woche", 7),
        ("el próximo mes", 23),
        # English "in/within/over the next month": a month from today (23 December)
        ("sometime in the next month", 30),
        ("over the next week", 7),
        ("within the next year", 365),
        ("in the next month or two", 45),  # range: 23 December to 23 January
        # "the coming days/weeks" said after the noun
        ("dans les semaines qui viennent", 21),
        ("nei giorni a venire", 3),
        ("nos dias que vêm", 3),
    ],
)
def test_the_next_week_or_month_in_every_language(text: str, days: int) -> None:
    parsed = parse_timeline(text, NOW)
    assert parsed is not None
    assert parsed.value == {"days": days}


@pytest.mark.parametrize(
    ("text", "days"),
    [
        ("Saturday next week", 12),  # 5 December, not next week's midpoint (10)
        ("next week on Monday", 7),
        ("by Wednesday next week", 9),
        ("Saturday this week", 5),
        ("samedi de la semaine pro", 12),
        ("Montag nächster Woche", 7),
        ("nächste Woche am Montag", 7),
        ("el lunes de la semana que viene", 7),
        ("il sabato della settimana prossima", 12),
        ("sábado da próxima semana", 12),
    ],
)
def test_a_weekday_of_a_named_week_is_that_day(text: str, days: int) -> None:
    parsed = parse_timeline(text, NOW)
    assert parsed is not None
    assert parsed.value == {"days": days}


@pytest.mark.parametrize(
    ("text", "days"),
    [
        ("le 28", 5),  # this month's 28th is still ahead
        ("le 3", 10),  # this month's 3rd is past: 3 December
        ("le 1er", 8),
        ("am 28.", 5),
        ("el 2", 9),
        ("il 30", 7),
        ("dia 4", 11),
        ("até dia 20", 27),
        ("entro il 20", 27),
        ("bis zum 20.", 27),
        ("avant le 28", 4),  # the day before
        ("the 27th", 4),
        ("on the 9th", 16),
        ("the 25th of next month", 32),
        ("el 25 del mes que viene", 32),
        ("am 28. nächsten Monats", 35),
        # day and month with a dot each, day first
        ("am 6.1.", 44),
        ("14.2.", 83),
        ("bis 2.12.", 9),
        ("le 2/1", 40),
    ],
)
def test_a_day_of_the_month_alone_is_the_next_one_not_past(text: str, days: int) -> None:
    parsed = parse_timeline(text, NOW)
    assert parsed is not None
    assert parsed.value == {"days": days}


@pytest.mark.parametrize(
    "text",
    [
        "el 15%",  # a share, not a day
        "le 15 euros",
        "I am 15",
        "20.3",  # a decimal number
    ],
)
def test_numbers_after_an_article_that_are_no_day(text: str) -> None:
    assert parse_timeline(text, NOW) is None


@pytest.mark.parametrize(
    ("text", "days"),
    [
        # seasons: summer 2027 (midpoint 235), spring 2027 (143), this winter (52), the
        # rest of this autumn (3), next autumn (327)
        ("l'été prochain", 235),
        ("en hiver", 52),
        ("avant l'été", 189),
        ("im Frühjahr", 143),
        ("diesen Herbst", 3),
        ("nächsten Herbst", 327),
        ("Ende des Sommers", 281),
        ("a finales del verano", 281),
        ("esta primavera", 143),
        ("in autunno", 3),
        ("quest'inverno", 52),
        ("fine estate", 281),
        ("in estate", 235),
        ("no inverno", 52),
        ("antes do verão", 189),
        ("neste outono", 3),
        # la rentrée: the first days of September 2027
        ("à la rentrée", 286),
        ("après la rentrée", 292),
        # Holy Week 2027: Palm Sunday 21 March to Easter Sunday 28 March
        ("Semaine sainte", 121),
        ("in der Karwoche", 121),
        ("antes de Semana Santa", 117),
        ("per Pasqua", 124),  # a present for Easter
        ("para a Páscoa", 124),
        # Father's Day: 20 June 2027 (France, English), Ascension Day 6 May (Germany),
        # Saint Joseph's Day 19 March (Spain, Italy, Portugal), 8 August (Brazil)
        ("fête des pères", 209),
        ("Father's Day", 209),
        ("am Vatertag", 164),
        ("Día del Padre", 116),
        ("dia do pai", 116),
        ("dia dos pais", 258),
        # Mother's Day: 9 May 2027 (English, Germany, Italy, Brazil), 30 May (France),
        # 2 May (Spain, Portugal), Mothering Sunday 7 March (UK)
        ("Mother's Day", 167),
        ("Muttertag", 167),
        ("festa della mamma", 167),
        ("dia das mães", 167),
        ("fête des mères", 188),
        ("Día de la Madre", 160),
        ("Dia da Mãe", 160),
        ("Mothering Sunday", 104),
    ],
)
def test_seasons_and_holidays_in_every_language(text: str, days: int) -> None:
    parsed = parse_timeline(text, NOW)
    assert parsed is not None
    assert parsed.value == {"days": days}


@pytest.mark.parametrize(
    ("text", "days"),
    [
        ("un cadeau pour la fête des pères", 208),
        ("Geschenk zum Muttertag", 166),
        ("regalo per la festa del papà", 115),
        ("para el día de la madre", 159),
        ("um presente para o dia da mãe", 159),
        ("for Father's Day", 208),
        ("pour la rentrée", 281),  # 31 August
        ("para Semana Santa", 117),
    ],
)
def test_a_present_for_a_holiday_is_bought_the_day_before(text: str, days: int) -> None:
    parsed = parse_timeline(text, NOW)
    assert parsed is not None
    assert parsed.value == {"days": days}


def test_french_mothers_day_moves_a_week_when_it_falls_on_pentecost() -> None:
    # In 2023 Pentecost was 28 May, the last Sunday of May: Mother's Day was 4 June.
    parsed = parse_timeline("fête des mères", datetime(2023, 5, 1, tzinfo=timezone.utc))
    assert parsed is not None
    assert parsed.value == {"days": 34}


@pytest.mark.parametrize(
    ("text", "days"),
    [
        # "May" and "March" are also everyday words: "around" is a cue that they are months
        ("autour de mai", 174),  # 16 May 2027
        ("por volta de maio", 174),
        ("hacia mayo", 174),
        ("about May", 174),
        ("lá pra março", 113),  # 16 March 2027
        ("so gegen März", 113),
        ("intorno a marzo", 113),
        ("sobre marzo", 113),
        ("around March", 113),
        ("vers juin", 204),
    ],
)
def test_around_a_month_is_that_month(text: str, days: int) -> None:
    parsed = parse_timeline(text, NOW)
    assert parsed is not None
    assert parsed.value == {"days": days}


@pytest.mark.parametrize(
    "text",
    [
        "ya!!!",
        "ya ya",
        "Ya 😅",
        "lo quiero ya",
        "necesito ya mismo",
        "já!",
        "já já",
        "preciso já",
        "subito!",
        "lo voglio subito",
        "sofort bitte",
        "tout de suite svp",
        # a chat filler ending the message
        "ya jajaja",
        "já kkkk",
        "now lol",
        "asap haha",
        "ahora mismo jaja",
    ],
)
def test_now_in_every_language(text: str) -> None:
    parsed = parse_timeline(text, NOW)
    assert parsed is not None
    assert parsed.value == {"days": 0}


@pytest.mark.parametrize(
    ("text", "days"),
    [
        ("may 5 lol", 163),  # "may" with a day at the end of the message is the month
        ("march 3 haha", 100),
        ("demain mdr", 1),
        ("amanhã kkkk", 1),
        ("domani ahahah", 1),
        ("morgen xD", 1),
    ],
)
def test_chat_fillers_ending_a_message_are_ignored(text: str, days: int) -> None:
    parsed = parse_timeline(text, NOW)
    assert parsed is not None
    assert parsed.value == {"days": days}


@pytest.mark.parametrize(
    "text",
    [
        "ja",  # German "yes"
        "ho subito un furto",  # "suffered"
        "ya lo compré",  # "already"
        "já comprei",
        "j'ai été malade",  # "been", not summer
        "in estate road",
    ],
)
def test_words_that_are_no_time_in_their_sentence(text: str) -> None:
    assert parse_timeline(text, NOW) is None


@pytest.mark.parametrize(
    "text",
    [
        "sto solo curiosando",
        "solo sto dando un'occhiatina",
        "je jette juste un œil",
        "je me renseigne",
        "bin nur am Gucken",
        "ich sehe mich nur um",
        "só estou a espreitar",
        "tou só a dar uma olhadela",
        "estoy solo echando un vistazo",
        "solo curioseando",
        "just checking",
        "just looking around",
    ],
)
def test_browsing_in_every_language(text: str) -> None:
    parsed = parse_timeline(text, NOW)
    assert parsed is not None
    assert parsed.value == {"days": None, "browsing": True}


@pytest.mark.parametrize(
    ("text", "days"),
    [
        ("ya", None),  # "now" alone is too loose when scanning
        ("já", None),
        ("subito", None),
        ("peut-être", None),  # a hedge alone names no day
        ("vllt", None),
        ("le 28", None),  # a day of the month needs a deadline word
        ("dia 4", None),
        ("I live on the 2nd floor", None),
        ("the 3rd one please", None),
        ("20.3.", None),
        ("Lisa Sommer", None),  # a name
        ("in estate road 5", None),  # an address
        ("avant le 28", 4),
        ("by the 27th", 4),
        ("bis 20.3.", 117),
        ("la semaine pro", 10),
        ("Saturday next week", 12),
        ("lo voglio subito", 0),
    ],
)
def test_strict_mode_stays_strict(text: str, days: int | None) -> None:
    parsed = parse_timeline(text, NOW, strict=True)
    assert (parsed.value["days"] if parsed else None) == days
