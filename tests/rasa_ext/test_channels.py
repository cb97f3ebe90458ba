"""The socket.io channel on a real Sanic server on loopback, spoken to over WebSocket.

A persistent session joins its room and is bound to the socket, so every reply
reaches the client that asked, whatever session id the client sent; pages from
origins outside ``SHOP_ORIGINS`` are refused even over WebSocket. A message NLU
should not take (too long, not text) and a turn whose conversation store failed
get a polite reply instead.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from rasa.core.channels.channel import UserMessage
from sanic import Sanic
from websockets.client import connect as open_websocket

from bot.sessionids import MAX_SESSION_ID
from bot.settings import Settings
from rasa_ext.channels import SocketIOInput, origin_allowed, session_id_of
from rasa_ext.hardening import ConversationUnavailable
from rasa_ext.limits import (
    MAX_MESSAGE_CHARS,
    TOO_LONG_REPLY,
    UNAVAILABLE_REPLY,
    UNREADABLE_REPLY,
)
from tests.rasa_ext.conftest import free_port, serving

SHOP = "https://shop.example.com"
WAIT_SECONDS = 5.0


@pytest.mark.parametrize(
    ("data", "kept"),
    [
        ({"session_id": "shop-session-42"}, True),  # the widget's storefront session id
        ({"session_id": "x" * MAX_SESSION_ID}, True),  # the longest the events API takes
        ({"session_id": "x" * (MAX_SESSION_ID + 1)}, False),  # longer: a new id
        ({"session_id": "  "}, False),  # blank
        ({"session_id": 42}, False),  # not a string
        ({}, False),  # nothing asked for
        (None, False),  # no payload at all
        ("shop-session-42", False),  # a bare string instead of an object
    ],
)
def test_session_id_of(data: Any, kept: bool) -> None:
    session_id = session_id_of(data)
    assert (session_id == data["session_id"]) if kept else (len(session_id) == 32)


class Chat:
    """The channel on a loopback Sanic server; it answers every message with an echo."""

    def __init__(self, channel: SocketIOInput, port: int) -> None:
        self.channel = channel
        self.port = port
        self.received: list[UserMessage] = []
        self.store_fails = False

    async def on_new_message(self, message: UserMessage) -> None:
        self.received.append(message)
        if self.store_fails:
            raise ConversationUnavailable("the tracker store failed")
        assert message.output_channel is not None
        # What Rasa's processor does: reply to the message's sender id.
        await message.output_channel.send_text_message(message.sender_id, f"echo {message.text}")


class Client:
    """A socket.io v5 client over a raw WebSocket (engine.io 4 framing)."""

    def __init__(self, connection: Any) -> None:
        self.connection = connection

    async def receive(self) -> str:
        while True:
            frame = str(await asyncio.wait_for(self.connection.recv(), WAIT_SECONDS))
            if frame == "2":  # engine.io ping
                await self.connection.send("3")
                continue
            return frame

    async def emit(self, event: str, data: Any) -> None:
        await self.connection.send("42" + json.dumps([event, data]))

    async def event(self) -> tuple[str, Any]:
        frame = await self.receive()
        assert frame.startswith("42"), frame
        name, data = json.loads(frame[2:])
        return name, data

    async def nothing_comes(self) -> bool:
        try:
            frame = await asyncio.wait_for(self.connection.recv(), 0.5)
        except asyncio.TimeoutError:
            return True
        raise AssertionError(f"unexpected frame {frame!r}")


@asynccontextmanager
async def serve(credentials: dict[str, Any]) -> AsyncIterator[Chat]:
    channel = SocketIOInput.from_credentials(credentials)
    assert isinstance(channel, SocketIOInput)
    chat = Chat(channel, free_port())
    app = Sanic(f"channels_{uuid.uuid4().hex}")
    app.blueprint(channel.blueprint(chat.on_new_message))
    async with serving(app, chat.port):
        yield chat


@asynccontextmanager
async def connect(chat: Chat, origin: str | None = SHOP) -> AsyncIterator[tuple[Client, str]]:
    """A connected client and the server's answer to its namespace connect."""
    url = f"ws://127.0.0.1:{chat.port}/socket.io/?EIO=4&transport=websocket"
    async with open_websocket(url, origin=origin) as connection:  # type: ignore[arg-type]
        client = Client(connection)
        assert (await client.receive()).startswith("0{")  # engine.io open
        await connection.send("40")
        answer = await client.receive()
        yield client, answer


PERSISTENT = {"session_persistence": True, "allowed_origins": [SHOP]}


async def test_a_reply_reaches_the_room_of_the_session() -> None:
    async with serve(PERSISTENT) as chat, connect(chat) as (client, answer):
        assert answer.startswith("40{")
        await client.emit("session_request", {"session_id": "shop-session-42"})
        assert await client.event() == ("session_confirm", "shop-session-42")
        await client.emit("user_uttered", {"message": "hi", "session_id": "shop-session-42"})
        assert await client.event() == ("bot_uttered", {"text": "echo hi"})
        (message,) = chat.received
        assert message.sender_id == "shop-session-42"


@pytest.mark.parametrize(
    "request_data",
    [{"session_id": "   "}, {"session_id": "x" * (MAX_SESSION_ID + 1)}, {"session_id": 7}, {}],
    ids=["blank", "too long", "not a string", "missing"],
)
async def test_an_invalid_session_id_is_replaced_and_replies_still_arrive(
    request_data: dict[str, Any],
) -> None:
    async with serve(PERSISTENT) as chat, connect(chat) as (client, _):
        await client.emit("session_request", request_data)
        name, confirmed = await client.event()
        assert name == "session_confirm" and len(confirmed) == 32
        # The client still sends the id it asked for: the socket's id is used.
        await client.emit("user_uttered", {"message": "hi", **request_data})
        assert await client.event() == ("bot_uttered", {"text": "echo hi"})
        assert [message.sender_id for message in chat.received] == [confirmed]


async def test_the_session_is_bound_to_the_socket() -> None:
    async with serve(PERSISTENT) as chat, connect(chat) as (client, _):
        await client.emit("user_uttered", {"message": "too early", "session_id": "a"})
        assert await client.nothing_comes() and chat.received == []

        await client.emit("session_request", {"session_id": "session-a"})
        await client.event()
        await client.emit("session_request", {"session_id": "session-b"})
        assert await client.event() == ("session_confirm", "session-b")
        sio = chat.channel.sio
        assert sio is not None
        assert sio.manager.rooms["/"].get("session-a") in (None, {})  # left
        # Another session's id in the payload does not make this socket speak for it.
        await client.emit("user_uttered", {"message": "hi", "session_id": "session-a"})
        assert await client.event() == ("bot_uttered", {"text": "echo hi"})
        assert [message.sender_id for message in chat.received] == ["session-b"]


async def test_without_persistence_the_socket_is_the_sender() -> None:
    credentials = {"session_persistence": False, "allowed_origins": [SHOP]}
    async with serve(credentials) as chat, connect(chat) as (client, _):
        await client.emit("session_request", {"session_id": "shop-session-43"})
        await client.event()
        await client.emit("user_uttered", {"message": "hi", "metadata": '{"page_type": "cart"}'})
        assert await client.event() == ("bot_uttered", {"text": "echo hi"})
        (message,) = chat.received
        assert message.sender_id != "shop-session-43" and message.metadata == {"page_type": "cart"}
        sio = chat.channel.sio
        assert sio is not None
        assert "shop-session-43" not in sio.manager.rooms["/"]


@pytest.mark.parametrize(
    ("allowed", "origin", "accepted"),
    [
        ([SHOP], SHOP, True),
        ([SHOP], "https://evil.example.com", False),
        ([SHOP], "https://shop.example.com:8443", False),  # another port, another origin
        (["*"], "https://evil.example.com", True),
        ([SHOP], None, True),  # not a browser page: no Origin header
    ],
)
async def test_websocket_connections_are_checked_against_the_shop_origins(
    allowed: list[str], origin: str | None, accepted: bool
) -> None:
    credentials = {"session_persistence": True, "allowed_origins": allowed}
    async with serve(credentials) as chat, connect(chat, origin) as (client, answer):
        if accepted:
            assert answer.startswith("40{"), answer
            return
        assert answer.startswith("44{") and "SHOP_ORIGINS" in answer, answer
        # Refused: what it sends next is not handled.
        await client.emit("session_request", {"session_id": "evil"})
        await client.emit("user_uttered", {"message": "hi", "session_id": "evil"})
        assert await client.nothing_comes() and chat.received == []


def test_the_allowed_origins_default_to_the_shop_origins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHOP_ORIGINS", f"{SHOP}, http://localhost:3000")
    monkeypatch.setenv("PUBLIC_URL", "https://leads.example.com")
    channel = SocketIOInput.from_credentials({"session_persistence": True})
    assert isinstance(channel, SocketIOInput)
    assert channel.allowed_origins == Settings.from_env().cors_origins
    assert channel.allowed_origins == (SHOP, "http://localhost:3000", "https://leads.example.com")
    monkeypatch.delenv("SHOP_ORIGINS")
    anywhere = SocketIOInput.from_credentials({})
    assert isinstance(anywhere, SocketIOInput) and anywhere.allowed_origins == ("*",)


@pytest.mark.parametrize(
    ("origin", "allowed", "ok"),
    [
        ("https://SHOP.example.com/", (SHOP,), True),  # browsers send it lower-case anyway
        ("null", (SHOP,), False),  # sandboxed frames and file: pages
        ("https://shop.example.com.evil.test", (SHOP,), False),
        ("", (SHOP,), True),
    ],
)
def test_origin_allowed(origin: str, allowed: tuple[str, ...], ok: bool) -> None:
    assert origin_allowed(origin, allowed) is ok


@pytest.mark.parametrize(
    ("payload", "reply"),
    [
        ({"message": "x" * (MAX_MESSAGE_CHARS + 1)}, TOO_LONG_REPLY),  # NLU never sees it
        ({"message": "hi \udfff"}, UNREADABLE_REPLY),  # a lone surrogate
        ({"message": "hi\u0000"}, UNREADABLE_REPLY),  # NUL
        ({"message": ["hi"]}, UNREADABLE_REPLY),  # not text
        ({}, UNREADABLE_REPLY),  # no text at all
    ],
    ids=["too long", "lone surrogate", "NUL", "not text", "missing"],
)
async def test_messages_nlu_should_not_take_get_a_polite_reply(
    payload: dict[str, Any], reply: str
) -> None:
    async with serve(PERSISTENT) as chat, connect(chat) as (client, _):
        await client.emit("session_request", {"session_id": "shop-session-44"})
        await client.event()
        await client.emit("user_uttered", payload)
        assert await client.event() == ("bot_uttered", {"text": reply})
        assert chat.received == []
        # The next message is handled as usual.
        await client.emit("user_uttered", {"message": "x" * MAX_MESSAGE_CHARS})
        assert await client.event() == ("bot_uttered", {"text": "echo " + "x" * MAX_MESSAGE_CHARS})


async def test_a_failed_conversation_store_gets_a_polite_reply() -> None:
    async with serve(PERSISTENT) as chat, connect(chat) as (client, _):
        chat.store_fails = True
        await client.emit("session_request", {"session_id": "shop-session-45"})
        await client.event()
        await client.emit("user_uttered", {"message": "hi"})
        assert await client.event() == ("bot_uttered", {"text": UNAVAILABLE_REPLY})
