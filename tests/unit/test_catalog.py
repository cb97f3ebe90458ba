from decimal import Decimal
from pathlib import Path

import pytest

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
        ("  benelux: [BE, NL, LU]", "  benelux: [BE, NL, LUX]", 6, "shipping_zones"),
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
