"""Lead field validation: e-mail and phone normalisation, limits, unknown fields, statuses."""

from __future__ import annotations

from typing import Any

import pytest

from bot.store.contacts import (
    EDITABLE_FIELDS,
    MAX_EMAIL_CHARS,
    MAX_NOTES_CHARS,
    MAX_PHONE_CHARS,
    MAX_STATUS_REASON_CHARS,
    TEXT_LIMITS,
    FieldError,
    LeadInputError,
    clean_lead_fields,
    normalise_email,
    normalise_phone,
)
from bot.store.models import LEAD_STATUSES

PERSON = {"first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.com"}


def clean(data: dict[str, Any], *, complete: bool = True, region: str | None = "FR") -> dict:
    return clean_lead_fields(data, complete=complete, region=region)


def errors_of(data: dict[str, Any], *, complete: bool = True, region: str | None = "FR") -> dict:
    """Field → message of every error ``data`` has (it must have some)."""
    with pytest.raises(LeadInputError) as caught:
        clean(data, complete=complete, region=region)
    found: dict[str, str] = {}
    for error in caught.value.errors:
        assert error.field not in found, f"{error.field} reported twice"
        found[error.field] = error.message
    return found


# --- e-mail -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "stored"),
    [
        ("ada@example.com", "ada@example.com"),
        ("Ada.Lovelace@Example.COM", "ada.lovelace@example.com"),  # both halves lower-cased
        ("  ada@example.com\t", "ada@example.com"),  # surrounding blanks
        ("ada+shop@example.com", "ada+shop@example.com"),  # sub-addressing kept
        ("jörg@bücher.de", "jörg@bücher.de"),  # internationalised address
        ("JÖRG@BÜCHER.DE", "jörg@bücher.de"),  # non-ASCII upper case
        ("user@xn--bcher-kva.de", "user@bücher.de"),  # punycode domain: the same address
    ],
)
def test_email_is_normalised(raw: str, stored: str) -> None:
    assert normalise_email(raw) == stored


def test_ascii_and_punycode_spellings_of_a_domain_are_one_address() -> None:
    assert normalise_email("User@BÜCHER.de") == normalise_email("user@xn--bcher-kva.de")


@pytest.mark.parametrize(
    "raw",
    [
        "ada",  # no @
        "ada@",  # no domain
        "@example.com",  # no local part
        "ada@example",  # no dot in the domain
        "ada@@example.com",  # two @
        "ada lovelace@example.com",  # space inside
        "ada@exam_ple.com",  # invalid domain character
        "\ud800@example.com",  # lone surrogate
    ],
)
def test_invalid_email_is_refused_with_a_reason(raw: str) -> None:
    with pytest.raises(ValueError, match="expected an e-mail address"):
        normalise_email(raw)


def test_email_length_is_bounded_before_parsing() -> None:
    local = "a" * 60
    domain = ".".join(["b" * 60] * 4) + ".com"  # a valid shape, 60 + 1 + 248 characters
    with pytest.raises(ValueError, match=f"at most {MAX_EMAIL_CHARS} characters"):
        normalise_email(f"{local}@{domain}")


# --- phone --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "region", "stored"),
    [
        ("06 12 34 56 78", "FR", "+33612345678"),  # national French mobile
        ("06.12.34.56.78", "FR", "+33612345678"),  # dots
        ("0612345678", "fr", "+33612345678"),  # region in lower case
        ("+33 6 12 34 56 78", "FR", "+33612345678"),  # international, same country
        ("+33 (0)6 12 34 56 78", "FR", "+33612345678"),  # trunk prefix in brackets
        ("0033 6 12 34 56 78", "FR", "+33612345678"),  # French international prefix
        ("+44 20 7946 0958", "FR", "+442079460958"),  # "+" wins over the shop's country
        ("+44 20 7946 0958", None, "+442079460958"),  # no region needed with "+"
        ("(202) 555-0125", "US", "+12025550125"),  # another region
        ("  +33612345678 ", "FR", "+33612345678"),  # surrounding blanks
    ],
)
def test_phone_becomes_e164(raw: str, region: str | None, stored: str) -> None:
    assert normalise_phone(raw, region) == stored


@pytest.mark.parametrize(
    ("raw", "region"),
    [
        ("06 12 34 56 78", None),  # national number without a region to read it in
        ("06 12 34 56 78", "FRA"),  # not an alpha-2 code: no region
        ("12", "FR"),  # too short
        ("+33 1", "FR"),  # too short after the country code
        ("+33 6 12 34 56 78 90 12", "FR"),  # too long
        ("call me", "FR"),  # not a number
        ("+999 123456", "FR"),  # no such country code
        ("\ud800", "FR"),  # lone surrogate
    ],
)
def test_invalid_phone_is_refused(raw: str, region: str | None) -> None:
    with pytest.raises(ValueError, match="expected a valid phone number"):
        normalise_phone(raw, region)


def test_invalid_phone_message_names_the_region() -> None:
    with pytest.raises(ValueError, match=r"read as a FR number unless it starts with \+"):
        normalise_phone("12", "fr")


def test_phone_length_is_bounded_before_parsing() -> None:
    with pytest.raises(ValueError, match=f"at most {MAX_PHONE_CHARS} characters"):
        normalise_phone("+33" + " " * MAX_PHONE_CHARS + "612345678", "FR")


# --- whole records ------------------------------------------------------------------------------


def test_complete_record_is_cleaned() -> None:
    cleaned = clean(
        {
            "first_name": "  Ada ",
            "last_name": "Lovelace",
            "email": "ADA@Example.com",
            "phone": "06 12 34 56 78",
            "company": "Analytical Engines",
            "position": "",  # empty: cleared
            "address": None,  # null: cleared
            "source": " Trade-Show.2026 ",
            "status": "Qualified",
            "notes": "met at the fair",
            "status_reason": "asked for a quote",
        }
    )
    assert cleaned == {
        "first_name": "Ada",
        "last_name": "Lovelace",
        "email": "ada@example.com",
        "phone": "+33612345678",
        "company": "Analytical Engines",
        "position": None,
        "address": None,
        "source": "Trade-Show.2026",
        "status": "Qualified",
        "notes": "met at the fair",
        "status_reason": "asked for a quote",
    }


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        # nothing at all: both names and a way to reach the person
        ({}, {"first_name": "required", "last_name": "required", "email": "phone"}),
        # a phone number is enough to reach the person
        ({"first_name": "Ada", "last_name": "L", "phone": "0612345678"}, {}),
        # names only
        ({"first_name": "Ada", "last_name": "L"}, {"email": "phone number is required"}),
        # blank names count as missing
        ({**PERSON, "first_name": "   "}, {"first_name": "required"}),
        ({**PERSON, "last_name": None}, {"last_name": "required"}),
        # an invalid e-mail is reported as invalid, not as missing
        ({**PERSON, "email": "nope"}, {"email": "expected an e-mail address"}),
        # an invalid phone with no e-mail: the phone's error only
        (
            {"first_name": "A", "last_name": "B", "phone": "12"},
            {"phone": "expected a valid phone number"},
        ),
    ],
)
def test_complete_record_needs_names_and_a_contact(
    data: dict[str, Any], expected: dict[str, str]
) -> None:
    if not expected:
        assert clean(data)["phone"] == "+33612345678"
        return
    found = errors_of(data)
    assert set(found) == set(expected)
    for field, fragment in expected.items():
        assert fragment in found[field]


@pytest.mark.parametrize(
    ("data", "cleaned"),
    [
        ({"company": "Acme"}, {"company": "Acme"}),  # one field, nothing required
        ({}, {}),  # an empty patch is valid
        ({"email": None}, {"email": None}),  # null clears an optional field
        ({"phone": ""}, {"phone": None}),  # so does ""
        ({"first_name": "Grace"}, {"first_name": "Grace"}),  # a required field may change
        ({"status": "Lost", "status_reason": "went elsewhere"}, None),  # status with reason
    ],
)
def test_partial_record_checks_only_given_fields(
    data: dict[str, Any], cleaned: dict[str, Any] | None
) -> None:
    assert clean(data, complete=False) == (data if cleaned is None else cleaned)


@pytest.mark.parametrize("value", ["", "  ", None])
def test_partial_record_cannot_clear_a_required_field(value: str | None) -> None:
    assert errors_of({"last_name": value}, complete=False) == {"last_name": "required"}


def test_unknown_fields_are_named_with_the_other_errors() -> None:
    found = errors_of({**PERSON, "favourite_colour": "red", "Email": "x", "email": "bad"})
    # Every problem of the record at once: both unknown names and the invalid e-mail.
    assert set(found) == {"Email", "favourite_colour", "email"}
    assert found["favourite_colour"].startswith("unknown field; expected one of ")
    for name in EDITABLE_FIELDS:
        assert name in found["favourite_colour"]
    assert "customer_group" not in found["favourite_colour"]


def test_unknown_field_does_not_also_count_as_missing() -> None:
    # A misspelt first name is unknown; the real one is still missing.
    found = errors_of({"firstname": "Ada", "last_name": "L", "email": "ada@example.com"})
    assert set(found) == {"firstname", "first_name"}
    assert found["first_name"] == "required"


def test_allowed_fields_can_be_narrowed() -> None:
    allowed = frozenset({"customer_group"})
    assert clean_lead_fields(
        {"customer_group": " wholesale "}, allowed=allowed, complete=False, region=None
    ) == {"customer_group": "wholesale"}
    with pytest.raises(LeadInputError) as caught:
        clean_lead_fields({"company": "x"}, allowed=allowed, complete=False, region=None)
    assert caught.value.errors == [
        FieldError("company", "unknown field; expected one of customer_group")
    ]


# --- limits, types and characters ---------------------------------------------------------------

LIMITS = {
    **{name: limit for name, limit in TEXT_LIMITS.items() if name != "customer_group"},
    "notes": MAX_NOTES_CHARS,
    "status_reason": MAX_STATUS_REASON_CHARS,
}


@pytest.mark.parametrize(("field", "limit"), sorted(LIMITS.items()))
def test_text_length_limits(field: str, limit: int) -> None:
    assert clean({field: "x" * limit}, complete=False) == {field: "x" * limit}
    # Surrounding blanks do not count.
    assert clean({field: f" {'x' * limit} "}, complete=False) == {field: "x" * limit}
    found = errors_of({field: "x" * (limit + 1)}, complete=False)
    assert found == {field: f"expected at most {limit} characters, got {limit + 1}"}


def test_limits_match_the_columns() -> None:
    from bot.store.models import Lead

    for name, limit in TEXT_LIMITS.items():
        assert Lead.__table__.c[name].type.length == limit, name


@pytest.mark.parametrize(
    ("value", "type_name"),
    [
        (42, "int"),
        (4.2, "float"),
        (True, "bool"),
        (["Ada"], "list"),
        ({"first": "Ada"}, "dict"),
    ],
)
@pytest.mark.parametrize("field", ["first_name", "email", "phone", "status", "notes"])
def test_non_string_values_are_refused(field: str, value: Any, type_name: str) -> None:
    assert errors_of({field: value}, complete=False) == {
        field: f"expected a string, got {type_name}"
    }


@pytest.mark.parametrize("field", ["first_name", "company", "email", "phone", "notes", "source"])
def test_nul_characters_are_refused(field: str) -> None:
    assert errors_of({field: "Ada\x00Lovelace"}, complete=False) == {
        field: "contains a NUL character"
    }


@pytest.mark.parametrize(
    "field", ["first_name", "company", "address", "email", "phone", "notes", "status_reason"]
)
def test_text_no_database_can_store_is_refused(field: str) -> None:
    # A lone surrogate ("\ud800" in JSON) cannot be encoded as UTF-8 for any database.
    found = errors_of({field: "Ada \ud800"}, complete=False)
    assert found == {field: "expected valid Unicode text (UTF-8)"}


def test_non_latin_text_is_kept() -> None:
    data = {"first_name": "Zoë", "last_name": "Ōkubo", "company": "株式会社", "address": "🏠 Lyon"}
    assert clean(data, complete=False) == data


# --- status and source --------------------------------------------------------------------------


@pytest.mark.parametrize("status", LEAD_STATUSES)
def test_every_status_is_accepted(status: str) -> None:
    assert clean({"status": status}, complete=False) == {"status": status}


@pytest.mark.parametrize(
    "status",
    [
        "qualified",  # case matters
        "Proposal sent",
        "Done",
        "",  # a status cannot be cleared
        None,
    ],
)
def test_unknown_or_empty_status_is_refused(status: str | None) -> None:
    found = errors_of({"status": status}, complete=False)
    assert list(found) == ["status"]
    assert found["status"].startswith(f"expected one of {', '.join(LEAD_STATUSES)}")


@pytest.mark.parametrize(
    ("source", "stored"),
    [
        # the labels people type, kept as written
        ("Website inquiry", "Website inquiry"),
        ("Phone call", "Phone call"),
        ("Trade show", "Trade show"),
        ("Email campaign", "Email campaign"),
        ("Social media", "Social media"),
        ("Referral", "Referral"),
        # the sources the product sets itself still pass
        ("chat", "chat"),
        ("storefront", "storefront"),
        ("web_form", "web_form"),
        ("api", "api"),
        ("fair-2026", "fair-2026"),
        ("trade-show.2026", "trade-show.2026"),
        # trimmed, and runs of spaces (also no-break and ideographic ones) made one
        ("  Trade show \n", "Trade show"),
        ("Trade   show", "Trade show"),
        ("Trade\u00a0show", "Trade show"),
        ("Salon\u3000Paris", "Salon Paris"),
        # case is kept: the list filter ignores it
        ("TRADE SHOW", "TRADE SHOW"),
        # any script, punctuation and emoji
        ("Salon Öko & Bio", "Salon Öko & Bio"),
        ("展示会", "展示会"),
        ("Instagram 📸", "Instagram 📸"),
        ("Family 👨\u200d👩\u200d👧", "Family 👨\u200d👩\u200d👧"),  # joiners make one emoji
        # one spelling of the same letters: "e" + combining acute becomes "é"
        ("Cafe\u0301 event", "Café event"),
        # 40 characters is the longest, counted after trimming and collapsing
        ("a" * 40, "a" * 40),
        ("  " + "a b" * 13 + "a  ", "a b" * 13 + "a"),
        ("a   " * 13 + "a", "a " * 13 + "a"),  # 53 characters as sent
    ],
)
def test_sources_are_labels_kept_as_written(source: str, stored: str) -> None:
    assert clean({"source": source}, complete=False) == {"source": stored}


@pytest.mark.parametrize(
    ("source", "message"),
    [
        # empty after trimming: a label someone left blank (null keeps the default)
        ("", "expected a label such as 'Trade show' (1-40 characters); got an empty one"),
        ("   ", "expected a label such as 'Trade show' (1-40 characters); got an empty one"),
        ("\u00a0\t", "expected a label such as 'Trade show' (1-40 characters); got an empty one"),
        # too long
        ("a" * 41, "expected a label of at most 40 characters, got 41"),
        ("Trade show " * 4, "expected a label of at most 40 characters, got 43"),
        # control characters inside: a label is one line of visible text
        ("Trade\tshow", "expected a label of visible characters; got U+0009 at character 6"),
        ("Trade\nshow", "expected a label of visible characters; got U+000A at character 6"),
        ("Trade\x1bshow", "expected a label of visible characters; got U+001B at character 6"),
        ("Trade\x7f", "expected a label of visible characters; got U+007F at character 6"),
        ("Trade\x85show", "expected a label of visible characters; got U+0085 at character 6"),
        ("Trade\u2028show", "expected a label of visible characters; got U+2028 at character 6"),
        # invisible characters would make two labels that look the same differ
        ("Trade\u200bshow", "expected a label of visible characters; got U+200B at character 6"),
        ("\ufeffReferral", "expected a label of visible characters; got U+FEFF at character 1"),
        ("\u202eReferral", "expected a label of visible characters; got U+202E at character 1"),
        # text no database can store
        ("Trade \ud800", "expected valid Unicode text (UTF-8)"),
        ("Trade\x00show", "contains a NUL character"),
    ],
)
def test_bad_sources_say_what_is_expected(source: str, message: str) -> None:
    assert errors_of({"source": source}, complete=False) == {"source": message}


def test_a_null_source_is_no_source() -> None:
    # null leaves the source to the entry point (api, import) or as it is.
    assert clean({"source": None}, complete=False) == {"source": None}


def test_error_message_lists_every_problem() -> None:
    with pytest.raises(LeadInputError) as caught:
        clean({"first_name": "", "email": "bad", "status": "Sold", "x": "1"})
    message = str(caught.value)
    for fragment in ("first_name: required", "last_name: required", "email: ", "status: ", "x: "):
        assert fragment in message
    assert [error.as_dict()["field"] for error in caught.value.errors] == [
        "x",
        "email",
        "status",
        "first_name",
        "last_name",
    ]
