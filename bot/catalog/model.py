"""The shop catalogue as immutable values: products, their variants and where they ship."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from types import MappingProxyType

from bot.answers.areas import area_table
from bot.answers.text import fold


@dataclass(frozen=True)
class Variant:
    """One buyable version of a product ("blue hoodie, size M").

    ``options`` maps option names to values as the shop writes them
    (``{"colour": "blue", "size": "M"}``); ``price`` is already resolved (the variant's
    own price, else the product's).
    """

    id: str
    product_id: str
    name: str
    options: Mapping[str, str] = field(hash=False)
    stock: int
    price: Decimal
    currency: str

    @property
    def in_stock(self) -> bool:
        """Whether at least one unit is available."""
        return self.stock > 0


@dataclass(frozen=True)
class Product:
    """A product with its variants and shipping rules.

    ``ships_to`` holds the ISO 3166 alpha-2 codes of the countries the product goes to
    (zones already expanded), wholly or, for those in ``only_areas``, in part;
    ``excluded_regions`` maps a country code to the folded names of the regions, cities
    and delivery areas ("corsica") it does not go to, including the areas its shipping
    zones leave out; ``only_areas`` maps a country the product reaches in some delivery
    areas only to their folded names.
    """

    id: str
    name: str
    category: str
    description: str
    keywords: tuple[str, ...]
    price: Decimal
    currency: str
    variants: tuple[Variant, ...] = field(repr=False)
    ships_to: frozenset[str]
    excluded_regions: Mapping[str, frozenset[str]] = field(hash=False)
    delivery_days: int
    only_areas: Mapping[str, frozenset[str]] = field(
        default=MappingProxyType({}), hash=False, repr=False
    )

    def delivers_to(self, country: str, region: str | None = None, area: str | None = None) -> bool:
        """Whether this product ships to ``country`` (and, if given, ``region`` and ``area``).

        ``area`` is the delivery area of a location answer ("Corsica"); without it, a
        region that is an area's name or one of its towns ("Corse", "Porto-Vecchio")
        stands for the area. A place whose region or area is excluded is not served; in
        a country served in some areas only, neither is a place outside them.
        """
        code = country.upper()
        if code not in self.ships_to:
            return False
        if area is None and region is not None:
            found = area_table().containing(code, region)
            area = found.name if found is not None else None
        names = {fold(name.strip()) for name in (region, area) if name}
        if names & self.excluded_regions.get(code, frozenset()):
            return False
        only = self.only_areas.get(code)
        return only is None or (area is not None and fold(area.strip()) in only)

    def variant_label(self, variant: Variant) -> str:
        """Short text naming one of this product's variants: "Classic Hoodie — blue, M"."""
        if not variant.options:
            return self.name
        return f"{self.name} — {', '.join(variant.options.values())}"


@dataclass(frozen=True)
class Catalog:
    """All products of the shop, with lookups by id."""

    shop_name: str
    currency: str
    default_country: str
    products: tuple[Product, ...]
    _products_by_id: dict[str, Product] = field(init=False, repr=False, compare=False)
    _variants_by_id: dict[str, tuple[Product, Variant]] = field(
        init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        # Frozen dataclasses allow setting derived fields only through object.__setattr__.
        object.__setattr__(self, "_products_by_id", {p.id: p for p in self.products})
        object.__setattr__(
            self,
            "_variants_by_id",
            {v.id: (p, v) for p in self.products for v in p.variants},
        )

    def product(self, product_id: str) -> Product | None:
        """Return the product with this id, or None."""
        return self._products_by_id.get(product_id)

    def variant(self, variant_id: str) -> tuple[Product, Variant] | None:
        """Return the variant with this id and its product, or None."""
        return self._variants_by_id.get(variant_id)

    def all_variants(self) -> list[tuple[Product, Variant]]:
        """Return every variant with its product, in catalogue order."""
        return list(self._variants_by_id.values())

    def ships_to(
        self,
        product: Product | None,
        country: str,
        region: str | None = None,
        area: str | None = None,
    ) -> bool:
        """Whether ``product`` ships to the place; with no product, whether any product does."""
        if product is not None:
            return product.delivers_to(country, region, area)
        return any(p.delivers_to(country, region, area) for p in self.products)
