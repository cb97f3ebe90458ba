"""Load and validate a catalogue YAML file (see ``demo.yml`` for the format)."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path
from types import MappingProxyType

import pycountry
from pydantic import BaseModel, Extra, Field, StrictInt, ValidationError, validator

from bot.answers.text import fold
from bot.catalog.model import Catalog, Product, Variant
from bot.yamlconf import Location, describe, dotted, load_document

_SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_ZONE_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


class CatalogError(ValueError):
    """The catalogue file cannot be used; the message names file, line and field."""


def _slug(value: str) -> str:
    if not _SLUG.match(value):
        raise ValueError("must be a slug: lower-case letters, digits and single dashes")
    return value


def _currency(value: str) -> str:
    if not re.fullmatch(r"[A-Z]{3}", value) or pycountry.currencies.get(alpha_3=value) is None:
        raise ValueError(f"{value!r} is not an ISO 4217 currency code (e.g. EUR)")
    return value


def _country(value: str) -> str:
    if not re.fullmatch(r"[A-Z]{2}", value) or pycountry.countries.get(alpha_2=value) is None:
        raise ValueError(f"{value!r} is not an ISO 3166 alpha-2 country code (e.g. FR)")
    return value


def _positive_price(value: Decimal | None) -> Decimal | None:
    if value is not None and (not value.is_finite() or value <= 0):
        raise ValueError("must be a number greater than 0")
    return value


def _non_negative(value: int) -> int:
    if value < 0:
        raise ValueError("must be 0 or more")
    return value


class _Strict(BaseModel):
    class Config:
        extra = Extra.forbid
        anystr_strip_whitespace = True
        min_anystr_length = 1


class _ShopIn(_Strict):
    name: str
    currency: str
    default_country: str

    _check_currency = validator("currency", allow_reuse=True)(_currency)
    _check_country = validator("default_country", allow_reuse=True)(_country)


class _VariantIn(_Strict):
    id: str
    name: str
    options: dict[str, str] = Field(default_factory=dict)
    stock: StrictInt
    price: Decimal | None = None

    _check_id = validator("id", allow_reuse=True)(_slug)
    _check_price = validator("price", allow_reuse=True)(_positive_price)
    _check_stock = validator("stock", allow_reuse=True)(_non_negative)


class _ProductIn(_Strict):
    id: str
    name: str
    category: str
    description: str
    keywords: list[str] = Field(default_factory=list)
    price: Decimal
    currency: str
    ships_to: list[str] = Field(..., min_items=1)
    excluded_regions: dict[str, list[str]] = Field(default_factory=dict)
    delivery_days: StrictInt
    variants: list[_VariantIn] = Field(..., min_items=1)

    _check_id = validator("id", allow_reuse=True)(_slug)
    _check_price = validator("price", allow_reuse=True)(_positive_price)
    _check_currency = validator("currency", allow_reuse=True)(_currency)
    _check_days = validator("delivery_days", allow_reuse=True)(_non_negative)

    @validator("ships_to", each_item=True)
    def _zone_or_country(cls, value: str) -> str:
        """Accept a zone name (checked against the zones later) or a country code."""
        return value if _ZONE_NAME.match(value) else _country(value)

    @validator("excluded_regions")
    def _excluded_countries(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        """Key excluded regions by valid country codes."""
        for code in value:
            _country(code)
        return value


class _CatalogIn(_Strict):
    shop: _ShopIn
    shipping_zones: dict[str, list[str]] = Field(default_factory=dict)
    products: list[_ProductIn] = Field(..., min_items=1)

    @validator("shipping_zones")
    def _zones(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        """Zone names are lower-case words; zones list country codes."""
        for name, countries in value.items():
            if not _ZONE_NAME.match(name):
                raise ValueError(f"zone name {name!r} must be lower-case letters, digits, _")
            for code in countries:
                _country(code)
        return value


def load_catalog(path: Path) -> Catalog:
    """Read, validate and build the catalogue at ``path``.

    Raises ``CatalogError`` naming the file, the line and the field of every problem.
    """
    data, root = load_document(path, CatalogError, "catalogue")
    if not isinstance(data, dict):
        raise CatalogError(f"{path}:1: the catalogue must be a mapping with shop and products")
    try:
        parsed = _CatalogIn.parse_obj(data)
    except ValidationError as exc:
        problems = [(tuple(error["loc"]), error["msg"]) for error in exc.errors()]
        raise CatalogError(describe(path, root, problems, "catalogue")) from exc
    problems = _cross_check(parsed)
    if problems:
        raise CatalogError(describe(path, root, problems, "catalogue"))
    return _build(parsed)


def _cross_check(catalog: _CatalogIn) -> list[tuple[Location, str]]:
    """Check what spans several fields: unique ids and known zone names."""
    problems: list[tuple[Location, str]] = []
    seen: dict[str, Location] = {}
    for p_index, product in enumerate(catalog.products):
        ids: list[tuple[str, Location]] = [(product.id, ("products", p_index, "id"))]
        ids += [
            (variant.id, ("products", p_index, "variants", v_index, "id"))
            for v_index, variant in enumerate(product.variants)
        ]
        for item_id, location in ids:
            if item_id in seen:
                problems.append(
                    (location, f"duplicate id {item_id!r} (first at {dotted(seen[item_id])})")
                )
            else:
                seen[item_id] = location
        for s_index, entry in enumerate(product.ships_to):
            if _ZONE_NAME.match(entry) and entry not in catalog.shipping_zones:
                problems.append(
                    (
                        ("products", p_index, "ships_to", s_index),
                        f"unknown shipping zone {entry!r} (define it under shipping_zones)",
                    )
                )
    return problems


def _build(catalog: _CatalogIn) -> Catalog:
    products = []
    for item in catalog.products:
        variants = tuple(
            Variant(
                id=variant.id,
                product_id=item.id,
                name=variant.name,
                options=MappingProxyType(dict(variant.options)),
                stock=variant.stock,
                price=variant.price if variant.price is not None else item.price,
                currency=item.currency,
            )
            for variant in item.variants
        )
        countries: set[str] = set()
        for entry in item.ships_to:
            countries.update(catalog.shipping_zones.get(entry, [entry]))
        excluded = {
            code: frozenset(fold(name.strip()) for name in names)
            for code, names in item.excluded_regions.items()
        }
        products.append(
            Product(
                id=item.id,
                name=item.name,
                category=item.category,
                description=item.description,
                keywords=tuple(item.keywords),
                price=item.price,
                currency=item.currency,
                variants=variants,
                ships_to=frozenset(countries),
                excluded_regions=MappingProxyType(excluded),
                delivery_days=item.delivery_days,
            )
        )
    return Catalog(
        shop_name=catalog.shop.name,
        currency=catalog.shop.currency,
        default_country=catalog.shop.default_country,
        products=tuple(products),
    )
