"""The shop catalogue: products and variants loaded from YAML, and matching text to them."""

from pathlib import Path

from bot.catalog.loader import CatalogError, load_catalog
from bot.catalog.match import Mention, VariantMatch, match_variant, mentioned_item
from bot.catalog.model import Catalog, Product, Variant
from bot.catalog.rates import NO_RATES, RatesError, RateTable, load_rates

DEMO_CATALOG = Path(__file__).with_name("demo.yml")

__all__ = [
    "DEMO_CATALOG",
    "NO_RATES",
    "Catalog",
    "CatalogError",
    "Mention",
    "Product",
    "RateTable",
    "RatesError",
    "Variant",
    "VariantMatch",
    "load_catalog",
    "load_rates",
    "match_variant",
    "mentioned_item",
]
