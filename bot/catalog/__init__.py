"""The shop catalogue: products and variants loaded from YAML, and matching text to them."""

from pathlib import Path

from bot.catalog.loader import CatalogError, load_catalog
from bot.catalog.match import Mention, VariantMatch, match_variant, mentioned_item
from bot.catalog.model import Catalog, Product, Variant

DEMO_CATALOG = Path(__file__).with_name("demo.yml")

__all__ = [
    "DEMO_CATALOG",
    "Catalog",
    "CatalogError",
    "Mention",
    "Product",
    "Variant",
    "VariantMatch",
    "load_catalog",
    "match_variant",
    "mentioned_item",
]
