"""Web-form lead capture: ``POST /api/create-lead`` (public, no token).

A shop's own contact or quote form posts here, form-encoded or JSON (the HTML
snippet is in the README). The person must tick the consent box; its wording
is recorded with the time. A hidden ``session_id`` (the tracking snippet's)
joins the form to the shopper's chat and storefront events. Bots that fill the
hidden honeypot field get the usual answer and nothing is stored. With a
``redirect`` field the browser is sent there (a path of this site, or a host of
``PUBLIC_URL`` / ``FORM_REDIRECT_HOSTS``); otherwise the answer is JSON.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web
from yarl import URL

from bot.sessionids import MAX_SESSION_ID, session_id_problem, storable
from bot.store.contacts import LeadInputError
from bot.web.bodies import FORM_TYPES, read_form
from bot.web.errors import WebError
from bot.web.html import redirect
from bot.web.json import json_response, read_json_body
from bot.web.keys import FORM_LIMITER, LEADBOOK, SETTINGS
from bot.web.routes import ApiRoute, Doc
from bot.web.schemas import OBJECT, error, json_answer, ref

logger = logging.getLogger(__name__)

HONEYPOT = "website"
CONTACT_FIELDS = frozenset(
    {"first_name", "last_name", "email", "phone", "company", "position", "address", "notes"}
)
CONTROL_FIELDS = frozenset({"consent", "consent_text", "session_id", "redirect", HONEYPOT})
FORM_FIELDS = CONTACT_FIELDS | CONTROL_FIELDS
DEFAULT_CONSENT_TEXT = "I agree to be contacted about my enquiry."
MAX_CONSENT_TEXT = 1000
MAX_REDIRECT = 2000
_YES = frozenset({"on", "yes", "true", "1"})


async def _fields(request: web.Request) -> dict[str, Any]:
    if request.content_type == "application/json":
        body = await read_json_body(request)
        if not isinstance(body, dict):
            raise WebError(400, f"body must be a JSON object, got {type(body).__name__}")
        return body
    if request.content_type in FORM_TYPES:
        form = await read_form(request)
        fields: dict[str, Any] = {}
        for name in form:
            values = form.getall(name)
            if len(values) > 1:
                raise WebError(400, f"field '{name}' was sent {len(values)} times; send it once")
            if not isinstance(values[0], str):
                raise WebError(400, f"field '{name}': files are not accepted")
            fields[name] = values[0]
        return fields
    raise WebError(
        415,
        f"send the form as {', '.join(FORM_TYPES)} or application/json, "
        f"not {request.content_type or 'no content type'}",
    )


def _text(fields: dict[str, Any], name: str, limit: int) -> str | None:
    value = fields.get(name)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise WebError(400, f"field '{name}': expected a string, got {type(value).__name__}")
    value = value.strip()
    if len(value) > limit or "\x00" in value or not storable(value):
        raise WebError(400, f"field '{name}': expected at most {limit} characters of text")
    return value or None


def _redirect_target(request: web.Request, target: str) -> str:
    r"""The ``Location`` to send the browser to; :class:`WebError` unless it stays on our hosts.

    Browsers parse a ``Location`` by the WHATWG URL standard, Python by RFC 3986,
    and the two disagree on exactly the odd inputs an attacker sends: browsers
    treat ``\`` as ``/`` in http(s) URLs (``http://evil.example\@localhost/``
    goes to evil.example), drop tabs and newlines anywhere, and trim spaces and
    control characters. Refusing those characters, and userinfo, leaves only
    URLs that both parse the same way.
    """
    settings = request.config_dict[SETTINGS]
    allowed = {urlsplit(settings.public_url).hostname, *settings.form_redirect_hosts}
    refused = WebError(
        400,
        "field 'redirect': expected a path of this site (/thanks) or an http(s) URL on "
        f"{', '.join(sorted(host for host in allowed if host)) or 'no host'} "
        "(PUBLIC_URL, FORM_REDIRECT_HOSTS), without user name, spaces, control "
        "characters or backslashes",
    )
    if "\\" in target or any(char.isspace() or not char.isprintable() for char in target):
        raise refused
    try:
        parts = urlsplit(target)
        local = not parts.scheme and not parts.netloc and target.startswith("/")
        if not local and not (
            parts.scheme in ("http", "https")
            and parts.hostname in allowed - {None}
            and "@" not in parts.netloc
        ):
            raise refused
        parts.port  # noqa: B018 - raises ValueError for a port out of range
        # The header aiohttp will send; built now so that nothing can fail once the
        # lead is stored (yarl refuses some URLs that urlsplit takes).
        return str(URL(target, encoded=False))
    except ValueError:
        raise refused from None


def _consented(fields: dict[str, Any]) -> bool:
    value = fields.get("consent")
    if isinstance(value, bool):
        return value
    return isinstance(value, str) and value.strip().lower() in _YES


async def create_lead_from_form(request: web.Request) -> web.StreamResponse:
    """``POST /api/create-lead``."""
    await request.config_dict[FORM_LIMITER].enforce(request, "form submissions")
    fields = await _fields(request)
    unknown = sorted(str(name) for name in fields if name not in FORM_FIELDS)
    if unknown:
        raise WebError(
            400,
            f"unknown field(s): {', '.join(unknown)}",
            expected=sorted(FORM_FIELDS),
        )
    redirect = _text(fields, "redirect", MAX_REDIRECT)
    target = _redirect_target(request, redirect) if redirect else None
    if _text(fields, HONEYPOT, MAX_REDIRECT):
        # Looks accepted, so the bot learns nothing; nothing is stored.
        logger.info("web form: honeypot filled, submission dropped")
        return _answer(target, status=201)
    if not _consented(fields):
        raise WebError(
            400,
            "field 'consent': the person must agree to be contacted (send consent=yes)",
            errors=[{"field": "consent", "message": "required"}],
        )
    consent_text = _text(fields, "consent_text", MAX_CONSENT_TEXT) or DEFAULT_CONSENT_TEXT
    session_id = _text(fields, "session_id", MAX_SESSION_ID)
    problem = session_id_problem(session_id) if session_id else None
    if problem is not None:
        raise WebError(400, problem, errors=[{"field": "session_id", "message": problem}])
    contact = {name: fields[name] for name in CONTACT_FIELDS if name in fields}
    try:
        await asyncio.to_thread(
            request.config_dict[LEADBOOK].capture,
            contact,
            consent_text=consent_text,
            session_id=session_id,
        )
    except LeadInputError as exc:
        raise WebError(
            400,
            f"invalid form: {exc}",
            errors=[error.as_dict() for error in exc.errors],
        ) from None
    return _answer(target, status=201)


def _answer(target: str | None, *, status: int) -> web.StreamResponse:
    if target is not None:
        raise redirect(target)
    # The public gets no lead data back: anyone can post any e-mail address.
    return json_response({"status": "received"}, status=status)


_FORM = {"schema": ref("WebForm")}

ROUTES = (
    ApiRoute(
        "POST",
        "/api/create-lead",
        create_lead_from_form,
        scope=None,
        doc=Doc(
            "Web-form lead capture (public)",
            "createLeadFromForm",
            {
                "201": json_answer("Received", OBJECT),
                "303": {"description": "Sent to the form's redirect"},
                "400": error(
                    "Invalid or unknown fields, no consent, or a body that cannot be read "
                    "(bad charset or encoding, broken multipart)"
                ),
                "413": error("Body over 1 MB"),
                "415": error("Unsupported content type"),
                "429": error("Too many submissions from this address"),
            },
            body={
                "required": True,
                "content": {
                    "application/x-www-form-urlencoded": _FORM,
                    "multipart/form-data": _FORM,
                    "application/json": _FORM,
                },
            },
        ),
    ),
)
