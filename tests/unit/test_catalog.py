from decimal import Decimal
from pathlib import Path

import pytest

from bot.answers.location import parse_location
from bot.catalog import DEMO_CATALOG, Catalog, CatalogError, load_catalog

VALID = """\
shop:
  name: Test Shop
  currency: EUR
  default_country: FR
shipping_zones:
  benelux: [BE, NL, LU]
products:
  - id: mug
    name: Mug
    category: home
    description: A mug.
    price: "10.00"
    currency: EUR
    ships_to: [benelux, FR, NO]
    excluded_regions:
      FR: [Corsica]
    delivery_days: 2
    variants:
      - id: mug-blue
        name: Blue
        options: {colour: blue}
        stock: 3
      - id: mug-red
        name: Red
        options: {colour: red}
        stock: 0
        price: "12.50"
"""


@pytest.fixture(scope="module")
def demo() -> Catalog:
    return load_catalog(DEMO_CATALOG)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "catalog.yml"
    path.write_text(text, encoding="utf-8")
    return path


def test_demo_catalog_loads(demo: Catalog) -> None:
    assert demo.shop_name
    assert demo.currency == "EUR"
    assert demo.default_country == "FR"
    assert len(demo.products) >= 10
    variant_ids = [v.id for _, v in demo.all_variants()]
    assert len(variant_ids) == len(set(variant_ids))
    assert any(v.stock == 0 for _, v in demo.all_variants())


def test_demo_catalog_lookups(demo: Catalog) -> None:
    hoodie = demo.product("hoodie-classic")
    assert hoodie is not None and hoodie.name == "Classic Hoodie"
    assert demo.product("nope") is None
    found = demo.variant("hoodie-classic-black-xl")
    assert found is not None
    product, variant = found
    assert product is hoodie
    assert variant.price == Decimal("64.00")  # the variant's own price
    assert variant.options == {"colour": "black", "size": "XL"}
    plain = demo.variant("hoodie-classic-blue-m")
    assert plain is not None and plain[1].price == Decimal("59.00")  # the product's price
    assert demo.variant("nope") is None


@pytest.mark.parametrize(
    ("product_id", "country", "region", "ships"),
    [
        ("tent-dome", "FR", None, True),
        ("tent-dome", "fr", "Lyon", True),
        ("tent-dome", "FR", "Corsica", False),  # excluded region
        ("tent-dome", "FR", "ajaccio", False),  # excluded city, any case
        ("tent-dome", "GB", None, False),
        ("hoodie-classic", "NO", None, True),  # zone europe_non_eu
        ("hoodie-classic", "US", None, False),
        ("mug-enamel", "US", None, True),
        (None, "US", None, True),  # some product ships there
        (None, "JP", None, False),
        (None, "FR", "Corsica", True),  # the tent does not, others do
    ],
)
def test_ships_to(
    demo: Catalog, product_id: str | None, country: str, region: str | None, ships: bool
) -> None:
    product = demo.product(product_id) if product_id else None
    assert demo.ships_to(product, country, region) is ships


def test_load_minimal_catalog(tmp_path: Path) -> None:
    catalog = load_catalog(write(tmp_path, VALID))
    mug = catalog.product("mug")
    assert mug is not None
    assert mug.ships_to == {"BE", "NL", "LU", "FR", "NO"}  # NO stays Norway, not False
    assert [v.price for v in mug.variants] == [Decimal("10.00"), Decimal("12.50")]
    assert not mug.variants[1].in_stock


@pytest.mark.parametrize(
    ("old", "new", "line", "field"),
    [
        ('price: "12.50"', 'price: "-1"', 27, "products[0].variants[1].price"),
        ('price: "10.00"', "price: 0", 12, "products[0].price"),
        ("id: mug-red", "id: mug-blue", 23, "products[0].variants[1].id"),  # duplicate
        ("ships_to: [benelux, FR, NO]", "ships_to: [benelux, XX]", 14, "products[0].ships_to[1]"),
        ("ships_to: [benelux, FR, NO]", "ships_to: [europe]", 14, "products[0].ships_to[0]"),
        (
            "    currency: EUR\n    ships_to",
            "    currency: EURO\n    ships_to",
            13,
            "products[0].currency",
        ),
        ("  currency: EUR\n  default", "  currency: ZZZ\n  default", 3, "shop.currency"),
        ("default_country: FR", "default_country: France", 4, "shop.default_country"),
        ("stock: 3", "stock: many", 22, "products[0].variants[0].stock"),
        ("stock: 3", "stock: -3", 22, "products[0].variants[0].stock"),
        (
            "    delivery_days: 2\n",
            "",
            8,
            "products[0].delivery_days",
        ),  # missing: the product's line
        ("id: mug\n", "id: Mug Cup\n", 8, "products[0].id"),
        ("  benelux: [BE, NL, LU]", "  benelux: [BE, NL, LUX]", 6, "shipping_zones.benelux[2]"),
        ("      FR: [Corsica]", "      XX: [Corsica]", 16, "products[0].excluded_regions"),
        (
            "    delivery_days: 2\n",
            "    delivery_days: 2\n    colour: red\n",
            18,
            "products[0].colour",
        ),
    ],
)
def test_invalid_catalog_names_field_and_line(
    tmp_path: Path, old: str, new: str, line: int, field: str
) -> None:
    assert old in VALID
    path = write(tmp_path, VALID.replace(old, new, 1))
    with pytest.raises(CatalogError) as error:
        load_catalog(path)
    message = str(error.value)
    assert f"{path}:{line}: {field}:" in message


def test_yaml_syntax_error_names_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, VALID.replace("    category: home\n", "    category: [home\n"))
    with pytest.raises(CatalogError, match=rf"{path}:\d+: invalid YAML"):
        load_catalog(path)


@pytest.mark.parametrize("text", ["", "- just\n- a list\n", "shop: x\n"])
def test_catalog_must_be_a_mapping_with_products(tmp_path: Path, text: str) -> None:
    with pytest.raises(CatalogError):
        load_catalog(write(tmp_path, text))


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(CatalogError, match="cannot read"):
        load_catalog(tmp_path / "missing.yml")


def test_catalog_error_is_a_value_error() -> None:
    assert issubclass(CatalogError, ValueError)


@pytest.mark.parametrize(
    ("product_id", "text", "ships"),
    [
        # The tent goes to France, Germany and Belgium, but not to Corsica.
        ("tent-dome", "Porto-Vecchio, Corsica", False),
        ("tent-dome", "20000 Ajaccio", False),
        ("tent-dome", "20200", False),  # a Corsican postcode alone
        ("tent-dome", "Calvi", False),  # a Corsican town the catalogue does not list
        ("tent-dome", "Korsika", False),  # another name of the area
        ("tent-dome", "75011", True),
        ("tent-dome", "10115 Berlin", True),
        ("tent-dome", "Guadeloupe", True),  # an overseas department is France
        # The blanket goes to the EU and Britain, but not to the Canary Islands.
        ("blanket-wool", "Tenerife", False),
        ("blanket-wool", "Las Palmas", False),
        ("blanket-wool", "38001 Santa Cruz de Tenerife", False),
        ("blanket-wool", "Lanzarote", False),
        ("blanket-wool", "Mallorca", True),  # the Balearic Islands are not excluded
        ("blanket-wool", "28013 Madrid", True),
        ("blanket-wool", "BT1 1AA", True),  # Northern Ireland is in the United Kingdom
        ("blanket-wool", "M5V 2T6", False),  # Canada is outside its zones
    ],
)
def test_demo_ships_to_parsed_places(
    demo: Catalog, product_id: str, text: str, ships: bool
) -> None:
    parsed = parse_location(text, default_country=demo.default_country)
    assert parsed is not None
    place = parsed.value
    product = demo.product(product_id)
    assert demo.ships_to(product, place["country"], place["region"], place["area"]) is ships


@pytest.mark.parametrize(
    ("region", "area", "ships"),
    [
        ("Porto-Vecchio", "Corsica", False),
        ("Porto-Vecchio", None, False),  # a listed town of the area stands for it
        ("Corse", None, False),  # so does the area's name
        ("Lyon", None, True),
        (None, None, True),  # France without a region
    ],
)
def test_tent_area_without_parser(
    demo: Catalog, region: str | None, area: str | None, ships: bool
) -> None:
    tent = demo.product("tent-dome")
    assert tent is not None
    assert tent.delivers_to("FR", region, area) is ships


AREAS = """\
shop:
  name: Test Shop
  currency: EUR
  default_country: FR
shipping_zones:
  eu: [FR, ES, DE, PT]
  mainland:
    countries: [FR, ES, PT]
    except: [Canary Islands, Balearic Islands, Overseas France, Corsica]
  islands: [Corsica, Canary Islands]
products:
  - id: mainland-only
    ships_to: [mainland]
  - id: mainland-and-corsica
    ships_to: [mainland, Corsica]
  - id: islands-and-germany
    ships_to: [DE, islands]
  - id: both-zones
    ships_to: [mainland, eu]
    excluded_regions:
      ES: [Canarias]
  - id: guadeloupe-by-code
    ships_to: [GP, DE]
"""
PRODUCT_FIELDS = """\
    name: A product
    category: home
    description: A product.
    price: "10.00"
    currency: EUR
    delivery_days: 2
    variants:
      - {id: VARIANT, name: One, stock: 1}
"""


def areas_catalog(tmp_path: Path, text: str = AREAS) -> Catalog:
    lines = []
    for line in text.splitlines(keepends=True):
        lines.append(line)
        if line.startswith("  - id: "):
            product_id = line.split(": ")[1].strip()
            lines.append(PRODUCT_FIELDS.replace("VARIANT", f"{product_id}-one"))
    return load_catalog(write(tmp_path, "".join(lines)))


@pytest.mark.parametrize(
    ("product_id", "country", "region", "area", "ships"),
    [
        ("mainland-only", "FR", "Lyon", None, True),
        ("mainland-only", "FR", None, None, True),
        ("mainland-only", "FR", "Ajaccio", "Corsica", False),  # the zone leaves it out
        ("mainland-only", "ES", "Santa Cruz de Tenerife", "Canary Islands", False),
        ("mainland-only", "ES", "Palma", "Balearic Islands", False),
        ("mainland-only", "FR", "Fort-de-France", "Martinique", False),  # by the group's name
        ("mainland-only", "PT", "Porto", None, True),
        ("mainland-only", "DE", "Berlin", None, False),
        ("mainland-and-corsica", "FR", "Ajaccio", "Corsica", True),  # named on its own
        ("mainland-and-corsica", "ES", "Lanzarote", "Canary Islands", False),
        ("islands-and-germany", "FR", "Bastia", "Corsica", True),
        ("islands-and-germany", "ES", "Tenerife", "Canary Islands", True),
        ("islands-and-germany", "FR", "Lyon", None, False),  # only the island of France
        ("islands-and-germany", "FR", None, None, False),  # France as a whole is not promised
        ("islands-and-germany", "ES", "Palma", "Balearic Islands", False),
        ("islands-and-germany", "DE", None, None, True),
        ("both-zones", "FR", "Ajaccio", "Corsica", True),  # the eu zone takes it back
        ("both-zones", "ES", "Palma", "Balearic Islands", True),
        ("both-zones", "ES", "Tenerife", "Canary Islands", False),  # the product's own rule
        ("guadeloupe-by-code", "FR", "Pointe-à-Pitre", "Guadeloupe", True),
        ("guadeloupe-by-code", "FR", "Paris", None, False),
    ],
)
def test_zones_and_areas(
    tmp_path: Path,
    product_id: str,
    country: str,
    region: str | None,
    area: str | None,
    ships: bool,
) -> None:
    catalog = areas_catalog(tmp_path)
    product = catalog.product(product_id)
    assert product is not None
    assert product.delivers_to(country, region, area) is ships


def test_area_only_product_lists_its_countries(tmp_path: Path) -> None:
    product = areas_catalog(tmp_path).product("islands-and-germany")
    assert product is not None
    assert product.ships_to == {"DE", "FR", "ES"}


@pytest.mark.parametrize(
    ("old", "new", "field", "words"),
    [
        (
            "    except: [Canary Islands, Balearic Islands, Overseas France, Corsica]",
            "    except: [Canary Islands, Atlantis]",
            "shipping_zones.mainland.except[1]",
            "'Atlantis' is not a delivery area (one of: Corsica",
        ),
        (
            "  islands: [Corsica, Canary Islands]",
            "  islands: [Corsica, Canary Isles]",
            "shipping_zones.islands[1]",
            "neither an ISO 3166 alpha-2 country code (e.g. FR) nor a delivery area",
        ),
        (
            "    countries: [FR, ES, PT]",
            "    countries: [FR, PT]",
            "shipping_zones.mainland.except[0]",
            "Canary Islands is in ES, which zone 'mainland' does not cover",
        ),
        (
            "      ES: [Canarias]",
            "      FR: [Canarias]",
            "products[3].excluded_regions.FR[0]",
            "'Canarias' is in ES, not FR",
        ),
        (
            "    ships_to: [DE, islands]",
            "    ships_to: [DE, Atlantis]",
            "products[2].ships_to[1]",
            "'Atlantis' is neither",
        ),
        (
            "    except: [Canary Islands, Balearic Islands, Overseas France, Corsica]",
            "    but_not: [Corsica]",
            "shipping_zones.mainland.but_not",
            "extra fields not permitted",
        ),
    ],
)
def test_invalid_areas_name_field(
    tmp_path: Path, old: str, new: str, field: str, words: str
) -> None:
    assert old in AREAS
    with pytest.raises(CatalogError) as error:
        areas_catalog(tmp_path, AREAS.replace(old, new, 1))
    message = str(error.value)
    assert f": {field}: " in message
    assert words in message


def test_area_names_in_any_case(tmp_path: Path) -> None:
    text = AREAS.replace("    ships_to: [DE, islands]", "    ships_to: [DE, corsica]")
    product = areas_catalog(tmp_path, text).product("islands-and-germany")
    assert product is not None
    assert product.delivers_to("FR", "Bastia", "Corsica")
    assert not product.delivers_to("FR", "Lyon")
