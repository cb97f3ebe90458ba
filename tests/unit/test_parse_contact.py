import pytest

from bot.answers.contact import parse_contact, parse_email, parse_name, parse_phone


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
        "<b>Jane</b>",
        "yes",
        "hello",
        "a b c d e",
        "Jane " + "Doe" * 30,  # over 80 characters
        "",
        "🙂",
    ],
)
def test_parse_name_rejects(text: str) -> None:
    assert parse_name(text) is None
