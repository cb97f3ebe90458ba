import pytest

from bot.answers.contact import (
    declines_name,
    parse_contact,
    parse_email,
    parse_name,
    parse_phone,
    strip_decoration,
)
from bot.answers.text import unwrap_mailto_links


@pytest.mark.parametrize(
    ("text", "email"),
    [
        ("jane@example.com", "jane@example.com"),
        ("Mail me at Jane.Doe@Example.COM.", "jane.doe@example.com"),  # trailing full stop
        ("<jane@example.com>", "jane@example.com"),
        ("it's jean-pierre+shop@exemple.fr, thanks", "jean-pierre+shop@exemple.fr"),
        ("jane@", None),
        ("not an email", None),
        ("a@b", None),  # no domain suffix
        ("x@localhost", None),
        ("jane@@example.com", None),
        ("", None),
    ],
)
def test_parse_email(text: str, email: str | None) -> None:
    parsed = parse_email(text)
    assert (parsed.value if parsed else None) == email


@pytest.mark.parametrize(
    ("text", "region", "phone"),
    [
        ("+33 6 12 34 56 78", None, "+33612345678"),
        ("06 12 34 56 78", "FR", "+33612345678"),
        ("call me on 0612345678", "FR", "+33612345678"),
        ("020 7946 0958", "GB", "+442079460958"),
        ("my number is +44 7911 123456", "fr", "+447911123456"),  # "+" beats the region
        ("+1 650-253-0000", None, "+16502530000"),
        ("06 12 34 56 78", None, None),  # a local number needs a region
        ("12345", "FR", None),
        ("+33 1 23", "FR", None),  # too short to be valid
        ("500 euros", "FR", None),
        ("06 12 34 56 78", "France", None),  # not a region code: read as unknown
    ],
)
def test_parse_phone(text: str, region: str | None, phone: str | None) -> None:
    parsed = parse_phone(text, region=region)
    assert (parsed.value if parsed else None) == phone


def test_parse_phone_display_is_international() -> None:
    parsed = parse_phone("06 12 34 56 78", region="FR")
    assert parsed is not None
    assert parsed.display == "+33 6 12 34 56 78"


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("jane@example.com", {"email": "jane@example.com"}),
        ("06 12 34 56 78", {"phone": "+33612345678"}),
        (
            "jane@example.com or 06 12 34 56 78",
            {"email": "jane@example.com", "phone": "+33612345678"},
        ),
        ("no thanks", None),
    ],
)
def test_parse_contact(text: str, value: dict[str, str] | None) -> None:
    parsed = parse_contact(text, region="FR")
    assert (parsed.value if parsed else None) == value


@pytest.mark.parametrize(
    ("text", "first", "last"),
    [
        ("I'm Jane Doe", "Jane", "Doe"),
        ("jane", "Jane", None),  # capitalised when typed in lower case
        ("my name is Jean-Pierre Dupont", "Jean-Pierre", "Dupont"),
        ("Dr. Anna Müller", "Anna", "Müller"),  # titles are dropped
        ("Hi, I'm Jane", "Jane", None),
        ("JANE DOE", "Jane", "Doe"),
        ("Ludwig van Beethoven", "Ludwig", "van Beethoven"),
        ("Mary-Jane O'Neil", "Mary-Jane", "O'Neil"),
        ("Name: Anna Schmidt", "Anna", "Schmidt"),
        ("call me Ishmael", "Ishmael", None),
        ("Zoë Saldaña", "Zoë", "Saldaña"),
        ("Jean-Pierre Dupont, and my email follows", "Jean-Pierre", "Dupont"),
        # emoji, emoticons and markup are stripped
        ("Jonas 😊", "Jonas", None),
        ("👍 Jonas", "Jonas", None),
        ("Jonas 👋🏽", "Jonas", None),  # with a skin tone
        ("Anna-Lena ❤️", "Anna-Lena", None),  # with a variation selector
        ("Jane :)", "Jane", None),
        ("name's Tom 👋", "Tom", None),
        ("<i>Eve</i> Hacker", "Eve", "Hacker"),
        ("<b>Jane</b>", "Jane", None),
        ("*Jane*", "Jane", None),
        ("**Jane Doe**", "Jane", "Doe"),
        # greetings and introductions in the shop's languages
        ("Hi Jane!", "Jane", None),
        ("je m'appelle Marie", "Marie", None),
        ("je m\u2019appelle Marie", "Marie", None),  # typographic apostrophe
        ("bonjour, je m'appelle Marie Curie", "Marie", "Curie"),
        ("ich heiße Jonas", "Jonas", None),
        ("Hallo, ich heisse Jonas Weber", "Jonas", "Weber"),
        ("me llamo Ana", "Ana", None),
        ("hola, soy Ana García", "Ana", "García"),
        ("mi chiamo Luca", "Luca", None),
        ("ciao, sono Luca", "Luca", None),
        ("chamo-me João", "João", None),
        ("meu nome é João Silva", "João", "Silva"),
        ("olá, sou a Ana", "Ana", None),  # Portugal puts an article before the name
        # names that are also words of the six languages
        ("Nada Ali", "Nada", "Ali"),
        ("Si Chen", "Si", "Chen"),
        ("Nao Tanaka", "Nao", "Tanaka"),
        ("Ola Nordmann", "Ola", "Nordmann"),
        ("Jean Dias", "Jean", "Dias"),
        ("Per Olsen", "Per", "Olsen"),
        ("Les Paul", "Les", "Paul"),
    ],
)
def test_parse_name(text: str, first: str, last: str | None) -> None:
    parsed = parse_name(text)
    assert parsed is not None
    assert parsed.value == {"first_name": first, "last_name": last}


@pytest.mark.parametrize(
    "text",
    [
        "I'm looking for a tent",
        "I'm in Lyon",
        "I need a blue hoodie",
        "Jane2",  # digits
        "jane@example.com",
        "yes",
        "hello",
        "a b c d e",
        "Jane " + "Doe" * 30,  # over 80 characters
        "",
        "🙂",
        # markup other than a plain inline tag is never read, nor echoed
        "<script>alert(1)</script>Jane",
        "<a href=x>Eve</a>",
        "<img src=x onerror=alert(1)>",
        # refusals
        "skip",
        "Skip!",
        "no",
        "none",
        "nope",
        "n/a",
        "N/A",
        "rather not",
        "pass",
        "later",
        "anonymous",
        "non merci",
        "je préfère pas",
        "plus tard",
        "nein",
        "lieber nicht",
        "später",
        "nada",
        "prefiero no",
        "más tarde",
        "niente",
        "preferisco di no",
        "più tardi",
        "não",
        "nao",  # accents are optional
        "prefiro não",
        "mais tarde",
        # greetings
        "hi",
        "bonjour",
        "salut",
        "hallo",
        "servus",
        "hola",
        "buenas",
        "ciao",
        "olá",
        "Ola",  # a name too, but alone it greets
        "oi",
        "bom dia",
        # commands
        "stop",
        "cancel",
        "help",
        "next",
        "back",
        "annuler",
        "aide",
        "suivant",
        "retour",
        "abbrechen",
        "hilfe",
        "weiter",
        "zurück",
        "cancelar",
        "ayuda",
        "siguiente",
        "atrás",
        "annulla",
        "aiuto",
        "avanti",
        "indietro",
        "ajuda",
        "próximo",
        "voltar",
        # sentences after an introduction
        "je suis intéressé",
        "ich bin interessiert",
        "soy de Madrid",
        "sono di Roma",
        "sou de Lisboa",
    ],
)
def test_parse_name_rejects(text: str) -> None:
    assert parse_name(text) is None


def test_skip_after_an_unread_name_is_no_name() -> None:
    # The shopper's "Jonas 😊" is read, and a later "skip" is not taken for a name.
    parsed = parse_name("Jonas 😊")
    assert parsed is not None
    assert parsed.value == {"first_name": "Jonas", "last_name": None}
    assert parse_name("skip") is None


@pytest.mark.parametrize(
    ("text", "declines"),
    [
        ("skip", True),
        ("Rather not.", True),
        ("n/a", True),
        ("anonymous", True),
        ("nein danke", True),
        ("je préfère pas", True),
        ("prefiero no decirlo", True),
        ("preferisco non dirlo", True),
        ("prefiro não dizer", True),
        ("hello", False),  # a greeting is no refusal: ask again
        ("Jane", False),
        ("Nada Ali", False),
    ],
)
def test_declines_name(text: str, declines: bool) -> None:
    assert declines_name(text) is declines


@pytest.mark.parametrize(
    ("text", "stripped"),
    [
        ("<i>Eve</i> Hacker 😊", "Eve Hacker"),
        ("**Jane** :)", "Jane"),
        ("<script>x</script>", "<script>x</script>"),  # left for usable() to refuse
    ],
)
def test_strip_decoration(text: str, stripped: str) -> None:
    assert strip_decoration(text) == stripped


def test_parse_name_display_never_shows_markup() -> None:
    parsed = parse_name("<b>Eve</b> <i>Hacker</i>")
    assert parsed is not None
    assert parsed.display == "Eve Hacker"


@pytest.mark.parametrize(
    ("text", "first", "last"),
    [
        # The last name in capitals, before or after the first name.
        ("LEROY Camille", "Camille", "Leroy"),
        ("BERNARD Anne-Sophie", "Anne-Sophie", "Bernard"),
        ("Camille LEROY", "Camille", "Leroy"),
        ("Hugo MOREAU-PETIT", "Hugo", "Moreau-Petit"),
        ("je m'appelle FAURE Lucas", "Lucas", "Faure"),
        ("DA COSTA Inês", "Inês", "da Costa"),
        ("Élise de LA FONTAINE", "Élise", "de la Fontaine"),
        ("LOPES Ana Paula", "Ana Paula", "Lopes"),
        ("NG Wei", "NG", "Wei"),  # no vowel: initials, not a last name
        ("TJ Baker", "TJ", "Baker"),
        ("CLAIRE DUBOIS", "Claire", "Dubois"),  # all in capitals: the order as written
    ],
)
def test_parse_name_last_name_in_capitals(text: str, first: str, last: str) -> None:
    parsed = parse_name(text)
    assert parsed is not None
    assert parsed.value == {"first_name": first, "last_name": last}


@pytest.mark.parametrize(
    ("text", "first", "last"),
    [
        # Particles, in either case, stay with the last name.
        ("Hélène de La Roche", "Hélène", "de La Roche"),
        ("Pieter van den Heuvel", "Pieter", "van den Heuvel"),
        ("Sanne Van Leeuwen", "Sanne", "Van Leeuwen"),
        ("Giulia Della Valle", "Giulia", "Della Valle"),
        ("Rui dos Santos", "Rui", "dos Santos"),
        ("Claude du Bois", "Claude", "du Bois"),
        ("marta de la cruz", "Marta", "de la Cruz"),
        ("Otto von der Heide", "Otto", "von der Heide"),
    ],
)
def test_parse_name_particles(text: str, first: str, last: str) -> None:
    parsed = parse_name(text)
    assert parsed is not None
    assert parsed.value == {"first_name": first, "last_name": last}


@pytest.mark.parametrize(
    ("text", "first", "last"),
    [
        # Several titles in a row.
        ("Frau Prof. Sabine Krüger", "Sabine", "Krüger"),
        ("Herr Dr. Dr. Jonas Brandt", "Jonas", "Brandt"),
        ("Dr. med. Lea Wolf", "Lea", "Wolf"),
        ("Mme Pr Odile Garnier", "Odile", "Garnier"),
        ("Sra. Dña. Pilar Ortega", "Pilar", "Ortega"),
        ("Sr. D. Andrés Molina", "Andrés", "Molina"),
        ("Sr. Don Tomás", "Tomás", None),
        ("Dott.ssa Chiara Galli", "Chiara", "Galli"),
        ("Prof.ssa Marta Rinaldi", "Marta", "Rinaldi"),
        ("Ing. Davide Ferri", "Davide", "Ferri"),
        ("Dra. Inés Navarro", "Inés", "Navarro"),
        ("Don Draper", "Don", "Draper"),  # "Don" alone is a first name
    ],
)
def test_parse_name_titles(text: str, first: str, last: str | None) -> None:
    parsed = parse_name(text)
    assert parsed is not None
    assert parsed.value == {"first_name": first, "last_name": last}


@pytest.mark.parametrize(
    ("text", "first", "last"),
    [
        # Compound first names, and two surnames.
        ("Juan Pablo Herrera", "Juan Pablo", "Herrera"),
        ("María Teresa", "María Teresa", None),
        ("Maria Eduarda Souza", "Maria Eduarda", "Souza"),
        ("Jean Luc Girard", "Jean Luc", "Girard"),
        ("Gian Marco Russo", "Gian Marco", "Russo"),
        ("María del Mar Soto", "María del Mar", "Soto"),
        ("Lucía Beatriz Romero Díaz", "Lucía Beatriz", "Romero Díaz"),
        ("juan pablo herrera ortiz", "Juan Pablo", "Herrera Ortiz"),
        ("Carmen Romero Díaz", "Carmen", "Romero Díaz"),
        ("ORTIZ GIL Juan Pablo", "Juan Pablo", "Ortiz Gil"),
    ],
)
def test_parse_name_compound_first_names(text: str, first: str, last: str | None) -> None:
    parsed = parse_name(text)
    assert parsed is not None
    assert parsed.value == {"first_name": first, "last_name": last}


@pytest.mark.parametrize(
    "text",
    [
        "Tengo dos hijos pequeños",  # four words in sentence case
        "Quiero la tienda grande",
        "appelle-moi demain",  # "call me tomorrow"
        "chiamami domani",
        "llámame mañana",
        "de Vries",  # a particle first
        "Rue de la Paix",  # an address
        "Tente de Camping",  # a product
        "São João da Madeira",  # a town
    ],
)
def test_parse_name_rejects_sentences(text: str) -> None:
    assert parse_name(text) is None


@pytest.mark.parametrize(
    "text",
    [
        # Introductions by the name to call someone.
        "você pode me chamar de Teo",
        "pode me chamar de Teo",
        "podes chamar-me Teo",
        "chama-me Teo",
        "puedes llamarme Teo",
        "llámame Teo",
        "me dicen Teo",
        "tu peux m'appeler Teo",
        "vous pouvez m\u2019appeler Teo",
        "appelez-moi Teo",
        "nennen Sie mich Teo",
        "nenn mich einfach Teo",
        "du kannst mich Teo nennen",
        "chiamami Teo",
        "mi puoi chiamare Teo",
        "just call me Teo",
        "everyone calls me Teo",
    ],
)
def test_parse_name_call_me(text: str) -> None:
    parsed = parse_name(text)
    assert parsed is not None
    assert parsed.value == {"first_name": "Teo", "last_name": None}


@pytest.mark.parametrize(
    ("text", "email"),
    [
        # Addresses spelled out to fool robots, when they make a valid address.
        ("nora(at)posteo(dot)de", "nora@posteo.de"),
        ("nora [at] posteo [dot] de", "nora@posteo.de"),
        ("nora {at} posteo {dot} de", "nora@posteo.de"),
        ("nora at posteo dot de", "nora@posteo.de"),
        ("nora.berg at posteo dot de", "nora.berg@posteo.de"),
        ("nora dot berg at mail dot posteo dot de", "nora.berg@mail.posteo.de"),
        ("écris à nora (at) posteo (dot) de merci", "nora@posteo.de"),
        ("nora @ posteo.de", "nora@posteo.de"),
        ("nora@ posteo.de", "nora@posteo.de"),
        ("nora@posteo dot de", "nora@posteo.de"),
        ("nora arroba posteo punto es", "nora@posteo.es"),
        ("nora arroba sapo.pt", "nora@sapo.pt"),
        ("nora chiocciola libero punto it", "nora@libero.it"),
        ("nora arobase free point fr", "nora@free.fr"),
        ("nora Klammeraffe web Punkt de", "nora@web.de"),
        # ... and no address otherwise.
        ("I work at posteo.de", None),  # a bare "at" needs a spelled dot
        ("I'm at home", None),
        ("nora at posteo", None),  # no domain suffix
        ("nora @ posteo. Merci", None),  # a full stop ends the sentence
        ("(at) (dot)", None),
    ],
)
def test_parse_email_spelled_out(text: str, email: str | None) -> None:
    parsed = parse_email(text)
    assert (parsed.value if parsed else None) == email


@pytest.mark.parametrize(
    ("text", "email"),
    [
        ('<a href="mailto:ines@example.pt">ines@example.pt</a>', "ines@example.pt"),
        ("<a href='mailto:Ines@Example.pt'>write to me</a>", "ines@example.pt"),
        ("<a href=mailto:ines@example.pt>ines</a>", "ines@example.pt"),
        ('<a href="mailto:ines%40example.pt?subject=Tent">mail</a>', "ines@example.pt"),
        ('mine: <a class="x" href="mailto:ines@example.pt">here</a>', "ines@example.pt"),
        ('<a href="https://example.pt">ines@example.pt</a>', None),  # other markup
        ('<a href="mailto:ines@example.pt"><script>x</script></a>', None),
    ],
)
def test_parse_email_in_a_mailto_link(text: str, email: str | None) -> None:
    parsed = parse_email(text)
    assert (parsed.value if parsed else None) == email


@pytest.mark.parametrize(
    ("text", "unwrapped"),
    [
        ('<a href="mailto:ines@example.pt">ines@example.pt</a>', "ines@example.pt"),
        ('<a href="mailto:x@y.z" onclick="alert(1)">x</a> thanks', "x@y.z thanks"),
        ('<a href="https://example.pt">x</a>', '<a href="https://example.pt">x</a>'),
        ("no link", "no link"),
    ],
)
def test_unwrap_mailto_links(text: str, unwrapped: str) -> None:
    assert unwrap_mailto_links(text) == unwrapped


def test_parse_contact_reads_a_mailto_link() -> None:
    parsed = parse_contact('<a href="mailto:ines@example.pt">ines@example.pt</a>', region="FR")
    assert parsed is not None
    assert parsed.value == {"email": "ines@example.pt"}


@pytest.mark.parametrize(
    ("text", "region", "phone"),
    [
        # A country named in the message says how a local number reads.
        ("vivo en Francia: 07 81 23 45 67", "ES", "+33781234567"),
        ("ich wohne in Deutschland, 0170 1234567", "FR", "+491701234567"),
        ("sono in Italia 347 765 4321", "FR", "+393477654321"),
        ("sono in Italia 347 765 4321", None, "+393477654321"),
        ("moro em Portugal, 961 234 567", "FR", "+351961234567"),
        ("estoy en España: 655 12 34 56", "FR", "+34655123456"),
        ("j'habite en Belgique, 0485 12 34 56", "FR", "+32485123456"),
        ("wohne in der Schweiz, 078 123 45 67", "DE", "+41781234567"),
        ("I live in the UK, 07911 234567", "FR", "+447911234567"),
        ("vivo nos Estados Unidos, (650) 253-0000", "BR", "+16502530000"),
        # A number not valid in the country named reads in the region.
        ("je suis en Espagne, 06 12 34 56 78", "FR", "+33612345678"),
        # "+" beats both.
        ("vivo en Francia, +49 170 1234567", "ES", "+491701234567"),
        # UK numbers kept for fiction are not valid.
        ("I live in the UK, 07700 900123", "GB", None),
    ],
)
def test_parse_phone_in_the_country_named(text: str, region: str | None, phone: str | None) -> None:
    parsed = parse_phone(text, region=region)
    assert (parsed.value if parsed else None) == phone
