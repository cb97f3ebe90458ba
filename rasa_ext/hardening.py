"""The Rasa server's public edge: HTTP limits, framing, CORS, and no exit on one bad turn.

Everything here patches Rasa 3.6.21 / Sanic 21.12.2 before the server starts
(:func:`install`, called by ``python -m rasa_ext``):

- **Limits.** Rasa's Sanic app reads bodies of up to 100 MB and keeps idle
  connections for 120 s. Bodies are capped at
  :data:`~rasa_ext.limits.MAX_CHAT_BODY_BYTES` (413), headers must arrive within
  :data:`REQUEST_TIMEOUT_SECONDS` and idle connections close after
  :data:`KEEP_ALIVE_SECONDS`. Every error Sanic answers is JSON,
  ``{"error": {"status", "message"}}``, like the project's other APIs.
- **Framing.** Sanic 21.12's ``Http.read`` loops forever, at 100 % CPU and
  without yielding to the event loop, on ``Content-Length: -1`` (it takes
  ``buf[:-1]`` as the body and never reaches 0 bytes left); a non-numeric length
  is a 500; two lengths, or a length next to ``Transfer-Encoding``, are read
  whichever way Sanic happens to. Such requests are refused with 400, and the
  connection is closed, from the ``http.lifecycle.request`` signal, which Sanic
  dispatches after parsing the head and before it looks at the body.
- **CORS.** Rasa configures sanic-cors with ``supports_credentials`` on, so with
  ``--cors *`` every origin is reflected *with* credentials allowed. The widget
  sends no credentials (``fetch`` with ``credentials: "omit"``, socket.io's
  default ``withCredentials: false``): credentials are never allowed, and ``*``
  is answered as ``*``.
- **No exit.** Rasa's ``SQLTrackerStore.session_scope`` turns *any* ``ValueError``
  (SQLite's ``UnicodeEncodeError`` on an odd sender id too) into
  ``print_error_and_exit``, and ``FailSafeTrackerStore`` then silently starts
  the conversation over in memory. A tracker store failure now fails that one
  turn with :class:`ConversationUnavailable` (the channels answer 503, or a
  polite reply on socket.io) while the server keeps serving everyone else.
- **Logs.** Rasa's structured (debug) log events carry the user's text; string
  values are cut to :data:`LOG_VALUE_CHARS` characters.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import re
from collections.abc import Callable, Iterator, Mapping, MutableMapping
from typing import TYPE_CHECKING, Any

from sanic import Sanic, response
from sanic.exceptions import InvalidUsage, PayloadTooLarge, SanicException
from sanic.request import Request
from sanic.response import HTTPResponse
from sanic_cors import CORS

from rasa_ext.limits import MAX_CHAT_BODY_BYTES

if TYPE_CHECKING:
    from rasa.core.tracker_store import FailSafeTrackerStore, SQLTrackerStore
    from sqlalchemy.orm import Session

logger = logging.getLogger(__name__)

# Time to receive a request's head; Sanic's default is 60 s, a chat request's
# head is a few hundred bytes.
REQUEST_TIMEOUT_SECONDS = 10
# Idle keep-alive connections: Rasa sets 120 s. The widget sends a message every
# few seconds at most while a shopper types; 20 s keeps its connection warm
# without holding thousands of idle sockets.
KEEP_ALIVE_SECONDS = 20
# Sanic's default, stated: cookies of the shop's domain come with socket.io's
# handshake, nothing else needs more.
MAX_HEADER_BYTES = 8 * 1024
# Longest string value in one of Rasa's structured log events.
LOG_VALUE_CHARS = 200
# A Content-Length with more digits than this is beyond any limit (and Python
# refuses to parse integers of more than 4300 digits).
_MAX_LENGTH_DIGITS = 18
_DIGITS = re.compile(r"[0-9]+")


class ConversationUnavailable(Exception):
    """The tracker store failed for this conversation; this turn is not processed."""


def framing_problem(lengths: list[str], codings: list[str]) -> SanicException | None:
    """What is wrong with a request's ``Content-Length``/``Transfer-Encoding`` values."""
    if lengths and codings:
        return InvalidUsage("a request may not have both Transfer-Encoding and Content-Length")
    if codings and codings != ["chunked"]:
        return InvalidUsage("Transfer-Encoding must be chunked, given once")
    if len(set(lengths)) > 1:
        return InvalidUsage("the request has several different Content-Length values")
    for length in lengths:
        if not _DIGITS.fullmatch(length):
            return InvalidUsage("Content-Length must be a non-negative integer")
        if len(length) > _MAX_LENGTH_DIGITS or int(length) > MAX_CHAT_BODY_BYTES:
            return PayloadTooLarge(f"the body may be at most {MAX_CHAT_BODY_BYTES} bytes")
    return None


async def check_framing(request: Request) -> None:
    """Sanic signal ``http.lifecycle.request``: refuse a request with invalid framing.

    Raised here, before Sanic reads the body, the error is answered and the
    connection closed (Sanic 21.12's ``Http.error_response`` drops keep-alive
    for errors in the request stage).
    """
    problem = framing_problem(
        request.headers.getall("content-length", []),
        request.headers.getall("transfer-encoding", []),
    )
    if problem is not None:
        raise problem


def json_error(request: Request, exception: Exception) -> HTTPResponse:
    """Every error Sanic answers, as ``{"error": {"status", "message"}}``."""
    status = getattr(exception, "status_code", None) or 500
    message = str(exception) if status < 500 else "the server could not handle this request"
    return response.json(
        {"error": {"status": status, "message": message}},
        status=status,
        headers=getattr(exception, "headers", None),
    )


def harden(app: Sanic) -> None:
    """Limits, framing checks and JSON errors on Rasa's Sanic app (before it starts)."""
    app.config.REQUEST_MAX_SIZE = MAX_CHAT_BODY_BYTES
    app.config.REQUEST_MAX_HEADER_SIZE = MAX_HEADER_BYTES
    app.config.REQUEST_TIMEOUT = REQUEST_TIMEOUT_SECONDS
    app.config.KEEP_ALIVE_TIMEOUT = KEEP_ALIVE_SECONDS
    app.config.WEBSOCKET_MAX_SIZE = MAX_CHAT_BODY_BYTES
    app.signal("http.lifecycle.request")(check_framing)
    app.error_handler.add(SanicException, json_error)


def configure_cors(app: Sanic, cors_origins: str | list[str] | None = "") -> None:
    """Rasa's ``rasa.server.configure_cors``, without credentials and with ``*`` as ``*``."""
    app.config.CORS_AUTOMATIC_OPTIONS = True
    app.config.CORS_SUPPORTS_CREDENTIALS = False
    # sanic-cors 2.0 reflects the request's origin for "*" unless send_wildcard.
    app.config.CORS_SEND_WILDCARD = True
    app.config.CORS_EXPOSE_HEADERS = "filename"
    CORS(app, resources={r"/*": {"origins": cors_origins or ""}}, automatic_options=True)


@contextlib.contextmanager
def _session_scope(self: SQLTrackerStore) -> Iterator[Session]:
    # Rasa's session_scope, except that errors inside the block are raised as
    # they are; only a missing PostgreSQL schema is reported as such.
    from rasa.core.tracker_store import ensure_schema_exists

    session = self.sessionmaker()
    try:
        try:
            ensure_schema_exists(session)
        except ValueError as error:
            raise ConversationUnavailable(
                f"PostgreSQL schema {error} was not found: create it or unset POSTGRESQL_SCHEMA"
            ) from error
        yield session
    finally:
        session.close()


def _refuse_turn(self: FailSafeTrackerStore, error: Exception) -> None:
    # ascii(): an undecodable sender id in the error must not break the log handler.
    logger.error(
        "conversation store %s failed: %s; this turn is refused",
        type(self._tracker_store).__name__,
        ascii(str(error))[:300],
    )
    raise ConversationUnavailable("the conversation store failed for this conversation") from error


def _truncate(value: Any) -> Any:
    if isinstance(value, str) and len(value) > LOG_VALUE_CHARS:
        return f"{value[:LOG_VALUE_CHARS]}… ({len(value)} characters)"
    if isinstance(value, dict):
        return {key: _truncate(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_truncate(item) for item in value]
    return value


def truncate_long_values(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> Mapping[str, Any]:
    """A structlog processor: long strings (a user's text) cut to a prefix and a length."""
    return {key: _truncate(value) for key, value in event_dict.items()}


def _install_structlog_truncation() -> None:
    import structlog
    from rasa.utils import log_utils

    configure_structlog = log_utils.configure_structlog

    @functools.wraps(configure_structlog)
    def configure_with_truncation(log_level: int | None = None) -> None:
        configure_structlog(log_level)
        processors = structlog.get_config()["processors"]
        structlog.configure(processors=[truncate_long_values, *processors])

    log_utils.configure_structlog = configure_with_truncation


def _install_hardened_app() -> None:
    from rasa.core import run

    configure_app: Callable[..., Sanic] = run.configure_app

    @functools.wraps(configure_app)
    def configure_hardened_app(*args: Any, **kwargs: Any) -> Sanic:
        app = configure_app(*args, **kwargs)
        harden(app)
        return app

    run.configure_app = configure_hardened_app


def install() -> None:
    """Apply the changes above, once, before Rasa's CLI is imported (rasa_ext.install does)."""
    import rasa.server
    from rasa.core.tracker_store import FailSafeTrackerStore, SQLTrackerStore

    rasa.server.configure_cors = configure_cors
    SQLTrackerStore.session_scope = _session_scope
    FailSafeTrackerStore.on_tracker_store_error = _refuse_turn
    FailSafeTrackerStore.on_tracker_store_retrieve_error = _refuse_turn
    _install_hardened_app()
    _install_structlog_truncation()
