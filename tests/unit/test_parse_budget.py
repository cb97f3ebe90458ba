from decimal import Decimal

import pytest

from bot.answers.budget import amount_text, parse_budget, plain_amount


@pytest.mark.parametrize(
    ("text", "amount", "currency"),
    [
        ("500", "500", "EUR"),
        ("500 EUR", "500", "EUR"),
        ("500 eur", "500", "EUR"),
        ("500usd", "500", "USD"),
        ("80€", "80", "EUR"),
        ("€ 80", "80", "EUR"),
        ("€1.2k", "1200", "EUR"),
        ("1,200 euros", "1200", "EUR"),
        ("1.200,50 €", "1200.50", "EUR"),  # European separators
        ("1\u00a0200 €", "1200", "EUR"),  # no-break space as thousands separator
        ("2 400 €", "2400", "EUR"),  # a plain space, right before the currency
        ("£50", "50", "GBP"),
        ("$99.99", "99.99", "USD"),
        ("around 300 bucks", "300", "USD"),
        ("300 quid", "300", "GBP"),
        ("CHF 200", "200", "CHF"),
        ("CHF200", "200", "CHF"),
        ("SEK 500", "500", "SEK"),
        ("five hundred", "500", "EUR"),
        ("two thousand five hundred euros", "2500", "EUR"),
        ("two hundred and fifty", "250", "EUR"),
        ("fifty quid", "50", "GBP"),
        ("a few hundred", "300", "EUR"),  # "a few" is 3 everywhere
        ("about 150", "150", "EUR"),
        ("actually my budget is 500", "500", "EUR"),
        ("I can spend 300 on this", "300", "EUR"),
        ("I have 2 kids and 300 euros", "300", "EUR"),  # "2 kids" counts kids
        ("500 sounds fine", "500", "EUR"),
        ("€2m", "2000000", "EUR"),
        ("my budget is 300 and I need it in 2 weeks", "300", "EUR"),
    ],
)
def test_parse_budget_amounts(text: str, amount: str, currency: str) -> None:
    parsed = parse_budget(text, default_currency="EUR")
    assert parsed is not None
    assert parsed.value == {"amount": Decimal(amount), "currency": currency}


@pytest.mark.parametrize(
    ("text", "low", "high", "currency"),
    [
        ("between 200 and 400", "200", "400", "EUR"),
        ("200-400€", "200", "400", "EUR"),
        ("200 to 400", "200", "400", "EUR"),
        ("£200 \u2013 £400", "200", "400", "GBP"),
        ("between two hundred and four hundred", "200", "400", "EUR"),
        ("between 400 and 200", "200", "400", "EUR"),  # ends in either order
        ("$99.99-150", "99.99", "150", "USD"),
    ],
)
def test_parse_budget_ranges_use_the_midpoint(
    text: str, low: str, high: str, currency: str
) -> None:
    parsed = parse_budget(text, default_currency="EUR")
    assert parsed is not None
    middle = ((Decimal(low) + Decimal(high)) / 2).quantize(Decimal("0.01"))
    assert parsed.value["amount"] == middle
    assert parsed.value["min"] == Decimal(low)
    assert parsed.value["max"] == Decimal(high)
    assert parsed.value["currency"] == currency


@pytest.mark.parametrize(
    ("text", "amount", "bound"),
    [
        ("no more than 250", "250", "max"),
        ("under 100", "100", "max"),
        ("up to 1k", "1000", "max"),
        ("max 80", "80", "max"),
        ("300 tops", "300", "max"),
        ("at least 200", "200", "min"),
        ("500+", "500", "min"),
        # The flow's own buttons: the currency sits between the bound word and the number.
        ("Under €50", "50", "max"),
        ("Over €150", "150", "min"),
        ("at least € 200", "200", "min"),
        # ... or between the number and the bound word.
        ("30 euros tops", "30", "max"),
        ("80€ max", "80", "max"),
        ("200 EUR or more", "200", "min"),
    ],
)
def test_parse_budget_bounds(text: str, amount: str, bound: str) -> None:
    parsed = parse_budget(text, default_currency="EUR")
    assert parsed is not None
    assert parsed.value == {"amount": Decimal(amount), "currency": "EUR", bound: Decimal(amount)}


@pytest.mark.parametrize(
    "text",
    [
        "size 42",
        "EU 42",
        "in 3 weeks",
        "in 2-3 weeks",
        "2 to 3 weeks",
        "30L backpack",
        "2 person tent",
        "100%",
        "20 years old",
        "zip 75001",
        "0612345678",  # a phone number
        "+33 6 12 34 56 78",
        "on 2026-12-20",
        "10:30",
        "15/12",
        "the 2nd",
        "the blue one",
        "0",
        "€0",
        "20000000",  # 10 million or more
        "12,000,000 €",
        "1m",  # metres, most likely
        "",
        "🙂",
        "<b>500</b>",
        "500 " * 200,
    ],
)
def test_parse_budget_none(text: str) -> None:
    assert parse_budget(text, default_currency="EUR") is None


@pytest.mark.parametrize(
    ("text", "amount"),
    [
        ("actually my budget is 500", "500"),
        ("500 EUR", "500"),
        ("around 300", "300"),
        ("I could afford 250", "250"),
        ("max 80", "80"),
        ("blue hoodie in M, up to 70€", "70"),
        ("I need 3 hoodies, budget 100", "100"),  # "3 hoodies" counts hoodies
        ("budget 500 max", "500"),
        ("500", None),  # a bare number may answer another question
        ("five hundred", None),
        ("between 200 and 400", None),
        ("size 42", None),
        ("in 3 weeks", None),
        ("30L backpack", None),
        ("2 person tent", None),
    ],
)
def test_parse_budget_strict(text: str, amount: str | None) -> None:
    parsed = parse_budget(text, default_currency="EUR", strict=True)
    assert (parsed.value["amount"] if parsed else None) == (Decimal(amount) if amount else None)


def test_parse_budget_default_currency_and_display() -> None:
    parsed = parse_budget("1200", default_currency="gbp")
    assert parsed is not None
    assert parsed.value == {"amount": Decimal(1200), "currency": "GBP"}
    assert parsed.display == "1,200 GBP"


@pytest.mark.parametrize(
    ("amount", "plain", "text"),
    [
        # whole amounts lose their zeros and gain thousands separators
        ("1200.00", "1200", "1,200"),
        ("1299", "1299", "1,299"),
        # cents stay, two digits
        ("99.90", "99.90", "99.90"),
        ("12.5", "12.5", "12.50"),
        ("0.10", "0.10", "0.10"),
    ],
)
def test_amounts_as_the_bot_reads_them_back(amount: str, plain: str, text: str) -> None:
    assert str(plain_amount(Decimal(amount))) == plain
    assert amount_text(plain_amount(Decimal(amount))) == text


def test_parse_budget_currency_named_elsewhere_in_the_text() -> None:
    parsed = parse_budget("in dollars, about 300", default_currency="EUR")
    assert parsed is not None
    assert parsed.value["currency"] == "USD"


def test_parse_budget_range_display() -> None:
    parsed = parse_budget("200-400€", default_currency="EUR")
    assert parsed is not None
    assert parsed.display == "200\u2013400 EUR"


@pytest.mark.parametrize(
    ("text", "amount", "bound", "currency"),
    [
        # A negated "more than" is a ceiling, not a floor.
        ("I don't want to spend more than 160", "160", "max", "EUR"),
        ("I can't go over 200", "200", "max", "EUR"),
        ("not more than 100", "100", "max", "EUR"),
        ("not less than 100", "100", "min", "EUR"),
        ("I don't mind spending over 500", "500", "min", "EUR"),  # no limit, a floor
        ("below 90", "90", "max", "EUR"),
        ("at most 80", "80", "max", "EUR"),
        ("ceiling of 200", "200", "max", "EUR"),
        ("maximum 300", "300", "max", "EUR"),
        ("70 tops", "70", "max", "EUR"),
        ("more than 200", "200", "min", "EUR"),
        ("over 200", "200", "min", "EUR"),
        ("minimum 200", "200", "min", "EUR"),
        # French
        ("pas plus de 160 €", "160", "max", "EUR"),
        ("je ne veux pas dépenser plus de 160 euros", "160", "max", "EUR"),
        ("maximum 200 euros", "200", "max", "EUR"),
        ("au plus 200 €", "200", "max", "EUR"),
        ("jusqu'à 200 €", "200", "max", "EUR"),
        ("jusqu\u2019à 200 €", "200", "max", "EUR"),  # typographic apostrophe
        ("moins de 100 euros", "100", "max", "EUR"),
        ("au moins 200 €", "200", "min", "EUR"),
        ("plus de 200 €", "200", "min", "EUR"),
        # German
        ("höchstens 200 Euro", "200", "max", "EUR"),
        ("maximal 200 Euro", "200", "max", "EUR"),
        ("bis zu 200 Euro", "200", "max", "EUR"),
        ("nicht mehr als 200 Euro", "200", "max", "EUR"),
        ("unter 100 Euro", "100", "max", "EUR"),
        ("ich will nicht über 200 Euro ausgeben", "200", "max", "EUR"),
        ("mindestens 200 Euro", "200", "min", "EUR"),
        ("über 200 Euro", "200", "min", "EUR"),
        # Spanish
        ("como máximo 200 euros", "200", "max", "EUR"),
        ("no más de 200 euros", "200", "max", "EUR"),
        ("hasta 200 euros", "200", "max", "EUR"),
        ("menos de 100 euros", "100", "max", "EUR"),
        ("no quiero gastar más de 160 euros", "160", "max", "EUR"),
        ("al menos 200 euros", "200", "min", "EUR"),
        ("más de 200 euros", "200", "min", "EUR"),
        # Italian
        ("al massimo 200 euro", "200", "max", "EUR"),
        ("non più di 200 euro", "200", "max", "EUR"),
        ("fino a 200 euro", "200", "max", "EUR"),
        ("meno di 100 euro", "100", "max", "EUR"),
        ("almeno 200 euro", "200", "min", "EUR"),
        ("più di 200 euro", "200", "min", "EUR"),
        # Portuguese
        ("no máximo 200 reais", "200", "max", "BRL"),
        ("não mais de 200 reais", "200", "max", "BRL"),
        ("até 200 reais", "200", "max", "BRL"),
        ("menos de 100 reais", "100", "max", "BRL"),
        ("pelo menos 200 euros", "200", "min", "EUR"),
        ("mais de 200 euros", "200", "min", "EUR"),
    ],
)
def test_parse_budget_bounds_in_six_languages(
    text: str, amount: str, bound: str, currency: str
) -> None:
    parsed = parse_budget(text, default_currency="EUR")
    assert parsed is not None
    assert parsed.value == {"amount": Decimal(amount), "currency": currency, bound: Decimal(amount)}


@pytest.mark.parametrize(
    ("text", "low", "high", "currency"),
    [
        ("entre 100 et 150 €", "100", "150", "EUR"),
        ("zwischen 100 und 150", "100", "150", "EUR"),
        ("entre 120 y 180", "120", "180", "EUR"),
        ("tra 100 e 150", "100", "150", "EUR"),
        ("entre 100 e 150 reais", "100", "150", "BRL"),
        ("100 à 150", "100", "150", "EUR"),
        ("von 100 bis 150", "100", "150", "EUR"),
        ("de 100 a 150", "100", "150", "EUR"),
        ("da 100 a 150", "100", "150", "EUR"),
        # The multiplier said once counts for both ends.
        ("two to four hundred bucks", "200", "400", "USD"),
        ("between two and four hundred", "200", "400", "EUR"),
        ("2-4k", "2000", "4000", "EUR"),
        ("zwei- bis dreihundert Euro", "200", "300", "EUR"),
        # In words, an "and" joins two numbers, not the parts of one.
        ("entre deux cents et trois cents euros", "200", "300", "EUR"),
        ("entre cien y doscientos euros", "100", "200", "EUR"),
        ("entre duzentos e trezentos reais", "200", "300", "BRL"),
    ],
)
def test_parse_budget_ranges_in_six_languages(
    text: str, low: str, high: str, currency: str
) -> None:
    parsed = parse_budget(text, default_currency="EUR")
    assert parsed is not None
    assert (parsed.value["min"], parsed.value["max"]) == (Decimal(low), Decimal(high))
    assert parsed.value["currency"] == currency


@pytest.mark.parametrize(
    ("text", "amount", "currency"),
    [
        # An approximation is a plain amount.
        ("environ 200 €", "200", "EUR"),
        ("ungefähr 200 Euro", "200", "EUR"),
        ("etwa 200 Euro", "200", "EUR"),
        ("unos 200 euros", "200", "EUR"),
        ("alrededor de 200 euros", "200", "EUR"),
        ("circa 200 euro", "200", "EUR"),
        ("cerca de 200 euros", "200", "EUR"),
        ("mais ou menos 200 euros", "200", "EUR"),
        ("plus ou moins 200 euros", "200", "EUR"),
        # Numbers in words.
        ("quatre cents euros", "400", "EUR"),
        ("trois cent cinquante", "350", "EUR"),
        ("quatre-vingt-dix euros", "90", "EUR"),
        ("mille deux cents euros", "1200", "EUR"),
        ("zweihundert Euro", "200", "EUR"),
        ("zweihundertfünfzig", "250", "EUR"),
        ("tausend", "1000", "EUR"),
        ("doscientos euros", "200", "EUR"),
        ("trescientos", "300", "EUR"),
        ("dos mil quinientos euros", "2500", "EUR"),
        ("duecento euro", "200", "EUR"),
        ("duemilacinquecento euro", "2500", "EUR"),
        ("quinhentos reais", "500", "BRL"),
        ("mil euros", "1000", "EUR"),
        ("cent euros", "100", "EUR"),
        ("2 mil euros", "2000", "EUR"),  # "mil" multiplies the digits before it
        # "a few hundred" is 300 in every language, as in English
        ("ein paar hundert Euro", "300", "EUR"),
        ("quelques centaines d'euros", "300", "EUR"),
        ("unos cientos de euros", "300", "EUR"),
        ("qualche centinaio di euro", "300", "EUR"),
        ("algumas centenas de reais", "300", "BRL"),
        ("ein paar tausend Euro", "3000", "EUR"),
        # Words that are numbers elsewhere are not read as numbers here.
        ("I once paid 300", "300", "EUR"),
        ("a real budget of 300", "300", "EUR"),
        # Currencies by symbol, code and name.
        ("3000 rubles", "3000", "RUB"),
        ("3000 ₽", "3000", "RUB"),
        ("3 000 ₽", "3000", "RUB"),
        ("3000 \u0440\u0443\u0431", "3000", "RUB"),
        ("3000 RUB", "3000", "RUB"),
        ("R$ 300", "300", "BRL"),
        ("300 reais", "300", "BRL"),
        ("300 BRL", "300", "BRL"),
        ("300 zł", "300", "PLN"),
        ("300 złoty", "300", "PLN"),
        ("300 PLN", "300", "PLN"),
        ("300 Kč", "300", "CZK"),
        ("CZK 300", "300", "CZK"),
        ("Fr. 300", "300", "CHF"),
        ("300 francs suisses", "300", "CHF"),
        ("¥30000", "30000", "JPY"),
        ("30000 yen", "30000", "JPY"),
        ("JPY 30000", "30000", "JPY"),
        ("₹5000", "5000", "INR"),
        ("300 livres", "300", "GBP"),
        ("300 Pfund", "300", "GBP"),
        ("300 libras", "300", "GBP"),
        ("300 sterline", "300", "GBP"),
        ("300 pounds", "300", "GBP"),
        ("300 $", "300", "USD"),
        ("300 dollars", "300", "USD"),
        ("300 dólares", "300", "USD"),
        ("300 dollari", "300", "USD"),
        ("C$300", "300", "CAD"),
        ("300 CAD", "300", "CAD"),
        ("300 canadian dollars", "300", "CAD"),
        ("300 dollars canadiens", "300", "CAD"),
        ("A$300", "300", "AUD"),
        ("300 AUD", "300", "AUD"),
        ("500 kronor", "500", "SEK"),
        ("500 kr, I live in Stockholm", "500", "SEK"),
        ("500 kr in Denmark", "500", "DKK"),
        ("500 kroner, from Oslo", "500", "NOK"),
        ("500 NOK", "500", "NOK"),
        ("300 Euro", "300", "EUR"),
        ("300 euri", "300", "EUR"),
        ("300 eur", "300", "EUR"),
    ],
)
def test_parse_budget_words_and_currencies(text: str, amount: str, currency: str) -> None:
    parsed = parse_budget(text, default_currency="EUR")
    assert parsed is not None
    assert parsed.value == {"amount": Decimal(amount), "currency": currency}


@pytest.mark.parametrize(
    "text",
    [
        "500 kr",  # Swedish, Danish or Norwegian: the bot asks again
        "500 kroner",  # Danish or Norwegian
        "300 pesos",  # which country's
        "I have 300, in euros or dollars",
        "two or three hoodies",
        "in zwei Wochen",
        "dans 4 semaines",
        "2 à 3 semaines",
    ],
)
def test_parse_budget_none_rather_than_a_wrong_currency_or_a_count(text: str) -> None:
    assert parse_budget(text, default_currency="EUR") is None


def test_parse_budget_keeps_the_shop_currency_only_when_none_is_written() -> None:
    parsed = parse_budget("3000", default_currency="RUB")
    assert parsed is not None
    assert parsed.value == {"amount": Decimal(3000), "currency": "RUB"}


@pytest.mark.parametrize(
    ("text", "shop_currency", "currency"),
    [
        ("500 kr", "SEK", "SEK"),  # a Swedish shop's own crowns
        ("500 kroner", "DKK", "DKK"),
        ("500 kr, from Oslo", "SEK", "NOK"),  # the country named wins
    ],
)
def test_parse_budget_crowns_of_the_shop(text: str, shop_currency: str, currency: str) -> None:
    parsed = parse_budget(text, default_currency=shop_currency)
    assert parsed is not None
    assert parsed.value == {"amount": Decimal(500), "currency": currency}


def test_parse_budget_a_word_ending_like_a_context_word_is_no_context() -> None:
    # "bonus" ends in "us" (as in "US 42", a shoe size) but is a word of its own.
    parsed = parse_budget("my bonus 300", default_currency="EUR")
    assert parsed is not None
    assert parsed.value == {"amount": Decimal(300), "currency": "EUR"}


@pytest.mark.parametrize(
    ("text", "shop_currency", "currency"),
    [
        # Slang for everyday money is euros where it is spoken.
        ("genre 60 balles", "EUR", "EUR"),
        ("30 Mäuse reichen", "EUR", "EUR"),
        ("so 40 Kröten", "EUR", "EUR"),
        ("unos 90 pavos", "EUR", "EUR"),
        ("uns 70 paus", "EUR", "EUR"),
        ("45 balles", "GBP", "EUR"),  # whatever the shop sells in
        # Swiss "balles" are francs, Brazilian "paus" reais.
        ("45 balles", "CHF", "CHF"),
        ("45 balles, j'habite à Lausanne", "EUR", "CHF"),
        ("uns 70 paus, moro no Brasil", "EUR", "BRL"),
    ],
)
def test_parse_budget_slang_money(text: str, shop_currency: str, currency: str) -> None:
    parsed = parse_budget(text, default_currency=shop_currency)
    assert parsed is not None
    assert parsed.value["currency"] == currency


@pytest.mark.parametrize(
    "text",
    [
        "45 balles",  # a currency word: no budget word needed
        "30 Mäuse",
        "90 pavos",
    ],
)
def test_parse_budget_slang_money_counts_in_strict_mode(text: str) -> None:
    assert parse_budget(text, default_currency="EUR", strict=True) is not None


@pytest.mark.parametrize(
    "text",
    ["mes enfants jouent aux balles", "wir haben Mäuse im Keller", "los pavos de Navidad"],
)
def test_parse_budget_slang_words_away_from_a_number_are_no_money(text: str) -> None:
    assert parse_budget(text, default_currency="EUR", strict=True) is None


@pytest.mark.parametrize(
    ("text", "amount", "currency"),
    [
        # A bound word after the amount, with a dot or an intensifier.
        ("250 € max.", "250", "EUR"),
        ("60 € maxi", "60", "EUR"),
        ("90 maxi pour le sac", "90", "EUR"),
        ("2.000 € grand max", "2000", "EUR"),
        ("120 grand maximum", "120", "EUR"),  # French, not 120,000
        ("max. 75 CHF", "75", "CHF"),
        ("120 CHF max.", "120", "CHF"),
        ("95 au grand max", "95", "EUR"),
        ("70 € tout au plus", "70", "EUR"),
        ("65 höchstens", "65", "EUR"),
        ("140 € a lo sumo", "140", "EUR"),
        ("85 euro al massimo", "85", "EUR"),
        ("110 € no máximo", "110", "EUR"),
        ("3 grand max", "3000", "EUR"),  # a single digit: English thousands
        ("a grand max", "1000", "EUR"),
    ],
)
def test_parse_budget_ceiling_after_the_amount(text: str, amount: str, currency: str) -> None:
    parsed = parse_budget(text, default_currency="EUR")
    assert parsed is not None
    assert parsed.value == {"amount": Decimal(amount), "currency": currency, "max": Decimal(amount)}


@pytest.mark.parametrize(
    ("text", "amount"),
    [
        ("65 höchstens", "65"),  # the bound word may follow a bare number
        ("60 € maxi", "60"),
        ("90 maxi", "90"),
        ("max. 75", "75"),
    ],
)
def test_parse_budget_ceiling_after_the_amount_in_strict_mode(text: str, amount: str) -> None:
    parsed = parse_budget(text, default_currency="EUR", strict=True)
    assert parsed is not None
    assert parsed.value["max"] == Decimal(amount)


@pytest.mark.parametrize(
    ("text", "low", "high"),
    [
        # A floor and a ceiling in one message.
        ("mini 40, maxi 90", "40", "90"),
        ("min 30 max 60", "30", "60"),
        ("min. 30 € max. 60 €", "30", "60"),
        ("mindestens 25, höchstens 45", "25", "45"),
        ("at least 120 but at most 200", "120", "200"),
        ("al menos 50 y como mucho 80", "50", "80"),
        ("40 € minimum, 70 € maximum", "40", "70"),
    ],
)
def test_parse_budget_floor_and_ceiling_make_a_range(text: str, low: str, high: str) -> None:
    parsed = parse_budget(text, default_currency="EUR")
    assert parsed is not None
    assert (parsed.value["min"], parsed.value["max"]) == (Decimal(low), Decimal(high))


@pytest.mark.parametrize(
    "text",
    [
        "10 mini tents",  # "mini" in a product name is no floor
        "I want 2 maxi dresses",
    ],
)
def test_parse_budget_mini_and_maxi_in_product_names(text: str) -> None:
    assert parse_budget(text, default_currency="EUR", strict=True) is None
    parsed = parse_budget(text, default_currency="EUR")
    assert parsed is None or ("min" not in parsed.value and "max" not in parsed.value)


@pytest.mark.parametrize(
    ("text", "amount"),
    [
        # Approximations are plain amounts.
        ("60-ish", "60"),
        ("around 80ish", "80"),
        ("~120", "120"),
        ("ca. 130,-", "130"),
        ("130,- €", "130"),
        ("une centaine d'euros", "100"),
        ("environ une cinquantaine", "50"),
        ("une trentaine d\u2019euros", "30"),  # typographic apostrophe
        ("un millier d'euros", "1000"),
        ("un centinaio di euro", "100"),
        ("una ventina di euro", "20"),
        ("una centena de euros", "100"),
        ("un centenar de euros", "100"),
        ("uma centena de euros", "100"),
        ("uma dezena de euros", "10"),
        ("etwa hundert Euro", "100"),
        ("a hundred or so", "100"),
    ],
)
def test_parse_budget_approximations(text: str, amount: str) -> None:
    parsed = parse_budget(text, default_currency="EUR")
    assert parsed is not None
    assert parsed.value == {"amount": Decimal(amount), "currency": "EUR"}


@pytest.mark.parametrize(
    ("text", "currency"),
    [
        ("130,- €", "EUR"),  # the currency after ",-" is the amount's
        ("Fr. 90.-", "CHF"),
        ("ca. 130,-", "GBP"),
    ],
)
def test_parse_budget_whole_amount_dash_keeps_its_currency(text: str, currency: str) -> None:
    parsed = parse_budget(text, default_currency="GBP", strict=True)
    assert parsed is not None
    assert parsed.value["currency"] == currency


@pytest.mark.parametrize(
    "text",
    [
        "une vingtaine de personnes",  # counts people
        "dans une dizaine de jours",
        "une centaine de km",
        "une centaine de mètres",
        "a 200 metri da casa",
        "je suis en quarantaine",
    ],
)
def test_parse_budget_round_numbers_of_other_things(text: str) -> None:
    assert parse_budget(text, default_currency="EUR") is None


@pytest.mark.parametrize(
    ("text", "low", "high"),
    [
        # Hesitating between two figures gives a range.
        ("aucune idée, 60 ? 80 ?", "60", "80"),
        ("70? 100?", "70", "100"),
        ("perhaps 120 or 180", "120", "180"),
        ("vielleicht 50 oder 70", "50", "70"),
        ("quizá 30 o 40 euros", "30", "40"),
        ("talvez 90 ou 110", "90", "110"),
        ("200 ? ou 250", "200", "250"),
    ],
)
def test_parse_budget_hesitation_is_a_range(text: str, low: str, high: str) -> None:
    parsed = parse_budget(text, default_currency="EUR")
    assert parsed is not None
    assert (parsed.value["min"], parsed.value["max"]) == (Decimal(low), Decimal(high))


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("1 or 2 hoodies", None),  # counts hoodies
        ("2 or 3 weeks", None),
        ("perhaps 120 or 180", None),  # no money word: not in strict mode
        # the amount with a bound wins over two bare counts
        (
            "I need 2 or 3, max 100",
            {"amount": Decimal(100), "currency": "EUR", "max": Decimal(100)},
        ),
    ],
)
def test_parse_budget_hesitation_is_no_count(text: str, value: dict[str, object] | None) -> None:
    parsed = parse_budget(text, default_currency="EUR", strict=True)
    assert (parsed.value if parsed else None) == value


@pytest.mark.parametrize(
    ("text", "low", "high"),
    [
        # Articles before the ends of a range.
        ("tra i 60 e i 90 euri", "60", "90"),
        ("fra gli 80 e i 120 euro", "80", "120"),
        ("dai 40 ai 70 euro", "40", "70"),
        ("entre los 50 y los 90", "50", "90"),
        ("de los 30 a los 60 euros", "30", "60"),
        ("zwischen den 70 und 110", "70", "110"),
        ("von 40 bis zu 60 Euro", "40", "60"),
        ("entre les 80 et 130", "80", "130"),
        ("entre os 45 e os 75 euros", "45", "75"),
        ("between the 100 and the 200", "100", "200"),
    ],
)
def test_parse_budget_ranges_with_articles(text: str, low: str, high: str) -> None:
    parsed = parse_budget(text, default_currency="EUR")
    assert parsed is not None
    assert (parsed.value["min"], parsed.value["max"]) == (Decimal(low), Decimal(high))
    assert parsed.value["currency"] == "EUR"


@pytest.mark.parametrize(
    ("text", "amount"),
    [
        # A number in words alone answers the budget question ...
        ("deux cent vingt", "220"),
        ("dreihundertfünfzig", "350"),
        ("cuatrocientos", "400"),
        ("centocinquanta", "150"),
        ("trezentos", "300"),
        ("one hundred and twenty", "120"),
    ],
)
def test_parse_budget_number_words_alone(text: str, amount: str) -> None:
    parsed = parse_budget(text, default_currency="EUR")
    assert parsed is not None
    assert parsed.value == {"amount": Decimal(amount), "currency": "EUR"}
    # ... but not another question: strict mode wants a currency or a budget word.
    assert parse_budget(text, default_currency="EUR", strict=True) is None
    assert parse_budget(f"{text} euros", default_currency="EUR", strict=True) is not None
