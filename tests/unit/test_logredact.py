"""Contact details never reach a log line."""

from __future__ import annotations

import io
import logging

import pytest

from bot.logredact import EMAIL_MASK, PHONE_MASK, install, redact


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # E-mail addresses, plain and with plus and sub-domains.
        ("from jane.doe+shop@mail.example.co.uk.", f"from {EMAIL_MASK}."),
        # Phone numbers the way people type them.
        ("call +33 6 12 34 56 78 today", f"call {PHONE_MASK} today"),
        ("06.12.34.56.78", PHONE_MASK),
        ("(555) 123-4567", PHONE_MASK),
        ("0612345678", PHONE_MASK),
        # Not contact details: dates, times, versions, ids, addresses and short numbers.
        ("at 2026-11-30 09:11:41", "at 2026-11-30 09:11:41"),
        ("ts 2026-11-30T09:11:41.332+00:00", "ts 2026-11-30T09:11:41.332+00:00"),
        ("rasa 3.6.21 on 127.0.0.1:5005", "rasa 3.6.21 on 127.0.0.1:5005"),
        ("took 1234.5678 ms", "took 1234.5678 ms"),
        ("order 12345", "order 12345"),
        ("lead 4ab9eee79bc041eeb1838f850d6f9887", "lead 4ab9eee79bc041eeb1838f850d6f9887"),
        ("session e2e-0b9c6a3e-1234-4321-9999-123456789012", None),
    ],
)
def test_redact(text: str, expected: str | None) -> None:
    assert redact(text) == (text if expected is None else expected)


def test_installed_redaction_covers_arguments_and_tracebacks() -> None:
    install()
    install()  # idempotent: a second call does not wrap twice
    output = io.StringIO()
    handler = logging.StreamHandler(output)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    logger = logging.getLogger("tests.logredact")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        logger.info("contact of %s: %s", "jane@example.com", "+33 6 12 34 56 78")
        try:
            raise ValueError("bad address jane@example.com")
        except ValueError:
            logger.exception("failed for %s", "+44 20 7946 0958")
    finally:
        logger.removeHandler(handler)
    logged = output.getvalue()
    assert "jane@example.com" not in logged
    assert "6 12 34 56 78" not in logged and "7946" not in logged
    assert logged.count(PHONE_MASK) == 2
    # The traceback is still there, redacted.
    assert "ValueError: bad address [email]" in logged
