import pytest

from bot.answers.location import country_name, parse_location, place_name


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
    assert parsed.value == {"country": country, "region": region, "area": None}


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


# A French shop: a postcode that several countries use is read as French when nothing
# else in the message tells.
SHOP_COUNTRY = "FR"


@pytest.mark.parametrize(
    ("text", "country", "region", "area"),
    [
        # Postcodes alone, and with a city that picks the country.
        ("75011", "FR", "Paris", None),
        ("69003", "FR", "Lyon", None),
        ("33000", "FR", "Gironde", None),  # the département
        ("F-75011", "FR", "Paris", None),  # a country prefix
        ("code postal 13008", "FR", "Marseille", None),
        ("I live in 75011", "FR", "Paris", None),  # five digits after a cue
        ("SW1A 1AA", "GB", "London", None),
        ("sw1a 1aa", "GB", "London", None),  # any case: the shape says it
        ("EC1A 1BB", "GB", "London", None),
        ("M1 1AE", "GB", "Manchester", None),
        ("EH1 1YZ", "GB", "Edinburgh", None),
        ("SW1A", "GB", "London", None),  # the outward code as the whole answer
        ("London SW1", "GB", "London", None),
        ("10115 Berlin", "DE", "Berlin", None),
        ("10115", "FR", "Aube", None),  # alone: the shop's country first
        ("PLZ 80331", "DE", "Munich", None),  # the German word for a postcode
        ("80331", "FR", "Somme", None),
        ("80331 München", "DE", "Munich", None),
        ("D-80331", "DE", "Munich", None),
        ("Deutschland 60311", "DE", "Frankfurt am Main", None),
        ("28013 Madrid", "ES", "Madrid", None),
        ("E-28013", "ES", "Madrid", None),
        ("00184 Roma", "IT", "Rome", None),
        ("CAP 20121, Italia", "IT", "Milan", None),
        ("1012 AB", "NL", "Amsterdam", None),
        ("3011 Rotterdam", "NL", "Rotterdam", None),
        ("1000 Bruxelles", "BE", "Brussels", None),
        ("B-2000", "BE", "Antwerp", None),
        ("8001 Zürich", "CH", "Zürich", None),
        ("CH-1201", "CH", "Geneva", None),
        ("10001", "FR", "Aube", None),
        ("10001 New York", "US", "New York City", None),
        ("zip 94103, USA", "US", "California", None),
        ("10001-1234", "US", "New York City", None),  # ZIP+4 is American
        ("M5V 2T6", "CA", "Toronto", None),
        ("H2X 1Y4", "CA", "Montreal", None),
        ("V6B 1A1", "CA", "British Columbia", None),
        ("1000-001 Lisboa", "PT", "Lisbon", None),
        ("98000 Monaco", "MC", None, None),  # Monaco takes French-looking codes
        ("JE2 3AB", "JE", None, None),  # Jersey has its own ISO code
        # Delivery areas: the region or town named, the area it lies in.
        ("Corsica", "FR", "Corsica", "Corsica"),
        ("Corse", "FR", "Corsica", "Corsica"),
        ("Korsika", "FR", "Corsica", "Corsica"),
        ("Ajaccio", "FR", "Ajaccio", "Corsica"),
        ("Bastia", "FR", "Bastia", "Corsica"),
        ("Porto-Vecchio, Corsica", "FR", "Porto-Vecchio", "Corsica"),  # was Porto, Portugal
        ("Porto-Vecchio, Corse", "FR", "Porto-Vecchio", "Corsica"),
        ("Porto Vecchio", "FR", "Porto-Vecchio", "Corsica"),
        ("20000 Ajaccio", "FR", "Ajaccio", "Corsica"),
        ("20000", "FR", "Corse-du-Sud", "Corsica"),
        ("20200 Bastia", "FR", "Bastia", "Corsica"),
        ("Canary Islands", "ES", "Canary Islands", "Canary Islands"),
        ("Islas Canarias", "ES", "Canary Islands", "Canary Islands"),
        ("Tenerife", "ES", "Tenerife", "Canary Islands"),
        ("Gran Canaria", "ES", "Gran Canaria", "Canary Islands"),
        ("Las Palmas", "ES", "Las Palmas de Gran Canaria", "Canary Islands"),
        ("Lanzarote", "ES", "Lanzarote", "Canary Islands"),
        ("38001 Santa Cruz de Tenerife", "ES", "Santa Cruz de Tenerife", "Canary Islands"),
        ("35001", "FR", "Ille-et-Vilaine", None),  # alone, French before Spanish
        ("35001, España", "ES", "Las Palmas", "Canary Islands"),
        ("Balearics", "ES", "Balearic Islands", "Balearic Islands"),
        ("Mallorca", "ES", "Mallorca", "Balearic Islands"),
        ("Majorca", "ES", "Majorca", "Balearic Islands"),
        ("Ibiza", "ES", "Ibiza", "Balearic Islands"),
        ("07001 Palma", "ES", "Palma", "Balearic Islands"),
        ("Ceuta", "ES", "Ceuta", "Ceuta"),
        ("Guadeloupe", "FR", "Guadeloupe", "Guadeloupe"),  # France, not the ISO territory GP
        ("Pointe-à-Pitre", "FR", "Pointe-à-Pitre", "Guadeloupe"),
        ("97110", "FR", "Guadeloupe", "Guadeloupe"),
        ("Martinique", "FR", "Martinique", "Martinique"),
        ("Fort-de-France", "FR", "Fort-de-France", "Martinique"),
        ("Réunion", "FR", "Réunion", "Réunion"),
        ("La Réunion", "FR", "Réunion", "Réunion"),
        ("97400 Saint-Denis", "FR", "Saint-Denis", "Réunion"),  # the code says which one
        ("Guyane", "FR", "French Guiana", "French Guiana"),
        ("French Guiana", "FR", "French Guiana", "French Guiana"),
        ("Cayenne, Guyane", "FR", "Cayenne", "French Guiana"),
        ("Mayotte", "FR", "Mayotte", "Mayotte"),
        ("GP", "FR", "Guadeloupe", "Guadeloupe"),  # the territory's code, as a whole answer
        ("Northern Ireland", "GB", "Northern Ireland", "Northern Ireland"),
        ("Belfast", "GB", "Belfast", "Northern Ireland"),
        ("Derry", "GB", "Derry", "Northern Ireland"),
        ("Londonderry", "GB", "Londonderry", "Northern Ireland"),
        ("BT1 1AA", "GB", "Belfast", "Northern Ireland"),
        ("Palermo", "IT", "Palermo", "Sicily"),
        ("Funchal", "PT", "Funchal", "Madeira"),
        # Words that are also places, in an answer to the location question.
        ("Same", "TZ", "Same", None),  # capitalised, the whole answer
        ("in Same", "TZ", "Same", None),
        ("Same, Tanzania", "TZ", "Same", None),  # with its country
        ("deliver to Azul", "AR", "Azul", None),  # a colour, capitalised and after a cue
        ("en Azul, Argentina", "AR", "Azul", None),
        ("Reading", "GB", "Reading", None),
        ("Split", "HR", "Split", None),
        ("I'm in Split", "HR", "Split", None),
        ("Split, Croatia", "HR", "Split", None),
        ("Bath", "GB", "Bath", None),
        ("i live in nice", "FR", "Nice", None),  # lower case after a cue
        ("Nice, France", "FR", "Nice", None),
        ("Ok. Bastia", "FR", "Bastia", "Corsica"),  # a capital that is no sentence's habit
        ("Hola, I'm in Lyon", "FR", "Lyon", None),  # "Hola" is no town in Kenya here
    ],
)
def test_parse_location_postcodes_and_areas(
    text: str, country: str, region: str | None, area: str | None
) -> None:
    parsed = parse_location(text, default_country=SHOP_COUNTRY)
    assert parsed is not None
    assert parsed.value == {"country": country, "region": region, "area": area}


@pytest.mark.parametrize(
    ("text", "default_country", "country"),
    [
        ("75011", "FR", "FR"),
        ("75011", "DE", "DE"),  # a German shop reads it as German
        ("75011", "US", "US"),
        ("75011", "de", "DE"),  # any case
        ("75011", None, "FR"),  # no hint: the data file's order
        ("75011", "GB", "FR"),  # the shop's country has no five-digit codes
        ("1000", "CH", "CH"),
        ("1000", "BE", "BE"),
        ("1000", "FR", "BE"),  # no French code has four digits: the data file's order
        ("75011 Paris", "DE", "FR"),  # a city named with the code wins over the hint
        ("10115 Berlin", "FR", "DE"),
        ("SW1A 1AA", "FR", "GB"),  # only one country writes codes like that
    ],
)
def test_parse_location_postcode_country(
    text: str, default_country: str | None, country: str
) -> None:
    parsed = parse_location(text, default_country=default_country)
    assert parsed is not None
    assert parsed.value["country"] == country


@pytest.mark.parametrize(
    "text",
    [
        # Numbers that only look like postcodes.
        "1000 to 2000 euros",
        "between 1000 and 2000",
        "in 2026",
        "by 2026",
        "around 20000",
        "I need it by the 15th, 20000 budget",
        "my number is 0612345678",
        "06 12 34 56 78",
        "size 42",
        # Words that are also places, where they are words.
        "hmm actually the black one, same size",
        "chaqueta impermeable azul M",
        "same",
        "Same size please",
        "same as before",
        "Azul",  # a colour, not cued
        "azul",
        "en azul",  # cued, but in lower case: the colour
        "la quiero en negro",
        "in Schwarz",  # not a place at all
        "Rouge",
        "rouge",
        "noir et blanc",
        "nero, taglia M",
        "preto",
        "grau",
        "gris",
        "talla grande",
        "Hola",
        "Sim",  # "yes" in Portuguese
        "Auch in Blau?",  # German "also", not Auch in Gers
        "Most people say so",
        "bath towel",
        "ajaccio please",  # a small town in lower case, no cue
    ],
)
def test_parse_location_none_in_any_mode(text: str) -> None:
    assert parse_location(text, default_country=SHOP_COUNTRY) is None
    assert parse_location(text, strict=True, default_country=SHOP_COUNTRY) is None


@pytest.mark.parametrize(
    ("text", "country", "area"),
    [
        ("SW1A 1AA", "GB", None),  # letters and digits: a postcode wherever it stands
        ("zip 75001", "FR", None),
        ("my postcode is 75011", "FR", None),
        ("10115 Berlin", "DE", None),
        ("by Friday, to 20000 Ajaccio", "FR", "Corsica"),
        ("Porto-Vecchio, Corsica", "FR", "Corsica"),
        ("Tenerife", "ES", "Canary Islands"),
        ("Belfast", "GB", "Northern Ireland"),
        ("Same, Tanzania", "TZ", None),
        ("I'm in Split", "HR", None),
        # Digits alone or a district alone say too little in a message about something else.
        ("75011", None, None),
        ("20000", None, None),
        ("I live in 75011", None, None),
        ("SW1A", None, None),
        ("M5V", None, None),
        ("Same", None, None),  # a far-away small town needs its country or a cue
        ("in same", None, None),
        ("Nice", "FR", None),  # a well-known place still counts, capitalised and alone
    ],
)
def test_parse_location_strict_postcodes_and_areas(
    text: str, country: str | None, area: str | None
) -> None:
    parsed = parse_location(text, strict=True, default_country=SHOP_COUNTRY)
    assert (parsed.value["country"] if parsed else None) == country
    assert (parsed.value["area"] if parsed else None) == area


def test_parse_location_display() -> None:
    city = parse_location("lyon")
    country = parse_location("Germany")
    assert city is not None and country is not None
    assert city.display == "Lyon, France"
    assert country.display == "Germany"
    postcode = parse_location("75011", default_country="FR")
    island = parse_location("Tenerife")
    assert postcode is not None and island is not None
    assert postcode.display == "Paris, France"
    assert island.display == "Tenerife, Spain"


@pytest.mark.parametrize(
    ("country", "region", "said"),
    [
        # the city or region first, then the country
        ("FR", "Nantes", "Nantes, France"),
        # the country alone
        ("DE", None, "Germany"),
        ("DE", "", "Germany"),
        # the common name, not the official one
        ("BO", None, "Bolivia"),
        ("TW", "Taipei", "Taipei, Taiwan"),
        # a code no country has stays as it is
        ("XX", None, "XX"),
    ],
)
def test_place_name(country: str, region: str | None, said: str) -> None:
    assert place_name(country, region) == said
    assert country_name(country) == place_name(country, None)


@pytest.mark.parametrize("text", ["fin", "deu", "esp", "ita"])
def test_a_three_letter_code_in_lower_case_is_a_word_not_a_country(text: str) -> None:
    assert parse_location(text) is None
    assert parse_location(text.upper()) is not None


@pytest.mark.parametrize(
    ("text", "country", "region", "area"),
    [
        # A postcode with a remark around it is still the whole answer.
        ("69003 haha", "FR", "Lyon", None),
        ("75011 merci", "FR", "Paris", None),
        # a town in the remark tells whose postcode it is
        ("33139 (Miami Beach, go figure)", "US", "Miami Beach", None),
        ("Beverly Hills (90210)", "US", "Beverly Hills", None),
        # A US address tail: city, state, ZIP. "CO" is no Colombia, "GA" no Gabon.
        ("Boulder, CO 80302", "US", "Boulder", None),
        ("Athens, GA 30601", "US", "Athens", None),
        ("Springfield, IL 62701", "US", "Springfield", None),
        ("Marfa, TX 79843", "US", "Texas", None),  # a town the list lacks: the ZIP's state
        ("Athens, GA", "US", "Athens", None),  # the state alone picks the town
        # A département number or a province in brackets: never a country ("AT" is no Austria).
        ("Annecy (74)", "FR", "Annecy", None),
        ("Millau (12)", "FR", "Millau", None),
        ("Bastia (2B)", "FR", "Bastia", "Corsica"),
        ("Saint-Denis (974)", "FR", "Saint-Denis", "Réunion"),  # the code picks the namesake
        ("Asti (AT)", "IT", "Asti", None),
        ("Saluzzo (CN)", "IT", "Saluzzo", None),
        ("Cagliari (CA)", "IT", "Cagliari", "Sardinia"),
        # a code that fits no town of that name keeps its country reading
        ("Lugano (CH)", "CH", "Lugano", None),
        ("Vancouver, CA", "CA", "Vancouver", None),
        # An arrondissement is its city.
        ("Lyon 7e", "FR", "Lyon", None),
        ("Paris 15ème", "FR", "Paris", None),
        ("Marseille 13e arrondissement", "FR", "Marseille", None),
    ],
)
def test_parse_location_codes_and_remarks(
    text: str, country: str, region: str | None, area: str | None
) -> None:
    parsed = parse_location(text, default_country=SHOP_COUNTRY)
    assert parsed is not None
    assert parsed.value == {"country": country, "region": region, "area": area}


@pytest.mark.parametrize(
    ("text", "country", "region"),
    [
        # The town stays the region; the département, province or region says which one.
        ("Vienne, en Isère", "FR", "Vienne"),  # not Vienna
        ("Valence (26)", "FR", "Valence"),  # not Valencia
        ("Rodez, Aveyron", "FR", "Rodez"),
        ("Bra, provincia di Cuneo", "IT", "Bra"),
        ("Portland, Maine", "US", "Portland"),
        # A town whose name is a word counts right before its region or country.
        ("Orange, Vaucluse", "FR", "Orange"),
        ("Orange, France", "FR", "Orange"),
        ("Gap, dans les Hautes-Alpes", "FR", "Gap"),
        # A town named after its river, either way.
        ("Halle an der Saale", "DE", "Halle (Saale)"),
        ("Frankfurt/Oder", "DE", "Frankfurt (Oder)"),
        ("Frankfurt", "DE", "Frankfurt am Main"),
    ],
)
def test_parse_location_town_and_its_region(text: str, country: str, region: str) -> None:
    parsed = parse_location(text, default_country=SHOP_COUNTRY)
    assert parsed is not None
    assert (parsed.value["country"], parsed.value["region"]) == (country, region)


@pytest.mark.parametrize(
    "text",
    [
        "Orange",  # a colour alone
        "the orange one",
        "orange, in France",  # in lower case, the colour: the country is the answer
        "Gap",
        "DE 80331",  # 80331 is no Delaware ZIP
        "born in 1975, OK 73301",  # nor 73301 an Oklahoma one
    ],
)
def test_parse_location_word_towns_need_their_region(text: str) -> None:
    parsed = parse_location(text, default_country=SHOP_COUNTRY)
    assert parsed is None or parsed.value["region"] is None


@pytest.mark.parametrize(
    ("text", "country", "region", "area"),
    [
        # Islands and small towns the city list lacks, named alone.
        ("Texel", "NL", "Texel", None),
        ("Bornholm", "DK", "Bornholm", None),
        ("Hvar", "HR", "Hvar", None),
        ("Korcula", "HR", "Korčula", None),  # accents optional
        ("Kreta", "GR", "Crete", None),  # another language's name
        ("Zakynthos", "GR", "Zakynthos", None),
        ("the Isle of Wight", "GB", "Isle of Wight", None),
        ("l'île d'Oléron", "FR", "Oléron", None),
        ("ile de re", "FR", "Île de Ré", None),
        ("Föhr", "DE", "Föhr", None),
        ("wir wohnen auf Norderney", "DE", "Norderney", None),
        ("nach Sylt bitte", "DE", "Sylt", None),
        ("Procida", "IT", "Procida", None),
        ("Zermatt", "CH", "Zermatt", None),
        # islands of a delivery area carry it
        ("Menorca", "ES", "Menorca", "Balearic Islands"),
        ("Porto Santo", "PT", "Porto Santo", "Madeira"),
        ("Stromboli", "IT", "Stromboli", "Sicily"),
        ("Terceira", "PT", "Terceira", "Azores"),
        ("Ile Rousse", "FR", "Île-Rousse", "Corsica"),  # no Ruse in Bulgaria
    ],
)
def test_parse_location_islands_and_small_towns(
    text: str, country: str, region: str, area: str | None
) -> None:
    parsed = parse_location(text, default_country=SHOP_COUNTRY)
    assert parsed is not None
    assert parsed.value == {"country": country, "region": region, "area": area}


@pytest.mark.parametrize(
    ("text", "country"),
    [
        ("Bornholm", "DK"),  # capitalised and alone
        ("ship it to Texel", "NL"),
        ("let me mull it over", None),  # a word, not the Isle of Mull
        ("orange, in France", "FR"),
        ("Asti (AT)", "IT"),
    ],
)
def test_parse_location_strict_islands_and_codes(text: str, country: str | None) -> None:
    parsed = parse_location(text, strict=True, default_country=SHOP_COUNTRY)
    assert (parsed.value["country"] if parsed else None) == country


@pytest.mark.parametrize("text", ["para o Porto", "vou para o Porto", "para Lisboa"])
def test_the_preposition_para_is_no_brazilian_state(text: str) -> None:
    parsed = parse_location(text)
    assert parsed is not None and parsed.value["country"] == "PT"
