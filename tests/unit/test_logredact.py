"""Contact details never reach a log line."""

from __future__ import annotations

import io
import logging
import time

import pytest

from bot.logredact import EMAIL_MASK, PHONE_MASK, SECRET_MASK, install, redact

SECRET = "s3cr3tT0ken-AbCdEfGh_1234567890"


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
        # Phone numbers that used to pass: a tel: link, after a line break (real or
        # written "\n" in a repr), seven digits.
        ("<a href=tel:0611223344>", f"<a href=tel:{PHONE_MASK}>"),
        ("TEL:+33611223344", f"TEL:{PHONE_MASK}"),
        ("sms:0611223344", f"sms:{PHONE_MASK}"),
        ("text 'hi\\n0611223344'", f"text 'hi\\n{PHONE_MASK}'"),
        ("'a\\t06 11 22 33 44'", f"'a\\t{PHONE_MASK}'"),
        ("hi\n0611223344", f"hi\n{PHONE_MASK}"),
        ("call 555 1234", f"call {PHONE_MASK}"),
        ("call 555-1234 now", f"call {PHONE_MASK} now"),
        ("5551234", PHONE_MASK),
        ("phone=0611223344", f"phone={PHONE_MASK}"),
        # Ordinary numbers stay: prices, sizes, ids, timestamps, ports, counts.
        ("price 1 299 000", None),  # seven digits in groups of three
        ("budget 1500000", None),
        ("€1500000 max", None),
        ("Maximum request body size 1048577 exceeded, actual body size 2000000", None),
        ("wrote 1048577 bytes in 1234567 ms", None),
        ("ts=1764494501", None),  # Unix seconds
        ("at 1764494501123", None),  # Unix milliseconds
        ("listening on port 5005 and 127.0.0.1:5055", None),
        ("pid 1234567", None),
        ("12-34-567", None),
    ],
)
def test_redact(text: str, expected: str | None) -> None:
    assert redact(text) == (text if expected is None else expected)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # What aiohttp 3.9.5 logs for a request line or header it cannot parse.
        (
            f"Invalid header value char:\n\n    b'Authorization: Bearer {SECRET}\\x01x'",
            f"Invalid header value char:\n\n    b'Authorization: {SECRET_MASK}'",
        ),
        (
            f"Invalid header token:\n\n    b'Authorization Bearer {SECRET}'",
            f"Invalid header token:\n\n    b'Authorization {SECRET_MASK}'",
        ),
        (f"Authorization: Basic {SECRET}\r\nHost: x", f"Authorization: {SECRET_MASK}\r\nHost: x"),
        # Headers in reprs of header maps.
        (
            f"<CIMultiDict('Host': 'x', 'Authorization': 'Bearer {SECRET}')>",
            f"<CIMultiDict('Host': 'x', 'Authorization': '{SECRET_MASK}')>",
        ),
        (
            f"{{'Cookie': 'leads_session={SECRET}', 'Accept': '*/*'}}",
            f"{{'Cookie': '{SECRET_MASK}', 'Accept': '*/*'}}",
        ),
        (
            f"Set-Cookie: leads_session={SECRET}; Path=/; HttpOnly",
            f"Set-Cookie: {SECRET_MASK}",
        ),
        # A bearer token anywhere, query and JSON parameters.
        (f"sent bearer {SECRET} twice", f"sent bearer {SECRET_MASK} twice"),
        (
            f'"GET /handoffs/h1/ack?token={SECRET}&x=1 HTTP/1.1" 200',
            f'"GET /handoffs/h1/ack?token={SECRET_MASK}&x=1 HTTP/1.1" 200',
        ),
        (
            f"POST /webhooks/rest/webhook?token={SECRET} 200",
            f"POST /webhooks/rest/webhook?token={SECRET_MASK} 200",
        ),
        (f'{{"token": "{SECRET}", "events": []}}', f'{{"token": "{SECRET_MASK}", "events": []}}'),
        (f"{{'password': '{SECRET}'}}", f"{{'password': '{SECRET_MASK}'}}"),
        # Secrets recognisable by their form.
        ("secret whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw=", f"secret whsec_{SECRET_MASK}"),
        (f"token lq_{SECRET} used", f"token lq_{SECRET_MASK} used"),
        (
            "POST https://hooks.slack.com/services/T000/B000/XXXXXXXX failed",
            f"POST https://hooks.slack.com/services/{SECRET_MASK} failed",
        ),
        (
            f"postgresql://leads:{SECRET}@db.internal:5432/leads",
            f"postgresql://leads:{SECRET_MASK}@db.internal:5432/leads",
        ),
        # Words about credentials stay readable.
        ("missing bearer token; token revoked_at set", None),
        ("cookie consent given", None),
        ("token_store opened; 3 tokens", None),
    ],
)
def test_credentials_are_masked(text: str, expected: str | None) -> None:
    if expected is None:
        assert redact(text) == text
    else:
        assert redact(text) == expected
        assert SECRET not in redact(text)


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


# Hostile text a client controls and a log line copies (an Origin header, a request
# line aiohttp cannot parse, a path): 16 K repetitions, about 48 KB.
REPEATS = 16_000
# Linear work grows 8-fold from REPEATS to 8 x REPEATS; the old quadratic backtracking of
# each pattern grew 64-fold (5-20 s at REPEATS). A ratio, not a time: a slow machine slows both.
GROWTH = 8
LINEAR_AT_MOST = 24


def _fastest_of_three(text: str) -> float:
    times = []
    for _ in range(3):
        started = time.perf_counter()
        redact(text)
        times.append(time.perf_counter() - started)
    return min(times)


@pytest.mark.parametrize(
    "unit",
    [
        pytest.param(("origin http://", "a.", ""), id="dotted run, no scheme"),
        pytest.param(("a@", "a.", "@"), id="e-mail-like run, stray @"),
        pytest.param((".", "a-", "@"), id="hyphenated run before @"),
        # Digits whose every possible end is followed by "-" (not a phone's end).
        pytest.param(("", "1- ", ""), id="digit dash space"),
        pytest.param(("", "(1-", ""), id="bracket digit dash"),
    ],
)
def test_redaction_work_grows_linearly_with_hostile_text(unit: tuple[str, str, str]) -> None:
    head, run, tail = unit
    small = _fastest_of_three(head + run * REPEATS + tail)
    large = _fastest_of_three(head + run * (REPEATS * GROWTH) + tail)
    assert large / small < LINEAR_AT_MOST, f"{GROWTH}x the text took {large / small:.0f}x the time"
