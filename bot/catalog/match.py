"""Match a shopper's words ("the blue one in M", "30L backpack") to a catalogue variant.

The text is reduced to *terms* (words, plus neighbouring words joined, so "t shirt"
meets the keyword "t-shirt") after size words ("extra large" → xl), capacities
("2 person" → 2p, "30 litres" → 30l) and contractions are normalised. Terms then name
products (their keywords and name words) and option values (colours, sizes, ...).

A variant is *consistent* with the text when every option value the text names is one
of the variant's own values. The match is unambiguous when exactly one consistent
variant remains among the products in play: the products the text names, else the
product in context, else the whole catalogue. Typos are tolerated with rapidfuzz
(one edit for words of five letters or more, a swapped letter pair for four-letter
words such as "bleu"); shorter words such as sizes must be exact.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache

from rapidfuzz import fuzz, process
from rapidfuzz.distance import OSA

from bot.answers.text import NUMBER_WORDS, fold, usable
from bot.answers.types import Parsed
from bot.catalog.model import Catalog, Product, Variant

MAX_CANDIDATES = 5

# Spellings that mean the same option value.
_SYNONYMS = {"gray": "grey"}

_NUMBER = r"\d+|" + "|".join(NUMBER_WORDS)


def _capacity(match: re.Match[str]) -> str:
    count = match.group(1)
    return f" {NUMBER_WORDS.get(count, count)}p "


_REWRITES: tuple[tuple[re.Pattern[str], str | Callable[[re.Match[str]], str]], ...] = tuple(
    (re.compile(pattern), replacement)
    for pattern, replacement in (
        (r"[\u2019`]", "'"),
        # Contractions would otherwise leave sizes behind: "it's" → s, "I'm" → m.
        (r"'(?:s|m|re|ve|ll|d)\b", " "),
        (r"\b(?:extra|x)[\s-]?large\b", " xl "),
        (r"\b(?:extra|x)[\s-]?small\b", " xs "),
        (r"\bsmall\b", " s "),
        (r"\b(?:medium|med)\b", " m "),
        (r"\blarge\b", " l "),
        (rf"\b({_NUMBER})\s*-?\s*(?:p|persons?|people|man|men)\b", _capacity),
        (r"\b(\d+)\s*-?\s*(?:l|ltr|litres?|liters?)\b", r" \1l "),
    )
)
_ID = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)+")
_TERM = re.compile(r"[a-z0-9]+")


@dataclass(frozen=True)
class VariantMatch:
    """Outcome of matching text to the catalogue.

    ``variant`` is set only when the text singles one out; ``product`` when the product
    is known even if the variant is not; ``choices`` are the closest variants (at most
    five, best first) with their products, for quick-reply buttons.
    """

    variant: Variant | None = None
    product: Product | None = None
    choices: tuple[tuple[Product, Variant], ...] = ()

    @property
    def candidates(self) -> list[Variant]:
        """The closest variants, best first."""
        return [variant for _, variant in self.choices]

    def parsed(self) -> Parsed | None:
        """Return the matched variant as an answer, or None when there is no single match."""
        if self.variant is None or self.product is None:
            return None
        return Parsed(value=self.variant.id, display=self.product.variant_label(self.variant))

    def candidate_answers(self) -> list[Parsed]:
        """Return the choices as answers (variant id + label), for quick-reply buttons."""
        return [Parsed(value=v.id, display=p.variant_label(v)) for p, v in self.choices]


@dataclass(frozen=True)
class _Index:
    """Catalogue words, normalised once per catalogue."""

    keywords: dict[str, frozenset[str]]  # product id → keyword terms
    values: dict[str, frozenset[str]]  # variant id → option value terms
    distinguishing: dict[str, frozenset[str]]  # product id → options that vary
    all_values: frozenset[str]
    labels: dict[str, str]  # variant id → folded label, for the last-resort fuzzy pick


def match_variant(
    text: str, catalog: Catalog, *, product_id: str | None = None, strict: bool = False
) -> VariantMatch:
    """Find the variant ``text`` names, using ``product_id`` as context if given.

    With ``strict`` (scanning a message that answers another question) a variant is
    returned only when a product keyword and a value for every option that varies within
    that product are written out exactly; otherwise the match is empty. Stock plays no
    part: out-of-stock variants match like any other.
    """
    cleaned = usable(text)
    if cleaned is None:
        return VariantMatch()
    index = _index(catalog)
    for variant_id in _ID.findall(fold(cleaned)):
        found = catalog.variant(variant_id)
        if found is not None:
            return VariantMatch(variant=found[1], product=found[0], choices=(found,))

    normalised = _normalise(cleaned)
    terms = set(_terms(normalised))
    mentioned = frozenset(
        _found(terms, index.all_values, fuzzy=not strict, fuzzy_from=4, plurals=False)
    )
    named = _named_products(normalised, terms, catalog, index, fuzzy=not strict)
    context = catalog.product(product_id) if product_id else None

    if strict:
        return _strict_match(named, mentioned, index)

    if context is not None and (not named or context in named):
        products = [context]
    else:
        products = named or list(catalog.products)
    pool = [(p, v) for p in products for v in p.variants]
    consistent = [(p, v) for p, v in pool if mentioned <= index.values[v.id]]
    known_product = products[0] if len(products) == 1 else None

    if len(consistent) == 1 and (mentioned or known_product):
        product, variant = consistent[0]
        return VariantMatch(variant=variant, product=product, choices=(consistent[0],))

    if not (named or context or mentioned):
        return VariantMatch(choices=tuple(_closest_by_label(normalised, catalog, index)))
    ranked = consistent or sorted(pool, key=lambda pv: -_score(pv[1], mentioned, index))
    if known_product is None and len({p.id for p, _ in consistent}) == 1:
        known_product = consistent[0][0]
    return VariantMatch(product=known_product, choices=tuple(ranked[:MAX_CANDIDATES]))


@dataclass(frozen=True)
class Mention:
    """The product a message talks about and which of its variants fit its words.

    ``variants`` are the product's variants consistent with the option values the
    text names (all of them when it names none, none when no variant has them);
    ``narrowed`` says whether option values were named.
    """

    product: Product
    variants: tuple[Variant, ...]
    narrowed: bool

    @property
    def variant(self) -> Variant | None:
        """The one variant meant, if the words (or a one-variant product) single it out."""
        return self.variants[0] if len(self.variants) == 1 else None


def mentioned_item(text: str, catalog: Catalog, *, product_id: str | None = None) -> Mention | None:
    """The product ``text`` talks about ("is the black hoodie in stock?"), or None.

    A product named in the text (keywords, name or id, typos tolerated) comes first;
    the product in context (``product_id``, the page) counts when the text names it
    or names none but one of its option values ("is the blue one in stock?"). Several
    products named alike are told apart by the option values; a tie is no mention.
    """
    cleaned = usable(text)
    if cleaned is None:
        return None
    for variant_id in _ID.findall(fold(cleaned)):
        found = catalog.variant(variant_id)
        if found is not None:
            return Mention(product=found[0], variants=(found[1],), narrowed=True)
    index = _index(catalog)
    normalised = _normalise(cleaned)
    terms = set(_terms(normalised))
    mentioned = frozenset(_found(terms, index.all_values, fuzzy=True, fuzzy_from=4, plurals=False))
    named = _named_products(normalised, terms, catalog, index, fuzzy=True)
    context = catalog.product(product_id) if product_id else None
    candidates = named
    if context is not None and (
        context in named
        or (not named and any(mentioned & index.values[v.id] for v in context.variants))
    ):
        candidates = [context]
    if len(candidates) > 1:
        candidates = [
            p for p in candidates if any(mentioned <= index.values[v.id] for v in p.variants)
        ]
    if len(candidates) != 1:
        return None
    product = candidates[0]
    fitting = tuple(v for v in product.variants if mentioned <= index.values[v.id])
    return Mention(product=product, variants=fitting, narrowed=bool(mentioned))


def _strict_match(named: list[Product], mentioned: frozenset[str], index: _Index) -> VariantMatch:
    if len(named) != 1:
        return VariantMatch()
    product = named[0]
    consistent = [v for v in product.variants if mentioned <= index.values[v.id]]
    if len(consistent) != 1:
        return VariantMatch()
    variant = consistent[0]
    required = {
        _term(value)
        for name, value in variant.options.items()
        if name in index.distinguishing[product.id]
    }
    if not required <= mentioned:
        return VariantMatch()
    return VariantMatch(variant=variant, product=product, choices=((product, variant),))


def _score(variant: Variant, mentioned: frozenset[str], index: _Index) -> int:
    values = index.values[variant.id]
    return 2 * len(mentioned & values) - len(mentioned - values)


def _closest_by_label(
    normalised: str, catalog: Catalog, index: _Index
) -> list[tuple[Product, Variant]]:
    """Last resort when nothing in the text is a catalogue word: fuzzy-compare labels."""
    pairs = catalog.all_variants()
    found = process.extract(
        normalised,
        [index.labels[v.id] for _, v in pairs],
        scorer=fuzz.WRatio,
        limit=MAX_CANDIDATES,
        score_cutoff=75,
    )
    return [pairs[position] for _, _, position in found]


def _normalise(text: str) -> str:
    normalised = fold(text)
    for pattern, replacement in _REWRITES:
        normalised = pattern.sub(replacement, normalised)
    return normalised


def _terms(normalised: str) -> list[str]:
    """Words of the text plus each pair of neighbours joined ("t", "shirt" → "tshirt")."""
    words = [_SYNONYMS.get(word, word) for word in _TERM.findall(normalised)]
    return words + [first + second for first, second in itertools.pairwise(words)]


def _term(value: str) -> str:
    """Catalogue text as a term: folded, without spaces or punctuation ("20L" → 20l)."""
    term = "".join(_TERM.findall(fold(value)))
    return _SYNONYMS.get(term, term)


def _close(word: str, target: str) -> bool:
    """Whether ``word`` is ``target`` misspelt, strictly enough for short words."""
    if word == target:
        return True
    if len(target) < 4 or abs(len(word) - len(target)) > 1 or word.isdigit():
        return False
    if len(target) == 4:
        # Only a swapped pair ("bleu"): one substitution turns "test" into "tent".
        return sorted(word) == sorted(target) and OSA.distance(word, target) == 1
    return OSA.distance(word, target) <= 1


def _found(
    terms: set[str], targets: Iterable[str], *, fuzzy: bool, fuzzy_from: int, plurals: bool
) -> set[str]:
    """Return the targets that appear among the terms, exactly or (``fuzzy``) misspelt.

    Only targets of ``fuzzy_from`` letters or more may be misspelt; ``plurals`` also
    accepts "-s"/"-es" forms ("boots" for "boot").
    """
    by_length: dict[int, list[str]] = {}
    for term in terms:
        by_length.setdefault(len(term), []).append(term)
    found = set()
    for target in targets:
        forms = (
            {target, target + "s", target + "es", target.removesuffix("s")} if plurals else {target}
        )
        if forms & terms:
            found.add(target)
        elif fuzzy and len(target) >= fuzzy_from:
            lengths = (len(target) - 1, len(target), len(target) + 1)
            if any(_close(term, target) for n in lengths for term in by_length.get(n, ())):
                found.add(target)
    return found


def _named_products(
    normalised: str, terms: set[str], catalog: Catalog, index: _Index, *, fuzzy: bool
) -> list[Product]:
    """Return the products the text names: those with the most keyword hits."""
    all_keywords = set().union(*index.keywords.values())
    named = _found(terms, all_keywords, fuzzy=fuzzy, fuzzy_from=5, plurals=True)
    hits: dict[str, int] = {}
    for product in catalog.products:
        keywords = index.keywords[product.id]
        count = len(keywords & named)
        if re.search(rf"\b{re.escape(product.id)}\b", normalised):
            count += len(keywords)
        if count:
            hits[product.id] = count
    if not hits:
        return []
    best = max(hits.values())
    return [p for p in catalog.products if hits.get(p.id) == best]


@lru_cache(maxsize=8)
def _index(catalog: Catalog) -> _Index:
    keywords: dict[str, frozenset[str]] = {}
    values: dict[str, frozenset[str]] = {}
    distinguishing: dict[str, frozenset[str]] = {}
    labels: dict[str, str] = {}
    for product in catalog.products:
        words = [*product.keywords, *product.name.split()]
        keywords[product.id] = frozenset(t for t in map(_term, words) if len(t) >= 3)
        seen: dict[str, set[str]] = {}
        for variant in product.variants:
            values[variant.id] = frozenset(_term(v) for v in variant.options.values())
            labels[variant.id] = fold(product.variant_label(variant))
            for name, value in variant.options.items():
                seen.setdefault(name, set()).add(_term(value))
        distinguishing[product.id] = frozenset(n for n, vs in seen.items() if len(vs) > 1)
    return _Index(
        keywords=keywords,
        values=values,
        distinguishing=distinguishing,
        all_values=frozenset(v for vs in values.values() for v in vs),
        labels=labels,
    )
