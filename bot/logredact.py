"""Keep credentials, e-mail addresses and phone numbers out of every log line.

Shoppers type contact details into the chat and forms, and clients send tokens
in headers and links; a library that logs a request, a message or an exception
text must not copy them into log files. aiohttp 3.9.5, for one, logs the
offending line of a request it cannot parse (``b'Authorization: Bearer …'``),
and its access log has the query string of every request (``?token=`` of
acknowledgement links, Rasa's ``?token=``). A log record factory rewrites each
record's message (with its arguments merged in) and its traceback before any
handler sees it, so it covers every logger of the process: ours, aiohttp's,
rasa_sdk's and Rasa's (all three processes call :func:`install`).
"""

from __future__ import annotations

import logging
import re
from typing import Any

EMAIL_MASK = "[email]"
PHONE_MASK = "[phone]"
SECRET_MASK = "[redacted]"  # noqa: S105 - what replaces a secret, not one

# -- credentials ------------------------------------------------------------------------

# A value runs to the end of its line, quote or parameter. Log lines often hold
# reprs, where a line break is the two characters "\r" or "\n".
_VALUE = r"(?:(?!\\[rn])[^\s'\"&;,}])+"
_LINE_VALUE = r"(?:(?!\\[rn])[^\r\n'\"])+"
_HEADERS = r"(?:proxy-)?authorization|(?:set-)?cookie|x-api-key|x-auth-token|webhook-signature"
_AUTH_SCHEMES = r"bearer|basic|digest|token"
_PARAMS = (
    r"token|access_token|refresh_token|auth_token|id_token|api_key|apikey|password|passwd"
    r"|secret|client_secret|session_secret"
)
_CREDENTIALS = (
    # A header, in a raw request line, a repr or a dict: "Authorization: Bearer …",
    # "'Cookie': '…'", and the malformed "Authorization Bearer …" aiohttp logs.
    re.compile(rf"(?i)\b({_HEADERS})(['\"]?\s*[:=]\s*['\"]?)({_LINE_VALUE})"),
    re.compile(rf"(?i)\b((?:proxy-)?authorization)(\s+)((?:{_AUTH_SCHEMES})\s{_LINE_VALUE})"),
    # A scheme and its credential anywhere else ("Bearer abc…"); 8+ characters,
    # so the words "bearer token" stay.
    re.compile(r"(?i)\b(bearer|basic|digest)(\s+)([A-Za-z0-9._~+/=-]{8,})"),
    # Query, form and JSON parameters: token=…, "password": "…".
    re.compile(rf"(?i)(?<![\w-])({_PARAMS})(=)({_VALUE})"),
    re.compile(rf"(?i)(['\"])({_PARAMS})(\1\s*:\s*['\"]?)({_VALUE})"),
    # Standard Webhooks secrets, this project's API tokens, Slack webhook paths,
    # passwords in URLs (scheme://user:password@host).
    re.compile(r"\b(whsec_)()([A-Za-z0-9+/=]+)"),
    re.compile(r"(?<![\w-])(lq_)()([A-Za-z0-9_-]{8,})"),
    re.compile(r"(?i)\b(hooks\.slack\.com/services/)()([\w/-]+)"),
    # The scheme starts a run of scheme characters (where \b would also allow any
    # "." or "-" inside one: quadratic on a long dotted name).
    re.compile(r"(?i)(?<![a-z0-9+.-])([a-z][a-z0-9+.-]*://[^\s:/@'\"]*:)()([^\s/@'\"]+)(?=@)"),
)


def _mask_credential(match: re.Match[str]) -> str:
    *kept, _ = match.groups()
    return "".join(kept) + SECRET_MASK


# -- contact details --------------------------------------------------------------------

# The lookbehind starts an address only where a run of its characters starts; a
# start inside the run would rescan it to its end, for every character of it.
_EMAIL = re.compile(r"(?<![\w.+%-])[\w.+%-]+@[\w-]+(?:\.[\w-]+)+")
# A run of digits with the separators people type ("+33 6 12-34.56 (78)"): after
# a "tel:" link, after a line break written as "\n" in a repr, or not glued to
# a word, a version, a time or a path. At most _MAX_PHONE_CHARS: each start
# backtracks over what it took, so an unbounded run costs time quadratic in its length.
_MAX_PHONE_CHARS = 40
_PHONE = re.compile(
    r"(?:(?i:(?<=tel:)|(?<=sms:)|(?<=callto:))|(?<=\\[nrt])|(?<![\w.:/-]))"
    rf"\+?\(?\d[\d ().-]{{5,{_MAX_PHONE_CHARS - 4}}}\d(?![\w:/-])"
)
# What the phone pattern would otherwise take for a number: dates and times.
_NOT_PHONE = re.compile(r"^\d{4}-\d{2}-\d{2}|^\d{1,2}:\d{2}(?::\d{2})?$|^\d+\.\d+$")
# Seven digits are a phone number only written as one: 555 1234, 555-1234, 5551234
# (so "1 299 000" stays a price).
_SHORT_PHONE = re.compile(r"^\d{3}[ .-]?\d{4}$")
# Unix time in seconds (2001-2033) or milliseconds, written without separators.
_EPOCH = re.compile(r"^1\d{9}(?:\d{3})?$")
# A number that says what it counts is not a phone number: "size 1048577",
# "port 5005", "€ 1500000", "1048577 bytes".
_COUNTED_BEFORE = re.compile(
    r"(?i)(?:\b(?:size|length|bytes|offset|line|pid|port|id|count|total|amount|price|budget"
    r"|eur|usd|gbp)|[€$£])\s*[:=]?\s*$"
)
_COUNTED_AFTER = re.compile(
    r"(?i)^\s*(?:bytes?|[kmg]i?b|ms|µs|ns|s|sec|seconds|chars?|characters|rows?|items?|%"
    r"|eur|usd|gbp|€)\b"
)
_MIN_PHONE_DIGITS = 7
_MAX_PHONE_DIGITS = 15


def _phone(match: re.Match[str]) -> str:
    text = match.group(0)
    digits = "".join(char for char in text if char.isdigit())
    if not _MIN_PHONE_DIGITS <= len(digits) <= _MAX_PHONE_DIGITS:
        return text
    before = match.string[max(0, match.start() - 12) : match.start()]
    if before[-4:].lower() in ("tel:", "sms:") or before[-7:].lower() == "callto:":
        return PHONE_MASK  # a link that says it is a phone number
    if (
        _NOT_PHONE.match(text.strip())
        or (len(digits) == _MIN_PHONE_DIGITS and not _SHORT_PHONE.match(text))
        or _EPOCH.match(text)
        or _COUNTED_BEFORE.search(before)
        or _COUNTED_AFTER.match(match.string[match.end() : match.end() + 12])
    ):
        return text
    return PHONE_MASK


def redact(text: str) -> str:
    """``text`` with credentials, e-mail addresses and phone numbers masked."""
    for pattern in _CREDENTIALS:
        text = pattern.sub(_mask_credential, text)
    if "@" in text:
        text = _EMAIL.sub(EMAIL_MASK, text)
    return _PHONE.sub(_phone, text)


_installed = False


def install() -> None:
    """Redact every log record created in this process from now on (idempotent)."""
    global _installed
    if _installed:
        return
    make_record = logging.getLogRecordFactory()

    def redacting_record(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = make_record(*args, **kwargs)
        try:
            message = record.getMessage()
        except Exception:
            message = str(record.msg)
        record.msg, record.args = redact(message), None
        if record.exc_info and record.exc_info[1] is not None and record.exc_text is None:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
        return record

    logging.setLogRecordFactory(redacting_record)
    _installed = True
