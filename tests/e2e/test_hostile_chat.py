"""Hostile chat requests against the real Rasa server: each gets a clear answer or a close.

Every case sends one request a stranger could send from anywhere (a sender id
SQLite cannot store, invalid HTTP framing, a huge message, a JSON body that is
not an object), checks that it was answered (or the connection closed) within
a bounded time, and then that the Rasa process is the same one and an ordinary
shopper's "hi" is still answered within a second.
"""

from __future__ import annotations

import json
import socket
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import socketio

from bot.devstack import LOOPBACK, DevStack
from rasa_ext.limits import MAX_MESSAGE_CHARS, TOO_LONG_REPLY, UNREADABLE_REPLY
from tests.schemathesis_cli import run_schemathesis

pytestmark = pytest.mark.e2e

# A shopper's "hi" takes ~0.1-0.5 s here; a wedged or restarting server takes far longer.
SHOPPER_SECONDS = 1.0
# Bounded wait for the hostile request's own answer (or the server closing it).
HOSTILE_SECONDS = 10.0
SOCKET_SECONDS = 10.0
# Memory a single rejected long message may add to the Rasa process (it used to be GBs).
RSS_GROWTH_MB = 200.0
OPENAPI = Path(__file__).with_name("chat_webhook.openapi.yml")


@pytest.fixture(scope="module")
def rasa_pid(stack: DevStack) -> int:
    return stack.pid("rasa")


def _post(stack: DevStack, body: bytes, **headers: str) -> requests.Response:
    with requests.Session() as http:
        http.trust_env = False
        return http.post(
            f"{stack.rasa_url}/webhooks/rest/webhook",
            data=body,
            headers={"Content-Type": "application/json", **headers},
            timeout=HOSTILE_SECONDS,
        )


def assert_shopper_served(stack: DevStack, rasa_pid: int) -> None:
    """The same Rasa process still answers an ordinary shopper within a second."""
    with requests.Session() as http:
        http.trust_env = False
        response = http.post(
            f"{stack.rasa_url}/webhooks/rest/webhook",
            json={"sender": f"shopper-{uuid.uuid4().hex}", "message": "hi"},
            timeout=SHOPPER_SECONDS,
        )
    assert response.status_code == 200, response.text
    replies = response.json()
    assert replies and replies[0].get("text"), response.text
    assert stack.pid("rasa") == rasa_pid


def raw_exchange(port: int, request: bytes) -> tuple[bytes, bool]:
    """Send ``request`` as raw bytes; what came back and whether the server closed."""
    received = b""
    deadline = time.monotonic() + HOSTILE_SECONDS
    with socket.create_connection((LOOPBACK, port), timeout=HOSTILE_SECONDS) as connection:
        connection.sendall(request)
        while (left := deadline - time.monotonic()) > 0:
            connection.settimeout(left)
            try:
                chunk = connection.recv(65536)
            except TimeoutError:
                break
            if not chunk:
                return received, True
            received += chunk
    return received, False


def _error(response: requests.Response) -> dict[str, Any]:
    error: dict[str, Any] = response.json()["error"]
    return error


def _request(headers: str, body: bytes = b'{"sender": "s", "message": "hi"}') -> bytes:
    return (
        b"POST /webhooks/rest/webhook HTTP/1.1\r\nHost: shop\r\n"
        + headers.encode()
        + b"Content-Type: application/json\r\n\r\n"
        + body
    )


def test_a_sender_id_sqlite_cannot_store_is_refused(stack: DevStack, rasa_pid: int) -> None:
    response = _post(stack, b'{"sender": "\\ud800", "message": "hi"}')
    assert response.status_code == 400, response.text
    assert _error(response)["field"] == "sender"
    assert_shopper_served(stack, rasa_pid)


@pytest.mark.parametrize(
    "body",
    [
        b'{"sender": "s-1", "message": "hi \\udfff"}',  # a lone surrogate in the text
        b'{"sender": "s-1", "message": "hi\\u0000"}',  # NUL: PostgreSQL cannot store it
    ],
    ids=["lone surrogate", "NUL"],
)
def test_a_message_that_cannot_be_stored_is_refused(
    stack: DevStack, rasa_pid: int, body: bytes
) -> None:
    response = _post(stack, body)
    assert response.status_code == 400, response.text
    assert _error(response)["field"] == "message"
    assert_shopper_served(stack, rasa_pid)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b"[]", "body"),  # an array
        (b'"x"', "body"),  # a string
        (b"1", "body"),  # a number
        (b"null", "body"),  # null
        (b"{", "body"),  # not JSON
        (b"\xff\xfe{}", "body"),  # not UTF-8
        (b"[" * 50_000, "body"),  # nested deeper than any parser recursion
        (b"{}", "sender"),  # nothing at all
        (b'{"sender": 1, "message": "hi"}', "sender"),  # a number as sender
        (b'{"sender": "", "message": "hi"}', "sender"),  # empty
        (b'{"sender": "a\\nb", "message": "hi"}', "sender"),  # a control character
        (b'{"sender": "' + b"x" * 129 + b'", "message": "hi"}', "sender"),  # too long
        (b'{"sender": "s-1"}', "message"),  # no message
        (b'{"sender": "s-1", "message": ["hi"]}', "message"),  # a list as message
        (b'{"sender": "s-1", "message": "hi", "metadata": []}', "metadata"),  # not an object
        (b'{"sender": "s-1", "message": "hi", "metadata": "x"}', "metadata"),  # a string
    ],
)
def test_malformed_bodies_get_a_400_naming_the_field(
    stack: DevStack, rasa_pid: int, body: bytes, field: str
) -> None:
    response = _post(stack, body)
    assert response.status_code == 400, response.text
    error = _error(response)
    assert error["field"] == field and error["status"] == 400 and error["message"]
    assert_shopper_served(stack, rasa_pid)


@pytest.mark.parametrize(
    "headers",
    [
        "Content-Length: -1\r\n",  # negative: Sanic 21.12 looped on it at 100 % CPU
        "Content-Length: abc\r\n",  # not a number
        "Content-Length: 33\r\nContent-Length: 34\r\n",  # two different lengths
        "Content-Length: 33, 34\r\n",  # two lengths in one header
        "Content-Length: +33\r\n",  # a sign
        "Transfer-Encoding: chunked\r\nContent-Length: 33\r\n",  # both framings
        "Transfer-Encoding: gzip\r\n",  # a coding Sanic does not decode
        "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n",  # twice
    ],
)
def test_invalid_framing_is_refused_and_the_connection_closed(
    stack: DevStack, rasa_pid: int, headers: str
) -> None:
    answer, closed = raw_exchange(stack.ports.rasa, _request(headers))
    assert answer.startswith(b"HTTP/1.1 400 "), answer[:300]
    assert closed, "the server kept a connection with invalid framing open"
    assert_shopper_served(stack, rasa_pid)


@pytest.mark.parametrize(
    "headers",
    [
        "Content-Length: 99999999999999999999999999\r\n",  # more than any body
        "Content-Length: 10000000\r\n",  # 10 MB announced
    ],
)
def test_huge_announced_bodies_get_a_413(stack: DevStack, rasa_pid: int, headers: str) -> None:
    answer, closed = raw_exchange(stack.ports.rasa, _request(headers))
    assert answer.startswith(b"HTTP/1.1 413 "), answer[:300]
    assert b'"error"' in answer and closed
    assert_shopper_served(stack, rasa_pid)


def test_a_large_body_gets_a_json_413(stack: DevStack, rasa_pid: int) -> None:
    metadata = {"padding": "x" * 200_000}
    body = json.dumps({"sender": "s-1", "message": "hi", "metadata": metadata}).encode()
    response = _post(stack, body)
    assert response.status_code == 413, response.text
    assert _error(response)["status"] == 413
    assert_shopper_served(stack, rasa_pid)


@pytest.mark.parametrize(
    ("length", "status"),
    [
        (20_000, 200),  # over the message limit, within the body limit: a polite reply
        (100_000, 413),  # over the body limit (this one took GBs and stalled everyone)
    ],
)
def test_a_long_message_never_reaches_nlu_or_the_log(
    stack: DevStack, rasa_pid: int, length: int, status: int
) -> None:
    marker = uuid.uuid4().hex
    sender = f"long-{uuid.uuid4().hex}"
    rss_before = stack.rss_mb("rasa")
    body = {"sender": sender, "message": marker + "a" * (length - len(marker))}
    response = _post(stack, json.dumps(body).encode())
    assert response.status_code == status, response.text
    if status == 200:
        assert response.json() == [{"recipient_id": sender, "text": TOO_LONG_REPLY}]
    else:
        assert _error(response)["status"] == 413
    assert stack.rss_mb("rasa") < rss_before + RSS_GROWTH_MB
    assert_shopper_served(stack, rasa_pid)
    assert marker not in stack.log_path("rasa").read_text(encoding="utf-8", errors="replace")


def test_a_message_at_the_limit_is_answered_as_usual(stack: DevStack, rasa_pid: int) -> None:
    sender = f"limit-{uuid.uuid4().hex}"
    body = {"sender": sender, "message": "b" * MAX_MESSAGE_CHARS}
    response = _post(stack, json.dumps(body).encode())
    assert response.status_code == 200, response.text
    assert TOO_LONG_REPLY not in [reply.get("text") for reply in response.json()]
    assert_shopper_served(stack, rasa_pid)


@pytest.fixture
def socket_client(stack: DevStack) -> Iterator[socketio.SimpleClient]:
    client = socketio.SimpleClient()
    client.connect(
        stack.rasa_url,
        socketio_path="socket.io",
        transports=["websocket"],
        wait_timeout=int(SOCKET_SECONDS),
    )
    try:
        yield client
    finally:
        client.disconnect()


def _event(client: socketio.SimpleClient, name: str) -> Any:
    """The data of the next ``name`` event (others are skipped), within a bounded time."""
    deadline = time.monotonic() + SOCKET_SECONDS
    while (left := deadline - time.monotonic()) > 0:
        event, *data = client.receive(timeout=left)
        if event == name:
            return data[0] if data else None
    raise AssertionError(f"no {name} event within {SOCKET_SECONDS} s")


def test_socketio_gets_a_new_session_for_a_sender_id_sqlite_cannot_store(
    stack: DevStack, rasa_pid: int, socket_client: socketio.SimpleClient
) -> None:
    socket_client.emit("session_request", {"session_id": "\ud800"})
    session_id = _event(socket_client, "session_confirm")
    assert isinstance(session_id, str) and len(session_id) == 32
    socket_client.emit("user_uttered", {"message": "hi", "session_id": "\ud800"})
    assert _event(socket_client, "bot_uttered")["text"]
    assert_shopper_served(stack, rasa_pid)


@pytest.mark.parametrize(
    ("message", "reply"),
    [
        ("a" * (MAX_MESSAGE_CHARS + 1), TOO_LONG_REPLY),  # too long: not sent to NLU
        ("hi \udfff", UNREADABLE_REPLY),  # text no store can keep
        (["hi"], UNREADABLE_REPLY),  # not text
    ],
    ids=["too long", "lone surrogate", "not text"],
)
def test_socketio_messages_nlu_cannot_take_get_a_polite_reply(
    stack: DevStack,
    rasa_pid: int,
    socket_client: socketio.SimpleClient,
    message: Any,
    reply: str,
) -> None:
    socket_client.emit("session_request", {"session_id": f"sio-{uuid.uuid4().hex}"})
    _event(socket_client, "session_confirm")
    socket_client.emit("user_uttered", {"message": message, "metadata": [1, 2]})
    assert _event(socket_client, "bot_uttered") == {"text": reply}
    assert_shopper_served(stack, rasa_pid)


@pytest.mark.parametrize("origin", ["https://evil.example", "http://localhost:3000"])
def test_cors_with_any_origin_never_allows_credentials(
    stack: DevStack, rasa_pid: int, origin: str
) -> None:
    # The stack runs with the default SHOP_ORIGINS=* (any shop page may chat).
    response = _post(stack, b'{"sender": "cors-1", "message": "hi"}', Origin=origin)
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert "Access-Control-Allow-Credentials" not in response.headers
    with requests.Session() as http:
        http.trust_env = False
        preflight = http.options(
            f"{stack.rasa_url}/webhooks/rest/webhook",
            headers={
                "Origin": origin,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "content-type",
            },
            timeout=HOSTILE_SECONDS,
        )
    assert preflight.headers["Access-Control-Allow-Origin"] == "*"
    assert "Access-Control-Allow-Credentials" not in preflight.headers
    assert_shopper_served(stack, rasa_pid)


def test_schemathesis_finds_no_server_error_in_the_chat_webhook(
    stack: DevStack, rasa_pid: int, tmp_path: Path
) -> None:
    result = run_schemathesis(
        str(OPENAPI), stack.rasa_url, tmp_path, max_examples=50, seed=20261207
    )
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert_shopper_served(stack, rasa_pid)
