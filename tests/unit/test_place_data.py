from pathlib import Path

import pycountry
import pytest

from bot.answers.areas import AREAS_FILE, PlaceDataError, area_table, load_areas
from bot.answers.places import PLACES_FILE, known_places, load_places
from bot.answers.postcodes import POSTCODES_FILE, Strength, find_postcodes, load_postcodes


def test_areas_name_real_countries_and_regions() -> None:
    table = area_table()
    assert len(table.areas) >= 9
    for area in table.areas:
        assert pycountry.countries.get(alpha_2=area.country) is not None, area.name
        for code in area.subdivisions:
            assert pycountry.subdivisions.get(code=code) is not None, (area.name, code)
        if area.iso_code:
            assert pycountry.countries.get(alpha_2=area.iso_code) is not None, area.name


@pytest.mark.parametrize(
    ("name", "areas"),
    [
        ("corse", ["Corsica"]),  # any case
        ("CANARIAS", ["Canary Islands"]),
        ("Îles Baléares", ["Balearic Islands"]),
        ("Irlanda del Norte", ["Northern Ireland"]),
        ("DOM-TOM", ["Guadeloupe", "Martinique", "French Guiana", "Réunion", "Mayotte"]),
        ("Atlantis", []),
    ],
)
def test_area_names(name: str, areas: list[str]) -> None:
    assert [area.name for area in area_table().named(name)] == areas


def test_area_lookups() -> None:
    table = area_table()
    corsica = table.named("Corsica")[0]
    assert table.of_subdivision("FR-2A") is corsica
    assert table.of_city("FR", "94") is corsica
    assert table.of_postcode("FR", "20000") is corsica
    assert table.of_postcode("DE", "20000") is None
    assert table.containing("FR", "Porto-Vecchio") is corsica
    assert table.containing("ES", "Porto-Vecchio") is None
    assert table.of_territory("GP") is table.named("Guadeloupe")[0]


@pytest.mark.parametrize(
    ("text", "readings"),
    [
        ("75011", ["FR", "DE", "IT", "US"]),  # every country writing five digits that fit
        ("51001", ["FR", "DE", "ES", "IT", "US"]),
        ("53001", ["FR", "DE", "IT", "US"]),  # no Spanish province 53
        ("2000", ["BE", "CH", "AT", "LU", "NL"]),
        ("SW1A 1AA", ["GB"]),
        ("M5V 2T6", ["CA"]),
        ("1012 AB", ["NL"]),
        ("1000 to 2000", ["BE", "CH", "AT", "LU", "NL"]),  # "to" is no Dutch code's letters
        ("1000-001", ["PT"]),
        ("Austin, TX 78701", ["US"]),
        ("in 2 weeks", []),
        ("0612345678", []),
        ("€1.200,50", []),
    ],
)
def test_find_postcodes(text: str, readings: list[str]) -> None:
    found = find_postcodes(text)
    countries = [place.country for place in found[0].places] if found else []
    assert countries == readings


@pytest.mark.parametrize(
    ("text", "strength"),
    [
        ("75011", Strength.DIGITS),
        ("F-75011", Strength.SURE),
        ("SW1A 1AA", Strength.SURE),
        ("SW1A", Strength.PARTIAL),
        ("M5V", Strength.PARTIAL),
        ("1012", Strength.DIGITS),  # Belgian, Swiss… (and a Dutch district)
        ("TX 78701", Strength.SURE),  # a state's abbreviation, and one of its ZIP codes
        ("DE 80331", Strength.DIGITS),  # 80331 is no Delaware ZIP code
    ],
)
def test_postcode_strength(text: str, strength: Strength) -> None:
    (found,) = find_postcodes(text)
    assert found.places[0].strength == strength


def test_shipped_data_files_load() -> None:
    assert load_areas(AREAS_FILE).areas
    assert [system.country for system, _ in load_postcodes(POSTCODES_FILE)][:4] == [
        "FR",
        "DE",
        "BE",
        "NL",
    ]


def test_bad_areas_file_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "areas.yml"
    path.write_text(
        "areas:\n  Corsica:\n    country: France\n    names: [Corsica]\n", encoding="utf-8"
    )
    with pytest.raises(PlaceDataError, match=rf"{path}:3: areas.Corsica.country: "):
        load_areas(path)


def test_areas_group_must_name_known_areas(tmp_path: Path) -> None:
    path = tmp_path / "areas.yml"
    path.write_text(
        "areas:\n  Corsica:\n    country: FR\n    names: [Corse]\n"
        "groups:\n  Islands:\n    names: [Isles]\n    areas: [Corsica, Atlantis]\n",
        encoding="utf-8",
    )
    with pytest.raises(PlaceDataError, match="unknown areas \\['Atlantis'\\]"):
        load_areas(path)


@pytest.mark.parametrize(
    ("rows", "problem"),
    [
        ('    "10-1": Somewhere\n', "a range is two prefixes, same length"),
        ('    "10": [Somewhere]\n', "must be \\[country code, name\\]"),
    ],
)
def test_bad_postcodes_file_names_the_line(tmp_path: Path, rows: str, problem: str) -> None:
    path = tmp_path / "postcodes.yml"
    path.write_text("XX:\n  pattern: '\\d{5}'\n  regions:\n" + rows, encoding="utf-8")
    with pytest.raises(PlaceDataError, match=f"{path}:4: XX.regions.10.*: {problem}"):
        load_postcodes(path)


def test_known_places_are_in_real_countries_and_in_no_area() -> None:
    places = known_places()
    assert len(places) >= 100
    area_places = {name.casefold() for area in area_table().areas for name in area.places}
    for place in places:
        assert pycountry.countries.get(alpha_2=place.country) is not None, place.names
        assert not area_places & {name.casefold() for name in place.names}, place.names
    assert load_places(PLACES_FILE) == places


@pytest.mark.parametrize(
    ("text", "line", "problem"),
    [
        ("DE:\n  - Sylt\nGermany:\n  - Rügen\n", 4, "Germany: must be an ISO 3166"),
        ("DE:\n  - Sylt\n  - [Föhr, Sylt]\n", 3, "DE\\[1\\]: 'Sylt' already names Sylt"),
        ("DE:\n  - Sylt\n  - []\n", 3, "DE\\[1\\]: a place needs a name"),
    ],
)
def test_bad_places_file_names_the_line(tmp_path: Path, text: str, line: int, problem: str) -> None:
    path = tmp_path / "places.yml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(PlaceDataError, match=f"{path}:{line}: {problem}"):
        load_places(path)
