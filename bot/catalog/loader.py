"""Load and validate a catalogue YAML file (see ``demo.yml`` for the format)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pycountry
from pydantic import BaseModel, Extra, Field, StrictInt, ValidationError, validator

from bot.answers.areas import Area, area_table
from bot.answers.text import fold
from bot.catalog.model import Catalog, Product, Variant
from bot.yamlconf import Location, describe, dotted, load_document

_SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_ZONE_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_COUNTRY_CODE = re.compile(r"^[A-Z]{2}$")


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


def _area(value: str) -> str:
    if not area_table().named(value):
        raise ValueError(f"{value!r} is not a delivery area ({_known_areas()})")
    return value


def _country_or_area(value: str) -> str:
    """A country code ("FR") or the name of a delivery area or group ("Corsica")."""
    if _COUNTRY_CODE.match(value):
        return _country(value)
    if not area_table().named(value):
        raise ValueError(
            f"{value!r} is neither an ISO 3166 alpha-2 country code (e.g. FR) nor a delivery"
            f" area ({_known_areas()})"
        )
    return value


def _known_areas() -> str:
    return "one of: " + ", ".join(area_table().names())


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
    def _zone_country_or_area(cls, value: str) -> str:
        """Accept a zone name (checked against the zones later), a country code or an area."""
        return value if _ZONE_NAME.match(value) else _country_or_area(value)

    @validator("excluded_regions")
    def _excluded_countries(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        """Key excluded regions by valid country codes."""
        for code in value:
            _country(code)
        return value


class _ZoneIn(_Strict):
    """A shipping zone: countries and delivery areas, less the areas under ``except``."""

    countries: list[str] = Field(..., min_items=1)
    except_: list[str] = Field(default_factory=list, alias="except")

    _check_countries = validator("countries", each_item=True, allow_reuse=True)(_country_or_area)
    _check_except = validator("except_", each_item=True, allow_reuse=True)(_area)


class _CatalogIn(_Strict):
    shop: _ShopIn
    shipping_zones: dict[str, _ZoneIn] = Field(default_factory=dict)
    products: list[_ProductIn] = Field(..., min_items=1)

    @validator("shipping_zones", pre=True)
    def _zone_lists(cls, value: Any) -> Any:
        """A zone written as a list (``eu: [AT, BE, …]``) lists what it covers."""
        if not isinstance(value, dict):
            return value
        return {
            name: {"countries": places} if isinstance(places, list) else places
            for name, places in value.items()
        }

    @validator("shipping_zones")
    def _zone_names(cls, value: dict[str, _ZoneIn]) -> dict[str, _ZoneIn]:
        """Zone names are lower-case words."""
        for name in value:
            if not _ZONE_NAME.match(name):
                raise ValueError(f"zone name {name!r} must be lower-case letters, digits, _")
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
        problems = [
            (_as_written(tuple(error["loc"]), data), error["msg"]) for error in exc.errors()
        ]
        raise CatalogError(describe(path, root, problems, "catalogue")) from exc
    problems = _cross_check(parsed)
    if problems:
        raise CatalogError(describe(path, root, problems, "catalogue"))
    return _build(parsed)


def _as_written(location: Location, data: dict[str, Any]) -> Location:
    """Where a problem is in the file: a zone written as a list has no ``countries`` key."""
    zones = data.get("shipping_zones")
    if (
        location[:1] == ("shipping_zones",)
        and location[2:3] == ("countries",)
        and isinstance(zones, dict)
        and isinstance(zones.get(location[1]), list)
    ):
        return location[:2] + location[3:]
    return location


def _cross_check(catalog: _CatalogIn) -> list[tuple[Location, str]]:
    """Check what spans several fields: unique ids, known zones, areas in their country."""
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
            if (
                _ZONE_NAME.match(entry)
                and entry not in catalog.shipping_zones
                and not area_table().named(entry)
            ):
                problems.append(
                    (
                        ("products", p_index, "ships_to", s_index),
                        f"unknown shipping zone {entry!r} (define it under shipping_zones)",
                    )
                )
        for code, names in product.excluded_regions.items():
            for n_index, name in enumerate(names):
                elsewhere = [a for a in area_table().named(name) if a.country != code]
                if elsewhere:
                    problems.append(
                        (
                            ("products", p_index, "excluded_regions", code, n_index),
                            f"{name!r} is in {elsewhere[0].country}, not {code}",
                        )
                    )
    for name, zone in catalog.shipping_zones.items():
        covered = {country for place in zone.countries for country, _ in _places(place)}
        for e_index, left_out in enumerate(zone.except_):
            for area in area_table().named(left_out):
                if area.country not in covered:
                    problems.append(
                        (
                            ("shipping_zones", name, "except", e_index),
                            f"{area.name} is in {area.country}, which zone {name!r} does not cover",
                        )
                    )
    return problems


def _places(entry: str) -> list[tuple[str, Area | None]]:
    """What a country code or area name covers: (country, None) or (country, area) pairs.

    The overseas departments' own codes ("GP") stand for their area of France, as the
    location parser reads them.
    """
    if _COUNTRY_CODE.match(entry):
        territory = area_table().of_territory(entry)
        return [(territory.country, territory)] if territory else [(entry, None)]
    return [(area.country, area) for area in area_table().named(entry)]


def _shipping(
    item: _ProductIn, zones: Mapping[str, _ZoneIn]
) -> tuple[frozenset[str], dict[str, frozenset[str]], dict[str, frozenset[str]]]:
    """A product's countries, the folded names it does not go to, its areas-only countries.

    A country reached through a zone keeps the areas the zone leaves out; reached again
    without them (another zone, its code, the area itself), it has them back. The
    product's own ``excluded_regions`` always apply.
    """
    whole: dict[str, set[str]] = {}  # country → areas left out by every entry reaching it
    areas: dict[str, set[str]] = {}  # country → areas listed on their own
    for entry in item.ships_to:
        zone = zones.get(entry)
        covered, left_out = (zone.countries, zone.except_) if zone else ([entry], [])
        skipped: dict[str, set[str]] = {}
        for name in left_out:
            for skipped_area in area_table().named(name):
                skipped.setdefault(skipped_area.country, set()).add(fold(skipped_area.name))
        for place in covered:
            for country, area in _places(place):
                if area is not None:
                    areas.setdefault(country, set()).add(fold(area.name))
                else:
                    here = skipped.get(country, set())
                    whole[country] = whole[country] & here if country in whole else set(here)
    excluded: dict[str, set[str]] = {
        country: left_out - areas.get(country, set()) for country, left_out in whole.items()
    }
    for code, names in item.excluded_regions.items():
        for name in names:
            listed = {fold(name.strip())} | {fold(a.name) for a in area_table().named(name)}
            excluded.setdefault(code, set()).update(listed)
    only = {country: frozenset(names) for country, names in areas.items() if country not in whole}
    return (
        frozenset(whole) | frozenset(areas),
        {code: frozenset(names) for code, names in excluded.items() if names},
        only,
    )


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
        countries, excluded, only_areas = _shipping(item, catalog.shipping_zones)
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
                ships_to=countries,
                excluded_regions=MappingProxyType(excluded),
                delivery_days=item.delivery_days,
                only_areas=MappingProxyType(only_areas),
            )
        )
    return Catalog(
        shop_name=catalog.shop.name,
        currency=catalog.shop.currency,
        default_country=catalog.shop.default_country,
        products=tuple(products),
    )
