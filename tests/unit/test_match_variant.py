import pytest

from bot.catalog import DEMO_CATALOG, Catalog, load_catalog, match_variant, mentioned_item


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog(DEMO_CATALOG)


@pytest.mark.parametrize(
    ("text", "product_id", "variant_id"),
    [
        ("the blue one in M", "hoodie-classic", "hoodie-classic-blue-m"),
        ("blue hoodie medium", None, "hoodie-classic-blue-m"),
        ("hoodie M blue", None, "hoodie-classic-blue-m"),
        ("size large, black", "hoodie-classic", "hoodie-classic-black-l"),
        ("extra large black hoodie", None, "hoodie-classic-black-xl"),
        ("black XL", "jacket-rain", "jacket-rain-black-xl"),
        ("30L backpack", None, "backpack-trail-30l-black"),  # only one 30L
        ("the 30 litre rucksack", None, "backpack-trail-30l-black"),
        ("the 2 person tent", None, "tent-dome-2p"),
        ("two-person tent", None, "tent-dome-2p"),
        ("3p", "tent-dome", "tent-dome-3p"),
        ("hoodie-classic-grey-m", None, "hoodie-classic-grey-m"),  # an id typed out
        ("I'll take tee-organic-red-xl", None, "tee-organic-red-xl"),
        ("tent-dome-2p", None, "tent-dome-2p"),
        ("Backpack-Trail-30L-Black", None, "backpack-trail-30l-black"),
        ("hoddie bleu M", None, "hoodie-classic-blue-m"),  # two typos
        ("gray socks M", None, "socks-merino-grey-m"),
        ("t-shirt white M", None, "tee-organic-white-m"),
        ("tshirt, white, medium", None, "tee-organic-white-m"),
        ("it's a small one", "tee-organic", "tee-organic-black-s"),  # "it's" is not size S
        ("pine candle", None, "candle-forest-pine"),
        ("the brown boots in 42", None, "boots-hiking-brown-42"),
        ("green", "mug-enamel", "mug-enamel-green"),  # out of stock still matches
        ("grey", "beanie-merino", "beanie-merino-grey"),
        ("actually the 30 litre backpack", "hoodie-classic", "backpack-trail-30l-black"),
    ],
)
def test_match_variant(
    catalog: Catalog, text: str, product_id: str | None, variant_id: str
) -> None:
    match = match_variant(text, catalog, product_id=product_id)
    assert match.variant is not None
    assert match.variant.id == variant_id
    assert match.product is not None and match.product.id == match.variant.product_id
    assert [v.id for v in match.candidates] == [variant_id]


@pytest.mark.parametrize(
    ("text", "product_id", "product", "candidates"),
    [
        # several products come in blue
        (
            "blue",
            None,
            None,
            [
                "hoodie-classic-blue-s",
                "hoodie-classic-blue-m",
                "hoodie-classic-blue-l",
                "jacket-rain-blue-m",
                "jacket-rain-blue-l",
            ],
        ),
        (
            "blue",
            "hoodie-classic",
            "hoodie-classic",
            ["hoodie-classic-blue-s", "hoodie-classic-blue-m", "hoodie-classic-blue-l"],
        ),
        ("size large, black", None, None, ["hoodie-classic-black-l", "tee-organic-black-l"]),
        (
            "XL",
            None,
            None,
            ["hoodie-classic-black-xl", "tee-organic-red-xl", "jacket-rain-black-xl"],
        ),
        (
            "the candle",
            None,
            "candle-forest",
            ["candle-forest-pine", "candle-forest-cedar", "candle-forest-lavender"],
        ),
        (
            "merino",
            None,
            None,
            [
                "beanie-merino-grey",
                "beanie-merino-black",
                "beanie-merino-red",
                "socks-merino-grey-s",
                "socks-merino-grey-m",
            ],
        ),
    ],
)
def test_match_variant_ambiguous(
    catalog: Catalog, text: str, product_id: str | None, product: str | None, candidates: list[str]
) -> None:
    match = match_variant(text, catalog, product_id=product_id)
    assert match.variant is None
    assert match.parsed() is None
    assert (match.product.id if match.product else None) == product
    assert [v.id for v in match.candidates] == candidates


def test_match_variant_unknown_combination_offers_the_product(catalog: Catalog) -> None:
    match = match_variant("a red hoodie", catalog)  # no red hoodie in the catalogue
    assert match.variant is None
    assert match.product is not None and match.product.id == "hoodie-classic"
    assert 0 < len(match.candidates) <= 5
    assert all(v.product_id == "hoodie-classic" for v in match.candidates)


@pytest.mark.parametrize(
    ("text", "product_id", "variant_id"),
    [
        ("I'd like the blue hoodie in M", None, "hoodie-classic-blue-m"),
        ("black 30L backpack", None, "backpack-trail-30l-black"),
        ("2 person tent please", None, "tent-dome-2p"),  # the colour does not vary
        ("hoodie-classic-grey-m", None, "hoodie-classic-grey-m"),
        ("blue in M", "hoodie-classic", None),  # the product is not named
        ("30L backpack", None, None),  # the colour is not named
        ("blue hoodie", None, None),  # nor the size
        ("hoddie blue M", None, None),  # typos are not clear enough
        ("around 300", None, None),
        ("in 2 weeks", None, None),
        ("Lyon", None, None),
    ],
)
def test_match_variant_strict(
    catalog: Catalog, text: str, product_id: str | None, variant_id: str | None
) -> None:
    match = match_variant(text, catalog, product_id=product_id, strict=True)
    assert (match.variant.id if match.variant else None) == variant_id
    if variant_id is None:
        assert match.candidates == []
        assert match.product is None


@pytest.mark.parametrize("text", ["", "   ", "🧥", "<script>hoodie</script>", "hoodie " * 100])
def test_match_variant_unusable_text(catalog: Catalog, text: str) -> None:
    match = match_variant(text, catalog)
    assert match.variant is None and match.candidates == []


def test_match_variant_parsed_and_choices(catalog: Catalog) -> None:
    match = match_variant("blue hoodie medium", catalog)
    parsed = match.parsed()
    assert parsed is not None
    assert parsed.value == "hoodie-classic-blue-m"
    assert parsed.display == "Classic Hoodie — blue, M"
    ambiguous = match_variant("the tent", catalog)
    assert [answer.display for answer in ambiguous.candidate_answers()] == [
        "Dome Tent — 2p, green",
        "Dome Tent — 3p, green",
    ]


@pytest.mark.parametrize(
    ("text", "product_id", "product", "variants"),
    [
        # a product and a colour: the variants of that colour
        (
            "is the black hoodie in stock",
            None,
            "hoodie-classic",
            [
                "hoodie-classic-black-s",
                "hoodie-classic-black-m",
                "hoodie-classic-black-l",
                "hoodie-classic-black-xl",
            ],
        ),
        # a misspelt product and a size and colour: one variant
        ("got the hoddie in blue M?", None, "hoodie-classic", ["hoodie-classic-blue-m"]),
        # no option named: every variant of the product
        ("how much is the tent", None, "tent-dome", ["tent-dome-2p", "tent-dome-3p"]),
        # the page's product, named only by its option values
        ("is the blue one in M in stock?", "jacket-rain", "jacket-rain", ["jacket-rain-blue-m"]),
        # another product named on the page wins over the page
        ("and the mug?", "jacket-rain", "mug-enamel", None),
        # an option the product does not come in: the product, no variant
        ("do you have the hoodie in green", None, "hoodie-classic", []),
        # an id typed out
        ("tee-organic-red-xl in stock?", None, "tee-organic", ["tee-organic-red-xl"]),
    ],
)
def test_mentioned_item(
    catalog: Catalog, text: str, product_id: str | None, product: str, variants: list[str] | None
) -> None:
    mention = mentioned_item(text, catalog, product_id=product_id)
    assert mention is not None and mention.product.id == product
    if variants is not None:
        assert [v.id for v in mention.variants] == variants


@pytest.mark.parametrize(
    ("text", "product_id"),
    [
        ("is it in stock?", None),  # nothing named, no page
        ("is it in stock?", "jacket-rain"),  # the page alone is not a mention
        ("is blue in stock?", None),  # a colour of several products
        ("is the purple unicorn in stock?", None),  # not sold here
        ("merino in stock?", None),  # names the beanie and the socks alike
        ("", None),
    ],
)
def test_nothing_mentioned(catalog: Catalog, text: str, product_id: str | None) -> None:
    assert mentioned_item(text, catalog, product_id=product_id) is None
