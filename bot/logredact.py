"""Keep e-mail addresses and phone numbers out of every log line.

Shoppers type contact details into the chat and forms; a library that logs a
request, a message or an exception text must not copy them into log files. A
log record factory rewrites each record's message (with its arguments merged
in) before any handler sees it, so it covers every logger of the process:
ours, aiohttp's, rasa_sdk's and Rasa's.
"""

from __future__ import annotations

import logging
import re
from typing import Any

EMAIL_MASK = "[email]"
PHONE_MASK = "[phone]"
_EMAIL = re.compile(r"[\w.+%-]+@[\w-]+(?:\.[\w-]+)+")
# A run of digits with the separators people type ("+33 6 12-34.56 (78)").
_PHONE = re.compile(r"(?<![\w.:/-])\+?\(?\d[\d ().-]{6,}\d(?![\w:/-])")
# What the phone pattern would otherwise take for a number: dates and times.
_NOT_PHONE = re.compile(r"^\d{4}-\d{2}-\d{2}|^\d{1,2}:\d{2}(?::\d{2})?$|^\d+\.\d+$")
_MIN_PHONE_DIGITS = 8
_MAX_PHONE_DIGITS = 15
_installed = False


def _phone(match: re.Match[str]) -> str:
    text = match.group(0)
    digits = sum(char.isdigit() for char in text)
    if not _MIN_PHONE_DIGITS <= digits <= _MAX_PHONE_DIGITS or _NOT_PHONE.match(text.strip()):
        return text
    return PHONE_MASK


def redact(text: str) -> str:
    """``text`` with e-mail addresses and phone numbers masked."""
    if "@" in text:
        text = _EMAIL.sub(EMAIL_MASK, text)
    return _PHONE.sub(_phone, text)


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
