"""Server-rendered pages for sales: sign-in, the lead list, the lead page, acknowledgements.

Plain HTML forms, no JavaScript. Everything a shopper (or anyone) typed is
escaped with :func:`html.escape` before it reaches the page, and a strict
Content-Security-Policy forbids scripts altogether as a second line of defence.

Who may see a page: a browser signed in at ``/login`` with the sales token
(``LEADS_API_TOKEN``) or a token of ``python -m bot tokens create`` with the
``leads:read`` scope, or any client sending such a token as ``Authorization:
Bearer``; the forms need ``leads:write`` (both scopes come with ``admin``). A
sign-in opens a session of 12 hours kept by the server (the ``leads_session``
cookie holds its random id): signing out ends it, and so does a change of
``LEADS_API_TOKEN`` or the revocation of the token that signed in. Failed
sign-ins are limited per client address. Forms of a signed-in browser carry a
CSRF token derived from the session cookie; bearer clients need none (a forged
cross-site request cannot send the header).

Acknowledgement links in notifications (``/handoffs/{id}/ack?token=…``) work
without signing in: the link opens a confirmation page whose button does the
acknowledgement, so link previews and mail scanners that fetch the link change
nothing.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import html
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from functools import wraps
from typing import Any
from urllib.parse import urlencode

from aiohttp import web
from multidict import MultiDictProxy

from bot.handoff.planner import ack_token
from bot.store.models import LEAD_STATUSES
from bot.store.tokens import ADMIN, LEADS_READ, LEADS_WRITE, SCOPES, hash_token
from bot.store.types import dumps
from bot.store.websessions import SalesSessions, SessionRecord
from bot.web.auth import bearer_token, principal_of
from bot.web.bodies import FormValue, read_form
from bot.web.errors import ApiError
from bot.web.keys import LOGIN_LIMITER, REPOSITORY, SALES, SESSIONS, SETTINGS
from bot.web.ratelimit import RateLimiter

SESSION_COOKIE = "leads_session"
SESSION_SECONDS = 12 * 3600
# What secrets.token_urlsafe(32) makes: anything else is no session, unlooked-up.
_SESSION_VALUE = re.compile(r"^[A-Za-z0-9_-]{43}$")
MAX_NAME_CHARS = 120
DEFAULT_LANDING = "/leads"
BEARER_ACTOR = "API token"
_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    # Pages hold personal data, and ack pages a secret in their URL: neither is
    # cached nor sent along as a referrer.
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}
_STYLE = """
body{font:15px/1.45 system-ui,sans-serif;margin:0;color:#1b1f24;background:#f5f6f8}
header{background:#1f2d3d;color:#fff;padding:.6rem 1.2rem;display:flex;gap:1.2rem;
align-items:center}
header a{color:#fff}header form{margin-left:auto}
main{max-width:76rem;margin:1rem auto;padding:0 1rem}
section{background:#fff;border:1px solid #dde1e6;border-radius:6px;padding:.6rem 1rem;
margin-bottom:1rem}
h1{font-size:1.4rem}h2{font-size:1.1rem;margin:.3rem 0 .6rem}
table{border-collapse:collapse;width:100%}
th,td{text-align:left;padding:.3rem .5rem;border-bottom:1px solid #eef0f3;vertical-align:top}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.2rem 1rem;margin:0}dt{color:#5b6470}
dd{margin:0}.muted{color:#5b6470}.stage{padding:.1rem .5rem;border-radius:4px;background:#e6eaf0}
.hot{background:#fde2e1}.warm{background:#fff1cc}
.error{background:#fdecea;border:1px solid #f5c2c0;padding:.6rem;border-radius:4px}
.chat p{margin:.2rem 0}.chat .bot{color:#5b6470}
input,select,textarea,button{font:inherit}textarea{width:100%;min-height:4rem}
pre{white-space:pre-wrap;margin:0}
"""

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


# -- sessions and CSRF ------------------------------------------------------------------


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _mac(key: bytes, purpose: str, text: str) -> bytes:
    # The purpose keeps a CSRF token from ever passing as an ack token, although
    # both use the same key.
    return hmac.new(key, f"{purpose}:{text}".encode(), hashlib.sha256).digest()


def csrf_token(key: bytes, session: str) -> str:
    """The CSRF token of forms shown to the holder of session cookie value ``session``."""
    return _b64(_mac(key, "csrf", session))


@dataclass(frozen=True)
class Viewer:
    """Who is looking: a signed-in salesperson (``session`` set) or a bearer-token client."""

    name: str
    scopes: frozenset[str]
    session: str | None = None

    def may(self, scope: str) -> bool:
        """Whether this viewer's token has ``scope`` (``admin`` has every scope)."""
        return scope in self.scopes or ADMIN in self.scopes


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _session_scopes(request: web.Request, record: SessionRecord) -> frozenset[str] | None:
    """The scopes of the token that opened a session, if it still holds."""
    sales_token = request.app[SETTINGS].leads_api_token
    if sales_token and hmac.compare_digest(record.token_hash, hash_token(sales_token)):
        return frozenset(SCOPES)
    # A stored token (None once revoked); a LEADS_API_TOKEN since changed matches nothing.
    return record.scopes


async def _viewer(request: web.Request) -> Viewer | None:
    token = bearer_token(request)
    if token is not None:
        principal = await principal_of(request, token)
        if principal is None or not principal.allows(LEADS_READ):
            return None
        name = BEARER_ACTOR if principal.name == "LEADS_API_TOKEN" else principal.name
        return Viewer(name, principal.scopes)
    cookie = request.cookies.get(SESSION_COOKIE, "")
    if not _SESSION_VALUE.match(cookie):
        return None
    record = await asyncio.to_thread(request.app[SESSIONS].find, cookie, _now())
    if record is None:
        return None
    scopes = _session_scopes(request, record)
    if scopes is None or not (LEADS_READ in scopes or ADMIN in scopes):
        return None
    return Viewer(record.name, scopes, cookie)


# -- responses --------------------------------------------------------------------------


class _Halt(Exception):
    """Stop handling and answer with ``response`` (a redirect or an error page)."""

    def __init__(self, response: web.Response) -> None:
        super().__init__(response.status)
        self.response = response


def _page_handler(handler: Handler) -> Handler:
    """Answer :class:`_Halt` and :class:`ApiError` with a page, not the JSON middleware's body."""

    @wraps(handler)
    async def wrapper(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except _Halt as halt:
            return halt.response
        except ApiError as exc:
            page = _problem(exc.status, "Invalid request", _e(exc.message)).response
            page.headers.update(exc.headers)
            return page

    return wrapper


def _e(value: Any) -> str:
    """``value`` as escaped text; a dash when there is nothing to show."""
    if value is None or value == "":
        return "—"
    return html.escape(str(value))


def _when(value: str | None) -> str:
    if not value:
        return "—"
    moment = datetime.fromisoformat(value).astimezone(timezone.utc)
    return f'<time datetime="{_e(value)}">{moment:%Y-%m-%d %H:%M} UTC</time>'


def _document(title: str, body: str, viewer: Viewer | None) -> str:
    bar = '<a href="/leads">Leads</a>'
    if viewer is not None:
        bar += f'<span class="muted">{_e(viewer.name)}</span>'
        if viewer.session is not None:
            # Signing out is harmless, so it needs no CSRF token.
            bar += '<form method="post" action="/logout"><button>Sign out</button></form>'
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>{_e(title)}</title><style>{_STYLE}</style></head>"
        f"<body><header><strong>Storefront leads</strong>{bar}</header>"
        f"<main>{body}</main></body></html>"
    )


def _html(title: str, body: str, viewer: Viewer | None = None, status: int = 200) -> web.Response:
    return web.Response(
        text=_document(title, body, viewer),
        status=status,
        content_type="text/html",
        charset="utf-8",
        headers=_HEADERS,
    )


def _problem(status: int, title: str, message: str, viewer: Viewer | None = None) -> _Halt:
    """An error page (to raise): ``message`` is HTML, escape what goes into it."""
    body = (
        f'<h1>{_e(title)}</h1><p class="error">{message}</p><p><a href="/leads">All leads</a></p>'
    )
    return _Halt(_html(title, body, viewer, status))


def _redirect(location: str) -> web.Response:
    return web.Response(status=303, headers={**_HEADERS, "Location": location})


def _local_path(target: str) -> str:
    """``target`` if it is a path on this site, else the lead list (no open redirects)."""
    # "//host" and "/\\host" are other hosts to browsers; control characters
    # could split the Location header.
    if (
        target.startswith("/")
        and not target.startswith("//")
        and "\\" not in target
        and all(ch >= " " for ch in target)
    ):
        return target
    return DEFAULT_LANDING


async def _required_viewer(request: web.Request) -> Viewer:
    """The viewer; otherwise a browser is sent to sign in (GET) or refused (POST)."""
    viewer = await _viewer(request)
    if viewer is not None:
        return viewer
    if request.method in ("GET", "HEAD"):
        raise _Halt(_redirect("/login?" + urlencode({"next": request.path_qs})))
    raise _problem(
        401,
        "Sign-in required",
        'Your session has expired or you are not signed in. <a href="/login">Sign in</a> '
        "and send the form again.",
    )


async def _form(request: web.Request) -> MultiDictProxy[FormValue]:
    return await read_form(request)


def _field(form: MultiDictProxy[FormValue], name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""


async def _form_viewer(request: web.Request, form: MultiDictProxy[FormValue]) -> Viewer:
    """The viewer of a form post: allowed to write, with a CSRF token matching its session."""
    viewer = await _required_viewer(request)
    if not viewer.may(LEADS_WRITE):
        raise _problem(
            403,
            "Read-only token",
            f"The token you signed in with may only read leads. Sign in with a token that has "
            f"the <code>{LEADS_WRITE}</code> scope to change them.",
            viewer,
        )
    if viewer.session is not None:
        expected = csrf_token(request.app[SETTINGS].signing_key, viewer.session)
        if not hmac.compare_digest(_field(form, "csrf").encode(), expected.encode()):
            raise _problem(
                403,
                "Form expired",
                "This form could not be verified (its CSRF token is missing or wrong). "
                "Reload the page and send it again.",
                viewer,
            )
    return viewer


def _csrf_field(request: web.Request, viewer: Viewer) -> str:
    if viewer.session is None:
        return ""
    token = csrf_token(request.app[SETTINGS].signing_key, viewer.session)
    return f'<input type="hidden" name="csrf" value="{_e(token)}">'


def _table(headers: Sequence[str], rows: Iterable[Sequence[str]], empty: str) -> str:
    """A table of already escaped cells (``empty`` when there are no rows)."""
    rows = list(rows)
    if not rows:
        return f'<p class="muted">{_e(empty)}</p>'
    head = "".join(f"<th>{_e(header)}</th>" for header in headers)
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _json(value: Any) -> str:
    if value is None or value == {}:
        return "—"
    return f"<code>{_e(dumps(value))}</code>"


def _person(lead: dict[str, Any]) -> str:
    name = " ".join(part for part in (lead.get("first_name"), lead.get("last_name")) if part)
    return name or lead.get("email") or "Anonymous shopper"


def _stage(stage: str) -> str:
    return f'<span class="stage {_e(stage)}">{_e(stage)}</span>'


# -- sign-in ----------------------------------------------------------------------------


def _login_page(target: str, name: str, message: str | None, status: int) -> web.Response:
    error = f'<p class="error">{_e(message)}</p>' if message else ""
    body = (
        f"<h1>Sign in</h1>{error}"
        '<section><form method="post" action="/login"><dl>'
        '<dt><label for="token">Sales token</label></dt>'
        '<dd><input id="token" name="token" type="password" required autocomplete="off"></dd>'
        '<dt><label for="name">Your name</label></dt>'
        f'<dd><input id="name" name="name" value="{html.escape(name)}" required '
        f'maxlength="{MAX_NAME_CHARS}"></dd></dl>'
        f'<input type="hidden" name="next" value="{html.escape(target)}">'
        "<p><button>Sign in</button></p></form>"
        '<p class="muted">The token is the LEADS_API_TOKEN of this deployment, or a token '
        f"made with <code>python -m bot tokens create</code> that has the {LEADS_READ} scope "
        f"({LEADS_WRITE} to change leads). Your name is recorded with the status changes, "
        "notes and acknowledgements you make.</p></section>"
    )
    return _html("Sign in", body, None, status)


async def login_form(request: web.Request) -> web.StreamResponse:
    """``GET /login``: the sign-in form (``next``: where to go afterwards)."""
    return _login_page(request.query.get("next", ""), "", None, 200)


@_page_handler
async def login(request: web.Request) -> web.StreamResponse:
    """``POST /login``: check the token, open a session, go to ``next``."""
    settings = request.app[SETTINGS]
    limiter = request.app[LOGIN_LIMITER]
    client = request.remote or "unknown"
    # Only failures are counted, so sales staff signing in are never held up.
    wait = limiter.wait(client)
    if wait is not None:
        seconds = max(1, int(wait) + 1)
        page = _login_page(
            "",
            "",
            f"Too many failed sign-ins from this address (at most {limiter.per_minute} a "
            f"minute). Try again in {seconds} seconds.",
            429,
        )
        page.headers["Retry-After"] = str(seconds)
        return page
    form = await _form(request)
    token, name, target = (
        _field(form, "token").strip(),
        _field(form, "name").strip(),
        _field(form, "next"),
    )
    principal = await principal_of(request, token) if token else None
    if principal is None or not principal.allows(LEADS_READ):
        limiter.check(client)
        return _login_page(
            target,
            name,
            "Wrong token: enter the sales token (LEADS_API_TOKEN) or a token with the "
            f"{LEADS_READ} scope.",
            401,
        )
    if not 1 <= len(name) <= MAX_NAME_CHARS:
        return _login_page(
            target, name, f"Your name: expected 1 to {MAX_NAME_CHARS} characters.", 400
        )
    value = await asyncio.to_thread(
        request.app[SESSIONS].open,
        name=name,
        token_hash=hash_token(token),
        now=_now(),
        lifetime=timedelta(seconds=SESSION_SECONDS),
    )
    response = _redirect(_local_path(target))
    response.set_cookie(
        SESSION_COOKIE,
        value,
        max_age=SESSION_SECONDS,
        path="/",
        httponly=True,
        samesite="Strict",
        secure=settings.public_url.startswith("https://"),
    )
    return response


@_page_handler
async def logout(request: web.Request) -> web.StreamResponse:
    """``POST /logout``: end the session on the server and forget its cookie."""
    cookie = request.cookies.get(SESSION_COOKIE, "")
    if _SESSION_VALUE.match(cookie):
        await asyncio.to_thread(request.app[SESSIONS].end, cookie, _now())
    response = _redirect("/login")
    response.del_cookie(SESSION_COOKIE, path="/")
    return response


# -- the lead list ----------------------------------------------------------------------


@_page_handler
async def lead_list(request: web.Request) -> web.StreamResponse:
    """``GET /leads``: the newest leads, linked to their pages."""
    viewer = await _required_viewer(request)
    leads = await asyncio.to_thread(request.app[SALES].list_leads)
    rows = []
    for lead in leads:
        handoff = lead["handoff"]
        if handoff is None:
            handoff_cell = "—"
        elif handoff["status"] == "open":
            handoff_cell = f"open, due {_when(handoff['due_at'])}"
        else:
            handoff_cell = _e(handoff["status"])
        rows.append(
            (
                f'<a href="/leads/{_e(lead["id"])}">{_e(_person(lead))}</a>',
                _stage(lead["stage"]),
                _e(lead["score"]),
                _e(lead["status"]),
                handoff_cell,
                _when(lead["created_at"]),
            )
        )
    body = "<h1>Leads</h1><section>" + _table(
        ("Lead", "Stage", "Score", "Status", "Handoff", "Created"), rows, "No leads yet."
    )
    return _html("Leads", body + "</section>", viewer)


# -- the lead page ----------------------------------------------------------------------


@_page_handler
async def lead_page(request: web.Request) -> web.StreamResponse:
    """``GET /leads/{lead_id}``: everything about one lead, with the sales forms."""
    viewer = await _required_viewer(request)
    lead_id = request.match_info["lead_id"]
    page = await asyncio.to_thread(request.app[SALES].lead_page, lead_id)
    if page is None:
        raise _problem(404, "Unknown lead", f"There is no lead with id {_e(lead_id)}.", viewer)
    lead = page["lead"]
    csrf = _csrf_field(request, viewer)
    merged = ""
    if page["requested_id"] != lead["id"]:
        merged = (
            f'<p class="muted">Lead {_e(page["requested_id"])} was merged into this lead '
            "(same person).</p>"
        )
    body = (
        f"<h1>{_e(_person(lead))} {_stage(lead['stage'])}</h1>{merged}"
        f'<p class="muted">Lead {_e(lead["id"])} · score {_e(lead["score"])} · '
        f"status {_e(lead['status'])}</p>"
        + _contact_section(lead)
        + _duplicates_section(lead)
        + _status_section(page, csrf)
        + _handoff_section(page["handoffs"], csrf)
        + _answers_section(page["answers"])
        + _score_section(page["score"], page["stage_history"])
        + _notes_section(page, csrf)
        + _events_section(page["events"], page["truncated"]["events"])
        + _transcript_section(page["transcript"], page["truncated"]["transcript"])
    )
    return _html(f"Lead {_person(lead)}", body, viewer)


def _contact_section(lead: dict[str, Any]) -> str:
    consent = lead["consent"]
    items = (
        ("First name", _e(lead["first_name"])),
        ("Last name", _e(lead["last_name"])),
        ("Email", _e(lead["email"])),
        ("Phone", _e(lead["phone"])),
        ("Company", _e(lead["company"])),
        ("Position", _e(lead["position"])),
        ("Address", _e(lead["address"])),
        ("Lifecycle", _e(lead["lifecycle"].replace("_", " "))),
        ("Customer group", _e(lead["customer_group"])),
        ("Source", _e(lead["source"])),
        ("Session", _e(lead["session_id"])),
        ("Consent given", _when(consent["given_at"])),
        ("Consent text", _e(consent["text"])),
        ("Opted out", _when(lead["opted_out_at"])),
        ("Asked for a person", _when(lead["human_requested_at"])),
        ("Created", _when(lead["created_at"])),
        ("Updated", _when(lead["updated_at"])),
    )
    rows = "".join(f"<dt>{_e(label)}</dt><dd>{value}</dd>" for label, value in items)
    return f"<section><h2>Contact &amp; consent</h2><dl>{rows}</dl></section>"


def _duplicates_section(lead: dict[str, Any]) -> str:
    """Leads sharing this lead's e-mail or phone: maybe the same person, maybe not."""
    duplicates = lead["possible_duplicates"]
    if not duplicates:
        return ""
    rows = [
        (
            f'<a href="/leads/{_e(other["id"])}">{_e(_person(other))}</a>',
            _e(other["email"]),
            _e(other["phone"]),
            _e(", ".join(other["matched_on"])),
            _e(", ".join(name.replace("_", " ") for name in other["differs"])),
            _when(other["found_at"]),
        )
        for other in duplicates
    ]
    table = _table(
        ("Lead", "Email", "Phone", "Same", "Different", "Found"), rows, "No likely duplicates."
    )
    return (
        "<section><h2>Possible duplicates</h2>"
        '<p class="muted">These leads gave the same e-mail address or phone number. Chat and '
        "web-form visitors do not prove who they are, so nothing was merged or overwritten; "
        "once you know it is one person, merge them with "
        f"<code>POST /api/v2/leads/{_e(lead['id'])}/merge</code>.</p>{table}</section>"
    )


def _status_section(page: dict[str, Any], csrf: str) -> str:
    lead = page["lead"]
    options = "".join(
        f'<option value="{_e(status)}"{" selected" if status == lead["status"] else ""}>'
        f"{_e(status)}</option>"
        for status in LEAD_STATUSES
    )
    form = (
        f'<form method="post" action="/leads/{_e(lead["id"])}/status">{csrf}'
        f'<label>Status <select name="status">{options}</select></label> '
        '<label>Reason <input name="reason" maxlength="1000"></label> '
        "<button>Set status</button></form>"
        '<p class="muted">Any status but New acknowledges open handoffs; Won and Lost close '
        "them. Won counts as a conversion in the scoring review.</p>"
    )
    history = _table(
        ("When", "From", "To", "By", "Reason"),
        (
            (
                _when(change["at"]),
                _e(change["from_status"]),
                _e(change["to_status"]),
                _e(change["changed_by"]),
                _e(change["reason"]),
            )
            for change in page["status_history"]
        ),
        "The status was never changed.",
    )
    return f"<section><h2>Status: {_e(lead['status'])}</h2>{form}{history}</section>"


def _handoff_section(handoffs: list[dict[str, Any]], csrf: str) -> str:
    if not handoffs:
        return '<section><h2>Handoff</h2><p class="muted">Not handed to sales.</p></section>'
    parts = []
    for handoff in handoffs:
        ack = ""
        if handoff["status"] == "open":
            ack = (
                f'<form method="post" action="/handoffs/{_e(handoff["id"])}/ack">{csrf}'
                "<button>Acknowledge</button></form>"
            )
        items = (
            ("Status", _e(handoff["status"])),
            ("Trigger", _e(handoff["trigger"])),
            ("SLA", _e(handoff["sla"])),
            ("Team", _e(handoff["team"])),
            ("Assigned rep", _e(handoff["assigned_to"])),
            ("Contact by", _when(handoff["contact_by"])),
            ("Due", _when(handoff["due_at"])),
            ("Created", _when(handoff["created_at"])),
            ("Upgraded", _when(handoff["upgraded_at"])),
            (
                "Acknowledged",
                f"{_when(handoff['acknowledged_at'])} by {_e(handoff['acknowledged_by'])}"
                if handoff["acknowledged_at"]
                else "—",
            ),
            ("Escalated", _when(handoff["escalated_at"])),
            ("Closed", _when(handoff["closed_at"])),
        )
        details = "".join(f"<dt>{_e(label)}</dt><dd>{value}</dd>" for label, value in items)
        deliveries = _table(
            ("Channel", "Kind", "Status", "Attempts", "Last response", "Next attempt", "Log"),
            (
                (
                    _e(message["channel"]),
                    _e(message["kind"]),
                    _e(message["status"]),
                    _e(message["attempts"]),
                    _e(
                        " ".join(
                            str(part)
                            for part in (message["last_status_code"], message["last_error"])
                            if part is not None
                        )
                    ),
                    _when(message["next_attempt_at"]),
                    _delivery_log(message["log"]),
                )
                for message in handoff["deliveries"]
            ),
            "No notification channel is configured for this team.",
        )
        parts.append(
            f"<h3>Handoff {_e(handoff['id'])}</h3>{ack}<dl>{details}</dl>"
            f"<h4>Deliveries</h4>{deliveries}"
        )
    return "<section><h2>Handoff</h2>" + "".join(parts) + "</section>"


def _delivery_log(log: list[dict[str, Any]]) -> str:
    if not log:
        return "—"
    lines = "".join(
        f"<li>#{_e(entry['attempt'])} {_when(entry['at'])}: {_e(entry['outcome'])}"
        f" {_e(entry['status_code'])} {_e(entry['error'])} ({_e(entry['duration_ms'])} ms)</li>"
        for entry in log
    )
    return f"<details><summary>{len(log)} attempt(s)</summary><ul>{lines}</ul></details>"


def _answers_section(answers: list[dict[str, Any]]) -> str:
    rows = []
    for answer in answers:
        earlier = answer["history"][:-1] if len(answer["history"]) > 1 else []
        history = "—"
        if earlier:
            items = "".join(
                f"<li>{_when(old['answered_at'])}: {_e(old['raw'])} → {_json(old['value'])}</li>"
                for old in earlier
            )
            history = (
                f"<details><summary>{len(earlier)} earlier</summary><ul>{items}</ul></details>"
            )
        rows.append(
            (
                _e(answer["key"]),
                _e(answer["raw"]),
                _json(answer["value"]),
                _e(answer["status"]),
                _when(answer["answered_at"]),
                history,
            )
        )
    table = _table(
        ("Question", "Raw answer", "Normalised value", "Status", "Answered at", "Changed"),
        rows,
        "No answers yet.",
    )
    return f"<section><h2>Answers</h2>{table}</section>"


def _score_section(score: dict[str, Any], stages: list[dict[str, Any]]) -> str:
    reasons = _table(
        ("Points", "Kind", "Rule", "Why"),
        (
            (
                _e(f"{reason.get('points', 0):+d}"),
                _e(str(reason.get("rule", "")).partition(".")[0]),
                _e(reason.get("rule")),
                _e(reason.get("detail")),
            )
            for reason in score["reasons"]
        ),
        "Nothing scored yet.",
    )
    history = _table(
        ("When", "From", "To", "Score", "Cause"),
        (
            (
                _when(change["at"]),
                _stage(change["from"]),
                _stage(change["to"]),
                _e(change["score"]),
                _e(change["cause"]),
            )
            for change in stages
        ),
        "The stage never changed.",
    )
    return (
        f"<section><h2>Score {_e(score['score'])} {_stage(score['stage'])}</h2>"
        f"<p>Intent {_e(score['intent_score'])} · fit {_e(score['fit_score'])}</p>"
        f"<h3>Reasons</h3>{reasons}<h3>Stage history</h3>{history}</section>"
    )


def _notes_section(page: dict[str, Any], csrf: str) -> str:
    form = (
        f'<form method="post" action="/leads/{_e(page["lead"]["id"])}/notes">{csrf}'
        '<textarea name="text" maxlength="5000" required></textarea>'
        "<p><button>Add note</button></p></form>"
    )
    notes = "".join(
        f'<article><p class="muted">{_e(note["author"])}, {_when(note["created_at"])}</p>'
        f"<pre>{_e(note['text'])}</pre></article>"
        for note in page["notes"]
    )
    return f"<section><h2>Notes</h2>{form}{notes or '<p class=muted>No notes yet.</p>'}</section>"


def _events_section(events: list[dict[str, Any]], truncated: bool) -> str:
    table = _table(
        ("When", "Source", "Type", "Product", "Variant", "Value", "Details"),
        (
            (
                _when(event["ts"]),
                _e(event["source"]),
                _e(event["type"]),
                _e(event["product_id"]),
                _e(event["variant_id"]),
                _e(event["value"]),
                _json(event["properties"]),
            )
            for event in events
        ),
        "No events yet.",
    )
    more = '<p class="muted">Only the newest events are shown.</p>' if truncated else ""
    return f"<section><h2>Timeline</h2>{more}{table}</section>"


def _transcript_section(messages: list[dict[str, Any]], truncated: bool) -> str:
    lines = "".join(
        f'<p class="{"bot" if message["sender"] == "bot" else "user"}">'
        f"{_when(message['at'])} <strong>{_e(message['sender'])}</strong>: "
        f"{_e(message['text'])}</p>"
        for message in messages
    )
    more = '<p class="muted">Only the newest messages are shown.</p>' if truncated else ""
    empty = '<p class="muted">No chat yet.</p>'
    return f'<section class="chat"><h2>Chat transcript</h2>{more}{lines or empty}</section>'


# -- sales forms ------------------------------------------------------------------------


@_page_handler
async def set_status(request: web.Request) -> web.StreamResponse:
    """``POST /leads/{lead_id}/status`` (``status``, ``reason``): back to the lead page."""
    form = await _form(request)
    viewer = await _form_viewer(request, form)
    lead_id = request.match_info["lead_id"]
    try:
        result = await asyncio.to_thread(
            request.app[SALES].set_status,
            lead_id,
            _field(form, "status"),
            by=viewer.name,
            reason=_field(form, "reason"),
            now=datetime.now(timezone.utc),
        )
    except ValueError as exc:
        raise _invalid(lead_id, exc, viewer) from None
    except LookupError:
        raise _problem(
            404, "Unknown lead", f"There is no lead with id {_e(lead_id)}.", viewer
        ) from None
    return _redirect(f"/leads/{result['lead_id']}")


@_page_handler
async def add_note(request: web.Request) -> web.StreamResponse:
    """``POST /leads/{lead_id}/notes`` (``text``): back to the lead page."""
    form = await _form(request)
    viewer = await _form_viewer(request, form)
    lead_id = request.match_info["lead_id"]
    try:
        note = await asyncio.to_thread(
            request.app[SALES].add_note,
            lead_id,
            _field(form, "text"),
            by=viewer.name,
            now=datetime.now(timezone.utc),
        )
    except ValueError as exc:
        raise _invalid(lead_id, exc, viewer) from None
    except LookupError:
        raise _problem(
            404, "Unknown lead", f"There is no lead with id {_e(lead_id)}.", viewer
        ) from None
    return _redirect(f"/leads/{note['lead_id']}")


def _invalid(lead_id: str, exc: ValueError, viewer: Viewer) -> _Halt:
    """The 400 page of a rejected form field (the message starts with the field's name)."""
    field, _, expected = str(exc).partition(": ")
    return _problem(
        400,
        "Invalid form",
        f"Field <strong>{_e(field)}</strong>: {_e(expected)}. "
        f'<a href="/leads/{_e(lead_id)}">Back to the lead</a>',
        viewer,
    )


# -- acknowledging handoffs -------------------------------------------------------------


def _valid_ack_token(request: web.Request, handoff_id: str, token: str) -> bool:
    key = request.app[SETTINGS].signing_key
    # Without a key anyone could compute the token: links stay switched off.
    return bool(key) and hmac.compare_digest(token.encode(), ack_token(key, handoff_id).encode())


def _bad_ack_link() -> _Halt:
    return _problem(
        403,
        "Invalid link",
        "This acknowledgement link is not valid. Open the lead page instead.",
    )


@_page_handler
async def ack_confirm(request: web.Request) -> web.StreamResponse:
    """``GET /handoffs/{handoff_id}/ack?token=…``: a confirmation page (changes nothing)."""
    handoff_id = request.match_info["handoff_id"]
    token = request.query.get("token", "")
    if not _valid_ack_token(request, handoff_id, token):
        raise _bad_ack_link()
    handoff = await asyncio.to_thread(request.app[SALES].handoff, handoff_id)
    if handoff is None:
        raise _problem(404, "Unknown handoff", f"There is no handoff with id {_e(handoff_id)}.")
    viewer = await _viewer(request)
    lead = handoff["lead"]
    summary = (
        f"<p>{_e(_person(lead))} {_stage(lead['stage'])} (score {_e(lead['score'])}): "
        f"trigger {_e(handoff['trigger'])}, SLA {_e(handoff['sla'])}, due "
        f"{_when(handoff['due_at'])}, assigned to {_e(handoff['assigned_to'])}.</p>"
    )
    if handoff["status"] != "open":
        action = (
            f"<p>Already {_e(handoff['status'])}"
            + (
                f" by {_e(handoff['acknowledged_by'])} at {_when(handoff['acknowledged_at'])}"
                if handoff["acknowledged_at"]
                else ""
            )
            + ".</p>"
        )
    else:
        name = viewer.name if viewer is not None else handoff["assigned_to"] or ""
        action = (
            f'<form method="post" action="/handoffs/{_e(handoff_id)}/ack">'
            f'<input type="hidden" name="token" value="{_e(token)}">'
            f'<label>Your name <input name="name" value="{html.escape(name)}" required '
            f'maxlength="{MAX_NAME_CHARS}"></label> <button>Acknowledge</button></form>'
        )
    body = (
        f"<h1>Acknowledge handoff</h1><section>{summary}{action}"
        f'<p><a href="/leads/{_e(lead["id"])}">Open the lead page</a></p></section>'
    )
    return _html("Acknowledge handoff", body, viewer)


@_page_handler
async def acknowledge(request: web.Request) -> web.StreamResponse:
    """``POST /handoffs/{handoff_id}/ack``: from an ack link (``token``, ``name``) or the lead page.

    With ``token`` no sign-in is needed and a confirmation page answers; from
    the lead page (signed in, CSRF token) it goes back to the lead page.
    """
    handoff_id = request.match_info["handoff_id"]
    form = await _form(request)
    desk = request.app[SALES]
    now = datetime.now(timezone.utc)
    if "token" not in form:
        viewer = await _form_viewer(request, form)
        handoff = await asyncio.to_thread(desk.acknowledge, handoff_id, by=viewer.name, now=now)
        if handoff is None:
            raise _problem(404, "Unknown handoff", f"There is no handoff with id {_e(handoff_id)}.")
        return _redirect(f"/leads/{handoff['lead_id']}")
    if not _valid_ack_token(request, handoff_id, _field(form, "token")):
        raise _bad_ack_link()
    name = _field(form, "name").strip()
    if not 1 <= len(name) <= MAX_NAME_CHARS:
        raise _problem(
            400,
            "Invalid form",
            f"Field <strong>name</strong>: expected your name, 1 to {MAX_NAME_CHARS} "
            "characters. Go back and enter it.",
        )
    handoff = await asyncio.to_thread(desk.acknowledge, handoff_id, by=name, now=now)
    if handoff is None:
        raise _problem(404, "Unknown handoff", f"There is no handoff with id {_e(handoff_id)}.")
    body = (
        f"<h1>Handoff {_e(handoff['status'])}</h1><section>"
        f"<p>Acknowledged by {_e(handoff['acknowledged_by'])} at "
        f"{_when(handoff['acknowledged_at'])}.</p>"
        f'<p><a href="/leads/{_e(handoff["lead_id"])}">Open the lead page</a></p></section>'
    )
    return _html("Handoff acknowledged", body, await _viewer(request))


async def _sessions(app: web.Application) -> AsyncIterator[None]:
    # After the app factory's store context, which opens the engine.
    app[SESSIONS] = SalesSessions(app[REPOSITORY].engine)
    yield


def setup(app: web.Application) -> None:
    """Register the sales pages."""
    # Failed sign-ins per client address and minute, in bursts of as many: a
    # guessing script gets LOGIN_RATE_LIMIT tries a minute, not thousands.
    app[LOGIN_LIMITER] = RateLimiter(app[SETTINGS].login_rate_limit)
    app.cleanup_ctx.append(_sessions)
    app.router.add_get("/login", login_form)
    app.router.add_post("/login", login)
    app.router.add_post("/logout", logout)
    app.router.add_get("/leads", lead_list)
    app.router.add_get("/leads/{lead_id}", lead_page)
    app.router.add_post("/leads/{lead_id}/status", set_status)
    app.router.add_post("/leads/{lead_id}/notes", add_note)
    app.router.add_get("/handoffs/{handoff_id}/ack", ack_confirm)
    app.router.add_post("/handoffs/{handoff_id}/ack", acknowledge)
