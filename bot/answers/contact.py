"""Contact answers: an e-mail address, a phone number, a name.

* ``parse_email`` → the address, normalised by email-validator and lower-cased
  (deliverability is not checked: no network calls in a chat turn); also spelled out
  ("sam(at)example(dot)org", "sam arroba example punto es") or in a mailto link.
* ``parse_phone`` → the number in E.164 ("+33612345678"); only numbers that
  phonenumbers deems valid, read in the country the message names ("ich wohne in
  Deutschland") or else in ``region`` (ISO alpha-2), unless written with "+".
* ``parse_contact`` → ``{"email": ...}``, ``{"phone": ...}`` or both.
* ``parse_name`` → ``{"first_name": "Jane", "last_name": "Doe" | None}``; titles, one
  or several ("Dr.", "Mrs", "Herr Prof. Dr.", "Sr. D.", "Dott.ssa"), greetings and
  introductions in the shop's six languages ("I'm", "my name is", "call me", "je
  m'appelle", "tu peux m'appeler", "ich heiße", "nennen Sie mich", "me llamo", "puedes
  llamarme", "mi chiamo", "chiamami", "chamo-me", "pode me chamar de") are dropped, an
  all-lower-case name is capitalised ("jean-pierre" → "Jean-Pierre"). Words in capitals
  in a mixed-case name are the last name, wherever they stand ("DUPONT Marie" → Marie
  Dupont). A known compound first name ("José María", "Jean Paul", "João Pedro") is the
  first name, and of four words the first two are ("Ana Sofía Ruiz Vidal": Spanish and
  Portuguese names have two surnames). Particles stay with the last name ("de La Tour",
  "van der Berg", "dos Santos").
  Emoji, emoticons and markup are stripped first ("Jonas 😊" → Jonas, "<i>Eve</i>
  Hacker" → Eve Hacker; only tags without attributes such as ``<b>`` or ``<i>``: any
  other markup makes the answer unreadable). Never a name: a refusal (see
  ``declines_name``), a greeting ("hi", "bonjour", "olá") or a command ("stop", "help",
  "next", "zurück"), in any of the six languages. None means the answer could not be
  read, and the question may be asked again.
"""

from __future__ import annotations

import gettext
import itertools
import re
import unicodedata
from functools import lru_cache

import phonenumbers
import pycountry
from email_validator import EmailNotValidError, validate_email

from bot.answers.text import (
    MAX_ANSWER_LENGTH,
    fold,
    strip_inline_tags,
    unwrap_mailto_links,
    usable,
    word_set,
)
from bot.answers.types import Parsed

MAX_NAME_LENGTH = 80

# Starting only where a word starts keeps the search linear in "aaaa...@".
_EMAIL_CANDIDATE = re.compile(r"(?<![^\s<>()\[\],;:\"'])[^\s<>()\[\],;:\"']+@[^\s<>()\[\],;:\"']+")
# "@" and "." spelled out or bracketed, in the six languages (see ``parse_email``).
_AT_WORDS = "at|ät|arroba|chiocciola|arobase|klammeraffe"
_DOT_WORDS = "dot|punto|point|punkt|ponto"
_AT = (
    rf"\s*[(\[{{<]\s*(?:{_AT_WORDS}|@)\s*[)\]}}>]\s*|\s*@\s*"
    r"|\s+(?:arroba|chiocciola|arobase|klammeraffe)\s+|(?P<word_at>\s+(?:at|ät)\s+)"
)
_DOT = rf"\s*[(\[{{<]\s*(?:{_DOT_WORDS}|\.)\s*[)\]}}>]\s*|\.|\s+(?:{_DOT_WORDS})\s+"
_SPELLED_EMAIL = re.compile(
    rf"(?<![\w.+-])[\w+-]+(?:(?:{_DOT})[\w+-]+)*(?:{_AT})"
    rf"(?P<domain>[\w-]+(?:(?:{_DOT})[\w-]+)+)(?![\w-])",
    re.IGNORECASE,
)
_AT_HINT = re.compile(rf"@|\b(?:{_AT_WORDS})\b", re.IGNORECASE)
_AT_SEPARATOR = re.compile(_AT, re.IGNORECASE)
_DOT_SEPARATOR = re.compile(_DOT, re.IGNORECASE)
_LITERAL_DOTS = re.compile(r"[\w.-]+")
# Greetings before a name ("Hi Jane", "bonjour, je m'appelle Marie"); "Ola" is also a
# name, so without its accent it greets only before punctuation ("ola, sou a Ana").
_GREETING = re.compile(
    r"^(?:(?:hi|hello|hey|hiya|good (?:morning|afternoon|evening)|bonjour|bonsoir|salut"
    r"|coucou|hallo|guten (?:tag|morgen|abend)|servus|moin|hola|buen[oa]s(?: d[ií]as| tardes)?"
    r"|ciao|salve|buongiorno|buonasera|olá|oi|bom dia|boa (?:tarde|noite))[\s,!.]+"
    r"|ola\s*[,!.]+\s*)+",
    re.IGNORECASE,
)
_APOSTROPHE = "['\u2019]"
# "Just" or "please" after an introduction: "call me just Rafa", "nennen Sie mich bitte Rafa".
_JUST = (
    r"(?:\s+(?:just|juste|simplement|einfach|simplemente|solo|s[óo]lo|s[óo]|apenas"
    r"|semplicemente|please|bitte|por favor|per favore))?"
)
_INTRO = re.compile(
    rf"^(?:(?:i\s*am|i{_APOSTROPHE}?m|my name is|my name{_APOSTROPHE}?s|name{_APOSTROPHE}s"
    rf"|name\s*:|name is|this is|it{_APOSTROPHE}?s"
    r"|(?:you can |just |(?:people|everyone|everybody|they|friends) )?call(?:s)? me"
    rf"|je m{_APOSTROPHE}\s?appelle|je suis|moi c{_APOSTROPHE}\s?est|c{_APOSTROPHE}\s?est"
    r"|mon (?:nom|pr[ée]nom) (?:est|c'est)"
    rf"|(?:tu peux|vous pouvez|on peut) m{_APOSTROPHE}\s?appeler|appel(?:le|ez)[- ]moi"
    rf"|on m{_APOSTROPHE}\s?appelle"
    r"|ich bin|ich hei(?:ß|ss)e|mein name ist|hier ist"
    r"|nenn(?:e|t)? mich|nennen sie mich|(?:man|alle) nenn(?:t|en) mich"
    r"|me llamo|mi nombre es|(?:yo )?soy"
    r"|(?:puedes|puede|pod[ée]is|pueden) llamarme|ll[áa]mame|ll[áa]meme"
    r"|me (?:puedes|puede|pod[ée]is|pueden) llamar|me (?:llaman|dicen)"
    r"|mi chiamo|il mio nome [èe]|(?:io )?sono"
    r"|chiamami|chiamatemi|(?:puoi|pu[òo]i?|potete) chiamarmi|mi (?:puoi|pu[òo]|potete) chiamare"
    r"|mi chiamano"
    r"|chamo-me|(?:eu )?me chamo|(?:o )?meu nome [ée]|(?:eu )?sou(?: [oa](?=\s))?"
    r"|(?:voc[êe] )?(?:pode|podes)(?: me)? chamar(?:-me)?(?: de)?|podes-me chamar(?: de)?"
    r"|cham[ae]-me(?: de)?|me cham[ae] de|(?:todos |eles )?me chamam(?: de)?)"
    rf"{_JUST})\s+",
    re.IGNORECASE,
)
# What an introduction may leave at the end: "du kannst mich Rafa nennen".
_INTRO_TAIL = re.compile(
    r"^(?:du kannst|sie k[öo]nnen|ihr k[öo]nnt) mich\s+(?P<name>.+?)\s+nennen\W*$", re.I
)
# Titles and academic prefixes, several in a row ("Herr Prof. Dr.", "Mme Dr", "Dott.ssa").
_TITLE_WORDS = (
    "dr|mr|mrs|ms|miss|mx|prof|sir|madam|mme|mlle|m|herr|frau|sr|sra|srta|sig|sigra|signor"
    "|signora|signore|signorina|dott|monsieur|madame|mademoiselle|señor|señora|señorita"
    "|senhor|senhora|senhorita|doktor|professor|professeur|pr|dra|dña|doña|ing|avv|eng"
    r"|dott\.?ssa|prof\.?ssa|sig\.?ra|sig\.?na|dr\.?in|dr\.?ª|sr\.?ª|d\.?ª"
)
_TITLE = re.compile(
    rf"^(?:(?:{_TITLE_WORDS})\.?\s+)+"
    # After a title only (alone they are names or initials): Spanish and Portuguese "don",
    # "D." and "Dona" ("Sr. D. José"), German "med." ("Dr. med. Anna Weber").
    r"(?:(?:d|don|dona|dom|med)\.?\s+)?",
    re.I,
)
# Emoticons as whole words (":)", ";-P", "<3", "^^") and markdown marks ("**Mia**").
_EMOTICON = re.compile(r"(?<!\S)(?:[:;=8xX][-'^o]?[()\[\]dDpP3/\\|*oO]+|<3+|\^_?\^)(?!\S)")
_MARKDOWN = re.compile(r"(?<!\w)[*_~`]+|[*_~`]+(?!\w)")
# Emoji: pictographs and symbols (So), skin tones, joiners and variation selectors.
_EMOJI_CATEGORIES = frozenset({"So", "Cf", "Co", "Cs", "Me"})
_EMOJI_EXTRAS = frozenset({"\ufe0e", "\ufe0f", *map(chr, range(0x1F3FB, 0x1F400))})
_NAME_WORD = re.compile(r"^[^\W\d_]+(?:['\u2019-][^\W\d_]+)*\.?$")
# Particles that belong to a last name ("van der Berg", "de la Fontaine", "dos Santos"),
# in any case ("Van Dijk", "De Luca"); lower-cased when the whole name is.
_PARTICLES = word_set(
    "van von der den ten ter zu de la le du des da di del della dei degli do dos das"
)


def _comma_list(text: str) -> frozenset[str]:
    return frozenset(" ".join(item.split()) for item in text.split(","))


# First names of two words or more, folded ("José María", "Jean Paul", "María del
# Carmen"): the first name when a name starts with one of them.
_COMPOUND_FIRST_NAMES = _comma_list(
    """
    jose maria, jose luis, jose antonio, jose manuel, jose carlos, jose miguel, jose ramon,
    jose angel, jose javier, jose ignacio, jose francisco, jose pedro, juan carlos,
    juan antonio, juan jose, juan manuel, juan pablo, juan luis, juan ramon, juan francisco,
    juan miguel, juan ignacio, juan pedro, maria jose, maria jesus, maria teresa,
    maria carmen, maria del carmen, maria del mar, maria de los angeles, maria isabel,
    maria luisa, maria dolores, maria pilar, maria angeles, maria elena, maria victoria,
    maria cristina, maria eugenia, maria antonia, maria fernanda, maria paula, maria paz,
    ana maria, ana isabel, ana belen, ana cristina, luis miguel, miguel angel,
    francisco javier, francisco jose, pedro pablo, rosa maria, jesus maria,
    joao pedro, joao paulo, joao carlos, joao vitor, joao victor, joao gabriel, joao lucas,
    joao miguel, ana paula, ana luisa, ana clara, ana beatriz, ana carolina, ana rita,
    ana sofia, maria eduarda, maria clara, maria joao, maria do carmo, maria da graca,
    maria de fatima, maria da conceicao, luiz carlos, luis carlos, paulo roberto,
    carlos eduardo, luiz fernando, luis filipe, pedro henrique, rui pedro, jose paulo,
    jean pierre, jean paul, jean luc, jean marc, jean claude, jean michel, jean louis,
    jean francois, jean baptiste, jean philippe, jean jacques, jean yves, jean christophe,
    marie claire, marie france, marie christine, marie pierre, marie helene, marie laure,
    marie anne, marie therese, marie louise, marie noelle, anne marie, anne sophie,
    anne laure, pierre yves, pierre louis, pierre alain,
    anna maria, maria grazia, maria teresa, maria rosa, gian luca, gian marco, gian paolo,
    gian carlo, pier paolo, pier luigi, pier giorgio,
    anna lena, hans peter, karl heinz, hans jurgen, klaus dieter, franz josef,
    mary ann, mary jane, mary kate
    """
)
_LONGEST_COMPOUND = max(len(name.split()) for name in _COMPOUND_FIRST_NAMES)
# Words that show the text is a sentence, a refusal, a greeting or a command, not a
# name ("I'm looking for a tent", "skip", "bonjour", "zurück"); compared folded. Words
# that are also names stay out ("Dias", "Moi", "Nur", "Per", "Una", "Les", "Bin").
_NOT_NAMES = word_set(
    """
    a an the and or but not no yes yeah yep nope ok okay sure thanks thank please hi hello
    hey bye fine good great well just only looking interested browsing shopping searching
    buying thinking trying planning going from in at on for to with about here there ready
    done happy glad sorry busy new back still also very really so curious after before
    maybe perhaps what who why how when where which this that is am are was be it its my
    me you your we our they their he she his her budget size colour color email phone
    number call contact hoodie tent mug jacket blanket candle socks boots beanie backpack
    shirt tee week weeks month months today tomorrow asap euro euros dollars
    skip none nobody nothing anonymous anon later pass rather prefer private secret
    stop cancel help next quit exit menu restart reset undo continue hiya howdy morning
    afternoon evening now soon tonight anytime
    demain aujourd'hui maintenant bientot soir svp stp heute morgen jetzt bald abend
    manana ahora noche oggi domani adesso stasera hoje amanha agora logo
    rue avenue boulevard chemin allee impasse quai place route street road calle avenida plaza
    paseo carrer piazza viale strasse platz gasse rua praca travessa saint sainte sao
    tente tienda tenda zelt sac mochila zaino rucksack veste chaqueta giacca jaqueta
    non oui merci rien personne anonyme plus tard passer sauter suivant retour annuler aide
    arreter arrete quitter bonjour bonsoir salut coucou je suis pas prefere plutot nom
    prenom juste seulement cherche regarde veux voudrais besoin pour avec sans dans chez
    ici interesse interessee tres bien vous
    nein danke bitte nichts niemand anonym spater lieber kein keine keinen uberspringen
    weiter zuruck abbrechen hilfe beenden stopp hallo servus moin guten gruss gruezi ich
    und oder nicht interessiert suche schaue mochte brauche fur aus hier sehr mein meine
    gracias nadie anonimo anonima luego despues mas prefiero saltar omitir siguiente atras
    volver cancelar ayuda parar detener salir hola buenas buenos yo soy estoy mirando busco
    buscando quiero necesito interesado interesada aqui muy nombre favor
    grazie niente nulla nessuno dopo piu preferisco salta saltare avanti prossimo indietro
    annulla aiuto basta fermati esci ciao salve buongiorno buonasera io sono cerco
    guardando voglio vorrei interessato interessata qui molto nome prego
    obrigado obrigada ninguem depois prefiro pular proximo seguinte voltar ajuda sair oi
    bom boa noite eu sou olhando procuro procurando quero queria preciso muito
    """
)
# Replies that are no name as a whole, though their words may be names elsewhere
# ("Nada Ali", "Si Chen", "Nao Tanaka", "Ola Nordmann"): compared folded, without
# punctuation.
_NO_NAME_REPLIES = word_set("si ja sim nao nada ola para pare na")
# Refusals, as whole replies, folded and without punctuation ("n/a" → "n a").
_REFUSALS = frozenset(
    {
        *("skip", "skip it", "skip this", "skip that", "pass", "no", "nope", "nah"),
        *("no thanks", "no thank you", "none", "n a", "na", "rather not", "id rather not"),
        *("i d rather not", "i would rather not", "prefer not", "prefer not to say"),
        *("id prefer not to say", "not telling", "later", "maybe later", "anonymous", "anon"),
        *("stay anonymous", "no name", "nobody", "private", "secret"),
        *("non", "non merci", "passer", "je passe", "rien", "personne", "plus tard"),
        *("anonyme", "je prefere pas", "je prefere ne pas le dire", "plutot pas", "pas de nom"),
        *("nein", "nein danke", "weiter", "uberspringen", "nichts", "niemand", "spater"),
        *("anonym", "lieber nicht", "kein name", "keine angabe", "mochte ich nicht sagen"),
        *("no gracias", "paso", "saltar", "nada", "nadie", "luego", "despues", "mas tarde"),
        *("anonimo", "anonima", "prefiero no", "prefiero no decirlo", "sin nombre"),
        *("no grazie", "passo", "salta", "niente", "nulla", "nessuno", "dopo", "piu tardi"),
        *("preferisco di no", "preferisco non dirlo", "senza nome"),
        *("nao", "nao obrigado", "nao obrigada", "pular", "ninguem", "depois", "mais tarde"),
        *("prefiro nao", "prefiro nao dizer", "sem nome"),
    }
)


def parse_email(text: str) -> Parsed | None:
    """Return the first valid e-mail address in ``text``, normalised and lower-cased.

    An address written to fool robots counts when it makes a valid one:
    "sam(at)example(dot)org", "sam [at] example [dot] org", "sam at example dot org"
    (a bare "at" needs a spelled dot: "I work at example.org" is no address), "sam @
    example.org", "sam arroba example punto es", "sam chiocciola example.it". So does
    the address of a mailto link ('<a href="mailto:sam@example.org">...</a>').
    """
    cleaned = usable(unwrap_mailto_links(text)) if isinstance(text, str) else None
    if cleaned is None:
        return None
    candidates = _EMAIL_CANDIDATE.findall(cleaned) if "@" in cleaned else []
    if _AT_HINT.search(cleaned):
        candidates += [
            _AT_SEPARATOR.sub("@", _DOT_SEPARATOR.sub(".", match.group()), count=1)
            for match in _SPELLED_EMAIL.finditer(cleaned)
            if not match["word_at"] or not _LITERAL_DOTS.fullmatch(match["domain"])
        ]
    for candidate in candidates:
        try:
            result = validate_email(candidate.rstrip("."), check_deliverability=False)
        except (EmailNotValidError, ValueError):
            continue
        email = result.normalized.lower()
        return Parsed(value=email, display=email)
    return None


def parse_phone(text: str, *, region: str | None) -> Parsed | None:
    """Return the first valid phone number in ``text`` as E.164.

    ``region`` (ISO alpha-2) is how numbers without a "+" country code are read, unless
    the message names a country in which the number is valid: "vivo en Francia, 06 12 34
    56 78" is French whatever ``region`` says. Numbers that phonenumbers does not deem
    valid are no number, such as the UK's range for fiction ("07700 900123").
    """
    cleaned = usable(text)
    if cleaned is None:
        return None
    # "ZZ" is phonenumbers' unknown region: only numbers written with "+" then parse.
    default_region = region.upper() if region and len(region) == 2 else "ZZ"
    regions = dict.fromkeys([*_countries_named(cleaned), default_region])
    try:
        for candidate in regions:
            matches = phonenumbers.PhoneNumberMatcher(
                cleaned, candidate, leniency=phonenumbers.Leniency.VALID
            )
            for match in matches:
                number = match.number
                e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
                display = phonenumbers.format_number(
                    number, phonenumbers.PhoneNumberFormat.INTERNATIONAL
                )
                return Parsed(value=e164, display=display)
    except phonenumbers.NumberParseException:
        return None
    return None


def _countries_named(text: str) -> list[str]:
    """The countries ``text`` names, in any of the six languages ("Francia", "Deutschland")."""
    if not any(char.isdigit() for char in text):
        return []
    words = _LETTERS.findall(fold(text))
    names = _country_names()
    found = []
    for start in range(len(words)):
        for size in range(min(_LONGEST_COUNTRY, len(words) - start), 0, -1):
            code = names.get(" ".join(words[start : start + size]))
            if code is not None:
                found.append(code)
                break
    return found


@lru_cache(maxsize=1)
def _country_names() -> dict[str, str]:
    """Every country's alpha-2 code by its names in the shop's six languages.

    The names are folded, their words separated by one space ("royaume uni").
    """
    translations = [
        gettext.translation("iso3166-1", pycountry.LOCALES_DIR, languages=[language])
        for language in ("fr", "de", "es", "it", "pt")
    ]
    names: dict[str, str] = {}
    for country in pycountry.countries:
        spellings = {country.name, getattr(country, "common_name", country.name)}
        spellings |= {translation.gettext(country.name) for translation in translations}
        for spelling in spellings:
            key = " ".join(_LETTERS.findall(fold(spelling)))
            if len(key) >= 4 and key not in _NOT_COUNTRIES:
                names[key] = country.alpha_2
    return names | _COUNTRY_ALIASES


_LETTERS = re.compile(r"[^\W\d_]+")
# Country names that are more often a person's name or a word ("Jordan", "turkey").
_NOT_COUNTRIES = word_set("jordan chad georgia turkey chile jersey india israel mali niger")
_COUNTRY_ALIASES = {
    **dict.fromkeys(["uk", "england", "angleterre", "inglaterra", "inghilterra"], "GB"),
    **dict.fromkeys(["scotland", "ecosse", "schottland", "escocia", "scozia"], "GB"),
    **dict.fromkeys(["wales", "galles", "gales", "gales"], "GB"),
    **dict.fromkeys(["usa", "eeuu", "ee uu", "eua"], "US"),
    **dict.fromkeys(["holland", "hollande", "holanda", "olanda"], "NL"),
}
_LONGEST_COUNTRY = 6


def parse_contact(text: str, *, region: str | None) -> Parsed | None:
    """Return an e-mail address, a phone number or both as ``{"email": ..., "phone": ...}``."""
    email = parse_email(text)
    phone = parse_phone(text, region=region)
    value: dict[str, str] = {}
    shown = []
    for key, found in (("email", email), ("phone", phone)):
        if found is not None:
            value[key] = found.value
            shown.append(found.display)
    if not value:
        return None
    return Parsed(value=value, display=", ".join(shown))


def declines_name(text: str) -> bool:
    """Whether the reply to "what's your name?" refuses it ("skip", "rather not", "nein")."""
    return _bare(text) in _REFUSALS


def parse_name(text: str) -> Parsed | None:
    """Return a person's name; None for sentences, digits, e-mail addresses, long text."""
    if not isinstance(text, str) or len(text.strip()) > MAX_ANSWER_LENGTH:
        return None
    cleaned = usable(strip_decoration(text))
    if cleaned is None or len(cleaned) > MAX_NAME_LENGTH:
        return None
    if any(char.isdigit() for char in cleaned) or "@" in cleaned:
        return None
    if declines_name(cleaned) or _bare(cleaned) in _NO_NAME_REPLIES:
        return None
    greeted = _GREETING.match(cleaned)
    cleaned = cleaned[greeted.end() :] if greeted else cleaned
    introduced = _INTRO.match(cleaned)
    tail = _INTRO_TAIL.match(cleaned)
    rest = tail["name"] if tail else cleaned[introduced.end() :] if introduced else cleaned
    rest = _TITLE.sub("", rest)
    rest = re.split(r"[,;!?]|\s[-\u2013]\s|\.\s|\band\b", rest, maxsplit=1)[0].strip(" .")
    words = [word.rstrip(".") for word in rest.split()]
    if not _name_sized(words, introduced=bool(introduced or tail)):
        return None
    if any(not _NAME_WORD.match(word) or _not_a_name(word) for word in rest.split()):
        return None
    first, last = _first_and_last(words)
    if first.split()[0].lower() in _PARTICLES:
        return None
    display = f"{first} {last}" if last else first
    return Parsed(value={"first_name": first, "last_name": last}, display=display)


def _name_sized(words: list[str], *, introduced: bool) -> bool:
    """Whether ``words`` are as many as a name has: up to three, particles aside.

    A particle counts as one before a capitalised word ("de La Tour") or anywhere in a
    name in one case ("ana maria da silva"), else as a word ("Tengo dos hijos pequeños"
    has four). Four are a name too after an introduction, when each is capitalised ("José
    María García López") or when they start with a compound first name ("jose maria
    garcia lopez"); other four words are more likely a sentence.
    """
    one_case = " ".join(words).islower() or " ".join(words).isupper()
    names = [
        word
        for word, following in itertools.pairwise([*words, ""])
        if word.lower() not in _PARTICLES or not (one_case or following[:1].isupper())
    ]
    if not names or len(words) > 7:
        return False
    return len(names) <= 3 or (
        len(names) == 4
        and (
            introduced
            or all(word[:1].isupper() for word in names)
            or _compound_first_name(words) > 1
        )
    )


def _first_and_last(words: list[str]) -> tuple[str, str | None]:
    """Split a name into first and last name, each capitalised as a name is.

    A name in one case (all lower or all upper) is capitalised word by word. Otherwise,
    words in capitals are the last name wherever they stand, as on French forms
    ("DUPONT Marie", "Marie DUPONT" → Marie, Dupont). Else the first name is the first
    word, or the first two or three when they make a known compound first name ("José
    María", "Jean Paul", "Ana Maria"), or the first two of four ("José María García
    López": Spanish and Portuguese names carry two surnames); the rest is the last name.
    """
    joined = " ".join(words)
    if joined.islower() or joined.isupper():
        words = [_name_case(word) for word in words]
    else:
        in_capitals = [_surname_in_capitals(word) for word in words]
        if any(in_capitals):
            surname = [i for i, caps in enumerate(in_capitals) if caps]
            start, end = surname[0], surname[-1] + 1
            while start > 0 and words[start - 1].lower() in _PARTICLES:
                start -= 1  # "Louise de LA TOUR"
            first = " ".join(words[:start] + words[end:])
            if first:
                return first, " ".join(_name_case(word) for word in words[start:end])
    size = _compound_first_name(words)
    if size == 1 and len(words) == 4 and not any(w.lower() in _PARTICLES for w in words):
        size = 2
    first = " ".join(words[:size])
    return first, " ".join(words[size:]) or None


def _surname_in_capitals(word: str) -> bool:
    """A word in capitals with a vowel ("DUPONT", "LI"); not initials ("JP") nor a particle."""
    letters = re.sub(r"[\W\d_]", "", word)
    return (
        len(letters) >= 2
        and letters.isupper()
        and word.lower() not in _PARTICLES
        and re.search("[aeiouy]", fold(letters)) is not None
    )


def _compound_first_name(words: list[str]) -> int:
    """How many words the first name has: a known compound ("María del Carmen") or one."""
    folded = [fold(word) for word in words]
    for size in range(min(_LONGEST_COMPOUND, len(words)), 1, -1):
        if " ".join(folded[:size]) in _COMPOUND_FIRST_NAMES:
            return size
    return 1


def _name_case(word: str) -> str:
    """A word of a name in the case names take: "DUPONT" → "Dupont", "DE" → "de"."""
    return word.lower() if word.lower() in _PARTICLES else _capitalise(word)


def strip_decoration(text: str) -> str:
    """``text`` without emoji, emoticons, markdown marks and attribute-free inline tags.

    "<i>Eve</i> Hacker 😊" → "Eve Hacker"; other markup stays, for ``usable`` to refuse.
    """
    text = strip_inline_tags(text)
    text = "".join(
        " " if char in _EMOJI_EXTRAS or unicodedata.category(char) in _EMOJI_CATEGORIES else char
        for char in text
    )
    text = _EMOTICON.sub(" ", text)
    return " ".join(_MARKDOWN.sub("", text).split())


def _bare(text: str) -> str:
    """Folded, letters and digits only, one space between words: "N/A!" → "n a"."""
    return " ".join(re.sub(r"[\W_]+", " ", fold(text)).split())


def _not_a_name(word: str) -> bool:
    # "Olá" and "sí" greet and agree; "Ola" and "Si" are also names.
    return fold(word).rstrip(".") in _NOT_NAMES or word.lower() in ("olá", "sí", "não")


def _capitalise(word: str) -> str:
    """Capitalise each part of a name: "jean-pierre" → "Jean-Pierre", "o'neil" → "O'Neil"."""
    return re.sub(r"[^\W\d_]+", lambda m: m.group(0).capitalize(), word.lower())
