"""The shop catalogue: products and variants loaded from YAML, and matching text to them."""

from pathlib import Path

from bot.catalog.loader import CatalogError, load_catalog
from bot.catalog.match import VariantMatch, match_variant
from bot.catalog.model import Catalog, Product, Variant

DEMO_CATALOG = Path(__file__).with_name("demo.yml")

__all__ = [
    "DEMO_CATALOG",
    "Catalog",
    "CatalogError",
    "Product",
    "Variant",
    "VariantMatch",
    "load_catalog",
    "match_variant",
]
