"""Input channels of the Rasa server, named by module path in ``credentials.yml``.

Both channels check what a browser sends before Rasa sees it (see
:mod:`rasa_ext.limits`): a message longer than
:data:`~rasa_ext.limits.MAX_MESSAGE_CHARS` gets a polite reply without running
NLU or touching the conversation, and a turn whose conversation store fails is
refused for that conversation only (:class:`~rasa_ext.hardening.ConversationUnavailable`).

``RestInput`` is Rasa's REST channel (``/webhooks/rest/webhook``) that answers a
malformed body with a 400 naming the field, ``{"error": {"status", "message",
"field"}}``, where Rasa 3.6 answered 500 for a body that is not an object, took
any JSON value as sender id (one SQLite could not store stopped the server) and
filed requests without a sender under the shared id ``default``.

``SocketIOInput`` is Rasa's socket.io channel (the chat widget's) with three fixes.

- **Rooms.** With ``session_persistence`` Rasa sends the bot's replies to the
  socket.io room named after the session id, which a client joins by emitting
  ``session_request``. Rasa 3.6 calls ``AsyncServer.enter_room`` without awaiting
  it, and since python-socketio 5 that is a coroutine: the client never joins the
  room and never hears a reply. Here the join is awaited.
- **One session per socket.** ``session_request`` binds the session to the socket
  (``save_session``): an id the REST channel would refuse (blank, over-long, not
  storable) is replaced by a new one, which
  ``session_confirm`` returns, and a second request leaves the previous room.
  ``user_uttered`` then always uses the bound id, so the sender of a message is the
  room its replies go to; a different ``session_id`` in the payload is ignored, and
  a message before any ``session_request`` is refused.
- **Origins.** Rasa turns python-engineio's Origin check off (``--cors`` covers
  HTTP requests only, not WebSocket). The shop's origins (``SHOP_ORIGINS`` plus the
  web app's own, as in :attr:`bot.settings.Settings.cors_origins`; ``*``: any) are
  checked again on connect: a page from another origin is refused.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import rasa.utils.endpoints
from rasa.core.channels.channel import CollectingOutputChannel, OutputChannel, UserMessage
from rasa.core.channels.rest import RestInput as RasaRestInput
from rasa.core.channels.socketio import SocketIOInput as RasaSocketIOInput
from rasa.core.channels.socketio import SocketIOOutput
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse, ResponseStream
from socketio import exceptions as socketio_errors

from bot.settings import Settings
from rasa_ext.hardening import ConversationUnavailable
from rasa_ext.limits import (
    MAX_CHAT_BODY_BYTES,
    TOO_LONG_REPLY,
    UNAVAILABLE_REPLY,
    UNREADABLE_REPLY,
    ChatInputError,
    message_id_problem,
    parse_chat_body,
    sender_problem,
    text_problem,
    too_long,
)
from rasa_ext.retries import ClientMessage

logger = logging.getLogger(__name__)

# Key of the bound session id in python-socketio's per-socket session.
SESSION_KEY = "session_id"


def session_id_of(data: Any) -> str:
    """The session id a client asked for, or a new one if it sent none usable."""
    requested = data.get("session_id") if isinstance(data, dict) else None
    if sender_problem(requested) is None:
        assert isinstance(requested, str)
        return requested
    return uuid.uuid4().hex


def user_message(
    text: str,
    output: OutputChannel,
    sender: str,
    *,
    input_channel: str,
    metadata: dict[str, Any] | None,
    message_id: str | None,
) -> UserMessage:
    """Rasa's message; with the client's ``message_id``, one a retry is answered from."""
    if message_id is None:
        return UserMessage(text, output, sender, input_channel=input_channel, metadata=metadata)
    return ClientMessage(
        text,
        output,
        sender,
        input_channel=input_channel,
        message_id=message_id,
        metadata=metadata,
    )


def _error(status: int, message: str, **details: str) -> HTTPResponse:
    return response.json({"error": {"status": status, "message": message, **details}}, status)


class RestInput(RasaRestInput):
    """Rasa's REST channel, with every field of the body checked first."""

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        """``GET /`` (health) and ``POST /webhook`` under ``/webhooks/rest``, as in Rasa."""
        webhook = Blueprint(f"custom_webhook_{type(self).__name__}", __name__)

        @webhook.route("/", methods=["GET"])
        async def health(request: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @webhook.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse | ResponseStream:
            try:
                chat = parse_chat_body(request.body)
            except ChatInputError as error:
                return _error(400, error.message, field=error.field)
            if too_long(chat.message):
                logger.info("chat message of %d characters answered without NLU", len(chat.message))
                return response.json([{"recipient_id": chat.sender, "text": TOO_LONG_REPLY}])
            if rasa.utils.endpoints.bool_arg(request, "stream", default=False):
                return response.stream(
                    self.stream_response(
                        on_new_message, chat.message, chat.sender, self.name(), chat.metadata
                    ),
                    content_type="text/event-stream",
                )
            collector = CollectingOutputChannel()
            message = user_message(
                chat.message,
                collector,
                chat.sender,
                input_channel=self.name(),
                metadata=chat.metadata,
                message_id=chat.message_id,
            )
            try:
                await on_new_message(message)
            except ConversationUnavailable:
                return _error(503, "this conversation cannot be continued right now; retry later")
            except Exception:
                # As Rasa's channel: the replies so far, and the error in the log
                # (without the shopper's text).
                logger.exception("chat turn failed")
            return response.json(collector.messages)

        return webhook


def origin_allowed(origin: str | None, allowed: Iterable[str]) -> bool:
    """Whether a page of ``origin`` may connect (``*`` in ``allowed``: any page).

    A request without an ``Origin`` header is not a cross-origin browser request
    (browsers always send one with a WebSocket handshake) and is let through, like
    python-engineio does.
    """
    allowed = tuple(allowed)
    if not origin or "*" in allowed:
        return True
    return origin.strip().rstrip("/").lower() in allowed


class SocketIOInput(RasaSocketIOInput):
    """Rasa's socket.io channel: replies reach the socket, from allowed origins only."""

    allowed_origins: tuple[str, ...] = ("*",)

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> RasaSocketIOInput:
        """Rasa's credentials, plus ``allowed_origins`` (default: the shop's origins)."""
        channel = super().from_credentials(credentials)
        assert isinstance(channel, SocketIOInput)
        configured = (credentials or {}).get("allowed_origins")
        if configured is None:
            channel.allowed_origins = Settings.from_env().cors_origins
        else:
            items = [configured] if isinstance(configured, str) else list(configured)
            channel.allowed_origins = tuple(str(item).rstrip("/").lower() for item in items)
        return channel

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        """Rasa's blueprint with this channel's ``connect``, session and message handlers."""
        blueprint = super().blueprint(on_new_message)
        sio = self.sio
        assert sio is not None  # set by the base class's blueprint()
        namespace = self.namespace or "/"
        # python-engineio 4 reads socket.io packets of up to 1 MB (polling bodies and
        # WebSocket frames); a chat packet is one message.
        sio.eio.max_http_buffer_size = MAX_CHAT_BODY_BYTES
        rasa_connect = sio.handlers[namespace]["connect"]

        async def connect(sid: str, environ: dict[str, Any], auth: Any = None) -> bool:
            origin = environ.get("HTTP_ORIGIN")
            if not origin_allowed(origin, self.allowed_origins):
                logger.warning("socket.io connection from origin %s refused", origin)
                raise socketio_errors.ConnectionRefusedError(
                    f"origin {origin} may not connect: add it to SHOP_ORIGINS"
                )
            allowed: bool = await rasa_connect(sid, environ, auth)
            return allowed

        async def session_request(sid: str, data: Any) -> None:
            session_id = session_id_of(data)
            bound = await sio.get_session(sid, namespace=self.namespace)
            previous = bound.get(SESSION_KEY)
            if self.session_persistence and previous and previous != session_id:
                await sio.leave_room(sid, previous, namespace=self.namespace)
            await sio.save_session(sid, {SESSION_KEY: session_id}, namespace=self.namespace)
            if self.session_persistence:
                await sio.enter_room(sid, session_id, namespace=self.namespace)
            await sio.emit("session_confirm", session_id, room=sid, namespace=self.namespace)
            logger.debug("socket.io client %s joined its session", sid)

        async def user_uttered(sid: str, data: Any) -> None:
            if not isinstance(data, dict):
                logger.warning("socket.io message from %s is not an object: ignored", sid)
                return
            if self.session_persistence:
                bound = await sio.get_session(sid, namespace=self.namespace)
                sender_id = bound.get(SESSION_KEY)
                if sender_id is None:
                    logger.warning("socket.io message from %s before session_request: ignored", sid)
                    return
            else:
                sender_id = sid
            output = SocketIOOutput(sio, self.bot_message_evt)
            text = data.get("message")
            if text_problem(text) is not None:
                await output.send_text_message(sender_id, UNREADABLE_REPLY)
                return
            assert isinstance(text, str)
            if too_long(text):
                logger.info("chat message of %d characters answered without NLU", len(text))
                await output.send_text_message(sender_id, TOO_LONG_REPLY)
                return
            metadata = data.get(self.metadata_key, {})
            if isinstance(metadata, str):
                try:
                    metadata = json.loads(metadata)
                except ValueError:
                    metadata = {}
            message_id = data.get("message_id")
            if message_id_problem(message_id) is not None:
                logger.warning("socket.io message from %s has an unusable message_id: new id", sid)
                message_id = None
            message = user_message(
                text,
                output,
                sender_id,
                input_channel=self.name(),
                metadata=metadata if isinstance(metadata, dict) else {},
                message_id=message_id,
            )
            try:
                await on_new_message(message)
            except ConversationUnavailable:
                await output.send_text_message(sender_id, UNAVAILABLE_REPLY)

        sio.on("connect", handler=connect, namespace=self.namespace)
        sio.on("session_request", handler=session_request, namespace=self.namespace)
        sio.on(self.user_message_evt, handler=user_uttered, namespace=self.namespace)
        return blueprint
