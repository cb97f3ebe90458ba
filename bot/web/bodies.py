"""Reading form bodies: a body that cannot be read is a 4xx saying why, never a 500.

Every form of the web app (the public web form, the lead pages, the demo shop)
reads its body here. aiohttp 3.9.5's ``Request.post()`` lets the reader's own
errors through: ``UnicodeDecodeError`` for text that is not in the charset,
``LookupError`` for an unknown charset (of the body or of a multipart part),
``ValueError`` for a multipart type without a boundary or a body without its
boundaries, ``HttpProcessingError`` for a malformed part header,
``RuntimeError`` for an unknown transfer encoding, ``zlib.error`` for bad
compressed data and ``AssertionError`` (its multipart reader checks framing
with ``assert``) for a part without a name or a body cut short. Each becomes an
:class:`~bot.web.errors.WebError` (400, or 413 past the size limit) that the
JSON error middleware answers as JSON and the HTML pages render as a page.
"""

from __future__ import annotations

import codecs
import zlib

from aiohttp import web
from aiohttp.helpers import parse_mimetype
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.web_request import FileField
from multidict import MultiDictProxy

from bot.web.errors import WebError
from bot.web.json import MAX_BODY_BYTES

FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
# RFC 2046: a multipart boundary is 1 to 70 characters.
MAX_BOUNDARY = 70
_READ_ERRORS = (
    ValueError,
    LookupError,
    RuntimeError,
    AssertionError,
    HttpProcessingError,
    zlib.error,
)
_HOW = "send it as application/x-www-form-urlencoded or multipart/form-data, in UTF-8"

FormValue = str | bytes | FileField


def _charset_error(request: web.Request) -> str | None:
    """Why the body's declared charset cannot be used, or ``None``."""
    charset = request.charset
    if charset is None:
        return None
    try:
        # Refuses the codecs that are not text encodings (base64, rot13, zlib…).
        "".encode(codecs.lookup(charset).name)
    except LookupError:
        return f"unknown charset {charset!r} in Content-Type; {_HOW}"
    return None


def _framing_error(request: web.Request) -> str | None:
    """Why a multipart body cannot be split into parts, or ``None``."""
    if request.content_type != "multipart/form-data":
        return None
    mimetype = parse_mimetype(request.headers.get("Content-Type", ""))
    boundary = mimetype.parameters.get("boundary", "")
    if not boundary:
        return (
            "multipart/form-data needs a boundary in Content-Type (multipart/form-data; boundary=…)"
        )
    if len(boundary) > MAX_BOUNDARY:
        return f"the multipart boundary must be at most {MAX_BOUNDARY} characters"
    return None


def _read_error(exc: BaseException, charset: str) -> str:
    if isinstance(exc, UnicodeDecodeError):
        byte = exc.object[exc.start : exc.start + 1].hex()
        return f"the form is not valid {charset} (byte 0x{byte} at offset {exc.start}); {_HOW}"
    if isinstance(exc, LookupError):
        return f"a part of the multipart body names an unknown charset ({exc}); {_HOW}"
    if isinstance(exc, HttpProcessingError):
        return "a part header of the multipart body is malformed"
    if isinstance(exc, AssertionError):
        return "a part of the multipart body has no name, or the body ends early"
    if isinstance(exc, zlib.error):
        return "a compressed part of the multipart body cannot be decompressed"
    detail = str(exc)[:200] or type(exc).__name__
    return f"the form body cannot be read ({detail}); {_HOW}"


async def read_form(request: web.Request) -> MultiDictProxy[FormValue]:
    """The request's form fields; :class:`WebError` 400/413 when the body cannot be read."""
    problem = _charset_error(request) or _framing_error(request)
    if problem is not None:
        raise WebError(400, problem)
    try:
        return await request.post()
    except web.HTTPRequestEntityTooLarge:
        raise WebError(
            413, f"the form body must be at most 1 MB ({MAX_BODY_BYTES} bytes)"
        ) from None
    except _READ_ERRORS as exc:
        raise WebError(400, _read_error(exc, request.charset or "utf-8")) from None


def text_field(form: MultiDictProxy[FormValue], name: str) -> str:
    """A text field of a form ("" when it is missing or a file)."""
    value = form.get(name)
    return value if isinstance(value, str) else ""
