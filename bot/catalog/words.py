"""Option words of the shop's six languages (English, French, German, Spanish, Italian, Portuguese).

Shoppers name a colour or a size in their own language ("chaqueta azul talla M", "die
graue Mütze") while the catalogue writes one value ("blue", "M"). ``OPTION_WORDS`` maps
each word to the English value a catalogue uses, so a shop that adds a "pink" variant
understands "rose" and "rosa" without listing them. The words cover common colours and
sizes whether the catalogue sells them or not; the matcher looks up only the values the
catalogue has. Words are folded (lower case, no accents, "ß" as "ss").
"""

from __future__ import annotations

from bot.answers.text import word_set

# Value → (words of English, French, Spanish, Italian and Portuguese, also read with a
# plural "-s"/"-es"; German adjectives, also read with the endings -e/-en/-er/-es/-em:
# "graue", "schwarzen").
_COLOURS: dict[str, tuple[str, str]] = {
    "black": ("black noir noire negro negra nero nera neri nere preto preta", "schwarz"),
    "white": (
        "white blanc blanche blanco blanca bianco bianca bianchi bianche branco branca",
        "weiss",
    ),
    "blue": ("blue bleu bleue azul blu azzurro azzurra", "blau"),
    "red": ("red rouge rojo roja rosso rossa rossi rosse vermelho vermelha", "rot"),
    "green": ("green vert verte verde verdi", "grun gruen"),
    "grey": (
        "grey gray gris grise grigio grigia grigi grigie cinza cinzento cinzenta",
        "grau",
    ),
    "navy": ("navy marine", "marineblau dunkelblau"),
    "brown": ("brown marron brun brune marrone castanho castanha marrom", "braun"),
    "beige": ("beige bege", ""),
    "pink": ("pink rose rosa", "pink"),
    "yellow": ("yellow jaune amarillo amarilla giallo gialla amarelo amarela", "gelb"),
    "orange": ("orange naranja arancione laranja", ""),
    "purple": ("purple violet violette morado morada viola roxo roxa lila", "violett"),
}

# Value → (words, German adjectives). Sizes are read only as written: no plurals, no typos.
_SIZES: dict[str, tuple[str, str]] = {
    "xs": ("xs", ""),
    "s": ("s small petit petite pequeno pequena piccolo piccola", "klein"),
    "m": ("m medium med moyen moyenne mittel mediano mediana medio media", "mittler"),
    "l": ("l large grand grande", "gross"),
    "xl": ("xl", ""),
    "xxl": ("xxl", ""),
}

# Shorthand typed for colours and sizes ("blk hoodie lrg", "wht tee sml"): read as written,
# and like a typo, never when a value must be written out.
_SHORTHAND: dict[str, str] = {
    "black": "blk blck",
    "white": "wht wte",
    "grey": "gry",
    "navy": "nvy",
    "green": "grn",
    "brown": "brn",
    "pink": "pnk",
    "purple": "prpl",
    "yellow": "ylw yllw",
    "s": "sml sm",
    "l": "lrg lge lg",
    "xxl": "2xl",
}

# Candle scents and the like: nouns, read as written.
_OTHER: dict[str, str] = {
    "pine": "pine pin pino pinho kiefer",
    "cedar": "cedar cedre zeder cedro",
    "lavender": "lavender lavande lavendel lavanda",
}

_GERMAN_ENDINGS = ("", "e", "en", "er", "es", "em")

# Words a shopper writes for "size" and "colour", in the option names of a catalogue
# ("Taille", "Farbe") and in "same size" / "même couleur".
SIZE_NOUNS = word_set("size taille grosse groesse talla tamano taglia tamanho pointure")
COLOUR_NOUNS = word_set("colour color couleur coloris farbe colore cor")
SAME = word_set(
    "same meme memes gleiche gleichen gleicher selbe selben dieselbe derselben denselben "
    "misma mismo stessa stesso mesma mesmo"
)

# Everyday words one letter away from a product word of the demo catalogue or an English
# colour: never read as its typo ("este" is not a misspelt "veste", nor "bonne" "bonnet").
NOT_TYPOS = word_set(
    # English
    "back blank block blown boats books boost booth crown deck greek grown handle hell hiding "
    "hiring jack jake lack laid paid plain rail rocks roots seat sell shall shelf shift shit "
    "shops short shots shows smell spell stocks sucks swear sweet tail taste tend tends threw "
    "thrown touch trial while write "
    # French
    "basse bonne bonnes bouge calme casse ceder fasse geste masse medias ouverture passe pente "
    "plait reste tendu tenter tenue tete texte train trait trente vaste vente "
    # German
    "becker beste blick bucher denke dicke ecke hasse kasse kurze lasse locken meins nutze "
    "rasse rente stell weite "
    # Spanish
    "bodas bolas calle canales canta casco cenar cesar creen este gente gordo manga marta mesas "
    "metas santa tanta tendra tenga tenia tienda toca vete viste "
    # Italian
    "asse bugie canale classi coperto ente feste malta manca marino mente merito organi pazza "
    "peste razza scoperta tante tassa tassi tasso tenute tocca utente vanta "
    # Portuguese
    "boas botao cabeca caneta casado coberto dente deste lenda leste louca manda manha mata "
    "meios menino morro neste notas oeste ouca pouca renda sente tendo tenha tenta tentei "
    "tento teste venda"
)

# Number words before "persons" in the other five languages ("zwei Personen").
CAPACITY_NUMBERS = {
    **dict.fromkeys(word_set("un une ein eine einen uno una um uma"), 1),
    **dict.fromkeys(word_set("deux zwei dos due dois duas"), 2),
    **dict.fromkeys(word_set("trois drei tres tre"), 3),
    **dict.fromkeys(word_set("quatre vier cuatro quattro quatro"), 4),
}


def _forms(words: str, german: str, *, plurals: bool) -> set[str]:
    forms = set()
    for word in words.split():
        forms.add(word)
        if plurals and len(word) >= 4:
            forms.update((word + "s", word + "es"))
    forms.update(word + ending for word in german.split() for ending in _GERMAN_ENDINGS)
    return forms


def _table() -> tuple[dict[str, str], frozenset[str], dict[str, str]]:
    words: dict[str, str] = {}

    def add(forms: set[str], value: str) -> None:
        clashes = {form for form in forms if words.get(form, value) != value}
        if clashes:
            raise ValueError(f"option words {sorted(clashes)} would mean two values")
        words.update(dict.fromkeys(forms, value))

    for value, (plain, german) in _COLOURS.items():
        add(_forms(plain, german, plurals=True), value)
    for value, names in _OTHER.items():
        add(set(names.split()), value)
    sizes: set[str] = set()
    for value, (plain, german) in _SIZES.items():
        forms = _forms(plain, german, plurals=False)
        add(forms, value)
        sizes.update(forms)
    shorthand = {word: value for value, forms in _SHORTHAND.items() for word in forms.split()}
    clashes = sorted(set(shorthand) & set(words))
    if clashes:
        raise ValueError(f"shorthand {clashes} is already an option word")
    return words, frozenset(sizes), shorthand


OPTION_WORDS, SIZE_WORDS, SHORTHAND = _table()
"""Every option word → its English value; the size words among them (never read as typos);
shorthand → its value."""
