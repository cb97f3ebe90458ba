"""Contact answers: an e-mail address, a phone number, a name.

* ``parse_email`` → the address, normalised by email-validator and lower-cased
  (deliverability is not checked: no network calls in a chat turn).
* ``parse_phone`` → the number in E.164 ("+33612345678"); only numbers that
  phonenumbers deems valid, read in ``region`` (ISO alpha-2) unless written with "+".
* ``parse_contact`` → ``{"email": ...}``, ``{"phone": ...}`` or both.
* ``parse_name`` → ``{"first_name": "Jane", "last_name": "Doe" | None}``; titles
  ("Dr.", "Mrs") and introductions ("I'm", "my name is") are dropped, an all-lower-case
  name is capitalised ("jean-pierre" → "Jean-Pierre").
"""

from __future__ import annotations

import re

import phonenumbers
from email_validator import EmailNotValidError, validate_email

from bot.answers.text import usable, word_set
from bot.answers.types import Parsed

MAX_NAME_LENGTH = 80

_EMAIL_CANDIDATE = re.compile(r"[^\s<>()\[\],;:\"']+@[^\s<>()\[\],;:\"']+")
_INTRO = re.compile(
    r"^(?:(?:hi|hello|hey)[\s,!.]+)?(?:i\s*am|i'?m|im|my name is|my name'?s|name\s*:|name is"
    r"|this is|it'?s|call me|you can call me|je m'appelle|je suis|ich bin|ich heiße)\s+",
    re.IGNORECASE,
)
_TITLE = re.compile(r"^(?:dr|mr|mrs|ms|miss|mx|prof|sir|madam|mme|mlle|m|herr|frau)\.?\s+", re.I)
_NAME_WORD = re.compile(r"^[^\W\d_]+(?:['\u2019-][^\W\d_]+)*\.?$")
# Lower-case particles that belong to a last name ("van der Berg", "de la Fontaine").
_PARTICLES = frozenset({"van", "von", "der", "den", "de", "la", "le", "du", "da", "di", "del"})
# Words that show the text is a sentence, not a name ("I'm looking for a tent").
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
    """
)


def parse_email(text: str) -> Parsed | None:
    """Return the first valid e-mail address in ``text``, normalised and lower-cased."""
    cleaned = usable(text)
    if cleaned is None:
        return None
    for candidate in _EMAIL_CANDIDATE.findall(cleaned):
        try:
            result = validate_email(candidate.rstrip("."), check_deliverability=False)
        except (EmailNotValidError, ValueError):
            continue
        email = result.normalized.lower()
        return Parsed(value=email, display=email)
    return None


def parse_phone(text: str, *, region: str | None) -> Parsed | None:
    """Return the first valid phone number in ``text`` as E.164.

    ``region`` (ISO alpha-2) is how numbers without a "+" country code are read.
    """
    cleaned = usable(text)
    if cleaned is None:
        return None
    # "ZZ" is phonenumbers' unknown region: only numbers written with "+" then parse.
    default_region = region.upper() if region and len(region) == 2 else "ZZ"
    try:
        matches = phonenumbers.PhoneNumberMatcher(
            cleaned, default_region, leniency=phonenumbers.Leniency.VALID
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


def parse_name(text: str) -> Parsed | None:
    """Return a person's name; None for sentences, digits, e-mail addresses, long text."""
    cleaned = usable(text)
    if cleaned is None or len(cleaned) > MAX_NAME_LENGTH:
        return None
    if any(char.isdigit() for char in cleaned) or "@" in cleaned:
        return None
    introduced = _INTRO.match(cleaned)
    rest = _TITLE.sub("", cleaned[introduced.end() :] if introduced else cleaned)
    rest = re.split(r"[,;!?]|\s[-\u2013]\s|\.\s|\band\b", rest, maxsplit=1)[0].strip(" .")
    words = rest.split()
    if not words or len(words) > (4 if introduced else 3):
        return None
    if any(not _NAME_WORD.match(word) or word.lower().rstrip(".") in _NOT_NAMES for word in words):
        return None
    words = [word.rstrip(".") for word in words]
    if rest.islower() or rest.isupper():
        words = [
            _capitalise(word) if word.lower() not in _PARTICLES else word.lower() for word in words
        ]
    first, *others = words
    if first.lower() in _PARTICLES:
        return None
    last = " ".join(others) or None
    display = f"{first} {last}" if last else first
    return Parsed(value={"first_name": first, "last_name": last}, display=display)


def _capitalise(word: str) -> str:
    """Capitalise each part of a name: "jean-pierre" → "Jean-Pierre", "o'neil" → "O'Neil"."""
    return re.sub(r"[^\W\d_]+", lambda m: m.group(0).capitalize(), word.lower())
