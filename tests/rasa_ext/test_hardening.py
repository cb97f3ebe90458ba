"""The Rasa server's edge, built by Rasa's own ``configure_app`` with the extensions installed.

Invalid HTTP framing is refused with 400 and the connection closed (Sanic 21.12
looped forever on ``Content-Length: -1``), bodies are capped with a JSON 413,
CORS never allows credentials, and a conversation store error fails one turn
instead of exiting the process.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import structlog
from rasa.core.tracker_store import FailSafeTrackerStore, SQLTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from sanic import Sanic

import rasa_ext
from rasa_ext.hardening import (
    KEEP_ALIVE_SECONDS,
    LOG_VALUE_CHARS,
    ConversationUnavailable,
    framing_problem,
    truncate_long_values,
)
from rasa_ext.limits import MAX_CHAT_BODY_BYTES
from tests.rasa_ext.conftest import LOOPBACK, free_port, serving

SHOP = "https://shop.example.com"
# Bounded wait for any answer of the server under test.
ANSWER_SECONDS = 5.0


@pytest.fixture(scope="module", autouse=True)
def installed() -> None:
    rasa_ext.install()


def rasa_app(cors: list[str]) -> Sanic:
    """The app ``rasa run`` builds (API off, as ``make run`` starts it), REST channel on."""
    from rasa.core import run

    from rasa_ext.channels import RestInput

    return run.configure_app([RestInput()], cors=cors, enable_api=False)


@asynccontextmanager
async def rasa_server(cors: list[str]) -> AsyncIterator[int]:
    port = free_port()
    async with serving(rasa_app(cors), port):
        yield port


async def raw_exchange(port: int, request: bytes) -> tuple[bytes, bool]:
    """Send raw bytes; what came back, and whether the server closed the connection."""
    reader, writer = await asyncio.open_connection(LOOPBACK, port)
    writer.write(request)
    await writer.drain()
    try:
        answer = await asyncio.wait_for(reader.read(), ANSWER_SECONDS)  # read until EOF
        closed = True
    except asyncio.TimeoutError:
        answer, closed = b"", False
    writer.close()
    return answer, closed


def _post(headers: str, body: bytes = b'{"sender": "s", "message": "hi"}') -> bytes:
    return (
        b"POST /webhooks/rest/webhook HTTP/1.1\r\nHost: rasa\r\n"
        + headers.encode()
        + b"\r\n"
        + body
    )


@pytest.mark.parametrize(
    ("lengths", "codings", "status"),
    [
        ([], [], None),  # no body
        (["0"], [], None),
        ([str(MAX_CHAT_BODY_BYTES)], [], None),  # at the limit
        (["33", "33"], [], None),  # repeated, same value (RFC 9110 allows it)
        ([], ["chunked"], None),
        (["-1"], [], 400),  # Sanic 21.12 looped forever on it
        (["abc"], [], 400),  # Sanic 21.12 answered 500
        (["+33"], [], 400),
        (["3.0"], [], 400),
        ([""], [], 400),
        (["33, 33"], [], 400),  # a list in one header
        (["33", "34"], [], 400),  # two different lengths: which one frames the body?
        (["33"], ["chunked"], 400),  # both framings (request smuggling)
        ([], ["gzip"], 400),  # a coding Sanic does not decode
        ([], ["Chunked"], 400),  # Sanic only knows "chunked"; it then looked for a length
        ([], ["gzip, chunked"], 400),
        ([], ["chunked", "chunked"], 400),
        ([str(MAX_CHAT_BODY_BYTES + 1)], [], 413),
        (["9" * 5000], [], 413),  # more digits than Python's int() takes
    ],
)
def test_framing_problem(lengths: list[str], codings: list[str], status: int | None) -> None:
    problem = framing_problem(lengths, codings)
    assert (problem and problem.status_code) == status


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ("Content-Length: -1\r\n", 400),
        ("Content-Length: abc\r\n", 400),
        ("Content-Length: 32\r\nContent-Length: 33\r\n", 400),
        ("Transfer-Encoding: chunked\r\nContent-Length: 32\r\n", 400),
        ("Transfer-Encoding: gzip\r\n", 400),
        ("Content-Length: 100000000\r\n", 413),
    ],
)
async def test_invalid_framing_is_answered_and_the_connection_closed(
    headers: str, status: int
) -> None:
    async with rasa_server(["*"]) as port:
        answer, closed = await raw_exchange(port, _post(headers))
        head, _, body = answer.partition(b"\r\n\r\n")
        assert head.startswith(f"HTTP/1.1 {status} ".encode()), answer[:300]
        assert json.loads(body)["error"]["status"] == status
        assert closed


async def test_limits_and_json_errors() -> None:
    async with rasa_server(["*"]) as port, aiohttp.ClientSession() as http:
        url = f"http://{LOOPBACK}:{port}/webhooks/rest/webhook"
        big = json.dumps({"sender": "s", "message": "x" * MAX_CHAT_BODY_BYTES}).encode()
        async with http.post(url, data=big) as too_large:
            assert too_large.status == 413
            assert (await too_large.json())["error"]["status"] == 413
        async with http.get(url) as wrong_method:
            assert wrong_method.status == 405
            assert (await wrong_method.json())["error"]["status"] == 405
    app = rasa_app(["*"])
    assert app.config.REQUEST_MAX_SIZE == MAX_CHAT_BODY_BYTES
    assert app.config.KEEP_ALIVE_TIMEOUT == KEEP_ALIVE_SECONDS
    assert app.config.REQUEST_TIMEOUT <= 10


@asynccontextmanager
async def cors_answer(allowed: list[str], origin: str) -> AsyncIterator[dict[str, str]]:
    """Headers of the answer to a preflight and to the request itself, from ``origin``."""
    async with rasa_server(allowed) as port, aiohttp.ClientSession() as http:
        url = f"http://{LOOPBACK}:{port}/webhooks/rest/webhook"
        preflight_headers = {
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        }
        async with http.options(url, headers=preflight_headers) as preflight:
            seen = {f"preflight {k}": v for k, v in preflight.headers.items()}
        async with http.post(url, data=b"[]", headers={"Origin": origin}) as answer:
            seen.update(answer.headers)
        yield seen


@pytest.mark.parametrize(
    ("allowed", "origin", "answered"),
    [
        (["*"], "https://evil.example", "*"),  # any page may chat, without credentials
        (["*"], SHOP, "*"),
        ([SHOP], SHOP, SHOP),  # listed: that origin only
        ([SHOP], "https://evil.example", None),
    ],
)
async def test_cors_never_allows_credentials(
    allowed: list[str], origin: str, answered: str | None
) -> None:
    async with cors_answer(allowed, origin) as headers:
        assert headers.get("Access-Control-Allow-Origin") == answered
        assert headers.get("preflight Access-Control-Allow-Origin") == answered
        assert "Access-Control-Allow-Credentials" not in headers
        assert "preflight Access-Control-Allow-Credentials" not in headers


@pytest.fixture
def tracker_store(tmp_path: Path) -> Iterator[SQLTrackerStore]:
    store = SQLTrackerStore(Domain.empty(), dialect="sqlite", db=str(tmp_path / "tracker.db"))
    yield store
    store.engine.dispose()


async def test_a_store_error_is_raised_not_an_exit(tracker_store: SQLTrackerStore) -> None:
    # Rasa 3.6.21 called sys.exit here: SQLite cannot encode a lone surrogate.
    with pytest.raises(UnicodeEncodeError):
        await tracker_store.retrieve("\ud800")
    assert await tracker_store.retrieve("shop-session-1") is None


async def test_a_store_error_fails_the_turn_of_that_conversation_only(
    tracker_store: SQLTrackerStore, caplog: pytest.LogCaptureFixture
) -> None:
    # What Rasa's agent wraps every tracker store in.
    store = FailSafeTrackerStore(tracker_store)
    with pytest.raises(ConversationUnavailable):
        await store.retrieve("\ud800")
    with pytest.raises(ConversationUnavailable):
        await store.save(DialogueStateTracker("\ud800", slots=[]))
    assert "this turn is refused" in caplog.text
    # Others are served.
    await store.save(DialogueStateTracker.from_events("shop-session-2", [UserUttered("hi")]))
    tracker = await store.retrieve("shop-session-2")
    assert tracker is not None and tracker.sender_id == "shop-session-2"


def test_structured_log_values_are_truncated() -> None:
    from rasa.utils import log_utils

    text = "m" * 5000
    event: dict[str, Any] = {"event": "processor.message.parse", "parse_data_text": text}
    event["rasa_event"] = {"text": text, "entities": [{"value": text}]}
    cut = truncate_long_values(None, "debug", event)
    assert len(json.dumps(cut)) < 4 * LOG_VALUE_CHARS + 300
    assert cut["parse_data_text"].endswith("(5000 characters)")
    assert cut["event"] == "processor.message.parse"
    try:
        log_utils.configure_structlog(logging.DEBUG)
        assert structlog.get_config()["processors"][0] is truncate_long_values
    finally:
        structlog.reset_defaults()
