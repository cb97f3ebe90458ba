"""Input channels of the Rasa server, named by module path in ``credentials.yml``.

``SocketIOInput`` is Rasa's socket.io channel (the chat widget's) with one fix.
With ``session_persistence`` Rasa sends the bot's replies to the socket.io room
named after the session id, which a client joins by emitting ``session_request``.
Rasa 3.6 calls ``AsyncServer.enter_room`` without awaiting it, and since
python-socketio 5 that is a coroutine: the client never joins the room and never
hears a reply. Here the join is awaited; everything else is Rasa's.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from rasa.core.channels.channel import UserMessage
from rasa.core.channels.socketio import SocketIOInput as RasaSocketIOInput
from sanic import Blueprint

logger = logging.getLogger(__name__)

# The storefront events API takes session ids of up to 128 characters; chat and
# events must be able to share one.
MAX_SESSION_ID = 128


def session_id_of(data: Any) -> str:
    """The session id a client asked for, or a new one if it sent none usable."""
    requested = data.get("session_id") if isinstance(data, dict) else None
    if isinstance(requested, str) and requested.strip() and len(requested) <= MAX_SESSION_ID:
        return requested
    return uuid.uuid4().hex


class SocketIOInput(RasaSocketIOInput):
    """Rasa's socket.io channel whose persistent sessions receive their replies."""

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        """Rasa's blueprint, with a ``session_request`` handler that joins the room."""
        blueprint = super().blueprint(on_new_message)
        sio = self.sio
        assert sio is not None  # set by the base class's blueprint()

        async def session_request(sid: str, data: Any) -> None:
            session_id = session_id_of(data)
            if self.session_persistence:
                await sio.enter_room(sid, session_id, namespace=self.namespace)
            await sio.emit("session_confirm", session_id, room=sid, namespace=self.namespace)
            logger.debug("socket.io client %s joined its session", sid)

        sio.on("session_request", handler=session_request, namespace=self.namespace)
        return blueprint
