"""Extensions of the Rasa server process (``python -m rasa_ext run …``).

The public edge (body and header limits, HTTP framing checks, CORS without
credentials, no process exit on one conversation's store error) is in
:mod:`rasa_ext.hardening`; the chat channels and what they accept in
:mod:`rasa_ext.channels` and :mod:`rasa_ext.limits`.

Three hot spots of a Rasa 3.6 chat turn on two cores, each fixed without
changing behaviour:

- Rasa validates every action server response with ``jsonschema.validate``,
  which re-checks the response *schema* against the JSON Schema meta-schema on
  each call; that self-check cost more than the rest of a form turn. The schema
  is now checked once, and each event of a response against the one event
  schema its name selects (:class:`ResponseCheck`); an invalid response still
  gets Rasa's own error message.
- Every call to the action server opened a new HTTP client session and TCP
  connection; one session per endpoint is now kept open and reused. Each call
  carries the session's events the actions read (:mod:`rasa_ext.action_payload`),
  not all of them.
- The SQL tracker store on SQLite committed in rollback-journal mode, an fsync
  per turn; SQLite connections now use WAL with ``synchronous=NORMAL`` (durable
  across process crashes, the same mode the lead store uses).

Rasa's SQL tracker store read and replayed a conversation's whole session on
every turn; :mod:`rasa_ext.tracker_cache` keeps it in the process and checks it
against the database with one indexed query. The policies then replayed the
session again, several times per turn, for their dialogue states, the applied
events and the tracker copy each action runs on; :mod:`rasa_ext.dialogue_states`
continues each from the conversation's previous turn. The model's graph runs
for every parse and prediction; :mod:`rasa_ext.graph_runner` calls its nodes
directly instead of through dask's scheduler, and DIET's prediction calls its
traced graph without ``tf.function``'s dispatch (:mod:`rasa_ext.tf_predict`).
"""

from __future__ import annotations

import asyncio
from functools import lru_cache
from types import TracebackType
from typing import TYPE_CHECKING, Any

import aiohttp
from jsonschema.protocols import Validator
from jsonschema.validators import validator_for
from sqlalchemy import event
from sqlalchemy.engine import Engine

from bot import logredact
from rasa_ext import action_payload, dialogue_states, hardening, retries, tracker_cache

if TYPE_CHECKING:
    from rasa.utils.endpoints import EndpointConfig


class ResponseCheck:
    """Whether an action server response matches Rasa's response schema, fast when it does.

    Rasa's schema lists each event as ``oneOf`` 23 event schemas, so the validator
    descends into all 23 for every event. Each of them fixes ``event`` to a
    different constant and the outer schema requires ``event``, so an event is
    valid exactly when it is valid against the outer schema together with the one
    alternative named by its ``event``: that pair is checked here, compiled once
    per event name. Anything the fast check does not accept is decided by the full
    schema, so a response passes here only if Rasa's own validation passes it
    (a test compares both on generated responses).
    """

    def __init__(self, schema: dict[str, Any]) -> None:
        validator_class = validator_for(schema)
        validator_class.check_schema(schema)
        self.full: Validator = validator_class(schema)
        self._plain: dict[str, Validator] = {}
        self._events: dict[str, Validator] = {}
        properties = schema.get("properties", {})
        for key, part in properties.items():
            if key == "events":
                continue
            self._plain[key] = validator_class(part)
        event_schema = properties["events"]["items"]
        outer = {key: value for key, value in event_schema.items() if key != "oneOf"}
        for alternative in event_schema["oneOf"]:
            name = alternative["properties"]["event"]["const"]
            self._events[name] = validator_class({"allOf": [outer, alternative]})

    def is_valid(self, result: Any) -> bool:
        """True exactly when the full schema accepts ``result``."""
        return self._fast(result) or self.full.is_valid(result)

    def _fast(self, result: Any) -> bool:
        if type(result) is not dict:
            return False
        for key, validator in self._plain.items():
            if key in result and not validator.is_valid(result[key]):
                return False
        events = result.get("events", [])
        if type(events) is not list:
            return False
        for item in events:
            if type(item) is not dict:
                return False
            name = item.get("event")
            validator = self._events.get(name) if type(name) is str else None
            if validator is None or not validator.is_valid(item):
                return False
        return True


@lru_cache(maxsize=1)
def _response_validator() -> ResponseCheck:
    from rasa.core.actions.action import RemoteAction

    return ResponseCheck(RemoteAction.action_response_format_spec())


def _install_response_validation() -> None:
    from rasa.core.actions.action import RemoteAction

    original = RemoteAction._validate_action_result

    def validate_action_result(self: RemoteAction, result: dict[str, Any]) -> bool:
        if _response_validator().is_valid(result):
            return True
        # Invalid: let Rasa build its usual, detailed error.
        validated: bool = original(self, result)
        return validated

    RemoteAction._validate_action_result = validate_action_result


class _KeptOpen:
    """``async with`` wrapper that hands out a shared session and does not close it."""

    def __init__(self, session: aiohttp.ClientSession) -> None:
        self._session = session

    async def __aenter__(self) -> aiohttp.ClientSession:
        return self._session

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        return None


_SESSIONS: dict[tuple[int, str, str, str], aiohttp.ClientSession] = {}


# How long an idle pooled connection to the action server is kept. Sanic 21.12
# closes idle keep-alive connections after KEEP_ALIVE_TIMEOUT (5 s by default, and
# `rasa run actions` keeps it), and aiohttp 3.9 keeps them 15 s: a request sent on a
# connection the server is just closing fails ("Can not write request body") and the
# shopper gets no reply. Shorter than the server's, the client always closes first.
ACTION_CLIENT_KEEPALIVE_SECONDS = 3.0


def _action_server_session(endpoint: EndpointConfig) -> aiohttp.ClientSession:
    # Rasa 3.6.21's EndpointConfig.session, with the keep-alive above.
    from rasa.utils.endpoints import DEFAULT_REQUEST_TIMEOUT

    auth = (
        aiohttp.BasicAuth(endpoint.basic_auth["username"], endpoint.basic_auth["password"])
        if endpoint.basic_auth
        else None
    )
    return aiohttp.ClientSession(
        headers=endpoint.headers,
        auth=auth,
        timeout=aiohttp.ClientTimeout(total=DEFAULT_REQUEST_TIMEOUT),
        connector=aiohttp.TCPConnector(keepalive_timeout=ACTION_CLIENT_KEEPALIVE_SECONDS),
    )


def _install_session_reuse() -> None:
    from rasa.utils.endpoints import EndpointConfig

    def session(self: EndpointConfig) -> _KeptOpen:
        # Sessions belong to an event loop; Rasa's server runs one.
        key = (
            id(asyncio.get_running_loop()),
            str(self.url),
            repr(sorted((self.headers or {}).items())),
            repr(self.basic_auth),
        )
        shared = _SESSIONS.get(key)
        if shared is None or shared.closed:
            shared = _SESSIONS[key] = _action_server_session(self)
        return _KeptOpen(shared)

    EndpointConfig.session = session


def _sqlite_wal(dbapi_connection: Any, _record: Any) -> None:
    if type(dbapi_connection).__module__.startswith("sqlite3"):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()


_installed = False


def install() -> None:
    """Apply the changes (and log redaction, see bot.logredact); call before Rasa starts.

    Idempotent: the patches wrap Rasa's functions, and wrapping them twice would
    wrap a patch in itself.
    """
    global _installed
    if _installed:
        return
    logredact.install()
    hardening.install()
    _install_response_validation()
    _install_session_reuse()
    action_payload.install()
    tracker_cache.install()
    retries.install()
    dialogue_states.install()
    # Imported here: it subclasses Rasa's runner, which imports most of Rasa.
    from rasa_ext import graph_runner, tf_predict

    graph_runner.install()
    tf_predict.install()
    if not event.contains(Engine, "connect", _sqlite_wal):
        event.listen(Engine, "connect", _sqlite_wal)
    _installed = True
