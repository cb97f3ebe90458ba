"""Validation of lead fields written by people and other systems (API, web forms, CSV).

One set of rules for every entry point: e-mail addresses are checked and
lower-cased, phone numbers become E.164, text is trimmed and bounded, unknown
fields are refused by name. Errors name the field and what was expected, and
all of a record's errors are reported at once.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import phonenumbers
from email_validator import EmailNotValidError, validate_email

from bot.store.models import LEAD_STATUSES

# Field → longest accepted value (characters), matching the columns.
TEXT_LIMITS = {
    "first_name": 80,
    "last_name": 80,
    "company": 160,
    "position": 120,
    "address": 500,
    "customer_group": 64,
}
MAX_NOTES_CHARS = 5000
MAX_STATUS_REASON_CHARS = 1000
MAX_EMAIL_CHARS = 254
MAX_PHONE_CHARS = 40
# A lead source is a label people type ("Trade show") or one the product sets
# itself ("chat", "web_form"); the column holds 40 characters.
MAX_SOURCE_CHARS = 40
SOURCE_EXPECTED = f"expected a label such as 'Trade show' (1-{MAX_SOURCE_CHARS} characters)"
# Unicode categories a label cannot hold: controls, line breaks and invisible
# formatting (zero-width space, byte-order mark, direction overrides), which would
# make two labels that look the same differ or change how a page shows them.
_NOT_IN_LABELS = frozenset({"Cc", "Cf", "Zl", "Zp"})
# Zero-width (non-)joiners are formatting too, but they build emoji and words in
# some scripts.
_JOINERS = frozenset({"\u200c", "\u200d"})
# What a person or another system may set on a lead.
# ``notes`` adds a note; ``status_reason`` says why the status changed (kept in its history).
EDITABLE_FIELDS = frozenset(
    {*TEXT_LIMITS, "email", "phone", "source", "status", "notes", "status_reason"}
    - {"customer_group"}
)
IDENTITY_FIELDS = ("email", "phone")
REQUIRED_FIELDS = ("first_name", "last_name")


@dataclass(frozen=True)
class FieldError:
    """One problem with one field."""

    field: str
    message: str

    def as_dict(self) -> dict[str, str]:
        """JSON shape of the error."""
        return {"field": self.field, "message": self.message}


class LeadInputError(ValueError):
    """A record with invalid fields; ``errors`` lists every problem."""

    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__("; ".join(f"{error.field}: {error.message}" for error in errors))
        self.errors = errors


def normalise_email(raw: str) -> str:
    """The address as stored (normalised, lower-case); raises ``ValueError`` with the reason."""
    text = raw.strip()
    if len(text) > MAX_EMAIL_CHARS:
        raise ValueError(f"expected an e-mail address of at most {MAX_EMAIL_CHARS} characters")
    local, at, domain = text.rpartition("@")
    if at and len(local) <= MAX_LOCAL_PART_CHARS and _PLAIN_LOCAL_PART.match(local):
        # Most addresses have a plain ASCII local part; the domain check is the
        # costly part of a validation and a CSV import repeats a few domains.
        return f"{local}@{_normalised_domain(domain)}".lower()
    return _validated(text)


# RFC 5322 dot-atom of ASCII characters: valid as is for email-validator too.
_PLAIN_LOCAL_PART = re.compile(
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*\Z"
)
MAX_LOCAL_PART_CHARS = 64


@functools.lru_cache(maxsize=4096)
def _normalised_domain(domain: str) -> str:
    return _validated(f"a@{domain}").partition("@")[2]


def _validated(address: str) -> str:
    try:
        result = validate_email(address, check_deliverability=False)
    except EmailNotValidError as exc:
        raise ValueError(f"expected an e-mail address like name@example.com ({exc})") from None
    return str(result.normalized).lower()


def normalise_source(raw: str) -> str:
    """A lead source as stored: trimmed, inner spaces made one, in one Unicode form.

    Case is kept as written (the list filter ignores it). Raises ``ValueError``
    saying what is expected for an empty or over-long label, or one holding
    control or invisible characters.
    """
    # NFC: "é" typed as one character or as "e" and an accent is one label.
    text = unicodedata.normalize("NFC", raw.strip())
    for position, char in enumerate(text, start=1):
        if unicodedata.category(char) in _NOT_IN_LABELS and char not in _JOINERS:
            raise ValueError(
                f"expected a label of visible characters; got U+{ord(char):04X} "
                f"at character {position}"
            )
    label = " ".join(text.split())
    if not label:
        raise ValueError(f"{SOURCE_EXPECTED}; got an empty one")
    if len(label) > MAX_SOURCE_CHARS:
        raise ValueError(
            f"expected a label of at most {MAX_SOURCE_CHARS} characters, got {len(label)}"
        )
    return label


def normalise_phone(raw: str, region: str | None) -> str:
    """The number in E.164; numbers without "+" are read in ``region`` (ISO alpha-2)."""
    text = raw.strip()
    if len(text) > MAX_PHONE_CHARS:
        raise ValueError(f"expected a phone number of at most {MAX_PHONE_CHARS} characters")
    default_region = region.upper() if region and len(region) == 2 else None
    try:
        number = phonenumbers.parse(text, default_region)
    except phonenumbers.NumberParseException:
        number = None
    if number is None or not phonenumbers.is_valid_number(number):
        where = (
            f" (read as a {default_region} number unless it starts with +)"
            if default_region
            else ""
        )
        raise ValueError(f"expected a valid phone number such as +33 6 12 34 56 78{where}")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def clean_lead_fields(
    data: Mapping[str, Any],
    *,
    allowed: frozenset[str] = EDITABLE_FIELDS,
    complete: bool,
    region: str | None,
) -> dict[str, Any]:
    """Validated, normalised fields of ``data``; raises :class:`LeadInputError`.

    ``complete`` asks for a whole record (create, replace): first and last name
    and an e-mail address or a phone number. Otherwise only the given fields are
    checked (a partial update). Empty strings and ``None`` clear an optional
    field; required ones cannot be cleared.
    """
    errors: list[FieldError] = []
    unknown = sorted(str(key) for key in data if key not in allowed)
    for name in unknown:
        errors.append(
            FieldError(name, f"unknown field; expected one of {', '.join(sorted(allowed))}")
        )
    cleaned: dict[str, Any] = {}
    for name in sorted(set(data) & allowed):
        value = data[name]
        if value is not None and not isinstance(value, str):
            errors.append(FieldError(name, f"expected a string, got {type(value).__name__}"))
            continue
        text = (value or "").strip()
        if "\x00" in text:
            errors.append(FieldError(name, "contains a NUL character"))
            continue
        if not _encodable(text):
            # A lone surrogate ("\ud800" in JSON): no database can store it.
            errors.append(FieldError(name, "expected valid Unicode text (UTF-8)"))
            continue
        try:
            cleaned[name] = _clean(name, text, region) if text else None
        except ValueError as exc:
            errors.append(FieldError(name, str(exc)))
    required = REQUIRED_FIELDS if complete else tuple(n for n in REQUIRED_FIELDS if n in data)
    for name in required:
        if name not in unknown and cleaned.get(name) is None and not _has_error(errors, name):
            errors.append(FieldError(name, "required"))
    if (
        complete
        and not any(cleaned.get(name) for name in IDENTITY_FIELDS)
        and not any(_has_error(errors, name) for name in IDENTITY_FIELDS)
    ):
        errors.append(FieldError("email", "an e-mail address or a phone number is required"))
    if "source" in cleaned and cleaned["source"] is None and data["source"] is not None:
        # null leaves the source to the entry point; "" or blanks are a label left empty.
        errors.append(FieldError("source", f"{SOURCE_EXPECTED}; got an empty one"))
    if "status" in cleaned and cleaned["status"] is None:
        errors.append(FieldError("status", f"expected one of {', '.join(LEAD_STATUSES)}"))
    if errors:
        raise LeadInputError(errors)
    return cleaned


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _has_error(errors: list[FieldError], name: str) -> bool:
    return any(error.field == name for error in errors)


def _clean(name: str, text: str, region: str | None) -> str:
    if name == "email":
        return normalise_email(text)
    if name == "phone":
        return normalise_phone(text, region)
    if name == "status":
        if text not in LEAD_STATUSES:
            raise ValueError(f"expected one of {', '.join(LEAD_STATUSES)}; got {text!r}")
        return text
    if name == "source":
        return normalise_source(text)
    limit = {"notes": MAX_NOTES_CHARS, "status_reason": MAX_STATUS_REASON_CHARS}.get(name)
    limit = limit or TEXT_LIMITS[name]
    if len(text) > limit:
        raise ValueError(f"expected at most {limit} characters, got {len(text)}")
    return text
