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


@pytest.mark.parametrize(
    ("text", "product_id", "variant_id"),
    [
        # Spanish: blue rain jacket in M
        ("chaqueta impermeable azul M", None, "jacket-rain-blue-m"),
        ("sudadera con capucha negra, talla M", None, "hoodie-classic-black-m"),
        ("la negra en talla L", "hoodie-classic", "hoodie-classic-black-l"),
        # a keyword of three words
        ("tienda de campaña para 2 personas", None, "tent-dome-2p"),
        # German: the grey beanie; adjective endings fold to the base colour
        ("die graue Mütze", None, "beanie-merino-grey"),
        # the umlaut written out
        ("die graue Muetze", None, "beanie-merino-grey"),
        ("den schwarzen Kapuzenpullover in Größe M", None, "hoodie-classic-black-m"),
        ("die blaue Regenjacke, Größe L", None, "jacket-rain-blue-l"),
        # "große" (large), not "Größe" (size)
        ("die große Jacke", None, "jacket-rain-blue-l"),
        ("Zelt für zwei Personen", None, "tent-dome-2p"),
        ("Rucksack 20 Liter grün", None, "backpack-trail-20l-green"),
        # French
        ("le sweat à capuche gris en M", None, "hoodie-classic-grey-m"),
        # "l'" is no size L, "s'il" no size S
        ("je voudrais l'imperméable bleu taille M s'il vous plaît", None, "jacket-rain-blue-m"),
        ("sac à dos noir 30 litres", None, "backpack-trail-30l-black"),
        ("très grand sweat noir", None, "hoodie-classic-black-xl"),
        ("bougie lavande", None, "candle-forest-lavender"),
        # Italian
        ("felpa con cappuccio nera taglia M", None, "hoodie-classic-black-m"),
        ("la giacca antipioggia rossa, taglia piccola", None, "jacket-rain-red-s"),
        ("zaino da 30 litri nero", None, "backpack-trail-30l-black"),
        ("tazza bianca", None, "mug-enamel-white"),
        # Portuguese
        ("casaco impermeável vermelho tamanho S", None, "jacket-rain-red-s"),
        # the Brazilian size G is L
        ("moletom preto tamanho G", None, "hoodie-classic-black-l"),
        ("a camiseta branca, tamanho médio", None, "tee-organic-white-m"),
        ("caneca azul", None, "mug-enamel-blue"),
        # languages mixed
        ("the hoodie in schwarz, size M", None, "hoodie-classic-black-m"),
        ("bonnet rouge please", None, "beanie-merino-red"),
    ],
)
def test_match_variant_in_six_languages(
    catalog: Catalog, text: str, product_id: str | None, variant_id: str
) -> None:
    match = match_variant(text, catalog, product_id=product_id)
    assert match.variant is not None and match.variant.id == variant_id


@pytest.mark.parametrize(
    ("text", "product", "candidates"),
    [
        # de: a colour the product does not come in: the product, its variants to pick from
        (
            "einen roten Becher",
            "mug-enamel",
            ["mug-enamel-blue", "mug-enamel-white", "mug-enamel-green"],
        ),
        # fr: a size and a colour two products share
        ("grand noir", None, ["hoodie-classic-black-l", "tee-organic-black-l"]),
        # fr: "sac à dos" names the backpack as a phrase; its two black variants remain
        (
            "le sac à dos noir",
            "backpack-trail",
            ["backpack-trail-20l-black", "backpack-trail-30l-black"],
        ),
    ],
)
def test_match_variant_in_six_languages_ambiguous(
    catalog: Catalog, text: str, product: str | None, candidates: list[str]
) -> None:
    match = match_variant(text, catalog)
    assert match.variant is None
    assert (match.product.id if match.product else None) == product
    assert [v.id for v in match.candidates] == candidates


@pytest.mark.parametrize(
    ("text", "product_id", "variant_id"),
    [
        # fr "s'il" is no size S
        ("s'il vous plaît, le bleu en M", "hoodie-classic", "hoodie-classic-blue-m"),
        # es "este" (this one) is no misspelt "veste" (jacket)
        ("este en negro, talla M", "hoodie-classic", "hoodie-classic-black-m"),
        # "back" is no misspelt "black"
        ("is the grey hoodie back in stock? M", None, "hoodie-classic-grey-m"),
        # "want a" joined is no misspelt "manta" (blanket)
        ("I want a tent, two people", None, "tent-dome-2p"),
        # "2 grand" is money, not size L
        ("the blue hoodie in M, around 2 grand", None, "hoodie-classic-blue-m"),
    ],
)
def test_match_variant_ignores_lookalike_words(
    catalog: Catalog, text: str, product_id: str | None, variant_id: str
) -> None:
    match = match_variant(text, catalog, product_id=product_id)
    assert match.variant is not None and match.variant.id == variant_id


@pytest.mark.parametrize(
    ("text", "variant_id"),
    [
        # es
        ("chaqueta impermeable azul talla M", "jacket-rain-blue-m"),
        ("el gorro gris", "beanie-merino-grey"),  # one size: the colour is enough
        # de
        ("die graue Mütze", "beanie-merino-grey"),
        ("Kapuzenpullover schwarz, Größe XL", "hoodie-classic-black-xl"),
        # fr
        ("le t-shirt blanc en taille XS", "tee-organic-white-xs"),
        ("une tente 3 places", "tent-dome-3p"),
        # it
        ("la felpa blu taglia L", "hoodie-classic-blue-l"),
        ("coperta grigia", "blanket-wool-grey"),
        # pt
        ("o casaco azul em L", "jacket-rain-blue-l"),
        ("botas pretas 41", "boots-hiking-black-41"),
        # en, "2 grand" is no size
        ("the blue hoodie in M, around 2 grand", "hoodie-classic-blue-m"),
        # es: no product word
        ("la negra en talla M", None),
        # es: no size
        ("sudadera negra", None),
        # de: a typo
        ("Mütze in grauu", None),
        # fr: two colours
        ("sweat noir taille M, ou gris", None),
        # it: two sizes
        ("felpa nera, taglia media o grande", None),
        # pt: the product alone
        ("camiseta", None),
    ],
)
def test_match_variant_strict_in_six_languages(
    catalog: Catalog, text: str, variant_id: str | None
) -> None:
    match = match_variant(text, catalog, strict=True)
    assert (match.variant.id if match.variant else None) == variant_id


@pytest.mark.parametrize(
    ("text", "product_id", "variant_id"),
    [
        ("hmm actually the black one, same size", None, "hoodie-classic-black-m"),
        ("hmm actually the black one, same size", "hoodie-classic", "hoodie-classic-black-m"),
        ("plutôt le noir, même taille", None, "hoodie-classic-black-m"),
        ("lieber die schwarze, gleiche Größe", None, "hoodie-classic-black-m"),
        ("lieber die schwarze in der gleichen größe", None, "hoodie-classic-black-m"),
        ("mejor la negra, misma talla", None, "hoodie-classic-black-m"),
        ("meglio la nera, stessa taglia", None, "hoodie-classic-black-m"),
        ("prefiro a preta, do mesmo tamanho", None, "hoodie-classic-black-m"),
        ("same colour, but in S", None, "hoodie-classic-blue-s"),
        # another product named: the values carry over to it
        ("the jacket, same colour and size", None, "jacket-rain-blue-m"),
        ("la veste, même taille et couleur", None, "jacket-rain-blue-m"),
        ("la chaqueta, misma talla y color", None, "jacket-rain-blue-m"),
    ],
)
def test_match_variant_same_as_current(
    catalog: Catalog, text: str, product_id: str | None, variant_id: str
) -> None:
    found = catalog.variant("hoodie-classic-blue-m")
    assert found is not None
    match = match_variant(text, catalog, product_id=product_id, current=found[1])
    assert match.variant is not None and match.variant.id == variant_id
    # without the variant chosen before, "same size" says nothing
    assert match_variant(text, catalog, product_id=product_id).variant is None


def test_match_variant_same_size_in_strict_mode(catalog: Catalog) -> None:
    found = catalog.variant("hoodie-classic-blue-m")
    assert found is not None
    current = found[1]
    # "same size" writes the size out by reference; the product must still be written
    strict = match_variant("the black hoodie, same size", catalog, strict=True, current=current)
    assert strict.variant is not None and strict.variant.id == "hoodie-classic-black-m"
    no_product = match_variant("the black one, same size", catalog, strict=True, current=current)
    assert no_product.variant is None
    # the variant chosen before counts only when the text refers to it
    assert match_variant("the black hoodie", catalog, strict=True, current=current).variant is None


@pytest.mark.parametrize(
    ("text", "product_id", "product", "variants"),
    [
        # es
        (
            "la sudadera negra tiene stock?",
            None,
            "hoodie-classic",
            [
                "hoodie-classic-black-s",
                "hoodie-classic-black-m",
                "hoodie-classic-black-l",
                "hoodie-classic-black-xl",
            ],
        ),
        (
            "¿hay stock de la mochila negra?",
            None,
            "backpack-trail",
            ["backpack-trail-20l-black", "backpack-trail-30l-black"],
        ),
        # de: another product than the page's
        (
            "Was kostet die Mütze in Grau?",
            "hoodie-classic",
            "beanie-merino",
            ["beanie-merino-grey"],
        ),
        # de: the page's product, by its option values
        (
            "Habt ihr das in Schwarz, Größe M?",
            "hoodie-classic",
            "hoodie-classic",
            ["hoodie-classic-black-m"],
        ),
        # de: "Größen" is the noun, not "große" (large), and "hat" (has) is no product
        ("Welche Größen hat die Jacke?", None, "jacket-rain", None),
        # fr
        ("il reste des bonnets rouges ?", None, "beanie-merino", ["beanie-merino-red"]),
        (
            "c'est combien la veste imperméable en M ?",
            None,
            "jacket-rain",
            ["jacket-rain-red-m", "jacket-rain-blue-m"],
        ),
        # fr: "rosa" (pink, not sold) is no misspelt "rossa" (red): nothing narrowed
        ("le bonnet rosa est dispo ?", None, "beanie-merino", None),
        # it
        ("prezzo della tenda?", None, "tent-dome", None),
        (
            "è disponibile in blu?",
            "jacket-rain",
            "jacket-rain",
            ["jacket-rain-blue-m", "jacket-rain-blue-l"],
        ),
        # pt
        ("quanto custa a caneca branca?", None, "mug-enamel", ["mug-enamel-white"]),
        ("ainda tem o casaco preto?", None, "jacket-rain", ["jacket-rain-black-xl"]),
    ],
)
def test_mentioned_item_in_six_languages(
    catalog: Catalog, text: str, product_id: str | None, product: str, variants: list[str] | None
) -> None:
    mention = mentioned_item(text, catalog, product_id=product_id)
    assert mention is not None and mention.product.id == product
    if variants is None:
        assert not mention.narrowed
        assert mention.variants == mention.product.variants
    else:
        assert [v.id for v in mention.variants] == variants


@pytest.mark.parametrize(
    ("text", "product_id"),
    [
        # es "este" (this) is no misspelt "veste"
        ("¿este tiene stock?", "hoodie-classic"),
        # es "tienda" (shop) is no misspelt "tenda" (tent)
        ("¿la tienda envía a Canarias?", None),
        # fr "bonne" is no misspelt "bonnet"
        ("bonne journée", None),
        # fr "l'" is no size L
        ("merci pour l'aide", "hoodie-classic"),
        # de: the noun "größen" in lower case is no size L
        ("welche größen gibt es?", "jacket-rain"),
        # de "hat" (has) is no product
        ("wie lange hat der Versand?", None),
        # "train" is no misspelt "trail"
        ("what time does the train stop in Lyon", None),
    ],
)
def test_nothing_mentioned_in_six_languages(
    catalog: Catalog, text: str, product_id: str | None
) -> None:
    assert mentioned_item(text, catalog, product_id=product_id) is None


SHOP = """\
shop: {name: Test Shop, currency: EUR, default_country: FR}
products:
  - id: scarf
    name: Scarf
    category: apparel
    description: A scarf.
    keywords: [scarf, écharpe, Schal, sciarpa]
    price: "20.00"
    currency: EUR
    ships_to: [FR]
    delivery_days: 2
    variants:
      - {id: scarf-pink-m, name: "Pink, M", options: {Farbe: pink, Taille: M}, stock: 1}
      - {id: scarf-purple-m, name: "Purple, M", options: {Farbe: purple, Taille: M}, stock: 1}
      - {id: scarf-navy-l, name: "Navy, L", options: {Farbe: navy, Taille: L}, stock: 1}
      - {id: scarf-noir-l, name: "Noir, L", options: {Farbe: noir, Taille: L}, stock: 1}
"""


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Catalog:
    path = tmp_path_factory.mktemp("shop") / "catalog.yml"
    path.write_text(SHOP, encoding="utf-8")
    return load_catalog(path)


@pytest.mark.parametrize(
    ("text", "variant_id"),
    [
        # colours the demo shop does not sell, in the words of the six languages
        ("l'écharpe rose", "scarf-pink-m"),
        ("el pañuelo rosa", "scarf-pink-m"),
        ("lila Schal", "scarf-purple-m"),
        ("sciarpa viola", "scarf-purple-m"),
        # two words for one colour: navy, not blue
        ("bleu marine", "scarf-navy-l"),
        ("azul marinho", "scarf-navy-l"),
        # the shop wrote its colour in French
        ("the black one", "scarf-noir-l"),
        ("schwarzer Schal", "scarf-noir-l"),
    ],
)
def test_option_words_serve_any_catalogue(shop: Catalog, text: str, variant_id: str) -> None:
    match = match_variant(text, shop, product_id="scarf")
    assert match.variant is not None and match.variant.id == variant_id


def test_same_size_reads_option_names_in_other_languages(shop: Catalog) -> None:
    found = shop.variant("scarf-navy-l")
    assert found is not None
    # the options are called "Taille" and "Farbe"
    match = match_variant("en noir, même taille", shop, current=found[1])
    assert match.variant is not None and match.variant.id == "scarf-noir-l"
    # pink in the navy one's size L: no such scarf
    assert match_variant("in rosa, gleiche Größe", shop, current=found[1]).variant is None


@pytest.mark.parametrize(
    ("text", "product_id", "variant_id"),
    [
        # the largest or smallest of the product in play, among the variants its other
        # words allow
        ("I'll go with the larger one", "backpack-trail", "backpack-trail-30l-black"),
        ("the biggest please", "hoodie-classic", "hoodie-classic-black-xl"),  # XL in black only
        ("the smallest blue one", "hoodie-classic", "hoodie-classic-blue-s"),
        ("la plus grande en blanc", "tee-organic", "tee-organic-white-m"),  # not "grande" L
        ("die größere bitte", "tent-dome", "tent-dome-3p"),
        ("das kleinere Zelt", None, "tent-dome-2p"),  # the product named, not on its page
        ("el más grande", "boots-hiking", "boots-hiking-brown-44"),
        ("la más pequeña en negro", "boots-hiking", "boots-hiking-black-41"),
        ("quella più piccola", "tent-dome", "tent-dome-2p"),
        ("a maior, preta", "backpack-trail", "backpack-trail-30l-black"),
        ("o menor em verde", "backpack-trail", "backpack-trail-20l-green"),
    ],
)
def test_match_variant_bigger_or_smaller(
    catalog: Catalog, text: str, product_id: str | None, variant_id: str
) -> None:
    match = match_variant(text, catalog, product_id=product_id)
    assert match.variant is not None and match.variant.id == variant_id


@pytest.mark.parametrize(
    ("text", "product_id", "candidates"),
    [
        # two variants share the smallest size
        ("the smaller one", "hoodie-classic", ["hoodie-classic-blue-s", "hoodie-classic-black-s"]),
        # no product in play: nothing to compare
        ("the bigger one", None, []),
        # one size: the colours have no order
        ("the bigger one", "beanie-merino", None),
    ],
)
def test_match_variant_bigger_or_smaller_ambiguous(
    catalog: Catalog, text: str, product_id: str | None, candidates: list[str] | None
) -> None:
    match = match_variant(text, catalog, product_id=product_id)
    assert match.variant is None
    if candidates is not None:
        assert [v.id for v in match.candidates] == candidates
    assert match_variant(text, catalog, product_id=product_id, strict=True).variant is None


@pytest.mark.parametrize(
    ("text", "product_id", "variant_id"),
    [
        ("blk hoodie lrg", None, "hoodie-classic-black-l"),
        ("wht tee med", None, "tee-organic-white-m"),
        ("gry socks sml", None, "socks-merino-grey-s"),
        ("grn mug", None, "mug-enamel-green"),
        ("the brn ones, 42", None, "boots-hiking-brown-42"),
        ("hoodi blk xl", None, "hoodie-classic-black-xl"),  # a typo and shorthand
        ("hoody in gry", None, "hoodie-classic-grey-m"),  # grey comes in M only
        ("blck, sm", "tee-organic", "tee-organic-black-s"),
    ],
)
def test_match_variant_shorthand(
    catalog: Catalog, text: str, product_id: str | None, variant_id: str
) -> None:
    match = match_variant(text, catalog, product_id=product_id)
    assert match.variant is not None and match.variant.id == variant_id
    # like typos, shorthand is not written out: strict mode does not read it
    assert match_variant(text, catalog, product_id=product_id, strict=True).variant is None


def test_shorthand_serves_any_catalogue(shop: Catalog) -> None:
    match = match_variant("the nvy one", shop, product_id="scarf")
    assert match.variant is not None and match.variant.id == "scarf-navy-l"


@pytest.mark.parametrize(
    ("text", "product_id", "variant_id"),
    [
        # what follows the cue replaces the same option named before it, and only that
        ("black M... no wait, L", "hoodie-classic", "hoodie-classic-black-l"),
        ("grey M, I mean black", "hoodie-classic", "hoodie-classic-black-m"),
        ("le bleu en S, enfin plutôt M", "jacket-rain", "jacket-rain-blue-m"),
        ("die rote in M, nein doch S", "jacket-rain", "jacket-rain-red-s"),
        ("negra talla S, mejor la L", "tee-organic", "tee-organic-black-l"),
        ("la nera in S, anzi in L", "tee-organic", "tee-organic-black-l"),
        ("a preta M, ou melhor XL", "hoodie-classic", "hoodie-classic-black-xl"),
        ("o azul em S, aliás em M", "hoodie-classic", "hoodie-classic-blue-m"),
        # several corrections: the last one of each option counts
        ("blue S, no wait black, actually M", "hoodie-classic", "hoodie-classic-black-m"),
        # a product named after the cue replaces the one before
        ("the red beanie, actually the hoodie in grey", None, "hoodie-classic-grey-m"),
    ],
)
def test_match_variant_self_correction(
    catalog: Catalog, text: str, product_id: str | None, variant_id: str
) -> None:
    match = match_variant(text, catalog, product_id=product_id)
    assert match.variant is not None and match.variant.id == variant_id


def test_match_variant_self_correction_in_strict_mode(catalog: Catalog) -> None:
    # every value is still written out: the revised one counts
    strict = match_variant("hoodie, black M, actually L", catalog, strict=True)
    assert strict.variant is not None and strict.variant.id == "hoodie-classic-black-l"
    revised = match_variant("hoodie black M, actually blue", catalog, strict=True)
    assert revised.variant is not None and revised.variant.id == "hoodie-classic-blue-m"
    # no size named before or after the cue: no variant
    assert match_variant("black, actually the blue hoodie", catalog, strict=True).variant is None


@pytest.mark.parametrize(
    ("text", "product_id", "variant_id"),
    [
        # a number for the product's one numeric option: capacity, litres, shoe size
        ("für zwei", "tent-dome", "tent-dome-2p"),
        ("para tres", "tent-dome", "tent-dome-3p"),
        ("pour 3", "tent-dome", "tent-dome-3p"),
        ("per due", "tent-dome", "tent-dome-2p"),
        ("pra dois", "tent-dome", "tent-dome-2p"),
        ("one for three of us", "tent-dome", "tent-dome-3p"),
        ("3", "tent-dome", "tent-dome-3p"),  # alone
        ("a tent for two", None, "tent-dome-2p"),  # the product named
        ("the 30", "backpack-trail", "backpack-trail-30l-black"),
        ("el 41", "boots-hiking", "boots-hiking-black-41"),
        ("die 43", "boots-hiking", "boots-hiking-black-43"),
        ("Größe 40", "boots-hiking", "boots-hiking-brown-40"),
    ],
)
def test_match_variant_number_for_the_product_in_play(
    catalog: Catalog, text: str, product_id: str | None, variant_id: str
) -> None:
    match = match_variant(text, catalog, product_id=product_id)
    assert match.variant is not None and match.variant.id == variant_id


@pytest.mark.parametrize(
    ("text", "product_id"),
    [
        ("for 2 weeks", "tent-dome"),  # a duration
        ("für 2 Nächte", "tent-dome"),
        ("le 30 €", "backpack-trail"),  # money
        ("pour deux", "hoodie-classic"),  # no numeric option
        ("the 20", "backpack-trail"),  # two 20L backpacks
        ("2", None),  # no product in play
    ],
)
def test_match_variant_number_that_picks_nothing(
    catalog: Catalog, text: str, product_id: str | None
) -> None:
    assert match_variant(text, catalog, product_id=product_id).variant is None
