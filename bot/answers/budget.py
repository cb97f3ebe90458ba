"""Budget answers: "around 300 bucks", "200-400€", "pas plus de 160 €" → an amount with a currency.

The value is ``{"amount": Decimal, "currency": "EUR"}`` (ISO 4217), plus:

* a range ("between 200 and 400", "200-400€", "entre 100 et 150 €", "von 100 bis 150",
  "tra i 100 e i 200", "two to four hundred", where the "hundred" counts for both ends),
  a hesitation between two figures ("100 or 150", "80? 90?") or a floor and a ceiling
  ("mini 50, maxi 80", "mindestens 50, höchstens 80") → ``amount`` is the midpoint
  rounded to cents, with ``"min"`` and ``"max"`` the two ends;
* an upper bound ("under 100", "up to 1k", "300 tops", "200 € max.", "80 maxi", "I don't
  want to spend more than 160", "höchstens 80", "no más de 200", "50 € como mucho", "al
  massimo 50", "até 300") → ``amount`` and ``"max"`` are the bound; French "grand max"
  is one too ("150 grand max" is 150; "2 grand max", a single digit, stays 2,000);
* a lower bound ("at least 200", "over 500", "500+", "au moins 100", "mindestens 50",
  "pelo menos 80") → ``amount`` and ``"min"`` are the bound.

A comparison after a negation turns round: "not more than", "pas plus de", "nicht über",
"no quiero gastar más de" are upper bounds. An approximation ("about", "environ",
"ungefähr", "unos", "circa", "ca.", "~", "70-ish", "une centaine", "una ventina", "un
centenar", "uma dezena") is a plain amount, and so is "150,-". Numbers may be written in
words in English, French, German, Spanish, Italian and Portuguese ("trois cent
cinquante", "zweihundertfünfzig", "doscientos", "mil").

Currency comes from a symbol, code or name next to the number (€, $, £, ₽, R$, zł, Kč,
CHF, Fr., kr, "euros", "bucks", "quid", "reais", "rubles", "Pfund", "dólares",
"francs suisses", "canadian dollars"...), else from the only currency named anywhere in
the text, else ``default_currency``. "$" is read as US dollars. "kr" and "kroner" are
Swedish, Danish or Norwegian crowns only when the message names the country ("kronor" is
Swedish), or when ``default_currency`` is one of them. Slang for everyday money ("200
balles", "50 Mäuse", "Kröten", "pavos", "paus") means euros, the money of the countries
that say it, whatever the shop's currency; Swiss "balles" are francs and Brazilian
"paus" reais when the message names the country or the shop sells in that currency. A
currency that is written but cannot be told (a bare "kr", "pesos", two different
currencies) gives no budget at all, never the default one.

Amounts must be above 0 and below 10,000,000. Numbers that measure something else are
never budgets: sizes ("size 42"), durations ("2 weeks", "3 semaines"), capacities ("30L",
"2 person"), percentages, dates and post codes. ``strict`` mode (scanning a message that
answers another question) also needs a currency marker or a budget word (budget, spend,
afford, max, up to, under, around, dépenser, ausgeben, presupuesto, ...): a number in
words alone ("cent cinquante") or a hesitation ("100 or 150") answers the budget
question only.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from functools import lru_cache
from typing import TYPE_CHECKING

import pycountry
from price_parser.parser import parse_number

from bot.answers.text import (
    NUMBER_JOINERS,
    SCALES,
    VAGUE_COUNTS,
    NumberReading,
    fold,
    is_number_word,
    number_scale,
    read_number,
    usable,
    word_set,
)
from bot.answers.types import Parsed

if TYPE_CHECKING:
    from bot.catalog.rates import RateTable

MAX_AMOUNT = Decimal(10_000_000)
_CENT = Decimal("0.01")

# --- currencies ----------------------------------------------------------------------------

# Each marker stands for the currencies it may mean: one is a currency, several need
# the country named in the message, none means "a currency we cannot tell".
_NORDIC_CROWNS = ("SEK", "DKK", "NOK")
_CROWNS = ("SEK", "DKK", "NOK", "CZK")
_UNKNOWN: tuple[str, ...] = ()
# Slang for the everyday money where it is spoken ("200 balles", "50 Mäuse", "20 pavos",
# "10 paus"): euros in France, Germany, Austria, Spain and Portugal. Swiss "balles" are
# francs and Brazilian "paus" reais, when the message names the country or the shop
# sells in that currency; else they are euros, whatever the shop's currency.
_EURO_OR_FRANC = ("EUR", "CHF")
_EURO_OR_REAL = ("EUR", "BRL")
_EURO_FIRST = frozenset({_EURO_OR_FRANC, _EURO_OR_REAL})


def _names(codes: str | tuple[str, ...], words: str) -> dict[str, tuple[str, ...]]:
    """Markers (separated by commas) that all mean ``codes``, also without their accents."""
    found = (codes,) if isinstance(codes, str) else codes
    markers = [marker.strip() for marker in words.split(",")]
    return {variant: found for marker in markers for variant in (marker, fold(marker))}


# Symbols and names that mean a currency wherever they stand.
_MARKERS: dict[str, tuple[str, ...]] = {
    **_names("EUR", "€, euro, euros, euri"),
    **_names("USD", "$, us$, dollar, dollars, dólar, dólares, dollaro, dollari, buck, bucks"),
    **_names("USD", "us dollars, us dollar, dollars us, dollars américains"),
    **_names("GBP", "£, quid, pound, pounds, sterling, sterline, sterlina, pounds sterling"),
    **_names("GBP", "livres sterling, livre sterling, britische pfund, libras esterlinas"),
    **_names("CHF", "sfr, sfr., franc, francs, franken, franchi, francos, francs suisses"),
    **_names("CHF", "franc suisse, schweizer franken, franchi svizzeri, francos suizos"),
    **_names("CHF", "francos suíços"),
    **_names("JPY", "¥, 円, yen, yens"),
    **_names("INR", "₹, rupee, rupees, roupie, roupies, rupie, rupia, rupias"),
    **_names("RUB", "₽, rouble, roubles, ruble, rubles"),
    # Russian: rub, rub., rubl, rublei, rublia (written in Cyrillic)
    **_names("RUB", "\u0440\u0443\u0431, \u0440\u0443\u0431., \u0440\u0443\u0431\u043b\u044c"),
    **_names("RUB", "\u0440\u0443\u0431\u043b\u0435\u0439, \u0440\u0443\u0431\u043b\u044f"),
    **_names("RUB", "rublo, rublos, rubli, rubel, rubeln"),
    **_names("BRL", "r$, reais, real brasileiro, reais brasileiros"),
    **_names("PLN", "zł, złoty, złotys, złotych, złote, zloty, zlotys, zlotych, zlote"),
    **_names("CZK", "kč, koruna, korun, koruny"),
    **_names("CAD", "c$, ca$, can$, canadian dollar, canadian dollars, dollar canadien"),
    **_names("CAD", "dollars canadiens, kanadische dollar, dólares canadienses"),
    **_names("CAD", "dólar canadiense, dollari canadesi, dólares canadenses"),
    **_names("AUD", "a$, au$, australian dollar, australian dollars, dollar australien"),
    **_names("AUD", "dollars australiens, australische dollar, dólares australianos"),
    **_names("AUD", "dollari australiani"),
    **_names("NZD", "nz$, new zealand dollars"),
    **_names("HKD", "hk$, hong kong dollars"),
    **_names("CNY", "yuan, renminbi"),
    **_names("TRY", "₺"),
    **_names("KRW", "₩"),
    **_names("ILS", "₪"),
    **_names("SEK", "krona, kronor, swedish crowns, swedish kronor, couronnes suédoises"),
    **_names("SEK", "schwedische kronen, coronas suecas, corone svedesi, coroas suecas"),
    **_names("DKK", "danish kroner, danish crowns, couronnes danoises, dänische kronen"),
    **_names("DKK", "coronas danesas, corone danesi, coroas dinamarquesas"),
    **_names("NOK", "norwegian kroner, norwegian crowns, couronnes norvégiennes"),
    **_names("NOK", "norwegische kronen, coronas noruegas, corone norvegesi"),
    **_names("NOK", "coroas norueguesas"),
    **_names("CZK", "czech crowns, czech koruna, couronnes tchèques, tschechische kronen"),
    **_names(("DKK", "NOK"), "kroner, krone"),
    **_names(_CROWNS, "crowns, couronnes, kronen, coronas, corone, coroas"),
    **_names(_UNKNOWN, "peso, pesos, dinar, dinars"),
}
# Markers that are also common words ("real", "livres" are books, "Pfund" a weight):
# they mean a currency only right next to a number.
_NEXT_TO_NUMBER: dict[str, tuple[str, ...]] = {
    **_names("BRL", "real"),
    **_names("RUB", "rub, \u0440."),  # "r." in Cyrillic
    **_names("GBP", "livre, livres, pfund, libra, libras"),
    **_names("CHF", "fr., frs, frs."),
    **_names("INR", "rs, rs."),
    **_names("ZAR", "rand"),
    **_names(_NORDIC_CROWNS, "kr, kr."),
    **_names(_UNKNOWN, "lira, lire, liras"),
    **_names(_EURO_OR_FRANC, "balles"),
    **_names("EUR", "mäuse, kröten, mücken, pavos"),
    **_names(_EURO_OR_REAL, "paus"),
}
# ISO codes also read in lower case next to a number; upper case, any ISO code counts.
_LOWER_CODES = word_set("eur usd gbp chf sek nok dkk pln czk cad aud jpy inr rub brl")
# Codes read anywhere in the text ("in EUR, about 300"); other codes only next to a number.
_CODES_ANYWHERE = frozenset(code.upper() for code in _LOWER_CODES)
# What tells crowns apart: the country, its people or its language named in the message.
_COUNTRY_WORDS = {
    "SEK": "sweden suede schweden suecia svezia sverige swedish suedois suedoise schwedisch"
    " schwedische schwedischen sueco sueca svedese svedesi svensk svenska stockholm",
    "DKK": "denmark danemark dinamarca danimarca danmark danish danois danoise danisch"
    " danische danischen danes danesa danese danesi dinamarques dinamarquesa dansk danske"
    " copenhagen copenhague kobenhavn kopenhagen",
    "NOK": "norway norvege norwegen noruega norvegia norge norwegian norvegien norvegienne"
    " norwegisch norwegische norwegischen noruego noruega norvegese norvegesi noruegues"
    " norueguesa norsk norske oslo",
    "CHF": "switzerland suisse schweiz suiza svizzera suica swiss helvetique schweizer svizzero"
    " suizo suico geneve genf ginevra ginebra lausanne zurich bern berne basel bale lugano"
    " neuchatel fribourg romandie",
    "BRL": "brazil bresil brasilien brasil brasile brazilian bresilien brasileiro brasileira"
    " brasiliano brasilianisch",
    "CZK": "czechia czech tcheque tchequie tschechien tschechisch tschechische chequia"
    " checo checa cechia ceco ceca tchequia tcheco tcheca cesko prague prag praha",
}
_COUNTRY = {
    code: re.compile(r"\b(?:" + "|".join(words.split()) + r")\b")
    for code, words in _COUNTRY_WORDS.items()
}


def _alternation(markers: list[str]) -> str:
    """A regex matching any of ``markers`` as a whole word, longest first.

    The markers share their prefixes in a tree ("r(?:eais|eal|ub)"): a flat list of
    alternatives would be tried one by one at every position of every message.
    """
    tree: dict[str, dict] = {}
    for marker in markers:
        node = tree
        for char in " ".join(marker.split()):
            node = node.setdefault(char, {})
        node[""] = {}
    # A marker that ends in a letter must not run into another word ("rub" in "rubber").
    return rf"(?<![^\W\d_])(?:{_branches(tree)})(?!(?<=[^\W\d_])[^\W\d_])"


def _branches(node: dict[str, dict]) -> str:
    alternatives = [
        (r"\s+" if char == " " else re.escape(char)) + _branches(child)
        for char, child in sorted(node.items(), key=lambda item: -len(item[0]))
        if char
    ]
    if not alternatives:
        return ""
    body = alternatives[0] if len(alternatives) == 1 else "(?:" + "|".join(alternatives) + ")"
    return f"(?:{body})?" if "" in node else body


_NAMED_CURRENCY = _alternation([*_MARKERS, *_NEXT_TO_NUMBER])
_CURRENCY = rf"(?:{_NAMED_CURRENCY}|(?<![^\W\d_])[a-z]{{3}}(?![^\W\d_]))"
_CURRENCY_ANYWHERE = re.compile(
    _alternation([m for m in _MARKERS if fold(m) == m] + [c.lower() for c in _CODES_ANYWHERE])
)
_CURRENCY_NEXT = re.compile(rf"\s?{_NAMED_CURRENCY}", re.IGNORECASE)
# Bound words and units are looked for this close to the number.
_NEAR = 80


# --- numbers -------------------------------------------------------------------------------

_NUMBER = (
    # A plain space groups thousands only right before a currency: "1 200 €".
    rf"\d{{1,3}}(?: \d{{3}})+(?:[.,]\d{{1,2}})?(?=\s?(?:{_NAMED_CURRENCY}|eur\b|chf\b|usd\b))"
    r"|\d{1,3}(?:[.,'\u00a0\u202f]\d{3})+(?:[.,]\d{1,2})?|\d+(?:[.,]\d{1,2})?"
)
_MULTIPLIERS = {
    **dict.fromkeys(word_set("hundred hundert"), 100),
    **dict.fromkeys(word_set("k thousand grand mil mille mila tausend tsd"), 1000),
    **dict.fromkeys(
        word_set("m mio mln million millions millionen millón millon millones milione milioni")
        | word_set("milhão milhao milhões milhoes"),
        1_000_000,
    ),
}
_MULTIPLIER = r"(?:" + "|".join(sorted(_MULTIPLIERS, key=len, reverse=True)) + r")(?![^\W\d_])"
_AMOUNT = re.compile(
    rf"(?:(?P<pre>{_CURRENCY})\s?|(?<![\w.,/:]))(?P<number>{_NUMBER})(?!\d)"
    rf"(?:\s?(?P<mult>{_MULTIPLIER}))?(?P<plus>\+)?(?:\s?(?P<post>{_CURRENCY}))?",
    re.IGNORECASE,
)
# Articles an end of a range may take: "tra i 100 e i 200", "entre los 100 y los 200".
_ARTICLE = r"(?:the|les|los|las|i|gli|le|den|die|dem|os|as)"
# What joins the two ends of a range; "and"-words only after "between". A hesitation
# between two figures is a range too: "100 or 150", "80? 90?", "100 ? ou 150".
_RANGE_JOIN = re.compile(
    r"^-?\s*(?:(?:-|\u2013|\u2014|to|till|until|a|au|aux|al|ai|ao|aos|bis(?:\s+zu)?|ate|hasta"
    rf"|fino a|(?P<and>and|et|und|y|e))(?:\s+{_ARTICLE})?"
    rf"|(?P<or>\??\s*,?\s*(?:or|ou|oder|o|u)(?:\s+{_ARTICLE})?|\?\s*,?))\s*$"
)
_BETWEEN = re.compile(
    rf"\b(?:between|from|entre|zwischen|von|tra|fra|de|desde|da|dal|dai)\s?(?:{_ARTICLE}\s?)?$",
    re.IGNORECASE,
)
_UNIT = (
    r"(?:(?:l|ltr|lit(?:er|re)s?|p|persons?|people|man|men|kg|g|cm|mm|km|ml|m|days?|weeks?"
    r"|months?|years?|yrs?|hours?|hrs?|h|mins?|minutes?|x|pcs|pieces?|items?|units?|st|nd|rd"
    r"|th|am|pm|inch(?:es)?|ft|feet|sizes?|kids?|children|times|o'?clock|percent"
    # French, German, Spanish, Italian, Portuguese
    r"|jours?|semaines?|mois|ans?|annees?|heures?|personnes?|enfants?|fois|pour ?cent"
    r"|tage?n?|wochen?|monate?n?|jahren?|jahre|stunden?|personen|kinder|mal|uhr|prozent|stuck"
    r"|dias?|semanas?|meses|mes|anos?|horas?|personas?|pessoas?|ninos|criancas|veces|vezes"
    r"|por ?ciento|por ?cento|giorni|giorno|settimane?|settimana|mesi|mese|anni|anno|ore"
    r"|persone|bambini|volte|per ?cento|pezzi|piezas|pecas|unidades"
    r"|(?:kilo|chilo)?(?:metres?|meters?|metros?|metri|metro))\b|%|\")"
)
_UNIT_AFTER = re.compile(rf"^\s?-?\s?{_UNIT}", re.IGNORECASE)
# "2" in "2-3 weeks" or "2 à 3 semaines" measures time like the "3" does.
_UNIT_AFTER_RANGE = re.compile(
    rf"^\s?(?:-|\u2013|to|or|a|au|bis|oder|ou|o|y|e|et|und)\s?\d+(?:[.,]\d+)?\s?-?\s?{_UNIT}",
    re.IGNORECASE,
)
_CONTEXT_BEFORE = re.compile(
    r"(?<![^\W\d_])(?:size|sz|zip|post ?code|postal code|code|order|no\.?|number|n°|#|tel"
    r"|phone|call|room|flat|apt|apartment|model|version|v|qty|quantity|age|aged|item|page|step|eu|uk|us"
    r"|taille|pointure|code postal|numero|commande|modele|telephone|tel\."
    r"|grosse|plz|nummer|bestellung|modell|telefon|alter|zimmer"
    r"|talla|pedido|modelo|telefono|edad|taglia|ordine|modello|eta|tamanho|encomenda|idade)"
    r"\s?[:#]?\s?$",
    re.IGNORECASE,
)

# --- bounds --------------------------------------------------------------------------------


def _phrases(words: str) -> str:
    return "|".join(sorted((w.strip() for w in words.split(",")), key=len, reverse=True))


# Before the number, matched on folded text. A ceiling or a floor word keeps its
# meaning; a comparison ("more than", "under") turns round after a negation.
_CEILING = _phrases(
    "up to, upto, max, maxi, maximum, grand max, at most, within, cap at, capped at, limit,"
    " limit of, limit is, ceiling, ceiling of, no higher than, au plus, au max, au maximum,"
    " jusqu'a, jusqu a,"
    " jusqu'au, plafond de, hochstens, maximal, bis zu, obergrenze, como maximo, maximo,"
    " bis, hasta, como mucho, tope de, al massimo, massimo, fino a, non oltre, no maximo, ate,"
    " teto de"
)
_FLOOR = _phrases(
    "at least, minimum, min, mini, from, starting at, au moins, au minimum, a partir de, des,"
    " mindestens, wenigstens, ab, al menos, como minimo, minimo, por lo menos, desde, almeno,"
    " come minimo, a partire da, pelo menos, no minimo, ao menos"
)
_BELOW = _phrases(
    "under, below, less than, lower than, beneath, moins de, moins que, en dessous de,"
    " en-dessous de, sous, inferieur a, unter, weniger als, unterhalb von, menos de, menos que,"
    " por debajo de, meno di, sotto, sotto i, inferiore a, abaixo de"
)
_ABOVE = _phrases(
    "over, above, more than, higher than, greater than, exceed, exceeding, beyond, go over,"
    " plus de, plus que, au-dessus de, au dessus de, au-dela de, au dela de, depasser,"
    " superieur a, uber, mehr als, oberhalb von, uberschreiten, mas de, mas que,"
    " por encima de, superar, pasar de, piu di, oltre, sopra, superare, mais de, mais que,"
    " acima de, passar de, ultrapassar"
)


def _before(phrases: str) -> re.Pattern[str]:
    # "max. 300", "min: 50", "maximum of 80"
    return re.compile(rf"(?<![^\W\d_])(?:{phrases})[.:]?\s?(?:of\s)?$")


_CEILING_BEFORE = _before(_CEILING)
_FLOOR_BEFORE = _before(_FLOOR)
_BELOW_BEFORE = _before(_BELOW)
_ABOVE_BEFORE = _before(_ABOVE)
# In strict mode a bare number followed by another word counts things ("3 hoodies"),
# unless the word is one of these.
_WORD_AFTER = re.compile(r"^\s?([^\W\d_]+)")
_MONEY_FOLLOWERS = word_set(
    "or and to for on in at is was would should could max maximum tops total ish each per"
    " please thanks but if with overall all including incl"
    " ou et a au pour environ maximum en merci oder und bis fur insgesamt etwa ungefahr"
    " danke o y e hasta para por mas gracias al massimo circa grazie ate ou no mais obrigado"
    " aux ai agli aos"
)
# A bound word that another number follows is that number's ("min 50 max 80").
_NO_NUMBER_NEXT = rf"(?!\.?:?\s?(?:(?:{_NAMED_CURRENCY}|eur|chf|usd|gbp)\s?)?\d)"
# "Mini" and "maxi" are also words of product names ("10 mini tents"): a bound only
# where no other word follows, or money talk does ("80 maxi pour le sac").
_NO_THING_NEXT = r"(?!\s+(?!(?:" + "|".join(sorted(_MONEY_FOLLOWERS)) + r")(?![^\W\d_]))[^\W\d_])"
# After the number, matched on folded text: "200 € max", "80 maxi", "150 € grand max",
# "50 € como mucho".
_CEILING_AFTER = re.compile(
    rf"^\s?(?:maxi{_NO_THING_NEXT}|tops|max|maximum|at most|at the most|or less|or under"
    r"|or below|au max|au maximum|au plus|tout au plus|(?:au )?grand max(?:i|imum)?|ou moins"
    r"|hochstens|maximal|oder weniger|como maximo|como mucho|a lo sumo|o menos|al massimo"
    r"|massimo|al max|o meno|no maximo|ou menos|maximo)(?![^\W\d_])" + _NO_NUMBER_NEXT
)
_FLOOR_AFTER = re.compile(
    rf"^\s?(?:\+|(?:(?:min|mini){_NO_THING_NEXT}|or more|or above|or over|minimum|at least"
    r"|au moins|au minimum|ou plus|mindestens|oder mehr|como minimo|o mas|al menos|almeno"
    r"|o piu|come minimo|no minimo|ou mais|pelo menos|minimo)(?![^\W\d_])" + _NO_NUMBER_NEXT + r")"
)
_BOUND_AFTER = re.compile(f"{_CEILING_AFTER.pattern}|{_FLOOR_AFTER.pattern}")
_MAX_WORDS = word_set("max maxi maximum")
_GRAND_MAX = re.compile(r"grand\s+max(?:i|imum)?(?![^\W\d_])")
# Where a negation stops reaching: punctuation and "but".
_CLAUSE = re.compile(r"[.;:!?,()]|\b(?:but|mais|aber|pero|ma|mas|sondern)\b")
_NEGATION = re.compile(
    r"\b(?:not|no|never|cannot|dont|wont|cant|didnt|doesnt|isnt|shouldnt|wouldnt|couldnt"
    r"|ne|pas|jamais|sans|nicht|kein|keine|keinen|nie|niemals|ohne|nunca|sin|non|senza|nao"
    r"|nem)\b|n't\b|\bn'"
)
# "I don't mind going over 500" is no ceiling.
_NOT_A_LIMIT = re.compile(
    r"\b(?:mind|problem|probleme|problema|egal|importa|derange|stort|worry|matter)\b"
)

_BUDGET_WORDS = re.compile(
    r"\b(?:budget|spend|spending|afford|max(?:imum)?|up ?to|under|below|less than|no more than"
    r"|at most|around|about|roughly|approx(?:imately)?|price range|pay|paying|cost|costs"
    r"|willing|cap|limit|tops|at least|ceiling|minimum"
    r"|depenser|payer|prix|environ|a peu pres|jusqu|au plus|au moins|moins de|plus de|maximal"
    r"|ausgeben|zahlen|bezahlen|preis|ungefahr|etwa|circa|rund|bis zu|hochstens|mindestens"
    r"|presupuesto|gastar|pagar|precio|alrededor|unos|unas|hasta|como mucho|al menos"
    r"|spendere|pagare|prezzo|cerca|intorno|fino a|al massimo|almeno|orcamento|preco|ate"
    r"|mais ou menos|no maximo|pelo menos|menos de|mais de|mas de|meno di|piu di)\b"
    r"|\bca\.(?=\s?\d)|(?<![^\W\d_])(?:mini|maxi|min)[.:]?\s?\d|\d\s?(?:\S{1,3}\s)?(?:mini|maxi)\b",
)

# --- number words --------------------------------------------------------------------------

_WORD = re.compile(r"[^\W\d_]+")
_BETWEEN_WORDS = re.compile(r"^[\s\-\u2010\u2011]+$")
# Number words that are also everyday words of another language ("once", "due", "elf",
# "seize", "cent", "venti"): alone, they are a number only right before a currency.
_AMBIGUOUS = word_set("once elf seize cent cents mil mille venti dos due sept tres sei")
_SCALE_NAMES = {100: "hundred", 1000: "thousand", 1_000_000: "million"}
_JOINERS = NUMBER_JOINERS


@dataclass(frozen=True)
class _Amount:
    start: int
    end: int
    value: Decimal
    currency: tuple[str, ...] | None  # the currencies its marker may mean; None: no marker
    bound: str | None  # "max", "min" or None
    scale: int = 1  # "4 hundred", "4k": a range's other end may share it


@dataclass(frozen=True)
class Budget:
    """What a stored budget value means, for comparing it with a price.

    ``top`` is the most the shopper said they would spend: the max of a range or of an
    upper bound, a plain amount, or the min of a lower bound ("at least 200" is 200 for
    sure). ``open_ended`` is true for a lower bound alone: no ceiling was given, so a
    price above ``top`` may still fit.
    """

    top: Decimal
    currency: str
    open_ended: bool = False

    @classmethod
    def of(cls, value: object) -> Budget | None:
        """The meaning of a stored ``{"amount", "currency", "min"?, "max"?}``; None if malformed."""
        if not isinstance(value, Mapping) or not isinstance(value.get("currency"), str):
            return None
        ceiling = _positive(value.get("max"))
        top = ceiling or _positive(value.get("amount"))
        if top is None:
            return None
        open_ended = ceiling is None and _positive(value.get("min")) is not None
        return cls(top, value["currency"], open_ended)

    def in_currency(self, currency: str, rates: RateTable) -> Budget | None:
        """The same budget in ``currency`` through ``rates``; None if a rate is missing."""
        top = rates.convert(self.top, self.currency, currency)
        return None if top is None else Budget(top, currency, self.open_ended)


def _positive(value: object) -> Decimal | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        return None
    return amount if amount.is_finite() and amount > 0 else None


def parse_budget(text: str, *, default_currency: str, strict: bool = False) -> Parsed | None:
    """Read a budget; see the module docstring for the value and the rules."""
    cleaned = usable(text)
    if cleaned is None:
        return None
    try:
        return _parse(cleaned, default_currency.upper(), strict=strict)
    except (InvalidOperation, ValueError, ArithmeticError):
        return None


def _parse(text: str, default_currency: str, *, strict: bool) -> Parsed | None:
    text = _spell_out(_WHOLE_DASH.sub("", text))
    amounts = _amounts(text, strict=strict)
    if not amounts:
        return None
    folded = fold(text)
    if strict and not _BUDGET_WORDS.search(folded) and all(a.currency is None for a in amounts):
        return None
    countries = {code for code, pattern in _COUNTRY.items() if pattern.search(folded)}
    named = [_currency(m.group()) or () for m in _CURRENCY_ANYWHERE.finditer(folded)]
    named += [a.currency for a in amounts if a.currency is not None]

    low, high = _range(text, amounts)
    if low is not None and high is not None:
        currency = _currency_of([low, high], named, countries, default_currency)
        if currency is None:
            return None
        middle = ((low.value + high.value) / 2).quantize(_CENT, ROUND_HALF_EVEN).normalize()
        span = {
            "amount": plain_amount(middle),
            "currency": currency,
            "min": low.value,
            "max": high.value,
        }
        return Parsed(
            value=span,
            display=f"{amount_text(low.value)}\u2013{amount_text(high.value)} {currency}",
        )

    best = max(amounts, key=lambda a: (a.currency is not None, a.bound is not None, -a.start))
    currency = _currency_of([best], named, countries, default_currency)
    if currency is None:
        return None
    value: dict[str, object] = {"amount": best.value, "currency": currency}
    display = f"{amount_text(best.value)} {currency}"
    if best.bound == "max":
        value["max"] = best.value
        display = f"up to {display}"
    elif best.bound == "min":
        value["min"] = best.value
        display = f"at least {display}"
    return Parsed(value=value, display=display)


def _currency_of(
    amounts: list[_Amount],
    named: list[tuple[str, ...]],
    countries: set[str],
    default_currency: str,
) -> str | None:
    """The one currency the amounts are in; None when one was written but cannot be told."""
    marked = [a.currency for a in amounts if a.currency is not None]
    candidates = marked or named
    if not candidates:
        return default_currency
    resolved = {_resolve(options, countries, default_currency) for options in candidates}
    return resolved.pop() if len(resolved) == 1 else None


def _resolve(options: tuple[str, ...], countries: set[str], default_currency: str) -> str | None:
    """The currency a marker means: the one of the country named, else the shop's own."""
    if len(options) <= 1:
        return options[0] if options else None
    named = [code for code in options if code in countries]
    if len(named) == 1:
        return named[0]
    if named:
        return None
    if default_currency in options:
        return default_currency
    return options[0] if options in _EURO_FIRST else None


# --- number words --------------------------------------------------------------------------

_word = lru_cache(maxsize=8192)(fold)
# "A few hundred" in the other languages, 3 hundred as in English ("a few" is 3).
_FEW_HUNDREDS = re.compile(
    r"(?<![^\W\d_])(?:(?:ein\s+)?paar\s+(?:(?P<de>hundert)|tausend)"
    r"|quelques\s+(?:(?P<fr>centaines)|milliers)"
    r"|(?:unos|algunos)\s+(?:cuantos\s+)?(?:(?P<es>cientos)|miles)"
    r"|qualche\s+(?:(?P<it>centinaio)|migliaio)"
    r"|(?:alguns|algumas|umas|uns)\s+(?:(?P<pt>centenas)|milhares))(?![^\W\d_])",
    re.IGNORECASE,
)


# "About a hundred" said with a collective noun: "une centaine", "una ventina", "un
# centenar", "uma dezena"; each is a plain amount of its round number. The "de" that
# follows goes with it: "une centaine d'euros" → "100 euros".
_ROUND_NUMBERS = {
    **dict(dizaine=10, vingtaine=20, trentaine=30, quarantaine=40, cinquantaine=50),
    **dict(soixantaine=60, centaine=100, millier=1000),
    **dict(decina=10, ventina=20, trentina=30, quarantina=40, cinquantina=50, sessantina=60),
    **dict(settantina=70, ottantina=80, novantina=90, centinaio=100, migliaio=1000),
    **dict(decena=10, veintena=20, treintena=30, cuarentena=40, cincuentena=50),
    **dict(centena=100, centenar=100, millar=1000),
    **dict(dezena=10, vintena=20, trintena=30, quarentena=40, cinquentena=50, milhar=1000),
}
_ABOUT_ROUND = re.compile(
    r"(?<![^\W\d_])(?:une?|una|uma|um)\s+(?P<word>"
    + "|".join(_ROUND_NUMBERS)
    + r")(?![^\W\d_])(?P<of>\s+(?:de|di)\s+|\s+d['\u2019]\s*)?",
    re.IGNORECASE,
)
# "150,-" and Swiss "150.-" (or with a dash) are whole amounts.
_WHOLE_DASH = re.compile(r"(?<=\d)[.,][-\u2013\u2014]{1,2}(?![\d-])")


def _spell_out(text: str) -> str:
    """Write number words as digits: "deux cents euros" → "2 hundred euros".

    A number that ends with its only multiplier keeps it as a word ("4 hundred"), so
    "two to four hundred" can share it. A small number ("one", "un", "zwei") alone
    stays a word, unless it is one end of a range whose other end is a number.
    """
    text = _ABOUT_ROUND.sub(
        lambda match: f"{_ROUND_NUMBERS[match['word'].lower()]}" + (" " if match["of"] else ""),
        text,
    )
    # The named groups are the hundreds words: none matched means thousands.
    text = _FEW_HUNDREDS.sub(lambda match: "3 hundred" if match.lastgroup else "3 thousand", text)
    runs = _word_runs(text)
    pieces: list[str] = []
    done = 0
    for index, run in enumerate(runs):
        start, end = run[0].start(), run[-1].end()
        if (
            len(run) == 1
            and number_scale(run[0].group())
            and re.search(r"\d\s?$", text[max(0, start - 2) : start])
        ):
            continue  # "2 mil", "5 hundred": the multiplier of the digits before it
        following = runs[index + 1] if index + 1 < len(runs) else None
        in_range = following is not None and (
            _RANGE_JOIN.match(fold(text[end : following[0].start()])) is not None
            and _numberish(following)
        )
        pieces += [text[done:start], _spelled(text, run, in_range=in_range)]
        done = end
    return "".join(pieces) + text[done:]


def _word_runs(text: str) -> list[list[re.Match[str]]]:
    """Runs of number words separated only by spaces or hyphens."""
    tokens = list(_WORD.finditer(text))
    runs: list[list[re.Match[str]]] = []
    for index, token in enumerate(tokens):
        following = _word(tokens[index + 1].group()) if index + 1 < len(tokens) else ""
        preceding = _word(tokens[index - 1].group()) if index else ""
        if not _in_number(_word(token.group()), following, preceding):
            continue
        previous = runs[-1][-1] if runs else None
        if (
            previous is not None
            and previous is tokens[index - 1]
            and _BETWEEN_WORDS.match(text[previous.end() : token.start()])
        ):
            runs[-1].append(token)
        else:
            runs.append([token])
    return runs


def _in_number(word: str, following: str, preceding: str) -> bool:
    if word == "grand" and following in _MAX_WORDS and preceding != "a":
        return False  # French "grand max" is "at the very most"; "a grand max" is 1,000
    if word in ("a", "of"):
        return following in SCALES or following in VAGUE_COUNTS
    return word in VAGUE_COUNTS or is_number_word(word)


def _spelled(text: str, run: list[re.Match[str]], *, in_range: bool) -> str:
    """The run with its numbers as digits, split where an "and" starts a second number."""
    words = [_word(token.group()) for token in run]
    parts: list[list[re.Match[str]]] = [[]]
    for index, word in enumerate(words):
        if word in _JOINERS and _joins_two(parts[-1], words[index + 1 :]):
            parts.append([])
        parts[-1].append(run[index])
    parts = [part for part in parts if part]
    in_range = in_range or len(parts) > 1
    pieces = []
    done = run[0].start()
    for part in parts:
        pieces += [text[done : part[0].start()], _part_digits(text, part, in_range=in_range)]
        done = part[-1].end()
    return "".join(pieces)


def _joins_two(before: list[re.Match[str]], following: list[str]) -> bool:
    """Whether an "and" starts a second number: "deux cents et trois cents", not "vingt et un"."""
    left = read_number([token.group() for token in before if _word(token.group()) not in _JOINERS])
    right = read_number(list(itertools.takewhile(lambda word: word not in _JOINERS, following)))
    if left is None or right is None:
        return left is None
    return right.value >= left.value


def _part_digits(text: str, part: list[re.Match[str]], *, in_range: bool) -> str:
    """One number as digits; an "and" at either end stays a word."""
    first, last = 0, len(part)
    while first < last and _word(part[first].group()) in _JOINERS:
        first += 1
    while last > first and _word(part[last - 1].group()) in _JOINERS:
        last -= 1
    core = part[first:last]
    if not core:
        return text[part[0].start() : part[-1].end()]
    reading = read_number([token.group() for token in core])
    written = text[core[0].start() : core[-1].end()]
    if reading is not None and (in_range or _numberish(core)) and not _ambiguous(text, core):
        written = _digits(reading)
    return text[part[0].start() : core[0].start()] + written + text[core[-1].end() : part[-1].end()]


def _numberish(tokens: list[re.Match[str]]) -> bool:
    """A number on its own: a word worth 10 or more, or a multiplier ("one" alone is not)."""
    for token in tokens:
        reading = read_number([token.group()])
        if reading is not None and (reading.value >= 10 or number_scale(token.group())):
            return True
    return False


def _ambiguous(text: str, tokens: list[re.Match[str]]) -> bool:
    if len(tokens) > 1 or _word(tokens[0].group()) not in _AMBIGUOUS:
        return False
    after = text[tokens[0].end() :]
    return _CURRENCY_NEXT.match(after) is None


def _digits(reading: NumberReading) -> str:
    if reading.scale in _SCALE_NAMES and reading.value // reading.scale < 1000:
        return f"{reading.value // reading.scale} {_SCALE_NAMES[reading.scale]}"
    return str(reading.value)


# --- amounts -------------------------------------------------------------------------------


# Numbers read in one message: a budget is among the first few, and reading each costs.
_MAX_NUMBERS = 16


def _amounts(text: str, *, strict: bool) -> list[_Amount]:
    found = []
    for match in itertools.islice(_AMOUNT.finditer(text), _MAX_NUMBERS):
        amount = _read(text, match, strict=strict)
        if amount is not None:
            found.append(amount)
    return found


def _read(text: str, match: re.Match[str], *, strict: bool) -> _Amount | None:
    before = text[: match.start("number")]
    after = text[match.end("number") :]
    pre, post = _currency(match["pre"]), _currency(match["post"])
    currency = pre if pre is not None else post
    multiplier = fold(match["mult"] or "")
    if multiplier:
        after = text[match.end("mult") :]
    if match["post"] and post is None:
        after = text[match.start("post") :]
    if (
        multiplier == "grand"
        and len(match["number"]) > 1
        and _GRAND_MAX.match(fold(text[match.start("mult") :]))
    ):
        # French "grand max" is "at the very most": "150 grand max" is 150 (but "2 grand
        # max" is 2,000, as in English).
        multiplier = ""
        after = text[match.start("mult") :]
    right_after = fold(text[match.end("number") : match.end("number") + _NEAR])
    if currency is None:
        if not multiplier and (
            _UNIT_AFTER.match(right_after) or _UNIT_AFTER_RANGE.match(right_after)
        ):
            return None
        near_before = fold(before[-_NEAR:])
        if _CONTEXT_BEFORE.search(near_before) and not _BUDGET_WORDS.search(near_before[-20:]):
            return None
        word_after = _WORD_AFTER.match(after)
        if (
            strict
            and word_after
            and _word(word_after.group(1)) not in _MONEY_FOLLOWERS
            and _BOUND_AFTER.match(fold(after[:_NEAR])) is None
        ):
            return None
    if _in_date_or_phone(text, match.start("number"), match.end("number")):
        return None
    number = match["number"]
    if number[0] == "0" and not re.match(r"0[.,]\d", number):
        return None  # "06 12 ..." is a phone number, not a budget
    value = parse_number(re.sub(r"[ '\u00a0\u202f]", "", number))
    if value is None:
        return None
    scale = _MULTIPLIERS.get(multiplier, 1)
    if multiplier == "m" and currency is None:
        return None  # "2m" is more likely metres than millions
    value *= scale
    if not 0 < value < MAX_AMOUNT:
        return None
    # A bound word stands outside the currency marker: "Over €150", "30 euros tops".
    before_money = text[: match.start()] if pre is not None else before
    after_money = text[match.end() :] if post is not None else after
    bound = _bound(fold(before_money[-_NEAR:]), fold(after_money[:_NEAR]), plus=bool(match["plus"]))
    # A word next to the number that is no currency ("200 and") is not part of it.
    start = match.start() if pre is not None else match.start("number")
    end = (
        match.end()
        if post is not None
        else max(match.end("number"), match.end("mult") if multiplier else 0, match.end("plus"))
    )
    return _Amount(start, end, plain_amount(value), currency, bound, scale)


def _bound(before: str, after: str, *, plus: bool) -> str | None:
    """The bound ("max", "min" or None) the words around the number give (folded text)."""
    before = before.replace("\u2019", "'")
    if _CEILING_BEFORE.search(before) or _CEILING_AFTER.match(after):
        return "max"
    if _FLOOR_AFTER.match(after) or plus:
        return "min"
    for pattern, bound, turned in ((_BELOW_BEFORE, "max", "min"), (_ABOVE_BEFORE, "min", "max")):
        found = pattern.search(before)
        if found is not None:
            return turned if _negated(before[: found.start()]) else bound
    if _FLOOR_BEFORE.search(before):
        return "min"
    return None


def _negated(before: str) -> bool:
    """Whether the clause before a comparison denies it ("I don't want to spend more than")."""
    clause = _CLAUSE.split(before)[-1]
    words = " ".join(clause.split()[-6:])
    return _NEGATION.search(words) is not None and _NOT_A_LIMIT.search(words) is None


_PHONE_REACH = 30


def _in_date_or_phone(text: str, start: int, end: int) -> bool:
    """Whether the number at text[start:end] is part of a date, a time or a phone number."""
    # A phone number or a date is shorter than this on either side of one of its parts.
    reach_start, reach_end = max(0, start - _PHONE_REACH), min(len(text), end + _PHONE_REACH)
    while start > reach_start and text[start - 1] in "0123456789/.:-+ ()":
        start -= 1
    while end < reach_end and text[end] in "0123456789/.:- ()":
        end += 1
    chunk = text[start:end].strip()
    tight = re.search(r"\d[/:]\d|\d-\d+-\d", chunk) is not None
    return tight or chunk.startswith("+") or sum(c.isdigit() for c in chunk) >= 9


def _range(text: str, amounts: list[_Amount]) -> tuple[_Amount | None, _Amount | None]:
    for low, high in itertools.pairwise(amounts):
        join = _RANGE_JOIN.match(fold(text[low.end : high.start]))
        if join is None:
            continue
        if low.value == high.value or (
            join["and"] and not _BETWEEN.search(fold(text[max(0, low.start - _NEAR) : low.start]))
        ):
            continue  # "2 kids and 300" is not a range
        if join["or"] and (_counts_things(text, high) or _outranked((low, high), amounts)):
            continue  # "1 or 2 hoodies", "2 or 3, max 100"
        low, high = _shared_scale(low, high), _shared_scale(high, low)
        return (low, high) if low.value < high.value else (high, low)
    # A floor and a ceiling: "mini 50, maxi 80", "mindestens 50, höchstens 80".
    floor = next((a for a in amounts if a.bound == "min"), None)
    ceiling = next((a for a in amounts if a.bound == "max"), None)
    if floor is not None and ceiling is not None and floor.value < ceiling.value:
        return floor, ceiling
    return None, None


def _outranked(ends: tuple[_Amount, _Amount], amounts: list[_Amount]) -> bool:
    """Whether another amount has a currency or a bound where neither end has one."""

    def marked(amount: _Amount) -> bool:
        return amount.currency is not None or amount.bound is not None

    return not any(map(marked, ends)) and any(marked(a) for a in amounts if a not in ends)


def _counts_things(text: str, amount: _Amount) -> bool:
    """Whether a word that is no currency nor money talk follows the amount ("2 hoodies")."""
    word_after = _WORD_AFTER.match(text[amount.end :])
    return (
        amount.currency is None
        and word_after is not None
        and _word(word_after.group(1)) not in _MONEY_FOLLOWERS
    )


def _shared_scale(end: _Amount, other: _Amount) -> _Amount:
    """A multiplier said once counts for both ends: "two to four hundred", "2-4k"."""
    if end.scale == 1 and other.scale > 1 and end.value * other.scale <= other.value:
        return _Amount(end.start, end.end, end.value * other.scale, end.currency, end.bound, 1)
    return end


def _currency(marker: str | None) -> tuple[str, ...] | None:
    """The currencies a marker may mean (empty: it names one we cannot tell); None: no marker."""
    if not marker:
        return None
    lowered = " ".join(marker.lower().split())
    for table in (_MARKERS, _NEXT_TO_NUMBER):
        if lowered in table:
            return table[lowered]
        if fold(lowered) in table:
            return table[fold(lowered)]
    if len(marker) == 3 and (marker.isupper() or lowered in _LOWER_CODES):
        code = marker.upper()
        return (code,) if pycountry.currencies.get(alpha_3=code) is not None else None
    return None


def plain_amount(value: Decimal) -> Decimal:
    """Drop trailing zeros of whole amounts (1200.00 → 1200) but keep cents (99.90)."""
    return value.quantize(Decimal(1)) if value == value.to_integral_value() else value


def amount_text(value: Decimal) -> str:
    """An amount as the bot reads it back, without its currency: "1,299", "12.50"."""
    return f"{value:,}" if value == value.to_integral_value() else f"{value:,.2f}"
