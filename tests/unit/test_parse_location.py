import pytest

from bot.answers.location import parse_location


@pytest.mark.parametrize(
    ("text", "country", "region"),
    [
        ("Lyon", "FR", "Lyon"),
        ("lyon, france", "FR", "Lyon"),
        ("I live in Berlin", "DE", "Berlin"),
        ("ship to Munich please", "DE", "Munich"),
        ("München", "DE", "Munich"),
        ("Germany", "DE", None),
        ("Deutschland", "DE", None),
        ("Holland", "NL", None),
        ("España", "ES", None),
        ("Bavaria", "DE", "Bavaria"),
        ("Catalonia", "ES", "Catalonia"),
        ("England", "GB", "England"),
        ("NYC", "US", "New York City"),
        ("São Paulo", "BR", "São Paulo"),
        ("Sao Paulo", "BR", "São Paulo"),
        ("zip 75001 Paris", "FR", "Paris"),
        ("Paris", "FR", "Paris"),  # the most populous Paris
        ("London", "GB", "London"),
        ("Paris, Texas", "US", "Paris"),  # a named region picks the Paris in it
        ("Valencia", "ES", "Valencia"),  # European cities weigh more for a European shop
        ("Ontario", "CA", "Ontario"),  # the province, not the Californian city
        ("Luxembourg", "LU", None),  # a country beats a city of the same name
        ("Madrid", "ES", "Madrid"),  # a city beats a region of the same name
        ("I live in Berlin but ship to France", "FR", None),
        ("deliver to 10115 Berlin, Germany", "DE", "Berlin"),
        ("I'm based in the south of France", "FR", None),
        ("UK", "GB", None),
        ("uk", "GB", None),
        ("USA", "US", None),
        ("fr", "FR", None),  # a code in any case as the whole answer
        ("Nice", "FR", "Nice"),
        ("I'm in Nice", "FR", "Nice"),
        ("København", "DK", "Copenhagen"),
        ("Łódź", "PL", "Łódź"),
        ("St. Petersburg", "RU", "Saint Petersburg"),
        ("Corsica", "FR", "Corsica"),
        # Questions that name a place where a place is expected.
        ("Lyon?", "FR", "Lyon"),
        ("do you ship to Lyon?", "FR", "Lyon"),
        ("can you deliver to berlin?", "DE", "Berlin"),
        ("What about Berlin?", "DE", "Berlin"),
    ],
)
def test_parse_location(text: str, country: str, region: str | None) -> None:
    parsed = parse_location(text)
    assert parsed is not None
    assert parsed.value == {"country": country, "region": region}


@pytest.mark.parametrize(
    "text",
    [
        "in M",
        "Mobile",  # a word first, a town in Alabama second
        "my Mobile number is 0612345678",
        "Of",
        "Blue",
        "the black one",
        "nice, thanks",  # lower-case and not the whole answer
        "reading a book",
        "split payment",
        "I'm Florence",  # a name, not the city
        "my name is Jordan",
        "It ships to IT",  # IT is rarely Italy
        "size L please",
        "in 2 weeks",
        "around 300",
        "just browsing",
        "Classic Hoodie",
        "Enamel camp mug",
        "Forest candle, pine",
        "2 person tent",
        "a jersey",
        "",
        "🌍",
        "<b>Paris</b>",
        "Paris " * 100,
        # A shop question is no place, whatever town its words spell ("Much" is in Germany).
        "how much is the hiking boots?",
        "how much does it cost?",
        "How Much is shipping",
        "how far is it?",
        "is it in stock?",
        "how long will delivery take?",
    ],
)
def test_parse_location_none(text: str) -> None:
    assert parse_location(text) is None


@pytest.mark.parametrize(
    ("text", "country"),
    [
        ("Lyon", "FR"),
        ("I'd like it shipped to Munich", "DE"),
        ("Nice", "FR"),  # capitalised, the whole answer
        ("I'm in Nice", "FR"),
        ("UK", "GB"),  # a code in upper case
        ("NYC", "US"),
        ("nice", None),  # lower case: the adjective
        ("Nice, thanks", None),
        ("uk", None),  # short names only in upper case
        ("fr", None),
        ("nyc", None),
        ("Ulm", None),  # under four letters
        ("Chelsea boots", None),
        ("I'd like the blue hoodie in M", None),
        ("Mobile", None),
        ("Black", None),
    ],
)
def test_parse_location_strict(text: str, country: str | None) -> None:
    parsed = parse_location(text, strict=True)
    assert (parsed.value["country"] if parsed else None) == country


def test_parse_location_display() -> None:
    city = parse_location("lyon")
    country = parse_location("Germany")
    assert city is not None and country is not None
    assert city.display == "Lyon, France"
    assert country.display == "Germany"
