"""The socket.io channel: a persistent session joins its room, so replies reach the widget."""

from __future__ import annotations

from typing import Any

import pytest

from rasa_ext.channels import MAX_SESSION_ID, SocketIOInput, session_id_of


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


async def _nothing(_message: Any) -> None:
    return None


async def test_session_request_joins_the_session_room() -> None:
    channel = SocketIOInput.from_credentials({"session_persistence": True})
    assert isinstance(channel, SocketIOInput)
    channel.blueprint(_nothing)
    sio = channel.sio
    assert sio is not None
    sid = await sio.manager.connect("engineio-client-1", "/")

    await sio.handlers["/"]["session_request"](sid, {"session_id": "shop-session-42"})

    participants = [member for member, _ in sio.manager.get_participants("/", "shop-session-42")]
    assert participants == [sid]


async def test_without_persistence_no_room_is_joined() -> None:
    channel = SocketIOInput.from_credentials({"session_persistence": False})
    channel.blueprint(_nothing)
    sio = channel.sio
    assert sio is not None
    sid = await sio.manager.connect("engineio-client-2", "/")

    await sio.handlers["/"]["session_request"](sid, {"session_id": "shop-session-43"})

    assert "shop-session-43" not in sio.manager.rooms.get("/", {})
