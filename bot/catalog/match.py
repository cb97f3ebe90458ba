"""Match a shopper's words ("the blue one in M", "30L backpack") to a catalogue variant.

Shoppers write English, French, German, Spanish, Italian and Portuguese, often mixed
("chaqueta impermeable azul M", "die graue Mütze"). The text is reduced to *terms*
(words, plus runs of neighbouring words joined, so "t shirt" meets the keyword
"t-shirt" and "sac à dos" the keyword "sac à dos") after elisions ("l'imperméable"),
contractions ("it's"), size labels ("taille M", "Größe M"), sizes of several words
("extra large", "très grand" → xl), capacities ("2 person", "zwei Personen" → 2p,
"30 litres" → 30l) and "same size" / "même couleur" are normalised. Terms then name
products (their keywords and name words) and option values: the catalogue's own words,
and the words of the six languages for colours and sizes (``bot.catalog.words``: "noir",
"schwarze", "negra", "petit", "grande"...), which stand for the catalogue value they mean.

A variant is *consistent* with the text when every option value the text names is one of
the variant's own values. The match is unambiguous when exactly one consistent variant
remains among the products in play: the products the text names, else the product in
context, else the whole catalogue. Typos are tolerated with rapidfuzz (one edit for
words of five letters or more, a swapped letter pair for four-letter words such as
"bule"); shorter words such as sizes must be exact, but common shorthand counts ("blk",
"wht", "nvy", "sml", "lrg"). Only the catalogue's own words may be misspelt: size words
("grand", "klein") and the option words of the six languages must be written as they are
(accents optional), and a word that is itself a keyword, an option word or an everyday
word ("este", "bonne", "back") is never read as a typo of another.

Outside strict mode, with one product in play: "the bigger one" ("la plus petite", "die
größere", "el más grande", "quella più piccola", "a maior") is its variant of the largest
(smallest) size or capacity among those the other words allow, if only one is; a number
after "for" / "für" / "pour" / "para" / "per", after an article ("le 30", "el 41") or
alone stands for the value of its one numeric option ("für zwei" is the 2p tent). In
every mode, a self-correction ("red M... no wait, S", "la rouge en S, enfin plutôt M",
"nein doch", "mejor", "anzi", "ou melhor") revises what came before it: the values named
after the cue replace those of the same option, and a product named after it the product.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import lru_cache

from rapidfuzz import fuzz, process
from rapidfuzz.distance import OSA

from bot.answers.text import NUMBER_WORDS, SMALL_NUMBER_WORDS, fold, usable
from bot.answers.types import Parsed
from bot.catalog.model import Catalog, Product, Variant
from bot.catalog.words import (
    CAPACITY_NUMBERS,
    COLOUR_NOUNS,
    NOT_TYPOS,
    OPTION_WORDS,
    SAME,
    SHORTHAND,
    SIZE_NOUNS,
    SIZE_WORDS,
)

MAX_CANDIDATES = 5

_NUMBER = r"\d+|" + "|".join(NUMBER_WORDS)
_CAPACITY_NUMBER = _NUMBER + "|" + "|".join(CAPACITY_NUMBERS)
_SIZE = r"(?:xxl|xl|xs|s|m|l|\d+)"
_NOUNS = "|".join(sorted(SIZE_NOUNS | COLOUR_NOUNS))


def _capacity(match: re.Match[str]) -> str:
    count = match.group(1)
    return f" {NUMBER_WORDS.get(count, CAPACITY_NUMBERS.get(count, count))}p "


def _same(match: re.Match[str]) -> str:
    """Markers for the options "same size and colour" carries over: samesize samecolour."""
    kinds = {_kind(noun) for noun in match.groups() if noun}
    return "".join(f" same{kind} " for kind in sorted(k for k in kinds if k))


def _brazilian_size(match: re.Match[str]) -> str:
    return {"p": " s ", "g": " l ", "gg": " xl "}[match.group(1)]


# Comparatives and superlatives of size in the six languages, folded: "the bigger one",
# "la plus grande", "die größere", "el más grande", "quella più grande", "a maior".
_BIGGER = (
    r"\b(?:bigger|larger|biggest|largest|plus\s+grande?s?|plus\s+gros(?:se)?s?"
    r"|gr(?:o|oe)ss(?:er|t)e[nrs]?|mas\s+grandes?|mayor(?:es)?|piu\s+grand[ei]|maggiore"
    r"|maior(?:es)?|mais\s+grandes?)\b"
)
_SMALLER = (
    r"\b(?:smaller|smallest|plus\s+petite?s?|kleinere[nrs]?|kleinste[nrs]?"
    r"|mas\s+(?:pequen|chic)[oa]s?|menor(?:es)?|piu\s+piccol[oaie]|minore|mais\s+pequen[oa]s?)\b"
)
_MAX_REVISIONS = 4
_LARGEST, _SMALLEST = "sizelargest", "sizesmallest"  # markers, no catalogue word
# A shopper correcting themselves ("red M... no wait, S", "die blaue in L, nein doch M"):
# what follows the last cue revises the options it names.
_CORRECTION = re.compile(
    r"\b(?:no,? wait|wait,? no|actually|i mean|or rather|make that|plutot|en fait"
    r"|nein,? doch|eher|mejor|o sea|anzi|o meglio|cioe|alias|ou melhor|quer dizer)\b"
)
# A number for the one numeric option of the product in play ("für zwei" on the tent's
# page, "le 30" on the backpack's): after "for", an article or alone.
# A number followed by money or time is no such choice ("for 2 weeks", "le 30 €").
_NO_CHOICE = (
    r"(?!\s*(?:[.,]\d|%|€|\$|£|(?:eur|euros?|chf|gbp|usd|weeks?|days?|months?|years?|nights?"
    r"|hours?|semaines?|jours?|mois|ans|nuits?|wochen|tagen?|monaten?|jahren?|nachte|semanas?"
    r"|dias?|meses|anos|noches|settimane|giorni|mesi|anni|notti|noites)\b))"
)
_FOR_NUMBER = re.compile(
    r"\b(?:for|fur|para|pra|per|pour|por)\s+(?:the\s+|les\s+)?("
    + "|".join(sorted((w for w in SMALL_NUMBER_WORDS if " " not in w), key=len, reverse=True))
    + r"|\d{1,3})\b"
    + _NO_CHOICE
)
_ARTICLE_NUMBER = re.compile(
    r"\b(?:the|el|la|le|les|los|las|il|lo|der|die|das|den|o|a|nr|numero|nummer)\s+(\d{1,3})\b"
    + _NO_CHOICE
)
_LONE_NUMBER = re.compile(
    r"\W*(\w+)\W*(?:please|pls|merci|danke|bitte|gracias|grazie|obrigad[oa])?\W*"
)
_SIZE_ORDER = ("xxs", "xs", "s", "m", "l", "xl", "xxl", "xxxl")
_LEADING_NUMBER = re.compile(r"\d+")

# German writes the noun "Größe" (size) and the adjective "große" (large) alike once
# folded; a capital inside the sentence marks the noun.
_GERMAN_SIZE_NOUN = re.compile(r"(?<=\s)Gr(?:ö|oe|o)(?:ß|ss)en?\b")

_REWRITES: tuple[tuple[re.Pattern[str], str | Callable[[re.Match[str]], str]], ...] = tuple(
    (re.compile(pattern), replacement)
    for pattern, replacement in (
        (r"[\u2019`]", "'"),
        # Elisions and contractions would otherwise leave sizes behind: "l'imperméable"
        # → l, "s'il vous plaît" → s, "it's" → s, "I'm" → m.
        (r"\b(?:[lmstdjnc]|qu)'(?=[a-z])", " "),
        (r"'(?:s|m|re|ve|ll|d)\b", " "),
        # "the bigger one", "la plus petite": read against the sizes of the product in play,
        # before "grande" and "petite" are read as sizes L and S.
        (_BIGGER, f" {_LARGEST} "),
        (_SMALLER, f" {_SMALLEST} "),
        # Lower-case "größe(n)" after these words is the noun too (see _GERMAN_SIZE_NOUN).
        (
            r"\b(welche[nr]?|meine[r]?|deine[r]?|seine[r]?|ihre[r]?|eure[r]?|andere[n]?|jede[r]?"
            r"|alle[n]?|in|richtige[n]?|passende[n]?|verschiedene[n]?)\s+grossen?\b",
            r"\1 size",
        ),
        (
            rf"\b(?:{'|'.join(sorted(SAME))})\s+({_NOUNS})(?:\s+(?:and|et|und|y|e|&)\s+({_NOUNS}))?\b",
            _same,
        ),
        # Brazilian sizes: P, M, G, GG.
        (r"\b(?:tamanho|talla)\s*:?\s*(p|g|gg)\b", _brazilian_size),
        (rf"\b(?:{'|'.join(sorted(SIZE_NOUNS))})\b\s*:?\s*(?={_SIZE}\b)", " "),
        # "2 grand" is money, not size L.
        (rf"\b({_NUMBER})\s*grand\b", r" \1 thousand "),
        (r"\b(?:extra|x)[\s-]?(?:large|grand|grande|gross\w*)\b|\btres[\s-]grand\w*", " xl "),
        (
            r"\b(?:extra|x)[\s-]?(?:small|petit\w*|klein\w*|pequen[oa]|piccol[oa])\b"
            r"|\btres[\s-]petit\w*",
            " xs ",
        ),
        (r"\b(?:navy blue|bleu marine|azul marinh?o|blu (?:navy|marino))\b", " navy "),
        (
            rf"\b({_CAPACITY_NUMBER})\s*-?\s*(?:p|persons?|people|man|men|mann|personnes?|personen"
            r"|personas?|persone|pessoas?|places?|plazas?|posti|lugares?)\b",
            _capacity,
        ),
        (r"\b(\d+)\s*-?\s*(?:l|ltr|litres?|liters?|litros?|litri)\b", r" \1l "),
    )
)
_ID = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)+")
_TERM = re.compile(r"[a-z0-9]+")
_UMLAUTS = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "Ä": "Ae", "Ö": "Oe", "Ü": "Ue"})


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
    keyword_forms: dict[str, frozenset[str]]  # keyword or its plural → keyword terms
    keyword_typos: dict[int, tuple[str, ...]]  # length → keywords that may be misspelt
    longest: int  # most words in one keyword or value ("tienda de campaña": 3)
    options: dict[str, dict[str, str]]  # variant id → option name → value term
    values: dict[str, frozenset[str]]  # variant id → option value terms
    distinguishing: dict[str, frozenset[str]]  # product id → options that vary
    kinds: dict[str, frozenset[str]]  # value term → the options it is a value of (size, colour…)
    ordered: dict[str, str]  # product id → its one varying option with ordered values
    numbered: dict[str, dict[int, str]]  # product id → number → value ("2" → 2p) of its one
    # varying option whose values are numbers ("2p", "20L", "42")
    value_words: dict[str, str]  # every word for a value the catalogue has → value term
    typo_targets: dict[int, tuple[tuple[str, str], ...]]  # length → (word, value term)
    shorthand: dict[str, str]  # "blk", "lrg" → value term, for the values the catalogue has
    known: frozenset[str]  # keywords, option words, everyday words: never read as a typo
    labels: dict[str, str]  # variant id → folded label, for the last-resort fuzzy pick


def match_variant(
    text: str,
    catalog: Catalog,
    *,
    product_id: str | None = None,
    strict: bool = False,
    current: Variant | None = None,
) -> VariantMatch:
    """Find the variant ``text`` names, using ``product_id`` as context if given.

    ``current`` is the variant the shopper chose before: "the black one, same size" (or
    "même taille", "gleiche Größe", "misma talla", "stessa taglia", "mesmo tamanho",
    and likewise "same colour") takes its size (colour) as if written out, and its
    product is the context when ``product_id`` is None. Without such words it plays no
    part.

    With ``strict`` (scanning a message that answers another question) a variant is
    returned only when a product keyword and a value for every option that varies within
    that product are written out exactly (in any of the six languages, or as "same
    size"); otherwise the match is empty. Stock plays no part: out-of-stock variants
    match like any other.
    """
    cleaned = usable(text)
    if cleaned is None:
        return VariantMatch()
    index = _index(catalog)
    for variant_id in _ID.findall(fold(cleaned)):
        found = catalog.variant(variant_id)
        if found is not None:
            return VariantMatch(variant=found[1], product=found[0], choices=(found,))

    read = _read(cleaned, index)
    mentioned = _named_values(read, index, typos=not strict) | _carried(read, current)
    named = _products_named(read, catalog, index, fuzzy=not strict)
    if product_id:
        context = catalog.product(product_id)
    else:
        context = catalog.product(current.product_id) if current is not None else None

    if strict:
        return _strict_match(named, mentioned, index)

    if context is not None and (not named or context in named):
        products = [context]
    else:
        products = named or list(catalog.products)
    known_product = products[0] if len(products) == 1 else None
    if known_product is not None:
        mentioned |= _numbered(read, known_product, index)
    pool = [(p, v) for p in products for v in p.variants]
    consistent = [(p, v) for p, v in pool if mentioned <= index.values[v.id]]
    if known_product is not None:
        consistent = _extremes(read, consistent, known_product, index)

    if len(consistent) == 1 and (mentioned or known_product):
        product, variant = consistent[0]
        return VariantMatch(variant=variant, product=product, choices=(consistent[0],))

    if not (named or context or mentioned):
        return VariantMatch(choices=tuple(_closest_by_label(read.normalised, catalog, index)))
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

    A product named in the text (keywords, name or id, typos tolerated, in any of the
    six languages: "la sudadera negra tiene stock?") comes first; the product in context
    (``product_id``, the page) counts when the text names it or names none but one of
    its option values ("is the blue one in stock?"). Several products named alike are
    told apart by the option values; a tie is no mention.
    """
    cleaned = usable(text)
    if cleaned is None:
        return None
    for variant_id in _ID.findall(fold(cleaned)):
        found = catalog.variant(variant_id)
        if found is not None:
            return Mention(product=found[0], variants=(found[1],), narrowed=True)
    index = _index(catalog)
    read = _read(cleaned, index)
    mentioned = _named_values(read, index, typos=True)
    named = _products_named(read, catalog, index, fuzzy=True)
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
        value
        for name, value in index.options[variant.id].items()
        if name in index.distinguishing[product.id]
    }
    if not required <= mentioned:
        return VariantMatch()
    return VariantMatch(variant=variant, product=product, choices=((product, variant),))


def _numbered(text: _Text, product: Product, index: _Index) -> frozenset[str]:
    """The value of the product's numeric option a bare number names.

    "für zwei" and "para 3" on the tent's page are its 2p and 3p, "le 30" on the
    backpack's its 30L, "2" alone the 2p tent.
    """
    by_number = index.numbered.get(product.id)
    if by_number is None:
        return frozenset()
    written = [m.group(1) for m in _FOR_NUMBER.finditer(text.normalised)]
    written += [m.group(1) for m in _ARTICLE_NUMBER.finditer(text.normalised)]
    alone = _LONE_NUMBER.fullmatch(text.normalised)
    if alone:
        written.append(alone.group(1))
    numbers = (int(word) if word.isdigit() else SMALL_NUMBER_WORDS.get(word) for word in written)
    return frozenset(by_number[n] for n in numbers if n in by_number)


def _extremes(
    text: _Text, consistent: list[tuple[Product, Variant]], product: Product, index: _Index
) -> list[tuple[Product, Variant]]:
    """The largest (or smallest) of the consistent variants, for "the bigger one"."""
    direction = (_LARGEST in text.words) - (_SMALLEST in text.words)
    option = index.ordered.get(product.id)
    if not direction or option is None or not consistent:
        return consistent
    ranked = [
        (direction * (_rank(index.options[v.id][option]) or 0), (p, v)) for p, v in consistent
    ]
    best = max(rank for rank, _ in ranked)
    return [pair for rank, pair in ranked if rank == best]


def _rank(value: str) -> int | None:
    """A value's place in its option's order: sizes XS to XXL, else its number ("30l")."""
    if value in _SIZE_ORDER:
        return _SIZE_ORDER.index(value)
    number = _LEADING_NUMBER.match(value)
    return int(number.group(0)) if number else None


def _scales(
    product: Product, options: dict[str, dict[str, str]], varying: frozenset[str]
) -> tuple[str | None, dict[int, str] | None]:
    """How the product's variants scale, for "the bigger one" and "für zwei".

    Returns its one varying option whose values have an order (sizes, numbers), and the
    values of its one varying option of numbers by their number ("2p", "20L", "42").
    """
    ordered, numbered = [], []
    for name in sorted(varying):
        values = {options[variant.id][name] for variant in product.variants}
        if all(_rank(value) is not None for value in values):
            ordered.append(name)
        numbers = {value: _LEADING_NUMBER.match(value) for value in values}
        if all(numbers.values()) and len({m.group(0) for m in numbers.values() if m}) == len(
            values
        ):
            numbered.append({int(m.group(0)): value for value, m in numbers.items() if m})
    return (
        ordered[0] if len(ordered) == 1 else None,
        numbered[0] if len(numbered) == 1 else None,
    )


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
    normalised = fold(_GERMAN_SIZE_NOUN.sub("size", text))
    for pattern, replacement in _REWRITES:
        normalised = pattern.sub(replacement, normalised)
    return normalised


@dataclass(frozen=True)
class _Text:
    """A message as the matcher reads it."""

    normalised: str
    words: frozenset[str]  # the only terms that may be typos: "want a" is no "manta"
    terms: frozenset[str]  # words and runs of neighbours joined ("t shirt" → tshirt)
    # The parts between self-correction cues ("red M", "S" of "red M... no wait, S").
    revisions: tuple[_Text, ...] = ()


def _read(cleaned: str, index: _Index) -> _Text:
    normalised = _normalise(cleaned)
    parts = _CORRECTION.split(normalised)
    if len(parts) > _MAX_REVISIONS:
        # Beyond a few corrections the earliest words are one first draft.
        parts = [" ".join(parts[: 1 - _MAX_REVISIONS]), *parts[1 - _MAX_REVISIONS :]]
    revisions = tuple(_terms(part, index) for part in parts) if len(parts) > 1 else ()
    return replace(_terms(normalised, index), revisions=revisions)


def _terms(normalised: str, index: _Index) -> _Text:
    words = _TERM.findall(normalised)
    terms = list(words)
    for size in range(2, max(index.longest, 2) + 1):
        terms += ["".join(words[at : at + size]) for at in range(len(words) - size + 1)]
    return _Text(normalised, frozenset(words), frozenset(terms))


def _named_values(text: _Text, index: _Index, *, typos: bool) -> frozenset[str]:
    """The values the text names, revised by the self-corrections it holds.

    Values named after a cue replace those of the same option named before it: "red
    M... no wait, S" names red and S.
    """
    if not text.revisions:
        return _option_values(text, index, typos=typos)
    values: frozenset[str] = frozenset()
    for part in text.revisions:
        revised = _option_values(part, index, typos=typos)
        replaced = {kind for value in revised for kind in index.kinds[value]}
        values = revised | {value for value in values if not index.kinds[value] & replaced}
    return values


def _products_named(text: _Text, catalog: Catalog, index: _Index, *, fuzzy: bool) -> list[Product]:
    """The products the text names; after self-corrections, the last ones named."""
    for part in reversed(text.revisions):
        revised = _named_products(part, catalog, index, fuzzy=fuzzy)
        if revised:
            return revised
    return _named_products(text, catalog, index, fuzzy=fuzzy)


def _term(text: str) -> str:
    """Catalogue text as a term: folded, without spaces or punctuation ("20L" → 20l)."""
    return "".join(_TERM.findall(fold(text)))


@lru_cache(maxsize=1024)
def _value_term(value: str) -> str:
    """An option value as a term, in English where it is a common option word ("noir" → black)."""
    term = "".join(_TERM.findall(_normalise(value)))
    return OPTION_WORDS.get(term, term)


def _kind(option_name: str) -> str | None:
    """Whether an option (or a noun) is a size or a colour, named in any of the six languages."""
    term = _term(option_name)
    if term in SIZE_NOUNS:
        return "size"
    return "colour" if term in COLOUR_NOUNS else None


def _carried(text: _Text, current: Variant | None) -> frozenset[str]:
    """The values of ``current`` that "same size" / "same colour" in the text refer to."""
    if current is None:
        return frozenset()
    return frozenset(
        _value_term(value)
        for name, value in current.options.items()
        if f"same{_kind(name)}" in text.words
    )


def _close(word: str, target: str) -> bool:
    """Whether ``word`` is ``target`` misspelt, strictly enough for short words."""
    if word == target:
        return True
    if len(target) < 4 or abs(len(word) - len(target)) > 1 or word.isdigit():
        return False
    if len(target) == 4:
        # Only a swapped pair ("bule"): one substitution turns "test" into "tent".
        return sorted(word) == sorted(target) and OSA.distance(word, target) == 1
    return OSA.distance(word, target) <= 1


def _option_values(text: _Text, index: _Index, *, typos: bool) -> frozenset[str]:
    """The catalogue values the text names.

    Option words count as written, else (``typos``) shorthand ("blk", "lrg") and a
    misspelt word when the misspelling can mean only one value.
    """
    found = set()
    for term in text.terms:
        value = index.value_words.get(term)
        if value is not None:
            found.add(value)
        elif typos and term in index.shorthand and term in text.words:
            found.add(index.shorthand[term])
        elif typos and term in text.words and term not in index.known:
            near = {
                value
                for length in (len(term) - 1, len(term), len(term) + 1)
                for word, value in index.typo_targets.get(length, ())
                if _close(term, word)
            }
            if len(near) == 1:
                found |= near
    return frozenset(found)


def _named_products(text: _Text, catalog: Catalog, index: _Index, *, fuzzy: bool) -> list[Product]:
    """Return the products the text names: those with the most keyword hits.

    A keyword counts as written, with a plural "-s"/"-es" ("boots" for "boot"), or
    (``fuzzy``) misspelt in a single word when it has five letters or more.
    """
    named: set[str] = set()
    for term in text.terms:
        named |= index.keyword_forms.get(term, frozenset())
    if fuzzy:
        for word in text.words - index.known:
            for length in (len(word) - 1, len(word), len(word) + 1):
                named.update(k for k in index.keyword_typos.get(length, ()) if _close(word, k))
    hits: dict[str, int] = {}
    for product in catalog.products:
        keywords = index.keywords[product.id]
        count = len(keywords & named)
        if re.search(rf"\b{re.escape(product.id)}\b", text.normalised):
            count += len(keywords)
        if count:
            hits[product.id] = count
    if not hits:
        return []
    best = max(hits.values())
    return [p for p in catalog.products if hits.get(p.id) == best]


def _keyword_terms(product: Product) -> frozenset[str]:
    """Keywords and name words as terms, German umlauts also as ae/oe/ue ("Muetze")."""
    words = [*product.keywords, *product.name.split()]
    spellings = {_term(spelling) for word in words for spelling in (word, word.translate(_UMLAUTS))}
    return frozenset(term for term in spellings if len(term) >= 3)


@lru_cache(maxsize=8)
def _index(catalog: Catalog) -> _Index:
    keywords: dict[str, frozenset[str]] = {}
    options: dict[str, dict[str, str]] = {}
    distinguishing: dict[str, frozenset[str]] = {}
    labels: dict[str, str] = {}
    value_words: dict[str, str] = {}
    kinds: dict[str, set[str]] = {}
    ordered: dict[str, str] = {}
    numbered: dict[str, dict[int, str]] = {}
    longest = 1
    for product in catalog.products:
        keywords[product.id] = _keyword_terms(product)
        longest = max([longest, *(len(_TERM.findall(fold(k))) for k in product.keywords)])
        seen: dict[str, set[str]] = {}
        for variant in product.variants:
            options[variant.id] = {name: _value_term(v) for name, v in variant.options.items()}
            labels[variant.id] = fold(product.variant_label(variant))
            for name, value in variant.options.items():
                seen.setdefault(name, set()).add(options[variant.id][name])
                value_words[_term(value)] = options[variant.id][name]
                longest = max(longest, len(_TERM.findall(fold(value))))
        distinguishing[product.id] = frozenset(n for n, vs in seen.items() if len(vs) > 1)
        for name, values in seen.items():
            for value in values:
                kinds.setdefault(value, set()).add(_kind(name) or _term(name))
        ordered_option, numbers = _scales(product, options, distinguishing[product.id])
        if ordered_option is not None:
            ordered[product.id] = ordered_option
        if numbers is not None:
            numbered[product.id] = numbers
    # Only the catalogue's own words may be misspelt: the six languages' words are many
    # and short, and a typo of one is too often another word ("notre", "noire").
    typo_targets: dict[int, list[tuple[str, str]]] = {}
    for word, value in value_words.items():
        if word not in SIZE_WORDS:
            typo_targets.setdefault(len(word), []).append((word, value))
    used = set(value_words.values())
    value_words.update({word: value for word, value in OPTION_WORDS.items() if value in used})
    value_words.update({value: value for value in used})
    all_keywords = frozenset(itertools.chain.from_iterable(keywords.values()))
    keyword_forms: dict[str, set[str]] = {}
    keyword_typos: dict[int, list[str]] = {}
    for keyword in all_keywords:
        for form in (keyword, keyword + "s", keyword + "es", keyword.removesuffix("s")):
            keyword_forms.setdefault(form, set()).add(keyword)
        if len(keyword) >= 5:
            keyword_typos.setdefault(len(keyword), []).append(keyword)
    return _Index(
        keywords=keywords,
        keyword_forms={form: frozenset(found) for form, found in keyword_forms.items()},
        keyword_typos={n: tuple(sorted(found)) for n, found in keyword_typos.items()},
        longest=longest,
        options=options,
        values={v: frozenset(names.values()) for v, names in options.items()},
        distinguishing=distinguishing,
        kinds={value: frozenset(found) for value, found in kinds.items()},
        ordered=ordered,
        numbered=numbered,
        value_words=value_words,
        typo_targets={n: tuple(pairs) for n, pairs in typo_targets.items()},
        shorthand={word: value for word, value in SHORTHAND.items() if value in used},
        known=all_keywords.union(OPTION_WORDS, value_words, NOT_TYPOS, SHORTHAND),
        labels=labels,
    )
